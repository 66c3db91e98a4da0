//! The source of truth: an embedded, transactional store (redb) of articles
//! and their analysis.
//!
//! Every change goes through [`Store::apply`] (or [`Store::apply_batch`], the
//! same thing for many writes in one transaction). Applying a [`Write`] is
//! idempotent: writing an article identical to the stored one changes
//! nothing. That is what lets the store be fed from a replicated log later,
//! where a write may be delivered twice.
//!
//! Each applied change takes the next sequence number in a change log that
//! holds the latest change of every id. Derived indexes remember the last
//! sequence they applied and catch up from [`Store::changes_since`]; so an
//! index can lag, crash or be deleted, and is rebuilt from here.
#![warn(missing_docs)]

mod events;

pub use events::HistoryItem;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use readnext_core::{Analysis, Article, Event, RankInput};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

const ARTICLES: TableDefinition<&str, &[u8]> = TableDefinition::new("articles");
// Analyses live in their own table: ranking reads hundreds of them per query
// and must not decode article bodies to do so.
const ANALYSES: TableDefinition<&str, &[u8]> = TableDefinition::new("analyses");
// The compact ranking input, derived from the analysis on write.
const RANK: TableDefinition<&str, &[u8]> = TableDefinition::new("rank_inputs");
const CHANGES: TableDefinition<u64, &str> = TableDefinition::new("changes");
const ID_SEQ: TableDefinition<&str, u64> = TableDefinition::new("id_seq");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
// Sentence embeddings: little-endian f32s, one vector per article. The
// approximate-nearest-neighbour index is derived from this table.
const VECTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("vectors");

const FORMAT_VERSION: u8 = 1;
const STORE_FILE: &str = "store.redb";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened, read or written.
    #[error("store {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: Box<redb::Error>,
    },
    /// The store folder could not be created.
    #[error("store folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored record cannot be decoded.
    #[error("stored record {id:?} is unreadable: {reason}")]
    Corrupt {
        /// The article id.
        id: String,
        /// Why.
        reason: String,
    },
    /// A write was rejected before touching the store.
    #[error("invalid write: {0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// An article with its analysis, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The article.
    pub article: Article,
    /// What analysis derived from it.
    pub analysis: Analysis,
    /// Its sentence embedding, when one was computed. On a write, `None`
    /// keeps the stored vector if the article is unchanged and drops it
    /// (it would be stale) if the article changed. Reads leave it `None`:
    /// [`Store::vectors`] reads vectors.
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
}

/// One state change: the unit that a replicated log carries. Every change
/// to the store is one of these, applied by [`Store::apply_at`] in one
/// transaction, idempotently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Write {
    /// Insert or replace an article.
    Upsert(Box<Record>),
    /// Remove an article.
    Delete(String),
    /// Record reading events (at most [`MAX_EVENTS_PER_WRITE`]); they are
    /// keyed by the write's position, so a replayed write counts nothing
    /// twice.
    Events(Vec<Event>),
    /// Set the pins of one block owner, in order (empty removes them).
    SetPins {
        /// The article whose block it is.
        owner: String,
        /// The pinned ids.
        pins: Vec<String>,
    },
    /// Keep an article out of every block.
    Block(String),
    /// Let a blocked article back in.
    Unblock(String),
    /// Erase everything recorded about a reader.
    Forget(String),
    /// Split an article off its story: it starts a story of its own.
    SplitStory(String),
    /// Show the story `from` as part of the story `into`.
    MergeStories {
        /// The story merged away.
        from: String,
        /// The story it joins.
        into: String,
    },
    /// Undo [`Write::SplitStory`].
    UnsplitStory(String),
    /// Undo [`Write::MergeStories`] of the story merged away.
    UnmergeStory(String),
    /// Store a fitted model's bytes under a name, replacing the previous one.
    Model {
        /// The model's name.
        name: String,
        /// Its serialised form (the owner's format).
        bytes: Vec<u8>,
    },
    /// Store vectors of stored articles (ids not stored are skipped).
    Vectors(Vec<(String, Vec<f32>)>),
}

impl Write {
    /// The write as bytes, for a replicated log: a format version, then the
    /// write in the store's own encoding. [`Write::decode`] reads it back on
    /// every node, so that each applies exactly the value the accepting
    /// node analysed (and embedded).
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(self, "write")
    }

    /// Reads a write that [`Write::encode`] made; a payload of another
    /// format or version is [`StoreError::Corrupt`], not a panic.
    pub fn decode(bytes: &[u8]) -> Result<Write> {
        decode("log message", bytes)
    }
}

/// Events one [`Write::Events`] may carry: an event's key is the write's
/// position times this, plus its index.
pub const MAX_EVENTS_PER_WRITE: usize = 1 << 20;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new article was stored.
    Inserted,
    /// An existing article was replaced by a different version.
    Updated,
    /// The same article was already stored: nothing changed.
    Unchanged,
    /// An article was removed.
    Deleted,
    /// A delete named an article that is not stored: nothing changed.
    Missing,
    /// Events were recorded (how many).
    Recorded(usize),
    /// A reader was forgotten (how many of their events were removed).
    Forgotten(usize),
    /// Vectors were stored (how many; ids not stored are skipped).
    Vectors(usize),
    /// The rules or a model changed.
    Changed,
    /// The write's position was already applied: nothing changed.
    Replayed,
}

