//! The baselines every evaluation runs beside readnext, implemented the
//! straightforward way their users know them:
//!
//! - `tfidf`: scikit-learn's `TfidfVectorizer(sublinear_tf=True,
//!   stop_words="english")` (token pattern `\w\w+`, lower case, smoothed idf,
//!   L2 norm) and cosine similarity;
//! - `bm25_mlt`: Lucene's "more like this": the 25 terms of the query
//!   document with the highest tf·idf, scored with BM25 (k1 = 1.2,
//!   b = 0.75). No term-frequency or document-frequency floor: with Lucene's
//!   floors (2 and 5) short news texts keep too few terms, and the published
//!   reference figures for these datasets are reproduced without them;
//! - `random`: a seeded random order.

use std::collections::HashMap;

use readnext_analysis::ENGLISH_STOP_WORDS;

/// scikit-learn's default tokenisation: lower-cased runs of two or more word characters.
pub fn sk_tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| t.chars().nth(1).is_some() && ENGLISH_STOP_WORDS.binary_search(t).is_err())
        .map(str::to_string)
        .collect()
}

/// A tokenised collection with its vocabulary statistics.
pub struct LexCorpus {
    /// Per document: term id → count.
    docs: Vec<HashMap<u32, u32>>,
    /// Document lengths in tokens.
    lens: Vec<u32>,
    /// Document frequency per term id.
    df: Vec<u32>,
    /// Postings: term id → (doc, count).
    postings: Vec<Vec<(u32, u32)>>,
}

