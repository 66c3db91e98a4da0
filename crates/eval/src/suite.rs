//! The suite: every related dev set in one run, each with its baselines,
//! summarised per set and in the mean, with a paired bootstrap over queries
//! saying whether readnext's lead (or gap) on the best baseline is real.
//!
//! Each set is scored by its headline figure: nDCG@10 for the related sets,
//! Pearson for SemEval (en-en and en+es, as two columns). The mean is over
//! those columns, so that no set weighs more for having more queries.

use std::fmt::Write as _;

use serde_json::json;

use crate::baselines::Rng;
use crate::run::{EvalRun, SystemResult};

/// The systems that are readnext itself; every other system of a run is a
/// baseline.
const OURS: [&str; 2] = ["readnext", "readnext_lexical"];
/// Resamples of the paired bootstrap.
const RESAMPLES: usize = 2000;

/// One column of the summary: a set's headline figure.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteColumn {
    /// "ecbplus nDCG@10", "semeval en-en Pearson", ….
    pub name: String,
    /// System → its figure, in the run's system order.
    pub values: Vec<(String, f64)>,
    /// The best baseline of the run, and its figure.
    pub best_baseline: Option<(String, f64)>,
    /// Paired bootstrap of readnext minus the best baseline over the set's
    /// queries (related sets only: SemEval's figure is a correlation over
    /// pairs, not a mean over queries).
    pub bootstrap: Option<Bootstrap>,
}

/// A paired bootstrap over queries of the difference of two systems' mean
/// per-query nDCG@10.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// The observed difference (points).
    pub diff: f64,
    /// 95% interval of the resampled differences.
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// Share of resamples in which the difference has the other sign, or is
    /// zero: small means the difference is real.
    pub p: f64,
}

/// The headline columns of one run.
fn columns(run: &EvalRun) -> Vec<SuiteColumn> {
    let pick = |name: String, get: &dyn Fn(&SystemResult) -> Option<f64>, per_query: bool| {
        let values: Vec<(String, f64)> =
            run.systems.iter().filter_map(|(s, r)| get(r).map(|v| (s.clone(), v))).collect();
        let best_baseline =
            values.iter().filter(|(s, _)| !OURS.contains(&s.as_str())).max_by(|a, b| a.1.total_cmp(&b.1)).cloned();
        let bootstrap = match (&best_baseline, per_query) {
            (Some((b, _)), true) => {
                let of = |name: &str| run.systems.iter().find(|(s, _)| s == name).map(|(_, r)| &r.per_query);
                match (of("readnext"), of(b)) {
                    (Some(a), Some(b)) if a.len() == b.len() && !a.is_empty() => Some(paired_bootstrap(a, b)),
                    _ => None,
                }
            }
            _ => None,
        };
        SuiteColumn { name, values, best_baseline, bootstrap }
    };
    if run.dataset == "semeval" {
        ["en-en", "en+es"]
            .into_iter()
            .map(|g| {
                let get = move |r: &SystemResult| r.groups.get(g).and_then(|m| m.get("pearson")).copied();
                pick(format!("semeval {g} Pearson"), &get, false)
            })
            .collect()
    } else {
        let get = |r: &SystemResult| r.metrics.get("ndcg10").copied();
        vec![pick(format!("{} nDCG@10", run.dataset), &get, true)]
    }
}

/// Mean of `a - b` over queries, with its bootstrap interval and sign
/// share; resampled with the evaluation's fixed seed, so a run repeats.
pub fn paired_bootstrap(a: &[f64], b: &[f64]) -> Bootstrap {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mean = |xs: &mut dyn Iterator<Item = f64>| xs.sum::<f64>() / n as f64;
    let diff = mean(&mut d.iter().copied());
    let mut rng = Rng::new(crate::SEED);
    let mut means: Vec<f64> =
        (0..RESAMPLES).map(|_| mean(&mut (0..n).map(|_| d[(rng.next_u64() % n as u64) as usize]))).collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    let other_side = means.iter().filter(|m| if diff > 0.0 { **m <= 0.0 } else { **m >= 0.0 }).count();
    Bootstrap { diff, low: at(0.025), high: at(0.975), p: other_side as f64 / RESAMPLES as f64 }
}

/// The summary of a suite's runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSummary {
    /// Every set's headline columns, in run order.
    pub columns: Vec<SuiteColumn>,
    /// System → its mean over the columns it has a figure in, and in how
    /// many; in the first run's system order.
    pub means: Vec<(String, f64, usize)>,
}

