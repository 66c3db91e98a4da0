//! `readnext eval mind`: personalised ranking of MIND impression slates,
//! scored through the engine's reader ranker ([`Engine::score_slate`]), with
//! the baselines in the same run.
//!
//! Without a training set, impressions are split into k folds grouped by
//! `impression_id` (an impression recurs in several files with different
//! candidate subsets; all its rows land in one fold). Popularity,
//! click-through and the ranker's weights for a fold come only from the
//! other folds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use readnext_core::Article;
use readnext_recommend::{Engine, FeatureRow, Popularity, RankerModel, center_slate};

use crate::baselines::{Rng, sk_tokens};
use crate::memory::{peak_rss_growth_bytes, reset_peak_rss};
use crate::run::{Embedded, EvalRun, SEED, SystemResult, build_engine};
use crate::{EvalError, fingerprint};

/// One news item of the data.
#[derive(Debug, Clone)]
pub struct News {
    /// MIND news id (`N1234`).
    pub id: String,
    /// Headline.
    pub title: String,
    /// Category (`sports`).
    pub category: String,
    /// Subcategory (`football_nfl`).
    pub subvert: String,
    /// Abstract.
    pub abstract_: String,
}

/// One row: an impression shown to a reader with their click history.
#[derive(Debug, Clone)]
pub struct MindRow {
    /// The file it was read from, without its extension (its subset).
    pub file: String,
    /// Impression id (shared by the rows of one impression).
    pub impression: String,
    /// The reader's clicked history, oldest first.
    pub history: Vec<News>,
    /// The slate shown.
    pub candidates: Vec<News>,
    /// Whether each candidate was clicked.
    pub clicked: Vec<bool>,
}

fn split(s: &str) -> Vec<&str> {
    if s.is_empty() { vec![] } else { s.split('\n').collect() }
}

fn news_list(rec: &csv::StringRecord, col: &HashMap<String, usize>, prefix: &str) -> Result<Vec<News>, String> {
    let get = |name: &str| -> Result<Vec<&str>, String> {
        let i = col.get(&format!("{prefix}_{name}")).ok_or_else(|| format!("no column {prefix}_{name}"))?;
        Ok(split(rec.get(*i).unwrap_or("")))
    };
    let ids = get("news_id")?;
    let (titles, cats, subs, abs) = (get("title")?, get("category")?, get("subvert")?, get("abstract")?);
    for (name, v) in [("title", &titles), ("category", &cats), ("subvert", &subs)] {
        if v.len() != ids.len() {
            return Err(format!("{prefix}_{name} has {} entries for {} ids", v.len(), ids.len()));
        }
    }
    Ok(ids
        .iter()
        .enumerate()
        .map(|(i, id)| News {
            id: id.trim().to_string(),
            title: titles[i].to_string(),
            category: cats[i].to_string(),
            subvert: subs[i].to_string(),
            // Abstracts may be missing or contain line breaks: use them only
            // when they line up with the ids.
            abstract_: if abs.len() == ids.len() { abs[i].to_string() } else { String::new() },
        })
        .collect())
}

/// Reads every `*.csv` under `dir`. A bad row is an error naming the file and row.
pub fn load_mind(dir: &Path) -> Result<(Vec<MindRow>, Vec<PathBuf>), EvalError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| EvalError::Io { path: dir.to_path_buf(), source })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(EvalError::Data(format!("{}: no .csv files (expected the MIND subset)", dir.display())));
    }
    let mut rows = Vec::new();
    for f in &files {
        let file = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut rdr = csv::Reader::from_path(f).map_err(|e| EvalError::Data(format!("{}: {e}", f.display())))?;
        let headers = rdr.headers().map_err(|e| EvalError::Data(format!("{}: {e}", f.display())))?.clone();
        let col: HashMap<String, usize> = headers.iter().enumerate().map(|(i, h)| (h.to_string(), i)).collect();
        for (n, rec) in rdr.records().enumerate() {
            let at = |m: String| EvalError::Data(format!("{}: row {}: {m}", f.display(), n + 2));
            let rec = rec.map_err(|e| at(e.to_string()))?;
            let field =
                |name: &str| col.get(name).and_then(|i| rec.get(*i)).ok_or_else(|| at(format!("no column {name}")));
            let history = news_list(&rec, &col, "history").map_err(at)?;
            let candidates = news_list(&rec, &col, "candidate").map_err(at)?;
            let mut clicked = vec![false; candidates.len()];
            for l in field("label")?.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                let i: usize =
                    l.trim_start_matches('C').parse().map_err(|_| at(format!("label {l:?} is not C<number>")))?;
                match clicked.get_mut(i.wrapping_sub(1)) {
                    Some(c) => *c = true,
                    None => return Err(at(format!("label {l:?} is past the {} candidates", candidates.len()))),
                }
            }
            rows.push(MindRow {
                file: file.clone(),
                impression: field("impression_id")?.to_string(),
                history,
                candidates,
                clicked,
            });
        }
    }
    Ok((rows, files))
}

