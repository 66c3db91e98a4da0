//! `readnext eval`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use readnext_recommend::RelatedOptions;

#[derive(Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    task: Task,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Task {
    /// Related-article relevance: ecbplus, semeval, bbc, agnews or labeled-jsonl.
    Related {
        /// Dataset kind.
        #[arg(long)]
        dataset: String,
        /// Path of the dataset (folder or file); defaults under $READNEXT_DATA.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write a self-contained HTML report (and result.json) into this folder.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Length of the ranked lists (MAP depth).
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Weight of the text signal (default: the engine's).
        #[arg(long)]
        w_text: Option<f32>,
        /// Weight of the entity signal.
        #[arg(long)]
        w_entities: Option<f32>,
        /// Weight of the keyphrase signal.
        #[arg(long)]
        w_keyphrases: Option<f32>,
        /// MMR trade-off.
        #[arg(long)]
        mmr_lambda: Option<f32>,
        /// Pseudo-relevance feedback weight.
        #[arg(long)]
        feedback: Option<f32>,
        /// Number of documents in the feedback centroid.
        #[arg(long)]
        feedback_docs: Option<usize>,
        /// Pivoted length normalisation slope (1 = cosine).
        #[arg(long)]
        length_slope: Option<f32>,
    },
    /// Personalised ranking of MIND impressions (AUC, MRR, nDCG@5, nDCG@10),
    /// scored through the reader ranker, with the baselines in the same run.
    Mind {
        /// Folder of MIND CSV files to score (default: $READNEXT_DATA/mind-subset).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Folder of MIND CSV files to fit on; without it, cross-validation
        /// over --data grouped by impression id.
        #[arg(long)]
        train: Option<PathBuf>,
        /// Folds of the cross-validation.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write a self-contained HTML report (and result.json) into this folder.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

fn data_root() -> PathBuf {
    std::env::var_os("READNEXT_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from)
}

fn default_path(dataset: &str) -> PathBuf {
    let root = data_root();
    match dataset {
        "ecbplus" => root.join("ecbplus"),
        "semeval" => root.join("semeval2022-task8/training_set.csv"),
        "bbc" => root.join("bbc"),
        "agnews" => root.join("ag_news/test.csv"),
        _ => root,
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    match args.task {
        Task::Related {
            dataset,
            data,
            format,
            report,
            depth,
            w_text,
            w_entities,
            w_keyphrases,
            mmr_lambda,
            feedback,
            feedback_docs,
            length_slope,
        } => {
            let path = data.unwrap_or_else(|| default_path(&dataset));
            let mut opts = RelatedOptions::default();
            if let Some(w) = w_text {
                opts.weights.text = w;
            }
            if let Some(w) = w_entities {
                opts.weights.entities = w;
            }
            if let Some(w) = w_keyphrases {
                opts.weights.keyphrases = w;
            }
            if let Some(l) = mmr_lambda {
                opts.mmr_lambda = l;
            }
            if let Some(f) = feedback {
                opts.feedback = f;
            }
            if let Some(n) = feedback_docs {
                opts.feedback_docs = n;
            }
            if let Some(s) = length_slope {
                opts.length_slope = s;
            }
            let run = if dataset == "semeval" {
                let pairs = readnext_eval::semeval(&path)?;
                readnext_eval::run_semeval(&pairs, &opts, std::slice::from_ref(&path))?
            } else {
                let set = readnext_eval::load_related(&dataset, &path)?;
                readnext_eval::run_related(&set, depth.max(10), &opts)?
            };
            finish(&run, format, report)
        }
        Task::Mind { data, train, folds, format, report } => {
            let data = data.unwrap_or_else(|| data_root().join("mind-subset"));
            let opts = readnext_eval::MindOptions { folds, ..Default::default() };
            let (run, models) = readnext_eval::run_mind(&data, train.as_deref(), &opts)?;
            if format == Format::Table {
                // The figures the ranker learned, per fold: what it uses to get there.
                for (i, m) in models.iter().enumerate() {
                    let w: Vec<String> = readnext_recommend::FEATURE_NAMES
                        .iter()
                        .zip(&m.weights)
                        .map(|(n, w)| format!("{n}={w:+.2}"))
                        .collect();
                    outln!("fold {} ranker ({} examples, {} clicks): {}", i + 1, m.examples, m.positives, w.join(" "));
                }
            }
            finish(&run, format, report)
        }
    }
}

fn finish(run: &readnext_eval::EvalRun, format: Format, report: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match format {
        Format::Table => out!("{}", readnext_eval::to_table(run)),
        Format::Json => {
            let mut v = readnext_eval::to_json(run);
            if run.dataset == "mind" {
                v["impressions"] = serde_json::json!(run.queries);
            }
            outln!("{}", serde_json::to_string_pretty(&v)?)
        }
    }
    if let Some(dir) = report {
        readnext_eval::write_html(run, &dir)?;
        eprintln!("report written to {}", dir.join("index.html").display());
    }
    Ok(ExitCode::SUCCESS)
}
