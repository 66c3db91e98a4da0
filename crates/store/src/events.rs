//! Reading events and editorial rules.
//!
//! Events are kept twice: by time (trending scans a window of it) and by
//! reader (a profile reads a reader's recent history; forgetting a reader
//! deletes exactly their rows). Both rows are written in one transaction.

use readnext_core::{Analysis, Article, Event, EventKind, Profile, Rules, StoryRules, add_to_taste};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Result, Store, Tx, Write, db_err, decode, encode, vector_bytes, vector_from_bytes};

/// (time in ms, sequence) -> event
pub(crate) const EVENTS: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("events");
/// (reader, time in ms, sequence) -> kind, article
pub(crate) const USER_EVENTS: TableDefinition<(&str, i64, u64), (u8, &str)> = TableDefinition::new("user_events");
/// One row: the editorial rules.
pub(crate) const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
/// reader -> profile (section, subsection and entity reads)
pub(crate) const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
/// reader -> dense taste: a decayed sum of the embeddings of the articles
/// they clicked (little-endian f32), kept apart from the profile so that it
/// exists only where embeddings do.
pub(crate) const TASTES: TableDefinition<&str, &[u8]> = TableDefinition::new("tastes");
/// Fitted models by name (the reader ranker), serialised by their owner.
pub(crate) const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
const RULES_KEY: &str = "rules";
/// The story rules: a row of their own, so that the pins' row keeps its
/// format.
const STORY_RULES_KEY: &str = "story_rules";

fn kind_byte(k: EventKind) -> u8 {
    match k {
        EventKind::Impression => 0,
        EventKind::Click => 1,
    }
}

/// One entry of a reader's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// Article id.
    pub article: String,
    /// Impression or click.
    pub kind: EventKind,
    /// When (ms since the epoch).
    pub time_ms: i64,
}

/// The entry of `key` in a batch's map of touched readers, loaded from the
/// store the first time the batch touches that reader.
fn loaded<'m, 'k, T>(
    touched: &'m mut std::collections::BTreeMap<&'k str, T>,
    key: &'k str,
    load: impl FnOnce() -> Result<T>,
) -> Result<&'m mut T> {
    Ok(match touched.entry(key) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => e.insert(load()?),
    })
}

