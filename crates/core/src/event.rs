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

/// Editorial rules on stories, stored and applied everywhere like pins.
/// Stories are derived, so the rules name what stays: an article split off
/// always starts a story of its own (later articles may join it), and a
/// story merged into another is shown as part of it. A rule whose article
/// or story is gone does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoryRules {
    /// Articles split off their story.
    pub splits: std::collections::BTreeSet<String>,
    /// Story merged away → the story it joins.
    pub merges: std::collections::BTreeMap<String, String>,
}

/// What a reader's reads add up to, kept up to date as clicks arrive: how
/// often they read each section, subsection and entity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Articles read (clicks).
    pub reads: u32,
    /// Reads per section.
    pub sections: std::collections::BTreeMap<String, u32>,
    /// Reads per subsection (an article's first tag).
    pub subsections: std::collections::BTreeMap<String, u32>,
    /// Reads per entity key (at most [`Profile::MAX_ENTITIES`], the most read kept).
    pub entities: std::collections::BTreeMap<String, u32>,
    /// Time of the last read (ms since the epoch).
    pub last_ms: i64,
}

impl Profile {
    /// Entities kept per profile.
    pub const MAX_ENTITIES: usize = 200;

    /// Adds one read of an article with this section, subsection and entities.
    pub fn add_read(&mut self, section: Option<&str>, subsection: Option<&str>, entities: &[&str], time_ms: i64) {
        self.reads += 1;
        self.last_ms = self.last_ms.max(time_ms);
        if let Some(s) = section {
            *self.sections.entry(s.to_string()).or_default() += 1;
        }
        if let Some(s) = subsection {
            *self.subsections.entry(s.to_string()).or_default() += 1;
        }
        for e in entities {
            *self.entities.entry((*e).to_string()).or_default() += 1;
        }
        if self.entities.len() > Self::MAX_ENTITIES {
            // Drop the least read (ties: the last in key order), so that the
            // profile stays bounded however much a reader reads.
            let mut by_count: Vec<(String, u32)> = std::mem::take(&mut self.entities).into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            by_count.truncate(Self::MAX_ENTITIES);
            self.entities = by_count.into_iter().collect();
        }
    }

    /// The share of reads in `section`.
    pub fn section_share(&self, section: &str) -> f32 {
        self.sections.get(section).copied().unwrap_or(0) as f32 / self.reads.max(1) as f32
    }

    /// The `n` most read keys of a map, most read first.
    pub fn top(map: &std::collections::BTreeMap<String, u32>, n: usize) -> Vec<(&str, u32)> {
        let mut v: Vec<(&str, u32)> = map.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_stays_bounded_and_keeps_the_most_read_entities() {
        let mut p = Profile::default();
        for _ in 0..3 {
            p.add_read(Some("world"), None, &["mexico"], 10);
        }
        for i in 0..Profile::MAX_ENTITIES + 50 {
            let e = format!("e{i:04}");
            p.add_read(None, Some("misc"), &[e.as_str()], 5);
        }
        assert_eq!(p.entities.len(), Profile::MAX_ENTITIES);
        assert_eq!(p.entities.get("mexico"), Some(&3));
        assert_eq!(p.reads, 3 + Profile::MAX_ENTITIES as u32 + 50);
        assert_eq!(p.last_ms, 10);
        assert_eq!(Profile::top(&p.sections, 1), [("world", 3)]);
    }
}
