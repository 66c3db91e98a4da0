//! The reader ranker: features of a candidate for a reader (similarity to
//! their history, section and entity affinity, popularity, click-through,
//! freshness) and a logistic model over them, fitted from clicks.
//!
//! The live reader block (`Engine::for_user`) and `readnext eval mind` both
//! score through [`Engine::score_slate`]; training (`readnext train`, and each
//! fold of the evaluation) goes through [`RankerModel::fit`].

use readnext_core::{FastMap, add_to_taste, dot};
use serde::{Deserialize, Serialize};

use crate::RecommendError;
use crate::engine::Engine;
use crate::features::halved;
use crate::vectors::SparseVec;

/// How many features.
pub const N_FEATURES: usize = 20;

/// Names of the features, in order (also the keys of `why` signals).
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "history_text_max",
    "history_text_centroid",
    "history_entities_max",
    "history_entities_centroid",
    "section_affinity",
    "subsection_affinity",
    "log_clicks",
    "click_through",
    "log_impressions",
    "freshness",
    "cold_start",
    "section_click_through",
    "subsection_click_through",
    "log_reads",
    "history_dense_max",
    "history_dense_taste",
    "section_new",
    "subsection_new",
    "section_affinity_thin",
    "section_new_thin",
];

/// One candidate's features.
pub type FeatureRow = [f32; N_FEATURES];

/// Click-through is smoothed towards this rate with this many pseudo-impressions.
const CTR_PRIOR: f32 = 0.05;
const CTR_PRIOR_WEIGHT: f32 = 20.0;
/// Freshness halves every this many days.
const FRESH_HALF_LIFE_DAYS: f32 = 2.0;
/// Version of the model format.
pub const MODEL_VERSION: u32 = 3;

/// Click and impression counts per article. Impressions are weighted by how
/// likely their position was to be looked at (1 / log2(position + 2)), the
/// usual position-bias correction: an unclicked article at position 9 says
/// less than one at position 0.
#[derive(Debug, Clone, Default)]
pub struct Popularity {
    clicks: FastMap<String, f32>,
    shown: FastMap<String, f32>,
    /// Clicks and impressions per section and per subsection, for articles
    /// too new to have counts of their own.
    groups: FastMap<String, (f32, f32)>,
    /// Reads known from readers' histories (clicks outside any recorded slate).
    reads: FastMap<String, f32>,
}

/// How much an impression at `position` counts.
pub fn examination(position: Option<u32>) -> f32 {
    position.map_or(1.0, |p| 1.0 / (p as f32 + 2.0).log2())
}

impl Popularity {
    /// Adds `weight` clicks of `id`.
    pub fn click(&mut self, id: &str, weight: f32) {
        *self.clicks.entry(id.to_string()).or_default() += weight;
    }
    /// Adds an impression of `id` at `position` (weighted by examination).
    pub fn impression(&mut self, id: &str, position: Option<u32>, weight: f32) {
        *self.shown.entry(id.to_string()).or_default() += weight * examination(position);
    }
    /// (clicks, weighted impressions) of `id`.
    pub fn counts(&self, id: &str) -> (f32, f32) {
        (self.clicks.get(id).copied().unwrap_or(0.0), self.shown.get(id).copied().unwrap_or(0.0))
    }
    /// Adds `clicks` and `shown` to a section or subsection key.
    pub fn group(&mut self, key: &str, clicks: f32, shown: f32) {
        let g = self.groups.entry(key.to_string()).or_default();
        g.0 += clicks;
        g.1 += shown;
    }
    /// Smoothed click-through of a section or subsection key.
    pub fn group_ctr(&self, key: Option<&str>) -> f32 {
        let (c, s) = key.and_then(|k| self.groups.get(k)).copied().unwrap_or((0.0, 0.0));
        (c + CTR_PRIOR * CTR_PRIOR_WEIGHT) / (s.max(c) + CTR_PRIOR_WEIGHT)
    }
    /// Adds a read of `id` seen in a reader's history.
    pub fn read(&mut self, id: &str, weight: f32) {
        *self.reads.entry(id.to_string()).or_default() += weight;
    }
    /// Reads of `id` from histories.
    pub fn reads(&self, id: &str) -> f32 {
        self.reads.get(id).copied().unwrap_or(0.0)
    }
    /// Adds `sign` times every count of `other` (-1 takes them away again;
    /// counts that reach zero are dropped).
    pub fn add_all(&mut self, other: &Popularity, sign: f32) {
        fn add(into: &mut FastMap<String, f32>, from: &FastMap<String, f32>, sign: f32) {
            for (k, v) in from {
                let e = into.entry(k.clone()).or_default();
                *e += sign * v;
                if e.abs() < 1e-4 {
                    into.remove(k);
                }
            }
        }
        add(&mut self.clicks, &other.clicks, sign);
        add(&mut self.shown, &other.shown, sign);
        add(&mut self.reads, &other.reads, sign);
        for (k, (c, s)) in &other.groups {
            let g = self.groups.entry(k.clone()).or_default();
            g.0 += sign * c;
            g.1 += sign * s;
            if g.0.abs() < 1e-4 && g.1.abs() < 1e-4 {
                self.groups.remove(k);
            }
        }
    }

