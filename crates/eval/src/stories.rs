//! `readnext eval stories`: grouping articles into stories, scored against
//! gold stories, with the baselines of the same run.
//!
//! Every system sees the documents once, in the same order (given,
//! shuffled with a seed, or by time). readnext runs the assignment code of
//! [`readnext_recommend::StoryAssigner`] at its frozen defaults: no
//! threshold is fitted to the set being scored. The baselines:
//! - `single_pass_tfidf`: each document joins the story whose TF-IDF
//!   centroid is most similar, when the cosine is at least
//!   [`SINGLE_PASS_THRESHOLD`], or starts one (the classic online
//!   topic-detection baseline);
//! - `agglomerative`: offline average-link clustering of the TF-IDF
//!   cosines, stopped at [`AGGLOMERATIVE_THRESHOLD`] (it sees every
//!   document at once, which no online system can);
//! - `singletons`: every document its own story (what NMI flatters).
//!
//! Scores: B-cubed precision, recall and F1 over documents (the headline),
//! NMI (arithmetic normalisation, as scikit-learn's default), the adjusted
//! Rand index, and the number of stories.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use readnext_core::Article;
use readnext_ingest::JsonArticle;
use readnext_recommend::{StoryAssigner, StoryOptions};
use serde::Serialize;

use crate::EvalError;
use crate::baselines::{LexCorpus, Rng, Tfidf};

/// The single-pass baseline's cosine threshold: the best one on ECB+ in
/// shuffled order (0.878 B-cubed F1), fixed for every set.
pub const SINGLE_PASS_THRESHOLD: f32 = 0.225;

/// The agglomerative baseline's average-link stop: clusters merge while
/// their mean pairwise cosine is at least this, fixed for every set.
pub const AGGLOMERATIVE_THRESHOLD: f32 = 0.1;

/// One document with its gold story.
#[derive(Debug, Clone)]
pub struct StoryDoc {
    /// The article.
    pub article: Article,
    /// The gold story.
    pub story: String,
}

/// A story dataset.
#[derive(Debug, Clone)]
pub struct StorySet {
    /// Its name.
    pub name: String,
    /// The documents, in the dataset's own order.
    pub docs: Vec<StoryDoc>,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// The order documents are streamed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryOrder {
    /// The dataset's own order (ECB+: topic by topic).
    Given,
    /// Shuffled with the seed.
    Shuffled(u64),
    /// By publication time, then id (undated first, in given order).
    Time,
}

/// Precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// The scores of one system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterScores {
    /// B-cubed over documents.
    pub b3: Prf,
    /// Normalised mutual information.
    pub nmi: f64,
    /// Adjusted Rand index.
    pub ari: f64,
    /// Stories found.
    pub stories: usize,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StoriesReport {
    /// The dataset.
    pub dataset: String,
    /// Documents streamed.
    pub documents: usize,
    /// Gold stories.
    pub gold_stories: usize,
    /// The order, as given on the command line.
    pub order: String,
    /// readnext and the baselines, by name.
    pub systems: BTreeMap<String, ClusterScores>,
    /// readnext's largest stories, largest first (at most
    /// [`LARGEST_SHOWN`]).
    pub largest: Vec<LargestStory>,
    /// Sizes of readnext's stories, and of the gold ones, largest first.
    pub sizes: StorySizes,
}

/// Stories listed in the report's table of the largest.
pub const LARGEST_SHOWN: usize = 15;

/// One of readnext's largest stories, against the gold story most of its
/// documents belong to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LargestStory {
    /// Documents in it.
    pub size: usize,
    /// The headline of its first document.
    pub title: String,
    /// The gold story most of its documents belong to.
    pub gold: String,
    /// Share of its documents in that gold story.
    pub precision: f64,
    /// Share of that gold story's documents in it.
    pub recall: f64,
}

/// Story sizes, largest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorySizes {
    /// readnext's.
    pub readnext: Vec<usize>,
    /// The gold stories'.
    pub gold: Vec<usize>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io { path: path.to_path_buf(), source }
}

/// ECB+ as stories: one story per topic and file kind (`*ecb.xml` and
/// `*ecbplus.xml` are the topic's two events). Sentence 0 of an
/// `*ecbplus.xml` file is its source URL, which no `*ecb.xml` has: it is
/// dropped, or the URL's tokens alone would tell the two events apart.
pub fn ecbplus_stories(dir: &Path) -> Result<StorySet, EvalError> {
    let set = crate::datasets::ecbplus_with(dir, true)?;
    let docs =
        set.docs.into_iter().map(|d| StoryDoc { story: d.event.unwrap_or_default(), article: d.article }).collect();
    Ok(StorySet { name: "ecbplus".into(), docs, files: set.files })
}

