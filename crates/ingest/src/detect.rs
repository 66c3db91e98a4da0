//! Format detection from the file name and the first bytes.

use std::path::Path;

use crate::Format;

/// Tells the format of a file, or `None` when nothing fits.
///
/// Extensions decide first (`.md`, `.jsonl`, `.html`, `.xml`/`.rss`/`.atom`);
/// `.txt` files are article pages when the second line is the dek or the text
/// carries a `RECOMMENDATION` block, and BBC layout when a blank line follows
/// the headline. Without a telling extension the content is sniffed.
pub fn detect(path: &Path, text: &str) -> Option<Format> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "md" | "markdown" => return Some(Format::Markdown),
        "jsonl" | "ndjson" => return Some(Format::Jsonl),
        "html" | "htm" | "xhtml" => return Some(Format::Html),
        "rss" | "atom" => return Some(Format::Feed),
        "txt" | "text" => return Some(txt_kind(text)),
        _ => {}
    }
    let head = text.trim_start();
    if head.starts_with("---\n") || head.starts_with("---\r\n") || head.starts_with("# ") {
        return Some(Format::Markdown);
    }
    if head.starts_with('{') {
        return Some(Format::Jsonl);
    }
    let lower: String = head.chars().take(1024).collect::<String>().to_lowercase();
    if lower.contains("<rss") || lower.contains("<feed") || lower.contains("<rdf:rdf") {
        return Some(Format::Feed);
    }
    if lower.starts_with("<!doctype html") || lower.contains("<html") {
        return Some(Format::Html);
    }
    if ext == "xml" {
        return None;
    }
    if ext.is_empty() && !head.starts_with('<') && head.lines().count() >= 2 {
        return Some(txt_kind(text));
    }
    None
}

fn txt_kind(text: &str) -> Format {
    let has_block = text.lines().any(crate::page::is_recommendation_marker);
    let mut lines = text.trim_start().lines();
    lines.next();
    let second_blank = lines.next().is_none_or(|l| l.trim().is_empty());
    if has_block || !second_blank { Format::Page } else { Format::Bbc }
}
