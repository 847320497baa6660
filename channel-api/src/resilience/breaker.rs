//! The circuit breaker of one operation: after `failureThreshold` consecutive retryable failures the operation
//! is not called for `openFor`; then `halfOpenProbes` calls test it: all succeed, it closes; one fails, it
//! opens again. Records wait in JetStream meanwhile.
//!
//! A pure state machine: every method takes the current instant, so tests step through time without a clock.
//! Each admitted call holds a [`Ticket`] naming the breaker's generation (bumped at every transition); results
//! of calls admitted before a transition are ignored, so a slow call that fails after the breaker opened does
//! not extend the open period, and one that succeeds does not count as a probe.

use std::time::{Duration, Instant};

use thiserror::Error;

use super::limits::BreakerPolicy;

/// The state, for a gauge: 0 closed, 1 half-open, 2 open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Open => "open",
        }
    }

    pub fn gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

/// Why the breaker refused a call.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Rejected {
    /// Open: no call before `until`.
    #[error("circuit open for another {remaining:?}")]
    Open { until: Instant, remaining: Duration },
    /// Half-open and every probe is already in flight; the outcome is known when they return.
    #[error("circuit half-open: all {probes} probe call(s) are in flight")]
    Probing { probes: u32 },
}

/// Admission of one call; hand it back with the call's result.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "report the call's result with the ticket"]
pub struct Ticket {
    generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    phase: Phase,
    generation: u64,
}

impl CircuitBreaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            phase: Phase::Closed { failures: 0 },
            generation: 0,
        }
    }

    /// The state a call arriving at `now` meets (open past its `until` already counts as half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call at `now` would be refused, without admitting it.
    pub fn check(&self, now: Instant) -> Result<(), Rejected> {
        match self.phase {
            Phase::Open { until } if now < until => Err(Rejected::Open {
                until,
                remaining: until - now,
            }),
            Phase::HalfOpen { admitted, .. } if admitted >= self.policy.half_open_probes => {
                Err(Rejected::Probing {
                    probes: self.policy.half_open_probes,
                })
            }
            _ => Ok(()),
        }
    }

    /// Admits a call at `now`, or says why not.
    pub fn admit(&mut self, now: Instant) -> Result<Ticket, Rejected> {
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            self.enter(Phase::HalfOpen {
                admitted: 0,
                succeeded: 0,
            });
        }
        self.check(now)?;
        if let Phase::HalfOpen { admitted, .. } = &mut self.phase {
            *admitted += 1;
        }
        Ok(Ticket {
            generation: self.generation,
        })
    }

    /// The admitted call succeeded.
    pub fn succeeded(&mut self, ticket: Ticket) {
        if ticket.generation != self.generation {
            return;
        }
        match &mut self.phase {
            Phase::Closed { failures } => *failures = 0,
            Phase::HalfOpen { succeeded, .. } => {
                *succeeded += 1;
                if *succeeded >= self.policy.half_open_probes {
                    self.enter(Phase::Closed { failures: 0 });
                }
            }
            Phase::Open { .. } => {}
        }
    }

    /// The admitted call failed in a way that says the operation is unhealthy (a retryable failure).
    pub fn failed(&mut self, ticket: Ticket, now: Instant) {
        if ticket.generation != self.generation {
            return;
        }
        match &mut self.phase {
            Phase::Closed { failures } => {
                *failures += 1;
                if *failures >= self.policy.failure_threshold {
                    self.open(now);
                }
            }
            Phase::HalfOpen { .. } => self.open(now),
            Phase::Open { .. } => {}
        }
    }

    /// The admitted call ended in a way that says nothing about the operation's health (throttled: the server
    /// is up and asks us to slow down; permanent: the request was bad). A probe slot is freed for another call.
    pub fn released(&mut self, ticket: Ticket) {
        if ticket.generation != self.generation {
            return;
        }
        if let Phase::HalfOpen { admitted, .. } = &mut self.phase {
            *admitted = admitted.saturating_sub(1);
        }
    }

    fn open(&mut self, now: Instant) {
        // An open period beyond what an Instant holds is "a very long time"; a year stands in for it.
        let until = now
            .checked_add(self.policy.open_for)
            .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
            .unwrap_or(now);
        self.enter(Phase::Open { until });
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, probes: u32) -> CircuitBreaker {
        CircuitBreaker::new(BreakerPolicy {
            failure_threshold: threshold,
            open_for: Duration::from_secs(30),
            half_open_probes: probes,
        })
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = breaker(3, 1);
        for _ in 0..2 {
            let ticket = b.admit(t0).unwrap();
            b.failed(ticket, t0);
        }
        let ticket = b.admit(t0).unwrap();
        b.succeeded(ticket);
        for _ in 0..2 {
            let ticket = b.admit(t0).unwrap();
            b.failed(ticket, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn late_results_of_earlier_calls_are_ignored() {
        let t0 = Instant::now();
        let mut b = breaker(1, 1);
        let slow = b.admit(t0).unwrap();
        let fast = b.admit(t0).unwrap();
        b.failed(fast, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        // The slow call fails later: the breaker stays open until t0 + 30 s, not later.
        b.failed(slow, t0 + Duration::from_secs(10));
        let t30 = t0 + Duration::from_secs(30);
        assert_eq!(b.state(t30), BreakerState::HalfOpen);
    }

    #[test]
    fn neutral_results_free_probe_slots() {
        let t0 = Instant::now();
        let mut b = breaker(1, 1);
        let ticket = b.admit(t0).unwrap();
        b.failed(ticket, t0);
        let t30 = t0 + Duration::from_secs(30);
        let probe = b.admit(t30).unwrap();
        assert_eq!(b.admit(t30), Err(Rejected::Probing { probes: 1 }));
        b.released(probe);
        let probe = b.admit(t30).unwrap();
        b.succeeded(probe);
        assert_eq!(b.state(t30), BreakerState::Closed);
    }
}