/// Per-impression ranking metrics, as the MIND evaluation script computes them.
pub fn auc(labels: &[bool], scores: &[f32]) -> Option<f64> {
    let pos: Vec<f32> = labels.iter().zip(scores).filter(|(l, _)| **l).map(|(_, s)| *s).collect();
    let neg: Vec<f32> = labels.iter().zip(scores).filter(|(l, _)| !**l).map(|(_, s)| *s).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

fn order(scores: &[f32]) -> Vec<usize> {
    let mut o: Vec<usize> = (0..scores.len()).collect();
    // Stable: ties keep slate order, as numpy's argsort of the negation does not
    // promise anything better.
    o.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    o
}

/// Mean reciprocal rank of the clicked candidates.
pub fn mrr(labels: &[bool], scores: &[f32]) -> Option<f64> {
    let clicks = labels.iter().filter(|l| **l).count();
    if clicks == 0 {
        return None;
    }
    let rr: f64 =
        order(scores).iter().enumerate().filter(|(_, i)| labels[**i]).map(|(r, _)| 1.0 / (r + 1) as f64).sum();
    Some(rr / clicks as f64)
}

/// nDCG@k with binary gains.
pub fn ndcg(labels: &[bool], scores: &[f32], k: usize) -> Option<f64> {
    let dcg = |ranked: &mut dyn Iterator<Item = bool>| -> f64 {
        ranked.take(k).enumerate().map(|(r, l)| if l { 1.0 / ((r + 2) as f64).log2() } else { 0.0 }).sum()
    };
    let mut ideal = labels.to_vec();
    ideal.sort_by(|a, b| b.cmp(a));
    let best = dcg(&mut ideal.into_iter());
    if best == 0.0 {
        return None;
    }
    Some(dcg(&mut order(scores).into_iter().map(|i| labels[i])) / best)
}

/// The systems of a MIND run, in display order.
pub const MIND_SYSTEMS: [&str; 6] =
    ["readnext", "random", "most_popular", "category_affinity", "category_affinity_popularity", "content_bm25"];

/// Counts of the training rows: clicks and impressions per news id and per
/// (sub)category, and reads from every history (histories are what the
/// reader did before the impression, known when it is scored).
fn popularity(rows: &[&MindRow], histories: &[&MindRow]) -> Popularity {
    let mut p = Popularity::default();
    for r in rows {
        add_row(&mut p, r, 1.0);
    }
    for r in histories {
        for h in &r.history {
            p.read(&h.id, 1.0);
        }
    }
    p
}

fn add_row(p: &mut Popularity, r: &MindRow, sign: f32) {
    for (n, c) in r.candidates.iter().zip(&r.clicked) {
        let click = if *c { sign } else { 0.0 };
        p.impression(&n.id, None, sign);
        p.click(&n.id, click);
        p.group(&format!("section:{}", n.category), click, sign);
        p.group(&format!("subsection:{}", n.subvert), click, sign);
    }
}

/// The same counts without an impression's own contribution (for training
/// rows, whose label must not leak into their own features). `rows` are all
/// the rows of that impression: one recurs in several files with the same
/// click, so leaving out only the row itself would still count its click
/// through the twin rows.
fn without_impression(pop: &Popularity, rows: &[&MindRow]) -> Popularity {
    let mut p = pop.clone();
    for r in rows {
        add_row(&mut p, r, -1.0);
    }
    p
}

/// Rows grouped by impression id.
fn by_impression<'a>(rows: &[&'a MindRow]) -> HashMap<&'a str, Vec<&'a MindRow>> {
    let mut out: HashMap<&str, Vec<&MindRow>> = HashMap::new();
    for r in rows {
        out.entry(r.impression.as_str()).or_default().push(r);
    }
    out
}

