//! Time, injected: every part of the resilience layer reads the time and sleeps through a [`Clock`], so tests
//! drive a [`ManualClock`] instead of waiting on the wall clock.
//!
//! Instants are `std::time::Instant` because governor's GCRA accepts them as its reference time, which lets the
//! limiter, the breaker and server pauses share one notion of "now".

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A monotonic clock that can also sleep.
pub trait Clock: Clone + Send + Sync + 'static {
    fn now(&self) -> Instant;

    /// Resolves once [`Clock::now`] has reached `deadline` (at once when it already has).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Resolves after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        let deadline = self.now().checked_add(duration);
        let clock = self.clone();
        async move {
            match deadline {
                Some(deadline) => clock.sleep_until(deadline).await,
                // Beyond what an Instant can hold: practically forever, so never resume.
                None => std::future::pending().await,
            }
        }
    }
}

/// The production clock: tokio's timer (so it also follows tokio's paused time where that is enabled).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline.into())
    }
}

/// A clock that only moves when told to: for tests and simulations.
///
/// Two modes:
/// - [`ManualClock::new`]: sleepers wait until a test calls [`ManualClock::advance`] past their deadline, so a
///   test can check what has and has not happened at each moment, with several tasks waiting at once.
/// - [`ManualClock::auto_advance`]: a sleeper moves the clock straight to its own deadline and resumes. A single
///   task then runs through hours of simulated time instantly and observes exact instants; with several tasks
///   waiting at once, a later deadline also releases the earlier ones (they resume late, never early).
#[derive(Clone, Debug)]
pub struct ManualClock {
    origin: Instant,
    elapsed: Arc<watch::Sender<Duration>>,
    auto_advance: bool,
}

impl ManualClock {
    /// A clock at its origin whose sleepers wait for [`ManualClock::advance`].
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// A clock at its origin whose sleepers advance it to their deadline.
    pub fn auto_advance() -> Self {
        Self::with_mode(true)
    }

    fn with_mode(auto_advance: bool) -> Self {
        Self {
            origin: Instant::now(),
            elapsed: Arc::new(watch::Sender::new(Duration::ZERO)),
            auto_advance,
        }
    }

    /// The instant the clock started at; `now() - origin()` is the simulated time elapsed.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Simulated time since the origin.
    pub fn elapsed(&self) -> Duration {
        *self.elapsed.borrow()
    }

    /// Moves the clock forward and wakes the sleepers whose deadline has come.
    pub fn advance(&self, by: Duration) {
        self.elapsed
            .send_modify(|elapsed| *elapsed = elapsed.saturating_add(by));
    }

    fn advance_to(&self, deadline: Instant) {
        let target = deadline.saturating_duration_since(self.origin);
        self.elapsed.send_if_modified(|elapsed| {
            let later = target > *elapsed;
            if later {
                *elapsed = target;
            }
            later
        });
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        // An Instant holds far more than any simulation advances, so this addition does not overflow in practice;
        // `checked_add` keeps it total anyway.
        self.origin
            .checked_add(self.elapsed())
            .unwrap_or(self.origin)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        let clock = self.clone();
        // Subscribe before the first look at the time, so an advance between the look and the wait is not missed.
        let mut changes = self.elapsed.subscribe();
        async move {
            loop {
                if clock.now() >= deadline {
                    return;
                }
                if clock.auto_advance {
                    clock.advance_to(deadline);
                    return;
                }
                if changes.changed().await.is_err() {
                    // The clock's sender is gone with the last clone; nothing can move time any more.
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn auto_advance_jumps_to_the_deadline() {
        let clock = ManualClock::auto_advance();
        clock.sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(90));
        // A deadline already passed neither waits nor moves the clock back.
        clock.sleep_until(clock.origin()).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(90));
    }

    #[tokio::test]
    async fn manual_sleepers_wait_for_advance() {
        let clock = ManualClock::new();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(3)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(2));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(clock.elapsed(), Duration::from_secs(3));
    }
}
