//! Counters kept up to date as events are applied, so that no request scans
//! events: trending reads per-article quarter-hour buckets, and the reader
//! ranker's popularity is a running sum of per-day partials over the last
//! [`POPULARITY_DAYS`] days.
//!
//! The counters are derived, like the indexes: built from the store's event
//! table when the engine opens (one scan of the horizon), then moved by
//! every applied event write. A replayed write is not applied by the store
//! ([`readnext_store::Applied::Replayed`]), so it moves no counter.

use std::collections::{BTreeMap, VecDeque};

use readnext_core::{Event, EventKind, FastMap};

use crate::ranker::{Popularity, examination};

/// Trending counts events in buckets of this many milliseconds: a window's
/// edges and an event's age are exact to the quarter hour.
pub(crate) const BUCKET_MS: i64 = 15 * 60_000;
/// How far back counters reach: older events count in no window, and the
/// API refuses events older than this.
pub const HORIZON_MS: i64 = 30 * 86_400_000;
/// Popularity for the reader ranker counts the events of this many UTC days
/// (today included).
pub(crate) const POPULARITY_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// One quarter hour of an article's events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    /// Start of the quarter hour (ms since the epoch).
    pub start: i64,
    /// Clicks in it.
    pub clicks: u32,
    /// Impressions in it.
    pub shown: u32,
}

/// The section and subsection an event's article belongs to (for
/// popularity's groups), looked up by the caller.
pub(crate) type Groups = (Option<String>, Option<String>);

/// The counters.
#[derive(Default)]
pub(crate) struct Counters {
    /// Per article, its buckets, oldest first.
    trend: FastMap<String, VecDeque<Bucket>>,
    /// Popularity per UTC day (day number since the epoch).
    days: BTreeMap<i64, Popularity>,
    /// The sum of `days`.
    total: Popularity,
}

impl Counters {
    /// Adds (`sign` = 1) or takes away (`sign` = -1, a forgotten reader's
    /// events) `events`, with their articles' groups, as of `now_ms`.
    pub(crate) fn apply(&mut self, events: &[Event], groups: &FastMap<String, Groups>, now_ms: i64, sign: i32) {
        let oldest = now_ms.saturating_sub(HORIZON_MS);
        for e in events.iter().filter(|e| e.time_ms >= oldest) {
            self.count_trend(e, sign);
            let day = e.time_ms.div_euclid(DAY_MS);
            let mut one = Popularity::default();
            let s = sign as f32;
            let (click, shown) = match e.kind {
                EventKind::Click => {
                    one.click(&e.article, s);
                    one.read(&e.article, s);
                    (s, 0.0)
                }
                EventKind::Impression => {
                    one.impression(&e.article, e.position, s);
                    (0.0, s * examination(e.position))
                }
            };
            if let Some((section, sub)) = groups.get(&e.article) {
                if let Some(x) = section {
                    one.group(&format!("section:{x}"), click, shown);
                }
                if let Some(x) = sub {
                    one.group(&format!("subsection:{x}"), click, shown);
                }
            }
            self.days.entry(day).or_default().add_all(&one, 1.0);
            self.total.add_all(&one, 1.0);
        }
        self.expire(now_ms);
    }

    fn count_trend(&mut self, e: &Event, sign: i32) {
        let start = e.time_ms - e.time_ms.rem_euclid(BUCKET_MS);
        let buckets = self.trend.entry(e.article.clone()).or_default();
        // Events arrive nearly in time order: look from the newest bucket.
        let at = buckets.iter().rposition(|b| b.start <= start);
        let b = match at {
            Some(i) if buckets[i].start == start => &mut buckets[i],
            Some(i) => {
                buckets.insert(i + 1, Bucket { start, clicks: 0, shown: 0 });
                &mut buckets[i + 1]
            }
            None => {
                buckets.push_front(Bucket { start, clicks: 0, shown: 0 });
                &mut buckets[0]
            }
        };
        let add = |n: u32| if sign >= 0 { n.saturating_add(1) } else { n.saturating_sub(1) };
        match e.kind {
            EventKind::Click => b.clicks = add(b.clicks),
            EventKind::Impression => b.shown = add(b.shown),
        }
    }

