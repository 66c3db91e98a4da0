//! Blocks beyond one article: editorial pins, what is trending, and picks
//! for a reader from their history.

use std::collections::HashMap;

use readnext_core::{EventKind, Pick, Signal, Why, format_date};

use crate::RecommendError;
use crate::engine::Engine;
use crate::features::halved;
use crate::options::RelatedOptions;

type Result<T> = std::result::Result<T, RecommendError>;

/// An impression counts this much of a click in trending scores: being shown
/// is a weak signal of interest, reading a strong one.
const IMPRESSION_WEIGHT: f32 = 0.05;
/// History items a reader's block is built from (most recent first).
const HISTORY_SEEDS: usize = 5;
/// Each older history item counts this much less than the one after it.
const HISTORY_DECAY: f32 = 0.8;
/// Events read from a reader's history.
const HISTORY_EVENTS: usize = 500;
/// A taste pick's score: this share of its cosine to the reader's taste
/// above [`TASTE_FLOOR`], comparable with a related pick's relevance.
const TASTE_WEIGHT: f32 = 0.8;
/// A cosine to the taste at or below this says nothing.
const TASTE_FLOOR: f32 = 0.2;
/// Fresh candidates: articles published within this many seconds before now.
const FRESH_WINDOW_S: i64 = 3 * 86_400;
/// A fresh pick's score: this times its freshness (1 when just published,
/// halving every [`FRESH_HALF_LIFE_S`]); low, so that without a trained ranker
/// fresh articles fill in after the related ones rather than push them out.
const FRESH_WEIGHT: f32 = 0.25;
/// Freshness halves every this many seconds.
const FRESH_HALF_LIFE_S: f32 = 86_400.0;
/// Recent reads a taste pick's why may name.
const TASTE_NAMED: usize = 20;

/// Options of a reader's block.
#[derive(Debug, Clone)]
pub struct UserOptions {
    /// How many picks.
    pub k: usize,
    /// The article being read, when there is one: its related picks count
    /// alongside the history.
    pub anchor: Option<String>,
    /// Now, in ms since the epoch (trending's window ends here).
    pub now_ms: i64,
    /// Trending's window, in ms.
    pub window_ms: i64,
}

/// A reader block's candidates: id -> (score, the pick as first found, the
/// title of the read behind it).
type Pool = HashMap<String, (f32, Pick, Option<String>)>;

/// Adds a candidate's `score` to the pool: a candidate found again sums its
/// scores and keeps the signals of each finding; a new one is inserted.
fn add_to_pool(pool: &mut Pool, pick: Pick, score: f32, because: Option<String>) {
    match pool.get_mut(&pick.id) {
        Some(e) => {
            e.0 += score;
            for s in pick.why.signals {
                if !e.1.why.signals.iter().any(|have| have.name == s.name) {
                    e.1.why.signals.push(s);
                }
            }
        }
        None => {
            pool.insert(pick.id.clone(), (score, pick, because));
        }
    }
}

/// What a reader block may offer: not an article the reader has read, not
/// the one they are reading, not one the editors blocked. Every candidate
/// source of the block asks it.
struct Offer<'a> {
    read: std::collections::HashSet<&'a str>,
    anchor: Option<&'a str>,
    rules: std::sync::Arc<readnext_core::Rules>,
}

impl Offer<'_> {
    fn allows(&self, id: &str) -> bool {
        !self.read.contains(id) && self.anchor != Some(id) && !self.rules.blocked.contains(id)
    }

    /// The first `k` of `hits` the block may offer.
    fn first<T>(&self, hits: Vec<(String, T)>, k: usize) -> Vec<(String, T)> {
        hits.into_iter().filter(|(id, _)| self.allows(id)).take(k).collect()
    }
}

/// The `n` most recently clicked distinct articles of a history (newest
/// first, as the store returns it).
fn recent_clicks(history: &[readnext_store::HistoryItem], n: usize) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for h in history.iter().filter(|h| h.kind == EventKind::Click) {
        if out.len() >= n {
            break;
        }
        if !out.contains(&h.article.as_str()) {
            out.push(&h.article);
        }
    }
    out
}