    /// Sum of all clicks.
    pub fn total_clicks(&self) -> f32 {
        self.clicks.values().sum()
    }
}

/// A logistic model over standardised features, with its format version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankerModel {
    /// Format version ([`MODEL_VERSION`]).
    pub version: u32,
    /// Feature names, in order (a model for other features is refused).
    pub features: Vec<String>,
    /// Per-feature mean, subtracted before weighting.
    pub mean: Vec<f32>,
    /// Per-feature scale, divided by before weighting.
    pub scale: Vec<f32>,
    /// Weights.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Examples it was fitted on.
    pub examples: usize,
    /// Positive examples among them.
    pub positives: usize,
}

impl RankerModel {
    /// The model used before any training: history similarity, affinity and
    /// popularity, with hand-set weights (no standardisation).
    pub fn untrained() -> RankerModel {
        let w = [1.0, 1.0, 0.5, 0.5, 0.6, 0.6, 0.3, 1.0, 0.0, 0.3, 0.0, 0.5, 0.5, 0.2, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        RankerModel {
            version: MODEL_VERSION,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; N_FEATURES],
            scale: vec![1.0; N_FEATURES],
            weights: w.to_vec(),
            bias: 0.0,
            examples: 0,
            positives: 0,
        }
    }

    /// Whether this model fits this build's features.
    pub fn compatible(&self) -> bool {
        self.version == MODEL_VERSION
            && self.features.iter().map(String::as_str).eq(FEATURE_NAMES.iter().copied())
            && [self.mean.len(), self.scale.len(), self.weights.len()].iter().all(|n| *n == N_FEATURES)
    }

    /// The log-odds of a click.
    pub fn score(&self, x: &FeatureRow) -> f32 {
        let mut z = self.bias;
        for (((x, w), m), s) in x.iter().zip(&self.weights).zip(&self.mean).zip(&self.scale) {
            z += w * (x - m) / s;
        }
        z
    }

    /// Fits L2-regularised logistic regression by full-batch gradient
    /// descent on standardised features. Deterministic: same examples, same
    /// model. Positives are weighted so that both classes count equally.
    pub fn fit(xs: &[FeatureRow], ys: &[bool], l2: f32, iterations: usize) -> RankerModel {
        let n = xs.len().min(ys.len());
        let mut m = RankerModel::untrained();
        m.examples = n;
        m.positives = ys[..n].iter().filter(|y| **y).count();
        if n == 0 || m.positives == 0 || m.positives == n {
            return m;
        }
        for f in 0..N_FEATURES {
            let mean = xs[..n].iter().map(|x| f64::from(x[f])).sum::<f64>() / n as f64;
            let var = xs[..n].iter().map(|x| (f64::from(x[f]) - mean).powi(2)).sum::<f64>() / n as f64;
            m.mean[f] = mean as f32;
            m.scale[f] = if var > 1e-12 { var.sqrt() as f32 } else { 1.0 };
        }
        let z: Vec<FeatureRow> = xs[..n]
            .iter()
            .map(|x| {
                let mut r = [0.0f32; N_FEATURES];
                for f in 0..N_FEATURES {
                    r[f] = (x[f] - m.mean[f]) / m.scale[f];
                }
                r
            })
            .collect();
        let pos_w = (n - m.positives) as f64 / m.positives as f64;
        let total_w = (n - m.positives) as f64 * 2.0;
        let mut w = [0.0f64; N_FEATURES];
        let mut b = 0.0f64;
        let lr = 0.5;
        for _ in 0..iterations {
            let mut gw = [0.0f64; N_FEATURES];
            let mut gb = 0.0f64;
            for (x, y) in z.iter().zip(&ys[..n]) {
                let s = b + (0..N_FEATURES).map(|f| w[f] * f64::from(x[f])).sum::<f64>();
                let p = 1.0 / (1.0 + (-s).exp());
                let (target, weight) = if *y { (1.0, pos_w) } else { (0.0, 1.0) };
                let g = weight * (p - target);
                for f in 0..N_FEATURES {
                    gw[f] += g * f64::from(x[f]);
                }
                gb += g;
            }
            for f in 0..N_FEATURES {
                w[f] -= lr * (gw[f] / total_w + f64::from(l2) * w[f]);
            }
            b -= lr * gb / total_w;
        }
        m.weights = w.iter().map(|v| *v as f32).collect();
        m.bias = b as f32;
        m
    }
}