/// One entry of the change log: the latest change of an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Sequence number.
    pub seq: u64,
    /// The article id.
    pub id: String,
}

/// What [`Store::digest`] reports: counts, and a hash per group of tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The position of the last applied write.
    pub applied: u64,
    /// Stored articles.
    pub articles: u64,
    /// Stored vectors.
    pub vectors: u64,
    /// Stored reading events.
    pub events: u64,
    /// Readers with a profile.
    pub profiles: u64,
    /// Articles, analyses and vectors.
    pub articles_digest: String,
    /// Events.
    pub events_digest: String,
    /// Profiles and tastes.
    pub profiles_digest: String,
    /// Rules and models.
    pub rules_digest: String,
}

/// FNV-1a over the bytes of many keys and values, each prefixed by its
/// length so that ("ab", "c") and ("a", "bc") differ.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// What is stored, for `readnext stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Number of articles.
    pub articles: u64,
    /// Articles per language.
    pub by_lang: BTreeMap<String, u64>,
    /// Articles per source.
    pub by_source: BTreeMap<String, u64>,
    /// Size of the database file in bytes.
    pub store_bytes: u64,
    /// Last sequence number of the change log.
    pub last_seq: u64,
}

/// Bytes of redb's page cache.
const CACHE_BYTES: usize = 128 * 1024 * 1024;

