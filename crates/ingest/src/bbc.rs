//! BBC text layout: the headline on line 1, then body paragraphs separated
//! by blank lines. The folder names the section.

use readnext_core::Article;

use crate::text::{paragraphs, squash};
use crate::{Context, IngestError};

pub(crate) fn parse(ctx: &Context<'_>, text: &str) -> Result<Article, IngestError> {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let Some(title) = lines.next().map(squash) else {
        return Err(ctx.malformed(1, "no headline"));
    };
    let rest: Vec<&str> = lines.collect();
    let body = paragraphs(&rest.join("\n"));
    if body.is_empty() {
        return Err(ctx.malformed(2, "headline without a body"));
    }
    Ok(ctx.finish(Article { title, body, ..Default::default() }))
}
