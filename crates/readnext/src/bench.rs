//! `readnext bench`: ingest throughput, related-query latency and memory,
//! with a TF-IDF baseline (what a scikit-learn script does) in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use rayon::prelude::*;
use readnext_analysis::analyze;
use readnext_eval::{LexCorpus, Rng, Tfidf, peak_rss_bytes, peak_rss_growth_bytes, reset_peak_rss};
use readnext_ingest::{Options, collect_files, read_file};
use readnext_recommend::{Engine, Query, RelatedOptions};
use readnext_store::{Record, Write};

#[derive(Args)]
pub struct BenchArgs {
    /// Corpus to ingest (default: $READNEXT_DATA/wh-briefings).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Related queries to time (query articles drawn with a fixed seed).
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Also build synthetic stores of these sizes (articles), made by
    /// repeating the corpus with perturbed ids, dates and words, and report
    /// how speed, latency, disk and memory grow. Comma-separated.
    #[arg(long, value_delimiter = ',')]
    scale: Vec<usize>,
    /// Keep each synthetic store, as DIR/N (N its size), for example to
    /// serve it to `scripts/bench-live.sh` (STORE=DIR/N); without it they
    /// are deleted. DIR/N must not exist yet.
    #[arg(long, value_name = "DIR")]
    keep_scaled: Option<PathBuf>,
    /// Skip the TF-IDF baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Articles whose headline and lead the embedding benchmark encodes
    /// (0 skips it; it needs the model).
    #[arg(long, default_value_t = 512)]
    embed: usize,
    /// Also embed the whole corpus and time hybrid related queries (BM25 +
    /// entities + HNSW dense retrieval) against the lexical ones.
    #[arg(long)]
    hybrid: bool,
}

