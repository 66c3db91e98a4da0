//! Running readnext and the baselines over a dataset, in one process, on the
//! same documents.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use rayon::prelude::*;
use readnext_analysis::analyze;
use readnext_recommend::{Engine, Query, RelatedOptions};
use readnext_store::{Record, Write};

use crate::EvalError;
use crate::baselines::{Bm25Mlt, LexCorpus, Rng, Tfidf};
use crate::datasets::{Grading, Pair, RelatedSet};
use crate::memory::{peak_rss_growth_bytes, reset_peak_rss};
use crate::metrics::{average_precision, ndcg_at, pearson, precision_at, spearman};

/// Seed of the random baseline; fixed so that runs are reproducible.
pub const SEED: u64 = 20_221_108;

/// Results of one system.
#[derive(Debug, Clone, Default)]
pub struct SystemResult {
    /// Metric name → value (x100 for accuracy metrics).
    pub metrics: BTreeMap<String, f64>,
    /// Nested metric groups (SemEval language subsets, MIND files).
    pub groups: BTreeMap<String, BTreeMap<String, f64>>,
    /// Wall time of the system's queries (and its index build), seconds.
    pub wall_s: f64,
    /// How far resident memory rose while it ran, MiB.
    pub peak_mib: f64,
    /// Per-query nDCG@10 (x100), for the distribution plot.
    pub per_query: Vec<f64>,
    /// Mean gain at each rank 1..=10, for the score-vs-rank plot.
    pub gain_at_rank: Vec<f64>,
}

/// A whole evaluation run.
#[derive(Debug, Clone, Default)]
pub struct EvalRun {
    /// Dataset name.
    pub dataset: String,
    /// Number of queries (or pairs).
    pub queries: usize,
    /// System name → results, in display order.
    pub systems: Vec<(String, SystemResult)>,
    /// Configuration of the run, for reproduction.
    pub config: BTreeMap<String, String>,
    /// Hash of the data files' names and sizes.
    pub fingerprint: String,
}

/// Sentence vectors of a dataset's articles, computed once per run and
/// shared by readnext and the dense baseline.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// One unit vector per article, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Seconds the encoder took.
    pub seconds: f64,
    /// Tokens per text the encoder kept.
    pub max_tokens: usize,
}

fn note_embedding(run: &mut EvalRun, e: Option<&Embedded>) {
    if let Some(e) = e {
        run.config.insert(
            "embeddings".into(),
            format!(
                "{} over the first {} tokens: {} texts in {:.1}s (shared by readnext and dense, not in their wall time)",
                readnext_embed::MODEL_NAME,
                e.max_tokens,
                e.vectors.len(),
                e.seconds
            ),
        );
    }
}

