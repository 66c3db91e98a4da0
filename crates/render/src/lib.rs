//! Rendering a recommendation block for people and programs: plain text,
//! the documented JSON structure, and an HTML fragment in which every piece
//! of article text is escaped.
//!
//! This is an edge crate: the engine never produces JSON or HTML itself.
#![warn(missing_docs)]

use readnext_core::{Pick, Story};
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
    /// The story so far, when the block was asked for as a story and
    /// background (the picks are then from outside the story).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<Story>,
}

/// The block as a reader would see it: headline, date and a one-line why.
pub fn text(block: &Block) -> String {
    let mut out = format!("RECOMMENDATION for: {}\n\n", one_line(&block.query.title));
    if let Some(story) = &block.story {
        out.push_str(&story_text(story));
        out.push_str("\nBackground:\n");
    }
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
    out.push_str(">\n");
    if let Some(story) = &block.story {
        for line in story_html(story).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("  <h2 class=\"readnext-heading\">Recommended</h2>\n  <ol class=\"readnext-picks\">\n");
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

/// A story as a reader would see it: its headline, its span, sources and
/// key entities, then its timeline (copies counted on their entry).
pub fn story_text(story: &Story) -> String {
    let span = match (&story.first, &story.last) {
        (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
        (Some(a), _) | (None, Some(a)) => a.clone(),
        (None, None) => "undated".into(),
    };
    let mut out = format!("STORY {}: {}\n", story.id, one_line(&story.title));
    let articles = if story.articles == 1 { "1 article".to_string() } else { format!("{} articles", story.articles) };
    out.push_str(&format!("  {articles}, {span}"));
    if !story.sources.is_empty() {
        out.push_str(&format!(", from {}", story.sources.join(", ")));
    }
    out.push('\n');
    if !story.entities.is_empty() {
        out.push_str(&format!("  about: {}\n", story.entities.join(", ")));
    }
    if !story.keyphrases.is_empty() {
        out.push_str(&format!("  keyphrases: {}\n", story.keyphrases.join(", ")));
    }
    out.push_str("  timeline:\n");
    for e in &story.timeline {
        let date = e.published.as_deref().unwrap_or("undated");
        let copies = match e.copies.len() {
            0 => String::new(),
            1 => " (+1 copy)".into(),
            n => format!(" (+{n} copies)"),
        };
        out.push_str(&format!("    {date}  {}{copies}\n", one_line(&e.title)));
    }
    out
}

/// A story as an HTML fragment (`story.html`): its headline and its
/// timeline, every piece of article text escaped.
pub fn story_html(story: &Story) -> String {
    let mut out = format!(
        "<section class=\"readnext-story\" data-readnext-story=\"{}\">\n  <h2 class=\"readnext-story-title\">{}</h2>\n",
        escape(&story.id),
        escape(&story.title)
    );
    let mut meta = format!("{} articles", story.articles);
    if let (Some(a), Some(b)) = (&story.first, &story.last) {
        meta.push_str(&format!(", {} to {}", escape(a), escape(b)));
    }
    if !story.entities.is_empty() {
        meta.push_str(&format!(" · {}", escape(&story.entities.join(", "))));
    }
    out.push_str(&format!("  <p class=\"readnext-story-meta\">{meta}</p>\n  <ol class=\"readnext-timeline\">\n"));
    for e in &story.timeline {
        out.push_str(&format!("    <li class=\"readnext-entry\" data-readnext-id=\"{}\">", escape(&e.id)));
        if let Some(d) = &e.published {
            out.push_str(&format!("<time datetime=\"{0}\">{0}</time> ", escape(d)));
        }
        match e.url.as_deref().and_then(safe_url) {
            Some(u) => out.push_str(&format!("<a href=\"{}\">{}</a>", escape(u), escape(&e.title))),
            None => out.push_str(&format!("<span class=\"readnext-title\">{}</span>", escape(&e.title))),
        }
        if !e.copies.is_empty() {
            out.push_str(&format!(" <span class=\"readnext-copies\">+{}</span>", e.copies.len()));
        }
        out.push_str("</li>\n");
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
            story: None,
        }
    }

    fn story() -> Story {
        Story {
            id: "s1".into(),
            title: "Tariffs <on> Mexico".into(),
            entities: vec!["Mexico".into()],
            keyphrases: vec![],
            first: Some("2025-02-01".into()),
            last: Some("2025-03-06".into()),
            articles: 3,
            sources: vec!["whitehouse.gov".into()],
            languages: vec!["en".into()],
            trending: 0.0,
            timeline: vec![
                readnext_core::StoryEntry {
                    id: "a".into(),
                    title: "Fact sheet".into(),
                    url: Some("javascript:x".into()),
                    published: Some("2025-02-01".into()),
                    source: None,
                    lang: "en".into(),
                    copies: vec!["a2".into()],
                },
                readnext_core::StoryEntry {
                    id: "b".into(),
                    title: "Adjustment".into(),
                    url: Some("https://example.org/b".into()),
                    published: Some("2025-03-06".into()),
                    source: None,
                    lang: "en".into(),
                    copies: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_story_renders_its_timeline_in_order_with_copies_counted_and_text_escaped() {
        let t = story_text(&story());
        assert!(t.contains("3 articles, 2025-02-01 to 2025-03-06"), "{t}");
        let (a, b) = (t.find("2025-02-01  Fact sheet (+1 copy)").unwrap(), t.find("2025-03-06  Adjustment").unwrap());
        assert!(a < b, "{t}");
        let h = story_html(&story());
        assert!(h.contains("Tariffs &lt;on&gt; Mexico") && !h.contains("javascript:"), "{h}");
        assert!(h.contains("<a href=\"https://example.org/b\">Adjustment</a>"));
        let mut with_story = block();
        with_story.story = Some(story());
        assert!(html(&with_story).contains("readnext-timeline"));
        assert!(text(&with_story).contains("Background:"));
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
