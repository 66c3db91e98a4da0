//! The `related` ranking: retrieval, fusion, recency, copies, diversity, why.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use readnext_analysis::hamming;
use readnext_core::{FastMap, Pick, Signal, Why, fnv1a64, format_date};

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
/// (rescaled so that `dense_floor` and below count as nothing), with the
/// embedding's share growing as the longer text shrinks
/// ([`Weights::dense_share`]), times `cross_lingual` when the two articles
/// are in different languages. Without both vectors the lexical score
/// stands alone.
pub(crate) fn fuse_dense(w: &Weights, q: &Features, c: &Features, lexical: f32) -> f32 {
    let share = match q.dense_cosine(c) {
        Some(d) if w.dense > 0.0 || w.dense_short > 0.0 => Some((d, w.dense_share(q.text.len(), c.text.len()))),
        _ => None,
    };
    let fused = match share {
        Some((d, share)) => {
            let d = ((d - w.dense_floor) / (1.0 - w.dense_floor).max(1e-6)).max(0.0);
            (1.0 - share) * lexical + share * d
        }
        None => lexical,
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

/// What a newcomer must beat to change a computed block: the block's
/// ranking context, kept with the cached block so that a write can tell,
/// without ranking the block again, whether its new article may enter it
/// ([`would_enter`]).
///
/// Contract: if an article scores at or below both floors (and the query's
/// own statistics did not move), adding it to the candidates leaves the
/// diversity pool, the feedback centroid and so the block as they were.
/// The converse need not hold: passing the gate only means "recompute".
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// The length-normalisation pivot of the candidates.
    pivot: f32,
    /// The first-pass candidates the feedback centroid was built from, in
    /// the order it summed them (empty: no feedback).
    feedback_ids: Vec<String>,
    /// The first-pass lexical relevance a newcomer must beat to join those
    /// (`-inf` when one more candidate would turn feedback on; `+inf` when
    /// feedback is off).
    feedback_floor: f32,
    /// The best score in the diversity pool, which diversity divides by.
    top: f32,
    /// The lowest value diversity chose an article at, of the block's picks
    /// (`-inf` when the block is not full). A newcomer's value is at most
    /// `mmr_lambda × score / top` (its redundancy is never negative): below
    /// this, it is never chosen.
    mmr_floor: f32,
    /// The score a newcomer must beat to push the last article out of a
    /// full pool, when that article is among the picks (`+inf` otherwise:
    /// pushing it out changes no pick).
    pool_floor: f32,
}

impl Gate {
    /// A gate every newcomer passes (for blocks computed without one).
    pub(crate) fn open() -> Gate {
        Gate {
            pivot: 0.0,
            feedback_ids: vec![],
            feedback_floor: f32::NEG_INFINITY,
            top: 1.0,
            mmr_floor: f32::NEG_INFINITY,
            pool_floor: f32::NEG_INFINITY,
        }
    }
}

/// Recency: closeness in time to the query article, when both have dates
/// (1 otherwise).
fn recency(opts: &RelatedOptions, query: Option<i64>, cand: Option<i64>) -> f32 {
    match (query, cand) {
        (Some(qp), Some(p)) if opts.recency_weight > 0.0 => {
            let days = ((p - qp).abs() as f32) / 86_400.0;
            1.0 - opts.recency_weight * (1.0 - (-days / opts.recency_days.max(1.0)).exp())
        }
        _ => 1.0,
    }
}

/// The query's features and its scored candidates, each candidate's score
/// multiplied by its recency when both it and the query have dates: what
/// [`related_gated`] and [`nearest`] rank.
fn recency_scored(
    engine: &Engine,
    stats: &CorpusStats,
    q: &Query,
    opts: &RelatedOptions,
) -> Result<(Features, Scored), RecommendError> {
    let qf = Features { dense: engine.query_vector(q)?, ..Features::new(&q.analysis, q.lang_given, stats, true) };
    let mut scored = scored_candidates(engine, stats, &qf, q.id.as_deref(), opts)?;
    if opts.recency_weight > 0.0 && q.analysis.published.is_some() {
        for c in scored.cands.iter_mut().filter(|c| c.f.published.is_some()) {
            c.recency = recency(opts, q.analysis.published, c.f.published);
            c.score = c.relevance * c.recency;
        }
    }
    Ok((qf, scored))
}

/// The ids of the `n` stored articles that score highest against `q` with
/// `opts` (relevance times recency, as [`related_gated`] scores them), best
/// first: the candidates before copy collapsing, rules and diversity, and
/// without reading one record. A new article's nearest are the articles
/// whose blocks it may enter (a block's relevance is symmetric but for the
/// length pivot and feedback, which [`would_enter`] then checks).
pub(crate) fn nearest(
    engine: &Engine,
    stats: &CorpusStats,
    q: &Query,
    opts: &RelatedOptions,
    n: usize,
) -> Result<Vec<String>, RecommendError> {
    let (_, Scored { mut cands, .. }) = recency_scored(engine, stats, q, opts)?;
    cands.retain(|c| c.score > 0.0);
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    Ok(cands.into_iter().take(n).map(|c| c.id).collect())
}

/// The related block of `q` with `opts` (retrieval, scoring, copy
/// collapsing, the `blocked` rule and diversity), with the block's [`Gate`].
pub(crate) fn related_gated(
    engine: &Engine,
    stats: &CorpusStats,
    q: &Query,
    opts: &RelatedOptions,
    blocked: &BTreeSet<String>,
) -> Result<(Vec<Pick>, Gate), RecommendError> {
    if opts.k == 0 {
        return Ok((vec![], Gate::open()));
    }
    let (qf, Scored { mut cands, pivot, feedback }) = recency_scored(engine, stats, q, opts)?;
    let feedback_floor = if opts.feedback <= 0.0 {
        f32::INFINITY
    } else if feedback.is_empty() {
        f32::NEG_INFINITY
    } else {
        feedback.iter().map(|&i| cands[i].lexical).fold(f32::INFINITY, f32::min)
    };
    let feedback_ids: Vec<String> = feedback.iter().map(|&i| cands[i].id.clone()).collect();
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
    // The last of a full pool: a newcomer above it pushes it out.
    let last_pooled = kept.last().filter(|_| kept.len() >= opts.k + MMR_POOL_EXTRA).map(|c| (c.id.clone(), c.score));

    // Diversity: maximal marginal relevance over the text vectors.
    let top = kept.first().map_or(1.0, |c| c.score.max(1e-6));
    let mut chosen: Vec<Candidate> = Vec::with_capacity(opts.k);
    // Highest similarity of each remaining candidate to anything chosen,
    // updated with each new choice only.
    let mut redundancy = vec![0.0f32; kept.len()];
    let mut mmr_floor = f32::INFINITY;
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
        mmr_floor = mmr_floor.min(best_value);
        let pick = kept.remove(best);
        redundancy.remove(best);
        if opts.mmr_lambda < 1.0 {
            for (r, c) in redundancy.iter_mut().zip(&kept) {
                *r = r.max(pick.f.text.cosine(&c.f.text));
            }
        }
        chosen.push(pick);
    }
    let pool_floor = match last_pooled {
        Some((id, score)) if chosen.iter().any(|c| c.id == id) => score,
        _ => f32::INFINITY,
    };
    let gate = Gate {
        pivot,
        feedback_ids,
        feedback_floor,
        top,
        mmr_floor: if chosen.len() < opts.k { f32::NEG_INFINITY } else { mmr_floor },
        pool_floor,
    };

    let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
    let records = engine.store().get_many(&ids)?;
    let picks = chosen
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
                why: explain(q, &qf, c, stats),
            })
        })
        .collect();
    Ok((picks, gate))
}