/// The store. Cheap to share behind an `Arc`; redb serialises writers.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens the store in `dir` (creating the folder and the database file).
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join(STORE_FILE);
        // redb caches up to 1 GiB of pages by default; ranking reads only the
        // small rank inputs, and the OS page cache holds the file anyway, so a
        // smaller cache keeps the process lean at no measured cost.
        let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create(&path).map_err(|e| db_err(&path, e))?;
        let store = Store { db, path };
        // Create the tables so that readers never meet a missing table.
        let txn = store.db.begin_write().map_err(|e| store.err(e))?;
        {
            txn.open_table(ARTICLES).map_err(|e| store.err(e))?;
            txn.open_table(ANALYSES).map_err(|e| store.err(e))?;
            txn.open_table(RANK).map_err(|e| store.err(e))?;
            txn.open_table(CHANGES).map_err(|e| store.err(e))?;
            txn.open_table(ID_SEQ).map_err(|e| store.err(e))?;
            txn.open_table(META).map_err(|e| store.err(e))?;
            txn.open_table(VECTORS).map_err(|e| store.err(e))?;
            txn.open_table(events::EVENTS).map_err(|e| store.err(e))?;
            txn.open_table(events::USER_EVENTS).map_err(|e| store.err(e))?;
            txn.open_table(events::RULES).map_err(|e| store.err(e))?;
            txn.open_table(events::MODELS).map_err(|e| store.err(e))?;
            txn.open_table(events::PROFILES).map_err(|e| store.err(e))?;
            txn.open_table(events::TASTES).map_err(|e| store.err(e))?;
            txn.open_table(TERM_DF).map_err(|e| store.err(e))?;
            txn.open_table(ENTITY_DF).map_err(|e| store.err(e))?;
            txn.open_table(KEYPHRASE_DF).map_err(|e| store.err(e))?;
            txn.open_table(READ_INPUTS).map_err(|e| store.err(e))?;
        }
        txn.commit().map_err(|e| store.err(e))?;
        store.build_doc_freqs()?;
        Ok(store)
    }

    /// Rewrites the database file without the pages that copy-on-write
    /// transactions left free. Returns whether anything was reclaimed.
    pub fn compact(&mut self) -> Result<bool> {
        let path = self.path.clone();
        self.db.compact().map_err(|e| db_err(&path, e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        db_err(&self.path, e)
    }

    /// Applies one write in its own transaction, at the next position.
    pub fn apply(&self, write: &Write) -> Result<Applied> {
        self.apply_batch(std::slice::from_ref(write))?.pop().ok_or_else(|| StoreError::Invalid("no write".into()))
    }

    /// Applies writes in one transaction, at the positions after the last
    /// applied one: all are durable when this returns `Ok`, none is visible
    /// if it returns an error or the process dies first.
    pub fn apply_batch(&self, writes: &[Write]) -> Result<Vec<Applied>> {
        self.apply_at(None, writes)
    }

    /// The one write function. Applies `writes` in one transaction, the
    /// `i`-th at position `first + i` of the write log (a replicated log's
    /// sequence), or, with `first` = `None`, at the positions after the last
    /// applied one (a single node, where the store numbers its writes).
    /// A write at a position already applied is [`Applied::Replayed`] and
    /// changes nothing, so that a log may deliver it twice. The last
    /// position is recorded in the same transaction
    /// ([`Store::applied_position`]).
    pub fn apply_at(&self, first: Option<u64>, writes: &[Write]) -> Result<Vec<Applied>> {
        for w in writes {
            match w {
                Write::Upsert(r) if r.article.id.is_empty() => {
                    return Err(StoreError::Invalid("an article without an id".into()));
                }
                Write::Events(evs) if evs.len() > MAX_EVENTS_PER_WRITE => {
                    return Err(StoreError::Invalid(format!(
                        "{} events in one write, at most {MAX_EVENTS_PER_WRITE}",
                        evs.len()
                    )));
                }
                _ => {}
            }
        }
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(writes.len());
        {
            let mut tx = Tx::open(&txn, &self.path)?;
            let last = tx.log.meta.get(WRITE_POS).map_err(|e| self.err(e))?.map_or(0, |v| v.value());
            let mut pos = last;
            for (i, w) in writes.iter().enumerate() {
                let at = first.unwrap_or(last + 1) + i as u64;
                if at <= pos {
                    out.push(Applied::Replayed);
                    continue;
                }
                out.push(tx.apply(w, at)?);
                pos = at;
            }
            tx.log.meta.insert(WRITE_POS, pos).map_err(|e| self.err(e))?;
            tx.close()?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// The position of the last applied write (0 before any).
    pub fn applied_position(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        Ok(meta.get(WRITE_POS).map_err(|e| self.err(e))?.map_or(0, |v| v.value()))
    }

    /// The corpus statistics, as kept on write: the number of articles and
    /// the document frequency of every term and entity hash, in hash order.
    pub fn corpus_counts(&self) -> Result<CorpusCounts> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let docs = txn.open_table(ARTICLES).map_err(|e| self.err(e))?.len().map_err(|e| self.err(e))?;
        let read = |def: TableDefinition<u64, u32>| -> Result<Vec<(u64, u32)>> {
            let t = txn.open_table(def).map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(t.len().map_err(|e| self.err(e))? as usize);
            for item in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                out.push((k.value(), v.value()));
            }
            Ok(out)
        };
        Ok(CorpusCounts { docs, terms: read(TERM_DF)?, entities: read(ENTITY_DF)?, keyphrases: read(KEYPHRASE_DF)? })
    }

    /// The document frequencies of some term, entity and keyphrase hashes
    /// (0 for an unknown one), and the number of articles, from one
    /// snapshot.
    pub fn doc_freqs(&self, terms: &[u64], entities: &[u64], keyphrases: &[u64]) -> Result<DocFreqs> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let docs = txn.open_table(ARTICLES).map_err(|e| self.err(e))?.len().map_err(|e| self.err(e))?;
        let read = |def: TableDefinition<u64, u32>, keys: &[u64]| -> Result<Vec<u32>> {
            let t = txn.open_table(def).map_err(|e| self.err(e))?;
            keys.iter().map(|k| Ok(t.get(*k).map_err(|e| self.err(e))?.map_or(0, |v| v.value()))).collect()
        };
        Ok(DocFreqs {
            docs,
            terms: read(TERM_DF, terms)?,
            entities: read(ENTITY_DF, entities)?,
            keyphrases: read(KEYPHRASE_DF, keyphrases)?,
        })
    }

    /// Builds the document-frequency tables from the ranking inputs: once,
    /// for a store written before they were kept on write.
    fn build_doc_freqs(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            if meta.get(STATS_VERSION_KEY).map_err(|e| self.err(e))?.is_some_and(|v| v.value() == STATS_VERSION) {
                return Ok(());
            }
            let rank = txn.open_table(RANK).map_err(|e| self.err(e))?;
            let mut delta = DfDelta::default();
            for item in rank.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                delta.add(&decode_rank_input(k.value(), v.value())?, 1);
            }
            let mut tables = DfTables::open(&txn).map_err(|e| self.err(e))?;
            tables.clear().map_err(|e| self.err(e))?;
            delta.apply(&mut tables).map_err(|e| self.err(e))?;
            meta.insert(STATS_VERSION_KEY, STATS_VERSION).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether an article `id` is stored (its key only: nothing decoded).
    pub fn contains(&self, id: &str) -> Result<bool> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
        Ok(articles.get(id).map_err(|e| self.err(e))?.is_some())
    }

    /// The stored record of `id`.
    pub fn get(&self, id: &str) -> Result<Option<Record>> {
        Ok(self.get_many(&[id])?.pop().flatten())
    }

    /// The stored records of several ids, read in one snapshot, in order.
    pub fn get_many<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Option<Record>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
        let analyses = txn.open_table(ANALYSES).map_err(|e| self.err(e))?;
        ids.iter()
            .map(|id| {
                let id = id.as_ref();
                let article = articles.get(id).map_err(|e| self.err(e))?;
                let analysis = analyses.get(id).map_err(|e| self.err(e))?;
                match (article, analysis) {
                    (Some(a), Some(b)) => Ok(Some(Record {
                        article: decode(id, a.value())?,
                        analysis: decode(id, b.value())?,
                        vector: None,
                    })),
                    (None, None) => Ok(None),
                    _ => Err(StoreError::Corrupt { id: id.to_string(), reason: "article without analysis".into() }),
                }
            })
            .collect()
    }

    /// The compact ranking inputs of several ids, in one snapshot, in order.
    pub fn rank_inputs<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Option<RankInput>>> {
        self.read_many_with(RANK, ids, decode_rank_input)
    }

    /// Reads several ids from one table in one snapshot, in order, decoding
    /// each value with `decode_value(id, bytes)`.
    fn read_many_with<T, S: AsRef<str>>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        ids: &[S],
        decode_value: impl Fn(&str, &[u8]) -> Result<T>,
    ) -> Result<Vec<Option<T>>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(def).map_err(|e| self.err(e))?;
        ids.iter()
            .map(|id| match table.get(id.as_ref()).map_err(|e| self.err(e))? {
                Some(v) => decode_value(id.as_ref(), v.value()).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// The stored vectors of several ids, in one snapshot, in order.
    pub fn vectors<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Option<Vec<f32>>>> {
        self.read_many_with(VECTORS, ids, vector_from_bytes)
    }

    /// How many articles have a stored vector.
    pub fn vector_count(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        txn.open_table(VECTORS).map_err(|e| self.err(e))?.len().map_err(|e| self.err(e))
    }

    /// Stored ids without a vector, in id order, among the first `limit`
    /// after `after`, with the last id looked at (to page on from; `None`
    /// at the end): the articles that an encoder installed after their
    /// ingest has still to embed.
    pub fn ids_without_vector(&self, after: Option<&str>, limit: usize) -> Result<(Vec<String>, Option<String>)> {
        use std::ops::Bound;
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
        let vectors = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        let mut last = None;
        let mut seen = 0;
        for (i, item) in
            articles.range::<&str>((lower, Bound::Unbounded)).map_err(|e| self.err(e))?.take(limit).enumerate()
        {
            seen = i + 1;
            let id = item.map_err(|e| self.err(e))?.0.value().to_string();
            if vectors.get(id.as_str()).map_err(|e| self.err(e))?.is_none() {
                out.push(id.clone());
            }
            last = Some(id);
        }
        // Fewer than `limit` looked at: the table ended.
        Ok((out, if seen < limit { None } else { last }))
    }

    /// Stores vectors of stored articles (ids that are not stored are
    /// skipped) and logs each as a change: [`Write::Vectors`]. Returns how
    /// many were stored.
    pub fn put_vectors(&self, items: &[(String, Vec<f32>)]) -> Result<usize> {
        match self.apply(&Write::Vectors(items.to_vec()))? {
            Applied::Vectors(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// Up to `limit` stored ids after `after` (all from the start when
    /// `None`), in id order: a stable way to page through the store.
    pub fn ids_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        use std::ops::Bound;
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        for item in articles.range::<&str>((lower, Bound::Unbounded)).map_err(|e| self.err(e))? {
            if out.len() >= limit {
                break;
            }
            out.push(item.map_err(|e| self.err(e))?.0.value().to_string());
        }
        Ok(out)
    }

    /// Number of stored articles.
    pub fn len(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        txn.open_table(ARTICLES).map_err(|e| self.err(e))?.len().map_err(|e| self.err(e))
    }

    /// Whether the store holds no article.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Calls `f` on every stored record, in id order, from one snapshot.
    pub fn for_each(&self, mut f: impl FnMut(Record) -> Result<()>) -> Result<()> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
        let analyses = txn.open_table(ANALYSES).map_err(|e| self.err(e))?;
        for item in articles.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let id = k.value();
            let Some(analysis) = analyses.get(id).map_err(|e| self.err(e))? else {
                return Err(StoreError::Corrupt { id: id.to_string(), reason: "article without analysis".into() });
            };
            f(Record { article: decode(id, v.value())?, analysis: decode(id, analysis.value())?, vector: None })?;
        }
        Ok(())
    }

    /// The latest change of every id changed after `seq`, oldest first.
    pub fn changes_since(&self, seq: u64) -> Result<Vec<Change>> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(CHANGES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in table.range(seq.saturating_add(1)..).map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            out.push(Change { seq: k.value(), id: v.value().to_string() });
        }
        Ok(out)
    }

    /// The sequence number of the latest applied change (0 when none).
    pub fn last_seq(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        Ok(meta.get("next_seq").map_err(|e| self.err(e))?.map_or(1, |v| v.value()) - 1)
    }

    /// The reading inputs of several ids (`None` for an id not stored), in
    /// one snapshot, in order. An article stored by a build before they were
    /// kept has its input derived from its record.
    pub fn read_inputs<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Option<ReadInput>>> {
        let kept = self.read_many_with(READ_INPUTS, ids, decode::<ReadInput>)?;
        let missing: Vec<&str> =
            ids.iter().zip(&kept).filter(|(_, k)| k.is_none()).map(|(id, _)| id.as_ref()).collect();
        if missing.is_empty() {
            return Ok(kept);
        }
        let mut derived = self.get_many(&missing)?.into_iter().map(|r| r.map(|r| ReadInput::of(&r)));
        Ok(kept.into_iter().map(|k| k.or_else(|| derived.next().flatten())).collect())
    }

    /// A digest of what the store holds: every article (record, analysis,
    /// vector), every event, profile and taste, the rules and the models,
    /// each table hashed in key order, and the position of the last applied
    /// write. Two nodes that applied the same log to the same position give
    /// the same digest; the cluster's convergence check compares them.
    pub fn digest(&self) -> Result<Digest> {
        fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
            txn: &redb::ReadTransaction,
            def: TableDefinition<K, V>,
        ) -> std::result::Result<(u64, u64), redb::Error> {
            let t = txn.open_table(def)?;
            let mut h = Fnv::default();
            let mut n = 0u64;
            for item in t.iter()? {
                let (k, v) = item?;
                h.add(K::as_bytes(&k.value()).as_ref());
                h.add(V::as_bytes(&v.value()).as_ref());
                n += 1;
            }
            Ok((n, h.0))
        }
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let e = |e| self.err(e);
        let (articles, a1) = table(&txn, ARTICLES).map_err(e)?;
        let (_, a2) = table(&txn, ANALYSES).map_err(e)?;
        let (vectors, a3) = table(&txn, VECTORS).map_err(e)?;
        let (events, e1) = table(&txn, events::EVENTS).map_err(e)?;
        let (profiles, p1) = table(&txn, events::PROFILES).map_err(e)?;
        let (_, p2) = table(&txn, events::TASTES).map_err(e)?;
        let (_, r1) = table(&txn, events::RULES).map_err(e)?;
        let (_, r2) = table(&txn, events::MODELS).map_err(e)?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        let applied = meta.get(WRITE_POS).map_err(|e| self.err(e))?.map_or(0, |v| v.value());
        let mix = |hs: &[u64]| {
            let mut h = Fnv::default();
            hs.iter().for_each(|x| h.add(&x.to_le_bytes()));
            format!("{:016x}", h.0)
        };
        Ok(Digest {
            applied,
            articles,
            vectors,
            events,
            profiles,
            articles_digest: mix(&[a1, a2, a3]),
            events_digest: mix(&[e1]),
            profiles_digest: mix(&[p1, p2]),
            rules_digest: mix(&[r1, r2]),
        })
    }

    /// Bytes each table takes in the file (stored, metadata and fragmented
    /// pages), by table name: what `readnext bench` prints per article.
    pub fn table_bytes(&self) -> Result<Vec<(&'static str, u64)>> {
        fn size<K: redb::Key + 'static, V: redb::Value + 'static>(
            txn: &redb::ReadTransaction,
            def: TableDefinition<K, V>,
        ) -> std::result::Result<u64, redb::Error> {
            let s = txn.open_table(def)?.stats()?;
            Ok(s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes())
        }
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let e = |e| self.err(e);
        Ok(vec![
            ("articles", size(&txn, ARTICLES).map_err(e)?),
            ("analyses", size(&txn, ANALYSES).map_err(e)?),
            ("rank_inputs", size(&txn, RANK).map_err(e)?),
            ("vectors", size(&txn, VECTORS).map_err(e)?),
            ("changes", size(&txn, CHANGES).map_err(e)?),
            ("id_seq", size(&txn, ID_SEQ).map_err(e)?),
            ("term_df", size(&txn, TERM_DF).map_err(e)?),
            ("entity_df", size(&txn, ENTITY_DF).map_err(e)?),
            ("keyphrase_df", size(&txn, KEYPHRASE_DF).map_err(e)?),
            ("read_inputs", size(&txn, READ_INPUTS).map_err(e)?),
            ("events", size(&txn, events::EVENTS).map_err(e)?),
            ("user_events", size(&txn, events::USER_EVENTS).map_err(e)?),
            ("profiles", size(&txn, events::PROFILES).map_err(e)?),
            ("tastes", size(&txn, events::TASTES).map_err(e)?),
        ])
    }

    /// Counts by language and source, and the file size.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        self.for_each(|r| {
            s.articles += 1;
            *s.by_lang.entry(r.analysis.lang.clone()).or_default() += 1;
            let src = r.article.source.clone().unwrap_or_else(|| "unknown".into());
            *s.by_source.entry(src).or_default() += 1;
            Ok(())
        })?;
        s.store_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        s.last_seq = self.last_seq()?;
        Ok(s)
    }
}

