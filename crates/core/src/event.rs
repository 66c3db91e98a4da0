use serde::{Deserialize, Serialize};

/// What a reader did with an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The article was shown (in a block, a slate, a list).
    Impression,
    /// The reader opened it.
    Click,
}

/// One reading event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The reader's (pseudonymous) id.
    pub user: String,
    /// The article id.
    pub article: String,
    /// Impression or click.
    pub kind: EventKind,
    /// When, in milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// 0-based position in the slate, when shown in one.
    pub position: Option<u32>,
    /// The ids shown together, when known.
    pub slate: Vec<String>,
}

/// Editorial rules: articles pinned into one article's block, or blocked
/// from every block.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rules {
    /// Pinned picks per block owner (the article whose block it is), in order.
    pub pins: std::collections::BTreeMap<String, Vec<String>>,
    /// Articles never recommended.
    pub blocked: std::collections::BTreeSet<String>,
}

impl Rules {
    /// The pins of the block of `owner`.
    pub fn pins_of(&self, owner: &str) -> &[String] {
        self.pins.get(owner).map_or(&[], Vec::as_slice)
    }
}