/// BM25 of each candidate's words against the reader's history words.
struct Bm25 {
    df: HashMap<String, u32>,
    docs: f64,
    avg_len: f64,
}

impl Bm25 {
    fn new(texts: &[String]) -> Bm25 {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut total = 0usize;
        for t in texts {
            let toks = sk_tokens(t);
            total += toks.len();
            for w in toks.into_iter().collect::<HashSet<_>>() {
                *df.entry(w).or_default() += 1;
            }
        }
        Bm25 { df, docs: texts.len().max(1) as f64, avg_len: total as f64 / texts.len().max(1) as f64 }
    }
    fn score(&self, query: &HashSet<String>, doc: &str) -> f32 {
        let toks = sk_tokens(doc);
        let len = toks.len() as f64;
        let mut tf: HashMap<&str, f64> = HashMap::new();
        for t in &toks {
            *tf.entry(t.as_str()).or_default() += 1.0;
        }
        let (k1, b) = (1.2, 0.75);
        let mut s = 0.0;
        for (t, f) in tf {
            if query.contains(t) {
                let df = f64::from(self.df.get(t).copied().unwrap_or(0));
                let idf = (1.0 + (self.docs - df + 0.5) / (df + 0.5)).ln();
                s += idf * f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * len / self.avg_len.max(1.0)));
            }
        }
        s as f32
    }
}

fn text_of(n: &News) -> String {
    format!("{} {}", n.title, n.abstract_)
}

#[derive(Default)]
struct Acc {
    auc: Vec<f64>,
    mrr: Vec<f64>,
    ndcg5: Vec<f64>,
    ndcg10: Vec<f64>,
    /// AUC per file (subset) of the data.
    by_file: BTreeMap<String, Vec<f64>>,
    wall_s: f64,
}

impl Acc {
    fn add(&mut self, file: &str, labels: &[bool], scores: &[f32]) {
        if let Some(v) = auc(labels, scores) {
            self.auc.push(v);
            self.by_file.entry(file.to_string()).or_default().push(v);
        }
        if let Some(v) = mrr(labels, scores) {
            self.mrr.push(v);
        }
        if let Some(v) = ndcg(labels, scores, 5) {
            self.ndcg5.push(v);
        }
        if let Some(v) = ndcg(labels, scores, 10) {
            self.ndcg10.push(v);
        }
    }
    fn result(self) -> SystemResult {
        let mean = |v: &[f64]| 100.0 * v.iter().sum::<f64>() / v.len().max(1) as f64;
        let mut metrics = BTreeMap::new();
        metrics.insert("auc".to_string(), mean(&self.auc));
        metrics.insert("mrr".to_string(), mean(&self.mrr));
        metrics.insert("ndcg5".to_string(), mean(&self.ndcg5));
        metrics.insert("ndcg10".to_string(), mean(&self.ndcg10));
        let groups = self
            .by_file
            .iter()
            .map(|(f, v)| {
                let g = BTreeMap::from([("auc".to_string(), mean(v)), ("impressions".to_string(), v.len() as f64)]);
                (f.clone(), g)
            })
            .collect();
        SystemResult {
            metrics,
            groups,
            wall_s: self.wall_s,
            peak_mib: 0.0,
            per_query: self.auc.iter().map(|v| v * 100.0).collect(),
            gain_at_rank: vec![],
        }
    }
}

/// Options of a MIND run.
#[derive(Debug, Clone)]
pub struct MindOptions {
    /// Folds of the cross-validation (without a training set).
    pub folds: usize,
    /// L2 penalty of the ranker's fit.
    pub l2: f32,
    /// Gradient-descent iterations of the fit.
    pub iterations: usize,
}

impl Default for MindOptions {
    fn default() -> Self {
        MindOptions { folds: 5, l2: 1e-3, iterations: 300 }
    }
}

