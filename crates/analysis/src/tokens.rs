//! Word tokenisation that keeps what entity detection needs: the original
//! case, acronyms such as `U.S.`, possessives, and where sentences and
//! clauses break.

/// A word of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    /// The word as written (an acronym keeps its dots, a possessive `'s` is cut).
    pub text: &'a str,
    /// The word starts a sentence (or a paragraph, or the text).
    pub sentence_start: bool,
    /// Punctuation other than a space separates this word from the previous
    /// one (a comma, a colon, a bracket, a quote): entity names do not span it.
    pub after_break: bool,
    /// The word was followed by a possessive `'s`.
    pub possessive: bool,
}

/// The largest character boundary of `s` at or below `max`.
pub(crate) fn floor_boundary(s: &str, max: usize) -> usize {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Splits `text` into words. Never panics, on any input.
pub fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::with_capacity(text.len() / 5);
    // Offsets as u32 halve this buffer (8 bytes per character, not 16); the
    // text of one article is far below 4 GiB (ingest caps files at 50 MiB),
    // and a longer text is cut rather than mis-indexed.
    let text = &text[..floor_boundary(text, u32::MAX as usize)];
    let bytes: Vec<(u32, char)> = text.char_indices().map(|(i, c)| (i as u32, c)).collect();
    let n = bytes.len();
    let mut i = 0;
    let mut sentence_start = true;
    let mut after_break = true;
    while i < n {
        let (start, c) = bytes[i];
        let start = start as usize;
        if !c.is_alphanumeric() {
            match c {
                '.' | '!' | '?' | ':' | '\u{2026}' | '¿' | '¡' => {
                    sentence_start = true;
                    after_break = true;
                }
                '\n' => {
                    // A blank line (paragraph) or a line break ends the sentence
                    // for entity purposes: headlines and captions have no period.
                    sentence_start = true;
                    after_break = true;
                }
                c if c.is_whitespace() => {}
                _ => after_break = true,
            }
            i += 1;
            continue;
        }
        // A word: letters and digits, with inner apostrophes, and dotted acronyms.
        let mut j = i;
        while j < n && bytes[j].1.is_alphanumeric() {
            j += 1;
        }
        // A middle initial (`Donald J. Trump`) does not end the sentence.
        if j == i + 1
            && c.is_uppercase()
            && j + 2 < n
            && bytes[j].1 == '.'
            && bytes[j + 1].1 == ' '
            && bytes[j + 2].1.is_uppercase()
            && !sentence_start
        {
            out.push(Word {
                text: &text[start..bytes[j + 1].0 as usize],
                sentence_start,
                after_break,
                possessive: false,
            });
            after_break = false;
            i = j + 1;
            continue;
        }
        // `U.S.`, `U.N.`: single capitals separated by dots.
        if j == i + 1 && c.is_uppercase() && j + 1 < n && bytes[j].1 == '.' && bytes[j + 1].1.is_uppercase() {
            let mut k = j;
            while k + 1 < n
                && bytes[k].1 == '.'
                && bytes[k + 1].1.is_uppercase()
                && (k + 2 >= n || !bytes[k + 2].1.is_alphanumeric())
            {
                k += 2;
            }
            if k > j {
                if k < n && bytes[k].1 == '.' {
                    k += 1;
                }
                let end = if k < n { bytes[k].0 as usize } else { text.len() };
                out.push(Word { text: &text[start..end], sentence_start, after_break, possessive: false });
                sentence_start = false;
                after_break = false;
                i = k;
                continue;
            }
        }
        let end = if j < n { bytes[j].0 as usize } else { text.len() };
        let mut possessive = false;
        let mut next = j;
        if j + 1 < n
            && is_apostrophe(bytes[j].1)
            && matches!(bytes[j + 1].1, 's' | 'S')
            && (j + 2 >= n || !bytes[j + 2].1.is_alphanumeric())
        {
            possessive = true;
            next = j + 2;
        }
        out.push(Word { text: &text[start..end], sentence_start, after_break, possessive });
        sentence_start = false;
        after_break = possessive;
        i = next;
    }
    out
}

/// Lower-cases and strips diacritics for matching keys (`México` → `mexico`).
pub fn fold(s: &str) -> String {
    // Most words are plain ASCII: lower-casing is all there is to do.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            out.push(match l {
                'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ñ' => 'n',
                'ç' => 'c',
                other => other,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_acronyms_possessives_and_breaks() {
        let w = words("U.S. officials met Sheinbaum's team. Then, Mexico");
        let j: Vec<&str> = words("said Donald J. Trump today").iter().map(|w| w.text).collect();
        assert_eq!(j, ["said", "Donald", "J.", "Trump", "today"]);
        let t: Vec<&str> = w.iter().map(|w| w.text).collect();
        assert_eq!(t, ["U.S.", "officials", "met", "Sheinbaum", "team", "Then", "Mexico"]);
        assert!(w[0].sentence_start && !w[1].sentence_start);
        assert!(w[3].possessive);
        assert!(w[5].sentence_start);
        assert!(w[6].after_break && !w[6].sentence_start);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for s in ["", "'", "U.", "U.S", "A.B.C.", "x's", "’s", "\u{0}\u{FFFF}", "é'S"] {
            let _ = words(s);
        }
        assert_eq!(fold("México Ñandú"), "mexico nandu");
    }
}