/// Labelled JSON lines: an article a line (the fields of `readnext ingest`'s
/// JSONL), with its gold story in `story` (or `event`). Errors name the line.
pub fn labeled_jsonl_stories(path: &Path) -> Result<StorySet, EvalError> {
    let mut docs = Vec::new();
    crate::datasets::json_lines(path, |l, bad| {
        let mut v: serde_json::Value = serde_json::from_str(l).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object_mut().ok_or_else(|| bad("not a JSON object".into()))?;
        let story = match obj.remove("story") {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Null) | None => None,
            Some(_) => return Err(bad("field `story` must be a string or a number".into())),
        };
        let j: JsonArticle = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        let Some(story) = story.or_else(|| j.event.clone()).filter(|s| !s.trim().is_empty()) else {
            return Err(bad("field `story` (or `event`) is missing or empty".into()));
        };
        let mut article = j.into_article().map_err(bad)?;
        article.id = format!("d{}", docs.len());
        docs.push(StoryDoc { article, story });
        Ok(())
    })?;
    if docs.len() < 2 {
        return Err(EvalError::Data(format!("{}: need at least two labelled articles", path.display())));
    }
    Ok(StorySet { name: "labeled-jsonl".into(), docs, files: vec![path.to_path_buf()] })
}

/// The set cut to short items: each document keeps its headline and the
/// first sentence of its body (`-lead` sets), to check that one
/// configuration holds on wire briefs as on full articles.
pub fn lead_only(mut set: StorySet) -> StorySet {
    for d in &mut set.docs {
        d.article.body.truncate(1);
    }
    set.name.push_str("-lead");
    set
}

/// The document indexes in the streaming order.
pub fn stream_order(set: &StorySet, order: StoryOrder) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..set.docs.len()).collect();
    match order {
        StoryOrder::Given => {}
        StoryOrder::Shuffled(seed) => {
            let mut rng = Rng::new(seed);
            for i in (1..idx.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                idx.swap(i, j);
            }
        }
        StoryOrder::Time => idx.sort_by_key(|&i| set.docs[i].article.published.unwrap_or(i64::MIN)),
    }
    idx
}

/// Runs readnext and the baselines over `set` streamed in `order`.
pub fn run_stories(
    set: &StorySet,
    order: StoryOrder,
    order_name: &str,
    opts: &StoryOptions,
) -> Result<StoriesReport, EvalError> {
    let idx = stream_order(set, order);
    let mut gold_ids: HashMap<&str, usize> = HashMap::new();
    let gold: Vec<usize> = idx
        .iter()
        .map(|&i| {
            let n = gold_ids.len();
            *gold_ids.entry(set.docs[i].story.as_str()).or_insert(n)
        })
        .collect();

    let mut systems = BTreeMap::new();
    let mut assigner = StoryAssigner::new(opts.clone());
    for &i in &idx {
        assigner.add(&set.docs[i].article)?;
    }
    let pred = assigner.assignments();
    systems.insert("readnext".to_string(), score(&gold, &pred));
    let titles: Vec<&str> = idx.iter().map(|&i| set.docs[i].article.title.as_str()).collect();
    let gold_names: Vec<&str> = idx.iter().map(|&i| set.docs[i].story.as_str()).collect();
    let largest = largest_stories(&gold, &pred, &titles, &gold_names);
    let sizes = StorySizes { readnext: sorted_sizes(&pred), gold: sorted_sizes(&gold) };

    let texts: Vec<String> = idx
        .iter()
        .map(|&i| {
            let a = &set.docs[i].article;
            format!("{}\n{}", a.title, a.body.join("\n"))
        })
        .collect();
    let tfidf = Tfidf::new(&LexCorpus::new(&texts));
    systems.insert("single_pass_tfidf".into(), score(&gold, &single_pass(&tfidf, SINGLE_PASS_THRESHOLD)));
    systems.insert("agglomerative".into(), score(&gold, &agglomerative(&tfidf, AGGLOMERATIVE_THRESHOLD)));
    systems.insert("singletons".into(), score(&gold, &(0..gold.len()).collect::<Vec<_>>()));
    Ok(StoriesReport {
        dataset: set.name.clone(),
        documents: gold.len(),
        gold_stories: gold_ids.len(),
        order: order_name.to_string(),
        systems,
        largest,
        sizes,
    })
}