/// The rows of a MIND run and the news they mention, as articles.
#[derive(Debug, Clone)]
pub struct MindSet {
    /// The folder scored.
    pub data: PathBuf,
    /// The folder fitted on, if any (else cross-validation over `data`).
    pub train: Option<PathBuf>,
    /// Rows scored.
    pub test_rows: Vec<MindRow>,
    /// Rows fitted on (empty without `train`).
    pub train_rows: Vec<MindRow>,
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Every news item once: title, abstract as body, category as section,
    /// subcategory as first tag. Embeddings passed to [`run_mind`] follow
    /// this order.
    pub articles: Vec<Article>,
    /// The text (title and abstract) of every news item once, which the
    /// `content_bm25` baseline takes its statistics from.
    pub texts: Vec<String>,
}

/// Loads `data` (and `train`) for [`run_mind`].
pub fn load_mind_set(data: &Path, train: Option<&Path>) -> Result<MindSet, EvalError> {
    let (test_rows, mut files) = load_mind(data)?;
    let (train_rows, train_files) = match train {
        Some(t) => load_mind(t)?,
        None => (vec![], vec![]),
    };
    files.extend(train_files);
    let mut news: BTreeMap<String, News> = BTreeMap::new();
    for r in test_rows.iter().chain(&train_rows) {
        for n in r.history.iter().chain(&r.candidates) {
            news.entry(n.id.clone()).or_insert_with(|| n.clone());
        }
    }
    let articles: Vec<Article> = news
        .values()
        .map(|n| Article {
            id: n.id.clone(),
            title: n.title.clone(),
            body: if n.abstract_.is_empty() { vec![] } else { vec![n.abstract_.clone()] },
            lang: Some("en".into()),
            section: Some(n.category.clone()),
            tags: vec![n.subvert.clone()],
            ..Default::default()
        })
        .filter(|a| !a.title.trim().is_empty() || !a.body.is_empty())
        .collect();
    let texts = news.values().map(text_of).collect();
    Ok(MindSet {
        data: data.to_path_buf(),
        train: train.map(Path::to_path_buf),
        test_rows,
        train_rows,
        files,
        articles,
        texts,
    })
}