/// What a click on an article adds to its reader's profile and to the
/// popularity groups (section, subsection, entity keys), kept apart so that
/// recording events never decodes article bodies or analyses.
const READ_INPUTS: TableDefinition<&str, &[u8]> = TableDefinition::new("read_inputs");

/// The part of an article that reading events need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadInput {
    /// Section.
    pub section: Option<String>,
    /// Subsection (the first tag).
    pub subsection: Option<String>,
    /// Entity keys.
    pub entities: Vec<String>,
}

impl ReadInput {
    fn of(r: &Record) -> ReadInput {
        ReadInput {
            section: r.article.section.clone(),
            subsection: r.article.tags.first().cloned(),
            entities: r.analysis.entities.iter().map(|e| e.key.clone()).collect(),
        }
    }
}

/// Document frequencies of term and entity hashes.
const TERM_DF: TableDefinition<u64, u32> = TableDefinition::new("term_df");
const ENTITY_DF: TableDefinition<u64, u32> = TableDefinition::new("entity_df");
/// Document frequencies of keyphrase hashes (since stats version 2).
const KEYPHRASE_DF: TableDefinition<u64, u32> = TableDefinition::new("keyphrase_df");
/// Meta key: the position of the last applied write.
const WRITE_POS: &str = "write_pos";
/// Meta key: the version of the document-frequency tables (absent in a store
/// written before they were kept on write: they are then built on open).
const STATS_VERSION_KEY: &str = "stats_version";
/// Version 2 added the keyphrases' document frequencies: a store of
/// version 1 builds all three tables again when it is opened.
const STATS_VERSION: u64 = 2;

