//! What of an article is embedded.

use readnext_core::Article;

/// Characters of the body kept: well past any token limit the encoder
/// uses (about 4 characters a token), so the tokenizer, not this cut,
/// decides where the text ends; it only spares tokenising whole long bodies.
const BODY_CHARS: usize = 2400;

/// The text embedded for an article: the headline, the dek, then the lead
/// of the body. The encoder truncates it at its token limit.
pub fn article_text(a: &Article) -> String {
    article_text_chars(a, BODY_CHARS)
}

/// [`article_text`] cut at `max_chars` characters instead (for passages).
pub fn article_text_chars(a: &Article, max_chars: usize) -> String {
    let mut out = String::new();
    let parts = std::iter::once(a.title.as_str()).chain(a.dek.as_deref()).chain(a.body.iter().map(String::as_str));
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if out.ends_with(['.', '!', '?', ':']) { " " } else { ". " });
        }
        out.push_str(part);
        if out.len() >= max_chars {
            let cut = out.char_indices().nth(max_chars).map_or(out.len(), |(i, _)| i);
            out.truncate(cut);
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, body: &[&str]) -> Article {
        Article { title: title.into(), body: body.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    #[test]
    fn headline_then_lead_cut_on_a_char_boundary() {
        assert_eq!(article_text(&article(" Title ", &[" Body text. ", "More."])), "Title. Body text. More.");
        assert_eq!(article_text(&article("", &["Only body"])), "Only body");
        assert_eq!(article_text(&article("Only title?", &["  ", "x"])), "Only title? x");
        let long = "é".repeat(BODY_CHARS + 10);
        let t = article_text(&article("T", &[&long, "never reached"]));
        assert_eq!(t.chars().count(), BODY_CHARS);
        assert!(t.starts_with("T. é"));
    }
}
