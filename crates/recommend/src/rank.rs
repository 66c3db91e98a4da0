//! The `related` ranking: retrieval, fusion, recency, copies, diversity, why.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use readnext_analysis::hamming;
use readnext_core::{Pick, Signal, Why, fnv1a64, format_date};

use crate::RecommendError;
use crate::engine::{Engine, Query};
use crate::features::Features;
use crate::options::{RelatedOptions, Weights};
use crate::vectors::{CorpusStats, SparseVec};

/// Terms in the "more like this" query, as Lucene's default.
const MLT_TERMS: usize = 25;
/// Entities in the entity query.
const ENTITY_TERMS: usize = 10;
/// Length normalisation may lift a long article's text score by at most
/// this factor.
const LENGTH_BOOST_CAP: f32 = 1.0;
/// Candidates beyond k that diversity may choose from.
const MMR_POOL_EXTRA: usize = 16;
/// Reciprocal-rank-fusion constant.
const RRF_K: f32 = 60.0;

struct Candidate {
    id: String,
    f: Arc<Features>,
    bm25_rank: Option<usize>,
    entity_rank: Option<usize>,
    dense_rank: Option<usize>,
    /// text, entities, keyphrases, feedback, dense (embedding cosine; 0
    /// when either article has no vector)
    parts: [f32; 5],
    /// The first-pass lexical relevance (no feedback, no embeddings): what
    /// the feedback centroid is chosen by.
    lexical: f32,
    relevance: f32,
    recency: f32,
    score: f32,
}

/// Fused relevance of a candidate to a query, with its parts
/// `[text, entities, keyphrases]`.
pub(crate) fn relevance(w: &Weights, q: &Features, c: &Features, slope: f32, pivot: f32) -> (f32, [f32; 3]) {
    let mut text = q.text.cosine(&c.text);
    if slope < 1.0 && pivot > 0.0 {
        let r = c.text.norm / pivot;
        text *= (r / ((1.0 - slope) + slope * r)).min(LENGTH_BOOST_CAP);
    }
    let ents = q.ents.cosine(&c.ents);
    let kp = keyphrase_overlap(&q.keyphrases, &c.keyphrases);
    (w.text * text + w.entities * ents + w.keyphrases * kp, [text, ents, kp])
}

/// Hybrid relevance: the lexical score blended with the embedding cosine
/// (rescaled so that `dense_floor` and below count as nothing), times
/// `cross_lingual` when the two articles are in different languages.
/// Without both vectors the lexical score stands alone.
pub(crate) fn fuse_dense(w: &Weights, q: &Features, c: &Features, lexical: f32) -> f32 {
    let fused = match q.dense_cosine(c) {
        Some(d) if w.dense > 0.0 => {
            let d = ((d - w.dense_floor) / (1.0 - w.dense_floor).max(1e-6)).max(0.0);
            (1.0 - w.dense) * lexical + w.dense * d
        }
        _ => lexical,
    };
    if q.cross_lingual(c) { fused * w.cross_lingual } else { fused }
}

/// Shared keyphrases over the smaller of the two sets (both sorted).
fn keyphrase_overlap(a: &[u64], b: &[u64]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let shared = a.iter().filter(|h| b.binary_search(h).is_ok()).count();
    shared as f32 / n as f32
}

/// SimHashes of unrelated texts differ in about 32 bits; past this many, two
/// articles are not copies, and the costlier cosine test is skipped.
const COPY_GATE_BITS: u32 = 24;

fn is_copy(a: &Features, b: &Features, opts: &RelatedOptions) -> bool {
    if a.content_hash == b.content_hash {
        return true;
    }
    let bits = hamming(a.simhash, b.simhash);
    bits <= opts.dup_bits || (bits <= COPY_GATE_BITS && a.text.cosine(&b.text) >= opts.dup_cosine)
}