fn sorted_sizes(labels: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = sizes(labels).into_values().collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v
}

/// The largest predicted stories with their majority gold story.
fn largest_stories(gold: &[usize], pred: &[usize], titles: &[&str], gold_names: &[&str]) -> Vec<LargestStory> {
    let (gs, ps) = (sizes(gold), sizes(pred));
    let both = contingency(gold, pred);
    let mut stories: Vec<(usize, usize)> = ps.iter().map(|(&c, &n)| (c, n)).collect();
    // Largest first; ties by the story that started first.
    stories.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    stories
        .into_iter()
        .take(LARGEST_SHOWN)
        .map(|(c, n)| {
            let first = pred.iter().position(|&p| p == c).unwrap_or(0);
            let (g, k) = both
                .iter()
                .filter(|((_, p), _)| *p == c)
                .map(|((g, _), &k)| (*g, k))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((gold[first], 0));
            let name = gold.iter().position(|&x| x == g).map_or("", |i| gold_names[i]);
            LargestStory {
                size: n,
                title: titles[first].to_string(),
                gold: name.to_string(),
                precision: k as f64 / n as f64,
                recall: k as f64 / gs.get(&g).copied().unwrap_or(1) as f64,
            }
        })
        .collect()
}

/// Size bins of the report's histogram: (lowest, highest) documents.
const SIZE_BINS: [(usize, usize); 8] =
    [(1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, usize::MAX)];

/// Writes `index.html` (the scores, the story-size distribution of
/// readnext and of the gold stories as an SVG histogram, and readnext's
/// largest stories with their precision and recall) and `result.json` into
/// `dir`.
pub fn write_stories_html(r: &StoriesReport, dir: &Path) -> Result<(), EvalError> {
    use crate::report::esc;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let count = |v: &[usize]| -> Vec<usize> {
        SIZE_BINS.iter().map(|(lo, hi)| v.iter().filter(|&&n| n >= *lo && n <= *hi).count()).collect()
    };
    let (ours, gold) = (count(&r.sizes.readnext), count(&r.sizes.gold));
    let top = ours.iter().chain(&gold).copied().max().unwrap_or(1).max(1) as f64;
    let (w, h, bw) = (720.0, 220.0, 36.0);
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">", h + 40.0);
    for (i, (lo, hi)) in SIZE_BINS.iter().enumerate() {
        let x = 20.0 + i as f64 * 88.0;
        for (j, (n, color)) in [(ours[i], "#1f77b4"), (gold[i], "#ff7f0e")].into_iter().enumerate() {
            let bh = n as f64 / top * h;
            svg.push_str(&format!(
                "<rect x=\"{:.0}\" y=\"{:.1}\" width=\"{bw}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{n}</title></rect>\
                 <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{n}</text>",
                x + j as f64 * bw,
                h - bh,
                x + j as f64 * bw + bw / 2.0,
                (h - bh - 3.0).max(10.0)
            ));
        }
        let label = match (*lo, *hi) {
            (a, b) if a == b => a.to_string(),
            (a, usize::MAX) => format!("{a}+"),
            (a, b) => format!("{a}-{b}"),
        };
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\" text-anchor=\"middle\">{label}</text>",
            x + bw,
            h + 18.0
        ));
    }
    svg.push_str("</svg>");
    let rows: String = r
        .largest
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                l.size,
                esc(&l.title),
                esc(&l.gold),
                l.precision,
                l.recall
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>readnext eval stories: {ds}</title>\
         <style>body{{font-family:sans-serif;max-width:820px;margin:2em auto}}pre{{background:#f5f5f5;padding:1em;overflow-x:auto}}td{{padding:2px 8px}}</style>\
         </head><body><h1>readnext eval stories: {ds}</h1><pre>{table}</pre>\
         <h2>Story sizes</h2><p>Stories per size bin (documents): \
         <span style=\"color:#1f77b4\">&#9632; readnext ({n} stories)</span> \
         <span style=\"color:#ff7f0e\">&#9632; gold ({g} stories)</span></p>{svg}\
         <h2>readnext's largest stories</h2><p>Each against the gold story most of its documents belong to: \
         precision is the share of its documents in that story, recall the share of that story it holds.</p>\
         <table><tr><th>size</th><th>first headline</th><th>gold story</th><th>precision</th><th>recall</th></tr>{rows}</table>\
         </body></html>",
        ds = esc(&r.dataset),
        table = esc(&stories_table(r)),
        n = r.sizes.readnext.len(),
        g = r.sizes.gold.len(),
    );
    let index = dir.join("index.html");
    std::fs::write(&index, html).map_err(io(&index))?;
    let json = dir.join("result.json");
    let body = serde_json::to_string_pretty(r).map_err(|e| EvalError::Data(e.to_string()))?;
    std::fs::write(&json, body).map_err(io(&json))?;
    Ok(())
}

