//! Sparse weighted vectors of an analysis, against corpus statistics.

use std::collections::HashMap;

use readnext_core::{Analysis, FastMap, RankInput, fnv1a64};

/// Document frequencies of the corpus, read from the index.
#[derive(Debug, Clone, Default)]
pub struct CorpusStats {
    /// Number of documents.
    pub docs: u64,
    /// Document frequency of each stem, by the stem's FNV-1a hash.
    pub term_df: FastMap<u64, u32>,
    /// Document frequency of each entity match key, by its FNV-1a hash.
    pub entity_df: FastMap<u64, u32>,
    /// Document frequency of each keyphrase key, by its FNV-1a hash (what
    /// the explanations weigh a shared phrase by; ranking does not read it).
    pub keyphrase_df: FastMap<u64, u32>,
}

impl CorpusStats {
    /// Smoothed inverse document frequency, as scikit-learn computes it:
    /// `ln((1 + n) / (1 + df)) + 1`.
    pub fn idf(&self, df: u32) -> f32 {
        (((1 + self.docs) as f32) / (1.0 + df as f32)).ln() + 1.0
    }

    pub(crate) fn term_idf(&self, hash: u64) -> f32 {
        self.idf(self.term_df.get(&hash).copied().unwrap_or(0))
    }

    pub(crate) fn entity_idf(&self, hash: u64) -> f32 {
        self.idf(self.entity_df.get(&hash).copied().unwrap_or(0))
    }
}

/// An L2-normalised sparse vector, sorted by key hash so that a dot product
/// is a merge of two arrays (ranking takes hundreds of them per query).
#[derive(Debug, Clone, Default)]
pub struct SparseVec {
    /// (hash of key, weight), sorted by hash.
    entries: Vec<(u64, f32)>,
    /// The keys, in the order of `entries`; empty when dropped.
    keys: Vec<String>,
    /// The L2 norm before normalisation (grows with document length).
    pub norm: f32,
}

impl SparseVec {
    // Every vector is sorted before its norm is summed: float addition is
    // not associative, and the same input must give the same scores, to the
    // last bit, whatever order a hash map handed the weights over in.
    fn normalised(weights: Vec<(String, f32)>) -> SparseVec {
        let mut items: Vec<(u64, f32, String)> =
            weights.into_iter().map(|(k, w)| (fnv1a64(k.as_bytes()), w, k)).collect();
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
        items.dedup_by(|a, b| a.0 == b.0);
        let norm = items.iter().map(|(_, w, _)| w * w).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let (entries, keys) = items.into_iter().map(|(h, w, k)| ((h, w * scale), k)).unzip();
        SparseVec { entries, keys, norm }
    }

    /// A vector from hashed keys (keys not kept), normalised.
    fn from_hashed(mut entries: Vec<(u64, f32)>) -> SparseVec {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let norm = entries.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        for e in entries.iter_mut() {
            e.1 *= scale;
        }
        SparseVec { entries, keys: Vec::new(), norm }
    }

