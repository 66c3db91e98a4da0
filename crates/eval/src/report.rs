//! Presenting a run: a text table, the JSON interface, and a self-contained
//! HTML report with SVG plots.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::EvalError;
use crate::run::EvalRun;

/// The metrics shown first in the table, in order, when present.
const MAIN: &[&str] = &["ndcg10", "p5_event", "p10", "map", "auc", "mrr", "ndcg5"];

fn metric_names(run: &EvalRun) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in MAIN {
        if run.systems.iter().any(|(_, r)| r.metrics.contains_key(*m)) {
            names.push(m.to_string());
        }
    }
    for (_, r) in &run.systems {
        for k in r.metrics.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

/// The run as the JSON interface: `{"dataset", "queries", "systems": {name: {metric: value}}}`.
pub fn to_json(run: &EvalRun) -> Value {
    let mut systems = Map::new();
    for (name, r) in &run.systems {
        let mut m = Map::new();
        for (k, v) in &r.metrics {
            m.insert(k.clone(), json!(round(*v)));
        }
        for (g, vals) in &r.groups {
            let mut gm = Map::new();
            for (k, v) in vals {
                gm.insert(
                    k.clone(),
                    if k == "pairs" || k == "impressions" { json!(*v as u64) } else { json!(round(*v)) },
                );
            }
            m.insert(g.clone(), Value::Object(gm));
        }
        m.insert("wall_s".into(), json!(round(r.wall_s)));
        m.insert("peak_mib".into(), json!(round(r.peak_mib)));
        systems.insert(name.clone(), Value::Object(m));
    }
    json!({
        "dataset": run.dataset,
        "queries": run.queries,
        "systems": systems,
        "config": run.config,
        "fingerprint": run.fingerprint,
    })
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// How a table column reads its value from a system's results.
type Column = Box<dyn Fn(&crate::run::SystemResult) -> Option<f64>>;

/// The run as a text table, one row per system.
pub fn to_table(run: &EvalRun) -> String {
    let mut out =
        format!("dataset: {}   queries: {}   data fingerprint: {}\n", run.dataset, run.queries, run.fingerprint);
    let groups: Vec<String> = run.systems.first().map(|(_, r)| r.groups.keys().cloned().collect()).unwrap_or_default();
    let mut cols: Vec<(String, Column)> = Vec::new();
    for m in metric_names(run) {
        let key = m.clone();
        cols.push((m, Box::new(move |r| r.metrics.get(&key).copied())));
    }
    let has = |stat: &str| run.systems.iter().any(|(_, r)| r.groups.values().any(|m| m.contains_key(stat)));
    for g in &groups {
        for stat in ["pearson", "spearman"].into_iter().filter(|s| has(s)) {
            let (g2, s2) = (g.clone(), stat.to_string());
            cols.push((format!("{g} {stat}"), Box::new(move |r| r.groups.get(&g2).and_then(|m| m.get(&s2)).copied())));
        }
    }
    cols.push(("wall s".into(), Box::new(|r| Some(r.wall_s))));
    cols.push(("peak MiB".into(), Box::new(|r| Some(r.peak_mib))));
    let _ = write!(out, "{:<30}", "system");
    for (c, _) in &cols {
        let _ = write!(out, " {:>w$}", c, w = c.len().max(8));
    }
    out.push('\n');
    for (name, r) in &run.systems {
        let _ = write!(out, "{name:<30}");
        for (c, f) in &cols {
            let w = c.len().max(8);
            match f(r) {
                Some(v) => {
                    let _ = write!(out, " {v:>w$.2}");
                }
                None => {
                    let _ = write!(out, " {:>w$}", "-");
                }
            }
        }
        out.push('\n');
    }
    if let Some((_, first)) = run.systems.first()
        && let Some(pairs) = first.groups.values().next().and_then(|m| m.get("pairs"))
    {
        let counts: Vec<String> =
            first.groups.iter().map(|(g, m)| format!("{g}: {}", m.get("pairs").copied().unwrap_or(*pairs))).collect();
        let _ = writeln!(out, "pairs per subset: {}", counts.join(", "));
    }
    if has("auc") {
        // Ranking subsets (MIND's files): one row per subset, one AUC column per system.
        let width = groups.iter().map(String::len).max().unwrap_or(0).max("AUC by subset".len());
        let _ = write!(out, "\n{:<width$} {:>6}", "AUC by subset", "rows");
        for (name, _) in &run.systems {
            let _ = write!(out, " {:>w$}", name, w = name.len().max(8));
        }
        out.push('\n');
        for g in &groups {
            let n = run.systems.first().and_then(|(_, r)| r.groups.get(g)?.get("impressions").copied());
            let _ = write!(out, "{g:<width$} {:>6}", n.map_or("-".to_string(), |n| format!("{n:.0}")));
            for (name, r) in &run.systems {
                let w = name.len().max(8);
                match r.groups.get(g).and_then(|m| m.get("auc")) {
                    Some(v) => {
                        let _ = write!(out, " {v:>w$.2}");
                    }
                    None => {
                        let _ = write!(out, " {:>w$}", "-");
                    }
                }
            }
            out.push('\n');
        }
    }
    out.push_str(
        "accuracy metrics are x100; diversity, coverage and dup_blocks are percentages; age_gap_days in days;\n\
         peak MiB is how far resident memory rose while the system ran (memory freed by earlier systems is reused)\n",
    );
    out
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const COLORS: &[&str] = &["#1b6ca8", "#e07b39", "#3a9e4f", "#8c8c8c", "#9b59b6", "#c0392b"];

/// Grouped bar chart: one group per metric, one bar per system.
fn bars_svg(run: &EvalRun, metrics: &[(String, Vec<f64>)]) -> String {
    let (w, h, pad) = (760.0, 300.0, 40.0);
    let groups = metrics.len().max(1) as f64;
    let systems = run.systems.len().max(1) as f64;
    let gw = (w - 2.0 * pad) / groups;
    let bw = gw * 0.8 / systems;
    let max = metrics.iter().flat_map(|(_, v)| v.iter().copied()).fold(1.0f64, f64::max).max(100.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\">");
    let _ = write!(s, "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/>", h - pad, w - pad);
    for (gi, (name, vals)) in metrics.iter().enumerate() {
        let gx = pad + gi as f64 * gw + gw * 0.1;
        for (si, v) in vals.iter().enumerate() {
            let bh = (h - 2.0 * pad) * v / max;
            let x = gx + si as f64 * bw;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {v:.2}</title></rect>",
                h - pad - bh,
                bw * 0.95,
                COLORS[si % COLORS.len()],
                esc(&run.systems[si].0)
            );
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{v:.1}</text>",
                x + bw / 2.0,
                h - pad - bh - 3.0
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            gx + gw * 0.4,
            h - pad + 15.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// One series as a polyline over evenly spaced slots, scaled to `max`.
fn polyline(values: &[f64], (w, h, pad): (f64, f64, f64), max: f64, color: &str) -> String {
    let n = values.len().max(1) as f64;
    let pts: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!("{:.1},{:.1}", pad + (w - 2.0 * pad) * (i as f64 + 0.5) / n, h - pad - (h - 2.0 * pad) * v / max)
        })
        .collect();
    format!("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"{color}\" points=\"{}\"/>", pts.join(" "))
}

/// Histogram of per-query nDCG@10, one polyline per system.
fn histogram_svg(run: &EvalRun) -> String {
    let (w, h, pad) = (760.0, 260.0, 40.0);
    let bins = 10usize;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\">");
    let counts: Vec<Vec<f64>> = run
        .systems
        .iter()
        .map(|(_, r)| {
            let mut c = vec![0.0; bins];
            for v in &r.per_query {
                c[((v / 100.0 * bins as f64) as usize).min(bins - 1)] += 1.0;
            }
            let n = r.per_query.len().max(1) as f64;
            c.iter().map(|x| x / n).collect()
        })
        .collect();
    let max = counts.iter().flatten().copied().fold(0.01, f64::max);
    for i in 0..=bins {
        let x = pad + (w - 2.0 * pad) * i as f64 / bins as f64;
        let _ = write!(s, "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", h - pad + 15.0, i * 10);
    }
    for (si, c) in counts.iter().enumerate() {
        s.push_str(&polyline(c, (w, h, pad), max, COLORS[si % COLORS.len()]));
    }
    s.push_str("</svg>");
    s
}

/// Mean gain at each rank, one polyline per system.
fn rank_curve_svg(run: &EvalRun) -> String {
    let (w, h, pad) = (760.0, 260.0, 40.0);
    let max = run.systems.iter().flat_map(|(_, r)| r.gain_at_rank.iter().copied()).fold(0.01, f64::max);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\">");
    for i in 0..10 {
        let x = pad + (w - 2.0 * pad) * (i as f64 + 0.5) / 10.0;
        let _ = write!(s, "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", h - pad + 15.0, i + 1);
    }
    for (si, (_, r)) in run.systems.iter().enumerate() {
        s.push_str(&polyline(&r.gain_at_rank, (w, h, pad), max, COLORS[si % COLORS.len()]));
    }
    s.push_str("</svg>");
    s
}

/// Writes `DIR/index.html` (and `DIR/result.json`): the table, plots, the
/// configuration and the data fingerprint.
pub fn write_html(run: &EvalRun, dir: &Path) -> Result<(), EvalError> {
    std::fs::create_dir_all(dir).map_err(|source| EvalError::Io { path: dir.to_path_buf(), source })?;
    let mut metrics: Vec<(String, Vec<f64>)> = Vec::new();
    for m in metric_names(run).into_iter().filter(|m| MAIN.contains(&m.as_str()) || m == "diversity" || m == "coverage")
    {
        metrics.push((m.clone(), run.systems.iter().map(|(_, r)| r.metrics.get(&m).copied().unwrap_or(0.0)).collect()));
    }
    let groups: Vec<String> = run.systems.first().map(|(_, r)| r.groups.keys().cloned().collect()).unwrap_or_default();
    for g in &groups {
        metrics.push((
            format!("{g} pearson"),
            run.systems
                .iter()
                .map(|(_, r)| r.groups.get(g).and_then(|m| m.get("pearson")).copied().unwrap_or(0.0))
                .collect(),
        ));
    }
    let legend: String = run
        .systems
        .iter()
        .enumerate()
        .map(|(i, (n, _))| format!("<span style=\"color:{}\">&#9632; {}</span> ", COLORS[i % COLORS.len()], esc(n)))
        .collect();
    let config: String =
        run.config.iter().map(|(k, v)| format!("<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v))).collect();
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>readnext eval: {ds}</title>\
         <style>body{{font-family:sans-serif;max-width:820px;margin:2em auto}}pre{{background:#f5f5f5;padding:1em;overflow-x:auto}}td{{padding:2px 8px}}</style>\
         </head><body><h1>readnext eval: {ds}</h1><p>{q} queries. Data fingerprint <code>{fp}</code>.</p><p>{legend}</p>\
         <h2>Metrics (x100)</h2>{bars}<pre>{table}</pre>",
        ds = esc(&run.dataset),
        q = run.queries,
        fp = esc(&run.fingerprint),
        bars = bars_svg(run, &metrics),
        table = esc(&to_table(run)),
    );
    if run.systems.iter().any(|(_, r)| !r.per_query.is_empty()) {
        let _ = write!(
            html,
            "<h2>Distribution of per-query nDCG@10</h2><p>Share of queries per bin of 10 points.</p>{}\
             <h2>Mean gain by rank</h2>{}",
            histogram_svg(run),
            rank_curve_svg(run)
        );
    }
    let _ = write!(html, "<h2>Configuration</h2><table>{config}</table></body></html>");
    let write = |name: &str, body: String| {
        let p = dir.join(name);
        std::fs::write(&p, body).map_err(|source| EvalError::Io { path: p, source })
    };
    write("index.html", html)?;
    write("result.json", serde_json::to_string_pretty(&to_json(run)).unwrap_or_default())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::run::SystemResult;

    fn system(auc: f64, subsets: &[(&str, f64, f64)]) -> SystemResult {
        SystemResult {
            metrics: BTreeMap::from([("auc".to_string(), auc)]),
            groups: subsets
                .iter()
                .map(|(g, auc, n)| {
                    (g.to_string(), BTreeMap::from([("auc".to_string(), *auc), ("impressions".to_string(), *n)]))
                })
                .collect(),
            wall_s: 0.0,
            peak_mib: 0.0,
            per_query: vec![],
            gain_at_rank: vec![],
        }
    }

    #[test]
    fn ranking_subsets_get_one_row_each_and_no_correlation_columns() {
        let run = EvalRun {
            dataset: "mind".into(),
            queries: 3,
            systems: vec![
                ("readnext".into(), system(70.0, &[("cold-match", 75.5, 2.0), ("cold-not_match", 64.25, 1.0)])),
                ("random".into(), system(50.0, &[("cold-match", 49.0, 2.0), ("cold-not_match", 51.0, 1.0)])),
            ],
            config: BTreeMap::new(),
            fingerprint: String::new(),
        };
        let table = to_table(&run);
        assert!(!table.contains("pearson"), "{table}");
        let row =
            |name: &str| table.lines().find(|l| l.starts_with(name)).map(|l| l.split_whitespace().collect::<Vec<_>>());
        assert_eq!(row("cold-match "), Some(vec!["cold-match", "2", "75.50", "49.00"]), "{table}");
        assert_eq!(row("cold-not_match"), Some(vec!["cold-not_match", "1", "64.25", "51.00"]), "{table}");
        let v = to_json(&run);
        assert_eq!(v["systems"]["readnext"]["cold-match"]["impressions"], 2);
        assert_eq!(v["systems"]["random"]["cold-not_match"]["auc"], 51.0);
    }
}