fn pick_of(rec: &readnext_store::Record, score: f32, why: Why) -> Pick {
    Pick {
        id: rec.article.id.clone(),
        title: rec.article.title.clone(),
        url: rec.article.url.clone(),
        published: rec.article.published.map(format_date),
        image: rec.article.image.clone(),
        score,
        why,
    }
}

/// Puts the pinned articles first (in the editors' order), then the ranked
/// picks without them, `k` in all.
pub(crate) fn with_pins(
    engine: &Engine,
    picks: Vec<Pick>,
    pins: &[String],
    owner: &str,
    k: usize,
) -> Result<Vec<Pick>> {
    let top = picks.first().map_or(1.0, |p| p.score);
    let records = engine.store().get_many(pins)?;
    let mut out: Vec<Pick> = Vec::with_capacity(k);
    for (id, rec) in pins.iter().zip(records) {
        // A pin of a deleted article, or of the article itself, is skipped.
        let Some(rec) = rec else { continue };
        if id == owner || out.iter().any(|p| &p.id == id) {
            continue;
        }
        let why = Why {
            summary: "Chosen by the editors".into(),
            signals: vec![Signal { name: "pinned".into(), value: 1.0 }],
            ..Default::default()
        };
        out.push(pick_of(&rec, top, why));
    }
    for p in picks {
        if !out.iter().any(|o| o.id == p.id) {
            out.push(p);
        }
    }
    out.truncate(k);
    Ok(out)
}

impl Engine {
    /// The most read articles of the last `window_ms` before `now_ms`:
    /// clicks (and, weakly, impressions) with an exponential time decay, so
    /// that a burst an hour ago outranks the same burst a day ago.
    pub fn trending(&self, k: usize, now_ms: i64, window_ms: i64) -> Result<Vec<Pick>> {
        self.trending_except(k, now_ms, window_ms, &|_| false)
    }

    /// Every article read in the last `window_ms` before `now_ms`, with its
    /// trending score (clicks and, weakly, impressions, decayed by age),
    /// clicks and impressions.
    pub(crate) fn trend_scores(&self, now_ms: i64, window_ms: i64) -> Vec<(String, (f32, u32, u32))> {
        // The counters reach back to their horizon; a longer window counts
        // what they hold.
        let window = window_ms.clamp(1, crate::live::HORIZON_MS);
        let half_life = window as f32 / 2.0;
        // An event's age is its quarter hour's middle's.
        self.counters(now_ms)
            .in_window(now_ms, window)
            .map(|(id, buckets)| {
                let mut s = (0.0f32, 0u32, 0u32);
                for b in buckets {
                    let age = (now_ms - (b.start + crate::live::BUCKET_MS / 2)).max(0) as f32;
                    let decay = halved(age, half_life);
                    s.0 += decay * (b.clicks as f32 + IMPRESSION_WEIGHT * b.shown as f32);
                    s.1 += b.clicks;
                    s.2 += b.shown;
                }
                (id.to_string(), s)
            })
            .filter(|(_, s)| s.0 > 0.0)
            .collect()
    }

    fn trending_except(&self, k: usize, now_ms: i64, window_ms: i64, skip: &dyn Fn(&str) -> bool) -> Result<Vec<Pick>> {
        let window = window_ms.clamp(1, crate::live::HORIZON_MS);
        let scores = self.trend_scores(now_ms, window_ms);
        let rules = self.rules()?;
        let mut ranked: Vec<(String, (f32, u32, u32))> =
            scores.into_iter().filter(|(id, _)| !rules.blocked.contains(id) && !skip(id)).collect();
        ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
        let mut out = Vec::with_capacity(k);
        for chunk in ranked.chunks(k.max(1) * 2) {
            let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            for ((_, (score, clicks, shown)), rec) in chunk.iter().zip(self.store().get_many(&ids)?) {
                if out.len() >= k {
                    return Ok(out);
                }
                // Deleted since it was read.
                let Some(rec) = rec else { continue };
                let hours = window as f64 / 3_600_000.0;
                let why = Why {
                    summary: format!("Trending: {clicks} reads in the last {hours:.0} h"),
                    signals: vec![
                        Signal { name: "trending".into(), value: *score },
                        Signal { name: "clicks".into(), value: *clicks as f32 },
                        Signal { name: "impressions".into(), value: *shown as f32 },
                    ],
                    ..Default::default()
                };
                out.push(pick_of(&rec, *score, why));
            }
        }
        Ok(out)
    }