/// Runs the MIND evaluation: cross-validated over the set's data, or
/// fitted on its training rows and scored on every data row. With
/// `embedded` (one vector per article of the set), the ranker's dense
/// features (similarity to the history and to the reader's taste vector)
/// take part. Also returns the fitted models.
pub fn run_mind(
    set: &MindSet,
    opts: &MindOptions,
    embedded: Option<&Embedded>,
) -> Result<(EvalRun, Vec<RankerModel>), EvalError> {
    let (data, train) = (set.data.as_path(), set.train.as_deref());
    let (test_rows, train_rows, files) = (&set.test_rows, &set.train_rows, &set.files);
    let (_dir, engine, _) = build_engine(set.articles.clone(), embedded.map(|e| e.vectors.as_slice()))?;
    let bm25 = Bm25::new(&set.texts);

    // (training rows, test rows) per split.
    let splits: Vec<(Vec<&MindRow>, Vec<&MindRow>)> = if train.is_some() {
        vec![(train_rows.iter().collect(), test_rows.iter().collect())]
    } else {
        folds(test_rows, opts.folds.max(2))
    };
    let mut accs: BTreeMap<&str, Acc> = MIND_SYSTEMS.iter().map(|s| (*s, Acc::default())).collect();
    let mut models = Vec::new();
    let mut rng = Rng::new(SEED);
    reset_peak_rss();
    for (train_part, test_part) in &splits {
        let all: Vec<&MindRow> = train_part.iter().chain(test_part).copied().collect();
        let pop = popularity(train_part, &all);
        // Fit the ranker on the training rows.
        let t = Instant::now();
        let mut xs: Vec<FeatureRow> = Vec::new();
        let mut ys: Vec<bool> = Vec::new();
        let by_impression = by_impression(train_part);
        for r in train_part {
            let twins = by_impression.get(r.impression.as_str()).map_or(&[][..], Vec::as_slice);
            let own = without_impression(&pop, twins);
            let mut rows = features(&engine, r, &own)?;
            center_slate(&mut rows);
            xs.extend(rows);
            ys.extend(&r.clicked);
        }
        let model = RankerModel::fit(&xs, &ys, opts.l2, opts.iterations);
        let fit_s = t.elapsed().as_secs_f64();
        if let Some(a) = accs.get_mut("readnext") {
            a.wall_s += fit_s;
        }
        for r in test_part {
            let t = Instant::now();
            let scores: Vec<f32> = features(&engine, r, &pop)?.iter().map(|x| model.score(x)).collect();
            push(&mut accs, "readnext", r, &scores, t);
            let t = Instant::now();
            let scores: Vec<f32> = r.candidates.iter().map(|_| rng.next_f64() as f32).collect();
            push(&mut accs, "random", r, &scores, t);
            let t = Instant::now();
            let scores: Vec<f32> = r.candidates.iter().map(|c| pop.counts(&c.id).0).collect();
            push(&mut accs, "most_popular", r, &scores, t);
            let t = Instant::now();
            let share = |c: &News| {
                r.history.iter().filter(|h| h.category == c.category).count() as f32 / r.history.len().max(1) as f32
            };
            let scores: Vec<f32> = r.candidates.iter().map(share).collect();
            push(&mut accs, "category_affinity", r, &scores, t);
            let t = Instant::now();
            let scores: Vec<f32> = r.candidates.iter().map(|c| share(c) + 0.05 * pop.counts(&c.id).0.ln_1p()).collect();
            push(&mut accs, "category_affinity_popularity", r, &scores, t);
            let t = Instant::now();
            let query: HashSet<String> = r.history.iter().flat_map(|h| sk_tokens(&text_of(h))).collect();
            let scores: Vec<f32> = r.candidates.iter().map(|c| bm25.score(&query, &text_of(c))).collect();
            push(&mut accs, "content_bm25", r, &scores, t);
        }
        models.push(model);
    }
    let peak = peak_rss_growth_bytes() as f64 / (1024.0 * 1024.0);
    let scored = splits.iter().map(|(_, t)| t.len()).sum::<usize>();
    let distinct: HashSet<&str> = test_rows.iter().map(|r| r.impression.as_str()).collect();
    let mut config = BTreeMap::new();
    config.insert("data".into(), data.display().to_string());
    config.insert(
        "dense".into(),
        embedded.map_or("no embeddings: the ranker's dense features are 0".into(), |e| {
            format!(
                "{} vectors of {} over the first {} tokens",
                e.vectors.len(),
                readnext_embed::MODEL_NAME,
                e.max_tokens
            )
        }),
    );
    config.insert("train".into(), train.map_or("none (cross-validation)".into(), |t| t.display().to_string()));
    config.insert("folds".into(), if train.is_some() { "1".into() } else { opts.folds.max(2).to_string() });
    config.insert("distinct_impressions".into(), distinct.len().to_string());
    config.insert("l2".into(), opts.l2.to_string());
    config.insert("iterations".into(), opts.iterations.to_string());
    config.insert("seed".into(), SEED.to_string());
    let systems = MIND_SYSTEMS
        .iter()
        .filter_map(|s| accs.remove(s).map(|a| (s.to_string(), a)))
        .map(|(s, a)| {
            let mut r = a.result();
            if s == "readnext" {
                r.peak_mib = peak;
            }
            (s, r)
        })
        .collect();
    Ok((EvalRun { dataset: "mind".into(), queries: scored, systems, config, fingerprint: fingerprint(files) }, models))
}

fn push(accs: &mut BTreeMap<&str, Acc>, name: &str, r: &MindRow, scores: &[f32], t: Instant) {
    if let Some(a) = accs.get_mut(name) {
        a.add(&r.file, &r.clicked, scores);
        a.wall_s += t.elapsed().as_secs_f64();
    }
}

/// The ranker's features of a row's slate, through the engine (the same
/// call the live reader block makes).
fn features(engine: &Engine, r: &MindRow, pop: &Popularity) -> Result<Vec<FeatureRow>, EvalError> {
    // Most recent first, as a stored history is read.
    let history: Vec<String> = r.history.iter().rev().map(|h| h.id.clone()).collect();
    let slate: Vec<String> = r.candidates.iter().map(|c| c.id.clone()).collect();
    Ok(engine.slate_features(&history, &slate, pop, None)?)
}

