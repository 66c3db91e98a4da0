//! JSON Lines, the format publishers export: one article per line.

use readnext_core::{Article, parse_date};
use serde::Deserialize;

use crate::text::{paragraphs, squash};
use crate::{Context, ItemError};

/// One line of a JSON Lines file. Only `title` is required; `body` may be a
/// string (paragraphs at blank lines) or a list of paragraphs; `published`
/// is `YYYY-MM-DD`, RFC 3339, RFC 2822 or Unix seconds.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JsonArticle {
    /// The publisher's id; without one, the URL or the content names the article.
    #[serde(default)]
    pub id: Option<IdValue>,
    /// Canonical URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Headline (required).
    pub title: String,
    /// Standfirst.
    #[serde(default)]
    pub dek: Option<String>,
    /// Body text.
    #[serde(default)]
    pub body: Option<Body>,
    /// Publication time.
    #[serde(default)]
    pub published: Option<IdValue>,
    /// ISO 639-1 language.
    #[serde(default)]
    pub lang: Option<String>,
    /// Section.
    #[serde(default)]
    pub section: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Bylines.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Lead image URL.
    #[serde(default)]
    pub image: Option<String>,
    /// Evaluation labels (`readnext eval related --dataset labeled-jsonl`); not stored.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Evaluation event id (graded gain); not stored.
    #[serde(default)]
    pub event: Option<String>,
}

/// A string or a number (ids and dates come both ways).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum IdValue {
    /// A string.
    Str(String),
    /// A number.
    Num(i64),
}

/// A body as one string or as paragraphs.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Body {
    /// One string, paragraphs at blank lines.
    Text(String),
    /// One string per paragraph.
    Paragraphs(Vec<String>),
}

impl JsonArticle {
    /// Converts to an article; the error names the bad field.
    pub fn into_article(self) -> Result<Article, String> {
        let title = squash(&self.title);
        if title.is_empty() {
            return Err("field `title` is empty".into());
        }
        let published = match self.published {
            None => None,
            Some(IdValue::Num(n)) => Some(n),
            Some(IdValue::Str(s)) if s.trim().is_empty() => None,
            Some(IdValue::Str(s)) => Some(parse_date(&s).map_err(|e| format!("field `published`: {e}"))?),
        };
        let body = match self.body {
            None => vec![],
            Some(Body::Text(t)) => paragraphs(&t),
            Some(Body::Paragraphs(ps)) => ps.iter().map(|p| squash(p)).filter(|p| !p.is_empty()).collect(),
        };
        Ok(Article {
            id: match self.id {
                Some(IdValue::Str(s)) => s,
                Some(IdValue::Num(n)) => n.to_string(),
                None => String::new(),
            },
            url: self.url.filter(|u| !u.trim().is_empty()),
            title,
            dek: self.dek.map(|d| squash(&d)).filter(|d| !d.is_empty()),
            body,
            published,
            lang: self.lang,
            section: self.section,
            tags: self.tags,
            authors: self.authors,
            image: self.image,
            ..Default::default()
        })
    }
}

pub(crate) fn parse(ctx: &Context<'_>, text: &str) -> (Vec<Article>, Vec<ItemError>) {
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed =
            serde_json::from_str::<JsonArticle>(line).map_err(|e| e.to_string()).and_then(JsonArticle::into_article);
        match parsed {
            Ok(a) => articles.push(ctx.finish(a)),
            Err(message) => errors.push(ItemError { line: i + 1, message }),
        }
    }
    (articles, errors)
}