/// Single-pass clustering: each document (in index order) joins the
/// cluster with the most similar centroid at or above `threshold`, or
/// starts one.
pub fn single_pass(tfidf: &Tfidf, threshold: f32) -> Vec<usize> {
    let mut sums: Vec<HashMap<u32, f32>> = Vec::new();
    let mut norms: Vec<f32> = Vec::new();
    let mut out = Vec::with_capacity(tfidf.len());
    for d in 0..tfidf.len() {
        let v = tfidf.vector(d);
        let mut best: Option<(usize, f32)> = None;
        for (c, sum) in sums.iter().enumerate() {
            if norms[c] <= 0.0 {
                continue;
            }
            let cos = v.iter().map(|(t, w)| w * sum.get(t).copied().unwrap_or(0.0)).sum::<f32>() / norms[c].sqrt();
            if best.is_none_or(|(_, b)| cos > b) {
                best = Some((c, cos));
            }
        }
        let c = match best {
            Some((c, cos)) if cos >= threshold => c,
            _ => {
                sums.push(HashMap::new());
                norms.push(0.0);
                sums.len() - 1
            }
        };
        let dot: f32 = v.iter().map(|(t, w)| w * sums[c].get(t).copied().unwrap_or(0.0)).sum();
        let vv: f32 = v.iter().map(|(_, w)| w * w).sum();
        for (t, w) in v {
            *sums[c].entry(*t).or_default() += w;
        }
        norms[c] += 2.0 * dot + vv;
        out.push(c);
    }
    out
}

/// Average-link agglomerative clustering: merges the two clusters with the
/// highest mean pairwise cosine while it is at least `threshold`.
pub fn agglomerative(tfidf: &Tfidf, threshold: f32) -> Vec<usize> {
    let n = tfidf.len();
    // sim[a][b]: the sum of pairwise cosines between clusters a and b.
    let mut sim: Vec<Vec<f64>> = (0..n).map(|a| (0..n).map(|b| f64::from(tfidf.cosine(a, b))).collect()).collect();
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut label: Vec<usize> = (0..n).collect();
    loop {
        let mut best: Option<(usize, usize, f64)> = None;
        for a in (0..n).filter(|&a| alive[a]) {
            for b in (a + 1..n).filter(|&b| alive[b]) {
                let mean = sim[a][b] / (size[a] * size[b]) as f64;
                if best.is_none_or(|(_, _, m)| mean > m) {
                    best = Some((a, b, mean));
                }
            }
        }
        let Some((a, b, mean)) = best else { break };
        if mean < f64::from(threshold) {
            break;
        }
        for c in 0..n {
            if alive[c] && c != a && c != b {
                sim[a][c] += sim[b][c];
                sim[c][a] = sim[a][c];
            }
        }
        size[a] += size[b];
        alive[b] = false;
        for l in label.iter_mut() {
            if *l == b {
                *l = a;
            }
        }
    }
    label
}

/// Every score of `pred` against `gold` (cluster labels per document).
pub fn score(gold: &[usize], pred: &[usize]) -> ClusterScores {
    let stories = pred.iter().collect::<std::collections::HashSet<_>>().len();
    ClusterScores { b3: b_cubed(gold, pred), nmi: nmi(gold, pred), ari: ari(gold, pred), stories }
}

fn contingency(gold: &[usize], pred: &[usize]) -> HashMap<(usize, usize), usize> {
    let mut m = HashMap::new();
    for (g, p) in gold.iter().zip(pred) {
        *m.entry((*g, *p)).or_insert(0) += 1;
    }
    m
}

fn sizes(labels: &[usize]) -> HashMap<usize, usize> {
    let mut m = HashMap::new();
    for l in labels {
        *m.entry(*l).or_insert(0) += 1;
    }
    m
}

