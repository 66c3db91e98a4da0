//! The engine: store + derived index, the write path, and the query entry points.

use std::path::Path;
use std::sync::{Arc, RwLock};

use readnext_analysis::analyze;
use readnext_core::{Analysis, Article, FastMap, Pick, Rules, fnv1a64};
use readnext_embed::{DIM, Encoder, article_text};
use readnext_index::{BmIndex, DenseDoc, DenseIndex, IndexDoc, Vocab};
use readnext_store::{Applied, Record, Store, Write};

use crate::RecommendError;
use crate::features::{FeatureCache, Features};
use crate::options::RelatedOptions;
use crate::rank;
use crate::vectors::CorpusStats;

type Result<T> = std::result::Result<T, RecommendError>;

/// Blocks kept in the cache before it starts over.
const BLOCK_CACHE_ENTRIES: usize = 50_000;

/// How many changes the index takes per commit when catching up.
const SYNC_CHUNK: usize = 2000;

/// Texts embedded per call when filling in vectors (one progress step).
const EMBED_CHUNK: usize = 64;

/// An article to recommend for: stored (with an id) or brand new.
#[derive(Debug, Clone)]
pub struct Query {
    /// The id when the article is stored; it is then excluded from its own block.
    pub id: Option<String>,
    /// Headline.
    pub title: String,
    /// Its analysis (with the publication time that recency reads).
    pub analysis: Analysis,
    /// Its sentence embedding, when known. A stored query without one
    /// takes the stored vector.
    pub vector: Option<Vec<f32>>,
}

impl Query {
    /// Analyses an article that need not be stored.
    pub fn from_article(article: &Article, stored: bool) -> Result<Query> {
        Ok(Query {
            id: stored.then(|| article.id.clone()),
            title: article.title.clone(),
            analysis: analyze(article)?,
            vector: None,
        })
    }

    /// A stored record as a query.
    pub fn from_record(r: &Record) -> Query {
        Query {
            id: Some(r.article.id.clone()),
            title: r.article.title.clone(),
            analysis: r.analysis.clone(),
            vector: r.vector.clone(),
        }
    }
}

/// What one batch of writes did.
#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    /// Per write, in order.
    pub applied: Vec<Applied>,
}

/// The engine. Open one per store folder.
pub struct Engine {
    store: Store,
    index: BmIndex,
    dense: DenseIndex,
    encoder: Option<Arc<Encoder>>,
    stats: RwLock<Option<Arc<CorpusStats>>>,
    features: FeatureCache,
    rules: RwLock<Option<Arc<Rules>>>,
    /// Blocks of stored articles, by id and options; emptied by any write.
    blocks: RwLock<FastMap<String, Vec<Pick>>>,
}

