//! Language identification.

/// ISO 639-1 code of the language of `text` ("en", "es", ...), the ISO 639-3
/// code for languages without a two-letter one, and "und" when the text is too
/// short or mixed to tell. Only the first few thousand characters are read.
pub fn detect_lang(text: &str) -> String {
    let mut end = text.len().min(4000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let Some(info) = whatlang::detect(&text[..end]) else {
        return "und".to_string();
    };
    use whatlang::Lang::*;
    let code = match info.lang() {
        Eng => "en",
        Spa => "es",
        Deu => "de",
        Fra => "fr",
        Ita => "it",
        Por => "pt",
        Rus => "ru",
        Cmn => "zh",
        Ara => "ar",
        Tur => "tr",
        Pol => "pl",
        Nld => "nl",
        Swe => "sv",
        Ron => "ro",
        Ell => "el",
        Jpn => "ja",
        Kor => "ko",
        other => return other.code().to_string(),
    };
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_english_from_spanish() {
        assert_eq!(detect_lang("The president said the tariffs on Mexican products would start on Tuesday."), "en");
        assert_eq!(
            detect_lang("El presidente dijo que los aranceles a los productos mexicanos empezarán el martes."),
            "es"
        );
        assert_eq!(detect_lang(""), "und");
    }
}
