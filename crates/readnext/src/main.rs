//! The `readnext` command: flags and glue over the library crates.

/// `println!` that treats a closed stdout (`readnext … | head`) as the end
/// of the reader's interest, not as an error.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `print!`, likewise.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

mod bench;
mod eval_cmd;
mod events_cmd;
mod ingest_cmd;
mod related_cmd;
mod serve_cmd;
mod stories_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

// Analysis allocates many short-lived strings and vectors on every core;
// mimalloc's per-thread free lists make that markedly cheaper than glibc's
// malloc (measured with `readnext bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// readnext: fills the "Recommended" block under a news article.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Store folder (the embedded database and its index).
    #[arg(long, global = true, env = "READNEXT_STORE", default_value = ".readnext")]
    store: PathBuf,
    /// Log level filter (also RUST_LOG), e.g. `info` or `readnext=debug`.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(flatten)]
    model: ModelArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest articles from files and folders (recursively).
    Ingest(ingest_cmd::IngestArgs),
    /// Print the related block of a stored article or of a page file.
    Related(related_cmd::RelatedArgs),
    /// List recent or trending stories: the articles grouped by event.
    Stories(stories_cmd::StoriesArgs),
    /// Print one story so far: by id, by one of its articles, or for a page
    /// file that is not stored.
    Story(stories_cmd::StoryArgs),
    /// Report what is stored.
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
        format: StatsFormat,
    },
    /// Rebuild the derived index from the store.
    Reindex,
    /// Embed the stored articles that have no vector yet: after a lexical
    /// ingest, or once the model is installed. Re-running it is a no-op.
    Embed,
    /// Measure ingest throughput and related-query latency against a baseline.
    Bench(bench::BenchArgs),
    /// Measure relevance on a labelled dataset, with baselines in the same run.
    Eval(eval_cmd::EvalArgs),
    /// Serve the HTTP API, the widget, the fragment and the editor page.
    Serve(serve_cmd::ServeArgs),
    /// Record reading events from JSON Lines files (impressions and clicks).
    Events {
        /// JSON Lines files of events.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Erase everything recorded about a reader.
    Forget {
        /// The reader id.
        user: String,
    },
    /// Fit the reader ranker on the recorded events and store it.
    Train {
        /// L2 penalty.
        #[arg(long, default_value_t = 1e-3)]
        l2: f32,
        /// Gradient-descent iterations.
        #[arg(long, default_value_t = 300)]
        iterations: usize,
    },
}

/// Where the sentence-embedding model is, and whether to use it.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Folder of the sentence-embedding model (scripts/fetch-model.sh installs it).
    #[arg(long, global = true, env = "READNEXT_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    /// Do not load the model: lexical retrieval only.
    #[arg(long, global = true)]
    lexical: bool,
    /// Tokens embedded per article (headline, dek and lead).
    #[arg(long, global = true, default_value_t = readnext_embed::EncoderOptions::default().max_tokens)]
    max_tokens: usize,
    /// Engine for the model: auto or onnx, both ONNX Runtime with int8
    /// weights (scripts/fetch-model.sh installs it).
    #[arg(long, global = true, env = "READNEXT_RUNTIME", default_value = "auto")]
    runtime: readnext_embed::Runtime,
}

impl ModelArgs {
    /// The encoder; `None` (with a warning saying how to install it) when
    /// the model is not there, or with `--lexical`.
    pub fn load(&self) -> anyhow::Result<Option<Arc<readnext_embed::Encoder>>> {
        if self.lexical {
            return Ok(None);
        }
        let opts =
            readnext_embed::EncoderOptions { max_tokens: self.max_tokens, runtime: self.runtime, ..Default::default() };
        match readnext_embed::Encoder::load(&self.model, opts) {
            Ok(e) => {
                tracing::info!("embedding with {} ({})", readnext_embed::MODEL_NAME, e.runtime_name());
                Ok(Some(Arc::new(e)))
            }
            Err(e @ readnext_embed::EmbedError::MissingFile { .. }) => {
                eprintln!("warning: {e}; retrieval is lexical only");
                Ok(None)
            }
            Err(e) => Err(e).context("cannot load the sentence-embedding model (or pass --lexical)"),
        }
    }
}

/// A progress bar on stderr for `len` steps of `what`.
pub(crate) fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let template =
        format!("{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum StatsFormat {
    Text,
    Json,
}

