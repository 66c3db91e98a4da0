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

use readnext_core::{Analysis, Article, RankInput};
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

/// One write. The unit that a replicated log would carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Write {
    /// Insert or replace an article.
    Upsert(Box<Record>),
    /// Remove an article.
    Delete(String),
}

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
}

/// One entry of the change log: the latest change of an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Sequence number.
    pub seq: u64,
    /// The article id.
    pub id: String,
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
        }
        txn.commit().map_err(|e| store.err(e))?;
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

    /// Applies one write in its own transaction.
    pub fn apply(&self, write: &Write) -> Result<Applied> {
        Ok(self.apply_batch(std::slice::from_ref(write))?.remove(0))
    }

    /// Applies writes in one transaction: all are durable when this returns
    /// `Ok`, none is visible if it returns an error or the process dies first.
    pub fn apply_batch(&self, writes: &[Write]) -> Result<Vec<Applied>> {
        for w in writes {
            if let Write::Upsert(r) = w
                && r.article.id.is_empty()
            {
                return Err(StoreError::Invalid("an article without an id".into()));
            }
        }
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(writes.len());
        {
            let mut articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
            let mut analyses = txn.open_table(ANALYSES).map_err(|e| self.err(e))?;
            let mut rank = txn.open_table(RANK).map_err(|e| self.err(e))?;
            let mut vectors = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
            let mut log = ChangeLog::open(&txn).map_err(|e| self.err(e))?;
            for w in writes {
                let (id, applied) = match w {
                    Write::Upsert(r) => {
                        let article = encode(&r.article, &r.article.id)?;
                        let analysis = encode(&r.analysis, &r.article.id)?;
                        let id = r.article.id.as_str();
                        let old_article = articles.insert(id, article.as_slice()).map_err(|e| self.err(e))?;
                        let same_article = old_article.is_some_and(|o| o.value() == article.as_slice());
                        let old_analysis = analyses.insert(id, analysis.as_slice()).map_err(|e| self.err(e))?;
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
                                let old = vectors.insert(id, bytes.as_slice()).map_err(|e| self.err(e))?;
                                if applied == Applied::Unchanged && old.is_none_or(|o| o.value() != bytes.as_slice()) {
                                    // A new vector is a change the derived indexes must see.
                                    applied = Applied::Updated;
                                }
                            }
                            None if applied != Applied::Unchanged => {
                                vectors.remove(id).map_err(|e| self.err(e))?;
                            }
                            None => {}
                        }
                        if applied != Applied::Unchanged {
                            let ri = encode(&r.analysis.rank_input(), id)?;
                            rank.insert(id, ri.as_slice()).map_err(|e| self.err(e))?;
                        }
                        (id, applied)
                    }
                    Write::Delete(id) => {
                        analyses.remove(id.as_str()).map_err(|e| self.err(e))?;
                        rank.remove(id.as_str()).map_err(|e| self.err(e))?;
                        vectors.remove(id.as_str()).map_err(|e| self.err(e))?;
                        let old = articles.remove(id.as_str()).map_err(|e| self.err(e))?;
                        (id.as_str(), if old.is_some() { Applied::Deleted } else { Applied::Missing })
                    }
                };
                if matches!(applied, Applied::Inserted | Applied::Updated | Applied::Deleted) {
                    log.record(id).map_err(|e| self.err(e))?;
                }
                out.push(applied);
            }
            log.close().map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(out)
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
    /// skipped) and logs each as a change, in one transaction. Returns how
    /// many were stored.
    pub fn put_vectors(&self, items: &[(String, Vec<f32>)]) -> Result<usize> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut stored = 0;
        {
            let articles = txn.open_table(ARTICLES).map_err(|e| self.err(e))?;
            let mut vectors = txn.open_table(VECTORS).map_err(|e| self.err(e))?;
            let mut log = ChangeLog::open(&txn).map_err(|e| self.err(e))?;
            for (id, v) in items {
                if articles.get(id.as_str()).map_err(|e| self.err(e))?.is_none() {
                    continue;
                }
                vectors.insert(id.as_str(), vector_bytes(v).as_slice()).map_err(|e| self.err(e))?;
                log.record(id).map_err(|e| self.err(e))?;
                stored += 1;
            }
            log.close().map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(stored)
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

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db { path: path.to_path_buf(), source: Box::new(e.into()) }
}

/// The change log inside one write transaction: every write path that
/// changes an article (or its vector) records the id here, so that derived
/// indexes see it.
struct ChangeLog<'t> {
    changes: redb::Table<'t, u64, &'static str>,
    id_seq: redb::Table<'t, &'static str, u64>,
    meta: redb::Table<'t, &'static str, u64>,
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