/// The dense baseline's list for `q`: every other document by cosine.
fn dense_rank(vectors: &[Vec<f32>], q: usize, depth: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> = vectors
        .iter()
        .enumerate()
        .filter(|&(d, _)| d != q)
        .map(|(d, v)| (d, readnext_core::dot(&vectors[q], v)))
        .collect();
    let depth = depth.min(scored.len());
    if depth == 0 {
        return vec![];
    }
    scored.select_nth_unstable_by(depth - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(depth);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().map(|(d, _)| d).collect()
}

/// Options with the embedding signal off: readnext's lexical half.
fn lexical(opts: &RelatedOptions) -> RelatedOptions {
    RelatedOptions { weights: opts.weights.lexical(), ..opts.clone() }
}

/// Builds a readnext engine over the articles (with their vectors, when
/// given), in a temporary folder, with the same write path as `readnext
/// ingest`.
pub fn build_engine(
    articles: Vec<readnext_core::Article>,
    vectors: Option<&[Vec<f32>]>,
) -> Result<(tempfile::TempDir, Engine, Vec<Record>), EvalError> {
    let dir = tempfile::tempdir().map_err(|source| EvalError::Io { path: std::env::temp_dir(), source })?;
    let engine = Engine::open(dir.path())?;
    let records: Vec<Record> = articles
        .into_par_iter()
        .enumerate()
        .map(|(i, article)| {
            let analysis = analyze(&article)?;
            Ok(Record { article, analysis, vector: vectors.and_then(|v| v.get(i).cloned()) })
        })
        .collect::<Result<_, readnext_analysis::AnalysisError>>()
        .map_err(readnext_recommend::RecommendError::from)?;
    for chunk in records.chunks(2000) {
        let writes: Vec<Write> = chunk.iter().map(|r| Write::Upsert(Box::new(r.clone()))).collect();
        engine.write_bulk(&writes)?;
    }
    engine.finish()?;
    Ok((dir, engine, records))
}

/// The metrics of one query's ranked list.
struct QueryScores {
    ndcg10: f64,
    p5_event: f64,
    p10: f64,
    ap: f64,
    gains: Vec<u8>,
}

fn score_list(set: &RelatedSet, q: usize, ranked: &[usize], all_gains: &[u8]) -> QueryScores {
    let gains: Vec<u8> = ranked.iter().map(|&d| set.gain(q, d)).collect();
    let relevant = all_gains.iter().filter(|&&g| g > 0).count();
    QueryScores {
        ndcg10: ndcg_at(&gains, all_gains, 10),
        p5_event: precision_at(&gains, 5, |g| g == 2),
        p10: precision_at(&gains, 10, |g| g > 0),
        ap: average_precision(&gains, relevant),
        gains,
    }
}

/// Runs the `related` task: every document is a query against all others.
/// With embeddings, readnext is hybrid, and its lexical half
/// (`readnext_lexical`) and the dense baseline run beside it.
pub fn run_related(
    set: &RelatedSet,
    depth: usize,
    opts: &RelatedOptions,
    embedded: Option<&Embedded>,
) -> Result<EvalRun, EvalError> {
    let n = set.docs.len();
    let mut run = EvalRun { dataset: set.name.clone(), queries: n, ..Default::default() };
    run.config.insert("depth".into(), depth.to_string());
    run.config.insert("seed".into(), SEED.to_string());
    run.config.insert("weights".into(), format!("{:?}", opts.weights));
    run.config.insert("mmr_lambda".into(), opts.mmr_lambda.to_string());
    run.config.insert("recency".into(), format!("{} over {} days", opts.recency_weight, opts.recency_days));
    run.fingerprint = crate::fingerprint(&set.files);
    note_embedding(&mut run, embedded);
    let texts: Vec<String> = set.docs.iter().map(|d| d.article.full_text()).collect();
    let index_of: HashMap<String, usize> =
        set.docs.iter().enumerate().map(|(i, d)| (d.article.id.clone(), i)).collect();

    let judge = Judge::new(set, &texts);

    // readnext, through the engine's public related path.
    let vectors = embedded.map(|e| e.vectors.as_slice());
    let readnext_with = |opts: &RelatedOptions| {
        measure(&judge, || {
            let (_dir, engine, records) = build_engine(set.docs.iter().map(|d| d.article.clone()).collect(), vectors)?;
            let o = RelatedOptions { k: depth, ..opts.clone() };
            records
                .iter()
                .map(|r| {
                    let picks = engine.related(&Query::from_record(r), &o)?;
                    Ok(picks.iter().filter_map(|p| index_of.get(&p.id).copied()).collect())
                })
                .collect()
        })
    };
    run.systems.push(("readnext".into(), readnext_with(opts)?));
    if let Some(v) = vectors {
        run.systems.push(("readnext_lexical".into(), readnext_with(&lexical(opts))?));
        let dense = measure(&judge, || Ok((0..n).into_par_iter().map(|q| dense_rank(v, q, depth)).collect()))?;
        run.systems.push(("dense".into(), dense));
    }
    // Each baseline tokenises the corpus itself, inside its own timing.
    let tfidf = measure(&judge, || {
        let tfidf = Tfidf::new(&LexCorpus::new(&texts));
        Ok((0..n).map(|q| tfidf.rank(q, depth).into_iter().map(|x| x.0).collect()).collect())
    })?;
    run.systems.push(("tfidf".into(), tfidf));
    let mlt = measure(&judge, || {
        let corpus = LexCorpus::new(&texts);
        let mlt = Bm25Mlt::new(&corpus);
        Ok((0..n).map(|q| mlt.rank(q, depth).into_iter().map(|x| x.0).collect()).collect())
    })?;
    run.systems.push(("bm25_mlt".into(), mlt));
    let random = measure(&judge, || {
        let mut rng = Rng::new(SEED);
        Ok((0..n).map(|q| rng.sample(n, q, depth)).collect())
    })?;
    run.systems.push(("random".into(), random));
    Ok(run)
}

/// Runs one system's ranking under a fresh memory peak and a clock, then
/// judges its lists.
fn measure(
    judge: &Judge<'_>,
    rank: impl FnOnce() -> Result<Vec<Vec<usize>>, EvalError>,
) -> Result<SystemResult, EvalError> {
    reset_peak_rss();
    let started = Instant::now();
    let lists = rank()?;
    Ok(finish_related(judge, &lists, started.elapsed().as_secs_f64()))
}

/// What judges every system alike: the labels, and the harness's own TF-IDF
/// for the beyond-accuracy measures.
struct Judge<'a> {
    set: &'a RelatedSet,
    tfidf: Tfidf,
}