    /// Candidates from the reader's dense taste (the decayed mean of what
    /// they read, kept by the store): its nearest articles in the HNSW index,
    /// each named after the recent read it is closest to. Nothing without
    /// embeddings.
    fn add_taste_picks(
        &self,
        user: &str,
        history: &[readnext_store::HistoryItem],
        offer: &Offer<'_>,
        k: usize,
        pool: &mut Pool,
    ) -> Result<()> {
        let Some(taste) = self.store().taste(user)? else { return Ok(()) };
        if self.dense().is_empty() {
            return Ok(());
        }
        let near = self.dense().search(
            &taste,
            k + offer.read.len().min(TASTE_NAMED),
            &readnext_index::Filter::default(),
            None,
        )?;
        let hits = offer.first(near, k);
        if hits.is_empty() {
            return Ok(());
        }
        // The recent reads with a vector, to name the one behind each pick.
        let recent = recent_clicks(history, TASTE_NAMED);
        let recent_vecs = self.store().vectors(&recent)?;
        let recent_recs = self.store().get_many(&recent)?;
        let ids: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
        let hit_vecs = self.store().vectors(&ids)?;
        for (((_, cos), rec), v) in hits.iter().zip(self.store().get_many(&ids)?).zip(hit_vecs) {
            let Some(rec) = rec else { continue };
            let closest = v.as_ref().and_then(|v| {
                recent_vecs
                    .iter()
                    .zip(&recent_recs)
                    .filter_map(|(h, r)| Some((h.as_ref()?, r.as_ref()?)))
                    .map(|(h, r)| (readnext_core::dot(h, v), r.article.title.clone()))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
            });
            let score = TASTE_WEIGHT * ((cos - TASTE_FLOOR) / (1.0 - TASTE_FLOOR)).max(0.0);
            let mut signals = vec![Signal { name: "taste".into(), value: *cos }];
            if let Some((c, _)) = &closest {
                signals.push(Signal { name: "closest_read".into(), value: *c });
            }
            let why = Why { summary: "Close to your reading taste.".into(), signals, ..Default::default() };
            add_to_pool(pool, pick_of(&rec, score, why), score, closest.map(|(_, t)| t));
        }
        Ok(())
    }

    /// Candidates that are simply new: the latest articles published in the
    /// last three days (never after `now`), so that a reader's block can
    /// offer today's news the history does not point to. The trained ranker
    /// weighs them with everything else (freshness is one of its features).
    fn add_fresh_picks(&self, offer: &Offer<'_>, now_ms: i64, k: usize, pool: &mut Pool) -> Result<()> {
        let now_s = now_ms / 1000;
        let filter =
            readnext_index::Filter { since: Some(now_s - FRESH_WINDOW_S), until: Some(now_s), ..Default::default() };
        // Read and blocked articles are skipped, so ask for a few more.
        let newest = self.index().latest(k + offer.read.len().min(k), &filter)?;
        let latest = offer.first(newest, k);
        let ids: Vec<&str> = latest.iter().map(|(id, _)| id.as_str()).collect();
        for ((_, published), rec) in latest.iter().zip(self.store().get_many(&ids)?) {
            let Some(rec) = rec else { continue };
            let freshness = halved((now_s - published) as f32, FRESH_HALF_LIFE_S);
            let score = FRESH_WEIGHT * freshness;
            let why = Why {
                summary: format!("New: published {}.", rec.article.published.map(format_date).unwrap_or_default()),
                signals: vec![Signal { name: "fresh".into(), value: freshness }],
                ..Default::default()
            };
            add_to_pool(pool, pick_of(&rec, score, why), score, None);
        }
        Ok(())
    }

