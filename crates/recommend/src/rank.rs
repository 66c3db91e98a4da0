//! The `related` ranking: retrieval, fusion, recency, copies, diversity, why.

use std::collections::{HashMap, HashSet};

use readnext_analysis::hamming;
use readnext_core::{Analysis, Pick, Signal, Why, format_date};

use crate::RecommendError;
use crate::engine::{Engine, Query};
use crate::options::{RelatedOptions, Weights};
use crate::vectors::{CorpusStats, SparseVec, entity_vector, text_vector};

/// Terms in the "more like this" query, as Lucene's default.
const MLT_TERMS: usize = 25;
/// Entities in the entity query.
const ENTITY_TERMS: usize = 10;
/// Reciprocal-rank-fusion constant.
const RRF_K: f32 = 60.0;

struct Candidate {
    id: String,
    analysis: Analysis,
    text: SparseVec,
    ents: SparseVec,
    bm25_rank: Option<usize>,
    entity_rank: Option<usize>,
    parts: [f32; 3],
    relevance: f32,
    recency: f32,
    score: f32,
}

/// Fused relevance of a candidate to a query, with its parts
/// `[text, entities, keyphrases]`.
pub(crate) fn relevance(
    w: &Weights,
    qt: &SparseVec,
    qe: &SparseVec,
    qa: &Analysis,
    ct: &SparseVec,
    ce: &SparseVec,
    ca: &Analysis,
) -> (f32, [f32; 3]) {
    let text = qt.cosine(ct);
    let ents = qe.cosine(ce);
    let kp = keyphrase_overlap(qa, ca);
    (w.text * text + w.entities * ents + w.keyphrases * kp, [text, ents, kp])
}

fn keyphrase_overlap(a: &Analysis, b: &Analysis) -> f32 {
    let n = a.keyphrases.len().min(b.keyphrases.len());
    if n == 0 {
        return 0.0;
    }
    let keys: HashSet<&str> = a.keyphrases.iter().map(|k| k.key.as_str()).collect();
    let shared = b.keyphrases.iter().filter(|k| keys.contains(k.key.as_str())).count();
    shared as f32 / n as f32
}

fn is_copy(a: &Analysis, at: &SparseVec, b: &Analysis, bt: &SparseVec, opts: &RelatedOptions) -> bool {
    a.content_hash == b.content_hash || hamming(a.simhash, b.simhash) <= opts.dup_bits || at.cosine(bt) >= opts.dup_cosine
}

pub(crate) fn related(engine: &Engine, stats: &CorpusStats, q: &Query, opts: &RelatedOptions) -> Result<Vec<Pick>, RecommendError> {
    if opts.k == 0 {
        return Ok(vec![]);
    }
    let qt = text_vector(&q.analysis, stats);
    let qe = entity_vector(&q.analysis, stats);
    let exclude = q.id.as_deref();
    let index = engine.index();
    let by_terms = index.search_terms(&boosts(&qt, MLT_TERMS), opts.candidates, &opts.filter, exclude)?;
    let by_entities = index.search_entities(&boosts(&qe, ENTITY_TERMS), opts.candidates / 2, &opts.filter, exclude)?;

    // Union of both lists, remembering each rank.
    let mut ranks: HashMap<String, (Option<usize>, Option<usize>)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (rank, (id, _)) in by_terms.iter().enumerate() {
        if ranks.insert(id.clone(), (Some(rank), None)).is_none() {
            order.push(id.clone());
        }
    }
    for (rank, (id, _)) in by_entities.iter().enumerate() {
        let e = ranks.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            (None, None)
        });
        e.1 = Some(rank);
    }
    let analyses = engine.store().analyses(&order)?;
    let mut cands: Vec<Candidate> = Vec::with_capacity(order.len());
    for (id, analysis) in order.into_iter().zip(analyses) {
        let Some(analysis) = analysis else { continue };
        let (bm25_rank, entity_rank) = ranks.get(&id).copied().unwrap_or((None, None));
        let text = text_vector(&analysis, stats);
        let ents = entity_vector(&analysis, stats);
        let (relevance, parts) = relevance(&opts.weights, &qt, &qe, &q.analysis, &text, &ents, &analysis);
        cands.push(Candidate {
            id,
            analysis,
            text,
            ents,
            bm25_rank,
            entity_rank,
            parts,
            relevance,
            recency: 1.0,
            score: relevance,
        });
    }
    // Recency: closeness in time to the query article, when both have dates.
    if opts.recency_weight > 0.0 {
        if let Some(qp) = q.published {
            for c in cands.iter_mut() {
                if let Some(p) = c.analysis.published {
                    let days = ((p - qp).abs() as f32) / 86_400.0;
                    c.recency = 1.0 - opts.recency_weight * (1.0 - (-days / opts.recency_days.max(1.0)).exp());
                    c.score = c.relevance * c.recency;
                }
            }
        }
    }
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));

    // Collapse copies: of a query's copy and of each other, keep the best one.
    let mut kept: Vec<Candidate> = Vec::new();
    for c in cands {
        if c.score <= 0.0 || kept.len() >= opts.k * 4 {
            break;
        }
        if is_copy(&q.analysis, &qt, &c.analysis, &c.text, opts) {
            continue;
        }
        if kept.iter().any(|k| is_copy(&k.analysis, &k.text, &c.analysis, &c.text, opts)) {
            continue;
        }
        kept.push(c);
    }

    // Diversity: maximal marginal relevance over the text vectors.
    let top = kept.first().map_or(1.0, |c| c.score.max(1e-6));
    let mut chosen: Vec<Candidate> = Vec::with_capacity(opts.k);
    while chosen.len() < opts.k && !kept.is_empty() {
        let mut best = 0;
        let mut best_value = f32::NEG_INFINITY;
        for (i, c) in kept.iter().enumerate() {
            let redundancy = chosen.iter().map(|s| s.text.cosine(&c.text)).fold(0.0, f32::max);
            let value = opts.mmr_lambda * c.score / top - (1.0 - opts.mmr_lambda) * redundancy;
            if value > best_value {
                best_value = value;
                best = i;
            }
        }
        chosen.push(kept.remove(best));
    }

    let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
    let records = engine.store().get_many(&ids)?;
    Ok(chosen
        .iter()
        .zip(records)
        .filter_map(|(c, r)| {
            let r = r?;
            Some(Pick {
                id: c.id.clone(),
                title: r.article.title,
                url: r.article.url,
                published: r.article.published.map(format_date),
                score: c.score,
                why: explain(q, &qt, &qe, c),
            })
        })
        .collect())
}

