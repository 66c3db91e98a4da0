//! The engine: store + derived index, the write path, and the query entry points.

use std::path::Path;
use std::sync::{Arc, RwLock};

use readnext_analysis::analyze;
use readnext_core::{Analysis, Article, FastMap, Pick, Rules, fnv1a64};
use readnext_index::{BmIndex, IndexDoc, Vocab};
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

/// An article to recommend for: stored (with an id) or brand new.
#[derive(Debug, Clone)]
pub struct Query {
    /// The id when the article is stored; it is then excluded from its own block.
    pub id: Option<String>,
    /// Headline.
    pub title: String,
    /// Its analysis (with the publication time that recency reads).
    pub analysis: Analysis,
}

impl Query {
    /// Analyses an article that need not be stored.
    pub fn from_article(article: &Article, stored: bool) -> Result<Query> {
        Ok(Query { id: stored.then(|| article.id.clone()), title: article.title.clone(), analysis: analyze(article)? })
    }

    /// A stored record as a query.
    pub fn from_record(r: &Record) -> Query {
        Query { id: Some(r.article.id.clone()), title: r.article.title.clone(), analysis: r.analysis.clone() }
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
        let engine = Engine {
            store,
            index,
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
        if self.index.applied_seq()? == before {
            // The index is current: index the records in hand instead of
            // reading them back from the store.
            let mut docs = Vec::new();
            let mut deletes = Vec::new();
            for (w, a) in writes.iter().zip(&applied) {
                match (w, a) {
                    (Write::Upsert(r), Applied::Inserted | Applied::Updated) => docs.push(index_doc(r)),
                    (Write::Delete(id), Applied::Deleted) => deletes.push(id.as_str()),
                    _ => {}
                }
            }
            if !docs.is_empty() || !deletes.is_empty() {
                self.index.apply(&docs, &deletes, self.store.last_seq()?, commit)?;
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
        let changes = self.store.changes_since(from)?;
        for chunk in changes.chunks(SYNC_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|c| c.id.as_str()).collect();
            let records = self.store.get_many(&ids)?;
            let mut deletes = Vec::new();
            let mut docs = Vec::new();
            for (id, rec) in ids.iter().zip(&records) {
                match rec {
                    Some(r) => docs.push(index_doc(r)),
                    None => deletes.push(*id),
                }
            }
            let seq = chunk.last().map_or(from, |c| c.seq);
            self.index.apply(&docs, &deletes, seq, commit)?;
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
        self.sync_index()?;
        self.index.finish()?;
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
        // The rank input is written in the same transaction as the analysis,
        // so an id without one is not stored (deleted since it was retrieved).
        for (&i, r) in missing.iter().zip(self.store.rank_inputs(&missing_ids)?) {
            if let Some(r) = r {
                let f = Arc::new(Features::of(r, stats));
                self.features.put(ids[i].clone(), f.clone());
                out[i] = Some(f);
            }
        }
        Ok(out)
    }

    /// The query for a stored article.
    pub fn query_for_id(&self, id: &str) -> Result<Query> {
        let rec = self.store.get(id)?.ok_or_else(|| RecommendError::NotFound(id.to_string()))?;
        Ok(Query::from_record(&rec))
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
    pub fn similarity(
        &self,
        a: (&Analysis, Option<&str>),
        b: (&Analysis, Option<&str>),
        opts: &RelatedOptions,
    ) -> Result<f32> {
        let stats = self.stats()?;
        let (fa, fb) = (Features::new(a.0, &stats, true), Features::new(b.0, &stats, true));
        let ab = rank::directed_relevance(self, &stats, &fa, a.1, &fb, opts)?;
        let ba = rank::directed_relevance(self, &stats, &fb, b.1, &fa, opts)?;
        Ok((ab + ba) / 2.0)
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