/// B-cubed precision, recall and F1: per document, the share of its
/// predicted cluster in its gold story (precision) and of its gold story in
/// its predicted cluster (recall), averaged over documents.
pub fn b_cubed(gold: &[usize], pred: &[usize]) -> Prf {
    let n = gold.len();
    if n == 0 {
        return Prf { precision: 0.0, recall: 0.0, f1: 0.0 };
    }
    let both = contingency(gold, pred);
    let (gs, ps) = (sizes(gold), sizes(pred));
    let (mut p, mut r) = (0.0, 0.0);
    for (&(g, c), &k) in &both {
        // k documents share gold g and cluster c; each sees k of its cluster
        // in its story.
        p += (k * k) as f64 / ps[&c] as f64;
        r += (k * k) as f64 / gs[&g] as f64;
    }
    let (precision, recall) = (p / n as f64, r / n as f64);
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    Prf { precision, recall, f1 }
}

fn entropy(sizes: &HashMap<usize, usize>, n: f64) -> f64 {
    sizes.values().map(|&s| s as f64 / n).filter(|&q| q > 0.0).map(|q| -q * q.ln()).sum()
}

/// Normalised mutual information, `I(G; P) / ((H(G) + H(P)) / 2)`; 1 when
/// both have one cluster.
pub fn nmi(gold: &[usize], pred: &[usize]) -> f64 {
    let n = gold.len() as f64;
    if gold.is_empty() {
        return 0.0;
    }
    let (gs, ps) = (sizes(gold), sizes(pred));
    let (hg, hp) = (entropy(&gs, n), entropy(&ps, n));
    if hg == 0.0 && hp == 0.0 {
        return 1.0;
    }
    let mut mi = 0.0;
    for (&(g, c), &k) in &contingency(gold, pred) {
        let k = k as f64;
        mi += k / n * (n * k / (gs[&g] as f64 * ps[&c] as f64)).ln();
    }
    if hg + hp == 0.0 { 0.0 } else { mi / ((hg + hp) / 2.0) }
}

/// Adjusted Rand index (Hubert and Arabie).
pub fn ari(gold: &[usize], pred: &[usize]) -> f64 {
    let pairs = |k: usize| (k * k.saturating_sub(1) / 2) as f64;
    let n = gold.len();
    let index: f64 = contingency(gold, pred).values().map(|&k| pairs(k)).sum();
    let a: f64 = sizes(gold).values().map(|&k| pairs(k)).sum();
    let b: f64 = sizes(pred).values().map(|&k| pairs(k)).sum();
    let total = pairs(n);
    if total == 0.0 {
        return 1.0;
    }
    let expected = a * b / total;
    let max = (a + b) / 2.0;
    if max == expected { 1.0 } else { (index - expected) / (max - expected) }
}

/// The report as a table.
pub fn stories_table(r: &StoriesReport) -> String {
    let mut s = format!(
        "dataset {} ({} documents, {} gold stories), order {}\n\n| system | B3 precision | B3 recall | B3 F1 | NMI | ARI | stories |\n|---|---|---|---|---|---|---|\n",
        r.dataset, r.documents, r.gold_stories, r.order
    );
    for (name, c) in &r.systems {
        s.push_str(&format!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            c.b3.precision, c.b3.recall, c.b3.f1, c.nmi, c.ari, c.stories
        ));
    }
    s
}

/// Pairs rated at most this `Overall` are "very similar" (SemEval-2022
/// task 8: 1 very similar .. 4 very dissimilar).
pub const SIMILAR_MAX: f64 = 1.5;
/// Pairs rated at least this are "dissimilar".
pub const DISSIMILAR_MIN: f64 = 3.5;

/// How often the pairs of one language pair land in one story.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairRates {
    /// `lang1-lang2`, as in the data, or `all`.
    pub langs: String,
    /// Very similar pairs, and how many of them share a story.
    pub similar: usize,
    /// Very similar pairs in one story.
    pub similar_together: usize,
    /// Dissimilar pairs.
    pub dissimilar: usize,
    /// Dissimilar pairs in one story.
    pub dissimilar_together: usize,
}

impl PairRates {
    /// Share of the very similar pairs in one story (0 when there are none).
    pub fn similar_rate(&self) -> f64 {
        self.similar_together as f64 / self.similar.max(1) as f64
    }