/// Summarises the runs of a suite.
pub fn suite_summary(runs: &[EvalRun]) -> SuiteSummary {
    let columns: Vec<SuiteColumn> = runs.iter().flat_map(columns).collect();
    let mut systems: Vec<String> = Vec::new();
    for c in &columns {
        for (s, _) in &c.values {
            if !systems.contains(s) {
                systems.push(s.clone());
            }
        }
    }
    let means = systems
        .into_iter()
        .map(|s| {
            let vals: Vec<f64> =
                columns.iter().filter_map(|c| c.values.iter().find(|(x, _)| *x == s).map(|(_, v)| *v)).collect();
            let mean = if vals.is_empty() { 0.0 } else { vals.iter().sum::<f64>() / vals.len() as f64 };
            (s, mean, vals.len())
        })
        .collect();
    SuiteSummary { columns, means }
}

/// The summary as a table: a row per system, a column per set's figure and
/// the mean; then, per set, readnext against the best baseline.
pub fn suite_table(s: &SuiteSummary) -> String {
    let mut out = String::from("suite summary (headline figure of each set, baselines of the same run)\n");
    let _ = write!(out, "{:<30}", "system");
    for c in &s.columns {
        let _ = write!(out, " {:>w$}", c.name, w = c.name.len().max(8));
    }
    out.push_str("     mean\n");
    for (system, mean, n) in &s.means {
        let _ = write!(out, "{system:<30}");
        for c in &s.columns {
            let w = c.name.len().max(8);
            match c.values.iter().find(|(x, _)| x == system) {
                Some((_, v)) => {
                    let _ = write!(out, " {v:>w$.2}");
                }
                None => {
                    let _ = write!(out, " {:>w$}", "-");
                }
            }
        }
        let partial = if *n < s.columns.len() { format!(" (of {n})") } else { String::new() };
        let _ = writeln!(out, " {mean:>8.2}{partial}");
    }
    out.push('\n');
    for c in &s.columns {
        let ours = c.values.iter().find(|(x, _)| x == "readnext").map(|(_, v)| *v);
        match (ours, &c.best_baseline) {
            (Some(v), Some((b, bv))) => {
                let _ = write!(out, "{}: readnext {v:.2}, best baseline {b} {bv:.2} ({:+.2})", c.name, v - bv);
                if let Some(bs) = c.bootstrap {
                    let _ = write!(
                        out,
                        "; paired bootstrap over queries: {:+.2} [{:+.2}, {:+.2}], p {:.3}",
                        bs.diff, bs.low, bs.high, bs.p
                    );
                }
                out.push('\n');
            }
            _ => {
                let _ = writeln!(out, "{}: no readnext or no baseline figure", c.name);
            }
        }
    }
    out
}

