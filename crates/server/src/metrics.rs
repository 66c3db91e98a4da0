//! Prometheus metrics: request counts and latency histograms per route,
//! written in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request metrics.
#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) -> count
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) -> latency histogram
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// reason -> events refused by the API
    rejected_events: Mutex<BTreeMap<&'static str, u64>>,
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut lat = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = lat.entry((method.to_string(), route.to_string())).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts an event the API refused, by reason (`future`, `too_old`,
    /// `invalid`).
    pub fn reject_event(&self, reason: &'static str) {
        *self.rejected_events.lock().unwrap_or_else(|p| p.into_inner()).entry(reason).or_default() += 1;
    }

    /// The exposition text, with `gauges` (name, help, value) appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP readnext_events_rejected_total Events refused by POST /v1/events, by reason.\n");
        out.push_str("# TYPE readnext_events_rejected_total counter\n");
        for (reason, n) in self.rejected_events.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "readnext_events_rejected_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str("# HELP readnext_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE readnext_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "readnext_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {n}",
                label(m),
                label(r)
            );
        }
        out.push_str("# HELP readnext_http_request_duration_seconds Request latency by method and route.\n");
        out.push_str("# TYPE readnext_http_request_duration_seconds histogram\n");
        for ((m, r), h) in self.latency.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let (m, r) = (label(m), label(r));
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "readnext_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "readnext_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ =
                writeln!(out, "readnext_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}", h.sum);
            let _ = writeln!(
                out,
                "readnext_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}",
                h.count
            );
        }
        out + &self::gauges(gauges)
    }
}

/// Gauges in the exposition format.
pub(crate) fn gauges(gauges: &[(&str, &str, f64)]) -> String {
    let mut out = String::new();
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/v1/x", 200, 0.003);
        m.observe("GET", "/v1/x", 404, 0.2);
        let t = m.render(&[("readnext_articles", "Articles.", 3.0)]);
        assert!(t.contains("readnext_http_requests_total{method=\"GET\",route=\"/v1/x\",status=\"404\"} 1"));
        assert!(t.contains("le=\"0.0025\"} 0"));
        assert!(t.contains("le=\"0.005\"} 1"));
        assert!(t.contains("le=\"0.25\"} 2"));
        assert!(t.contains("le=\"+Inf\"} 2"));
        assert!(t.contains("readnext_articles 3"));
    }
}
