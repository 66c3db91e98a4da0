//! The engine: store + derived index, the write path, and the query entry points.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use readnext_analysis::analyze;
use readnext_core::{Analysis, Article, Event, FastMap, Permits, Pick, RankInput, Rules, TokenBucket};
use readnext_embed::{DIM, Encoder, article_text};
use readnext_index::{BmIndex, DenseDoc, DenseIndex, IndexDoc};
use readnext_store::{Applied, Record, Store, Write};

use crate::RecommendError;
use crate::blocks::{BlockCache, Entry, block_key};
use crate::features::{FeatureCache, Features};
use crate::live::{Counters, Groups};
use crate::options::RelatedOptions;
use crate::rank::{self, Gate};
use crate::stories::{StoryFeatures, StoryOptions};
use crate::story_index::{StoryIndex, StoryOp};
use crate::vectors::CorpusStats;

type Result<T> = std::result::Result<T, RecommendError>;

/// A written article's neighbours whose blocks it may enter: its this many
/// best-scored candidates. Those of their cached blocks whose gate it passes are
/// marked stale when it becomes searchable.
pub const NEIGHBOURS: usize = 24;

/// Deferred BM25 commits happen at most this often (ms).
pub const COMMIT_INTERVAL_MS: u64 = 200;

/// How a write reaches the BM25 index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Committed before the write returns.
    Commit,
    /// Committed by the next [`Engine::commit_pending`].
    Deferred,
    /// Committed by [`Engine::finish`]; every cached block is dropped.
    Bulk,
}

/// Past this many article upserts in one write, dropping every cached
/// block is cheaper than ranking each article for its neighbours.
const NEIGHBOUR_BATCH: usize = 64;

/// A token bucket with its rate and burst: `take` succeeds at most `rate`
/// times per second on average, and `burst` times at once.
struct Budget {
    /// The bucket, the rate and the burst.
    state: Mutex<(TokenBucket, f64, f64)>,
}

impl Budget {
    fn new(rate: f64, burst: f64) -> Budget {
        Budget { state: Mutex::new((TokenBucket::full(burst, std::time::Instant::now()), rate, burst)) }
    }

    /// Sets the rate and the burst (full at once).
    fn set(&self, rate: f64, burst: f64) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            (TokenBucket::full(burst, std::time::Instant::now()), rate, burst);
    }

    /// Takes a token if one is left.
    fn take(&self) -> bool {
        let (b, rate, burst) = &mut *self.state.lock().unwrap_or_else(|p| p.into_inner());
        b.take(*rate, *burst, std::time::Instant::now())
    }

    /// Whether a token is left (without taking it).
    fn has_room(&self) -> bool {
        let (b, rate, burst) = &mut *self.state.lock().unwrap_or_else(|p| p.into_inner());
        b.has_room(*rate, *burst, std::time::Instant::now())
    }
}