/// The corpus statistics the store keeps on write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusCounts {
    /// Number of articles.
    pub docs: u64,
    /// (term hash, document frequency), in hash order.
    pub terms: Vec<(u64, u32)>,
    /// (entity match-key hash, document frequency), in hash order.
    pub entities: Vec<(u64, u32)>,
    /// (keyphrase key hash, document frequency), in hash order.
    pub keyphrases: Vec<(u64, u32)>,
}

/// Document frequencies of some hashes ([`Store::doc_freqs`]), in the
/// order they were asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocFreqs {
    /// Number of articles.
    pub docs: u64,
    /// Of the term hashes.
    pub terms: Vec<u32>,
    /// Of the entity match-key hashes.
    pub entities: Vec<u32>,
    /// Of the keyphrase key hashes.
    pub keyphrases: Vec<u32>,
}

/// Changes of document frequencies within one transaction, summed before
/// they are written (a batch of articles shares most of its terms).
#[derive(Default)]
struct DfDelta {
    terms: readnext_core::FastMap<u64, i64>,
    entities: readnext_core::FastMap<u64, i64>,
    keyphrases: readnext_core::FastMap<u64, i64>,
}

/// The three document-frequency tables, open in one write transaction.
struct DfTables<'t> {
    terms: redb::Table<'t, u64, u32>,
    entities: redb::Table<'t, u64, u32>,
    keyphrases: redb::Table<'t, u64, u32>,
}