impl Engine {
    /// Opens the store in `dir` and its index in `dir/index`, and brings the
    /// index up to date with the store (after a crash, for instance).
    pub fn open(dir: &Path) -> Result<Engine> {
        let store = Store::open(dir)?;
        let index = BmIndex::open(&dir.join("index"))?;
        let dense = DenseIndex::open(&dir.join("dense"), DIM)?;
        let engine = Engine {
            store,
            index,
            dense,
            encoder: None,
            stats: RwLock::new(None),
            features: FeatureCache::default(),
            rules: RwLock::new(None),
            blocks: RwLock::new(FastMap::default()),
        };
        engine.sync_index()?;
        Ok(engine)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The index.
    pub fn index(&self) -> &BmIndex {
        &self.index
    }

    /// The dense (embedding) index.
    pub fn dense(&self) -> &DenseIndex {
        &self.dense
    }

    /// Uses `encoder` to embed brand-new queries and the articles written
    /// through [`Engine::embed_records`]. Without one, retrieval is lexical
    /// (stored vectors still serve stored queries).
    pub fn with_encoder(mut self, encoder: Arc<Encoder>) -> Engine {
        self.encoder = Some(encoder);
        self
    }

    /// The encoder, when one is loaded.
    pub fn encoder(&self) -> Option<&Arc<Encoder>> {
        self.encoder.as_ref()
    }

    /// The embedding of a text, when an encoder is loaded.
    pub fn embed_text(&self, text: &str) -> Result<Option<Vec<f32>>> {
        match &self.encoder {
            Some(e) => Ok(e.embed(&[text])?.pop()),
            None => Ok(None),
        }
    }

    /// The query for an article that need not be stored: its analysis and,
    /// when an encoder is loaded, its embedding.
    pub fn query_for_article(&self, article: &Article, stored: bool) -> Result<Query> {
        let mut q = Query::from_article(article, stored)?;
        q.vector = self.embed_text(&article_text(article))?;
        Ok(q)
    }

    /// Fills in the vector of each record that has none, in batches, calling
    /// `progress` with the number embedded after each batch. A record whose
    /// stored article is identical and already has a vector is skipped: the
    /// write keeps the stored vector. Returns how many were embedded (0
    /// without an encoder).
    pub fn embed_records(&self, records: &mut [Record], progress: &dyn Fn(usize)) -> Result<usize> {
        let Some(enc) = &self.encoder else { return Ok(0) };
        let ids: Vec<&str> = records.iter().map(|r| r.article.id.as_str()).collect();
        let stored_vectors = self.store.vectors(&ids)?;
        let with_vector: Vec<&str> =
            ids.iter().zip(&stored_vectors).filter(|(_, v)| v.is_some()).map(|(id, _)| *id).collect();
        let stored = self.store.get_many(&with_vector)?;
        let incoming: std::collections::HashMap<&str, &Article> =
            records.iter().map(|r| (r.article.id.as_str(), &r.article)).collect();
        let unchanged: std::collections::HashSet<&str> = with_vector
            .iter()
            .zip(&stored)
            .filter(|(id, s)| s.as_ref().is_some_and(|s| incoming.get(**id).is_some_and(|a| **a == s.article)))
            .map(|(id, _)| *id)
            .collect();
        let todo: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].vector.is_none() && !unchanged.contains(records[i].article.id.as_str()))
            .collect();
        let mut done = 0;
        for chunk in todo.chunks(EMBED_CHUNK) {
            let texts: Vec<String> = chunk.iter().map(|&i| article_text(&records[i].article)).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            for (&i, v) in chunk.iter().zip(enc.embed(&refs)?) {
                records[i].vector = Some(v);
            }
            done += chunk.len();
            progress(chunk.len());
        }
        Ok(done)
    }

    /// Embeds every stored article that has no vector (stored before the
    /// model was installed), calling `progress` after each batch, and brings
    /// the indexes up to date. Returns how many were embedded.
    pub fn embed_missing(&self, progress: &dyn Fn(usize)) -> Result<usize> {
        let Some(enc) = &self.encoder else { return Ok(0) };
        let mut after: Option<String> = None;
        let mut done = 0;
        loop {
            let (ids, last) = self.store.ids_without_vector(after.as_deref(), 4096)?;
            for chunk in ids.chunks(EMBED_CHUNK) {
                let records = self.store.get_many(chunk)?;
                let (ids, texts): (Vec<String>, Vec<String>) =
                    records.iter().flatten().map(|r| (r.article.id.clone(), article_text(&r.article))).unzip();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let items: Vec<(String, Vec<f32>)> = ids.into_iter().zip(enc.embed(&refs)?).collect();
                done += self.store.put_vectors(&items)?;
                progress(chunk.len());
            }
            match last {
                Some(l) => after = Some(l),
                None => break,
            }
        }
        self.sync(true)?;
        self.dense.save()?;
        Ok(done)
    }

    /// The write path: applies writes to the store in one transaction, then
    /// brings the index up to date and commits it. Articles are durable once
    /// this returns, whatever happens to the index afterwards.
    pub fn write(&self, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(writes, true)
    }

    /// [`Engine::write`] for bulk loads: the index is updated but commits only
    /// in [`Engine::finish`] (or the next committing write), so queries in
    /// between do not see the new articles. The store is durable as usual; a
    /// crash before the commit is repaired by the next [`Engine::open`].
    pub fn write_bulk(&self, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(writes, false)
    }

    fn write_with(&self, writes: &[Write], commit: bool) -> Result<IngestOutcome> {
        let before = self.store.last_seq()?;
        let applied = self.store.apply_batch(writes)?;
        let dense_current = self.dense.applied_seq() == before;
        if self.index.applied_seq()? == before && dense_current {
            // The index is current: index the records in hand instead of
            // reading them back from the store.
            let mut batch = IndexBatch::default();
            for (w, a) in writes.iter().zip(&applied) {
                match (w, a) {
                    (Write::Upsert(r), Applied::Inserted | Applied::Updated) => batch.upsert(r),
                    (Write::Delete(id), Applied::Deleted) => batch.delete(id),
                    _ => {}
                }
            }
            if !batch.docs.is_empty() || !batch.deletes.is_empty() {
                let seq = self.store.last_seq()?;
                self.index.apply(&batch.docs, &batch.deletes, seq, commit)?;
                self.dense.apply(&batch.dense_docs, &batch.dense_removes, seq)?;
                self.invalidate();
            }
        } else {
            self.sync(commit)?;
        }
        Ok(IngestOutcome { applied })
    }

    /// Applies to the index every change the store has that the index has
    /// not seen, and commits. Returns how many changes were applied.
    pub fn sync_index(&self) -> Result<usize> {
        self.sync(true)
    }

    fn sync(&self, commit: bool) -> Result<usize> {
        let from = self.index.applied_seq()?;
        let dense_from = self.dense.applied_seq();
        // Both indexes catch up in one pass from the older of the two;
        // replaying a change an index already has is harmless.
        let changes = self.store.changes_since(from.min(dense_from))?;
        for chunk in changes.chunks(SYNC_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|c| c.id.as_str()).collect();
            let mut records = self.store.get_many(&ids)?;
            for (r, v) in records.iter_mut().zip(self.store.vectors(&ids)?) {
                if let Some(r) = r {
                    r.vector = v;
                }
            }
            let mut batch = IndexBatch::default();
            for (id, rec) in ids.iter().zip(&records) {
                match rec {
                    Some(r) => batch.upsert(r),
                    None => batch.delete(id),
                }
            }
            let seq = chunk.last().map_or(from, |c| c.seq);
            if seq > from {
                self.index.apply(&batch.docs, &batch.deletes, seq, commit)?;
            }
            if seq > dense_from {
                self.dense.apply(&batch.dense_docs, &batch.dense_removes, seq)?;
            }
        }
        if !changes.is_empty() {
            self.invalidate();
        }
        Ok(changes.len())
    }

    /// Drops what was derived from the old corpus (statistics, features).
    fn invalidate(&self) {
        *self.stats.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.features.clear();
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Rebuilds the index from the store. Returns the number of articles indexed.
    pub fn reindex(&self) -> Result<u64> {
        self.index.clear()?;
        self.dense.clear()?;
        self.sync_index()?;
        self.index.finish()?;
        self.dense.save()?;
        Ok(self.index.num_docs())
    }

    /// Reclaims the store's free pages (after a large ingest).
    pub fn compact(&mut self) -> Result<bool> {
        Ok(self.store.compact()?)
    }

    /// Commits the index and waits for its maintenance; call before exiting.
    /// What was derived while bulk writes were uncommitted (statistics,
    /// cached blocks) is dropped: it did not see them.
    pub fn finish(&self) -> Result<()> {
        self.index.finish()?;
        self.dense.save()?;
        self.invalidate();
        Ok(())
    }

    /// Corpus statistics (document frequencies), computed once per index change.
    pub fn stats(&self) -> Result<Arc<CorpusStats>> {
        if let Some(s) = self.stats.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(s.clone());
        }
        let stats = Arc::new(CorpusStats {
            docs: self.index.num_docs(),
            term_df: self.index.doc_freqs(Vocab::Terms)?.into_iter().map(|(k, v)| (fnv1a64(k.as_bytes()), v)).collect(),
            entity_df: self
                .index
                .doc_freqs(Vocab::Entities)?
                .into_iter()
                .map(|(k, v)| (fnv1a64(k.as_bytes()), v))
                .collect(),
        });
        *self.stats.write().unwrap_or_else(|p| p.into_inner()) = Some(stats.clone());
        Ok(stats)
    }

    /// Ranking features of stored articles, from the cache or built from
    /// their stored analyses. `None` for ids that are not stored.
    pub(crate) fn features(&self, ids: &[String], stats: &CorpusStats) -> Result<Vec<Option<Arc<Features>>>> {
        let mut out: Vec<Option<Arc<Features>>> = ids.iter().map(|id| self.features.get(id)).collect();
        let missing: Vec<usize> = (0..ids.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let missing_ids: Vec<&str> = missing.iter().map(|&i| ids[i].as_str()).collect();
        let vectors = self.store.vectors(&missing_ids)?;
        // The rank input is written in the same transaction as the analysis,
        // so an id without one is not stored (deleted since it was retrieved).
        for ((&i, r), v) in missing.iter().zip(self.store.rank_inputs(&missing_ids)?).zip(vectors) {
            if let Some(r) = r {
                let f = Arc::new(Features { dense: v, ..Features::of(r, stats) });
                self.features.put(ids[i].clone(), f.clone());
                out[i] = Some(f);
            }
        }
        Ok(out)
    }

    /// The query for a stored article (with its stored vector).
    pub fn query_for_id(&self, id: &str) -> Result<Query> {
        let rec = self.store.get(id)?.ok_or_else(|| RecommendError::NotFound(id.to_string()))?;
        let mut q = Query::from_record(&rec);
        q.vector = self.store.vectors(&[id])?.pop().flatten();
        Ok(q)
    }

    /// The query's vector: its own, else the stored one of its id.
    pub(crate) fn query_vector(&self, q: &Query) -> Result<Option<Vec<f32>>> {
        match (&q.vector, &q.id) {
            (Some(v), _) => Ok(Some(v.clone())),
            (None, Some(id)) => Ok(self.store.vectors(&[id])?.pop().flatten()),
            (None, None) => Ok(None),
        }
    }

    /// The related block of an article: up to `opts.k` picks, best first,
    /// with the editorial rules applied (blocked articles never appear;
    /// pinned ones come first).
    pub fn related(&self, query: &Query, opts: &RelatedOptions) -> Result<Vec<Pick>> {
        // A stored article's block changes only when the store or the rules
        // do: serve it from the cache until then. Brand-new pages are not
        // cached (their text is the key).
        let key = query.id.as_ref().map(|id| format!("{id}\u{0}{opts:?}"));
        if let Some(k) = &key
            && let Some(hit) = self.blocks.read().unwrap_or_else(|p| p.into_inner()).get(k)
        {
            return Ok(hit.clone());
        }
        let picks = self.related_uncached(query, opts)?;
        if let Some(k) = key {
            let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= BLOCK_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(k, picks.clone());
        }
        Ok(picks)
    }

    fn related_uncached(&self, query: &Query, opts: &RelatedOptions) -> Result<Vec<Pick>> {
        let stats = self.stats()?;
        let rules = self.rules()?;
        let picks = rank::related(self, &stats, query, opts, &rules.blocked)?;
        match &query.id {
            Some(owner) if !rules.pins_of(owner).is_empty() => {
                crate::personal::with_pins(self, picks, rules.pins_of(owner), owner, opts.k)
            }
            _ => Ok(picks),
        }
    }

    /// The editorial rules (cached until they change).
    pub fn rules(&self) -> Result<Arc<Rules>> {
        if let Some(r) = self.rules.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(r.clone());
        }
        let r = Arc::new(self.store.rules()?);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Some(r.clone());
        Ok(r)
    }

    /// Changes the editorial rules; every block made afterwards follows them.
    pub fn update_rules(&self, f: impl FnOnce(&mut Rules)) -> Result<Arc<Rules>> {
        let r = Arc::new(self.store.update_rules(f)?);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Some(r.clone());
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(r)
    }

    /// The pairwise relevance of two articles: the score that ranks related
    /// picks (fusion and feedback, before recency and diversity), averaged
    /// over both directions. Ids, when given, are kept out of each other's
    /// feedback as a query is kept out of its own block.
    pub fn similarity(&self, a: &Query, b: &Query, opts: &RelatedOptions) -> Result<f32> {
        let stats = self.stats()?;
        let fa = Features { dense: self.query_vector(a)?, ..Features::new(&a.analysis, &stats, true) };
        let fb = Features { dense: self.query_vector(b)?, ..Features::new(&b.analysis, &stats, true) };
        let ab = rank::directed_relevance(self, &stats, &fa, a.id.as_deref(), &fb, opts)?;
        let ba = rank::directed_relevance(self, &stats, &fb, b.id.as_deref(), &fa, opts)?;
        Ok((ab + ba) / 2.0)
    }
}