/// Events read per step when the counters are built on open.
const COUNTER_CHUNK: usize = 10_000;

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
    /// Whether its language was given (not detected): see
    /// [`readnext_core::RankInput::lang`].
    pub lang_given: bool,
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
            lang_given: article.lang_given(),
            vector: None,
        })
    }

    /// A stored record as a query.
    pub fn from_record(r: &Record) -> Query {
        Query {
            id: Some(r.article.id.clone()),
            title: r.article.title.clone(),
            analysis: r.analysis.clone(),
            lang_given: r.article.lang_given(),
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
    /// The corpus statistics, as the store keeps them, moved by every
    /// article write (readers hold a snapshot while they rank).
    stats: RwLock<Arc<CorpusStats>>,
    features: FeatureCache,
    /// The document count when the feature cache was last emptied.
    features_docs: AtomicU64,
    rules: RwLock<Option<Arc<Rules>>>,
    /// Blocks of stored articles, by owner and options; a write drops only
    /// the blocks it can change (see `after_article_writes`).
    blocks: RwLock<BlockCache>,
    /// Trending and popularity counters, moved by every event write.
    counters: RwLock<Counters>,
    /// Article and rule writes one at a time: the statistics are read
    /// before and after each, and the indexes take the writes in order.
    writer: Mutex<()>,
    /// Blocks computed at once on a read: one per core. Ranking is CPU
    /// work, so more at once only slows each and starves the cached reads
    /// and the writes that share the cores.
    computing: Permits,
    /// Whether the server's warmer finished its first pass.
    warm: std::sync::atomic::AtomicBool,
    /// Whether something calls [`Engine::refresh_stale`] (then reads serve
    /// stale blocks instead of recomputing them).
    refresher: std::sync::atomic::AtomicBool,
    /// Upserted ids whose neighbours' blocks are still to be marked stale
    /// (at the BM25 commit that makes them searchable).
    pending: Mutex<Vec<String>>,
    /// Whether deferred writes wait for a BM25 commit.
    dirty: std::sync::atomic::AtomicBool,
    /// Whether a deferred batch too large for neighbours waits for that
    /// commit (which then drops every block).
    clear_at_commit: std::sync::atomic::AtomicBool,
    /// Recomputations of drifted blocks left to the reads.
    drift_budget: Budget,
    last_commit: Mutex<std::time::Instant>,
    /// Whether bulk writes moved the store's statistics past the snapshot
    /// (read back in [`Engine::finish`]).
    stats_behind: std::sync::atomic::AtomicBool,
    /// The stories of the stored articles, built on first use and then
    /// moved by every article write (see `story_index`).
    stories: RwLock<Option<StoryIndex>>,
    /// While a build of the stories runs outside their lock: the changes
    /// since its snapshot, replayed on what it built. Taken before
    /// `stories` whenever both are.
    story_ops: Mutex<Option<Vec<StoryOp>>>,
    /// Held by the one build of the stories at a time.
    story_build: Mutex<()>,
    /// Whether something calls [`Engine::refresh_stories`] (then reads use
    /// the stories as they are instead of assigning them again).
    story_refresher: std::sync::atomic::AtomicBool,
    /// When the last assignment pass ended, and how long it took: the
    /// warmer's passes are spaced by [`STORY_PASS_SPACING`] times that.
    story_pass: Mutex<Option<(std::time::Instant, std::time::Duration)>>,
}

/// The warmer's assignment passes ([`Engine::refresh_stories_when_due`])
/// wait this many times the last pass's length after it, so that they take
/// at most a tenth of a core however fast articles arrive out of order (a
/// pass costs 0.6 s at 13k articles); articles written meanwhile hold
/// their provisional stories.
pub const STORY_PASS_SPACING: u32 = 9;

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
            stats: RwLock::new(Arc::new(CorpusStats::default())),
            features: FeatureCache::default(),
            features_docs: AtomicU64::new(0),
            rules: RwLock::new(None),
            blocks: RwLock::new(BlockCache::default()),
            counters: RwLock::new(Counters::default()),
            writer: Mutex::new(()),
            computing: Permits::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            warm: std::sync::atomic::AtomicBool::new(false),
            refresher: std::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            dirty: std::sync::atomic::AtomicBool::new(false),
            clear_at_commit: std::sync::atomic::AtomicBool::new(false),
            drift_budget: Budget::new(0.0, 0.0),
            last_commit: Mutex::new(std::time::Instant::now()),
            stats_behind: std::sync::atomic::AtomicBool::new(false),
            stories: RwLock::new(None),
            story_ops: Mutex::new(None),
            story_build: Mutex::new(()),
            story_refresher: std::sync::atomic::AtomicBool::new(false),
            story_pass: Mutex::new(None),
        };
        engine.load_stats()?;
        engine.sync_index()?;
        engine.load_counters(crate::now_ms())?;
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

    /// The write path, for every kind of [`Write`]: applies the writes to the
    /// store in one transaction (at the store's next positions), then moves
    /// what is derived from them: the statistics, the indexes (committed),
    /// the cached blocks they can change, the rules and the counters.
    /// Everything is durable once this returns, whatever happens to the
    /// indexes afterwards.
    pub fn write(&self, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(None, writes, Mode::Commit)
    }

    /// [`Engine::write`] with the BM25 commit deferred to the next
    /// [`Engine::commit_pending`] (the server's warmer calls it every
    /// [`COMMIT_INTERVAL_MS`]): the writes are durable in the store, in the
    /// HNSW index, and their own blocks and those that showed them are
    /// dropped when this returns; BM25 retrieval finds them, and the blocks
    /// they may enter are marked stale, at that commit. This is what keeps an
    /// acknowledgement to one transaction, as Elasticsearch's refresh
    /// interval does.
    pub fn write_deferred(&self, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(None, writes, Mode::Deferred)
    }

    /// Commits the BM25 index if deferred writes are waiting and the last
    /// commit is at least [`COMMIT_INTERVAL_MS`] old, then marks stale the
    /// blocks their articles may enter. Returns how many articles it
    /// committed.
    pub fn commit_pending(&self) -> Result<usize> {
        if !self.dirty.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let ids = {
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            {
                let last = self.last_commit.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() < std::time::Duration::from_millis(COMMIT_INTERVAL_MS) {
                    return Ok(0);
                }
            }
            self.index.commit()?;
            self.dirty.store(false, Ordering::Relaxed);
            *self.last_commit.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
            let ids = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            if self.after_commit(&ids) {
                return Ok(ids.len());
            }
            ids
        };
        // Ranking the neighbours needs no writer: the next article write
        // need not wait for it.
        self.mark_neighbours_stale(&ids)?;
        Ok(ids.len())
    }

    /// Marks stale the cached blocks that the articles `ids` (upserted and
    /// now searchable) may enter: of each article's [`NEIGHBOURS`] nearest
    /// ([`rank::nearest`]), those whose gate it passes
    /// ([`rank::would_enter`]: it scores above what the block's diversity
    /// pool or feedback documents hold). The others keep their blocks: the
    /// article would not change them.
    fn mark_neighbours_stale(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        {
            // Searchable now: their own blocks can be warmed.
            let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            ids.iter().for_each(|id| cache.queue_warm(id.clone()));
            if cache.len() == 0 {
                return Ok(());
            }
        }
        let stats = self.stats();
        let mut stale: Vec<String> = Vec::new();
        for id in ids {
            // Only the neighbours with cached blocks have anything to mark.
            let near = self.neighbours(&[id.as_str()])?;
            let (near, gates): (Vec<String>, Vec<_>) = {
                let cache = self.blocks.read().unwrap_or_else(|p| p.into_inner());
                near.into_iter()
                    // The other articles of the commit too: a block of one
                    // of them computed after its write and before the
                    // commit searched without the rest.
                    .filter(|n| n != id && !stale.contains(n))
                    .map(|n| {
                        let g = cache.gates_of(&n);
                        (n, g)
                    })
                    .filter(|(_, g)| !g.is_empty())
                    .unzip()
            };
            if near.is_empty() {
                continue;
            }
            let Some(Some(newcomer)) = self.features(std::slice::from_ref(id), &stats)?.pop() else { continue };
            let owners = self.features(&near, &stats)?;
            for ((owner, of), gates) in near.into_iter().zip(owners).zip(gates) {
                let Some(of) = of else { continue };
                for (opts, gate) in &gates {
                    if rank::would_enter(self, &stats, &of, gate, &newcomer, opts)? {
                        stale.push(owner);
                        break;
                    }
                }
            }
        }
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).mark_stale(&stale);
        Ok(())
    }

    /// [`Engine::write`] at positions of a replicated log: `writes[i]` is at
    /// `first + i`, and a position already applied changes nothing
    /// ([`Applied::Replayed`]).
    pub fn write_at(&self, first: u64, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(Some(first), writes, Mode::Commit)
    }

    /// [`Engine::write_at`] with the BM25 commit deferred, as
    /// [`Engine::write_deferred`]: what a cluster node applies from the
    /// log.
    pub fn write_at_deferred(&self, first: u64, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(Some(first), writes, Mode::Deferred)
    }

    /// [`Engine::write`] for bulk loads: the index is updated but commits only
    /// in [`Engine::finish`] (or the next committing write), so queries in
    /// between do not see the new articles, and the cached blocks are all
    /// dropped. The store is durable as usual; a crash before the commit is
    /// repaired by the next [`Engine::open`].
    pub fn write_bulk(&self, writes: &[Write]) -> Result<IngestOutcome> {
        self.write_with(None, writes, Mode::Bulk)
    }

    /// Records reading events ([`Write::Events`]); returns how many.
    pub fn record_events(&self, events: &[Event]) -> Result<usize> {
        let applied = self.write(&[Write::Events(events.to_vec())])?.applied;
        Ok(match applied.first() {
            Some(Applied::Recorded(n)) => *n,
            _ => 0,
        })
    }

    /// Forgets a reader ([`Write::Forget`]); returns how many events went.
    pub fn forget(&self, user: &str) -> Result<usize> {
        let applied = self.write(&[Write::Forget(user.to_string())])?.applied;
        Ok(match applied.first() {
            Some(Applied::Forgotten(n)) => *n,
            _ => 0,
        })
    }

    fn write_with(&self, first: Option<u64>, writes: &[Write], mode: Mode) -> Result<IngestOutcome> {
        let commit = mode == Mode::Commit;
        let serial = writes.iter().any(|w| !matches!(w, Write::Events(_) | Write::Forget(_)));
        // Event writes do not wait for article writes: the store orders them,
        // and they touch neither the statistics nor the indexes.
        let _writer = serial.then(|| self.writer.lock().unwrap_or_else(|p| p.into_inner()));
        let article_ids: Vec<&str> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Upsert(r) => Some(r.article.id.as_str()),
                Write::Delete(id) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let old_inputs =
            if article_ids.is_empty() || mode == Mode::Bulk { vec![] } else { self.store.rank_inputs(&article_ids)? };
        let forgotten: Vec<Event> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Forget(u) => Some(u.as_str()),
                _ => None,
            })
            .map(|u| self.store.user_events(u))
            .collect::<std::result::Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let before = self.store.last_seq()?;
        let applied = self.store.apply_at(first, writes)?;
        if mode == Mode::Bulk {
            // A bulk load reads the statistics back once, in `finish`.
            self.stats_behind.store(true, Ordering::Relaxed);
        } else if self.stats_behind.swap(false, Ordering::Relaxed) {
            self.load_stats()?;
        } else if !article_ids.is_empty() {
            self.update_stats(&old_inputs, writes, &applied)?;
        }
        let vectors = writes
            .iter()
            .zip(&applied)
            .any(|(w, a)| matches!((w, a), (Write::Vectors(_), Applied::Vectors(n)) if *n > 0));
        let dense_current = self.dense.applied_seq() == before;
        if article_ids.is_empty() && !vectors {
            // Events, rules, models and forgetting change no index. (Nor
            // may they catch the index up: an article write running beside
            // them, without the writer lock, is indexing right now.)
        } else if !vectors && self.index.applied_seq()? == before && dense_current {
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
            }
        } else {
            self.sync(commit)?;
        }
        self.after_article_writes(writes, &applied, mode)?;
        self.after_rule_writes(writes, &applied)?;
        self.after_event_writes(writes, &applied, &forgotten)?;
        Ok(IngestOutcome { applied })
    }

    /// Moves the statistics by what the written articles changed: the
    /// document frequencies of every hash their old and new ranking inputs
    /// hold, read back from the store (which moved them in the write's
    /// transaction), and the document count.
    fn update_stats(&self, old: &[Option<RankInput>], writes: &[Write], applied: &[Applied]) -> Result<()> {
        let (mut terms, mut ents, mut phrases): (Vec<u64>, Vec<u64>, Vec<u64>) = Default::default();
        let mut add = |r: &RankInput| {
            terms.extend(r.terms.iter().map(|t| t.0));
            ents.extend(r.entities.iter().map(|e| e.0));
            phrases.extend(r.keyphrases.iter().copied());
        };
        old.iter().flatten().for_each(&mut add);
        for (w, a) in writes.iter().zip(applied) {
            if let (Write::Upsert(r), Applied::Inserted | Applied::Updated) = (w, a) {
                add(&r.analysis.rank_input(r.article.lang_given()));
            }
        }
        for keys in [&mut terms, &mut ents, &mut phrases] {
            keys.sort_unstable();
            keys.dedup();
        }
        let f = self.store.doc_freqs(&terms, &ents, &phrases)?;
        let docs = f.docs;
        {
            let mut guard = self.stats.write().unwrap_or_else(|p| p.into_inner());
            let s = Arc::make_mut(&mut guard);
            s.docs = docs;
            for (map, keys, dfs) in [
                (&mut s.term_df, &terms, &f.terms),
                (&mut s.entity_df, &ents, &f.entities),
                (&mut s.keyphrase_df, &phrases, &f.keyphrases),
            ] {
                for (k, df) in keys.iter().zip(dfs) {
                    if *df == 0 {
                        map.remove(k);
                    } else {
                        map.insert(*k, *df);
                    }
                }
            }
        }
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).set_docs(docs);
        let at = self.features_docs.load(Ordering::Relaxed);
        if docs.abs_diff(at).saturating_mul(100) > docs {
            self.features.clear();
            self.features_docs.store(docs, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Reads the statistics the store keeps.
    fn load_stats(&self) -> Result<()> {
        let c = self.store.corpus_counts()?;
        let stats = CorpusStats {
            docs: c.docs,
            term_df: c.terms.into_iter().collect(),
            entity_df: c.entities.into_iter().collect(),
            keyphrase_df: c.keyphrases.into_iter().collect(),
        };
        self.features_docs.store(c.docs, Ordering::Relaxed);
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).set_docs(c.docs);
        *self.stats.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(stats);
        self.features.clear();
        Ok(())
    }

    /// Drops what the article writes can change: their own features and
    /// blocks, the blocks that showed them, and the blocks of the neighbours
    /// each upserted article may now enter (its [`NEIGHBOURS`] best-scored
    /// candidates, ranked once now that the index holds it). A bulk write,
    /// or one of more than [`NEIGHBOUR_BATCH`] upserts, drops every block.
    fn after_article_writes(&self, writes: &[Write], applied: &[Applied], mode: Mode) -> Result<()> {
        self.after_story_writes(writes, applied);
        let mut changed: Vec<&str> = Vec::new();
        let mut upserted: Vec<String> = Vec::new();
        for (w, a) in writes.iter().zip(applied) {
            match (w, a) {
                (Write::Upsert(r), Applied::Inserted | Applied::Updated) => {
                    changed.push(&r.article.id);
                    upserted.push(r.article.id.clone());
                }
                (Write::Delete(id), Applied::Deleted) => changed.push(id),
                (Write::Vectors(items), Applied::Vectors(n)) if *n > 0 => {
                    changed.extend(items.iter().map(|(id, _)| id.as_str()));
                }
                _ => {}
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.features.remove(&changed);
        if mode == Mode::Deferred {
            // However large, a deferred write waits for the next commit.
            self.dirty.store(true, Ordering::Relaxed);
        }
        if mode == Mode::Bulk || upserted.len() > NEIGHBOUR_BATCH {
            self.blocks.write().unwrap_or_else(|p| p.into_inner()).clear();
            match mode {
                // Blocks computed before the commit search without them.
                Mode::Deferred => self.clear_at_commit.store(true, Ordering::Relaxed),
                // Committed: this clear came after it, deferred writes
                // before it included.
                Mode::Commit => {
                    self.pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
                    self.dirty.store(false, Ordering::Relaxed);
                    self.clear_at_commit.store(false, Ordering::Relaxed);
                    self.blocks.write().unwrap_or_else(|p| p.into_inner()).note_commit();
                }
                Mode::Bulk => {}
            }
            return Ok(());
        }
        self.blocks.write().unwrap_or_else(|p| p.into_inner()).invalidate(&changed, &changed);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.extend(upserted);
        if mode == Mode::Deferred {
            return Ok(());
        }
        // Committed now, together with any deferred writes before it.
        let ids = std::mem::take(&mut *pending);
        drop(pending);
        self.dirty.store(false, Ordering::Relaxed);
        if self.after_commit(&ids) {
            return Ok(());
        }
        self.mark_neighbours_stale(&ids)
    }

    /// What a BM25 commit that made `ids` searchable does to the blocks at
    /// once: computations in flight are told (they searched without `ids`:
    /// [`BlockCache::note_commit`]), and when a deferred batch too large
    /// for neighbours is among what it committed, every block goes (those
    /// computed since that batch's write searched without it). Returns
    /// whether every block went, so that no neighbours are left to mark.
    fn after_commit(&self, ids: &[String]) -> bool {
        let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
        cache.note_commit();
        if self.clear_at_commit.swap(false, Ordering::Relaxed) {
            cache.clear();
            ids.iter().for_each(|id| cache.queue_warm(id.clone()));
            return true;
        }
        false
    }

    /// Moves the stories, once built, by the article writes.
    fn after_story_writes(&self, writes: &[Write], applied: &[Applied]) {
        // Before the stories are built, and with no build running, nothing
        // takes the changes (a build started later reads this write from the
        // store): a bulk load pays for no features.
        let wanted = self.story_ops.lock().unwrap_or_else(|p| p.into_inner()).is_some()
            || self.stories.read().unwrap_or_else(|p| p.into_inner()).is_some();
        if !wanted {
            return;
        }
        let lead_words = StoryOptions::default().lead_words;
        let ops: Vec<StoryOp> = writes
            .iter()
            .zip(applied)
            .filter_map(|(w, a)| match (w, a) {
                (Write::Upsert(r), Applied::Inserted | Applied::Updated) => Some(StoryOp::Upsert(
                    r.article.id.clone(),
                    Arc::new(StoryFeatures::of(&r.article, &r.analysis, lead_words)),
                )),
                (Write::Delete(id), Applied::Deleted) => Some(StoryOp::Remove(id.clone())),
                _ => None,
            })
            .collect();
        self.apply_story_ops(ops);
    }

    /// Applies changes to the stories, and records them for a build running
    /// beside them. Both locks are held together, so that a build's
    /// snapshot either holds a change or records it.
    fn apply_story_ops(&self, ops: Vec<StoryOp>) {
        if ops.is_empty() {
            return;
        }
        let mut recording = self.story_ops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = recording.as_mut() {
            r.extend(ops.iter().cloned());
        }
        let mut guard = self.stories.write().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = guard.as_mut() {
            ops.into_iter().for_each(|op| index.apply(op));
        }
    }

    /// Builds the stories from the store (`from_store`, when they are not
    /// built), or assigns them again from the kept features when a write
    /// left them dirty, outside the stories' lock: reads use the old
    /// stories and writes go on meanwhile (their changes are recorded and
    /// replayed on the new ones). Returns whether it built anything.
    pub(crate) fn rebuild_stories(&self, from_store: bool) -> Result<bool> {
        let _one = self.story_build.lock().unwrap_or_else(|p| p.into_inner());
        let base = {
            let mut recording = self.story_ops.lock().unwrap_or_else(|p| p.into_inner());
            let guard = self.stories.read().unwrap_or_else(|p| p.into_inner());
            let base = match guard.as_ref() {
                Some(index) if !from_store && index.is_dirty() => Some(index.snapshot()),
                Some(_) => return Ok(false),
                None if from_store => None,
                None => return Ok(false),
            };
            *recording = Some(Vec::new());
            base
        };
        let started = std::time::Instant::now();
        let built = match base {
            Some((opts, features, rules)) => Ok(StoryIndex::build(opts, features, rules)),
            None => self.stories_from_store(),
        };
        let mut recording = self.story_ops.lock().unwrap_or_else(|p| p.into_inner());
        let ops = recording.take().unwrap_or_default();
        let index = built?;
        let mut guard = self.stories.write().unwrap_or_else(|p| p.into_inner());
        let index = guard.insert(index);
        let replayed = ops.len();
        ops.into_iter().for_each(|op| index.apply(op));
        *self.story_pass.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), started.elapsed()));
        tracing::info!(
            articles = index.len(),
            secs = started.elapsed().as_secs_f64(),
            replayed,
            from_store,
            "stories assigned"
        );
        Ok(true)
    }

    /// Every stored article's story features and the story rules, read from
    /// the store, and the stories they make.
    fn stories_from_store(&self) -> Result<StoryIndex> {
        let started = std::time::Instant::now();
        let opts = StoryOptions::default();
        let mut features = FastMap::default();
        self.store.for_each(|r| {
            features
                .insert(r.article.id.clone(), Arc::new(StoryFeatures::of(&r.article, &r.analysis, opts.lead_words)));
            Ok(())
        })?;
        let read = started.elapsed().as_secs_f64();
        let index = StoryIndex::build(opts, features, self.store.story_rules()?);
        tracing::debug!(
            read_secs = read,
            assign_secs = started.elapsed().as_secs_f64() - read,
            "stories from the store"
        );
        Ok(index)
    }

    /// Runs `f` on the stories: built from the store on first use. When
    /// a write left them dirty, they are assigned again first, unless a
    /// refresher ([`Engine::refresh_stories`]) does that in the background:
    /// then `f` sees the stories as they are, at most one assignment pass
    /// behind the writes.
    pub(crate) fn with_stories<T>(&self, f: impl FnOnce(&StoryIndex) -> T) -> Result<T> {
        let refresher = self.story_refresher.load(Ordering::Relaxed);
        let built = {
            let guard = self.stories.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(index) if !index.is_dirty() || refresher => return Ok(f(index)),
                Some(_) => true,
                None => false,
            }
        };
        self.rebuild_stories(!built)?;
        let guard = self.stories.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(index) => Ok(f(index)),
            // Unreachable: a build either installs stories or fails.
            None => Err(RecommendError::NotFound("stories".into())),
        }
    }

    /// Assigns the stories again now if a write left them dirty (a
    /// backdated article, a correction, a delete, a story rule), outside
    /// their lock; returns whether it did. From the first call on, reads no
    /// longer assign the stories themselves: something (the server's
    /// warmer, through [`Engine::refresh_stories_when_due`]) does it in the
    /// background.
    pub fn refresh_stories(&self) -> Result<bool> {
        self.story_refresher.store(true, Ordering::Relaxed);
        let dirty = self.stories.read().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|i| i.is_dirty());
        if dirty { self.rebuild_stories(false) } else { Ok(false) }
    }

    /// [`Engine::refresh_stories`], once [`STORY_PASS_SPACING`] times the
    /// last pass's length has gone by since it ended: the server's warmer
    /// calls this when idle, so that a stream of backdated articles costs a
    /// bounded share of a core, not a pass per article.
    pub fn refresh_stories_when_due(&self) -> Result<bool> {
        let due = self
            .story_pass
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|(ended, took)| ended.elapsed() >= took * STORY_PASS_SPACING);
        if due { self.refresh_stories() } else { Ok(false) }
    }

    /// Runs `f` on the stories as they are, without building or assigning
    /// them again: `None` until they are built. For the read path, which
    /// must not wait for a rebuild.
    pub(crate) fn try_stories<T>(&self, f: impl FnOnce(&StoryIndex) -> T) -> Option<T> {
        let guard = self.stories.try_read().ok()?;
        guard.as_ref().map(f)
    }

    /// The articles whose blocks `ids` may enter: each one's
    /// [`NEIGHBOURS`] best-scored candidates with the default options
    /// ([`rank::nearest`]), without rules (a blocked article's block still
    /// names its neighbours). No diversity and no record reads: this runs
    /// for every new article.
    fn neighbours(&self, ids: &[&str]) -> Result<Vec<String>> {
        let opts = RelatedOptions::default();
        let stats = self.stats();
        let mut out = Vec::new();
        for id in ids {
            let q = match self.query_for_id(id) {
                Ok(q) => q,
                Err(RecommendError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            out.extend(rank::nearest(self, &stats, &q, &opts, NEIGHBOURS)?);
        }
        Ok(out)
    }

    /// Reloads the rules after a rule write, and drops the blocks it changes:
    /// the owner's for pins; those that show an article, for a block; an
    /// unblocked article's neighbours and the blocks that pin it.
    fn after_rule_writes(&self, writes: &[Write], applied: &[Applied]) -> Result<()> {
        let mut owners: Vec<String> = Vec::new();
        let mut shown: Vec<&str> = Vec::new();
        let mut unblocked: Vec<&str> = Vec::new();
        let story_rules = writes.iter().zip(applied).any(|(w, a)| {
            *a == Applied::Changed
                && matches!(
                    w,
                    Write::SplitStory(_) | Write::MergeStories { .. } | Write::UnsplitStory(_) | Write::UnmergeStory(_)
                )
        });
        if story_rules {
            self.apply_story_ops(vec![StoryOp::Rules(self.store.story_rules()?)]);
            // An editor's split or merge shows from the answer on: the
            // stories are assigned again now (outside their lock), not at
            // the warmer's next step.
            self.rebuild_stories(false)?;
        }
        for (w, a) in writes.iter().zip(applied) {
            if *a != Applied::Changed {
                continue;
            }
            match w {
                Write::SetPins { owner, .. } => owners.push(owner.clone()),
                Write::Block(id) => shown.push(id),
                Write::Unblock(id) => unblocked.push(id),
                _ => {}
            }
        }
        if owners.is_empty() && shown.is_empty() && unblocked.is_empty() {
            return Ok(());
        }
        let rules = Arc::new(self.store.rules()?);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Some(rules.clone());
        for id in &unblocked {
            owners.extend(rules.pins.iter().filter(|(_, p)| p.iter().any(|x| x == id)).map(|(o, _)| o.clone()));
        }
        owners.extend(unblocked.iter().map(|s| s.to_string()));
        let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
        let near = self.neighbours(&unblocked)?;
        let near: Vec<&str> = near.iter().map(String::as_str).collect();
        let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
        cache.invalidate(&owners, &shown);
        cache.mark_stale(&near);
        Ok(())
    }

    /// Moves the counters by the recorded events, and takes a forgotten
    /// reader's events away from them.
    fn after_event_writes(&self, writes: &[Write], applied: &[Applied], forgotten: &[Event]) -> Result<()> {
        let now = crate::now_ms();
        for (w, a) in writes.iter().zip(applied) {
            if let (Write::Events(evs), Applied::Recorded(_)) = (w, a) {
                let groups = self.groups_of(evs)?;
                self.counters.write().unwrap_or_else(|p| p.into_inner()).apply(evs, &groups, now, 1);
            }
        }
        let gone = writes.iter().zip(applied).any(|(w, a)| matches!((w, a), (Write::Forget(_), Applied::Forgotten(_))));
        if gone && !forgotten.is_empty() {
            let groups = self.groups_of(forgotten)?;
            self.counters.write().unwrap_or_else(|p| p.into_inner()).apply(forgotten, &groups, now, -1);
        }
        Ok(())
    }

    /// The section and subsection of each stored article the events name.
    fn groups_of(&self, events: &[Event]) -> Result<FastMap<String, Groups>> {
        let mut ids: Vec<&str> = events.iter().map(|e| e.article.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids
            .iter()
            .zip(self.store.read_inputs(&ids)?)
            .filter_map(|(id, r)| r.map(|r| (id.to_string(), (r.section, r.subsection))))
            .collect())
    }

    /// Builds the counters from the events of the horizon before `now_ms`.
    fn load_counters(&self, now_ms: i64) -> Result<()> {
        let mut counters = Counters::default();
        let mut chunk: Vec<Event> = Vec::new();
        let mut pending: Vec<Vec<Event>> = Vec::new();
        self.store.for_each_event_since(now_ms.saturating_sub(crate::live::HORIZON_MS), |e| {
            chunk.push(e.clone());
            if chunk.len() >= COUNTER_CHUNK {
                pending.push(std::mem::take(&mut chunk));
            }
        })?;
        pending.push(chunk);
        for evs in &pending {
            let groups = self.groups_of(evs)?;
            counters.apply(evs, &groups, now_ms, 1);
        }
        *self.counters.write().unwrap_or_else(|p| p.into_inner()) = counters;
        Ok(())
    }

    /// Reads the counters (expiring what fell out of their windows first).
    pub(crate) fn counters(&self, now_ms: i64) -> std::sync::RwLockReadGuard<'_, Counters> {
        let stale = self.counters.read().unwrap_or_else(|p| p.into_inner()).stale(now_ms);
        if stale {
            self.counters.write().unwrap_or_else(|p| p.into_inner()).expire(now_ms);
        }
        self.counters.read().unwrap_or_else(|p| p.into_inner())
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

    /// Drops every cached feature and block (after catching up with the
    /// store, or a bulk load): they may predate what changed.
    fn invalidate(&self) {
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
        if self.stats_behind.swap(false, Ordering::Relaxed) {
            self.load_stats()?;
        }
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.dirty.store(false, Ordering::Relaxed);
        self.index.finish()?;
        self.dense.save()?;
        self.invalidate();
        Ok(())
    }

    /// Corpus statistics (document frequencies and the document count), as
    /// the store keeps them: a snapshot, never recomputed on a read.
    pub fn stats(&self) -> Arc<CorpusStats> {
        self.stats.read().unwrap_or_else(|p| p.into_inner()).clone()
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
        let epoch = self.features.epoch();
        let vectors = self.store.vectors(&missing_ids)?;
        // The rank input is written in the same transaction as the analysis,
        // so an id without one is not stored (deleted since it was retrieved).
        for ((&i, r), v) in missing.iter().zip(self.store.rank_inputs(&missing_ids)?).zip(vectors) {
            if let Some(r) = r {
                let f = Arc::new(Features { dense: v, ..Features::of(r, stats) });
                self.features.put(ids[i].clone(), f.clone(), epoch);
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

    /// The related block of the stored article `id`, with its headline:
    /// [`Engine::related`] of [`Engine::query_for_id`], except that a fresh
    /// cached block is served without reading the article (the cached read
    /// is most of a live server's work, and decoding an analysis costs more
    /// than the rest of it).
    pub fn related_to_id(&self, id: &str, opts: &RelatedOptions) -> Result<(String, Vec<Pick>)> {
        if let Some(hit) = self.cached_related(id, opts) {
            return Ok(hit);
        }
        let query = self.query_for_id(id)?;
        let mut picks = self.related(&query, opts)?;
        self.mark_same_story(id, &mut picks);
        Ok((query.title, picks))
    }

    /// The fresh cached block of the stored article `id`, with its
    /// headline, when there is one: no store read, no computation, one
    /// short read lock, so that a server may answer it on its event loop.
    /// Picks from the article's story are marked ([`Why::story`]) from the
    /// stories as they are when the block is served, not when it was
    /// computed. A drifted block (see `blocks`) is served too, unless the
    /// budget for recomputing drifted blocks has room: then `None`, and
    /// [`Engine::related`] recomputes it.
    ///
    /// [`Why::story`]: readnext_core::Why::story
    pub fn cached_related(&self, id: &str, opts: &RelatedOptions) -> Option<(String, Vec<Pick>)> {
        let (block, title, drifted) =
            self.blocks.read().unwrap_or_else(|p| p.into_inner()).get_fresh(id, &block_key(opts))?;
        if drifted && self.drift_budget.has_room() {
            return None;
        }
        let (title, mut picks) = (title.to_string(), block.as_ref().clone());
        self.mark_same_story(id, &mut picks);
        Some((title, picks))
    }

    /// The related block of an article: up to `opts.k` picks, best first,
    /// with the editorial rules applied (blocked articles never appear;
    /// pinned ones come first).
    pub fn related(&self, query: &Query, opts: &RelatedOptions) -> Result<Vec<Pick>> {
        // A stored article's block changes only when the store or the rules
        // do: serve it from the cache until then. Brand-new pages are not
        // cached (their text is the key).
        let Some(owner) = &query.id else {
            let _computing = self.computing.acquire();
            return Ok(self.related_uncached(query, opts)?.0);
        };
        let key = block_key(opts);
        // A stale block is recomputed here when a core is free; when none
        // is and a refresher runs, it is served as it is (the refresher
        // replaces it shortly).
        let refresher = self.refresher.load(Ordering::Relaxed);
        let (hit, drifted_only) = {
            let cache = self.blocks.read().unwrap_or_else(|p| p.into_inner());
            let hit = cache.get(owner, &key);
            let drifted_only = matches!(hit, Some((_, true))) && cache.drifted_only(owner, &key);
            (hit, drifted_only)
        };
        if let Some((block, false)) = &hit {
            return Ok(block.as_ref().clone());
        }
        // A block the statistics drifted from is recomputed within a
        // budget: a write that moves the corpus past 1% drifts every block
        // at once, and recomputing each on its next read would take the
        // cores from the reads for minutes.
        if let Some((block, true)) = &hit
            && drifted_only
            && !self.drift_budget.take()
        {
            return Ok(block.as_ref().clone());
        }
        let compute = || {
            // Another request may have computed it while this one waited.
            let epoch = {
                let cache = self.blocks.read().unwrap_or_else(|p| p.into_inner());
                if let Some((hit, false)) = cache.get(owner, &key) {
                    return Ok::<_, RecommendError>((hit.as_ref().clone(), None));
                }
                cache.since()
            };
            let (picks, gate) = self.related_uncached(query, opts)?;
            Ok((picks, Some((epoch, gate))))
        };
        let (picks, epoch) = match hit {
            Some((stale, true)) if refresher => match self.computing.try_acquire() {
                Some(_computing) => compute()?,
                None => return Ok(stale.as_ref().clone()),
            },
            _ => {
                let _computing = self.computing.acquire();
                compute()?
            }
        };
        let Some((epoch, gate)) = epoch else { return Ok(picks) };
        let entry = Entry::new(opts.clone(), picks.clone(), gate, &query.title);
        let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
        // A stale block recomputed here is this owner's refresh (a
        // drifted one, not queued, is replaced as a new one is stored).
        match cache.next_stale_of(owner) {
            Some((o, marks, _)) if cache.get(owner, &key).is_some() => cache.refresh(&o, vec![entry], marks, epoch),
            _ => cache.insert(owner, entry, epoch),
        }
        Ok(picks)
    }

    /// Recomputes up to `max` stale blocks (those a new article may now
    /// enter), oldest first; returns how many owners it refreshed. The
    /// server's refresher thread calls this, and once it has, reads are
    /// served the stale blocks when no core is free instead of waiting to
    /// compute them. It takes no computing permit: freshness must not queue
    /// behind the reads that compute uncached blocks (on a store too large
    /// for the cache, those hold every permit), and with one caller it adds
    /// at most one computation to the permits' one per core.
    pub fn refresh_stale(&self, max: usize) -> Result<usize> {
        self.refresher.store(true, Ordering::Relaxed);
        let mut done = 0;
        while done < max {
            let (next, epoch) = {
                let mut cache = self.blocks.write().unwrap_or_else(|p| p.into_inner());
                (cache.next_stale(), cache.since())
            };
            let Some((owner, marks, options)) = next else { break };
            let query = match self.query_for_id(&owner) {
                Ok(q) => q,
                Err(RecommendError::NotFound(_)) => {
                    self.blocks.write().unwrap_or_else(|p| p.into_inner()).invalidate(&[&owner], &[]);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut fresh = Vec::with_capacity(options.len());
            for opts in options {
                let (picks, gate) = self.related_uncached(&query, &opts)?;
                fresh.push(Entry::new(opts, picks, gate, &query.title));
            }
            self.blocks.write().unwrap_or_else(|p| p.into_inner()).refresh(&owner, fresh, marks, epoch);
            done += 1;
        }
        Ok(done)
    }

    /// How many owners' blocks are stale (waiting for [`Engine::refresh_stale`]).
    pub fn stale_blocks(&self) -> usize {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).stale_owners()
    }

    /// Lets the reads recompute drifted blocks (see `blocks`): `per_second`
    /// on average, `burst` at once. Off (0) unless set: a single node
    /// serves a drifted block as it is (it differs from a fresh one by the
    /// last 1% of the statistics), while a cluster node recomputes it, so
    /// that nodes with the same store serve the same blocks whatever order
    /// they cached them in. The cost: each move past 1% refills the feature
    /// cache through the reads (in `readnext bench live`, a single node's
    /// peak memory went from 718 to 1,366 MiB and the p999 of the reads
    /// during the writes from 14 to 82 ms with 20 a second and 200 at
    /// once).
    pub fn set_drift_budget(&self, per_second: f64, burst: f64) {
        self.drift_budget.set(per_second, burst);
    }

    /// Whether the block of `id` with `opts` is cached and not stale.
    pub fn is_cached(&self, id: &str, opts: &RelatedOptions) -> bool {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).get_fresh(id, &block_key(opts)).is_some_and(|b| !b.2)
    }

    /// Marks the blocks warm (the server's warmer finished a pass).
    pub fn set_warm(&self) {
        self.warm.store(true, Ordering::Relaxed);
    }

    /// Whether the server's warmer finished its first pass over the store.
    pub fn is_warm(&self) -> bool {
        self.warm.load(Ordering::Relaxed)
    }

    /// A count of the block cache's invalidations: while it stays the same,
    /// no cached block was dropped (a warmer's pass would find nothing to do).
    pub fn blocks_epoch(&self) -> u64 {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).epoch()
    }

    /// Number of cached blocks.
    pub fn cached_blocks(&self) -> usize {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Computes and caches the blocks of stored articles (with `opts`) that
    /// are not cached yet, from id `after` on, `limit` at most; returns how
    /// many it computed and the id to go on from (`None` at the end). A
    /// server warms every block this way, so that reads find them.
    pub fn warm(&self, after: Option<&str>, limit: usize, opts: &RelatedOptions) -> Result<(usize, Option<String>)> {
        let ids = self.store.ids_after(after, limit)?;
        let key = block_key(opts);
        let mut done = 0;
        for id in &ids {
            if self.cached_blocks() >= crate::blocks::BLOCK_CACHE_ENTRIES * 9 / 10 {
                return Ok((done, None));
            }
            done += usize::from(self.warm_one(id, &key, opts)?);
        }
        Ok((done, if ids.len() < limit { None } else { ids.last().cloned() }))
    }

    /// Computes and caches the blocks (with `opts`) of up to `max` owners
    /// from the warm queue: owners whose blocks a write dropped, and new
    /// articles once searchable. Returns how many owners it took from the
    /// queue (0: it is empty). The server's warmer calls this between its
    /// walks over every id, so that a write costs the warmer what it
    /// dropped, not a walk.
    pub fn warm_queued(&self, max: usize, opts: &RelatedOptions) -> Result<usize> {
        let owners = self.blocks.write().unwrap_or_else(|p| p.into_inner()).next_to_warm(max);
        let key = block_key(opts);
        for id in &owners {
            self.warm_one(id, &key, opts)?;
        }
        Ok(owners.len())
    }

    /// Computes and caches the block of `id` with `opts` (cache key `key`)
    /// unless it is cached and fresh, or `id` is no longer stored; returns
    /// whether it computed one.
    fn warm_one(&self, id: &str, key: &str, opts: &RelatedOptions) -> Result<bool> {
        if self.blocks.read().unwrap_or_else(|p| p.into_inner()).get_fresh(id, key).is_some() {
            return Ok(false);
        }
        match self.query_for_id(id) {
            Ok(q) => {
                self.related(&q, opts)?;
                Ok(true)
            }
            Err(RecommendError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// How often every cached block went at once: a warmer walks every id
    /// again when this moves.
    pub fn blocks_clears(&self) -> u64 {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).clears()
    }

    /// A block computed now, with its gate.
    fn related_uncached(&self, query: &Query, opts: &RelatedOptions) -> Result<(Vec<Pick>, Gate)> {
        let stats = self.stats();
        let rules = self.rules()?;
        let (picks, gate) = rank::related_gated(self, &stats, query, opts, &rules.blocked)?;
        let picks = match &query.id {
            Some(owner) if !rules.pins_of(owner).is_empty() => {
                crate::personal::with_pins(self, picks, rules.pins_of(owner), owner, opts.k)?
            }
            _ => picks,
        };
        Ok((picks, gate))
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

    /// The pairwise relevance of two articles: the score that ranks related
    /// picks (fusion and feedback, before recency and diversity), averaged
    /// over both directions. Ids, when given, are kept out of each other's
    /// feedback as a query is kept out of its own block.
    pub fn similarity(&self, a: &Query, b: &Query, opts: &RelatedOptions) -> Result<f32> {
        let stats = self.stats();
        let fa = Features { dense: self.query_vector(a)?, ..Features::new(&a.analysis, a.lang_given, &stats, true) };
        let fb = Features { dense: self.query_vector(b)?, ..Features::new(&b.analysis, b.lang_given, &stats, true) };
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

#[cfg(test)]
mod budget_tests {
    use super::Budget;

    #[test]
    fn a_budget_gives_its_burst_at_once_then_its_rate() {
        let b = Budget::new(0.0, 2.0);
        assert!(b.has_room() && b.take() && b.take());
        assert!(!b.has_room() && !b.take(), "spent, and nothing comes back at rate 0");
        let b = Budget::new(1000.0, 1.0);
        assert!(b.take());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(b.take(), "refilled");
    }
}
