//! A token bucket's arithmetic, shared by the server's per-client rate
//! limiter and the engine's budget for recomputing drifted blocks.

use std::time::Instant;

/// Tokens that come back at a rate, up to a burst. The rate and the burst
/// are the caller's (a limiter keeps one pair for many buckets).
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A bucket holding `burst` tokens at `now`.
    pub fn full(burst: f64, now: Instant) -> TokenBucket {
        TokenBucket { tokens: burst, at: now }
    }

    /// The tokens it holds at `now`: `rate` a second have come back since
    /// it was last counted, up to `burst`. Counting nothing.
    pub fn level(&self, rate: f64, burst: f64, now: Instant) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(burst)
    }

    /// Whether a token is there at `now` (the bucket is counted, none is
    /// taken).
    pub fn has_room(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.tokens = self.level(rate, burst, now);
        self.at = now;
        self.tokens >= 1.0
    }

    /// Takes a token at `now` if one is there.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        if self.has_room(rate, burst, now) {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_gives_its_burst_at_once_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(2.0, t0);
        assert!(b.take(0.0, 2.0, t0) && b.take(0.0, 2.0, t0));
        assert!(!b.has_room(0.0, 2.0, t0) && !b.take(0.0, 2.0, t0), "spent, and nothing comes back at rate 0");
        let later = t0 + Duration::from_millis(500);
        assert_eq!(b.level(4.0, 2.0, later), 2.0, "4 a second for half a second, up to the burst");
        assert!(b.take(4.0, 2.0, later));
        assert_eq!(b.level(4.0, 2.0, later), 1.0);
    }
}
