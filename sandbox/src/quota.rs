//! The server side of a published limit: a sandbox answers 429 exactly when the real API would, so that a
//! connector that paces itself wrongly fails in tests.
//!
//! Time is passed in (milliseconds on any monotonic clock), so the bucket is a pure state machine.

use crds::channel::PublishedLimit;

/// A token bucket enforcing one operation's published limit. Tokens are kept in units of
/// 1/`per_millis` of a token, so refills of fractional rates (0.0056/s) are exact.
#[derive(Clone, Debug)]
pub struct ServerBucket {
    limit: PublishedLimit,
    /// Available tokens, scaled by `limit.per_millis`.
    scaled_tokens: u128,
    last_refill_ms: u64,
}

impl ServerBucket {
    /// A full bucket at time `now_ms`.
    pub fn new(limit: PublishedLimit, now_ms: u64) -> Self {
        let scaled_tokens = u128::from(limit.burst) * u128::from(limit.per_millis);
        Self {
            limit,
            scaled_tokens,
            last_refill_ms: now_ms,
        }
    }

    /// Takes `cost` tokens at `now_ms`: `true` when the request is allowed, `false` when it is throttled.
    pub fn try_take(&mut self, cost: u64, now_ms: u64) -> bool {
        self.refill(now_ms);
        let needed = u128::from(cost) * u128::from(self.limit.per_millis);
        if self.scaled_tokens >= needed {
            self.scaled_tokens -= needed;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_refill_ms);
        self.last_refill_ms = self.last_refill_ms.max(now_ms);
        let capacity = u128::from(self.limit.burst) * u128::from(self.limit.per_millis);
        let added = u128::from(elapsed) * u128::from(self.limit.requests);
        self.scaled_tokens = (self.scaled_tokens + added).min(capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::channel::ChannelKind;

    fn limit(op: &str) -> PublishedLimit {
        match ChannelKind::Amazon.operation(op).and_then(|o| o.published) {
            Some(limit) => limit,
            None => panic!("{op} has a published limit"),
        }
    }

    #[test]
    fn burst_then_throttle_then_refill() {
        let mut bucket = ServerBucket::new(limit("patchListingsItem"), 0);
        for _ in 0..5 {
            assert!(bucket.try_take(1, 0));
        }
        assert!(
            !bucket.try_take(1, 0),
            "the sixth immediate call exceeds burst 5"
        );
        assert!(
            !bucket.try_take(1, 199),
            "5/s refills one token every 200 ms"
        );
        assert!(bucket.try_take(1, 200));
    }

    #[test]
    fn fractional_rates_refill_exactly() {
        // searchOrders: 0.0056/s, burst 20.
        let mut bucket = ServerBucket::new(limit("searchOrders"), 0);
        for _ in 0..20 {
            assert!(bucket.try_take(1, 0));
        }
        assert!(
            !bucket.try_take(1, 178_571),
            "one token takes 10,000/56 s = 178,571.4 ms"
        );
        assert!(bucket.try_take(1, 178_572));
    }
}
