//! RSS 2.0 and Atom feeds (feed-rs): one article per entry.

use readnext_core::Article;

use crate::html::blocks;
use crate::text::squash;
use crate::{Context, IngestError, ItemError};

pub(crate) fn parse(ctx: &Context<'_>, text: &str) -> Result<(Vec<Article>, Vec<ItemError>), IngestError> {
    let feed = feed_rs::parser::parse(text.as_bytes())
        .map_err(|e| ctx.malformed(1, format!("not a valid RSS/Atom feed: {e}")))?;
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    for (i, entry) in feed.entries.into_iter().enumerate() {
        let title = entry.title.as_ref().map(|t| squash(&t.content)).unwrap_or_default();
        if title.is_empty() {
            errors.push(ItemError { line: i + 1, message: format!("entry {} has no title", i + 1) });
            continue;
        }
        let html = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        let (body, subheads) = blocks(&html);
        let url =
            entry.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).map(|l| l.href.clone());
        // An RSS guid that is not a URL is the publisher's id; feed-rs makes
        // up a hash when there is none, which we do not want as an id.
        let id = if url.is_some() { String::new() } else { entry.id.clone() };
        articles.push(
            ctx.finish(Article {
                id,
                url,
                title,
                dek: entry
                    .summary
                    .as_ref()
                    .map(|s| squash(&blocks(&s.content).0.join(" ")))
                    .filter(|d| !d.is_empty() && d.len() < 600),
                body,
                subheads,
                published: entry.published.or(entry.updated).map(|d| d.timestamp()),
                tags: entry.categories.iter().map(|c| c.term.clone()).collect(),
                authors: entry.authors.iter().filter_map(|p| p.name.clone()).collect(),
                ..Default::default()
            }),
        );
    }
    Ok((articles, errors))
}
