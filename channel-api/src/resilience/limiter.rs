//! The client-side rate limiter of one operation: governor's GCRA for the policy's token bucket, slowed down
//! by what the server says (a `Retry-After` pause, a lower rate, a cost bucket running low).
//!
//! Waiting goes through the injected [`Clock`] instead of governor's own `until_n_ready`, which sleeps on the
//! wall clock: the GCRA is asked with `check_n`, and a "not until" answer becomes a sleep until that instant.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crds::channel::LimitUnit;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{InsufficientCapacity, Quota, RateLimiter};
use thiserror::Error;

use super::budget::ServerBudget;
use super::clock::{Clock, TokioClock};
use super::hints::ServerHint;
use super::limits::{Bucket, OperationLimits};

/// The longest pause a `Retry-After` can impose. A server asking for more (or a value in the wrong unit) gets
/// asked again after this long, instead of stopping the operation indefinitely.
pub const MAX_SERVER_PAUSE: Duration = Duration::from_secs(3_600);

/// Why tokens cannot be had.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum AcquireError {
    /// The call needs more tokens than the bucket ever holds (a Shopify query costlier than this replica's
    /// share of the bucket). Waiting would never help.
    #[error("a call costing {cost} tokens never fits this replica's bucket of {burst}")]
    CostExceedsBurst { cost: u32, burst: u32 },
}

/// Governor reads the time through this, so the GCRA runs on the injected clock.
#[derive(Clone, Debug)]
struct GovernorClock<C>(C);

impl<C: Clock> governor::clock::Clock for GovernorClock<C> {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.now()
    }
}

type Gcra<C> = RateLimiter<NotKeyed, InMemoryState, GovernorClock<C>, NoOpMiddleware<Instant>>;

/// The rate limiter of one operation in one replica. Shared by every task calling the operation.
pub struct Limiter<C: Clock = TokioClock> {
    clock: C,
    bucket: Option<Bucket>,
    follow_server_hints: bool,
    hint_share: u32,
    state: Mutex<State<C>>,
}

struct State<C: Clock> {
    /// The GCRA in force; `None` when nothing paces the operation.
    gcra: Option<Gcra<C>>,
    /// The period `gcra` was built with.
    period: Option<Duration>,
    /// Time per request this replica may use by the server's last stated rate.
    server_period: Option<Duration>,
    /// No call before this instant (the latest `Retry-After`).
    paused_until: Option<Instant>,
    /// The server's cost bucket as last reported (Shopify).
    budget: Option<ServerBudget>,
}

impl<C: Clock> Limiter<C> {
    pub fn new(limits: &OperationLimits, clock: C) -> Self {
        let mut state = State {
            gcra: None,
            period: None,
            server_period: None,
            paused_until: None,
            budget: None,
        };
        let period = limits.bucket.map(|bucket| bucket.period());
        if let Some(period) = period {
            state.gcra = gcra(period, burst(limits.bucket), &clock);
            state.period = Some(period);
        }
        Self {
            clock,
            bucket: limits.bucket,
            follow_server_hints: limits.follow_server_hints,
            hint_share: limits.hint_share.max(1),
            state: Mutex::new(state),
        }
    }

    /// Waits until a call costing `cost` may go out, takes its tokens and returns how long it waited. With
    /// `unit: Requests` a call takes one token whatever its cost; with `CostPoints` it takes `cost` (zero takes
    /// nothing but still respects a server pause). `cost` is always what a server's cost budget is charged.
    pub async fn acquire(&self, cost: u32) -> Result<Duration, AcquireError> {
        let start = self.clock.now();
        loop {
            match self.try_acquire(cost)? {
                Ready::Now(now) => return Ok(now.saturating_duration_since(start)),
                Ready::At(at) => self.clock.sleep_until(at).await,
            }
        }
    }