/// The summary as JSON.
pub fn suite_json(s: &SuiteSummary) -> serde_json::Value {
    json!({
        "columns": s.columns.iter().map(|c| json!({
            "name": c.name,
            "values": c.values.iter().map(|(s, v)| (s.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "best_baseline": c.best_baseline.as_ref().map(|(s, v)| json!({"system": s, "value": v})),
            "bootstrap": c.bootstrap.map(|b| json!({"diff": b.diff, "low": b.low, "high": b.high, "p": b.p})),
        })).collect::<Vec<_>>(),
        "means": s.means.iter().map(|(s, m, n)| (s.clone(), json!({"mean": m, "columns": n})))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// The corpus a summary column's set is drawn from. Sets drawn from one
/// corpus (a set and its `-lead` cut; SemEval's language groups) are held
/// out together: choosing a setting on ECB+ and scoring it on ECB+'s leads
/// would leak the held-out documents into the choice.
pub fn corpus_of(column: &str) -> &str {
    let set = column.split(' ').next().unwrap_or(column);
    set.strip_suffix("-lead").unwrap_or(set)
}

/// One point of a settings grid: its label ("dense 0.35, dense_short
/// 0.65") and the suite's summary under it.
#[derive(Debug, Clone)]
pub struct GridPoint {
    /// What the settings were.
    pub label: String,
    /// The suite under them.
    pub summary: SuiteSummary,
}

/// One fold of leave-one-dataset-out: the setting chosen without a corpus,
/// and what it then scores on that corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct LodoFold {
    /// The corpus held out.
    pub held_out: String,
    /// Index (into the grid) of the point with the best mean of readnext's
    /// figures over the other corpora's columns.
    pub chosen: usize,
    /// That mean.
    pub train_mean: f64,
    /// The held-out columns under the chosen point.
    pub scores: Vec<HeldOut>,
}

/// A held-out column: its name, readnext's figure, and the run's best
/// baseline with its figure.
pub type HeldOut = (String, f64, Option<(String, f64)>);

fn readnext_value(c: &SuiteColumn) -> Option<f64> {
    c.values.iter().find(|(s, _)| s == "readnext").map(|(_, v)| *v)
}

/// Leave-one-dataset-out over a grid: for each corpus, the point chosen on
/// every other corpus's columns (by the mean of readnext's figures; the
/// first point wins a tie, so list the shipped default first), scored on
/// the corpus left out. Every point must summarise the same sets.
pub fn leave_one_dataset_out(points: &[GridPoint]) -> Vec<LodoFold> {
    let Some(first) = points.first() else { return vec![] };
    let mut corpora: Vec<&str> = Vec::new();
    for c in &first.summary.columns {
        let k = corpus_of(&c.name);
        if !corpora.contains(&k) {
            corpora.push(k);
        }
    }
    corpora
        .iter()
        .map(|&held| {
            let train_mean = |p: &GridPoint| {
                let vals: Vec<f64> = p
                    .summary
                    .columns
                    .iter()
                    .filter(|c| corpus_of(&c.name) != held)
                    .filter_map(readnext_value)
                    .collect();
                if vals.is_empty() { f64::NEG_INFINITY } else { vals.iter().sum::<f64>() / vals.len() as f64 }
            };
            let mut chosen = 0;
            let mut best = train_mean(first);
            for (i, p) in points.iter().enumerate().skip(1) {
                let m = train_mean(p);
                if m > best {
                    (chosen, best) = (i, m);
                }
            }
            let scores = points[chosen]
                .summary
                .columns
                .iter()
                .filter(|c| corpus_of(&c.name) == held)
                .map(|c| (c.name.clone(), readnext_value(c).unwrap_or(f64::NAN), c.best_baseline.clone()))
                .collect();
            LodoFold { held_out: held.to_string(), chosen, train_mean: best, scores }
        })
        .collect()
}

/// The grid and its folds as a table: readnext's figure per point and
/// column, then each fold's choice and held-out score against the best
/// baseline, and the mean of the held-out scores.
pub fn lodo_table(points: &[GridPoint], folds: &[LodoFold]) -> String {
    let mut out = String::from("settings grid (readnext's headline figure per set)\n");
    let Some(first) = points.first() else { return out };
    let label_w = points.iter().map(|p| p.label.len()).max().unwrap_or(8).max(8);
    let _ = write!(out, "{:<label_w$}", "settings");
    for c in &first.summary.columns {
        let _ = write!(out, " {:>w$}", c.name, w = c.name.len().max(8));
    }
    out.push_str("     mean\n");
    for p in points {
        let _ = write!(out, "{:<label_w$}", p.label);
        let mut vals = Vec::new();
        for c in &p.summary.columns {
            let v = readnext_value(c).unwrap_or(f64::NAN);
            vals.push(v);
            let _ = write!(out, " {v:>w$.2}", w = c.name.len().max(8));
        }
        let _ = writeln!(out, " {:>8.2}", vals.iter().sum::<f64>() / vals.len().max(1) as f64);
    }
    out.push_str("\nleave one dataset out (chosen on the other corpora by their mean, scored on the one left out)\n");
    let mut held = Vec::new();
    for f in folds {
        for (name, v, base) in &f.scores {
            held.push(*v);
            let base = match base {
                Some((b, bv)) => format!("best baseline {b} {bv:.2} ({:+.2})", v - bv),
                None => "no baseline".into(),
            };
            let _ = writeln!(
                out,
                "without {}: chose {} (mean {:.2} elsewhere); {name}: readnext {v:.2}, {base}",
                f.held_out, points[f.chosen].label, f.train_mean
            );
        }
    }
    let _ = writeln!(
        out,
        "held-out mean: {:.2} over {} columns",
        held.iter().sum::<f64>() / held.len().max(1) as f64,
        held.len()
    );
    out
}

/// The grid and its folds as JSON.
pub fn lodo_json(points: &[GridPoint], folds: &[LodoFold]) -> serde_json::Value {
    json!({
        "grid": points.iter().map(|p| json!({
            "settings": p.label,
            "readnext": p.summary.columns.iter().map(|c| (c.name.clone(), json!(readnext_value(c)))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "folds": folds.iter().map(|f| json!({
            "held_out": f.held_out,
            "chosen": points[f.chosen].label,
            "train_mean": f.train_mean,
            "scores": f.scores.iter().map(|(n, v, b)| json!({
                "column": n, "readnext": v,
                "best_baseline": b.as_ref().map(|(s, x)| json!({"system": s, "value": x})),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(ndcg: f64, per_query: Vec<f64>) -> SystemResult {
        SystemResult { metrics: [("ndcg10".to_string(), ndcg)].into(), per_query, ..Default::default() }
    }

    #[test]
    fn a_lead_on_every_query_is_real_and_a_coin_toss_is_not() {
        let a: Vec<f64> = (0..200).map(|i| 50.0 + (i % 7) as f64).collect();
        let better: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let b = paired_bootstrap(&better, &a);
        assert!((b.diff - 1.0).abs() < 1e-9 && b.p == 0.0 && b.low > 0.0, "{b:?}");
        // Ahead on half the queries, behind by as much on the other half.
        let mixed: Vec<f64> = a.iter().enumerate().map(|(i, x)| if i % 2 == 0 { x + 5.0 } else { x - 5.0 }).collect();
        let b = paired_bootstrap(&mixed, &a);
        assert!(b.diff.abs() < 1e-9 && b.low < 0.0 && b.high > 0.0 && b.p > 0.2, "{b:?}");
    }

    #[test]
    fn the_summary_has_a_column_per_set_and_the_mean_of_them() {
        let q = |v: f64| vec![v; 10];
        let related = EvalRun {
            dataset: "bbc".into(),
            systems: vec![
                ("readnext".into(), system(90.0, q(90.0))),
                ("readnext_lexical".into(), system(88.0, q(88.0))),
                ("tfidf".into(), system(89.0, q(89.0))),
            ],
            ..Default::default()
        };
        let mut pairs = EvalRun { dataset: "semeval".into(), ..Default::default() };
        for (name, en, es) in [("readnext", 80.0, 70.0), ("dense", 82.0, 60.0)] {
            let mut r = SystemResult::default();
            r.groups.insert("en-en".into(), [("pearson".to_string(), en)].into());
            r.groups.insert("en+es".into(), [("pearson".to_string(), es)].into());
            pairs.systems.push((name.into(), r));
        }
        let s = suite_summary(&[related, pairs]);
        let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["bbc nDCG@10", "semeval en-en Pearson", "semeval en+es Pearson"]);
        assert_eq!(s.columns[0].best_baseline, Some(("tfidf".into(), 89.0)));
        assert_eq!(s.columns[1].best_baseline, Some(("dense".into(), 82.0)));
        assert!(s.columns[0].bootstrap.is_some() && s.columns[1].bootstrap.is_none());
        assert_eq!(s.means[0], ("readnext".into(), 80.0, 3));
        assert_eq!(s.means[2], ("tfidf".into(), 89.0, 1));
        let table = suite_table(&s);
        assert!(table.contains("bbc nDCG@10: readnext 90.00, best baseline tfidf 89.00 (+1.00)"), "{table}");
        assert!(table.contains("(of 1)"), "{table}");
    }

    fn summary(cols: &[(&str, f64, f64)]) -> SuiteSummary {
        let columns = cols
            .iter()
            .map(|&(name, ours, base)| SuiteColumn {
                name: name.into(),
                values: vec![("readnext".into(), ours), ("tfidf".into(), base)],
                best_baseline: Some(("tfidf".into(), base)),
                bootstrap: None,
            })
            .collect();
        SuiteSummary { columns, means: vec![] }
    }

    #[test]
    fn a_corpus_left_out_never_chooses_its_own_setting() {
        assert_eq!(corpus_of("ecbplus-lead nDCG@10"), "ecbplus");
        assert_eq!(corpus_of("semeval en+es Pearson"), "semeval");
        assert_eq!(corpus_of("agnews nDCG@10"), "agnews");
        // Point "a" wins on bbc and on its lead cut, "b" on agnews and ecbplus.
        let cols = |bbc: f64, lead: f64, ag: f64, ecb: f64| {
            summary(&[
                ("bbc nDCG@10", bbc, 80.0),
                ("bbc-lead nDCG@10", lead, 70.0),
                ("agnews nDCG@10", ag, 75.0),
                ("ecbplus nDCG@10", ecb, 90.0),
            ])
        };
        let points = [
            GridPoint { label: "a".into(), summary: cols(90.0, 80.0, 70.0, 90.0) },
            GridPoint { label: "b".into(), summary: cols(85.0, 75.0, 80.0, 92.0) },
        ];
        let folds = leave_one_dataset_out(&points);
        let held: Vec<&str> = folds.iter().map(|f| f.held_out.as_str()).collect();
        assert_eq!(held, ["bbc", "agnews", "ecbplus"], "a set and its lead cut are one corpus");
        // Without bbc (both of its columns), b's mean elsewhere is 86 to a's
        // 80: bbc is scored with b, which is worse on it.
        assert_eq!(folds[0].chosen, 1);
        assert!((folds[0].train_mean - 86.0).abs() < 1e-9);
        assert_eq!(folds[0].scores.iter().map(|s| s.1).collect::<Vec<_>>(), [85.0, 75.0]);
        // Without agnews: a has (90+80+90)/3 = 86.67 against b's 84.
        assert_eq!((folds[1].chosen, folds[1].scores[0].1), (0, 70.0));
        let table = lodo_table(&points, &folds);
        assert!(table.contains("without agnews: chose a"), "{table}");
        assert!(table.contains("held-out mean: "), "{table}");
    }
}