/// Exit status: 0 success, 1 some inputs failed (the rest was done), 2 the
/// command itself failed.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => ingest_cmd::run(&cli.store, &cli.model, args),
        Command::Related(args) => related_cmd::run(&cli.store, &cli.model, args),
        Command::Stories(args) => stories_cmd::stories(&cli.store, args),
        Command::Story(args) => stories_cmd::story(&cli.store, args),
        Command::Stats { format } => stats(&cli.store, format),
        Command::Reindex => {
            let engine = open_with_model(&cli.store, &cli.model)?;
            let started = std::time::Instant::now();
            let n = engine.reindex()?;
            outln!("reindexed {n} articles in {:.1}s", started.elapsed().as_secs_f64());
            // Articles stored before the model was installed get their vectors now.
            if engine.encoder().is_some() {
                embed_missing(&engine)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Embed => {
            let engine = open_with_model(&cli.store, &cli.model)?;
            if engine.encoder().is_none() {
                anyhow::bail!(
                    "no sentence-embedding model to embed with (in {}): run scripts/fetch-model.sh, without --lexical",
                    cli.model.model.display()
                );
            }
            embed_missing(&engine)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench::run(args, &cli.model),
        Command::Eval(args) => eval_cmd::run(args, &cli.model),
        Command::Serve(args) => serve_cmd::run(&cli.store, &cli.model, args),
        Command::Events { paths } => events_cmd::events(&cli.store, &paths),
        Command::Forget { user } => events_cmd::forget(&cli.store, &user),
        Command::Train { l2, iterations } => events_cmd::train(&cli.store, l2, iterations),
    }
}

fn open(store: &Path) -> anyhow::Result<readnext_recommend::Engine> {
    readnext_recommend::Engine::open(store).with_context(|| format!("cannot open the store at {}", store.display()))
}

/// Embeds the stored articles without a vector, with a progress bar, and
/// says how many.
fn embed_missing(engine: &readnext_recommend::Engine) -> anyhow::Result<usize> {
    let missing = engine.store().len()?.saturating_sub(engine.store().vector_count()?);
    if missing == 0 {
        outln!("every stored article has its vector");
        return Ok(0);
    }
    let bar = progress_bar(missing, "embedded");
    let started = std::time::Instant::now();
    let done = engine.embed_missing(&|k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    outln!("embedded {done} articles in {:.1}s", started.elapsed().as_secs_f64());
    Ok(done)
}

/// The engine with the encoder, when the model is installed.
fn open_with_model(store: &Path, model: &ModelArgs) -> anyhow::Result<readnext_recommend::Engine> {
    let engine = open(store)?;
    Ok(match model.load()? {
        Some(e) => engine.with_encoder(e),
        None => engine,
    })
}

fn stats(store: &std::path::Path, format: StatsFormat) -> anyhow::Result<ExitCode> {
    let engine = open(store)?;
    let s = engine.store().stats()?;
    let index_docs = engine.index().num_docs();
    let index_bytes = engine.index().size_bytes();
    let lag = s.last_seq.saturating_sub(engine.index().applied_seq()?);
    let vectors = engine.store().vector_count()?;
    let dense = engine.dense();
    let dense_lag = s.last_seq.saturating_sub(dense.applied_seq());
    match format {
        StatsFormat::Json => {
            let v = serde_json::json!({
                "articles": s.articles,
                "by_lang": s.by_lang,
                "by_source": s.by_source,
                "store_bytes": s.store_bytes,
                "vectors": vectors,
                "index": {
                    "bm25": {"docs": index_docs, "bytes": index_bytes, "lag": lag},
                    "dense": {"vectors": dense.len(), "lag": dense_lag},
                },
            });
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        StatsFormat::Text => {
            outln!("articles: {}", s.articles);
            outln!("store:    {} ({})", store.display(), human_bytes(s.store_bytes));
            outln!("index:    {} documents, {}, {} changes behind", index_docs, human_bytes(index_bytes), lag);
            outln!("vectors:  {vectors} stored, {} in the HNSW index, {dense_lag} changes behind", dense.len());
            outln!("by language:");
            for (k, v) in &s.by_lang {
                outln!("  {k:<8} {v}");
            }
            outln!("by source:");
            for (k, v) in &s.by_source {
                outln!("  {k:<32} {v}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `12.3 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    let mut v = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 || unit == "GiB" {
            return if unit == "B" { format!("{n} B") } else { format!("{v:.1} {unit}") };
        }
        v /= 1024.0;
    }
    format!("{n} B")
}