impl<'t> DfTables<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> std::result::Result<DfTables<'t>, redb::TableError> {
        Ok(DfTables {
            terms: txn.open_table(TERM_DF)?,
            entities: txn.open_table(ENTITY_DF)?,
            keyphrases: txn.open_table(KEYPHRASE_DF)?,
        })
    }

    fn clear(&mut self) -> std::result::Result<(), redb::StorageError> {
        self.terms.retain(|_, _| false)?;
        self.entities.retain(|_, _| false)?;
        self.keyphrases.retain(|_, _| false)
    }
}

impl DfDelta {
    fn add(&mut self, r: &RankInput, sign: i64) {
        for (h, _) in &r.terms {
            *self.terms.entry(*h).or_default() += sign;
        }
        for (h, _) in &r.entities {
            *self.entities.entry(*h).or_default() += sign;
        }
        for h in &r.keyphrases {
            *self.keyphrases.entry(*h).or_default() += sign;
        }
    }

    fn apply(&self, tables: &mut DfTables<'_>) -> std::result::Result<(), redb::Error> {
        fn move_by(
            table: &mut redb::Table<'_, u64, u32>,
            delta: &readnext_core::FastMap<u64, i64>,
        ) -> std::result::Result<(), redb::Error> {
            // In key order: neighbouring keys share B-tree pages.
            let mut moved: Vec<(u64, i64)> = delta.iter().filter(|(_, d)| **d != 0).map(|(h, d)| (*h, *d)).collect();
            moved.sort_unstable();
            for (h, d) in moved {
                let old = table.get(h)?.map_or(0, |v| v.value() as i64);
                let new = (old + d).max(0);
                if new == 0 {
                    table.remove(h)?;
                } else {
                    table.insert(h, u32::try_from(new).unwrap_or(u32::MAX))?;
                }
            }
            Ok(())
        }
        move_by(&mut tables.terms, &self.terms)?;
        move_by(&mut tables.entities, &self.entities)?;
        move_by(&mut tables.keyphrases, &self.keyphrases)
    }
}

