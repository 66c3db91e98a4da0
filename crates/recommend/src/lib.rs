//! Recommendations: the engine that owns the store and its derived index,
//! the write path that keeps them in step, and the `related` ranking:
//! candidates, fusion, recency, near-duplicate collapsing, diversity and
//! explanations.
//!
//! The CLI, the evaluation harness and (later) the server all call
//! [`Engine::related`] and [`Engine::similarity`]; there is no second scorer.
#![warn(missing_docs)]

mod blocks;
mod engine;
mod features;
mod live;
mod options;
mod personal;
mod rank;
mod ranker;
mod stories;
mod story_index;
mod vectors;

pub use engine::{COMMIT_INTERVAL_MS, Engine, IngestOutcome, NEIGHBOURS, Query, STORY_PASS_SPACING};
pub use live::HORIZON_MS;
pub use options::{RelatedOptions, Weights};
pub use personal::UserOptions;
pub use ranker::{
    FEATURE_NAMES, FeatureRow, MODEL_VERSION, N_FEATURES, Popularity, RankerModel, TrainReport, center_slate,
    examination,
};
pub use stories::{StoryAssigner, StoryFeatures, StoryOptions};
pub use story_index::{StoryOrder, StoryQuery};
pub use vectors::CorpusStats;

/// Errors of the recommend crate.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] readnext_store::StoreError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] readnext_index::IndexError),
    /// The article could not be analysed.
    #[error(transparent)]
    Analysis(#[from] readnext_analysis::AnalysisError),
    /// The encoder failed.
    #[error(transparent)]
    Embed(#[from] readnext_embed::EmbedError),
    /// No article has that id.
    #[error("no article with id {0:?}")]
    NotFound(String),
}

/// Now, in milliseconds since the Unix epoch: the clock trending windows,
/// story views and event checks read.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests;
