//! `readnext ingest`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use readnext_analysis::analyze;
use readnext_ingest::{Format, Options, collect_files, read_file};
use readnext_recommend::Engine;
use readnext_store::{Applied, Record, Write};

/// Files per store transaction by default.
pub const DEFAULT_BATCH: usize = 2048;

#[derive(Args)]
pub struct IngestArgs {
    /// Files and folders to ingest.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Input format: auto, page, markdown, jsonl, bbc, html or feed.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = readnext_ingest::DEFAULT_MAX_BYTES)]
    max_bytes: u64,
    /// Files per transaction: each batch is durable once reported. Larger
    /// batches amortise the store's copy-on-write commits.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    batch: usize,
    /// Write a JSON Lines report with one line per file to this path.
    #[arg(long)]
    report: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Cluster mode: publish the articles to the write log of the cluster
    /// on these NATS servers (`nats://HOST:PORT[,…]`) instead of writing a
    /// store; every node applies them. Analysis and embedding run here.
    #[arg(long, env = "READNEXT_CLUSTER", value_name = "URLS")]
    cluster: Option<String>,
}

/// Counters of one ingest run.
#[derive(Default, Debug, Clone, Copy)]
pub struct Totals {
    pub files: usize,
    pub failed_files: usize,
    pub failed_items: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Cluster mode: articles acknowledged by the write log.
    pub published: usize,
    /// Cluster mode: the log's sequence of the last one.
    pub last_sequence: u64,
}

/// Where an ingest writes.
pub enum Target<'a> {
    /// The local store, in bulk.
    Store,
    /// A cluster's write log.
    Log { log: &'a readnext_cluster::Log, rt: &'a tokio::runtime::Runtime },
}