/// The tables one write transaction works on.
pub(crate) struct Tx<'t> {
    pub(crate) txn: &'t redb::WriteTransaction,
    pub(crate) path: &'t Path,
    pub(crate) articles: redb::Table<'t, &'static str, &'static [u8]>,
    pub(crate) analyses: redb::Table<'t, &'static str, &'static [u8]>,
    rank: redb::Table<'t, &'static str, &'static [u8]>,
    read_inputs: redb::Table<'t, &'static str, &'static [u8]>,
    pub(crate) vectors: redb::Table<'t, &'static str, &'static [u8]>,
    log: ChangeLog<'t>,
    df: DfDelta,
}

impl<'t> Tx<'t> {
    fn open(txn: &'t redb::WriteTransaction, path: &'t Path) -> Result<Tx<'t>> {
        let e = |e: redb::TableError| db_err(path, e);
        Ok(Tx {
            txn,
            path,
            articles: txn.open_table(ARTICLES).map_err(e)?,
            analyses: txn.open_table(ANALYSES).map_err(e)?,
            rank: txn.open_table(RANK).map_err(e)?,
            read_inputs: txn.open_table(READ_INPUTS).map_err(e)?,
            vectors: txn.open_table(VECTORS).map_err(e)?,
            log: ChangeLog::open(txn).map_err(|e| db_err(path, e))?,
            df: DfDelta::default(),
        })
    }

    /// Applies one write at log position `pos`.
    fn apply(&mut self, w: &Write, pos: u64) -> Result<Applied> {
        let path = self.path;
        match w {
            Write::Upsert(r) => self.upsert(r),
            Write::Delete(id) => self.delete(id),
            Write::Events(evs) => self.record_events(evs, pos).map(Applied::Recorded),
            Write::SetPins { owner, pins } => self.edit_rules(|r| {
                if pins.is_empty() {
                    r.pins.remove(owner);
                } else {
                    r.pins.insert(owner.clone(), pins.clone());
                }
            }),
            Write::Block(id) => self.edit_rules(|r| {
                r.blocked.insert(id.clone());
            }),
            Write::Unblock(id) => self.edit_rules(|r| {
                r.blocked.remove(id);
            }),
            Write::Forget(user) => self.forget(user).map(Applied::Forgotten),
            Write::SplitStory(id) => self.edit_story_rules(|r| {
                r.splits.insert(id.clone());
            }),
            Write::MergeStories { from, into } => self.edit_story_rules(|r| {
                if from != into {
                    r.merges.insert(from.clone(), into.clone());
                }
            }),
            Write::UnsplitStory(id) => self.edit_story_rules(|r| {
                r.splits.remove(id);
            }),
            Write::UnmergeStory(id) => self.edit_story_rules(|r| {
                r.merges.remove(id);
            }),
            Write::Model { name, bytes } => {
                let mut t = self.txn.open_table(events::MODELS).map_err(|e| db_err(path, e))?;
                t.insert(name.as_str(), bytes.as_slice()).map_err(|e| db_err(path, e))?;
                Ok(Applied::Changed)
            }
            Write::Vectors(items) => {
                let mut stored = 0;
                for (id, v) in items {
                    if self.articles.get(id.as_str()).map_err(|e| db_err(path, e))?.is_none() {
                        continue;
                    }
                    self.vectors.insert(id.as_str(), vector_bytes(v).as_slice()).map_err(|e| db_err(path, e))?;
                    self.log.record(id).map_err(|e| db_err(path, e))?;
                    stored += 1;
                }
                Ok(Applied::Vectors(stored))
            }
        }
    }

    /// The kept reading input of `id`, if there is one.
    pub(crate) fn read_inputs_get(&self, id: &str) -> Result<Option<ReadInput>> {
        match self.read_inputs.get(id).map_err(|e| db_err(self.path, e))? {
            Some(v) => decode(id, v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn upsert(&mut self, r: &Record) -> Result<Applied> {
        let path = self.path;
        let article = encode(&r.article, &r.article.id)?;
        let analysis = encode(&r.analysis, &r.article.id)?;
        let id = r.article.id.as_str();
        let old_article = self.articles.insert(id, article.as_slice()).map_err(|e| db_err(path, e))?;
        let same_article = old_article.is_some_and(|o| o.value() == article.as_slice());
        let old_analysis = self.analyses.insert(id, analysis.as_slice()).map_err(|e| db_err(path, e))?;
        let existed = old_analysis.is_some();
        let same_analysis = old_analysis.is_some_and(|o| o.value() == analysis.as_slice());
        let mut applied = match (existed, same_article && same_analysis) {
            (false, _) => Applied::Inserted,
            (true, true) => Applied::Unchanged,
            (true, false) => Applied::Updated,
        };
        match &r.vector {
            Some(v) => {
                let bytes = vector_bytes(v);
                let old = self.vectors.insert(id, bytes.as_slice()).map_err(|e| db_err(path, e))?;
                if applied == Applied::Unchanged && old.is_none_or(|o| o.value() != bytes.as_slice()) {
                    // A new vector is a change the derived indexes must see.
                    applied = Applied::Updated;
                }
            }
            None if applied != Applied::Unchanged => {
                self.vectors.remove(id).map_err(|e| db_err(path, e))?;
            }
            None => {}
        }
        if applied != Applied::Unchanged {
            let ri = r.analysis.rank_input(r.article.lang_given());
            let bytes = encode(&ri, id)?;
            if let Some(old) = self.rank.insert(id, bytes.as_slice()).map_err(|e| db_err(path, e))? {
                self.df.add(&decode_rank_input(id, old.value())?, -1);
            }
            self.df.add(&ri, 1);
            let read = encode(&ReadInput::of(r), id)?;
            self.read_inputs.insert(id, read.as_slice()).map_err(|e| db_err(path, e))?;
            self.log.record(id).map_err(|e| db_err(path, e))?;
        }
        Ok(applied)
    }

    fn delete(&mut self, id: &str) -> Result<Applied> {
        let path = self.path;
        self.analyses.remove(id).map_err(|e| db_err(path, e))?;
        if let Some(old) = self.rank.remove(id).map_err(|e| db_err(path, e))? {
            self.df.add(&decode_rank_input(id, old.value())?, -1);
        }
        self.vectors.remove(id).map_err(|e| db_err(path, e))?;
        self.read_inputs.remove(id).map_err(|e| db_err(path, e))?;
        let old = self.articles.remove(id).map_err(|e| db_err(path, e))?;
        if old.is_none() {
            return Ok(Applied::Missing);
        }
        self.log.record(id).map_err(|e| db_err(path, e))?;
        Ok(Applied::Deleted)
    }

    /// Writes the summed document-frequency changes and the change log's
    /// next sequence number.
    fn close(self) -> Result<()> {
        let path = self.path;
        let mut tables = DfTables::open(self.txn).map_err(|e| db_err(path, e))?;
        self.df.apply(&mut tables).map_err(|e| db_err(path, e))?;
        self.log.close().map_err(|e| db_err(path, e))
    }
}

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db { path: path.to_path_buf(), source: Box::new(e.into()) }
}

/// The change log inside one write transaction: every write path that
/// changes an article (or its vector) records the id here, so that derived
/// indexes see it.
struct ChangeLog<'t> {
    changes: redb::Table<'t, u64, &'static str>,
    id_seq: redb::Table<'t, &'static str, u64>,
    pub(crate) meta: redb::Table<'t, &'static str, u64>,
    next: u64,
}