/// A reader's dense taste from the embeddings of what they read, most
/// recent first: the decayed sum the store keeps up to date
/// ([`add_to_taste`], oldest first), normalised. `None` when no read has a
/// vector. Vectors of another length than the first are skipped.
pub fn taste_vector<'a>(vectors: impl Iterator<Item = &'a [f32]>) -> Option<Vec<f32>> {
    let mut newest_first = vectors.peekable();
    let len = newest_first.peek()?.len();
    let same: Vec<&[f32]> = newest_first.filter(|v| v.len() == len).collect();
    let mut taste = Vec::new();
    for v in same.iter().rev() {
        add_to_taste(&mut taste, v);
    }
    readnext_core::normalize(&mut taste).then_some(taste)
}

/// Subtracts each feature's slate mean. A slate is ranked within itself, so
/// only differences inside it matter: fitting on centred rows makes the
/// model learn those (a conditional logit) instead of what makes one slate
/// click more than another. Scores of centred and raw rows order a slate
/// the same way.
pub fn center_slate(rows: &mut [FeatureRow]) {
    if rows.is_empty() {
        return;
    }
    let n = rows.len() as f32;
    for f in 0..N_FEATURES {
        let mean = rows.iter().map(|r| r[f]).sum::<f32>() / n;
        for r in rows.iter_mut() {
            r[f] -= mean;
        }
    }
}

/// What the ranker knows of one article.
struct Item {
    text: SparseVec,
    ents: SparseVec,
    section: Option<String>,
    subsection: Option<String>,
    published: Option<i64>,
    dense: Option<Vec<f32>>,
}

/// The name of the reader ranker in the store.
const MODEL_NAME: &str = "ranker";
/// A click within this long after an impression answers it.
const CLICK_WINDOW_MS: i64 = 86_400_000;
/// History items a slate's features read.
const HISTORY_ITEMS: usize = 50;

/// An article shown in a slate, with its position.
type Shown<'a> = (&'a str, Option<u32>);

/// What `readnext train` fitted on.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Slates (impressions of one reader at one time).
    pub slates: usize,
    /// The model.
    pub model: RankerModel,
}

impl Engine {
    /// Popularity from the recorded events of the last `window_ms` (all
    /// of them when `None`): clicks, position-weighted impressions, and the
    /// same per section and subsection.
    pub fn popularity(&self, now_ms: i64, window_ms: Option<i64>) -> Result<Popularity, RecommendError> {
        let since = window_ms.map_or(i64::MIN, |w| now_ms.saturating_sub(w));
        let mut events = Vec::new();
        self.store().for_each_event_since(since, |e| events.push(e.clone()))?;
        self.popularity_of(&events)
    }

    fn popularity_of(&self, events: &[readnext_core::Event]) -> Result<Popularity, RecommendError> {
        let mut p = Popularity::default();
        let mut ids: Vec<String> = events.iter().map(|e| e.article.clone()).collect();
        ids.sort();
        ids.dedup();
        let groups: FastMap<String, (Option<String>, Option<String>)> = ids
            .iter()
            .cloned()
            .zip(self.store().get_many(&ids)?)
            .filter_map(|(id, r)| r.map(|r| (id, (r.article.section, r.article.tags.into_iter().next()))))
            .collect();
        for e in events {
            let (click, shown) = match e.kind {
                readnext_core::EventKind::Click => {
                    p.click(&e.article, 1.0);
                    p.read(&e.article, 1.0);
                    (1.0, 0.0)
                }
                readnext_core::EventKind::Impression => {
                    p.impression(&e.article, e.position, 1.0);
                    (0.0, examination(e.position))
                }
            };
            if let Some((section, sub)) = groups.get(&e.article) {
                if let Some(s) = section {
                    p.group(&format!("section:{s}"), click, shown);
                }
                if let Some(s) = sub {
                    p.group(&format!("subsection:{s}"), click, shown);
                }
            }
        }
        Ok(p)
    }

    /// The trained reader ranker, if one was stored by this build's format.
    pub fn ranker(&self) -> Result<Option<RankerModel>, RecommendError> {
        let Some(bytes) = self.store().model(MODEL_NAME)? else { return Ok(None) };
        Ok(postcard::from_bytes::<RankerModel>(&bytes).ok().filter(RankerModel::compatible))
    }