enum FileOutcome {
    Ok { path: PathBuf, format: &'static str, records: Vec<Record>, item_errors: Vec<String> },
    Failed { path: PathBuf, error: String },
}

pub fn run(store: &Path, model: &crate::ModelArgs, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse()?;
    if let Some(servers) = &args.cluster {
        return publish(model, servers, format, &args);
    }
    let mut engine = crate::open_with_model(store, model)?;
    let opts = Options { format, max_bytes: args.max_bytes };
    // Unbuffered: a line is on disk as soon as its batch is committed, so
    // the report never claims more than the store holds, even after a crash.
    let mut report = match &args.report {
        Some(p) => Some(std::fs::File::create(p)?),
        None => None,
    };
    let started = Instant::now();
    let totals = ingest(&engine, &Target::Store, &args.paths, &opts, args.batch.max(1), args.quiet, |line| {
        if let Some(r) = report.as_mut() {
            let _ = writeln!(r, "{line}");
        }
    })?;
    if let Some(mut r) = report {
        r.flush()?;
    }
    let t = Instant::now();
    engine.finish()?;
    tracing::info!(secs = t.elapsed().as_secs_f64(), "index committed and merged");
    if totals.inserted + totals.updated > 0 {
        // Copy-on-write transactions leave free pages behind; a large ingest
        // would otherwise leave the file about twice its size.
        let t = Instant::now();
        engine.compact()?;
        tracing::info!(secs = t.elapsed().as_secs_f64(), "store compacted");
    }
    let secs = started.elapsed().as_secs_f64();
    let stored = totals.inserted + totals.updated + totals.unchanged;
    outln!(
        "ingested {} files in {:.1}s ({:.0} files/s): {} articles stored ({} new, {} updated, {} unchanged); {} files failed, {} items failed",
        totals.files,
        secs,
        totals.files as f64 / secs.max(1e-9),
        stored,
        totals.inserted,
        totals.updated,
        totals.unchanged,
        totals.failed_files,
        totals.failed_items
    );
    Ok(if totals.failed_files + totals.failed_items > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `readnext ingest --cluster`: analyses and embeds here (with an engine on
/// a scratch store, for the model), and publishes every article to the
/// cluster's log, batch by batch; a batch is reported once the log has
/// acknowledged it.
fn publish(model: &crate::ModelArgs, servers: &str, format: Format, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let servers = readnext_cluster::ClusterConfig::parse_servers(servers)?;
    let node = format!("ingest-{}", std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let log = rt.block_on(readnext_cluster::Log::connect(readnext_cluster::ClusterConfig::new(servers, node)))?;
    let scratch = tempfile::tempdir()?;
    let engine = crate::open_with_model(scratch.path(), model)?;
    let opts = Options { format, max_bytes: args.max_bytes };
    let mut report = match &args.report {
        Some(p) => Some(std::fs::File::create(p)?),
        None => None,
    };
    let started = Instant::now();
    let target = Target::Log { log: &log, rt: &rt };
    // Batches of at most 256: each is published and acknowledged before
    // the next, so a failure loses at most one batch's acknowledgement.
    let totals = ingest(&engine, &target, &args.paths, &opts, args.batch.clamp(1, 256), args.quiet, |line| {
        if let Some(r) = report.as_mut() {
            let _ = writeln!(r, "{line}");
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    outln!(
        "published {} articles from {} files to the write log in {:.1}s ({:.0} articles/s), up to sequence {}; {} files failed, {} items failed",
        totals.published,
        totals.files,
        secs,
        totals.published as f64 / secs.max(1e-9),
        totals.last_sequence,
        totals.failed_files,
        totals.failed_items
    );
    Ok(if totals.failed_files + totals.failed_items > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Reads, analyses and stores (or publishes) every file under `paths`, in
/// batches. Failures are printed (one line each) and counted; the batch
/// goes on. `report` receives one JSON line per file.
pub fn ingest(
    engine: &Engine,
    target: &Target<'_>,
    paths: &[PathBuf],
    opts: &Options,
    batch: usize,
    quiet: bool,
    mut report: impl FnMut(String),
) -> anyhow::Result<Totals> {
    let (files, walk_errors) = collect_files(paths);
    let mut totals = Totals { failed_files: walk_errors.len(), ..Default::default() };
    for e in &walk_errors {
        eprintln!("error: {e}");
        report(serde_json::json!({"error": e.to_string()}).to_string());
    }
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(files.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Analysis of the next batch runs while the current one is written.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<FileOutcome>>(1);
    let written = std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(move || {
            for chunk in files.chunks(batch) {
                let outcomes: Vec<FileOutcome> =
                    chunk.par_iter().map(|(root, path)| process(root, path, opts)).collect();
                if tx.send(outcomes).is_err() {
                    break;
                }
            }
        });
        for outcomes in rx {
            write_batch(engine, target, outcomes, &mut totals, &bar, &mut report)?;
        }
        Ok(())
    });
    written?;
    bar.finish_and_clear();
    Ok(totals)
}

/// Stores one batch in one transaction and reports each file of it.
fn write_batch(
    engine: &Engine,
    target: &Target<'_>,
    mut outcomes: Vec<FileOutcome>,
    totals: &mut Totals,
    bar: &ProgressBar,
    report: &mut impl FnMut(String),
) -> anyhow::Result<()> {
    let mut batch = Vec::new();
    let mut owners = Vec::new();
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); outcomes.len()];
    for (i, o) in outcomes.iter_mut().enumerate() {
        if let FileOutcome::Ok { records, .. } = o {
            // Moved, not copied: the report needs only the ids and counts.
            for r in records.drain(..) {
                ids[i].push(r.article.id.clone());
                batch.push(r);
                owners.push(i);
            }
        }
    }
    // Sentence vectors, when the model is installed: written in the same
    // transaction as their articles.
    let embedded = std::cell::Cell::new(0usize);
    let total = batch.len();
    engine.embed_records(&mut batch, &|n| {
        embedded.set(embedded.get() + n);
        bar.set_message(format!("embedding {}/{total}", embedded.get()));
    })?;
    bar.set_message("");
    let writes: Vec<Write> = batch.into_iter().map(|r| Write::Upsert(Box::new(r))).collect();
    // One transaction per batch: once it returns, the batch is durable
    // and only then reported as stored.
    let applied = match target {
        Target::Store => engine.write_bulk(&writes)?.applied,
        Target::Log { log, rt } => {
            let seqs = rt.block_on(log.publish_all(&writes))?;
            totals.published += seqs.len();
            totals.last_sequence = totals.last_sequence.max(seqs.iter().copied().max().unwrap_or(0));
            // Published, not yet applied: the nodes say what each did
            // (the counts of new, updated and unchanged stay 0).
            vec![Applied::Replayed; seqs.len()]
        }
    };
    let mut per_file: Vec<Vec<Applied>> = vec![Vec::new(); outcomes.len()];
    for (owner, a) in owners.into_iter().zip(applied) {
        per_file[owner].push(a);
    }
    for ((o, applied), ids) in outcomes.into_iter().zip(per_file).zip(ids) {
        totals.files += 1;
        match o {
            FileOutcome::Ok { path, format, item_errors, .. } => {
                for e in &item_errors {
                    bar.suspend(|| eprintln!("error: {e}"));
                }
                totals.failed_items += item_errors.len();
                let count = |k| applied.iter().filter(|a| **a == k).count();
                let (ins, upd, unch) = (count(Applied::Inserted), count(Applied::Updated), count(Applied::Unchanged));
                totals.inserted += ins;
                totals.updated += upd;
                totals.unchanged += unch;
                let line = match target {
                    Target::Store => serde_json::json!({"file": path, "format": format, "stored": applied.len(),
                        "new": ins, "updated": upd, "unchanged": unch, "ids": ids, "errors": item_errors}),
                    Target::Log { .. } => serde_json::json!({"file": path, "format": format,
                        "published": applied.len(), "ids": ids, "errors": item_errors}),
                };
                report(line.to_string());
            }
            FileOutcome::Failed { path, error } => {
                totals.failed_files += 1;
                bar.suspend(|| eprintln!("error: {error}"));
                report(serde_json::json!({"file": path, "error": error}).to_string());
            }
        }
        bar.inc(1);
    }
    Ok(())
}

fn process(root: &Path, path: &Path, opts: &Options) -> FileOutcome {
    let parsed = match read_file(path, root, opts) {
        Ok(p) => p,
        Err(e) => return FileOutcome::Failed { path: path.to_path_buf(), error: e.to_string() },
    };
    let mut records = Vec::with_capacity(parsed.articles.len());
    let mut item_errors: Vec<String> =
        parsed.errors.iter().map(|e| format!("{}:{}: {}", path.display(), e.line, e.message)).collect();
    for article in parsed.articles {
        match analyze(&article) {
            Ok(analysis) => records.push(Record { article, analysis, vector: None }),
            Err(e) => item_errors.push(format!("{}: {e}", path.display())),
        }
    }
    if records.is_empty() && !item_errors.is_empty() && parsed.format != Format::Jsonl && parsed.format != Format::Feed
    {
        return FileOutcome::Failed { path: path.to_path_buf(), error: item_errors.join("; ") };
    }
    FileOutcome::Ok { path: path.to_path_buf(), format: parsed.format.name(), records, item_errors }
}
