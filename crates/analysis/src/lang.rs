//! Language identification.

/// ISO 639-1 code of the language of `text` ("en", "es", ...), the ISO 639-3
/// code for languages without a two-letter one, and "und" when the text is too
/// short or mixed to tell. Only the first few thousand characters are read.
pub fn detect_lang(text: &str) -> String {
    let end = crate::tokens::floor_boundary(text, 800);
    use whatlang::Lang::*;
    // Scoring only the languages readnext names (and stems) is several times
    // faster than scoring all seventy.
    static DETECTOR: std::sync::OnceLock<whatlang::Detector> = std::sync::OnceLock::new();
    let detector = DETECTOR.get_or_init(|| {
        whatlang::Detector::with_allowlist(vec![
            Eng, Spa, Deu, Fra, Ita, Por, Rus, Cmn, Ara, Tur, Pol, Nld, Swe, Ron, Ell, Jpn, Kor,
        ])
    });
    let Some(info) = detector.detect(&text[..end]) else {
        return "und".to_string();
    };
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