impl<'a> Judge<'a> {
    fn new(set: &'a RelatedSet, texts: &[String]) -> Judge<'a> {
        Judge { set, tfidf: Tfidf::new(&LexCorpus::new(texts)) }
    }
}

fn finish_related(judge: &Judge<'_>, lists: &[Vec<usize>], wall_s: f64) -> SystemResult {
    let set = judge.set;
    let n = lists.len().max(1) as f64;
    let scores: Vec<QueryScores> = lists
        .iter()
        .enumerate()
        .map(|(q, l)| {
            let all: Vec<u8> = (0..set.docs.len()).filter(|&d| d != q).map(|d| set.gain(q, d)).collect();
            score_list(set, q, l, &all)
        })
        .collect();
    let mean = |f: &dyn Fn(&QueryScores) -> f64| 100.0 * scores.iter().map(f).sum::<f64>() / n;
    let mut r =
        SystemResult { wall_s, peak_mib: peak_rss_growth_bytes() as f64 / (1024.0 * 1024.0), ..Default::default() };
    r.metrics.insert("ndcg10".into(), mean(&|s| s.ndcg10));
    r.metrics.insert("map".into(), mean(&|s| s.ap));
    match set.grading {
        Grading::EcbPlus => {
            r.metrics.insert("p5_event".into(), mean(&|s| s.p5_event));
        }
        Grading::Category | Grading::Labels => {
            r.metrics.insert("p10".into(), mean(&|s| s.p10));
        }
    }
    r.per_query = scores.iter().map(|s| 100.0 * s.ndcg10).collect();
    r.gain_at_rank = (0..10)
        .map(|i| scores.iter().map(|s| s.gains.get(i).map_or(0.0, |&g| f64::from(g))).sum::<f64>() / n)
        .collect();
    for (k, v) in beyond_accuracy(judge, lists) {
        r.metrics.insert(k, v);
    }
    r
}

/// Diversity, coverage, near-duplicate blocks and age gap of the top-10 blocks,
/// measured with the harness's own TF-IDF so that every system is judged alike.
fn beyond_accuracy(judge: &Judge<'_>, lists: &[Vec<usize>]) -> Vec<(String, f64)> {
    let (set, tfidf) = (judge.set, &judge.tfidf);
    let mut diversity = 0.0;
    let mut blocks = 0usize;
    let mut dup_blocks = 0usize;
    let mut covered: HashSet<usize> = HashSet::new();
    let (mut gap_sum, mut gap_n) = (0.0, 0usize);
    for (q, list) in lists.iter().enumerate() {
        let top: Vec<usize> = list.iter().copied().take(10).collect();
        covered.extend(&top);
        if top.len() >= 2 {
            let mut sum = 0.0;
            let mut pairs = 0usize;
            let mut dup = false;
            for i in 0..top.len() {
                for j in i + 1..top.len() {
                    let c = f64::from(tfidf.cosine(top[i], top[j]));
                    dup |= c >= 0.9;
                    sum += 1.0 - c;
                    pairs += 1;
                }
            }
            diversity += sum / pairs as f64;
            blocks += 1;
            dup_blocks += usize::from(dup);
        }
        if let Some(qp) = set.docs[q].article.published {
            for &d in &top {
                if let Some(p) = set.docs[d].article.published {
                    gap_sum += (p - qp).abs() as f64 / 86_400.0;
                    gap_n += 1;
                }
            }
        }
    }
    let mut out = vec![
        ("diversity".to_string(), 100.0 * diversity / blocks.max(1) as f64),
        ("coverage".to_string(), 100.0 * covered.len() as f64 / set.docs.len().max(1) as f64),
        ("dup_blocks".to_string(), 100.0 * dup_blocks as f64 / blocks.max(1) as f64),
    ];
    if gap_n > 0 {
        out.push(("age_gap_days".to_string(), gap_sum / gap_n as f64));
    }
    out
}

/// The SemEval subsets a pair belongs to.
fn subsets(p: &Pair) -> Vec<&'static str> {
    let mut s = vec!["all"];
    let in_enes = |l: &str| l == "en" || l == "es";
    if in_enes(&p.lang1) && in_enes(&p.lang2) {
        s.push("en+es");
    }
    match (p.lang1.as_str(), p.lang2.as_str()) {
        ("en", "en") => s.push("en-en"),
        ("es", "es") => s.push("es-es"),
        ("en", "es") | ("es", "en") => s.push("en-es"),
        _ => {}
    }
    s
}