    /// A reader's block: articles related to what they read recently (and to
    /// the article they are reading, when given), the nearest articles to
    /// their dense taste, and the newest articles, never one they have read,
    /// topped up with what is trending. A reader with no history gets the
    /// anchor's related block and trending articles.
    pub fn for_user(&self, user: &str, opts: &UserOptions) -> Result<Vec<Pick>> {
        let history = self.store().history(user, HISTORY_EVENTS)?;
        let offer = Offer {
            read: history.iter().filter(|h| h.kind == EventKind::Click).map(|h| h.article.as_str()).collect(),
            anchor: opts.anchor.as_deref(),
            rules: self.rules()?,
        };
        let seeds = recent_clicks(&history, HISTORY_SEEDS);
        let related_opts = RelatedOptions { k: opts.k * 2, ..RelatedOptions::default() };
        // id -> (score, pick as first found, the history title behind it)
        let mut pool: Pool = HashMap::new();
        // (id, weight, whether it is a history item the why should name)
        let mut sources: Vec<(&str, f32, bool)> = Vec::new();
        if let Some(anchor) = &opts.anchor {
            sources.push((anchor, 1.0, false));
        }
        for (i, seed) in seeds.iter().enumerate() {
            sources.push((seed, HISTORY_DECAY.powi(i as i32), true));
        }
        for (id, weight, from_history) in sources {
            let query = match self.query_for_id(id) {
                Ok(q) => q,
                // A history item deleted since it was read has nothing to say.
                Err(RecommendError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let title = from_history.then(|| query.title.clone());
            for p in self.related(&query, &related_opts)? {
                if !offer.allows(&p.id) {
                    continue;
                }
                let s = weight * p.score;
                add_to_pool(&mut pool, p, s, title.clone());
            }
        }
        self.add_taste_picks(user, &history, &offer, related_opts.k, &mut pool)?;
        self.add_fresh_picks(&offer, opts.now_ms, related_opts.k, &mut pool)?;
        let mut ranked: Vec<(f32, Pick, Option<String>)> = pool.into_values().collect();
        // With a trained ranker, the pool is ordered by its click odds: the
        // same scoring `readnext eval mind` measures.
        if let Some(model) = self.ranker()?
            && !ranked.is_empty()
        {
            let clicked: Vec<String> = history
                .iter()
                .filter(|h| h.kind == EventKind::Click)
                .map(|h| h.article.clone())
                .take(HISTORY_EVENTS)
                .collect();
            let ids: Vec<String> = ranked.iter().map(|r| r.1.id.clone()).collect();
            let counters = self.counters(opts.now_ms);
            let scores = self.score_slate(&clicked, &ids, counters.popularity(), &model, Some(opts.now_ms))?;
            for (r, s) in ranked.iter_mut().zip(scores) {
                r.1.why.signals.push(Signal { name: "ranker".into(), value: s });
                r.0 = s;
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let mut out: Vec<Pick> = ranked
            .into_iter()
            .take(opts.k)
            .map(|(score, mut p, because)| {
                if let Some(t) = because {
                    p.why.summary = format!("Because you read \u{201c}{t}\u{201d}. {}", p.why.summary);
                    p.why.signals.push(Signal { name: "history".into(), value: score });
                }
                p.score = score;
                p
            })
            .collect();
        if out.len() < opts.k {
            let have: Vec<String> = out.iter().map(|p| p.id.clone()).collect();
            let skip = |id: &str| !offer.allows(id) || have.iter().any(|h| h == id);
            out.extend(self.trending_except(opts.k - out.len(), opts.now_ms, opts.window_ms, &skip)?);
        }
        Ok(out)
    }
}
