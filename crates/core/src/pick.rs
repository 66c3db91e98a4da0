use serde::{Deserialize, Serialize};

/// One named signal that contributed to a pick's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Signal name: `text`, `entities`, `keyphrases`, `bm25_rank`, `recency`...
    pub name: String,
    /// Its value for this pick.
    pub value: f32,
}

/// Why an article was picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Why {
    /// One line for a reader ("Also about Claudia Sheinbaum, tariffs").
    pub summary: String,
    /// Shared entities, most telling first (canonical names).
    pub entities: Vec<String>,
    /// Shared keyphrases and terms, most telling first.
    pub keyphrases: Vec<String>,
    /// The signals that ranked the pick.
    pub signals: Vec<Signal>,
    /// The story id, when the pick belongs to the story of the article the
    /// block is for (left out of JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
}

/// One slot of a recommendation block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// Article id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Canonical URL, when known.
    pub url: Option<String>,
    /// Publication date, `YYYY-MM-DD`, when known.
    pub published: Option<String>,
    /// Lead image URL, when known (left out of JSON when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Final score after fusion, recency and diversity; higher is better.
    pub score: f32,
    /// The explanation.
    pub why: Why,
}