/// Whether `newcomer` may enter the block of the article with features
/// `query` that `gate` was computed with (options `opts`): whether it beats
/// the gate's floors, scored as [`related_gated`] would score it (the block's
/// pivot and feedback centroid): it would join the feedback documents,
/// diversity could choose it, or it would push a pick out of the pool. Costs a few vector products, against a
/// retrieval and a few hundred for the block itself.
pub(crate) fn would_enter(
    engine: &Engine,
    stats: &CorpusStats,
    query: &Features,
    gate: &Gate,
    newcomer: &Features,
    opts: &RelatedOptions,
) -> Result<bool, RecommendError> {
    let lexical = relevance(&opts.weights, query, newcomer, opts.length_slope, gate.pivot).0;
    if lexical > gate.feedback_floor {
        return Ok(true);
    }
    let mut rel = lexical;
    if !gate.feedback_ids.is_empty() {
        let docs = engine.features(&gate.feedback_ids, stats)?;
        let centroid = SparseVec::centroid(docs.iter().flatten().map(|f| &f.text));
        rel = (1.0 - opts.feedback) * rel + opts.feedback * centroid.cosine(&newcomer.text);
    }
    let score = fuse_dense(&opts.weights, query, newcomer, rel) * recency(opts, query.published, newcomer.published);
    Ok(score > 0.0 && (opts.mmr_lambda * score / gate.top >= gate.mmr_floor || score >= gate.pool_floor))
}