fn correlate(pairs: &[Pair], sims: &[f64]) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    // en-es: one side English, the other Spanish (the cross-lingual pairs).
    for subset in ["en-en", "es-es", "en-es", "en+es", "all"] {
        let idx: Vec<usize> = (0..pairs.len()).filter(|&i| subsets(&pairs[i]).contains(&subset)).collect();
        let x: Vec<f64> = idx.iter().map(|&i| sims[i]).collect();
        let y: Vec<f64> = idx.iter().map(|&i| -pairs[i].overall).collect();
        let mut m = BTreeMap::new();
        m.insert("pearson".to_string(), 100.0 * pearson(&x, &y).unwrap_or(0.0));
        m.insert("spearman".to_string(), 100.0 * spearman(&x, &y).unwrap_or(0.0));
        m.insert("pairs".to_string(), idx.len() as f64);
        out.insert(subset.to_string(), m);
    }
    out
}

/// Runs the SemEval pairwise task: each system's similarity of the two
/// articles of a pair against the human score. `embedded` holds the
/// vectors of the articles in pair order (a, b of each pair).
pub fn run_semeval(
    pairs: &[Pair],
    opts: &RelatedOptions,
    files: &[std::path::PathBuf],
    embedded: Option<&Embedded>,
) -> Result<EvalRun, EvalError> {
    let mut run = EvalRun { dataset: "semeval".into(), queries: pairs.len(), ..Default::default() };
    run.fingerprint = crate::fingerprint(files);
    note_embedding(&mut run, embedded);
    run.config.insert("seed".into(), SEED.to_string());
    run.config.insert("weights".into(), format!("{:?}", opts.weights));
    let texts: Vec<String> = pairs.iter().flat_map(|p| [p.a.full_text(), p.b.full_text()]).collect();

    let vectors = embedded.map(|e| e.vectors.as_slice());
    let readnext_with = |opts: &RelatedOptions| {
        measure_pairs(pairs, || {
            let articles = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
            let (_dir, engine, records) = build_engine(articles, vectors)?;
            (0..pairs.len())
                .map(|i| {
                    let (a, b) = (Query::from_record(&records[2 * i]), Query::from_record(&records[2 * i + 1]));
                    Ok(f64::from(engine.similarity(&a, &b, opts)?))
                })
                .collect()
        })
    };
    run.systems.push(("readnext".into(), readnext_with(opts)?));
    if let Some(v) = vectors {
        run.systems.push(("readnext_lexical".into(), readnext_with(&lexical(opts))?));
        let dense = measure_pairs(pairs, || {
            Ok((0..pairs.len()).map(|i| f64::from(readnext_core::dot(&v[2 * i], &v[2 * i + 1]))).collect())
        })?;
        run.systems.push(("dense".into(), dense));
    }
    // Each baseline tokenises the texts itself, inside its own timing.
    let tfidf = measure_pairs(pairs, || {
        let tfidf = Tfidf::new(&LexCorpus::new(&texts));
        Ok((0..pairs.len()).map(|i| f64::from(tfidf.cosine(2 * i, 2 * i + 1))).collect())
    })?;
    run.systems.push(("tfidf".into(), tfidf));
    let mlt = measure_pairs(pairs, || {
        let corpus = LexCorpus::new(&texts);
        let mlt = Bm25Mlt::new(&corpus);
        Ok((0..pairs.len())
            .map(|i| f64::from(mlt.score(2 * i, 2 * i + 1) + mlt.score(2 * i + 1, 2 * i)) / 2.0)
            .collect())
    })?;
    run.systems.push(("bm25_mlt".into(), mlt));
    let random = measure_pairs(pairs, || {
        let mut rng = Rng::new(SEED);
        Ok(pairs.iter().map(|_| rng.next_f64()).collect())
    })?;
    run.systems.push(("random".into(), random));
    Ok(run)
}

/// Runs one system's pairwise similarities under a fresh memory peak and a
/// clock, then correlates them with the human scores.
fn measure_pairs(
    pairs: &[Pair],
    sims: impl FnOnce() -> Result<Vec<f64>, EvalError>,
) -> Result<SystemResult, EvalError> {
    reset_peak_rss();
    let started = Instant::now();
    let sims = sims()?;
    Ok(pair_result(pairs, &sims, started))
}

fn pair_result(pairs: &[Pair], sims: &[f64], started: Instant) -> SystemResult {
    SystemResult {
        groups: correlate(pairs, sims),
        wall_s: started.elapsed().as_secs_f64(),
        peak_mib: peak_rss_growth_bytes() as f64 / (1024.0 * 1024.0),
        ..Default::default()
    }
}
