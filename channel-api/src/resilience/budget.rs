//! A mirror of a cost bucket the server reported (Shopify's `throttleStatus`), projected forward in time, so
//! the next query is sent when the server will have the points for it instead of being throttled.
//!
//! Pure: instants are passed in. Points are kept as integers in units of 1/(share × 10⁹) of a point, so the
//! restore of, say, 50 points per second split among 3 replicas is exact per nanosecond.

use std::time::{Duration, Instant};

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// This replica's share of the server's cost bucket, as last reported and consumed since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerBudget {
    /// Units available at `at`.
    level: u128,
    at: Instant,
    /// Units the share holds when full.
    capacity: u128,
    /// Units restored per nanosecond (numerically the server's points per second: see the module docs).
    restore: u128,
    /// Units in one point.
    unit: u128,
}

impl ServerBudget {
    /// The share of one of `share` replicas (each gets a `1/share` part of the points and of the restore rate,
    /// since every replica reads the same throttle status). `None` when the status cannot pace anything: no
    /// capacity or no restore rate.
    pub fn new(
        maximum_available: u64,
        currently_available: u64,
        restore_rate: u64,
        share: u32,
        at: Instant,
    ) -> Option<Self> {
        if maximum_available == 0 || restore_rate == 0 {
            return None;
        }
        let share = u128::from(share.max(1));
        // A replica's part of n points is n/share points, which is n × 10⁹ units.
        let capacity = u128::from(maximum_available) * NANOS_PER_SECOND;
        Some(Self {
            level: (u128::from(currently_available) * NANOS_PER_SECOND).min(capacity),
            at,
            capacity,
            restore: u128::from(restore_rate),
            unit: share * NANOS_PER_SECOND,
        })
    }

    fn level_at(&self, now: Instant) -> u128 {
        let elapsed = now.saturating_duration_since(self.at).as_nanos();
        self.level
            .saturating_add(self.restore.saturating_mul(elapsed))
            .min(self.capacity)
    }

    /// When `cost` points will be available, or `None` when they are now. A cost above the share's capacity
    /// waits for a full share (the server may still throttle it; that is then a throttled failure).
    pub fn ready_at(&self, cost: u64, now: Instant) -> Option<Instant> {
        let needed = (u128::from(cost) * self.unit).min(self.capacity);
        let level = self.level_at(now);
        if level >= needed {
            return None;
        }
        let wait = (needed - level).div_ceil(self.restore);
        let wait = Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX));
        Some(now.checked_add(wait).unwrap_or(now))
    }

    /// Spends `cost` points at `now` (the call goes out).
    pub fn take(&mut self, cost: u64, now: Instant) {
        let now = now.max(self.at);
        self.level = self
            .level_at(now)
            .saturating_sub(u128::from(cost) * self.unit);
        self.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_next_query_fits() {
        let t0 = Instant::now();
        // 100 of 1,000 points left, 50 restored per second: a 300-point query fits in 4 s.
        let mut budget = ServerBudget::new(1_000, 100, 50, 1, t0).unwrap();
        assert_eq!(budget.ready_at(100, t0), None);
        assert_eq!(budget.ready_at(300, t0), Some(t0 + Duration::from_secs(4)));
        budget.take(100, t0);
        assert_eq!(budget.ready_at(50, t0), Some(t0 + Duration::from_secs(1)));
        // Never more than the bucket holds.
        assert_eq!(
            budget.ready_at(1_000, t0 + Duration::from_secs(3_600)),
            None
        );
    }

    #[test]
    fn replicas_split_points_and_restore() {
        let t0 = Instant::now();
        // Two replicas: each may use 50 of the 100 points left and 25 of the 50 restored per second.
        let budget = ServerBudget::new(1_000, 100, 50, 2, t0).unwrap();
        assert_eq!(budget.ready_at(50, t0), None);
        assert_eq!(budget.ready_at(100, t0), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn costs_beyond_capacity_wait_for_a_full_share() {
        let t0 = Instant::now();
        let budget = ServerBudget::new(1_000, 0, 100, 1, t0).unwrap();
        assert_eq!(
            budget.ready_at(5_000, t0),
            Some(t0 + Duration::from_secs(10))
        );
        assert!(ServerBudget::new(1_000, 0, 0, 1, t0).is_none());
    }
}