struct Latency {
    p50: f64,
    p99: f64,
    mean: f64,
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms.get(((ms.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    Latency { p50: at(0.5), p99: at(0.99), mean: ms.iter().sum::<f64>() / ms.len().max(1) as f64 }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub fn run(args: BenchArgs, model: &crate::ModelArgs) -> anyhow::Result<ExitCode> {
    let data = args.data.unwrap_or_else(|| {
        std::env::var_os("READNEXT_DATA")
            .map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from)
            .join("wh-briefings")
    });
    let (files, errors) = collect_files(std::slice::from_ref(&data));
    if files.is_empty() {
        bail!("{}: no files to ingest ({} errors)", data.display(), errors.len());
    }
    // Read every file once, untimed: each system then starts from the same
    // warm page cache (the first one would otherwise pay for the disk).
    let warm: u64 = files.par_iter().map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    files.par_iter().for_each(|(_, p)| {
        let _ = std::fs::read(p);
    });
    outln!(
        "readnext bench on {} ({} files, {:.0} MiB, page cache warmed, {} threads)",
        data.display(),
        files.len(),
        mib(warm),
        rayon::current_num_threads()
    );
    outln!(
        "{:<44} {:>12} {:>10} {:>10} {:>10} {:>12}",
        "system",
        "ingest doc/s",
        "p50 ms",
        "p99 ms",
        "mean ms",
        "peak MiB"
    );

    // readnext: the real ingest path (read, parse, analyse, store, index).
    let dir = tempfile::tempdir()?;
    reset_peak_rss();
    let started = Instant::now();
    let engine = Engine::open(dir.path())?;
    let totals = crate::ingest_cmd::ingest(
        &engine,
        &crate::ingest_cmd::Target::Store,
        std::slice::from_ref(&data),
        &Options::default(),
        crate::ingest_cmd::DEFAULT_BATCH,
        true,
        |_| {},
    )?;
    engine.finish()?;
    let ingest_s = started.elapsed().as_secs_f64();
    let stored = engine.store().len()? as usize;
    let ids = sample_ids(&engine, args.queries)?;
    let queries: Vec<Query> = ids.iter().map(|id| engine.query_for_id(id)).collect::<Result<_, _>>()?;
    let opts = RelatedOptions::default();
    // The first query pays for statistics and caches: report it apart.
    let cold = Instant::now();
    let first = engine.related(&queries[0], &opts)?;
    let cold_ms = cold.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::with_capacity(queries.len());
    let mut picks = first.len();
    // The first query's block is cached now: time the others.
    for q in &queries[1..] {
        let t = Instant::now();
        picks += engine.related(q, &opts)?.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let lat = latency(times);
    let peak = peak_rss_bytes();
    outln!(
        "{:<44} {:>12.0} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
        "readnext (BM25 + entities, fused, k=8)",
        totals.files as f64 / ingest_s,
        lat.p50,
        lat.p99,
        lat.mean,
        mib(peak)
    );
    outln!(
        "  {} articles stored in {:.1}s; first query {:.1} ms; {} picks over {} queries; store {:.1} MiB, index {:.1} MiB",
        stored,
        ingest_s,
        cold_ms,
        picks,
        queries.len(),
        mib(engine.store().stats()?.store_bytes),
        mib(engine.index().size_bytes())
    );
    if totals.failed_files > 0 {
        outln!("  {} files failed to ingest", totals.failed_files);
    }
    store_bytes_per_article(&engine, stored)?;
    stories_bench(&engine, lat.p50)?;

    if !args.no_baseline {
        baseline(&files, &ids)?;
    }
    let mut engine = Some(engine);
    if let Some(e) = engine.as_ref()
        && (args.embed > 0 || args.hybrid)
    {
        match model.load()? {
            Some(enc) => {
                if args.embed > 0 {
                    embed_bench(e, model, args.embed)?;
                }
                if args.hybrid {
                    hybrid_bench(engine.take(), enc, &ids, &lat)?;
                }
            }
            None => outln!("embedding benchmark skipped: no model (scripts/fetch-model.sh installs it)"),
        }
    }
    drop(engine);
    for n in args.scale {
        scaled(&data, n, args.queries, args.keep_scaled.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Embedding throughput on headline + lead, at 64 tokens (the issue's
/// yardstick) and at the configured limit, with the int8 encoder.
fn embed_bench(engine: &Engine, model: &crate::ModelArgs, n: usize) -> anyhow::Result<()> {
    use readnext_embed::{Encoder, EncoderOptions, article_text};
    let ids = sample_ids(engine, n)?;
    let texts: Vec<String> =
        engine.store().get_many(&ids)?.into_iter().flatten().map(|r| article_text(&r.article)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut limits = vec![64, model.max_tokens];
    limits.dedup();
    if !model.model.join(readnext_embed::ONNX_FILE).is_file() {
        outln!("embed: no {} in {}: run scripts/fetch-model.sh", readnext_embed::ONNX_FILE, model.model.display());
        return Ok(());
    }
    for max_tokens in limits {
        let enc =
            Encoder::load(&model.model, EncoderOptions { max_tokens, runtime: model.runtime, ..Default::default() })?;
        let tokens: usize = enc.token_counts(&refs)?.iter().sum();
        enc.embed(&refs[..refs.len().min(8)])?;
        let t = Instant::now();
        let vectors = enc.embed(&refs)?;
        let s = t.elapsed().as_secs_f64();
        outln!(
            "{:<50} {:>8.1} docs/s {:>9.0} tokens/s  ({} docs, {:.0} tokens each, {} threads)",
            format!("embed: {}, headline+lead <= {max_tokens} tok", enc.runtime_name()),
            vectors.len() as f64 / s,
            tokens as f64 / s,
            vectors.len(),
            tokens as f64 / vectors.len().max(1) as f64,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
    }
    Ok(())
}

/// Embeds the whole store, then times hybrid related queries on the same
/// query articles as the lexical run above.
fn hybrid_bench(
    engine: Option<Engine>,
    enc: std::sync::Arc<readnext_embed::Encoder>,
    ids: &[String],
    lexical: &Latency,
) -> anyhow::Result<()> {
    let Some(engine) = engine else { return Ok(()) };
    let engine = engine.with_encoder(enc);
    let n = engine.store().len()?;
    let bar = crate::progress_bar(n, "embedded");
    let t = Instant::now();
    let done = engine.embed_missing(&|k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    let embed_s = t.elapsed().as_secs_f64();
    let queries: Vec<Query> = ids.iter().map(|id| engine.query_for_id(id)).collect::<Result<_, _>>()?;
    let opts = RelatedOptions::default();
    engine.related(&queries[0], &opts)?;
    let mut times = Vec::with_capacity(queries.len());
    let mut dense_picks = 0;
    for q in &queries[1..] {
        let t = Instant::now();
        let picks = engine.related(q, &opts)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        dense_picks += picks.iter().filter(|p| p.why.signals.iter().any(|s| s.name == "dense_rank")).count();
    }
    let lat = latency(times);
    outln!(
        "{:<44} {:>12} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
        "readnext hybrid (+ HNSW dense, fused)",
        "",
        lat.p50,
        lat.p99,
        lat.mean,
        mib(peak_rss_bytes())
    );
    outln!(
        "  {done} articles embedded in {embed_s:.1}s ({:.1} docs/s); {} HNSW vectors, {:.1} MiB; {dense_picks} picks came from dense retrieval; lexical p50/p99 above: {:.2}/{:.2} ms",
        done as f64 / embed_s.max(1e-9),
        engine.dense().len(),
        mib(engine.dense().memory_bytes() as u64),
        lexical.p50,
        lexical.p99
    );
    engine.finish()?;
    Ok(())
}

fn sample_ids(engine: &Engine, n: usize) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    engine.store().for_each(|r| {
        all.push(r.article.id);
        Ok(())
    })?;
    if all.is_empty() {
        bail!("nothing was stored");
    }
    let mut rng = Rng::new(readnext_eval::SEED);
    Ok(rng.sample(all.len(), usize::MAX, n.max(1)).into_iter().map(|i| all[i].clone()).collect())
}

/// The scikit-learn way, in Rust: read every file, fit TF-IDF (sublinear tf,
/// English stop words) and answer each query by exhaustive cosine.
fn baseline(files: &[(PathBuf, PathBuf)], ids: &[String]) -> anyhow::Result<()> {
    reset_peak_rss();
    let started = Instant::now();
    let texts: Vec<(String, String)> = files
        .par_iter()
        .filter_map(|(root, path)| read_file(path, root, &Options::default()).ok())
        .flat_map_iter(|p| p.articles.into_iter().map(|a| (a.id.clone(), a.full_text())))
        .collect();
    let corpus = LexCorpus::new(&texts.iter().map(|t| t.1.clone()).collect::<Vec<_>>());
    let tfidf = Tfidf::new(&corpus);
    let ingest_s = started.elapsed().as_secs_f64();
    let pos: std::collections::HashMap<&str, usize> =
        texts.iter().enumerate().map(|(i, t)| (t.0.as_str(), i)).collect();
    let mut times = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(&q) = pos.get(id.as_str()) else { continue };
        let t = Instant::now();
        let hits = tfidf.rank(q, 10);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(hits);
    }
    let lat = latency(times);
    outln!(
        "{:<44} {:>12.0} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
        "baseline: TF-IDF exhaustive cosine (k=10)",
        texts.len() as f64 / ingest_s,
        lat.p50,
        lat.p99,
        lat.mean,
        mib(peak_rss_growth_bytes())
    );
    outln!("  (baseline keeps everything in memory and stores nothing; its peak is the rise above what was resident)");
    Ok(())
}

/// Builds a synthetic store of `n` articles from the corpus and reports its figures.
fn scaled(data: &PathBuf, n: usize, queries: usize, keep: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (files, _) = collect_files(std::slice::from_ref(data));
    let base: Vec<readnext_core::Article> = files
        .par_iter()
        .filter_map(|(root, path)| read_file(path, root, &Options::default()).ok())
        .flat_map_iter(|p| p.articles)
        .collect();
    if base.is_empty() {
        bail!("no articles to repeat");
    }
    let temp = tempfile::tempdir()?;
    let dir = match keep {
        Some(k) => {
            let d = k.join(n.to_string());
            if d.exists() {
                bail!("{} exists already: --keep-scaled does not write over a store", d.display());
            }
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => temp.path().to_path_buf(),
    };
    let mut engine = Engine::open(&dir)?;
    let mut rng = Rng::new(readnext_eval::SEED);
    let vocab: Vec<String> = base
        .iter()
        .take(200)
        .flat_map(|a| a.title.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    reset_peak_rss();
    let started = Instant::now();
    let mut made = 0usize;
    while made < n {
        let batch: Vec<readnext_core::Article> = (made..(made + 2048).min(n))
            .map(|i| {
                let mut a = base[i % base.len()].clone();
                let copy = i / base.len();
                if copy > 0 && !vocab.is_empty() {
                    a.id = format!("{}~{copy}", a.id);
                    a.url = None;
                    a.published = a.published.map(|p| p + (copy as i64) * 86_400 * 3);
                    // Perturb about one word in twenty so copies are not identical.
                    for p in a.body.iter_mut() {
                        let words: Vec<String> = p
                            .split_whitespace()
                            .map(|w| {
                                if rng.next_u64().is_multiple_of(20) {
                                    vocab[(rng.next_u64() % vocab.len() as u64) as usize].clone()
                                } else {
                                    w.to_string()
                                }
                            })
                            .collect();
                        *p = words.join(" ");
                    }
                }
                a
            })
            .collect();
        let writes: Vec<Write> = batch
            .into_par_iter()
            .filter_map(|article| {
                analyze(&article)
                    .ok()
                    .map(|analysis| Write::Upsert(Box::new(Record { article, analysis, vector: None })))
            })
            .collect();
        made += writes.len().max(1);
        engine.write_bulk(&writes).context("synthetic ingest")?;
    }
    engine.finish()?;
    engine.compact()?;
    let ingest_s = started.elapsed().as_secs_f64();
    let ids = sample_ids(&engine, queries)?;
    let qs: Vec<Query> = ids.iter().map(|id| engine.query_for_id(id)).collect::<Result<_, _>>()?;
    let opts = RelatedOptions::default();
    engine.related(&qs[0], &opts)?;
    let mut times = Vec::new();
    for q in qs.iter().skip(1) {
        let t = Instant::now();
        engine.related(q, &opts)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let lat = latency(times);
    outln!(
        "{:<44} {:>12.0} {:>10.2} {:>10.2} {:>10.2} {:>12.1}",
        format!("readnext, SYNTHETIC store of {} articles", engine.store().len()?),
        n as f64 / ingest_s,
        lat.p50,
        lat.p99,
        lat.mean,
        mib(peak_rss_growth_bytes())
    );
    outln!(
        "  synthetic: corpus repeated with perturbed ids, dates (+3 days a copy) and 5% of words; store {:.1} MiB, index {:.1} MiB (ingest excludes file reading, includes compaction)",
        mib(engine.store().stats()?.store_bytes),
        mib(engine.index().size_bytes())
    );
    stories_bench(&engine, lat.p50)?;
    Ok(())
}

/// Articles whose assignment [`stories_bench`] times, one by one.
const STORY_TAIL: usize = 500;

/// The stories of a store: the rebuild from the store (what every start
/// does), and what one new article costs the write path, its features and
/// its assignment, for the newest articles in time order, each assigned
/// after every older one, as a live newsroom's articles are. The related
/// query's median of the same run is printed beside it.
fn stories_bench(engine: &Engine, related_p50_ms: f64) -> anyhow::Result<()> {
    use readnext_recommend::{StoryAssigner, StoryFeatures, StoryOptions};
    let opts = StoryOptions::default();
    let started = Instant::now();
    let stories = engine.build_stories()?;
    let rebuild_s = started.elapsed().as_secs_f64();

    let mut keyed: Vec<((i64, String), StoryFeatures)> = Vec::new();
    engine.store().for_each(|r| {
        let f = StoryFeatures::of(&r.article, &r.analysis, opts.lead_words);
        keyed.push(((f.published.unwrap_or(i64::MIN), r.article.id), f));
        Ok(())
    })?;
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let tail = STORY_TAIL.min(keyed.len());
    let (older, newest) = keyed.split_at(keyed.len() - tail);
    let mut assigner = StoryAssigner::new(opts.clone());
    for ((_, id), f) in older {
        assigner.add_features(id, f);
    }
    let ids: Vec<&str> = newest.iter().map(|((_, id), _)| id.as_str()).collect();
    let mut times = Vec::with_capacity(tail);
    for rec in engine.store().get_many(&ids)?.into_iter().flatten() {
        let t = Instant::now();
        let f = StoryFeatures::of(&rec.article, &rec.analysis, opts.lead_words);
        assigner.add_features(&rec.article.id, &f);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let lat = latency(times);
    outln!(
        "  stories: {stories} from {} articles, rebuilt from the store in {rebuild_s:.2} s; one new article (features + assignment, the newest {tail}): p50 {:.3} ms, p99 {:.3} ms ({:.2}x the related p50 of this run)",
        keyed.len(),
        lat.p50,
        lat.p99,
        lat.p50 / related_p50_ms.max(1e-9)
    );
    Ok(())
}

/// Prints the store's bytes per article, in all and per table (the
/// document-frequency tables are the ones the statistics added).
fn store_bytes_per_article(engine: &Engine, stored: usize) -> anyhow::Result<()> {
    let n = stored.max(1) as f64;
    let file = engine.store().stats()?.store_bytes as f64;
    let tables = engine.store().table_bytes()?;
    let parts: Vec<String> =
        tables.iter().filter(|(_, b)| *b > 0).map(|(name, b)| format!("{name} {:.0}", *b as f64 / n)).collect();
    let used: u64 = tables.iter().map(|(_, b)| b).sum();
    outln!(
        "  store: {:.0} bytes per article in its tables ({:.0} in the file, before compaction); per table: {}",
        used as f64 / n,
        file / n,
        parts.join(", ")
    );
    Ok(())
}
