//! Waits between attempts: exponential from `initialBackoff`, doubling up to `maxBackoff`, randomised by the
//! policy's jitter so that replicas which failed together do not retry together.
//!
//! The random source is a parameter: production passes an OS-seeded generator, tests a seeded one, and the
//! sequence is then reproducible.

use std::time::Duration;

use crds::v1alpha1::Jitter;
use rand::Rng;

use super::limits::RetryPolicy;

/// The waits before each retry of one call: `max_attempts - 1` of them, after which the call is exhausted.
#[derive(Clone, Debug)]
pub struct Backoff<R> {
    /// The un-randomised wait before the next retry.
    base: Duration,
    max: Duration,
    jitter: Jitter,
    retries_left: u32,
    rng: R,
}

impl<R: Rng> Backoff<R> {
    pub fn new(policy: &RetryPolicy, rng: R) -> Self {
        Self {
            base: policy.initial_backoff.min(policy.max_backoff),
            max: policy.max_backoff,
            jitter: policy.jitter,
            retries_left: policy.max_attempts.saturating_sub(1),
            rng,
        }
    }
}

impl<R: Rng> Iterator for Backoff<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retries_left = self.retries_left.checked_sub(1)?;
        let base = self.base;
        self.base = base.saturating_mul(2).min(self.max);
        Some(jittered(base, self.jitter, &mut self.rng))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.retries_left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

/// `base` randomised: `Full` uniformly in `0..=base`, `Equal` in `base/2..=base`, `None` exactly `base`.
pub fn jittered<R: Rng + ?Sized>(base: Duration, jitter: Jitter, rng: &mut R) -> Duration {
    // Backoffs are far below the 584 years a u64 of nanoseconds holds; saturate rather than fail beyond.
    let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX);
    let nanos = match jitter {
        Jitter::None => nanos,
        Jitter::Full => rng.random_range(0..=nanos),
        Jitter::Equal => {
            let half = nanos / 2;
            half + rng.random_range(0..=nanos - half)
        }
    };
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy(max_attempts: u32, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            jitter,
        }
    }

    #[test]
    fn doubles_then_caps_without_jitter() {
        let waits: Vec<_> =
            Backoff::new(&policy(7, Jitter::None), StdRng::seed_from_u64(1)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            waits,
            [
                ms(500),
                ms(1_000),
                ms(2_000),
                ms(4_000),
                ms(5_000),
                ms(5_000)
            ]
        );
    }

    #[test]
    fn one_attempt_means_no_retry() {
        assert_eq!(
            Backoff::new(&policy(1, Jitter::Full), StdRng::seed_from_u64(1)).count(),
            0
        );
    }

    #[test]
    fn same_seed_same_waits() {
        let run = || {
            Backoff::new(&policy(10, Jitter::Full), StdRng::seed_from_u64(42)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn huge_doublings_saturate() {
        let policy = RetryPolicy {
            max_attempts: 100,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::MAX,
            jitter: Jitter::None,
        };
        let last = Backoff::new(&policy, StdRng::seed_from_u64(1)).last();
        assert_eq!(last, Some(Duration::from_nanos(u64::MAX)));
        // Jitter over a wait beyond u64 nanoseconds stays within u64 nanoseconds.
        let wait = jittered(Duration::MAX, Jitter::Equal, &mut StdRng::seed_from_u64(1));
        assert!(wait <= Duration::from_nanos(u64::MAX));
    }
}
