//! Derived indexes: a tantivy BM25 index over the analysed stems and entity
//! keys of every stored article, and an HNSW index over their sentence
//! embeddings ([`DenseIndex`]).
//!
//! Nothing here is a source of truth. The index records, in its commit
//! payload, the store sequence number it reflects; [`BmIndex::applied_seq`]
//! tells how far behind the store it is, and deleting the folder and
//! replaying the store rebuilds it (`readnext reindex`).
#![warn(missing_docs)]

mod dense;

pub use dense::{DenseDoc, DenseIndex};

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

/// Errors of the index crate.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed.
    #[error("index {path}: {source} (rebuild it with `readnext reindex`)")]
    Tantivy {
        /// The index folder.
        path: PathBuf,
        /// The cause.
        source: tantivy::TantivyError,
    },
    /// The dense index failed.
    #[error("dense index {path}: {reason} (rebuild it with `readnext reindex`)")]
    Dense {
        /// The index folder.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A search of the dense index failed. The index itself is not at
    /// fault (a rebuild would not help), so this names no remedy.
    #[error("dense index {path}: search failed: {reason}")]
    DenseSearch {
        /// The index folder.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The index folder could not be created or read.
    #[error("index folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, IndexError>;

/// Stems repeat at most this often in the indexed text: past it, more
/// occurrences say nothing BM25's saturation would not already say.
const MAX_TF: u32 = 64;
const WRITER_HEAP: usize = 64 * 1024 * 1024;
/// Segments below this many documents are one merge level. tantivy's
/// default (10,000) puts a live server's one-article segments in the level
/// of the corpus's main segment, so every eighth commit rewrote the whole
/// index (a fifth of the CPU at 5 articles a second on 13k articles); at
/// 100, small segments merge among themselves and a segment is rewritten
/// about once per eightfold growth.
const MIN_MERGE_LAYER_DOCS: u32 = 100;

/// What the index needs of one article.
#[derive(Debug, Clone, Default)]
pub struct IndexDoc<'a> {
    /// Article id.
    pub id: &'a str,
    /// Stems with their counts.
    pub terms: Vec<(&'a str, u32)>,
    /// Entity match keys with mention counts.
    pub entities: Vec<(String, u32)>,
    /// Publication time (Unix seconds).
    pub published: Option<i64>,
    /// Language code.
    pub lang: &'a str,
    /// Section, when known.
    pub section: Option<&'a str>,
}

/// Which vocabulary of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    /// Stems.
    Terms,
    /// Entity match keys.
    Entities,
}

/// Restrictions on a search.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this language.
    pub lang: Option<String>,
    /// Only articles published at or after this time.
    pub since: Option<i64>,
    /// Only articles published at or before this time.
    pub until: Option<i64>,
    /// Only this section.
    pub section: Option<String>,
}

impl Filter {
    /// Whether it restricts nothing. Every field is named, so a new
    /// restriction cannot be forgotten here.
    pub fn is_empty(&self) -> bool {
        let Filter { lang, since, until, section } = self;
        lang.is_none() && since.is_none() && until.is_none() && section.is_none()
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    terms: Field,
    entities: Field,
    published: Field,
    lang: Field,
    section: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Stems arrive analysed: split on white space only, keep frequencies for
    // BM25, skip positions (no phrase queries) to keep the index small.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        terms: b.add_text_field("terms", text.clone()),
        entities: b.add_text_field("entities", text),
        published: b.add_i64_field("published", INDEXED | FAST),
        lang: b.add_text_field("lang", STRING),
        section: b.add_text_field("section", STRING),
    };
    (b.build(), fields)
}

/// The BM25 index.
pub struct BmIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    /// The store sequence of documents added but not yet committed (bulk
    /// writes commit once at the end; see [`BmIndex::apply`]).
    pending: Mutex<Option<u64>>,
    fields: Fields,
    dir: PathBuf,
}