    /// One look: takes the tokens when the call may go out now, else says when to look again.
    fn try_acquire(&self, cost: u32) -> Result<Ready, AcquireError> {
        let mut state = self.lock();
        let now = self.clock.now();
        if let Some(until) = state.paused_until {
            if now < until {
                return Ok(Ready::At(until));
            }
            state.paused_until = None;
        }
        // The server's budget is only read here and spent after the GCRA agrees, so that a call refused by one
        // never consumes the other.
        if let Some(at) = state.budget.and_then(|b| b.ready_at(u64::from(cost), now)) {
            return Ok(Ready::At(at));
        }
        let tokens = match self.bucket.map(|b| b.unit) {
            Some(LimitUnit::CostPoints) => cost,
            _ => 1,
        };
        if let (Some(gcra), Some(tokens)) = (&state.gcra, NonZeroU32::new(tokens)) {
            match gcra.check_n(tokens) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Ok(Ready::At(not_until.earliest_possible())),
                Err(InsufficientCapacity(burst)) => {
                    return Err(AcquireError::CostExceedsBurst {
                        cost: tokens.get(),
                        burst,
                    });
                }
            }
        }
        if let Some(budget) = &mut state.budget {
            budget.take(u64::from(cost), now);
        }
        Ok(Ready::Now(now))
    }

    /// Applies what the server said, when the policy follows server hints (returns whether it did).
    ///
    /// - `RetryAfter`: no caller of this operation gets tokens before then (at most [`MAX_SERVER_PAUSE`]).
    /// - `RateLimit`: the server's rate for the whole account, divided among the replicas like the policy's
    ///   bucket; when it is slower than the policy, the limiter paces at it, and returns to the policy's rate
    ///   (never faster) when the server says so. A change of rate starts from an empty bucket.
    /// - `ShopifyThrottle`: the next call waits until this replica's share of the server's points covers it.
    pub fn observe(&self, hint: ServerHint) -> bool {
        if !self.follow_server_hints {
            return false;
        }
        let mut state = self.lock();
        let now = self.clock.now();
        match hint {
            ServerHint::RetryAfter(wait) => {
                let until = now.checked_add(wait.min(MAX_SERVER_PAUSE)).unwrap_or(now);
                state.paused_until = state.paused_until.max(Some(until));
            }
            ServerHint::RateLimit {
                requests_per_second,
            } => {
                state.server_period = Some(requests_per_second.period(self.hint_share));
                self.repace(&mut state);
            }
            ServerHint::ShopifyThrottle {
                maximum_available,
                currently_available,
                restore_rate,
            } => {
                state.budget = ServerBudget::new(
                    maximum_available,
                    currently_available,
                    restore_rate,
                    self.hint_share,
                    now,
                );
            }
        }
        true
    }

    /// Rebuilds the GCRA when the slower of the policy's and the server's periods changed. Governor's quota is
    /// fixed per limiter, so a new rate means a new limiter; it starts empty because the server has just said
    /// we were going too fast, and a fresh full burst would be exactly the wrong reaction.
    fn repace(&self, state: &mut State<C>) {
        let policy = self.bucket.map(|bucket| bucket.period());
        let period = match (policy, state.server_period) {
            (Some(policy), Some(server)) => Some(policy.max(server)),
            (policy, server) => policy.or(server),
        };
        if period == state.period {
            return;
        }
        state.period = period;
        let burst = burst(self.bucket);
        state.gcra = period.and_then(|period| gcra(period, burst, &self.clock));
        if let (Some(gcra), Some(burst)) = (&state.gcra, NonZeroU32::new(burst)) {
            // Taking the whole burst at once always succeeds on a new limiter; the result says nothing new.
            let _drained = gcra.check_n(burst);
        }
    }

    /// The time one token takes to come back now (policy or slower server rate); `None` without pacing.
    pub fn period(&self) -> Option<Duration> {
        self.lock().period
    }

    /// Until when a `Retry-After` holds the operation, if it still does.
    pub fn paused_until(&self) -> Option<Instant> {
        let now = self.clock.now();
        self.lock().paused_until.filter(|until| *until > now)
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // Nothing panics while holding the lock; if something ever did, the state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock> fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Limiter")
            .field("bucket", &self.bucket)
            .field("period", &state.period)
            .field("server_period", &state.server_period)
            .field("paused_until", &state.paused_until)
            .field("budget", &state.budget)
            .finish_non_exhaustive()
    }
}

enum Ready {
    Now(Instant),
    At(Instant),
}

/// The bucket's burst (1 when the server alone paces the operation).
fn burst(bucket: Option<Bucket>) -> u32 {
    bucket.map_or(1, |b| b.burst).max(1)
}

/// A GCRA emitting one token per `period`, holding `burst`. The period is capped so that governor's nanosecond
/// arithmetic (period × burst, added to instants) cannot overflow; the cap is decades for any real burst.
fn gcra<C: Clock>(period: Duration, burst: u32, clock: &C) -> Option<Gcra<C>> {
    let burst = NonZeroU32::new(burst.max(1))?;
    let cap = Duration::from_nanos((u64::MAX / 4) / u64::from(burst.get()));
    let quota = Quota::with_period(period.min(cap))?.allow_burst(burst);
    Some(RateLimiter::direct_with_clock(
        quota,
        GovernorClock(clock.clone()),
    ))
}