impl Tx<'_> {
    /// Records reading events written at log position `pos`: each is keyed
    /// by `(time, pos * MAX_EVENTS_PER_WRITE + index)`, and clicks on stored
    /// articles move their reader's profile and taste. Returns how many
    /// were stored.
    pub(crate) fn record_events(&mut self, events: &[Event], pos: u64) -> Result<usize> {
        let path = self.path;
        let mut all = self.txn.open_table(EVENTS).map_err(|e| db_err(path, e))?;
        let mut by_user = self.txn.open_table(USER_EVENTS).map_err(|e| db_err(path, e))?;
        let mut profiles = self.txn.open_table(PROFILES).map_err(|e| db_err(path, e))?;
        let mut tastes = self.txn.open_table(TASTES).map_err(|e| db_err(path, e))?;
        let base = pos.saturating_mul(super::MAX_EVENTS_PER_WRITE as u64);
        let mut touched_tastes: std::collections::BTreeMap<&str, Vec<f32>> = Default::default();
        // Profiles change only with clicks on stored articles.
        let mut touched: std::collections::BTreeMap<&str, Profile> = Default::default();
        for ev in events.iter().filter(|e| e.kind == EventKind::Click) {
            let Some(input) = self.read_input(&ev.article)? else { continue };
            let p = loaded(&mut touched, &ev.user, || {
                match profiles.get(ev.user.as_str()).map_err(|e| db_err(path, e))? {
                    Some(v) => decode(&ev.user, v.value()),
                    None => Ok(Profile::default()),
                }
            })?;
            let ents: Vec<&str> = input.entities.iter().map(String::as_str).collect();
            p.add_read(input.section.as_deref(), input.subsection.as_deref(), &ents, ev.time_ms);
            let Some(v) = self.vectors.get(ev.article.as_str()).map_err(|e| db_err(path, e))? else { continue };
            let v = vector_from_bytes(&ev.article, v.value())?;
            let t = loaded(&mut touched_tastes, &ev.user, || {
                match tastes.get(ev.user.as_str()).map_err(|e| db_err(path, e))? {
                    Some(t) => vector_from_bytes(&ev.user, t.value()),
                    None => Ok(vec![]),
                }
            })?;
            add_to_taste(t, &v);
        }
        for (user, t) in &touched_tastes {
            tastes.insert(*user, vector_bytes(t).as_slice()).map_err(|e| db_err(path, e))?;
        }
        for (user, p) in &touched {
            let bytes = encode(p, user)?;
            profiles.insert(*user, bytes.as_slice()).map_err(|e| db_err(path, e))?;
        }
        for (i, ev) in events.iter().enumerate() {
            let key = base + i as u64;
            let bytes = encode(ev, &ev.article)?;
            all.insert((ev.time_ms, key), bytes.as_slice()).map_err(|e| db_err(path, e))?;
            by_user
                .insert((ev.user.as_str(), ev.time_ms, key), (kind_byte(ev.kind), ev.article.as_str()))
                .map_err(|e| db_err(path, e))?;
        }
        Ok(events.len())
    }

    /// What a click on `id` adds to a profile (`None` when not stored): the
    /// kept reading input, or, for an article stored before those were
    /// kept, what its record gives.
    fn read_input(&self, id: &str) -> Result<Option<super::ReadInput>> {
        let path = self.path;
        if let Some(v) = self.read_inputs_get(id)? {
            return Ok(Some(v));
        }
        let Some(a) = self.articles.get(id).map_err(|e| db_err(path, e))? else { return Ok(None) };
        let article: Article = decode(id, a.value())?;
        let entities: Vec<String> = match self.analyses.get(id).map_err(|e| db_err(path, e))? {
            Some(v) => {
                let an: Analysis = decode(id, v.value())?;
                an.entities.iter().map(|e| e.key.clone()).collect()
            }
            None => vec![],
        };
        Ok(Some(super::ReadInput { section: article.section, subsection: article.tags.into_iter().next(), entities }))
    }

    /// Erases a reader's events (in both tables), profile and taste.
    /// Returns how many events were removed.
    pub(crate) fn forget(&mut self, user: &str) -> Result<usize> {
        let path = self.path;
        let mut all = self.txn.open_table(EVENTS).map_err(|e| db_err(path, e))?;
        let mut by_user = self.txn.open_table(USER_EVENTS).map_err(|e| db_err(path, e))?;
        let mut keys = Vec::new();
        for item in by_user.range((user, i64::MIN, 0)..=(user, i64::MAX, u64::MAX)).map_err(|e| db_err(path, e))? {
            let (k, _) = item.map_err(|e| db_err(path, e))?;
            let (_, t, seq) = k.value();
            keys.push((t, seq));
        }
        for (t, seq) in &keys {
            all.remove((*t, *seq)).map_err(|e| db_err(path, e))?;
            by_user.remove((user, *t, *seq)).map_err(|e| db_err(path, e))?;
        }
        self.txn.open_table(PROFILES).map_err(|e| db_err(path, e))?.remove(user).map_err(|e| db_err(path, e))?;
        self.txn.open_table(TASTES).map_err(|e| db_err(path, e))?.remove(user).map_err(|e| db_err(path, e))?;
        Ok(keys.len())
    }

    /// Edits the one rules row.
    pub(crate) fn edit_rules(&mut self, f: impl FnOnce(&mut Rules)) -> Result<super::Applied> {
        self.edit_row(RULES_KEY, f)
    }

    /// Edits the story rules row.
    pub(crate) fn edit_story_rules(&mut self, f: impl FnOnce(&mut StoryRules)) -> Result<super::Applied> {
        self.edit_row(STORY_RULES_KEY, f)
    }

    /// Edits one row of the rules table (its default when absent).
    fn edit_row<T>(&mut self, key: &str, f: impl FnOnce(&mut T)) -> Result<super::Applied>
    where
        T: Default + serde::Serialize + serde::de::DeserializeOwned,
    {
        let path = self.path;
        let mut t = self.txn.open_table(RULES).map_err(|e| db_err(path, e))?;
        let mut r: T = match t.get(key).map_err(|e| db_err(path, e))? {
            Some(v) => decode(key, v.value())?,
            None => T::default(),
        };
        f(&mut r);
        let bytes = encode(&r, key)?;
        t.insert(key, bytes.as_slice()).map_err(|e| db_err(path, e))?;
        Ok(super::Applied::Changed)
    }
}

