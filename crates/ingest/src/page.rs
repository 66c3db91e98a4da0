//! Plain-text article pages, the layout of the reference page:
//!
//! ```text
//! Headline                                  (line 1)
//! Dek                                       (the lines up to the first blank line)
//!
//! Photo caption                             (first paragraph after the blank line,
//!                                            when short and followed by the body)
//! Body paragraph, one per line...
//! Subhead                                   (short line without final punctuation)
//! More body...
//! RECOMMENDATION                            (the block readnext fills; ignored)
//! ```

use readnext_core::Article;

use crate::text::squash;
use crate::{Context, IngestError};

/// The longest line (in words) that can be a subhead.
const SUBHEAD_MAX_WORDS: usize = 10;
/// The longest paragraph (in words) that can be a photo caption.
const CAPTION_MAX_WORDS: usize = 40;

/// Whether a line opens the recommendation block.
pub(crate) fn is_recommendation_marker(line: &str) -> bool {
    let t = line.trim().trim_end_matches(':');
    t.eq_ignore_ascii_case("recommendation")
        || t.eq_ignore_ascii_case("recommended")
        || t.eq_ignore_ascii_case("recommendations")
}

fn is_subhead(line: &str) -> bool {
    let t = line.trim();
    let words = t.split_whitespace().count();
    (1..=SUBHEAD_MAX_WORDS).contains(&words)
        && !t.ends_with(['.', '!', '?', ':', ';', ',', '"', '\u{201d}', '\'', '\u{2019}', ')'])
        && t.chars().next().is_some_and(char::is_uppercase)
}

/// Parses a page's text into an article (id derived from its content). This
/// is what `related --file` uses for a page that is not stored.
pub fn parse_page(path: &std::path::Path, text: &str) -> Result<Article, IngestError> {
    parse(&Context { path, source: None, section: None }, text)
}

pub(crate) fn parse(ctx: &Context<'_>, text: &str) -> Result<Article, IngestError> {
    // Lines before the recommendation block, numbered from 1.
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l)).take_while(|(_, l)| !is_recommendation_marker(l)).collect();
    let mut it = lines.iter().skip_while(|(_, l)| l.trim().is_empty()).peekable();
    let Some(&(_, title)) = it.next() else {
        return Err(ctx.malformed(1, "no headline before the RECOMMENDATION block"));
    };
    let title = squash(title);
    let mut dek = Vec::new();
    while let Some((_, l)) = it.next_if(|(_, l)| !l.trim().is_empty()) {
        dek.push(squash(l));
    }
    // Remaining non-blank lines are paragraphs (one per line).
    let rest: Vec<String> = it.filter(|(_, l)| !l.trim().is_empty()).map(|(_, l)| squash(l)).collect();
    let mut body = Vec::new();
    let mut subheads = Vec::new();
    let mut caption = None;
    for (i, line) in rest.iter().enumerate() {
        let words = line.split_whitespace().count();
        if i == 0 && words <= CAPTION_MAX_WORDS && rest.len() >= 3 && !is_subhead(line) {
            caption = Some(line.clone());
        } else if is_subhead(line) && i + 1 < rest.len() {
            subheads.push(line.clone());
        } else {
            body.push(line.clone());
        }
    }
    if body.is_empty() && dek.is_empty() {
        return Err(ctx.malformed(1, "a page needs a body or a dek under the headline"));
    }
    let dek = (!dek.is_empty()).then(|| dek.join(" "));
    Ok(ctx.finish(Article { title, dek, caption, body, subheads, ..Default::default() }))
}