impl BmIndex {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> Result<BmIndex> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })?;
        let (schema, fields) = schema();
        let t = |source| IndexError::Tantivy { path: dir.to_path_buf(), source };
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| t(e.into()))?;
        let index = Index::open_or_create(mmap, schema).map_err(t)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(t)?;
        Ok(BmIndex {
            index,
            reader,
            writer: Mutex::new(None),
            pending: Mutex::new(None),
            fields,
            dir: dir.to_path_buf(),
        })
    }

    fn t(&self, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy { path: self.dir.clone(), source }
    }

    /// The writer, opened on first use (opening takes tantivy's lock on the
    /// folder, which readers of a store do not need).
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let writer: IndexWriter = self.index.writer(WRITER_HEAP).map_err(|e| self.t(e))?;
            let mut policy = tantivy::indexer::LogMergePolicy::default();
            policy.set_min_layer_size(MIN_MERGE_LAYER_DOCS);
            writer.set_merge_policy(Box::new(policy));
            *guard = Some(writer);
        }
        Ok(guard)
    }

    /// The store sequence number this index reflects (0 for a new index),
    /// counting documents added but not yet committed.
    pub fn applied_seq(&self) -> Result<u64> {
        if let Some(seq) = *self.pending.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(seq);
        }
        self.committed_seq()
    }

    /// The store sequence number of the last commit (what a restart sees).
    pub fn committed_seq(&self) -> Result<u64> {
        let metas = self.index.load_metas().map_err(|e| self.t(e))?;
        Ok(metas.payload.and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// Replaces the documents of `upserts`, removes `deletes`, and records
    /// `seq` as applied. With `commit`, readers see the change when this
    /// returns; without, it waits for [`BmIndex::commit`] (bulk loads commit
    /// once: every commit seals a segment that merges must later rewrite).
    /// An uncommitted change lost in a crash is replayed from the store,
    /// because the committed sequence number is still the older one.
    pub fn apply(&self, upserts: &[IndexDoc<'_>], deletes: &[&str], seq: u64, commit: bool) -> Result<()> {
        let mut guard = self.writer()?;
        let Some(writer) = guard.as_mut() else { return Ok(()) };
        let f = self.fields;
        for id in deletes {
            writer.delete_term(Term::from_field_text(f.id, id));
        }
        for d in upserts {
            writer.delete_term(Term::from_field_text(f.id, d.id));
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, d.id);
            doc.add_text(f.terms, repeat(d.terms.iter().map(|(s, n)| (*s, *n))));
            doc.add_text(f.entities, repeat(d.entities.iter().map(|(s, n)| (s.as_str(), *n))));
            if let Some(p) = d.published {
                doc.add_i64(f.published, p);
            }
            doc.add_text(f.lang, d.lang);
            if let Some(s) = d.section {
                doc.add_text(f.section, s);
            }
            writer.add_document(doc).map_err(|e| self.t(e))?;
        }
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(seq);
        if commit {
            self.commit_locked(writer)?;
        }
        Ok(())
    }

    /// Commits what [`BmIndex::apply`] added without committing.
    pub fn commit(&self) -> Result<()> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(w) => self.commit_locked(w),
            None => Ok(()),
        }
    }

    fn commit_locked(&self, writer: &mut IndexWriter) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(seq) = *pending else { return Ok(()) };
        let mut prepared = writer.prepare_commit().map_err(|e| self.t(e))?;
        prepared.set_payload(&seq.to_string());
        prepared.commit().map_err(|e| self.t(e))?;
        *pending = None;
        self.reader.reload().map_err(|e| self.t(e))?;
        Ok(())
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&self) -> Result<()> {
        let mut guard = self.writer()?;
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(w) = guard.as_mut() {
            w.delete_all_documents().map_err(|e| self.t(e))?;
            let mut prepared = w.prepare_commit().map_err(|e| self.t(e))?;
            prepared.set_payload("0");
            prepared.commit().map_err(|e| self.t(e))?;
        }
        self.reader.reload().map_err(|e| self.t(e))?;
        Ok(())
    }

    /// Waits for background merges to finish (call before exiting after a
    /// large ingest, so the next start opens few segments).
    pub fn finish(&self) -> Result<()> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = guard.as_mut() {
            self.commit_locked(w)?;
        }
        if let Some(w) = guard.take() {
            w.wait_merging_threads().map_err(|e| self.t(e))?;
        }
        Ok(())
    }

    /// BM25 search over stems: each `(stem, boost)` is a SHOULD clause
    /// weighted by its boost, as Lucene's "more like this" builds its query.
    pub fn search_terms(
        &self,
        terms: &[(String, f32)],
        k: usize,
        filter: &Filter,
        exclude: Option<&str>,
    ) -> Result<Vec<(String, f32)>> {
        self.search(self.fields.terms, terms, k, filter, exclude)
    }

    /// BM25 search over entity keys.
    pub fn search_entities(
        &self,
        keys: &[(String, f32)],
        k: usize,
        filter: &Filter,
        exclude: Option<&str>,
    ) -> Result<Vec<(String, f32)>> {
        self.search(self.fields.entities, keys, k, filter, exclude)
    }

    fn search(
        &self,
        field: Field,
        terms: &[(String, f32)],
        k: usize,
        filter: &Filter,
        exclude: Option<&str>,
    ) -> Result<Vec<(String, f32)>> {
        if terms.is_empty() || k == 0 {
            return Ok(vec![]);
        }
        let should: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|(t, boost)| {
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::WithFreqs));
                (Occur::Should, Box::new(BoostQuery::new(q, *boost)) as Box<dyn Query>)
            })
            .collect();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        clauses.extend(self.filter_clauses(filter, exclude));
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        // Equal scores (wire copies score alike) come from tantivy in
        // document-address order, which depends on how this index's
        // segments formed. A few more hits are read and ties are broken by
        // id, so that two indexes of the same articles (two nodes of a
        // cluster, or one store rebuilt) give the same candidates, unless
        // a tie spans the margin too.
        let margin = k / 4 + 8;
        let limit = k.saturating_add(margin);
        let hits = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score()).map_err(|e| self.t(e))?;
        let mut out = Vec::with_capacity(hits.len());
        for (score, addr) in hits {
            if let Some(id) = self.stored_id(&searcher, addr)? {
                out.push((id, score));
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(k);
        Ok(out)
    }

    /// The `k` most recently published articles that pass `filter`, newest
    /// first, with their publication time (seconds since the epoch).
    /// Articles without a date are left out.
    pub fn latest(&self, k: usize, filter: &Filter) -> Result<Vec<(String, i64)>> {
        if k == 0 {
            return Ok(vec![]);
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(RangeQuery::new(Bound::Included(Term::from_field_i64(f.published, i64::MIN)), Bound::Unbounded)),
        )];
        clauses.extend(self.filter_clauses(filter, None));
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(k).order_by_fast_field::<i64>("published", tantivy::Order::Desc);
        let hits = searcher.search(&BooleanQuery::new(clauses), &top).map_err(|e| self.t(e))?;
        let mut out = Vec::with_capacity(hits.len());
        for (published, addr) in hits {
            if let (Some(id), Some(p)) = (self.stored_id(&searcher, addr)?, published) {
                out.push((id, p));
            }
        }
        Ok(out)
    }

    /// The article id stored with a hit.
    fn stored_id(&self, searcher: &Searcher, addr: DocAddress) -> Result<Option<String>> {
        let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.t(e))?;
        Ok(doc.get_first(self.fields.id).and_then(|v| v.as_str()).map(str::to_string))
    }

    /// The MUST and MUST NOT clauses a filter and an excluded id add to a query.
    fn filter_clauses(&self, filter: &Filter, exclude: Option<&str>) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(lang) = &filter.lang {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.lang, lang), IndexRecordOption::Basic)),
            ));
        }
        if let Some(section) = &filter.section {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.section, section), IndexRecordOption::Basic)),
            ));
        }
        if filter.since.is_some() || filter.until.is_some() {
            let bound =
                |t: Option<i64>| t.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_i64(f.published, t)));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(filter.since), bound(filter.until)))));
        }
        if let Some(id) = exclude {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(Term::from_field_text(f.id, id), IndexRecordOption::Basic)),
            ));
        }
        clauses
    }

    /// Number of live documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Document frequency of every stem, summed over segments (documents
    /// deleted but not yet merged away still count, as in any Lucene-style
    /// index).
    pub fn doc_freqs(&self, vocab: Vocab) -> Result<HashMap<String, u32>> {
        let field = match vocab {
            Vocab::Terms => self.fields.terms,
            Vocab::Entities => self.fields.entities,
        };
        let searcher = self.reader.searcher();
        let mut out: HashMap<String, u32> = HashMap::new();
        for seg in searcher.segment_readers() {
            let inv = seg.inverted_index(field).map_err(|e| self.t(e))?;
            let mut stream = inv.terms().stream().map_err(|e| self.t(e.into()))?;
            while stream.advance() {
                if let Ok(term) = std::str::from_utf8(stream.key()) {
                    *out.entry(term.to_string()).or_default() += stream.value().doc_freq;
                }
            }
        }
        Ok(out)
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `a a a b` for `[(a, 3), (b, 1)]`: tantivy counts term frequency from
/// repetitions, which is how weighted counts reach BM25.
fn repeat<'a>(items: impl Iterator<Item = (&'a str, u32)>) -> String {
    let mut s = String::new();
    for (t, n) in items {
        for _ in 0..n.clamp(1, MAX_TF) {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(t);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(id: &'a str, terms: &[(&'a str, u32)], lang: &'a str, published: i64) -> IndexDoc<'a> {
        IndexDoc {
            id,
            terms: terms.to_vec(),
            entities: vec![("mexico".into(), 1)],
            published: Some(published),
            lang,
            section: None,
        }
    }

    #[test]
    fn search_ranks_filters_excludes_and_tracks_seq() {
        let dir = tempfile::tempdir().unwrap();
        let idx = BmIndex::open(dir.path()).unwrap();
        assert_eq!(idx.applied_seq().unwrap(), 0);
        idx.apply(
            &[
                doc("a", &[("cartel", 5), ("tariff", 1)], "en", 100),
                doc("b", &[("cartel", 1), ("baseball", 4)], "en", 200),
                doc("c", &[("cartel", 3)], "es", 300),
            ],
            &[],
            7,
            false,
        )
        .unwrap();
        // Added, not committed: the sequence counts it, readers and a
        // restart do not see it yet.
        assert_eq!((idx.applied_seq().unwrap(), idx.committed_seq().unwrap(), idx.num_docs()), (7, 0, 0));
        idx.commit().unwrap();
        assert_eq!((idx.applied_seq().unwrap(), idx.committed_seq().unwrap(), idx.num_docs()), (7, 7, 3));
        let q = vec![("cartel".to_string(), 1.0), ("tariff".to_string(), 2.0)];
        let all = idx.search_terms(&q, 10, &Filter::default(), None).unwrap();
        assert_eq!(all.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["a", "c", "b"]);
        let en =
            idx.search_terms(&q, 10, &Filter { lang: Some("en".into()), ..Default::default() }, Some("a")).unwrap();
        assert_eq!(en.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["b"]);
        let recent = idx.search_terms(&q, 10, &Filter { since: Some(150), ..Default::default() }, None).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(idx.doc_freqs(Vocab::Terms).unwrap().get("cartel"), Some(&3));
        assert_eq!(idx.doc_freqs(Vocab::Entities).unwrap().get("mexico"), Some(&3));
        // Replace and delete.
        idx.apply(&[doc("a", &[("baseball", 1)], "en", 100)], &["c"], 9, true).unwrap();
        let hits = idx.search_terms(&q, 10, &Filter::default(), None).unwrap();
        assert_eq!(hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(idx.num_docs(), 2);
        let ents = idx.search_entities(&[("mexico".into(), 1.0)], 10, &Filter::default(), None).unwrap();
        assert_eq!(ents.len(), 2);
        idx.clear().unwrap();
        assert_eq!(idx.num_docs(), 0);
        assert_eq!(idx.applied_seq().unwrap(), 0);
    }

    #[test]
    fn latest_lists_the_newest_dated_articles_within_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let idx = BmIndex::open(dir.path()).unwrap();
        let undated = IndexDoc { published: None, ..doc("undated", &[("cartel", 1)], "en", 0) };
        idx.apply(
            &[
                doc("old", &[("cartel", 1)], "en", 100),
                doc("new", &[("tariff", 1)], "en", 300),
                doc("mid", &[("baseball", 1)], "es", 200),
                undated,
            ],
            &[],
            1,
            true,
        )
        .unwrap();
        let all = idx.latest(10, &Filter::default()).unwrap();
        assert_eq!(all, [("new".to_string(), 300), ("mid".to_string(), 200), ("old".to_string(), 100)]);
        assert_eq!(idx.latest(1, &Filter::default()).unwrap(), [("new".to_string(), 300)]);
        let en = idx.latest(10, &Filter { lang: Some("en".into()), ..Default::default() }).unwrap();
        assert_eq!(en.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["new", "old"]);
        let window = idx.latest(10, &Filter { since: Some(150), until: Some(250), ..Default::default() }).unwrap();
        assert_eq!(window, [("mid".to_string(), 200)]);
        assert!(idx.latest(0, &Filter::default()).unwrap().is_empty());
    }
}
