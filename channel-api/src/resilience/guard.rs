//! The façade a connector call goes through: concurrency slot, tokens, circuit breaker, the call, and retries
//! of retryable failures with backoff. One [`Guard`] per operation, shared by every task calling it.
//!
//! A poison message never blocks the messages behind it: a permanent failure returns at once (the caller
//! dead-letters it), retries are bounded by `maxAttempts` and `maxBackoff`, and a call waiting out its backoff
//! holds no concurrency slot, so other messages keep flowing while it waits.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use thiserror::Error;
use tokio::sync::Semaphore;

use super::backoff::Backoff;
use super::breaker::{BreakerState, CircuitBreaker, Rejected, Ticket};
use super::clock::{Clock, TokioClock};
use super::hints::ServerHint;
use super::limiter::{AcquireError, Limiter};
use super::limits::{OperationLimits, RetryPolicy};

/// How a connector reports a failed call. Connectors classify; the guard decides what follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure<E> {
    /// Worth trying again: timeouts, connection errors, 5xx. Counts towards the circuit breaker.
    Retryable(E),
    /// The server refused for rate (429, Shopify `THROTTLED`), with what it said about its limits. Retried
    /// after the backoff and the hint; not counted by the breaker, since the server is up.
    Throttled { error: E, hint: Option<ServerHint> },
    /// Trying again cannot help (4xx other than 429, a payload the channel rejects): not retried, not counted
    /// by the breaker. The record goes to the dead-letter stream.
    Permanent(E),
}

impl<E> Failure<E> {
    /// The same failure with its error turned into another type.
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Failure<F> {
        match self {
            Failure::Retryable(e) => Failure::Retryable(f(e)),
            Failure::Throttled { error, hint } => Failure::Throttled {
                error: f(error),
                hint,
            },
            Failure::Permanent(e) => Failure::Permanent(f(e)),
        }
    }
}

/// Why a guarded call did not succeed, and so what the caller does with the record.
#[derive(Debug, Error)]
pub enum Outcome<E> {
    /// Dead-letter now.
    #[error("permanent failure (attempt {attempts}): {error}")]
    Permanent { error: E, attempts: u32 },
    /// Every attempt failed: dead-letter with the last error.
    #[error("exhausted after {attempts} attempts: {last}")]
    Exhausted { last: E, attempts: u32 },
    /// The breaker refused the call: leave the record in JetStream and redeliver later.
    #[error("{rejected} (after {attempts} attempt(s))")]
    CircuitOpen {
        rejected: Rejected,
        attempts: u32,
        last: Option<E>,
    },
    /// The call costs more than the bucket ever holds: no wait can help, dead-letter.
    #[error(transparent)]
    TooCostly(AcquireError),
}

impl<E> Outcome<E> {
    /// Attempts made, the failed ones included.
    pub fn attempts(&self) -> u32 {
        match self {
            Outcome::Permanent { attempts, .. }
            | Outcome::Exhausted { attempts, .. }
            | Outcome::CircuitOpen { attempts, .. } => *attempts,
            Outcome::TooCostly(_) => 0,
        }
    }

    /// True when the record belongs in the dead-letter stream; false when it should be redelivered later.
    pub fn is_dead_letter(&self) -> bool {
        !matches!(self, Outcome::CircuitOpen { .. })
    }
}

/// Counters since the guard was made, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// `run` invocations.
    pub calls: u64,
    /// Calls that went out (first attempts and retries).
    pub attempts: u64,
    pub retries: u64,
    pub successes: u64,
    pub throttled: u64,
    pub permanent: u64,
    pub exhausted: u64,
    /// Refused by the circuit breaker.
    pub rejected: u64,
    /// Time spent waiting for tokens, in all.
    pub waited: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    successes: AtomicU64,
    throttled: AtomicU64,
    permanent: AtomicU64,
    exhausted: AtomicU64,
    rejected: AtomicU64,
    waited_nanos: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Rate limiter, concurrency cap, circuit breaker and retry policy of one operation in one replica.
#[derive(Debug)]
pub struct Guard<C: Clock = TokioClock> {
    operation: String,
    clock: C,
    limiter: Limiter<C>,
    breaker: Mutex<CircuitBreaker>,
    slots: Semaphore,
    retry: RetryPolicy,
    /// Seeds each call's backoff; one seed makes a whole run reproducible.
    rng: Mutex<StdRng>,
    counters: Counters,
}

impl Guard<TokioClock> {
    pub fn new(limits: &OperationLimits) -> Self {
        Self::with_clock(limits, TokioClock)
    }
}

impl<C: Clock> Guard<C> {
    pub fn with_clock(limits: &OperationLimits, clock: C) -> Self {
        Self {
            operation: limits.operation.clone(),
            limiter: Limiter::new(limits, clock.clone()),
            clock,
            breaker: Mutex::new(CircuitBreaker::new(limits.breaker)),
            slots: Semaphore::new(usize::try_from(limits.concurrency.max(1)).unwrap_or(1)),
            retry: limits.retry,
            rng: Mutex::new(StdRng::from_rng(&mut rand::rng())),
            counters: Counters::default(),
        }
    }