/// K folds grouped by impression id, assigned by a seeded shuffle of the
/// distinct ids.
pub fn folds(rows: &[MindRow], k: usize) -> Vec<(Vec<&MindRow>, Vec<&MindRow>)> {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.impression.as_str()).collect::<HashSet<_>>().into_iter().collect();
    ids.sort();
    let mut rng = Rng::new(SEED);
    for i in (1..ids.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        ids.swap(i, j);
    }
    let fold_of: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i % k)).collect();
    (0..k)
        .map(|f| {
            let (test, train): (Vec<&MindRow>, Vec<&MindRow>) =
                rows.iter().partition(|r| fold_of.get(r.impression.as_str()) == Some(&f));
            (train, test)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(imp: &str) -> MindRow {
        MindRow { file: String::new(), impression: imp.into(), history: vec![], candidates: vec![], clicked: vec![] }
    }

    #[test]
    fn metrics_match_the_mind_script_on_hand_cases() {
        let labels = [false, true, false, false];
        let scores = [0.9, 0.8, 0.1, 0.2];
        assert_eq!(auc(&labels, &scores), Some(2.0 / 3.0));
        assert_eq!(mrr(&labels, &scores), Some(0.5));
        let n5 = ndcg(&labels, &scores, 5).unwrap();
        assert!((n5 - 1.0 / 3f64.log2()).abs() < 1e-12);
        // Ties count half in AUC.
        assert_eq!(auc(&[true, false], &[0.5, 0.5]), Some(0.5));
        // No positive or no negative: skipped.
        assert_eq!(auc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(mrr(&[false], &[0.1]), None);
        // Two clicks: MRR averages their reciprocal ranks; k beyond the list is fine.
        assert_eq!(mrr(&[true, false, true], &[3.0, 2.0, 1.0]), Some((1.0 + 1.0 / 3.0) / 2.0));
        assert_eq!(ndcg(&[true, false], &[1.0, 0.0], 10), Some(1.0));
    }

    #[test]
    fn folds_never_split_an_impression() {
        let rows: Vec<MindRow> = (0..50).flat_map(|i| vec![row(&i.to_string()), row(&i.to_string())]).collect();
        let f = folds(&rows, 5);
        assert_eq!(f.len(), 5);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (k, (train, test)) in f.iter().enumerate() {
            assert_eq!(train.len() + test.len(), rows.len());
            for r in test {
                assert_eq!(*seen.entry(r.impression.as_str()).or_insert(k), k, "impression in two test folds");
                assert!(train.iter().all(|t| t.impression != r.impression), "impression in train and test");
            }
        }
        assert_eq!(seen.len(), 50);
    }

    #[test]
    fn an_impressions_clicks_are_taken_out_of_its_training_features_in_every_file() {
        let n = |id: &str| News {
            id: id.into(),
            title: String::new(),
            category: String::new(),
            subvert: String::new(),
            abstract_: String::new(),
        };
        let row = |imp: &str, cands: &[&str], clicked: &[bool]| MindRow {
            file: String::new(),
            impression: imp.into(),
            history: vec![],
            candidates: cands.iter().map(|c| n(c)).collect(),
            clicked: clicked.to_vec(),
        };
        // Impression 1 appears in two files with different candidate
        // subsets and the same click on "a"; impression 2 is another reader's.
        let r = row("1", &["a", "b"], &[true, false]);
        let twin = row("1", &["a", "c"], &[true, false]);
        let other = row("2", &["a", "b"], &[true, false]);
        let rows = [&r, &twin, &other];
        let pop = popularity(&rows, &[]);
        assert_eq!(pop.counts("a"), (3.0, 3.0));
        let groups = by_impression(&rows);
        assert_eq!(groups["1"].len(), 2);
        let own = without_impression(&pop, &groups["1"]);
        // Only impression 2's counts remain: the twin's click on "a" is gone too.
        assert_eq!(own.counts("a"), (1.0, 1.0));
        assert_eq!(own.counts("b"), (0.0, 1.0));
        assert_eq!(own.counts("c"), (0.0, 0.0));
    }
}