    /// Fits the reader ranker on the recorded events and stores it: every
    /// reader's impressions at one time form a slate, a click on a shown
    /// article within a day is a positive, the reader's earlier clicks are
    /// their history, and popularity leaves the slate's own events out.
    pub fn train_ranker(&self, l2: f32, iterations: usize) -> Result<TrainReport, RecommendError> {
        let mut events = Vec::new();
        self.store().for_each_event_since(i64::MIN, |e| events.push(e.clone()))?;
        let all = self.popularity_of(&events)?;
        // reader -> clicks (time, article), oldest first
        let mut clicks: FastMap<&str, Vec<(i64, &str)>> = FastMap::default();
        // (reader, time) -> shown articles with positions
        let mut slates: std::collections::BTreeMap<(&str, i64), Vec<Shown<'_>>> = Default::default();
        for e in &events {
            match e.kind {
                readnext_core::EventKind::Click => clicks.entry(&e.user).or_default().push((e.time_ms, &e.article)),
                readnext_core::EventKind::Impression => {
                    slates.entry((&e.user, e.time_ms)).or_default().push((&e.article, e.position))
                }
            }
        }
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut used = 0;
        for ((user, t), shown) in &slates {
            let theirs = clicks.get(user).map_or(&[][..], Vec::as_slice);
            let label = |a: &str| theirs.iter().any(|(ct, ca)| *ca == a && *ct >= *t && *ct - *t <= CLICK_WINDOW_MS);
            let history: Vec<String> =
                theirs.iter().rev().filter(|(ct, _)| ct < t).take(HISTORY_ITEMS).map(|(_, a)| a.to_string()).collect();
            let ids: Vec<String> = shown.iter().map(|(a, _)| a.to_string()).collect();
            let mut own = all.clone();
            for (a, pos) in shown {
                own.impression(a, *pos, -1.0);
                if label(a) {
                    own.click(a, -1.0);
                }
            }
            let mut rows = self.slate_features(&history, &ids, &own, Some(*t))?;
            center_slate(&mut rows);
            xs.extend(rows);
            ys.extend(ids.iter().map(|a| label(a)));
            used += 1;
        }
        let model = RankerModel::fit(&xs, &ys, l2, iterations);
        if model.examples > 0 && model.positives > 0 && model.positives < model.examples {
            let bytes = postcard::to_allocvec(&model)
                .map_err(|e| readnext_store::StoreError::Invalid(format!("ranker cannot be encoded: {e}")))?;
            self.store().put_model(MODEL_NAME, &bytes)?;
        }
        Ok(TrainReport { slates: used, model })
    }

    fn items(&self, ids: &[String]) -> Result<Vec<Option<Item>>, RecommendError> {
        let stats = self.stats();
        let feats = self.features(ids, &stats)?;
        let recs = self.store().get_many(ids)?;
        Ok(feats
            .into_iter()
            .zip(recs)
            .map(|(f, r)| {
                let (f, r) = (f?, r?);
                Some(Item {
                    text: f.text.clone(),
                    ents: f.ents.clone(),
                    section: r.article.section.clone(),
                    subsection: r.article.tags.first().cloned(),
                    published: r.article.published,
                    dense: f.dense.clone(),
                })
            })
            .collect())
    }

