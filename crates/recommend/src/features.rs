//! Per-document ranking features, derived from an analysis and the corpus
//! statistics, and cached in memory: a query scores a few hundred candidates,
//! and building their vectors from stored analyses costs more than scoring.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use readnext_core::{Analysis, RankInput};

use crate::vectors::{CorpusStats, SparseVec, entity_vector, entity_vector_of, text_vector, text_vector_of};

/// Entries kept before the cache is emptied and refilled; bounds memory on
/// very large stores (about 5 KB an entry).
const CACHE_CAP: usize = 200_000;

/// What ranking needs of one document.
#[derive(Debug, Clone)]
pub struct Features {
    /// TF-IDF of the stems.
    pub text: SparseVec,
    /// Entity vector.
    pub ents: SparseVec,
    /// Hashes of the keyphrase keys, sorted.
    pub keyphrases: Vec<u64>,
    /// SimHash.
    pub simhash: u64,
    /// Content hash.
    pub content_hash: u64,
    /// Publication time.
    pub published: Option<i64>,
    /// Sentence embedding (unit length), when the article has one.
    pub dense: Option<Vec<f32>>,
    /// Language ("und" when unknown).
    pub lang: String,
}

impl Features {
    /// Features of an analysis. `keep_keys` keeps the vector keys, which
    /// explanations and retrieval need on the query side only; without them
    /// this is exactly what a stored article's compact input gives.
    pub fn new(a: &Analysis, lang_given: bool, stats: &CorpusStats, keep_keys: bool) -> Features {
        let r = a.rank_input(lang_given);
        if !keep_keys {
            return Features::of(r, stats);
        }
        Features {
            text: text_vector(a, stats),
            ents: entity_vector(a, stats),
            keyphrases: r.keyphrases,
            simhash: r.simhash,
            content_hash: r.content_hash,
            published: r.published,
            dense: None,
            lang: r.lang,
        }
    }

    /// Features of a stored article from its compact ranking input (no keys).
    pub fn of(r: RankInput, stats: &CorpusStats) -> Features {
        Features {
            text: text_vector_of(&r, stats),
            ents: entity_vector_of(&r, stats),
            keyphrases: r.keyphrases,
            simhash: r.simhash,
            content_hash: r.content_hash,
            published: r.published,
            dense: None,
            lang: r.lang,
        }
    }

    /// Whether the two articles are in different known languages.
    pub fn cross_lingual(&self, other: &Features) -> bool {
        self.lang != other.lang && self.lang != "und" && other.lang != "und"
    }

    /// Cosine of the two embeddings (both unit length), when both exist.
    pub fn dense_cosine(&self, other: &Features) -> Option<f32> {
        let (a, b) = (self.dense.as_ref()?, other.dense.as_ref()?);
        (a.len() == b.len()).then(|| readnext_core::dot(a, b))
    }
}

/// The cache: id → features. An entry is built from the article's stored
/// ranking input and the statistics of the moment; the engine drops the
/// entries of written articles, and all of them once the document count has
/// moved by more than a percent since the last time (so a cached entry's
/// weights are at most that far from the current statistics).
#[derive(Default)]
pub struct FeatureCache {
    /// The map and its epoch (bumped by every removal).
    inner: RwLock<(HashMap<String, Arc<Features>>, u64)>,
}

impl FeatureCache {
    /// Cached features of `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Features>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).0.get(id).cloned()
    }

    /// The epoch a computation of features starts in.
    pub fn epoch(&self) -> u64 {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Caches features built since `epoch`: nothing if entries were removed
    /// meanwhile, since these may have been read before that write.
    pub fn put(&self, id: String, f: Arc<Features>, epoch: u64) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if m.1 != epoch {
            return;
        }
        if m.0.len() >= CACHE_CAP {
            m.0.clear();
        }
        m.0.insert(id, f);
    }

    /// Forgets the features of `ids` (written articles).
    pub fn remove(&self, ids: &[&str]) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        m.1 += 1;
        for id in ids {
            m.0.remove(*id);
        }
    }

    /// Forgets everything (the statistics moved).
    pub fn clear(&self) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        m.1 += 1;
        m.0.clear();
    }
}

/// Exponential decay with a half-life: 1 at age 0, halving every
/// `half_life` (in the unit of `age`). Trending scores, the freshness of new
/// picks and the ranker's freshness feature all decay this way.
pub(crate) fn halved(age: f32, half_life: f32) -> f32 {
    (-age * std::f32::consts::LN_2 / half_life).exp()
}
