//! Rate limiting: one token bucket per client (API key or IP address).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use readnext_core::TokenBucket;

/// Token buckets: `rate` tokens a second, up to `2 * rate` saved.
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

/// Past this many clients, idle buckets are dropped (a full bucket is the
/// same as no bucket).
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter of `rate` requests a second per client; 0 allows everything.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter { rate: f64::from(rate), buckets: Mutex::new(HashMap::new()) }
    }

    /// Whether `client` may make a request now (and takes a token if so).
    pub fn allow(&self, client: &str) -> bool {
        self.allow_at(client, Instant::now())
    }

    fn allow_at(&self, client: &str, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let burst = self.rate * 2.0;
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > MAX_BUCKETS {
            let rate = self.rate;
            b.retain(|_, bucket| bucket.level(rate, burst, now) < burst);
        }
        b.entry(client.to_string()).or_insert_with(|| TokenBucket::full(burst, now)).take(self.rate, burst, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_pass_then_the_rate_holds_per_client() {
        let l = RateLimiter::new(5);
        let t0 = Instant::now();
        assert_eq!((0..20).filter(|_| l.allow_at("a", t0)).count(), 10, "a burst of twice the rate");
        assert!(l.allow_at("b", t0), "another client has its own bucket");
        assert!(!l.allow_at("a", t0 + Duration::from_millis(100)));
        assert!(l.allow_at("a", t0 + Duration::from_millis(250)), "one token back after 1/5 s");
        assert!(RateLimiter::new(0).allow("x"));
    }
}
