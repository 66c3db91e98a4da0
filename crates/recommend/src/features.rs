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
    pub fn new(a: &Analysis, stats: &CorpusStats, keep_keys: bool) -> Features {
        let r = a.rank_input();
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

/// The cache: id → features, valid for one version of the corpus statistics.
#[derive(Default)]
pub struct FeatureCache {
    inner: RwLock<HashMap<String, Arc<Features>>>,
}

impl FeatureCache {
    /// Cached features of `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Features>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Caches features.
    pub fn put(&self, id: String, f: Arc<Features>) {
        let mut m = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= CACHE_CAP {
            m.clear();
        }
        m.insert(id, f);
    }

    /// Forgets everything (the statistics changed).
    pub fn clear(&self) {
        self.inner.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Exponential decay with a half-life: 1 at age 0, halving every
/// `half_life` (in the unit of `age`). Trending scores, the freshness of new
/// picks and the ranker's freshness feature all decay this way.
pub(crate) fn halved(age: f32, half_life: f32) -> f32 {
    (-age * std::f32::consts::LN_2 / half_life).exp()
}