    /// The ranker's features of each article of `slate` for a reader who
    /// read `history` (most recent first). Unknown ids get zero similarity.
    pub fn slate_features(
        &self,
        history: &[String],
        slate: &[String],
        pop: &Popularity,
        now_ms: Option<i64>,
    ) -> Result<Vec<FeatureRow>, RecommendError> {
        let hist: Vec<Item> = self.items(history)?.into_iter().flatten().collect();
        let text_c = SparseVec::centroid(hist.iter().map(|h| &h.text));
        let ents_c = SparseVec::centroid(hist.iter().map(|h| &h.ents));
        let taste = taste_vector(hist.iter().filter_map(|h| h.dense.as_deref()));
        let n = hist.len().max(1) as f32;
        let cands = self.items(slate)?;
        let mut out = Vec::with_capacity(slate.len());
        for (id, c) in slate.iter().zip(cands) {
            let mut x = [0.0f32; N_FEATURES];
            if let Some(c) = &c {
                let (mut tmax, mut emax) = (0.0f32, 0.0f32);
                for h in &hist {
                    tmax = tmax.max(c.text.cosine(&h.text));
                    emax = emax.max(c.ents.cosine(&h.ents));
                }
                x[0] = tmax;
                x[1] = c.text.cosine(&text_c);
                x[2] = emax;
                x[3] = c.ents.cosine(&ents_c);
                x[4] = hist.iter().filter(|h| h.section.is_some() && h.section == c.section).count() as f32 / n;
                x[5] =
                    hist.iter().filter(|h| h.subsection.is_some() && h.subsection == c.subsection).count() as f32 / n;
                if let (Some(now), Some(p)) = (now_ms, c.published) {
                    let days = ((now / 1000 - p).max(0) as f32) / 86_400.0;
                    x[9] = halved(days, FRESH_HALF_LIFE_DAYS);
                }
            }
            let (clicks, shown) = pop.counts(id);
            x[6] = clicks.ln_1p();
            x[7] = (clicks + CTR_PRIOR * CTR_PRIOR_WEIGHT) / (shown.max(clicks) + CTR_PRIOR_WEIGHT);
            x[8] = shown.ln_1p();
            x[10] = if hist.is_empty() { 1.0 } else { 0.0 };
            if let Some(c) = &c {
                x[11] = pop.group_ctr(c.section.as_deref().map(|s| format!("section:{s}")).as_deref());
                x[12] = pop.group_ctr(c.subsection.as_deref().map(|s| format!("subsection:{s}")).as_deref());
            }
            x[13] = pop.reads(id).ln_1p();
            if let Some(v) = c.as_ref().and_then(|c| c.dense.as_deref()) {
                x[14] = hist.iter().filter_map(|h| h.dense.as_deref()).map(|h| dot(v, h)).fold(0.0, f32::max);
                x[15] = taste.as_deref().map_or(0.0, |t| dot(v, t));
            }
            // Novelty: a section the reader has never read from. Affinity
            // alone says "less of it"; readers also click outside their
            // habits, and this lets the fit say how often they do.
            if let (Some(c), false) = (&c, hist.is_empty()) {
                let unseen = |key: &Option<String>, of: fn(&Item) -> &Option<String>| {
                    key.is_some() && hist.iter().all(|h| of(h) != key)
                };
                x[16] = f32::from(u8::from(unseen(&c.section, |h| &h.section)));
                x[17] = f32::from(u8::from(unseen(&c.subsection, |h| &h.subsection)));
                // The same section signals over a thin history (1 / reads):
                // three reads say less about a reader's sections than
                // thirty, and the fit learns how much less.
                x[18] = x[4] / n;
                x[19] = x[16] / n;
            }
            out.push(x);
        }
        Ok(out)
    }

    /// Scores a slate for a reader: the model's log-odds of a click per
    /// candidate, in slate order.
    pub fn score_slate(
        &self,
        history: &[String],
        slate: &[String],
        pop: &Popularity,
        model: &RankerModel,
        now_ms: Option<i64>,
    ) -> Result<Vec<f32>, RecommendError> {
        Ok(self.slate_features(history, slate, pop, now_ms)?.iter().map(|x| model.score(x)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_learns_the_direction_of_a_signal_and_is_deterministic() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..200 {
            let mut x = [0.0f32; N_FEATURES];
            x[4] = (i % 10) as f32 / 10.0;
            x[6] = ((i * 7) % 13) as f32;
            xs.push(x);
            ys.push(i % 10 >= 7);
        }
        let m = RankerModel::fit(&xs, &ys, 1e-3, 300);
        assert!(m.weights[4] > 1.0, "affinity predicts clicks: {:?}", m.weights);
        assert!(m.weights[6].abs() < m.weights[4] / 4.0, "noise gets little weight: {:?}", m.weights);
        assert_eq!(m, RankerModel::fit(&xs, &ys, 1e-3, 300));
        assert!(m.compatible());
        let hi = m.score(&xs[9]);
        let lo = m.score(&xs[0]);
        assert!(hi > lo);
        // No positives: nothing to learn, the untrained model comes back.
        assert_eq!(RankerModel::fit(&xs, &[false; 200], 1e-3, 10).weights, RankerModel::untrained().weights);
    }

    #[test]
    fn lower_positions_count_less_as_impressions() {
        assert_eq!(examination(None), 1.0);
        assert_eq!(examination(Some(0)), 1.0);
        assert!(examination(Some(9)) < examination(Some(1)));
        let mut p = Popularity::default();
        p.click("a", 1.0);
        p.impression("a", Some(0), 1.0);
        p.impression("a", Some(6), 1.0);
        let (c, s) = p.counts("a");
        assert_eq!(c, 1.0);
        assert!(s > 1.0 && s < 2.0);
    }
}