impl Store {
    /// Records reading events ([`Write::Events`] at the next position).
    /// Returns how many were stored.
    pub fn record_events(&self, events: &[Event]) -> Result<usize> {
        match self.apply(&Write::Events(events.to_vec()))? {
            super::Applied::Recorded(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// A reader's most recent events, newest first (at most `limit`).
    pub fn history(&self, user: &str, limit: usize) -> Result<Vec<HistoryItem>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let by_user = txn.open_table(USER_EVENTS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in by_user.range((user, i64::MIN, 0)..=(user, i64::MAX, u64::MAX)).map_err(|e| self.err(e))?.rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(|e| self.err(e))?;
            let (_, time_ms, _) = k.value();
            let (kind, article) = v.value();
            let kind = if kind == 1 { EventKind::Click } else { EventKind::Impression };
            out.push(HistoryItem { article: article.to_string(), kind, time_ms });
        }
        Ok(out)
    }

    /// Every event of a reader, oldest first.
    pub fn user_events(&self, user: &str) -> Result<Vec<Event>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let by_user = txn.open_table(USER_EVENTS).map_err(|e| self.err(e))?;
        let all = txn.open_table(EVENTS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in by_user.range((user, i64::MIN, 0)..=(user, i64::MAX, u64::MAX)).map_err(|e| self.err(e))? {
            let (k, _) = item.map_err(|e| self.err(e))?;
            let (_, t, seq) = k.value();
            if let Some(v) = all.get((t, seq)).map_err(|e| self.err(e))? {
                out.push(decode(&format!("event {:?}", (t, seq)), v.value())?);
            }
        }
        Ok(out)
    }

    /// A reader's profile (empty for an unknown reader).
    pub fn profile(&self, user: &str) -> Result<Profile> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(PROFILES).map_err(|e| self.err(e))?;
        match t.get(user).map_err(|e| self.err(e))? {
            Some(v) => decode(user, v.value()),
            None => Ok(Profile::default()),
        }
    }

    /// A reader's dense taste, unit length: the decayed mean of the
    /// embeddings of what they clicked. `None` for a reader with no click
    /// on an embedded article.
    pub fn taste(&self, user: &str) -> Result<Option<Vec<f32>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(TASTES).map_err(|e| self.err(e))?;
        let Some(v) = t.get(user).map_err(|e| self.err(e))? else { return Ok(None) };
        let mut v = vector_from_bytes(user, v.value())?;
        Ok(readnext_core::normalize(&mut v).then_some(v))
    }

    /// Erases everything recorded about a reader: their events (in both
    /// tables), their profile and their taste ([`Write::Forget`]). Returns
    /// how many events were removed.
    pub fn forget_user(&self, user: &str) -> Result<usize> {
        match self.apply(&Write::Forget(user.to_string()))? {
            super::Applied::Forgotten(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// Calls `f` on every event at or after `since_ms`, oldest first.
    pub fn for_each_event_since(&self, since_ms: i64, mut f: impl FnMut(&Event)) -> Result<()> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let all = txn.open_table(EVENTS).map_err(|e| self.err(e))?;
        for item in all.range((since_ms, 0)..).map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let ev: Event = decode(&format!("event {:?}", k.value()), v.value())?;
            f(&ev);
        }
        Ok(())
    }

    /// Number of stored events.
    pub fn event_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        txn.open_table(EVENTS).map_err(|e| self.err(e))?.len().map_err(|e| self.err(e))
    }

    /// Stores a model's bytes under `name`, replacing the previous one
    /// ([`Write::Model`]).
    pub fn put_model(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.apply(&Write::Model { name: name.to_string(), bytes: bytes.to_vec() }).map(|_| ())
    }

    /// The bytes of the model `name`, if one was stored.
    pub fn model(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(MODELS).map_err(|e| self.err(e))?;
        Ok(t.get(name).map_err(|e| self.err(e))?.map(|v| v.value().to_vec()))
    }

    /// The editorial rules.
    pub fn rules(&self) -> Result<Rules> {
        self.rules_row(RULES_KEY)
    }

    /// The editorial story rules.
    pub fn story_rules(&self) -> Result<StoryRules> {
        self.rules_row(STORY_RULES_KEY)
    }

    /// One row of the rules table (its default when absent).
    fn rules_row<T: Default + serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(RULES).map_err(|e| self.err(e))?;
        match t.get(key).map_err(|e| self.err(e))? {
            Some(v) => decode(key, v.value()),
            None => Ok(T::default()),
        }
    }
}
