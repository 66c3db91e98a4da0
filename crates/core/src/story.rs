use serde::{Deserialize, Serialize};

/// A story: the articles about one event, grouped as they arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// Stable id: the id of the story's first article.
    pub id: String,
    /// Its most representative headline (the article closest to the
    /// story's centroid).
    pub title: String,
    /// The entities most of its articles name, most shared first.
    pub entities: Vec<String>,
    /// Its most shared keyphrases.
    pub keyphrases: Vec<String>,
    /// Publication date of its first dated article, `YYYY-MM-DD`.
    pub first: Option<String>,
    /// Publication date of its newest dated article, `YYYY-MM-DD`.
    pub last: Option<String>,
    /// Its articles, copies included.
    pub articles: usize,
    /// The sources of its articles, most frequent first.
    pub sources: Vec<String>,
    /// The languages of its articles, most frequent first.
    pub languages: Vec<String>,
    /// Clicks on its articles in the trending window, decayed by age (0
    /// when nobody read it).
    pub trending: f32,
    /// Its articles in time order, near-duplicate copies collapsed into
    /// the earliest.
    pub timeline: Vec<StoryEntry>,
}

/// One entry of a story's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoryEntry {
    /// Article id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Canonical URL, when known.
    pub url: Option<String>,
    /// Publication date, `YYYY-MM-DD`, when known.
    pub published: Option<String>,
    /// Where it came from, when known.
    pub source: Option<String>,
    /// Its language.
    pub lang: String,
    /// Ids of the near-duplicate copies collapsed into this entry.
    pub copies: Vec<String>,
}