    /// Share of the dissimilar pairs in one story.
    pub fn dissimilar_rate(&self) -> f64 {
        self.dissimilar_together as f64 / self.dissimilar.max(1) as f64
    }
}

/// `readnext eval stories --dataset semeval`: every article of the rated
/// pairs streamed once, then, per system, how often the pairs land in one
/// story.
#[derive(Debug, Clone, Serialize)]
pub struct PairStoriesReport {
    /// Distinct articles streamed.
    pub documents: usize,
    /// Rated pairs.
    pub pairs: usize,
    /// Per system, the rates of each language pair asked for, then `all`.
    pub systems: BTreeMap<String, Vec<PairRates>>,
}

/// Streams every distinct article of `pairs` (in the order they first
/// appear) through the story assigner and the single-pass baseline, and
/// counts, for the language pairs `langs` (and for all pairs), how many
/// very similar and how many dissimilar pairs share a story. An article
/// with no text is a story of its own.
pub fn pair_story_rates<'a>(
    pairs: &'a [crate::Pair],
    langs: &[&str],
    opts: &StoryOptions,
) -> Result<PairStoriesReport, EvalError> {
    // The same article recurs across pairs: stream it once.
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut docs: Vec<&'a Article> = Vec::new();
    let mut ends: Vec<(usize, usize)> = Vec::with_capacity(pairs.len());
    for p in pairs {
        let mut place = |a: &'a Article| -> usize {
            let key = readnext_core::fnv1a64(a.body.join("\n").as_bytes());
            let next = docs.len();
            let at = *index.entry(key).or_insert(next);
            if at == next {
                docs.push(a);
            }
            at
        };
        let x = place(&p.a);
        let y = place(&p.b);
        ends.push((x, y));
    }

    let mut assigner = StoryAssigner::new(opts.clone());
    let mut story: Vec<String> = Vec::with_capacity(docs.len());
    for (i, a) in docs.iter().enumerate() {
        story.push(match assigner.add(a) {
            Ok(id) => id,
            // No words to compare: a story of its own.
            Err(_) => format!("empty-{i}"),
        });
    }
    // Merges after an article was added move its story: read them at the end.
    let mut k = 0;
    for s in story.iter_mut() {
        if !s.starts_with("empty-") {
            *s = assigner.story_id(k);
            k += 1;
        }
    }
    let texts: Vec<String> = docs.iter().map(|a| format!("{}\n{}", a.title, a.body.join("\n"))).collect();
    let baseline = single_pass(&Tfidf::new(&LexCorpus::new(&texts)), SINGLE_PASS_THRESHOLD);

    let rates = |together: &dyn Fn(usize, usize) -> bool| -> Vec<PairRates> {
        let mut out: Vec<PairRates> = Vec::new();
        for name in langs.iter().copied().chain(std::iter::once("all")) {
            let mut r = PairRates {
                langs: name.to_string(),
                similar: 0,
                similar_together: 0,
                dissimilar: 0,
                dissimilar_together: 0,
            };
            for (p, &(x, y)) in pairs.iter().zip(&ends) {
                if name != "all" && format!("{}-{}", p.lang1, p.lang2) != name {
                    continue;
                }
                let same = together(x, y);
                if p.overall <= SIMILAR_MAX {
                    r.similar += 1;
                    r.similar_together += usize::from(same);
                } else if p.overall >= DISSIMILAR_MIN {
                    r.dissimilar += 1;
                    r.dissimilar_together += usize::from(same);
                }
            }
            out.push(r);
        }
        out
    };
    let mut systems = BTreeMap::new();
    systems.insert("readnext".to_string(), rates(&|x, y| story[x] == story[y]));
    systems.insert("single_pass_tfidf".to_string(), rates(&|x, y| baseline[x] == baseline[y]));
    Ok(PairStoriesReport { documents: docs.len(), pairs: pairs.len(), systems })
}

