//! Offline evaluation: datasets, metrics, baselines and reports.
//!
//! readnext is always measured through the engine's public `related` and
//! `similarity` calls, the ones the CLI and the server use; the baselines are
//! computed by the harness on the same documents in the same run, so every
//! comparison is a ratio measured on one machine.
#![warn(missing_docs)]

mod baselines;
mod datasets;
mod memory;
mod metrics;
mod mind;
mod report;
mod run;
mod stories;
mod suite;

pub use baselines::{Bm25Mlt, LexCorpus, Rng, Tfidf, sk_tokens};
pub use datasets::{EvalDoc, Grading, Pair, RelatedSet, agnews, bbc, ecbplus, ecbplus_with, labeled_jsonl, semeval};
pub use memory::{peak_rss_bytes, peak_rss_growth_bytes, reset_peak_rss};
pub use metrics::{average_precision, average_ranks, ndcg_at, pearson, precision_at, spearman};
pub use mind::{
    MIND_SYSTEMS, MindOptions, MindRow, MindSet, News, auc, folds, load_mind, load_mind_set, mrr, ndcg, run_mind,
};
pub use report::{to_json, to_table, write_html};
pub use run::{Embedded, EvalRun, SEED, SystemResult, build_engine, run_related, run_semeval};
pub use stories::{
    AGGLOMERATIVE_THRESHOLD, ClusterScores, DISSIMILAR_MIN, LARGEST_SHOWN, LargestStory, PairRates, PairStoriesReport,
    Prf, SIMILAR_MAX, SINGLE_PASS_THRESHOLD, StoriesReport, StoryDoc, StoryOrder, StorySet, StorySizes, agglomerative,
    ari, b_cubed, ecbplus_stories, labeled_jsonl_stories, lead_only, nmi, pair_rates_table, pair_story_rates,
    run_stories, score, single_pass, stories_table, stream_order, write_stories_html,
};
pub use suite::{
    Bootstrap, GridPoint, HeldOut, LodoFold, SuiteColumn, SuiteSummary, corpus_of, leave_one_dataset_out, lodo_json,
    lodo_table, paired_bootstrap, suite_json, suite_summary, suite_table,
};

use std::path::{Path, PathBuf};

/// Errors of evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data is not what the dataset loader expects.
    #[error("{0}")]
    Data(String),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] readnext_recommend::RecommendError),
}

/// A fingerprint of the data: a hash of every file's name and size, so a
/// report says which data it was computed on.
pub fn fingerprint(files: &[PathBuf]) -> String {
    let mut s = String::new();
    for f in files {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        s.push_str(&format!("{name}:{size};"));
    }
    format!("{:016x}", readnext_core::fnv1a64(s.as_bytes()))
}

/// Loads a `related` dataset by name. `ecbplus-lead` and `bbc-lead` are
/// those sets cut to each article's headline and first paragraph: the same
/// labels on wire-brief lengths, where the lexical signals have a few dozen
/// words to go on.
pub fn load_related(name: &str, path: &Path) -> Result<RelatedSet, EvalError> {
    match name {
        "ecbplus" => ecbplus(path),
        "ecbplus-lead" => ecbplus(path).map(|s| related_lead(s, name)),
        "bbc" => bbc(path),
        "bbc-lead" => bbc(path).map(|s| related_lead(s, name)),
        "agnews" => agnews(path),
        "labeled-jsonl" => labeled_jsonl(path),
        other => Err(EvalError::Data(format!(
            "unknown dataset {other:?} (expected ecbplus, ecbplus-lead, semeval, bbc, bbc-lead, agnews or labeled-jsonl)"
        ))),
    }
}

/// `set` with every article cut to its headline and first paragraph.
fn related_lead(mut set: RelatedSet, name: &str) -> RelatedSet {
    for d in &mut set.docs {
        d.article.body.truncate(1);
    }
    set.name = name.to_string();
    set
}
