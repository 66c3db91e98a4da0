use readnext_index::Filter;

/// Weights of the signals fused into one relevance score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Cosine of the TF-IDF vectors of the stems.
    pub text: f32,
    /// Cosine of the entity vectors (idf-weighted mention counts).
    pub entities: f32,
    /// Share of keyphrases in common.
    pub keyphrases: f32,
    /// Share of the final relevance that comes from the cosine of the
    /// sentence embeddings, when both articles have one (the rest is the
    /// lexical score above, feedback included), for two articles of
    /// `long_terms` distinct stems or more.
    pub dense: f32,
    /// The same share when both have `short_terms` distinct stems or fewer
    /// (a headline and a sentence); between the two lengths it
    /// moves from one to the other on a log scale. A short text's TF-IDF
    /// vector rests on a handful of words and is noisy where the embedding
    /// is not: see [`Weights::dense_share`].
    pub dense_short: f32,
    /// At or below this many distinct stems, a text is short.
    pub short_terms: u16,
    /// At or above this many distinct stems, a text is long.
    pub long_terms: u16,
    /// Embedding cosines at or below this count as no similarity: unrelated
    /// news articles still sit around 0.1–0.3 apart.
    pub dense_floor: f32,
    /// The relevance of two articles in different languages is multiplied
    /// by this. Their stems and keyphrases cannot match and the English
    /// embedding model spans languages poorly, so without it the same story
    /// in another language scores below loosely related stories in the
    /// reader's own. 1 turns it off.
    pub cross_lingual: f32,
}

impl Weights {
    /// Weights with the embedding signal off (lexical only).
    pub fn lexical(self) -> Weights {
        Weights { dense: 0.0, dense_short: 0.0, ..self }
    }

    /// The embedding's share of relevance for two texts of `terms_a` and
    /// `terms_b` distinct stems: [`Weights::dense_short`] up to
    /// `short_terms` for the longer of the two, [`Weights::dense`] from
    /// `long_terms`, and linear in the logarithm of the length between.
    /// The longer text decides: with it, the TF-IDF cosine has the long
    /// article's whole vocabulary to find the short one's words in (the
    /// shorter text deciding cost 0.8 nDCG@10 on ECB+, whose articles run
    /// from 30 to 280 distinct stems, and gained nothing elsewhere).
    pub fn dense_share(&self, terms_a: usize, terms_b: usize) -> f32 {
        let n = terms_a.max(terms_b).max(1) as f32;
        let lo = f32::from(self.short_terms.max(1)).ln();
        let hi = f32::from(self.long_terms.max(self.short_terms.max(1).saturating_add(1))).ln();
        let t = ((n.ln() - lo) / (hi - lo)).clamp(0.0, 1.0);
        self.dense_short + t * (self.dense - self.dense_short)
    }
}

impl Default for Weights {
    /// Chosen by leave-one-dataset-out over the dev sets of
    /// `readnext eval related --suite` (see docs/eval.md).
    fn default() -> Self {
        Weights {
            text: 0.8,
            entities: 0.1,
            keyphrases: 0.05,
            dense: 0.35,
            dense_short: 0.8,
            short_terms: 20,
            long_terms: 60,
            dense_floor: 0.2,
            cross_lingual: 2.2,
        }
    }
}

/// Options of a `related` query.
#[derive(Debug, Clone)]
pub struct RelatedOptions {
    /// How many picks.
    pub k: usize,
    /// Language, date and section restrictions.
    pub filter: Filter,
    /// Signal weights.
    pub weights: Weights,
    /// How much closeness in time can change a score: a pick published
    /// `recency_days` away from the query keeps `1 - recency_weight * (1 - 1/e)`
    /// of its relevance. 0 turns recency off.
    pub recency_weight: f32,
    /// The time scale of the recency decay, in days.
    pub recency_days: f32,
    /// MMR trade-off: 1 ranks by relevance alone, lower values favour picks
    /// unlike the ones already chosen.
    pub mmr_lambda: f32,
    /// Two articles whose SimHash differ in at most this many bits are copies.
    pub dup_bits: u32,
    /// Two articles whose text cosine is at least this are copies.
    pub dup_cosine: f32,
    /// Candidates taken from each retrieval list.
    pub candidates: usize,
    /// Pseudo-relevance feedback: how much of the text score comes from
    /// similarity to the centroid of the best first-pass candidates (0 turns
    /// it off). It brings in the story's other words.
    pub feedback: f32,
    /// How many first-pass candidates make the feedback centroid.
    pub feedback_docs: usize,
    /// Pivoted length normalisation of the text score: 1 is plain cosine,
    /// lower values stop cosine from favouring short articles over long
    /// ones that cover the story in full.
    pub length_slope: f32,
}

impl Default for RelatedOptions {
    fn default() -> Self {
        RelatedOptions {
            k: 8,
            filter: Filter::default(),
            weights: Weights::default(),
            recency_weight: 0.2,
            recency_days: 120.0,
            mmr_lambda: 0.9,
            dup_bits: 3,
            dup_cosine: 0.92,
            candidates: 150,
            feedback: 0.4,
            feedback_docs: 3,
            length_slope: 0.75,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedding_weighs_more_the_shorter_the_longer_text() {
        let w = Weights { dense: 0.3, dense_short: 0.7, short_terms: 30, long_terms: 120, ..Weights::default() };
        // The longer of the two texts decides, whichever side it is on.
        assert_eq!(w.dense_share(10, 30), 0.7);
        assert_eq!(w.dense_share(30, 5), 0.7);
        assert!((w.dense_share(10, 120) - 0.3).abs() < 1e-6);
        assert!((w.dense_share(900, 10) - 0.3).abs() < 1e-6);
        assert_eq!(w.dense_share(60, 200), w.dense_share(200, 60));
        let shares: Vec<f32> = (30..=120).map(|n| w.dense_share(n, n)).collect();
        assert!(shares.windows(2).all(|p| p[1] <= p[0]), "{shares:?}");
        // Halfway on the log scale (60 is the geometric mean of 30 and 120).
        assert!((w.dense_share(60, 60) - 0.5).abs() < 1e-6);
        assert_eq!(Weights::default().lexical().dense_share(10, 10), 0.0);
    }
}