/// One batch of changes for both derived indexes, from the write path or
/// from catching up with the store.
#[derive(Default)]
struct IndexBatch<'a> {
    docs: Vec<IndexDoc<'a>>,
    deletes: Vec<&'a str>,
    dense_docs: Vec<DenseDoc<'a>>,
    dense_removes: Vec<&'a str>,
}

impl<'a> IndexBatch<'a> {
    fn upsert(&mut self, r: &'a Record) {
        self.docs.push(index_doc(r));
        // A changed article without a new vector lost its stored one (see
        // `Record::vector`).
        match dense_doc(r) {
            Some(d) => self.dense_docs.push(d),
            None => self.dense_removes.push(&r.article.id),
        }
    }

    fn delete(&mut self, id: &'a str) {
        self.deletes.push(id);
        self.dense_removes.push(id);
    }
}

/// What the dense index keeps of a record; `None` without a vector.
fn dense_doc(r: &Record) -> Option<DenseDoc<'_>> {
    Some(DenseDoc {
        id: &r.article.id,
        vector: r.vector.as_deref()?,
        lang: &r.analysis.lang,
        section: r.article.section.as_deref(),
        published: r.article.published,
    })
}

impl Drop for Engine {
    /// Saves the dense index, so that the next start need not replay the
    /// store's changes into it (it would, correctly, if this fails).
    fn drop(&mut self) {
        if let Err(e) = self.dense.save() {
            tracing::warn!("could not save the dense index: {e}");
        }
    }
}

/// What the index keeps of a record.
fn index_doc(r: &Record) -> IndexDoc<'_> {
    IndexDoc {
        id: &r.article.id,
        terms: r.analysis.terms.iter().map(|t| (t.stem.as_str(), t.tf)).collect(),
        entities: r.analysis.entities.iter().map(|e| (e.match_key().to_string(), e.count)).collect(),
        published: r.article.published,
        lang: &r.analysis.lang,
        section: r.article.section.as_deref(),
    }
}
