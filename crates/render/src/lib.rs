//! Rendering a recommendation block for people and programs: plain text,
//! the documented JSON structure, and an HTML fragment in which every piece
//! of article text is escaped.
//!
//! This is an edge crate: the engine never produces JSON or HTML itself.
#![warn(missing_docs)]

use readnext_core::Pick;
use serde::Serialize;

/// Errors of rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialisation failed.
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The article a block was made for.
#[derive(Debug, Clone, Serialize)]
pub struct BlockQuery {
    /// Its id when stored; `null` for an unsaved page.
    pub id: Option<String>,
    /// Its headline.
    pub title: String,
}

/// A recommendation block: the JSON shape of `related --format json` and
/// of the API.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    /// The article the block is for.
    pub query: BlockQuery,
    /// The picks, best first.
    pub picks: Vec<Pick>,
}

/// The block as a reader would see it: headline, date and a one-line why.
pub fn text(block: &Block) -> String {
    let mut out = format!("RECOMMENDATION for: {}\n\n", one_line(&block.query.title));
    if block.picks.is_empty() {
        out.push_str("  (no related articles found)\n");
    }
    for (i, p) in block.picks.iter().enumerate() {
        let date = p.published.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        out.push_str(&format!("{:>2}. {}{}\n", i + 1, one_line(&p.title), date));
        if !p.why.summary.is_empty() {
            out.push_str(&format!("    why: {}\n", one_line(&p.why.summary)));
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The block as pretty JSON.
pub fn json(block: &Block) -> Result<String, RenderError> {
    Ok(serde_json::to_string_pretty(block)?)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `url` when it is an http(s) or site-relative link. Only those are
/// emitted; anything else (`javascript:`, `data:`) is dropped.
pub fn safe_url(url: &str) -> Option<&str> {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with('/')).then_some(url.trim())
}

/// The block as an HTML fragment that can replace the empty RECOMMENDATION
/// block of a page. All article text is escaped.
pub fn html(block: &Block) -> String {
    let mut out = String::from("<section class=\"readnext-block\"");
    if let Some(id) = &block.query.id {
        out.push_str(&format!(" data-readnext-article=\"{}\"", escape(id)));
    }
    out.push_str(">\n  <h2 class=\"readnext-heading\">Recommended</h2>\n  <ol class=\"readnext-picks\">\n");
    for p in &block.picks {
        out.push_str(&format!("    <li class=\"readnext-pick\" data-readnext-id=\"{}\">\n      ", escape(&p.id)));
        if let Some(img) = p.image.as_deref().and_then(safe_url) {
            out.push_str(&format!(
                "<img class=\"readnext-image\" src=\"{}\" alt=\"\" loading=\"lazy\">\n      ",
                escape(img)
            ));
        }
        match p.url.as_deref().and_then(safe_url) {
            Some(u) => out.push_str(&format!("<a href=\"{}\">{}</a>", escape(u), escape(&p.title))),
            None => out.push_str(&format!("<span class=\"readnext-title\">{}</span>", escape(&p.title))),
        }
        if let Some(d) = &p.published {
            out.push_str(&format!(" <time datetime=\"{0}\">{0}</time>", escape(d)));
        }
        if !p.why.summary.is_empty() {
            out.push_str(&format!("\n      <p class=\"readnext-why\">{}</p>", escape(&p.why.summary)));
        }
        out.push_str("\n    </li>\n");
    }
    out.push_str("  </ol>\n</section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use readnext_core::Why;

    fn block() -> Block {
        Block {
            query: BlockQuery { id: Some("q\"1".into()), title: "Query".into() },
            picks: vec![Pick {
                id: "a".into(),
                title: "<script>alert(1)</script> & more".into(),
                url: Some("javascript:alert(1)".into()),
                published: Some("2025-02-01".into()),
                image: None,
                score: 0.5,
                why: Why { summary: "Also about <b>Mexico</b>".into(), ..Default::default() },
            }],
        }
    }

    #[test]
    fn html_escapes_all_article_text_and_drops_unsafe_links() {
        let h = html(&block());
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!h.contains("<script>") && !h.contains("javascript:") && !h.contains("<b>"));
        assert!(h.contains("data-readnext-article=\"q&quot;1\""));
        assert!(h.contains("<time datetime=\"2025-02-01\">"));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v: serde_json::Value = serde_json::from_str(&json(&block()).unwrap()).unwrap();
        let pick = &v["picks"][0];
        for key in ["id", "title", "url", "published", "score", "why"] {
            assert!(pick.get(key).is_some(), "{key}");
        }
        assert_eq!(v["query"]["title"], "Query");
        assert!(text(&block()).contains(" 1. <script>alert(1)</script> & more (2025-02-01)"));
    }
}