pub(crate) fn related(
    engine: &Engine,
    stats: &CorpusStats,
    q: &Query,
    opts: &RelatedOptions,
    blocked: &BTreeSet<String>,
) -> Result<Vec<Pick>, RecommendError> {
    if opts.k == 0 {
        return Ok(vec![]);
    }
    let qf = Features { dense: engine.query_vector(q)?, ..Features::new(&q.analysis, stats, true) };
    let mut cands = scored_candidates(engine, stats, &qf, q.id.as_deref(), opts)?;
    // Recency: closeness in time to the query article, when both have dates.
    if opts.recency_weight > 0.0
        && let Some(qp) = q.analysis.published
    {
        for c in cands.iter_mut() {
            if let Some(p) = c.f.published {
                let days = ((p - qp).abs() as f32) / 86_400.0;
                c.recency = 1.0 - opts.recency_weight * (1.0 - (-days / opts.recency_days.max(1.0)).exp());
                c.score = c.relevance * c.recency;
            }
        }
    }
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));

    // Collapse copies: of a query's copy and of each other, keep the best one.
    let mut kept: Vec<Candidate> = Vec::new();
    for c in cands {
        // A little more than k: room for diversity without quadratic cost.
        if c.score <= 0.0 || kept.len() >= opts.k + MMR_POOL_EXTRA {
            break;
        }
        if blocked.contains(&c.id) {
            continue;
        }
        if is_copy(&qf, &c.f, opts) {
            continue;
        }
        if kept.iter().any(|k| is_copy(&k.f, &c.f, opts)) {
            continue;
        }
        kept.push(c);
    }

    // Diversity: maximal marginal relevance over the text vectors.
    let top = kept.first().map_or(1.0, |c| c.score.max(1e-6));
    let mut chosen: Vec<Candidate> = Vec::with_capacity(opts.k);
    // Highest similarity of each remaining candidate to anything chosen,
    // updated with each new choice only.
    let mut redundancy = vec![0.0f32; kept.len()];
    while chosen.len() < opts.k && !kept.is_empty() {
        let mut best = 0;
        let mut best_value = f32::NEG_INFINITY;
        for (i, c) in kept.iter().enumerate() {
            let value = opts.mmr_lambda * c.score / top - (1.0 - opts.mmr_lambda) * redundancy[i];
            if value > best_value {
                best_value = value;
                best = i;
            }
        }
        let pick = kept.remove(best);
        redundancy.remove(best);
        if opts.mmr_lambda < 1.0 {
            for (r, c) in redundancy.iter_mut().zip(&kept) {
                *r = r.max(pick.f.text.cosine(&c.f.text));
            }
        }
        chosen.push(pick);
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
                image: r.article.image,
                score: c.score,
                why: explain(q, &qf, c),
            })
        })
        .collect())
}