    /// Drops what fell out of the horizon: buckets of articles, and days of
    /// popularity (taken away from the running sum).
    pub(crate) fn expire(&mut self, now_ms: i64) {
        let first_day = now_ms.div_euclid(DAY_MS) - (POPULARITY_DAYS - 1);
        while let Some((&day, _)) = self.days.first_key_value() {
            if day >= first_day {
                break;
            }
            if let Some(p) = self.days.remove(&day) {
                self.total.add_all(&p, -1.0);
            }
        }
        let oldest = now_ms.saturating_sub(HORIZON_MS);
        self.trend.retain(|_, b| {
            while b.front().is_some_and(|x| x.start + BUCKET_MS <= oldest) {
                b.pop_front();
            }
            !b.is_empty()
        });
    }

    /// Whether a day has fallen out of the popularity window at `now_ms`.
    pub(crate) fn stale(&self, now_ms: i64) -> bool {
        let first_day = now_ms.div_euclid(DAY_MS) - (POPULARITY_DAYS - 1);
        self.days.first_key_value().is_some_and(|(d, _)| *d < first_day)
    }

    /// Popularity over the last [`POPULARITY_DAYS`] days.
    pub(crate) fn popularity(&self) -> &Popularity {
        &self.total
    }

    /// Every article with events in the `window_ms` before `now_ms` (to the
    /// quarter hour), with its buckets in that window.
    pub(crate) fn in_window(&self, now_ms: i64, window_ms: i64) -> impl Iterator<Item = (&str, Vec<Bucket>)> {
        let from = now_ms.saturating_sub(window_ms);
        self.trend.iter().filter_map(move |(id, b)| {
            if b.back().is_none_or(|x| x.start + BUCKET_MS <= from) {
                return None;
            }
            let inside: Vec<Bucket> = b
                .iter()
                .rev()
                .take_while(|x| x.start + BUCKET_MS > from)
                .filter(|x| x.start <= now_ms)
                .copied()
                .collect();
            (!inside.is_empty()).then_some((id.as_str(), inside))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(article: &str, kind: EventKind, time_ms: i64) -> Event {
        Event { user: "u".into(), article: article.into(), kind, time_ms, position: Some(0), slate: vec![] }
    }

    #[test]
    fn counters_follow_events_windows_and_forgetting() {
        let now = 100 * DAY_MS;
        let mut c = Counters::default();
        let groups: FastMap<String, Groups> =
            [("a".to_string(), (Some("news".to_string()), None))].into_iter().collect();
        let evs = [
            ev("a", EventKind::Click, now - 1000),
            ev("a", EventKind::Impression, now - 1000),
            ev("a", EventKind::Click, now - 2 * 3_600_000),
            ev("b", EventKind::Click, now - 40 * DAY_MS),
        ];
        c.apply(&evs, &groups, now, 1);
        // Beyond the horizon, b counts nowhere.
        assert_eq!(c.popularity().counts("b"), (0.0, 0.0));
        assert_eq!(c.popularity().counts("a").0, 2.0);
        let w: Vec<(String, u32)> =
            c.in_window(now, 3_600_000).map(|(id, b)| (id.to_string(), b.iter().map(|x| x.clicks).sum())).collect();
        assert_eq!(w, [("a".to_string(), 1)], "the click two hours ago is outside a one-hour window");
        let w: u32 = c.in_window(now, 3 * 3_600_000).map(|(_, b)| b.iter().map(|x| x.clicks).sum::<u32>()).sum();
        assert_eq!(w, 2);
        // Taking the events away again leaves nothing.
        c.apply(&evs, &groups, now, -1);
        assert_eq!(c.popularity().counts("a").0, 0.0);
        assert_eq!(
            c.in_window(now, 3 * 3_600_000).map(|(_, b)| b.iter().map(|x| x.clicks).sum::<u32>()).sum::<u32>(),
            0
        );
        // A month on, the day has left the popularity window.
        c.apply(&evs[..1], &groups, now, 1);
        assert!(!c.stale(now));
        assert!(c.stale(now + 31 * DAY_MS));
        c.expire(now + 31 * DAY_MS);
        assert_eq!(c.popularity().counts("a").0, 0.0);
    }
}
