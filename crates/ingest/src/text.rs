//! Text helpers shared by the parsers.

use std::path::Path;

use crate::IngestError;

/// Checks for binary content and invalid UTF-8 and returns the text, with a
/// byte-order mark removed.
pub(crate) fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, IngestError> {
    if let Some(offset) = bytes.iter().take(8192).position(|&b| b == 0) {
        return Err(IngestError::Binary { path: path.to_path_buf(), offset });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').unwrap_or(s)),
        Err(e) => {
            let offset = e.valid_up_to();
            let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(IngestError::Utf8 { path: path.to_path_buf(), line, offset })
        }
    }
}

/// Collapses runs of white space (non-breaking spaces included) to one space.
pub(crate) fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Splits text into paragraphs at blank lines, joining the lines of each.
pub(crate) fn paragraphs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in s.lines() {
        if line.trim().is_empty() {
            if !cur.trim().is_empty() {
                out.push(squash(&cur));
            }
            cur.clear();
        } else {
            cur.push(' ');
            cur.push_str(line);
        }
    }
    if !cur.trim().is_empty() {
        out.push(squash(&cur));
    }
    out
}

/// Removes Markdown syntax that is not text: images, link targets, emphasis
/// markers, heading hashes, HTML tags.
pub(crate) fn strip_markdown(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let chars: Vec<char> = line.trim_start_matches('#').chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '!' if chars.get(i + 1) == Some(&'[') => {
                // Image: drop it whole (alt text is usually repeated as a caption).
                i = skip_link(&chars, i + 1);
            }
            '[' => {
                // Link: keep the text, drop the target.
                let close = chars[i..].iter().position(|&c| c == ']').map(|p| p + i);
                match close {
                    Some(end) => {
                        out.extend(&chars[i + 1..end]);
                        i = if chars.get(end + 1) == Some(&'(') {
                            chars[end..].iter().position(|&c| c == ')').map_or(end + 1, |p| end + p + 1)
                        } else {
                            end + 1
                        };
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '<' => {
                // Inline HTML tag.
                match chars[i..].iter().position(|&c| c == '>') {
                    Some(p) if p < 200 => i += p + 1,
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '*' | '_' if chars.get(i + 1) == Some(&c) => i += 2,
            '*' | '`' => i += 1,
            '\\' if chars.get(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                out.push(chars[i + 1]);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn skip_link(chars: &[char], open: usize) -> usize {
    let Some(close) = chars[open..].iter().position(|&c| c == ']').map(|p| p + open) else {
        return chars.len();
    };
    if chars.get(close + 1) == Some(&'(') {
        chars[close..].iter().position(|&c| c == ')').map_or(chars.len(), |p| close + p + 1)
    } else {
        close + 1
    }
}
