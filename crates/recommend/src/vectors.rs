//! Sparse weighted vectors of an analysis, against corpus statistics.

use std::collections::HashMap;

use readnext_analysis::match_keys;
use readnext_core::Analysis;

/// Document frequencies of the corpus, read from the index.
#[derive(Debug, Clone, Default)]
pub struct CorpusStats {
    /// Number of documents.
    pub docs: u64,
    /// Document frequency of each stem.
    pub term_df: HashMap<String, u32>,
    /// Document frequency of each entity match key.
    pub entity_df: HashMap<String, u32>,
}

impl CorpusStats {
    /// Smoothed inverse document frequency, as scikit-learn computes it:
    /// `ln((1 + n) / (1 + df)) + 1`.
    pub fn idf(&self, df: u32) -> f32 {
        (((1 + self.docs) as f32) / (1.0 + df as f32)).ln() + 1.0
    }

    fn term_idf(&self, stem: &str) -> f32 {
        self.idf(self.term_df.get(stem).copied().unwrap_or(0))
    }

    fn entity_idf(&self, key: &str) -> f32 {
        self.idf(self.entity_df.get(key).copied().unwrap_or(0))
    }
}

/// An L2-normalised sparse vector.
#[derive(Debug, Clone, Default)]
pub struct SparseVec {
    /// Key → weight.
    pub weights: HashMap<String, f32>,
}

impl SparseVec {
    fn normalised(mut weights: HashMap<String, f32>) -> SparseVec {
        let norm = weights.values().map(|w| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for w in weights.values_mut() {
                *w /= norm;
            }
        }
        SparseVec { weights }
    }

    /// Cosine with another normalised vector.
    pub fn cosine(&self, other: &SparseVec) -> f32 {
        let (small, large) = if self.weights.len() <= other.weights.len() { (self, other) } else { (other, self) };
        small.weights.iter().filter_map(|(k, w)| large.weights.get(k).map(|v| w * v)).sum()
    }

    /// The keys both vectors share, by contribution to the cosine, largest first.
    pub fn shared(&self, other: &SparseVec) -> Vec<(&str, f32)> {
        let mut out: Vec<(&str, f32)> =
            self.weights.iter().filter_map(|(k, w)| other.weights.get(k).map(|v| (k.as_str(), w * v))).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        out
    }

    /// The heaviest keys.
    pub fn top(&self, n: usize) -> Vec<(String, f32)> {
        let mut v: Vec<(String, f32)> = self.weights.iter().map(|(k, w)| (k.clone(), *w)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Sublinear TF-IDF of the stems.
pub fn text_vector(a: &Analysis, stats: &CorpusStats) -> SparseVec {
    let weights = a
        .terms
        .iter()
        .map(|t| (t.stem.clone(), (1.0 + (t.tf as f32).ln()) * stats.term_idf(&t.stem)))
        .collect();
    SparseVec::normalised(weights)
}

/// Sublinear, idf-weighted entity mentions; a person also counts under their
/// bare surname so that "Sheinbaum" elsewhere matches "Claudia Sheinbaum".
pub fn entity_vector(a: &Analysis, stats: &CorpusStats) -> SparseVec {
    let mut weights: HashMap<String, f32> = HashMap::new();
    for e in &a.entities {
        let tf = 1.0 + (e.count as f32).ln();
        for key in match_keys(e) {
            let w = tf * stats.entity_idf(&key);
            let slot = weights.entry(key).or_default();
            *slot = slot.max(w);
        }
    }
    SparseVec::normalised(weights)
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
    fn cosine_is_one_for_same_and_zero_for_disjoint() {
        let stats = CorpusStats { docs: 10, term_df: [("a".to_string(), 9), ("b".to_string(), 1)].into(), ..Default::default() };
        let x = text_vector(&analysis(&[("a", 2), ("b", 1)]), &stats);
        let y = text_vector(&analysis(&[("c", 1)]), &stats);
        assert!((x.cosine(&x) - 1.0).abs() < 1e-5);
        assert_eq!(x.cosine(&y), 0.0);
        // The rare term dominates.
        assert_eq!(x.top(1)[0].0, "b");
        assert!((stats.idf(0) - ((11.0f32).ln() + 1.0)).abs() < 1e-6);
    }
}