/// Retrieves candidates (BM25 "more like this" and entity lists), scores
/// them, and applies pseudo-relevance feedback. Scores are relevance only:
/// no recency, no diversity.
fn scored_candidates(
    engine: &Engine,
    stats: &CorpusStats,
    qf: &Features,
    exclude: Option<&str>,
    opts: &RelatedOptions,
) -> Result<Vec<Candidate>, RecommendError> {
    let index = engine.index();
    let by_terms = index.search_terms(&boosts(&qf.text, MLT_TERMS), opts.candidates, &opts.filter, exclude)?;
    let by_entities =
        index.search_entities(&boosts(&qf.ents, ENTITY_TERMS), opts.candidates / 2, &opts.filter, exclude)?;
    let by_dense = match &qf.dense {
        Some(v) if opts.weights.dense > 0.0 => engine.dense().search(v, opts.candidates / 2, &opts.filter, exclude)?,
        _ => vec![],
    };

    // Union of the lists, remembering each rank.
    let mut ranks: HashMap<String, [Option<usize>; 3]> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (list, hits) in [&by_terms, &by_entities, &by_dense].into_iter().enumerate() {
        for (rank, (id, _)) in hits.iter().enumerate() {
            let e = ranks.entry(id.clone()).or_insert_with(|| {
                order.push(id.clone());
                [None; 3]
            });
            e[list] = Some(rank);
        }
    }
    let features = engine.features(&order, stats)?;
    // The pivot of length normalisation: the mean norm of the candidates.
    let norms: Vec<f32> = features.iter().flatten().map(|f| f.text.norm).collect();
    let pivot = norms.iter().sum::<f32>() / norms.len().max(1) as f32;
    let mut cands: Vec<Candidate> = Vec::with_capacity(order.len());
    for (id, f) in order.into_iter().zip(features) {
        let Some(f) = f else { continue };
        let [bm25_rank, entity_rank, dense_rank] = ranks.get(&id).copied().unwrap_or([None; 3]);
        let (relevance, [t, e, k]) = relevance(&opts.weights, qf, &f, opts.length_slope, pivot);
        cands.push(Candidate {
            id,
            f,
            bm25_rank,
            entity_rank,
            dense_rank,
            parts: [t, e, k, 0.0, 0.0],
            lexical: relevance,
            relevance,
            recency: 1.0,
            score: relevance,
        });
    }
    if let Some(centroid) = feedback_centroid(qf, &cands, opts) {
        for c in cands.iter_mut() {
            let fb = centroid.cosine(&c.f.text);
            c.parts[3] = fb;
            c.relevance = (1.0 - opts.feedback) * c.relevance + opts.feedback * fb;
        }
    }
    for c in cands.iter_mut() {
        c.parts[4] = qf.dense_cosine(&c.f).unwrap_or(0.0);
        c.relevance = fuse_dense(&opts.weights, qf, &c.f, c.relevance);
        c.score = c.relevance;
    }
    Ok(cands)
}

/// Pseudo-relevance feedback: the centroid of the best first-pass
/// candidates (copies of the query excluded). It carries the story's other
/// words, which the query article may not use.
fn feedback_centroid(qf: &Features, cands: &[Candidate], opts: &RelatedOptions) -> Option<SparseVec> {
    if opts.feedback <= 0.0 || cands.len() <= opts.feedback_docs {
        return None;
    }
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[b].lexical.total_cmp(&cands[a].lexical).then(a.cmp(&b)));
    let top = order.into_iter().filter(|&i| !is_copy(qf, &cands[i].f, opts)).take(opts.feedback_docs);
    Some(SparseVec::centroid(top.map(|i| &cands[i].f.text)))
}

/// The relevance of `target` to `query` as `related` scores it (feedback
/// included, recency and diversity not).
pub(crate) fn directed_relevance(
    engine: &Engine,
    stats: &CorpusStats,
    query: &Features,
    exclude: Option<&str>,
    target: &Features,
    opts: &RelatedOptions,
) -> Result<f32, RecommendError> {
    let rel = relevance(&opts.weights, query, target, 1.0, 0.0).0;
    if opts.feedback <= 0.0 {
        return Ok(fuse_dense(&opts.weights, query, target, rel));
    }
    // The same candidates and centroid as `related` (chosen by their
    // first-pass lexical relevance).
    let cands = scored_candidates(engine, stats, query, exclude, &RelatedOptions { feedback: 0.0, ..opts.clone() })?;
    let lexical = match feedback_centroid(query, &cands, opts) {
        Some(c) => (1.0 - opts.feedback) * rel + opts.feedback * c.cosine(&target.text),
        None => rel,
    };
    Ok(fuse_dense(&opts.weights, query, target, lexical))
}

fn boosts(v: &SparseVec, n: usize) -> Vec<(String, f32)> {
    let top = v.top(n);
    let max = top.first().map_or(1.0, |t| t.1.max(1e-6));
    top.into_iter().map(|(k, w)| (k, w / max)).collect()
}

/// The words of the one-line why, in the reader's language.
struct WhyWords {
    also_about: &'static str,
    shares: &'static str,
    and_shares: &'static str,
    same_story: &'static str,
}