/// Scored candidates, with what scored them.
struct Scored {
    cands: Vec<Candidate>,
    /// The length-normalisation pivot (mean text norm of the candidates).
    pivot: f32,
    /// Indexes (into `cands`) of the feedback documents, in centroid order.
    feedback: Vec<usize>,
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
) -> Result<Scored, RecommendError> {
    let index = engine.index();
    let by_terms = index.search_terms(&boosts(&qf.text, MLT_TERMS), opts.candidates, &opts.filter, exclude)?;
    let by_entities =
        index.search_entities(&boosts(&qf.ents, ENTITY_TERMS), opts.candidates / 2, &opts.filter, exclude)?;
    let by_dense = match &qf.dense {
        Some(v) if opts.weights.dense > 0.0 || opts.weights.dense_short > 0.0 => {
            engine.dense().search(v, opts.candidates / 2, &opts.filter, exclude)?
        }
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
    // In id order from here: the pivot's sum and the feedback documents'
    // ties then do not depend on the order the indexes listed the
    // candidates in (it differs between two indexes of the same articles).
    order.sort_unstable();
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
    let feedback = feedback_docs(qf, &cands, opts);
    if let Some(centroid) = feedback.as_ref().map(|f| SparseVec::centroid(f.iter().map(|&i| &cands[i].f.text))) {
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
    Ok(Scored { cands, pivot, feedback: feedback.unwrap_or_default() })
}

/// Pseudo-relevance feedback: the best first-pass candidates (copies of the
/// query excluded), whose centroid carries the story's other words, which
/// the query article may not use. `None` when feedback is off or there are
/// too few candidates.
fn feedback_docs(qf: &Features, cands: &[Candidate], opts: &RelatedOptions) -> Option<Vec<usize>> {
    if opts.feedback <= 0.0 || cands.len() <= opts.feedback_docs {
        return None;
    }
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[b].lexical.total_cmp(&cands[a].lexical).then_with(|| cands[a].id.cmp(&cands[b].id)));
    Some(order.into_iter().filter(|&i| !is_copy(qf, &cands[i].f, opts)).take(opts.feedback_docs).collect())
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
    let cands =
        scored_candidates(engine, stats, query, exclude, &RelatedOptions { feedback: 0.0, ..opts.clone() })?.cands;
    let lexical = match feedback_docs(query, &cands, opts) {
        Some(f) => {
            let c = SparseVec::centroid(f.iter().map(|&i| &cands[i].f.text));
            (1.0 - opts.feedback) * rel + opts.feedback * c.cosine(&target.text)
        }
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

/// Share of the corpus's articles above which a shared term is not named
/// in a why: a word a twentieth of the corpus uses says nothing about why
/// these two articles go together.
pub const WHY_MAX_TERM_SHARE: f64 = 0.05;
/// Share of the corpus's articles above which a shared keyphrase is not
/// named in a why. A phrase is a keyphrase of far fewer articles than its
/// words are terms of, so its share is lower: a publisher's "fact sheet"
/// or the "president trump" of every release of an administration is a
/// keyphrase of 2 to 5% of the White House corpus, a story's phrases of a
/// few articles each.
pub const WHY_MAX_PHRASE_SHARE: f64 = 0.01;
/// A keyphrase of at most this many articles is always named, however
/// small the corpus: on a few hundred articles, a share of 1% would be
/// every phrase that more than two of them share.
pub const WHY_MIN_PHRASE_CAP: u32 = 20;
/// Articles a corpus needs before [`WHY_MAX_TERM_SHARE`] applies: below,
/// the shares are noise.
pub const WHY_MIN_DOCS: u64 = 100;

/// Why `c` is in the block of `q`: the entities, keyphrases and terms they
/// share, the ones specific to them first, and the signals that ranked it.
/// What the corpus has everywhere is left out ([`WHY_MAX_TERM_SHARE`],
/// [`WHY_MAX_PHRASE_SHARE`]); entities are names and always kept.
fn explain(q: &Query, qf: &Features, c: &Candidate, stats: &CorpusStats) -> Why {
    let words = why_words(&q.analysis.lang);
    let docs = stats.docs as f64;
    let term_cap = (stats.docs >= WHY_MIN_DOCS).then_some((WHY_MAX_TERM_SHARE * docs) as u32);
    let phrase_cap = ((WHY_MAX_PHRASE_SHARE * docs) as u32).max(WHY_MIN_PHRASE_CAP);
    let df = |map: &FastMap<u64, u32>, key: &str| map.get(&fnv1a64(key.as_bytes())).copied().unwrap_or(0);
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
    // Shared keyphrases first, the rarest in the corpus first among equally
    // salient ones (salience times idf), then the terms that weigh most in
    // the match.
    let mut shared: Vec<(&readnext_core::Keyphrase, f32)> = q
        .analysis
        .keyphrases
        .iter()
        .filter(|k| k.key.contains(' '))
        .filter(|k| c.f.keyphrases.binary_search(&fnv1a64(k.key.as_bytes())).is_ok())
        .map(|k| (k, df(&stats.keyphrase_df, &k.key)))
        .filter(|&(_, d)| d <= phrase_cap)
        .map(|(k, d)| (k, k.score * stats.idf(d)))
        .collect();
    shared.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut phrases: Vec<String> = shared.into_iter().take(3).map(|(k, _)| k.text.clone()).collect();
    let surface: HashMap<&str, &str> = q.analysis.terms.iter().map(|t| (t.stem.as_str(), t.surface.as_str())).collect();
    for (stem, _) in qf.text.shared(&c.f.text) {
        if phrases.len() >= 6 {
            break;
        }
        if term_cap.is_some_and(|cap| df(&stats.term_df, stem) > cap) {
            continue;
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
    Why { summary, entities: names, keyphrases: phrases, signals, story: None }
}