/// The pair rates as a Markdown table.
pub fn pair_rates_table(r: &PairStoriesReport) -> String {
    let mut s = format!(
        "{} rated pairs, {} distinct articles streamed once; very similar: Overall <= {SIMILAR_MAX}, dissimilar: >= {DISSIMILAR_MIN}\n\n| system | pairs | very similar in one story | dissimilar in one story |\n|---|---|---|---|\n",
        r.pairs, r.documents
    );
    for (name, rates) in &r.systems {
        for x in rates {
            s.push_str(&format!(
                "| {name} | {} | {}/{} ({:.0}%) | {}/{} ({:.0}%) |\n",
                x.langs,
                x.similar_together,
                x.similar,
                100.0 * x.similar_rate(),
                x.dissimilar_together,
                x.dissimilar,
                100.0 * x.dissimilar_rate()
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_rates_count_pairs_of_one_story_by_rating_and_languages() {
        let art = |id: &str, text: &str, lang: &str| Article {
            id: id.into(),
            body: vec![text.into()],
            lang: Some(lang.into()),
            ..Default::default()
        };
        let quake = "A strong earthquake hit Aceh province in Indonesia, killing ten people in Bener Meriah.";
        let quake2 = "The toll of the Aceh earthquake in Indonesia rose as rescuers searched Bener Meriah.";
        let rehab = "Actress Tara Reid has entered the Promises rehab centre in Malibu, her publicist said.";
        let pair = |a: Article, b: Article, overall: f64| crate::Pair {
            lang1: a.lang.clone().unwrap_or_default(),
            lang2: b.lang.clone().unwrap_or_default(),
            a,
            b,
            overall,
        };
        let pairs = vec![
            pair(art("1", quake, "en"), art("2", quake2, "en"), 1.0),
            pair(art("1", quake, "en"), art("3", rehab, "en"), 4.0),
            pair(art("2", quake2, "en"), art("3", rehab, "en"), 2.5),
        ];
        let r = pair_story_rates(&pairs, &["en-en"], &StoryOptions::default()).unwrap();
        assert_eq!((r.documents, r.pairs), (3, 3), "articles recurring across pairs are streamed once");
        let en = &r.systems["readnext"][0];
        assert_eq!(en.langs, "en-en");
        assert_eq!((en.similar, en.similar_together, en.dissimilar, en.dissimilar_together), (1, 1, 1, 0));
        assert_eq!(r.systems["readnext"][1].langs, "all");
        assert!(pair_rates_table(&r).contains("| readnext | en-en | 1/1 (100%) | 0/1 (0%) |"));
    }

    #[test]
    fn b_cubed_on_a_hand_computed_case() {
        // Gold {0,1,2} {3,4}; predicted {0,1} {2,3,4}.
        let gold = [0, 0, 0, 1, 1];
        let pred = [0, 0, 1, 1, 1];
        let s = b_cubed(&gold, &pred);
        // Precision: docs 0,1: 2/2; doc 2: 1/3; docs 3,4: 2/3 → (1+1+1/3+2/3+2/3)/5 = 11/15.
        assert!((s.precision - 11.0 / 15.0).abs() < 1e-12, "{s:?}");
        // Recall: docs 0,1: 2/3; doc 2: 1/3; docs 3,4: 2/2 → (2/3+2/3+1/3+1+1)/5 = 11/15.
        assert!((s.recall - 11.0 / 15.0).abs() < 1e-12);
        assert!((s.f1 - 11.0 / 15.0).abs() < 1e-12);
        // Singletons: precision 1, recall (1/3·3 + 1/2·2)/5 = 2/5.
        let s = b_cubed(&gold, &[0, 1, 2, 3, 4]);
        assert_eq!(s.precision, 1.0);
        assert!((s.recall - 0.4).abs() < 1e-12);
    }

    #[test]
    fn nmi_and_ari_on_hand_computed_cases() {
        let gold = [0, 0, 1, 1];
        assert!((nmi(&gold, &[5, 5, 7, 7]) - 1.0).abs() < 1e-12, "a relabelling is perfect");
        assert!((ari(&gold, &[5, 5, 7, 7]) - 1.0).abs() < 1e-12);
        // Independent: {0,1} split across both clusters.
        assert!(nmi(&gold, &[0, 1, 0, 1]).abs() < 1e-12);
        // ARI of [0,0,1,1] vs [0,1,0,1]: index 0, a = b = 2, total 6,
        // expected 4/6, max 2 → (0 - 2/3) / (2 - 2/3) = -0.5.
        assert!((ari(&gold, &[0, 1, 0, 1]) + 0.5).abs() < 1e-12);
        // Singletons still score NMI > 0 (what makes B-cubed the headline).
        assert!(nmi(&[0, 0, 1, 1, 2, 2], &[0, 1, 2, 3, 4, 5]) > 0.6);
    }

    fn texts(t: &[&str]) -> Tfidf {
        Tfidf::new(&LexCorpus::new(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
    }

    #[test]
    fn the_baselines_group_the_obvious_pairs() {
        let t = texts(&[
            "earthquake aceh indonesia toll",
            "rehab tara reid malibu",
            "aceh earthquake toll rises indonesia",
            "tara reid rehab promises malibu",
        ]);
        assert_eq!(single_pass(&t, 0.3), [0, 1, 0, 1]);
        let a = agglomerative(&t, 0.3);
        assert_eq!((a[0] == a[2], a[1] == a[3], a[0] == a[1]), (true, true, false));
    }

    #[test]
    fn labelled_lines_take_the_story_or_the_event_and_name_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(
            &p,
            "{\"title\":\"A\",\"body\":\"a\",\"story\":\"s1\"}\n{\"title\":\"B\",\"body\":\"b\",\"event\":\"s2\"}\n",
        )
        .unwrap();
        let set = labeled_jsonl_stories(&p).unwrap();
        assert_eq!(set.docs.iter().map(|d| d.story.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
        std::fs::write(&p, "{\"title\":\"A\",\"story\":\"s1\"}\n{\"title\":\"B\"}\n").unwrap();
        let e = labeled_jsonl_stories(&p).unwrap_err().to_string();
        assert!(e.contains("s.jsonl:2") && e.contains("story"), "{e}");
    }

    #[test]
    fn the_source_url_of_ecbplus_files_is_not_part_of_the_story_text() {
        let dir = tempfile::tempdir().unwrap();
        let topic = dir.path().join("1");
        std::fs::create_dir_all(&topic).unwrap();
        let tok = |s: usize, words: &str| {
            words.split(' ').map(|w| format!("<token sentence=\"{s}\">{w}</token>")).collect::<String>()
        };
        let a = format!("<Document>{}{}</Document>", tok(0, "Tara Reid enters rehab"), tok(1, "She checked in ."));
        let b = format!(
            "<Document>{}{}{}</Document>",
            tok(0, "http://example.com/news/lohan-rehab"),
            tok(1, "Lohan enters rehab"),
            tok(2, "She checked in .")
        );
        std::fs::write(topic.join("1_1ecb.xml"), a).unwrap();
        std::fs::write(topic.join("1_1ecbplus.xml"), b).unwrap();
        let set = ecbplus_stories(dir.path()).unwrap();
        let by: Vec<(&str, &str)> = set.docs.iter().map(|d| (d.article.title.as_str(), d.story.as_str())).collect();
        assert_eq!(by, [("Tara Reid enters rehab", "1/ecb"), ("Lohan enters rehab", "1/ecbplus")]);
        assert!(set.docs.iter().all(|d| d.article.body.iter().all(|p| !p.contains("http"))));
        // The related evaluation keeps its headline as it always was.
        let related = crate::datasets::ecbplus(dir.path()).unwrap();
        assert!(related.docs[1].article.title.contains("example.com"), "{:?}", related.docs[1].article.title);
    }

    #[test]
    fn the_largest_stories_are_scored_against_their_majority_gold_story() {
        // Predicted story 0 holds gold a, a, b; story 1 holds a and b, b.
        let gold = [0, 0, 1, 0, 1, 1];
        let pred = [0, 0, 0, 1, 1, 1];
        let l = largest_stories(&gold, &pred, &["t0", "t1", "t2", "t3", "t4", "t5"], &["a", "a", "b", "a", "b", "b"]);
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].size, l[0].title.as_str(), l[0].gold.as_str()), (3, "t0", "a"));
        assert!((l[0].precision - 2.0 / 3.0).abs() < 1e-12 && (l[0].recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((l[1].title.as_str(), l[1].gold.as_str()), ("t3", "b"));
        assert_eq!(sorted_sizes(&[0, 1, 1, 2, 2, 2]), [3, 2, 1]);
    }

    #[test]
    fn shuffled_order_is_a_permutation_fixed_by_the_seed() {
        let docs = (0..20)
            .map(|i| StoryDoc { article: Article { id: format!("d{i}"), ..Default::default() }, story: "s".into() })
            .collect();
        let set = StorySet { name: "t".into(), docs, files: vec![] };
        let a = stream_order(&set, StoryOrder::Shuffled(0));
        assert_eq!(a, stream_order(&set, StoryOrder::Shuffled(0)));
        assert_ne!(a, stream_order(&set, StoryOrder::Shuffled(1)));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..20).collect::<Vec<_>>());
    }
}