    /// Makes the backoff jitter reproducible.
    pub fn with_seed(self, seed: u64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            ..self
        }
    }

    pub fn operation(&self) -> &str {
        &self.operation
    }

    pub fn limiter(&self) -> &Limiter<C> {
        &self.limiter
    }

    /// Runs `call` under the operation's limits: waits for a concurrency slot and `cost` tokens, asks the
    /// breaker, calls, and retries retryable and throttled failures after the backoff (and any server pause)
    /// until `maxAttempts`. A `Throttled` failure's hint is applied first, as [`Guard::observe`] does.
    pub async fn run<T, E, F, Fut>(&self, cost: u32, mut call: F) -> Result<T, Outcome<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        bump(&self.counters.calls);
        let mut backoff = Backoff::new(&self.retry, self.backoff_rng());
        let mut attempts = 0;
        let mut last = None;
        loop {
            // Refuse at once while open, before queueing for a slot or spending tokens.
            let checked = self.breaker().check(self.clock.now());
            if let Err(rejected) = checked {
                return Err(self.rejected(rejected, attempts, last));
            }
            // The slot is held for the call only, never across the backoff below.
            let slot = self.slots.acquire().await.ok();
            let waited = match self.limiter.acquire(cost).await {
                Ok(waited) => waited,
                Err(too_costly) => return Err(Outcome::TooCostly(too_costly)),
            };
            self.record_wait(waited);
            // Asked again after the waits, so the call goes out only if the breaker still allows it now.
            let admitted = self.breaker().admit(self.clock.now());
            let ticket = match admitted {
                Ok(ticket) => ticket,
                Err(rejected) => return Err(self.rejected(rejected, attempts, last)),
            };
            attempts += 1;
            bump(&self.counters.attempts);
            let result = call().await;
            drop(slot);
            let error = match result {
                Ok(value) => {
                    self.settle(ticket, Settle::Success);
                    bump(&self.counters.successes);
                    return Ok(value);
                }
                Err(Failure::Permanent(error)) => {
                    self.settle(ticket, Settle::Neutral);
                    bump(&self.counters.permanent);
                    return Err(Outcome::Permanent { error, attempts });
                }
                Err(Failure::Retryable(error)) => {
                    self.settle(ticket, Settle::Failure);
                    error
                }
                Err(Failure::Throttled { error, hint }) => {
                    self.settle(ticket, Settle::Neutral);
                    bump(&self.counters.throttled);
                    if let Some(hint) = hint {
                        self.observe(hint);
                    }
                    error
                }
            };
            let Some(wait) = backoff.next() else {
                bump(&self.counters.exhausted);
                tracing::debug!(operation = %self.operation, attempts, "retries exhausted");
                return Err(Outcome::Exhausted {
                    last: error,
                    attempts,
                });
            };
            last = Some(error);
            bump(&self.counters.retries);
            tracing::debug!(operation = %self.operation, attempts, ?wait, "retrying after backoff");
            self.clock.sleep(wait).await;
        }
    }

    /// Applies a server hint from any response (connectors pass up the headers of successful calls too). Returns
    /// false when the policy does not follow server hints.
    pub fn observe(&self, hint: ServerHint) -> bool {
        self.limiter.observe(hint)
    }

    /// The breaker's state now, for the gauge (`BreakerState::gauge`).
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker().state(self.clock.now())
    }

    pub fn stats(&self) -> GuardStats {
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        GuardStats {
            calls: load(&c.calls),
            attempts: load(&c.attempts),
            retries: load(&c.retries),
            successes: load(&c.successes),
            throttled: load(&c.throttled),
            permanent: load(&c.permanent),
            exhausted: load(&c.exhausted),
            rejected: load(&c.rejected),
            waited: Duration::from_nanos(load(&c.waited_nanos)),
        }
    }

    fn rejected<E>(&self, rejected: Rejected, attempts: u32, last: Option<E>) -> Outcome<E> {
        bump(&self.counters.rejected);
        Outcome::CircuitOpen {
            rejected,
            attempts,
            last,
        }
    }

    fn record_wait(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.counters
            .waited_nanos
            .fetch_add(nanos, Ordering::Relaxed);
    }

    /// Reports a call's result to the breaker, logging transitions.
    fn settle(&self, ticket: Ticket, result: Settle) {
        let now = self.clock.now();
        let mut breaker = self.breaker();
        let before = breaker.state(now);
        match result {
            Settle::Success => breaker.succeeded(ticket),
            Settle::Failure => breaker.failed(ticket, now),
            Settle::Neutral => breaker.released(ticket),
        }
        let after = breaker.state(now);
        drop(breaker);
        if before != after {
            match after {
                BreakerState::Open => {
                    tracing::warn!(operation = %self.operation, "circuit breaker opened");
                }
                BreakerState::Closed => {
                    tracing::info!(operation = %self.operation, "circuit breaker closed");
                }
                BreakerState::HalfOpen => {}
            }
        }
    }

    fn backoff_rng(&self) -> StdRng {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        StdRng::from_rng(&mut *rng)
    }

    fn breaker(&self) -> MutexGuard<'_, CircuitBreaker> {
        // Nothing panics while holding the lock; if something ever did, the breaker is still consistent.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

enum Settle {
    Success,
    Failure,
    Neutral,
}
