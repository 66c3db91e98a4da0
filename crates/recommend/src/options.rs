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
    /// lexical score above, feedback included).
    pub dense: f32,
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

impl Default for Weights {
    /// Fitted on the ECB+ and SemEval dev sets (see `readnext eval`).
    fn default() -> Self {
        Weights { text: 0.8, entities: 0.1, keyphrases: 0.05, dense: 0.35, dense_floor: 0.2, cross_lingual: 2.2 }
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