impl LexCorpus {
    /// Tokenises every text.
    pub fn new(texts: &[String]) -> LexCorpus {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut docs = Vec::with_capacity(texts.len());
        let mut lens = Vec::with_capacity(texts.len());
        for t in texts {
            let toks = sk_tokens(t);
            lens.push(toks.len() as u32);
            let mut counts: HashMap<u32, u32> = HashMap::new();
            for tok in toks {
                let n = vocab.len() as u32;
                let id = *vocab.entry(tok).or_insert(n);
                *counts.entry(id).or_default() += 1;
            }
            docs.push(counts);
        }
        let mut df = vec![0u32; vocab.len()];
        let mut postings = vec![Vec::new(); vocab.len()];
        for (d, counts) in docs.iter().enumerate() {
            for (&t, &c) in counts {
                df[t as usize] += 1;
                postings[t as usize].push((d as u32, c));
            }
        }
        LexCorpus { docs, lens, df, postings }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there is no document.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// TF-IDF vectors (scikit-learn's settings) and cosine similarity.
pub struct Tfidf {
    vecs: Vec<Vec<(u32, f32)>>,
    /// term id → (doc, weight)
    postings: Vec<Vec<(u32, f32)>>,
}

impl Tfidf {
    /// Fits on the corpus.
    pub fn new(c: &LexCorpus) -> Tfidf {
        let n = c.len() as f32;
        let idf: Vec<f32> = c.df.iter().map(|&df| ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0).collect();
        let mut postings = vec![Vec::new(); c.df.len()];
        let vecs: Vec<Vec<(u32, f32)>> = c
            .docs
            .iter()
            .enumerate()
            .map(|(d, counts)| {
                let mut v: Vec<(u32, f32)> =
                    counts.iter().map(|(&t, &tf)| (t, (1.0 + (tf as f32).ln()) * idf[t as usize])).collect();
                let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for (_, w) in v.iter_mut() {
                        *w /= norm;
                    }
                }
                v.sort_unstable_by_key(|e| e.0);
                for &(t, w) in &v {
                    postings[t as usize].push((d as u32, w));
                }
                v
            })
            .collect();
        Tfidf { vecs, postings }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.vecs.len()
    }

    /// Whether there is no document.
    pub fn is_empty(&self) -> bool {
        self.vecs.is_empty()
    }

    /// The unit TF-IDF vector of document `d`: (term id, weight), by term id.
    pub fn vector(&self, d: usize) -> &[(u32, f32)] {
        &self.vecs[d]
    }

    /// Cosine similarity of two documents.
    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        let (x, y) = (&self.vecs[a], &self.vecs[b]);
        let (mut i, mut j, mut s) = (0, 0, 0.0);
        while i < x.len() && j < y.len() {
            match x[i].0.cmp(&y[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += x[i].1 * y[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }

    /// Every other document by cosine, best first (ties by index), cut at `k`.
    pub fn rank(&self, q: usize, k: usize) -> Vec<(usize, f32)> {
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for &(t, w) in &self.vecs[q] {
            for &(d, v) in &self.postings[t as usize] {
                *acc.entry(d).or_default() += w * v;
            }
        }
        top_k(acc.into_iter().filter(|(d, _)| *d as usize != q).map(|(d, s)| (d as usize, s)).collect(), k)
    }
}

/// Lucene-style "more like this" over BM25.
pub struct Bm25Mlt<'c> {
    c: &'c LexCorpus,
    avgdl: f32,
    min_tf: u32,
    min_df: u32,
}

const K1: f32 = 1.2;
const B: f32 = 0.75;
const MLT_TERMS: usize = 25;
const MIN_TF: u32 = 1;
const MIN_DF: u32 = 1;

impl<'c> Bm25Mlt<'c> {
    /// Prepares scoring over the corpus.
    pub fn new(c: &'c LexCorpus) -> Bm25Mlt<'c> {
        Self::with_limits(c, MIN_TF, MIN_DF)
    }

    /// Prepares scoring with other term-frequency and document-frequency floors.
    pub fn with_limits(c: &'c LexCorpus, min_tf: u32, min_df: u32) -> Bm25Mlt<'c> {
        let avgdl = c.lens.iter().map(|&l| l as f32).sum::<f32>() / c.len().max(1) as f32;
        Bm25Mlt { c, avgdl, min_tf, min_df }
    }

    /// The query terms of document `q`: top 25 by tf × classic idf.
    pub fn query_terms(&self, q: usize) -> Vec<u32> {
        let n = self.c.len() as f32;
        let mut terms: Vec<(u32, f32)> = self.c.docs[q]
            .iter()
            .filter(|&(&t, &tf)| tf >= self.min_tf && self.c.df[t as usize] >= self.min_df)
            .map(|(&t, &tf)| (t, tf as f32 * (1.0 + (n / (self.c.df[t as usize] as f32 + 1.0)).ln())))
            .collect();
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        terms.truncate(MLT_TERMS);
        terms.into_iter().map(|t| t.0).collect()
    }

    fn idf(&self, t: u32) -> f32 {
        let n = self.c.len() as f32;
        let df = self.c.df[t as usize] as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn tf_part(&self, tf: u32, d: usize) -> f32 {
        let tf = tf as f32;
        tf / (tf + K1 * (1.0 - B + B * self.c.lens[d] as f32 / self.avgdl.max(1e-6)))
    }

    /// BM25 score of document `d` for the MLT query of `q`.
    pub fn score(&self, q: usize, d: usize) -> f32 {
        self.query_terms(q)
            .into_iter()
            .filter_map(|t| self.c.docs[d].get(&t).map(|&tf| self.idf(t) * self.tf_part(tf, d)))
            .sum()
    }

    /// Every other document by BM25 for the MLT query of `q`, best first, cut at `k`.
    pub fn rank(&self, q: usize, k: usize) -> Vec<(usize, f32)> {
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for t in self.query_terms(q) {
            let idf = self.idf(t);
            for &(d, tf) in &self.c.postings[t as usize] {
                *acc.entry(d).or_default() += idf * self.tf_part(tf, d as usize);
            }
        }
        top_k(acc.into_iter().filter(|(d, _)| *d as usize != q).map(|(d, s)| (d as usize, s)).collect(), k)
    }
}

fn top_k(mut v: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(k);
    v
}

/// A small seeded generator (SplitMix64): reproducible runs without a dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `k` distinct indexes of `0..n` other than `skip`, in random order.
    pub fn sample(&mut self, n: usize, skip: usize, k: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).filter(|&i| i != skip).collect();
        let k = k.min(pool.len());
        for i in 0..k {
            let j = i + (self.next_u64() % (pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_scikit_learn() {
        assert_eq!(sk_tokens("The U.S. fights cartels, a_b x 25%"), ["fights", "cartels", "a_b", "25"]);
    }

    #[test]
    fn tfidf_and_mlt_rank_the_similar_document_first() {
        let texts: Vec<String> = [
            "cartels cartels tariffs mexico border",
            "cartels mexico border tariffs trade",
            "baseball season opens with a home run",
            "baseball home run record season",
            "mexico cartels cartels fentanyl border",
            "filler words about nothing much",
            "more filler words about other things",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = LexCorpus::new(&texts);
        let t = Tfidf::new(&c);
        assert!((t.cosine(0, 0) - 1.0).abs() < 1e-5);
        let r = t.rank(2, 3);
        assert_eq!(r[0].0, 3);
        assert!(r.iter().all(|(d, _)| *d != 2));
        let m = Bm25Mlt::with_limits(&c, 1, 1);
        assert!(m.score(0, 4) > m.score(0, 2));
        let mut rng = Rng::new(7);
        let s = rng.sample(10, 3, 5);
        assert_eq!(s.len(), 5);
        assert!(!s.contains(&3));
        assert_eq!(Rng::new(7).sample(10, 3, 5), s);
    }
}