fn boosts(v: &SparseVec, n: usize) -> Vec<(String, f32)> {
    let top = v.top(n);
    let max = top.first().map_or(1.0, |t| t.1.max(1e-6));
    top.into_iter().map(|(k, w)| (k, w / max)).collect()
}

fn explain(q: &Query, qt: &SparseVec, qe: &SparseVec, c: &Candidate) -> Why {
    // Shared entities, named as the query names them.
    let mut names: Vec<String> = Vec::new();
    for (key, _) in qe.shared(&c.ents) {
        let name = q
            .analysis
            .entities
            .iter()
            .find(|e| e.key == key || e.key.ends_with(&format!("_{key}")))
            .map(|e| e.name.clone())
            .unwrap_or_else(|| key.replace('_', " "));
        if !names.contains(&name) {
            names.push(name);
        }
        if names.len() == 4 {
            break;
        }
    }
    // Shared keyphrases first, then the terms that weigh most in the match.
    let mut phrases: Vec<String> = Vec::new();
    let ckeys: HashSet<&str> = c.analysis.keyphrases.iter().map(|k| k.key.as_str()).collect();
    for k in &q.analysis.keyphrases {
        if k.key.contains(' ') && ckeys.contains(k.key.as_str()) && phrases.len() < 3 {
            phrases.push(k.text.clone());
        }
    }
    let surface: HashMap<&str, &str> = q.analysis.terms.iter().map(|t| (t.stem.as_str(), t.surface.as_str())).collect();
    for (stem, _) in qt.shared(&c.text) {
        if phrases.len() >= 6 {
            break;
        }
        let word = surface.get(stem).copied().unwrap_or(stem).to_string();
        let covered = phrases.iter().any(|p| p.split(' ').any(|w| w == word)) || names.iter().any(|n| n.to_lowercase().contains(&word));
        if !covered {
            phrases.push(word);
        }
    }
    let mut summary = String::new();
    if !names.is_empty() {
        summary.push_str("Also about ");
        summary.push_str(&names.iter().take(3).cloned().collect::<Vec<_>>().join(", "));
    }
    if !phrases.is_empty() {
        summary.push_str(if summary.is_empty() { "Shares " } else { "; shares " });
        summary.push_str(&phrases.iter().take(4).cloned().collect::<Vec<_>>().join(", "));
    }
    let mut signals = vec![
        Signal { name: "text".into(), value: c.parts[0] },
        Signal { name: "entities".into(), value: c.parts[1] },
        Signal { name: "keyphrases".into(), value: c.parts[2] },
        Signal { name: "relevance".into(), value: c.relevance },
        Signal { name: "recency".into(), value: c.recency },
    ];
    let rrf = c.bm25_rank.map_or(0.0, |r| 1.0 / (RRF_K + r as f32 + 1.0)) + c.entity_rank.map_or(0.0, |r| 1.0 / (RRF_K + r as f32 + 1.0));
    signals.push(Signal { name: "retrieval_rrf".into(), value: rrf });
    if let Some(r) = c.bm25_rank {
        signals.push(Signal { name: "bm25_rank".into(), value: (r + 1) as f32 });
    }
    if let Some(r) = c.entity_rank {
        signals.push(Signal { name: "entity_rank".into(), value: (r + 1) as f32 });
    }
    Why { summary, entities: names, keyphrases: phrases, signals }
}