impl<'t> ChangeLog<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> std::result::Result<ChangeLog<'t>, redb::Error> {
        let meta = txn.open_table(META)?;
        let next = meta.get("next_seq")?.map_or(1, |v| v.value());
        Ok(ChangeLog { changes: txn.open_table(CHANGES)?, id_seq: txn.open_table(ID_SEQ)?, meta, next })
    }

    /// Gives `id` the next sequence number. The log keeps only the latest
    /// change of each id.
    fn record(&mut self, id: &str) -> std::result::Result<(), redb::Error> {
        if let Some(old_seq) = self.id_seq.insert(id, self.next)? {
            self.changes.remove(old_seq.value())?;
        }
        self.changes.insert(self.next, id)?;
        self.next += 1;
        Ok(())
    }

    /// Stores the next sequence number.
    fn close(mut self) -> std::result::Result<(), redb::Error> {
        self.meta.insert("next_seq", self.next)?;
        Ok(())
    }
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(id: &str, bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt { id: id.to_string(), reason: format!("vector of {} bytes", bytes.len()) });
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A ranking input as stores written before it carried the language.
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct RankInputWithoutLang {
    terms: Vec<(u64, u32)>,
    entities: Vec<(u64, u32)>,
    keyphrases: Vec<u64>,
    simhash: u64,
    content_hash: u64,
    published: Option<i64>,
}

/// Decodes a ranking input, also in its older form (no language, read as
/// unknown): a store written by an earlier build keeps working, and its
/// records gain the language when they are next written.
fn decode_rank_input(id: &str, bytes: &[u8]) -> Result<RankInput> {
    decode::<RankInput>(id, bytes).or_else(|e| match decode::<RankInputWithoutLang>(id, bytes) {
        Ok(r) => Ok(RankInput {
            terms: r.terms,
            entities: r.entities,
            keyphrases: r.keyphrases,
            simhash: r.simhash,
            content_hash: r.content_hash,
            published: r.published,
            lang: "und".into(),
        }),
        Err(_) => Err(e),
    })
}

fn encode<T: Serialize>(value: &T, id: &str) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    postcard::to_io(value, &mut out)
        .map_err(|e| StoreError::Invalid(format!("article {id:?} cannot be encoded: {e}")))?;
    Ok(out)
}

fn decode<T: serde::de::DeserializeOwned>(id: &str, bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| StoreError::Corrupt { id: id.to_string(), reason };
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string())),
        Some((v, _)) => Err(corrupt(format!("unknown record version {v}"))),
        None => Err(corrupt("empty record".into())),
    }
}

#[cfg(test)]
mod tests;
