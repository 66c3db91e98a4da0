//! Saved article web pages: readability extraction (dom_smoothie) for the
//! text, meta tags for the title, date, canonical URL and image.

use dom_query::Document;
use dom_smoothie::{Config, Readability};
use readnext_core::{Article, parse_date};

use crate::text::squash;
use crate::{Context, IngestError};

fn meta(doc: &Document, selectors: &[&str]) -> Option<String> {
    selectors.iter().find_map(|sel| {
        let s = doc.select(sel);
        let v = s.attr("content").or_else(|| s.attr("href")).or_else(|| s.attr("datetime"))?;
        let v = squash(&v);
        (!v.is_empty()).then_some(v)
    })
}

/// Paragraphs and subheads of an HTML fragment.
pub(crate) fn blocks(html: &str) -> (Vec<String>, Vec<String>) {
    let doc = Document::from(html);
    let mut body = Vec::new();
    let mut subheads = Vec::new();
    for node in doc.select("p, h2, h3, h4, li, blockquote").iter() {
        let text = squash(&node.text());
        if text.is_empty() {
            continue;
        }
        let name = node.nodes().first().and_then(|n| n.node_name()).map(|n| n.to_string()).unwrap_or_default();
        if name.starts_with('h') { subheads.push(text) } else { body.push(text) }
    }
    if body.is_empty() {
        let all = squash(&doc.select("body").text());
        let all = if all.is_empty() { squash(&doc.text()) } else { all };
        if !all.is_empty() {
            body.push(all);
        }
    }
    (body, subheads)
}

pub(crate) fn parse(ctx: &Context<'_>, html: &str) -> Result<Article, IngestError> {
    let doc = Document::from(html);
    let url = meta(&doc, &["link[rel=canonical]", "meta[property='og:url']"]);
    let published = meta(
        &doc,
        &[
            "meta[property='article:published_time']",
            "meta[name=date]",
            "meta[itemprop=datePublished]",
            "time[datetime]",
        ],
    );
    let og_title = meta(&doc, &["meta[property='og:title']"]);
    let section = meta(&doc, &["meta[property='article:section']"]);
    let lang = doc.select("html").attr("lang").map(|l| l.split('-').next().unwrap_or("").to_lowercase());
    let cfg = Config { max_elements_to_parse: 100_000, ..Default::default() };
    let mut reader = Readability::with_document(doc, url.as_deref(), Some(cfg))
        .map_err(|e| ctx.malformed(1, format!("cannot read the page: {e}")))?;
    let (title, body, subheads, excerpt, image, byline) = match reader.parse() {
        Ok(art) => {
            let (body, subheads) = blocks(&art.content);
            (art.title, body, subheads, art.excerpt, art.image, art.byline)
        }
        // Readability gives up on pages without an article-like block: keep
        // whatever text the page has.
        Err(_) => {
            let (body, subheads) = blocks(html);
            (String::new(), body, subheads, None, None, None)
        }
    };
    let title = og_title.or_else(|| Some(squash(&title)).filter(|t| !t.is_empty()));
    let Some(title) = title else {
        return Err(ctx.malformed(1, "no title (<title>, og:title or <h1>)"));
    };
    if body.is_empty() {
        return Err(ctx.malformed(1, "no article text found"));
    }
    let published = match published {
        Some(p) => Some(parse_date(&p).map_err(|e| ctx.malformed(1, format!("publish date meta tag: {e}")))?),
        None => None,
    };
    Ok(ctx.finish(Article {
        url,
        title,
        dek: excerpt.map(|e| squash(&e)).filter(|e| !e.is_empty()),
        body,
        subheads,
        published,
        lang: lang.filter(|l| !l.is_empty()),
        section,
        authors: byline.into_iter().collect(),
        image,
        ..Default::default()
    }))
}