    /// The normalised mean of several vectors (keys are not kept): the
    /// centroid used for pseudo-relevance feedback.
    pub fn centroid<'a>(vecs: impl Iterator<Item = &'a SparseVec>) -> SparseVec {
        let mut all: Vec<(u64, f32)> = vecs.flat_map(|v| v.entries.iter().copied()).collect();
        // Stable sort: equal keys keep the order of the vectors given.
        all.sort_by_key(|e| e.0);
        let mut entries: Vec<(u64, f32)> = Vec::with_capacity(all.len());
        for (h, w) in all {
            match entries.last_mut() {
                Some(last) if last.0 == h => last.1 += w,
                _ => entries.push((h, w)),
            }
        }
        let norm = entries.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        for e in entries.iter_mut() {
            e.1 *= scale;
        }
        SparseVec { entries, keys: Vec::new(), norm }
    }

    /// Pairs of positions with equal keys.
    fn matches<'a>(&'a self, other: &'a SparseVec) -> impl Iterator<Item = (usize, usize)> + 'a {
        let (x, y) = (&self.entries, &other.entries);
        let (mut i, mut j) = (0, 0);
        std::iter::from_fn(move || {
            while i < x.len() && j < y.len() {
                match x[i].0.cmp(&y[j].0) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        let m = (i, j);
                        i += 1;
                        j += 1;
                        return Some(m);
                    }
                }
            }
            None
        })
    }

    /// Number of keys (distinct stems, for a text vector).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Cosine with another normalised vector. The hot loop of ranking (a
    /// query takes hundreds): a merge whose steps are computed, not
    /// branched on, so that unpredictable key order costs no mispredictions.
    /// Products are added in key order, as before, so scores are unchanged.
    pub fn cosine(&self, other: &SparseVec) -> f32 {
        let (x, y) = (&self.entries, &other.entries);
        let (mut i, mut j, mut sum) = (0usize, 0usize, 0.0f32);
        while i < x.len() && j < y.len() {
            let (a, b) = (x[i], y[j]);
            if a.0 == b.0 {
                sum += a.1 * b.1;
            }
            i += usize::from(a.0 <= b.0);
            j += usize::from(b.0 <= a.0);
        }
        sum
    }

    /// The keys both vectors share, by contribution to the cosine, largest
    /// first. Keys come from `self`, which must have kept them.
    pub fn shared(&self, other: &SparseVec) -> Vec<(&str, f32)> {
        let mut out: Vec<(&str, f32)> = self
            .matches(other)
            .filter_map(|(i, j)| Some((self.keys.get(i)?.as_str(), self.entries[i].1 * other.entries[j].1)))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        out
    }

    /// The heaviest keys (of a vector that kept them).
    pub fn top(&self, n: usize) -> Vec<(String, f32)> {
        let mut v: Vec<(String, f32)> = self.keys.iter().zip(&self.entries).map(|(k, e)| (k.clone(), e.1)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Sublinear term frequency, `1 + ln tf`.
pub(crate) fn tf_weight(tf: u32) -> f32 {
    1.0 + (tf as f32).ln()
}

/// Sublinear TF-IDF of the stems, keys kept (for a query).
pub fn text_vector(a: &Analysis, stats: &CorpusStats) -> SparseVec {
    let weights = a
        .terms
        .iter()
        .map(|t| (t.stem.clone(), tf_weight(t.tf) * stats.term_idf(fnv1a64(t.stem.as_bytes()))))
        .collect();
    SparseVec::normalised(weights)
}

/// Sublinear, idf-weighted entity mentions, keyed by the entities' match
/// keys, keys kept (for a query).
pub fn entity_vector(a: &Analysis, stats: &CorpusStats) -> SparseVec {
    let mut weights: HashMap<&str, f32> = HashMap::new();
    for e in &a.entities {
        let key = e.match_key();
        let w = tf_weight(e.count) * stats.entity_idf(fnv1a64(key.as_bytes()));
        let slot = weights.entry(key).or_default();
        *slot = slot.max(w);
    }
    SparseVec::normalised(weights.into_iter().map(|(k, w)| (k.to_string(), w)).collect())
}

/// [`text_vector`] of a stored article, from its compact ranking input.
pub fn text_vector_of(r: &RankInput, stats: &CorpusStats) -> SparseVec {
    SparseVec::from_hashed(r.terms.iter().map(|&(h, tf)| (h, tf_weight(tf) * stats.term_idf(h))).collect())
}

/// [`entity_vector`] of a stored article, from its compact ranking input.
pub fn entity_vector_of(r: &RankInput, stats: &CorpusStats) -> SparseVec {
    SparseVec::from_hashed(r.entities.iter().map(|&(h, n)| (h, tf_weight(n) * stats.entity_idf(h))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use readnext_core::Term;

    fn analysis(terms: &[(&str, u32)]) -> Analysis {
        Analysis {
            terms: terms.iter().map(|(s, tf)| Term { stem: s.to_string(), surface: s.to_string(), tf: *tf }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cosine_centroid_and_shared_keys() {
        let stats = CorpusStats {
            docs: 10,
            term_df: [(fnv1a64(b"a"), 9), (fnv1a64(b"b"), 1)].into_iter().collect(),
            ..Default::default()
        };
        let x = text_vector(&analysis(&[("a", 2), ("b", 1)]), &stats);
        let y = text_vector(&analysis(&[("c", 1)]), &stats);
        assert!((x.cosine(&x) - 1.0).abs() < 1e-5);
        assert_eq!(x.cosine(&y), 0.0);
        // The rare term dominates.
        assert_eq!(x.top(1)[0].0, "b");
        assert!((stats.idf(0) - ((11.0f32).ln() + 1.0)).abs() < 1e-6);
        let c = SparseVec::centroid([&x, &y].into_iter());
        assert!((c.cosine(&c) - 1.0).abs() < 1e-5);
        assert!(c.cosine(&x) > 0.0 && c.cosine(&y) > 0.0);
        assert_eq!(x.shared(&x).len(), 2);
        // The compact path gives the same vector.
        let a = analysis(&[("a", 2), ("b", 1)]);
        let compact = text_vector_of(&a.rank_input(false), &stats);
        assert!((compact.cosine(&x) - 1.0).abs() < 1e-5);
        assert!((compact.norm - x.norm).abs() < 1e-5);
    }
}