fn why_words(lang: &str) -> WhyWords {
    match lang {
        "es" => WhyWords {
            also_about: "También sobre ",
            shares: "Comparte ",
            and_shares: "; comparte ",
            same_story: "Cuenta una historia parecida con otras palabras",
        },
        _ => WhyWords {
            also_about: "Also about ",
            shares: "Shares ",
            and_shares: "; shares ",
            same_story: "Tells a similar story in other words",
        },
    }
}

fn explain(q: &Query, qf: &Features, c: &Candidate) -> Why {
    let words = why_words(&q.analysis.lang);
    // Shared entities, named as the query names them.
    let mut names: Vec<String> = Vec::new();
    for (key, _) in qf.ents.shared(&c.f.ents) {
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
    for k in &q.analysis.keyphrases {
        let shared = c.f.keyphrases.binary_search(&fnv1a64(k.key.as_bytes())).is_ok();
        if k.key.contains(' ') && shared && phrases.len() < 3 {
            phrases.push(k.text.clone());
        }
    }
    let surface: HashMap<&str, &str> = q.analysis.terms.iter().map(|t| (t.stem.as_str(), t.surface.as_str())).collect();
    for (stem, _) in qf.text.shared(&c.f.text) {
        if phrases.len() >= 6 {
            break;
        }
        let word = surface.get(stem).copied().unwrap_or(stem).to_string();
        let covered = phrases.iter().any(|p| p.split(' ').any(|w| w == word))
            || names.iter().any(|n| n.to_lowercase().contains(&word));
        if !covered {
            phrases.push(word);
        }
    }
    let mut summary = String::new();
    if !names.is_empty() {
        summary.push_str(words.also_about);
        summary.push_str(&names.iter().take(3).cloned().collect::<Vec<_>>().join(", "));
    }
    if !phrases.is_empty() {
        summary.push_str(if summary.is_empty() { words.shares } else { words.and_shares });
        summary.push_str(&phrases.iter().take(4).cloned().collect::<Vec<_>>().join(", "));
    }
    if summary.is_empty() && c.dense_rank.is_some() {
        // Nothing in common word for word: the embeddings matched it.
        summary.push_str(words.same_story);
    }
    let mut signals = vec![
        Signal { name: "text".into(), value: c.parts[0] },
        Signal { name: "entities".into(), value: c.parts[1] },
        Signal { name: "keyphrases".into(), value: c.parts[2] },
        Signal { name: "feedback".into(), value: c.parts[3] },
        Signal { name: "dense".into(), value: c.parts[4] },
        Signal { name: "relevance".into(), value: c.relevance },
        Signal { name: "recency".into(), value: c.recency },
    ];
    let rrf = c.bm25_rank.map_or(0.0, |r| 1.0 / (RRF_K + r as f32 + 1.0))
        + c.entity_rank.map_or(0.0, |r| 1.0 / (RRF_K + r as f32 + 1.0))
        + c.dense_rank.map_or(0.0, |r| 1.0 / (RRF_K + r as f32 + 1.0));
    signals.push(Signal { name: "retrieval_rrf".into(), value: rrf });
    if qf.cross_lingual(&c.f) {
        // Compared across languages: the relevance was scaled by the
        // cross-lingual weight.
        signals.push(Signal { name: "cross_lingual".into(), value: 1.0 });
    }
    if let Some(r) = c.bm25_rank {
        signals.push(Signal { name: "bm25_rank".into(), value: (r + 1) as f32 });
    }
    if let Some(r) = c.entity_rank {
        signals.push(Signal { name: "entity_rank".into(), value: (r + 1) as f32 });
    }
    if let Some(r) = c.dense_rank {
        signals.push(Signal { name: "dense_rank".into(), value: (r + 1) as f32 });
    }
    Why { summary, entities: names, keyphrases: phrases, signals }
}
