//! The resilience layer against simulated time: no test sleeps on the wall clock. Limiters run on a
//! `ManualClock`, which either jumps to each sleeper's deadline (`auto_advance`, for one task walking through
//! hours of simulated time) or moves only when the test advances it (for several tasks at once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use channel_api::resilience::backoff::jittered;
use channel_api::resilience::limits::{BreakerPolicy, RetryPolicy};
use channel_api::resilience::{
    AcquireError, Backoff, BreakerState, CircuitBreaker, Clock, Failure, Guard, Limiter,
    ManualClock, OperationLimits, Outcome, Rate, Rejected, Resilience, ServerHint,
    parse_amzn_rate_limit, parse_retry_after,
};
use crds::channel::{ChannelKind, LimitUnit};
use crds::v1alpha1::{
    CircuitBreaker as PolicyBreaker, Jitter, OperationDefaults, OperationLimits as PolicyOperation,
    RateLimitPolicySpec, ReplicaSharing, RetryPolicy as PolicyRetry, TokenBucket,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn bucket(requests: u32, per: Duration, burst: u32, unit: LimitUnit) -> TokenBucket {
    TokenBucket {
        requests,
        per: per.into(),
        burst,
        unit,
    }
}

fn operation(name: &str, token_bucket: TokenBucket) -> PolicyOperation {
    PolicyOperation {
        name: name.into(),
        token_bucket: Some(token_bucket),
        concurrency: None,
        retry: None,
        circuit_breaker: None,
        follow_server_hints: None,
    }
}

fn policy(channel: ChannelKind, operations: Vec<PolicyOperation>) -> RateLimitPolicySpec {
    RateLimitPolicySpec {
        channel,
        operations,
        defaults: OperationDefaults::default(),
        replica_sharing: ReplicaSharing::DivideAmongReplicas,
    }
}

/// patchListingsItem at 5 per second, burst 5.
fn five_per_second() -> RateLimitPolicySpec {
    policy(
        ChannelKind::Amazon,
        vec![operation(
            "patchListingsItem",
            bucket(5, secs(1), 5, LimitUnit::Requests),
        )],
    )
}

fn limits(spec: &RateLimitPolicySpec, op: &str, replicas: u32) -> OperationLimits {
    OperationLimits::resolve(spec, op, replicas)
}

/// The server's side of a quota, exactly (integers only, like the sandboxes): `requests` per `per`, `burst`.
struct ServerBucket {
    requests: u128,
    per_nanos: u128,
    capacity: u128,
    /// Tokens scaled by `per_nanos`.
    scaled: u128,
    last: Duration,
}

impl ServerBucket {
    fn new(requests: u64, per: Duration, burst: u64) -> Self {
        let per_nanos = per.as_nanos();
        Self {
            requests: requests.into(),
            per_nanos,
            capacity: u128::from(burst) * per_nanos,
            scaled: u128::from(burst) * per_nanos,
            last: Duration::ZERO,
        }
    }

    /// Whether a call at `at` (time since the start) is within the quota.
    fn accepts(&mut self, at: Duration) -> bool {
        let elapsed = at.saturating_sub(self.last).as_nanos();
        self.last = self.last.max(at);
        self.scaled = (self.scaled + elapsed * self.requests).min(self.capacity);
        if self.scaled >= self.per_nanos {
            self.scaled -= self.per_nanos;
            true
        } else {
            false
        }
    }
}

/// Acquires one token at a time until simulated `window` has passed; the instants (since the clock's origin)
/// of every call that went out within it.
async fn calls_within<C: Clock>(
    limiter: &Limiter<C>,
    clock: &ManualClock,
    window: Duration,
) -> Vec<Duration> {
    let mut calls = Vec::new();
    loop {
        limiter
            .acquire(1)
            .await
            .expect("a single token always fits");
        let at = clock.elapsed();
        if at > window {
            return calls;
        }
        calls.push(at);
    }
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Rate limiting

#[tokio::test]
async fn burst_then_steady_rate_is_exactly_as_configured() {
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 1),
        clock.clone(),
    );
    let calls = calls_within(&limiter, &clock, secs(10)).await;
    // The burst of 5 at once, then one every 200 ms: 50 more by the end of the 10 s window.
    assert_eq!(calls.len(), 55);
    assert!(calls[..5].iter().all(|at| at.is_zero()));
    for (i, at) in calls[5..].iter().enumerate() {
        assert_eq!(*at, ms(200) * (i as u32 + 1));
    }
}

#[tokio::test]
async fn acquire_reports_how_long_it_waited() {
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 1),
        clock.clone(),
    );
    for _ in 0..5 {
        assert_eq!(limiter.acquire(1).await, Ok(Duration::ZERO));
    }
    assert_eq!(limiter.acquire(1).await, Ok(ms(200)));
}

#[tokio::test]
async fn amazon_search_orders_paces_seven_per_1250_seconds() {
    let spec = policy(
        ChannelKind::Amazon,
        vec![operation(
            "searchOrders",
            bucket(7, secs(1_250), 20, LimitUnit::Requests),
        )],
    );
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(&limits(&spec, "searchOrders", 1), clock.clone());
    let calls = calls_within(&limiter, &clock, secs(6 * 3_600)).await;
    assert!(calls[..20].iter().all(|at| at.is_zero()), "burst of 20");
    // 1,250 s / 7 rounded up to the nanosecond, never down.
    assert_eq!(calls[20], Duration::from_nanos(178_571_428_572));
    // Amazon's published 0.0056/s (56 per 10,000 s), burst 20, never refuses one of them.
    let mut server = ServerBucket::new(56, secs(10_000), 20);
    assert!(calls.iter().all(|at| server.accepts(*at)));
    // And the client uses the quota: 20 + 6 h × 7 / 1,250 s = 20 + 120.96, so 140 calls.
    assert_eq!(calls.len(), 140);
}

#[tokio::test]
async fn replicas_share_the_quota() {
    let spec = five_per_second();
    let share = limits(&spec, "patchListingsItem", 3);
    let bucket = share.bucket.unwrap();
    assert_eq!((bucket.requests, bucket.per, bucket.burst), (1, secs(1), 1));

    // Three replicas calling as fast as their limiters let them, against one seller account's quota.
    let clock = ManualClock::auto_advance();
    let replicas: Vec<_> = (0..3)
        .map(|_| Limiter::new(&share, clock.clone()))
        .collect();
    let mut server = ServerBucket::new(5, secs(1), 5);
    let mut sent = 0;
    'simulation: loop {
        for replica in &replicas {
            replica.acquire(1).await.unwrap();
            if clock.elapsed() > secs(10) {
                break 'simulation;
            }
            assert!(
                server.accepts(clock.elapsed()),
                "throttled at {:?}",
                clock.elapsed()
            );
            sent += 1;
        }
    }
    // 3 at once, then 3 per second: within 5 + 5 × 10.
    assert_eq!(sent, 33);
}

#[tokio::test]
async fn per_replica_sharing_would_exceed_the_quota() {
    let mut spec = five_per_second();
    spec.replica_sharing = ReplicaSharing::PerReplica;
    let full = limits(&spec, "patchListingsItem", 3);
    let clock = ManualClock::auto_advance();
    let replicas: Vec<_> = (0..3).map(|_| Limiter::new(&full, clock.clone())).collect();
    let mut server = ServerBucket::new(5, secs(1), 5);
    let mut refused = 0;
    for _ in 0..20 {
        for replica in &replicas {
            replica.acquire(1).await.unwrap();
            if !server.accepts(clock.elapsed()) {
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "three full quotas overrun one account's quota");
}

#[tokio::test]
async fn cost_points_take_the_query_cost() {
    let spec = policy(
        ChannelKind::Shopify,
        vec![operation(
            "graphql",
            bucket(100, secs(1), 1_000, LimitUnit::CostPoints),
        )],
    );
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(&limits(&spec, "graphql", 1), clock.clone());
    assert_eq!(limiter.acquire(400).await, Ok(Duration::ZERO));
    assert_eq!(limiter.acquire(400).await, Ok(Duration::ZERO));
    // 200 points left, 100 restored per second: 400 more points in 2 s.
    assert_eq!(limiter.acquire(400).await, Ok(secs(2)));
    assert_eq!(
        limiter.acquire(1_001).await,
        Err(AcquireError::CostExceedsBurst {
            cost: 1_001,
            burst: 1_000
        })
    );

    // Two replicas each get 50 points per second and 500 in the bucket.
    let halves = limits(&spec, "graphql", 2).bucket.unwrap();
    assert_eq!((halves.requests, halves.burst), (50, 500));
}

#[tokio::test]
async fn requests_take_one_token_whatever_the_cost() {
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 1),
        clock.clone(),
    );
    for _ in 0..5 {
        assert_eq!(limiter.acquire(250).await, Ok(Duration::ZERO));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Server hints

#[tokio::test]
async fn retry_after_pauses_every_caller() {
    let clock = ManualClock::new();
    let limiter = Arc::new(Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 1),
        clock.clone(),
    ));
    assert!(limiter.observe(ServerHint::RetryAfter(secs(3))));
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire(1).await })
        })
        .collect();
    settle().await;
    clock.advance(ms(2_999));
    settle().await;
    assert!(
        callers.iter().all(|c| !c.is_finished()),
        "nobody before 3 s"
    );
    clock.advance(ms(1));
    for caller in callers {
        assert_eq!(caller.await.unwrap(), Ok(secs(3)));
    }
    assert_eq!(limiter.paused_until(), None);
}

#[tokio::test]
async fn hints_are_ignored_unless_followed() {
    let mut spec = five_per_second();
    spec.operations[0].follow_server_hints = Some(false);
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(&limits(&spec, "patchListingsItem", 1), clock.clone());
    assert!(!limiter.observe(ServerHint::RetryAfter(secs(3))));
    assert_eq!(limiter.acquire(1).await, Ok(Duration::ZERO));
}

#[tokio::test]
async fn amzn_rate_limit_lowers_the_rate() {
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 1),
        clock.clone(),
    );
    assert_eq!(limiter.period(), Some(ms(200)));
    let hint = parse_amzn_rate_limit("0.5").unwrap();
    assert_eq!(
        hint,
        ServerHint::RateLimit {
            requests_per_second: Rate::new(1, 2).unwrap()
        }
    );
    assert!(limiter.observe(hint));
    assert_eq!(limiter.period(), Some(secs(2)));
    // No fresh burst after the server said slow down: one call every 2 s from now.
    let calls = calls_within(&limiter, &clock, secs(10)).await;
    assert_eq!(calls, [secs(2), secs(4), secs(6), secs(8), secs(10)]);

    // A server rate above the policy's never speeds the client past the policy.
    limiter.observe(parse_amzn_rate_limit("10").unwrap());
    assert_eq!(limiter.period(), Some(ms(200)));
}

#[tokio::test]
async fn amzn_rate_limit_is_divided_among_replicas() {
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(
        &limits(&five_per_second(), "patchListingsItem", 2),
        clock.clone(),
    );
    // Two replicas: 2/s each by the policy's share; the account's 1/s becomes 0.5/s each.
    assert_eq!(limiter.period(), Some(ms(500)));
    limiter.observe(parse_amzn_rate_limit("1.0").unwrap());
    assert_eq!(limiter.period(), Some(secs(2)));
}

#[tokio::test]
async fn amazon_decimal_rates_parse_exactly() {
    let Some(ServerHint::RateLimit {
        requests_per_second,
    }) = parse_amzn_rate_limit("0.0056")
    else {
        panic!("a rate")
    };
    assert_eq!(
        (
            requests_per_second.requests(),
            requests_per_second.per_seconds()
        ),
        (7, 1_250)
    );
    assert_eq!(parse_amzn_rate_limit("fast"), None);
}

#[tokio::test]
async fn shopify_throttle_status_paces_the_next_query() {
    let spec = policy(
        ChannelKind::Shopify,
        vec![operation(
            "graphql",
            bucket(100, secs(1), 1_000, LimitUnit::CostPoints),
        )],
    );
    let clock = ManualClock::auto_advance();
    let limiter = Limiter::new(&limits(&spec, "graphql", 1), clock.clone());
    // Our bucket is full, but the server says only 100 of 1,000 points are left, restoring 50 per second.
    limiter.observe(ServerHint::ShopifyThrottle {
        maximum_available: 1_000,
        currently_available: 100,
        restore_rate: 50,
    });
    assert_eq!(limiter.acquire(300).await, Ok(secs(4)));
    // That query spent the server's points too: the next 100 take another 2 s.
    assert_eq!(limiter.acquire(100).await, Ok(secs(2)));
}

#[test]
fn retry_after_parses_both_forms() {
    let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 120); // 2 minutes before the RFC's example date
    assert_eq!(parse_retry_after("3", now), Some(secs(3)));
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(secs(120))
    );
    assert_eq!(parse_retry_after("later", SystemTime::now()), None);
}

// ---------------------------------------------------------------------------------------------------------
// Backoff

#[test]
fn backoff_sequences_with_seeded_jitter_stay_within_bounds() {
    let retry = |jitter| RetryPolicy {
        max_attempts: 12,
        initial_backoff: ms(500),
        max_backoff: secs(60),
        jitter,
    };
    let bases: Vec<Duration> =
        Backoff::new(&retry(Jitter::None), StdRng::seed_from_u64(0)).collect();
    let expected: Vec<Duration> = [
        500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000,
    ]
    .into_iter()
    .map(ms)
    .collect();
    assert_eq!(bases, expected, "doubling, capped at maxBackoff");

    for seed in 0..100 {
        let full: Vec<_> =
            Backoff::new(&retry(Jitter::Full), StdRng::seed_from_u64(seed)).collect();
        let equal: Vec<_> =
            Backoff::new(&retry(Jitter::Equal), StdRng::seed_from_u64(seed)).collect();
        assert_eq!(full.len(), 11);
        for ((full, equal), base) in full.iter().zip(&equal).zip(&bases) {
            assert!(*full <= *base, "full jitter {full:?} above {base:?}");
            assert!(
                *equal >= *base / 2 && *equal <= *base,
                "equal jitter {equal:?} for {base:?}"
            );
        }
        // Reproducible from the seed.
        let again: Vec<_> =
            Backoff::new(&retry(Jitter::Full), StdRng::seed_from_u64(seed)).collect();
        assert_eq!(full, again);
    }
    // Full jitter does spread: over many draws some waits are below half the base.
    let mut rng = StdRng::seed_from_u64(7);
    assert!((0..100).any(|_| jittered(secs(10), Jitter::Full, &mut rng) < secs(5)));
}

// ---------------------------------------------------------------------------------------------------------
// Circuit breaker

fn breaker_policy() -> BreakerPolicy {
    BreakerPolicy {
        failure_threshold: 3,
        open_for: secs(30),
        half_open_probes: 2,
    }
}

#[test]
fn breaker_opens_probes_and_closes() {
    let t0 = Instant::now();
    let mut breaker = CircuitBreaker::new(breaker_policy());
    for _ in 0..2 {
        let ticket = breaker.admit(t0).unwrap();
        breaker.failed(ticket, t0);
    }
    assert_eq!(breaker.state(t0), BreakerState::Closed);
    let ticket = breaker.admit(t0).unwrap();
    breaker.failed(ticket, t0);
    assert_eq!(breaker.state(t0), BreakerState::Open);
    assert_eq!(breaker.state(t0).gauge(), 2);

    // Open: refused, saying until when.
    let t10 = t0 + secs(10);
    assert_eq!(
        breaker.admit(t10),
        Err(Rejected::Open {
            until: t0 + secs(30),
            remaining: secs(20)
        })
    );

    // After openFor: two probes pass, a third waits for them.
    let t30 = t0 + secs(30);
    assert_eq!(breaker.state(t30).gauge(), 1);
    let first = breaker.admit(t30).unwrap();
    let second = breaker.admit(t30).unwrap();
    assert_eq!(breaker.admit(t30), Err(Rejected::Probing { probes: 2 }));
    breaker.succeeded(first);
    assert_eq!(breaker.state(t30), BreakerState::HalfOpen);
    breaker.succeeded(second);
    assert_eq!(breaker.state(t30), BreakerState::Closed);
    assert_eq!(breaker.state(t30).gauge(), 0);
}

#[test]
fn a_failed_probe_opens_the_breaker_again() {
    let t0 = Instant::now();
    let mut breaker = CircuitBreaker::new(breaker_policy());
    for _ in 0..3 {
        let ticket = breaker.admit(t0).unwrap();
        breaker.failed(ticket, t0);
    }
    let t30 = t0 + secs(30);
    let good = breaker.admit(t30).unwrap();
    let bad = breaker.admit(t30).unwrap();
    breaker.succeeded(good);
    breaker.failed(bad, t30);
    assert_eq!(breaker.state(t30), BreakerState::Open);
    // Open for another full openFor from the failed probe.
    assert_eq!(breaker.state(t30 + secs(29)), BreakerState::Open);
    assert_eq!(breaker.state(t30 + secs(30)), BreakerState::HalfOpen);
}

// ---------------------------------------------------------------------------------------------------------
// The guard

/// An operation without pacing, with the given retry and breaker settings, concurrency 1.
fn guarded(
    max_attempts: u32,
    jitter: Jitter,
    failure_threshold: u32,
    clock: ManualClock,
) -> Guard<ManualClock> {
    let mut spec = policy(ChannelKind::Walmart, vec![]);
    spec.defaults.concurrency = 1;
    spec.defaults.retry = PolicyRetry {
        max_attempts,
        initial_backoff: ms(500).into(),
        max_backoff: secs(60).into(),
        jitter,
    };
    spec.defaults.circuit_breaker = PolicyBreaker {
        failure_threshold,
        open_for: secs(30).into(),
        half_open_probes: 1,
    };
    Guard::with_clock(&limits(&spec, "updatePrice", 1), clock).with_seed(11)
}

#[derive(Debug, PartialEq)]
struct CallError(&'static str);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[tokio::test]
async fn a_permanent_error_is_not_retried() {
    let guard = guarded(5, Jitter::None, 10, ManualClock::auto_advance());
    let calls = AtomicU32::new(0);
    let outcome = guard
        .run(1, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Failure::Permanent(CallError("400 invalid SKU")))
        })
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let Err(outcome) = outcome else {
        panic!("failed")
    };
    assert!(matches!(outcome, Outcome::Permanent { attempts: 1, .. }));
    assert!(outcome.is_dead_letter());
    assert_eq!(guard.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn retries_are_exhausted_after_max_attempts() {
    let clock = ManualClock::auto_advance();
    let guard = guarded(5, Jitter::None, 10, clock.clone());
    let calls = AtomicU32::new(0);
    let outcome = guard
        .run(1, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Failure::Retryable(CallError("503")))
        })
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let Err(Outcome::Exhausted { last, attempts }) = outcome else {
        panic!("exhausted")
    };
    assert_eq!((last, attempts), (CallError("503"), 5));
    // Waited 0.5 + 1 + 2 + 4 s between the five attempts.
    assert_eq!(clock.elapsed(), ms(7_500));
    let stats = guard.stats();
    assert_eq!((stats.attempts, stats.retries, stats.exhausted), (5, 4, 1));
}

#[tokio::test]
async fn a_retry_succeeds() {
    let guard = guarded(5, Jitter::Full, 10, ManualClock::auto_advance());
    let calls = AtomicU32::new(0);
    let outcome = guard
        .run(1, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Failure::Retryable(CallError("timeout"))),
                _ => Ok("done"),
            }
        })
        .await;
    assert_eq!(outcome.ok(), Some("done"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_throttled_call_waits_for_retry_after() {
    let clock = ManualClock::auto_advance();
    let guard = guarded(5, Jitter::None, 1, clock.clone());
    let calls = AtomicU32::new(0);
    let outcome = guard
        .run(1, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Failure::Throttled {
                    error: CallError("429"),
                    hint: Some(ServerHint::RetryAfter(secs(3))),
                }),
                _ => Ok(()),
            }
        })
        .await;
    assert!(outcome.is_ok());
    // The server's 3 s, not the 0.5 s backoff, and throttling did not trip a breaker with threshold 1.
    assert_eq!(clock.elapsed(), secs(3));
    assert_eq!(guard.breaker_state(), BreakerState::Closed);
    assert_eq!(guard.stats().throttled, 1);
}

#[tokio::test]
async fn an_open_breaker_rejects_without_calling() {
    let clock = ManualClock::auto_advance();
    let guard = guarded(1, Jitter::None, 2, clock.clone());
    let calls = AtomicU32::new(0);
    let failing = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(Failure::Retryable(CallError("503")))
    };
    for _ in 0..2 {
        let outcome = guard.run(1, failing).await;
        assert!(matches!(outcome, Err(Outcome::Exhausted { .. })));
    }
    assert_eq!(guard.breaker_state().gauge(), 2);
    let outcome = guard.run(1, failing).await;
    let Err(outcome) = outcome else {
        panic!("rejected")
    };
    assert!(matches!(
        outcome,
        Outcome::CircuitOpen {
            rejected: Rejected::Open { remaining, .. },
            attempts: 0,
            ..
        } if remaining == secs(30)
    ));
    assert!(!outcome.is_dead_letter(), "the record waits in JetStream");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // After openFor a successful probe closes it.
    clock.advance(secs(30));
    assert_eq!(guard.breaker_state().gauge(), 1);
    assert!(
        guard
            .run(1, || async { Ok::<_, Failure<CallError>>(()) })
            .await
            .is_ok()
    );
    assert_eq!(guard.breaker_state().gauge(), 0);
}

#[tokio::test]
async fn a_poison_message_does_not_block_the_next() {
    let clock = ManualClock::new();
    let guard = Arc::new(guarded(3, Jitter::None, 10, clock.clone()));
    // Concurrency 1: the poison message fails and backs off; the next message must still get through.
    let poison = tokio::spawn({
        let guard = Arc::clone(&guard);
        async move {
            guard
                .run(1, || async {
                    Err::<(), _>(Failure::Retryable(CallError("500 on this payload")))
                })
                .await
        }
    });
    settle().await;
    assert_eq!(
        guard.stats().retries,
        1,
        "the poison message is backing off"
    );
    let next = guard
        .run(1, || async { Ok::<_, Failure<CallError>>("sent") })
        .await;
    assert_eq!(next.ok(), Some("sent"));
    assert!(!poison.is_finished());
    // Its retries run out in bounded time, and it ends up for the dead-letter stream.
    clock.advance(ms(500));
    settle().await;
    clock.advance(secs(1));
    let outcome = poison.await.unwrap();
    assert!(matches!(
        outcome,
        Err(Outcome::Exhausted { attempts: 3, .. })
    ));
}

#[tokio::test]
async fn a_call_costlier_than_the_bucket_is_rejected() {
    let spec = policy(
        ChannelKind::Shopify,
        vec![operation(
            "graphql",
            bucket(100, secs(1), 1_000, LimitUnit::CostPoints),
        )],
    );
    let guard = Guard::with_clock(&limits(&spec, "graphql", 4), ManualClock::auto_advance());
    let outcome = guard
        .run(300, || async { Ok::<_, Failure<CallError>>(()) })
        .await;
    let Err(outcome) = outcome else {
        panic!("too costly for a quarter of the bucket")
    };
    assert!(matches!(
        outcome,
        Outcome::TooCostly(AcquireError::CostExceedsBurst {
            cost: 300,
            burst: 250
        })
    ));
    assert!(outcome.is_dead_letter());
}

#[tokio::test]
async fn the_registry_shares_one_guard_per_operation() {
    let resilience =
        Resilience::with_clock(five_per_second(), 1, ManualClock::auto_advance()).with_seed(3);
    let a = resilience.guard("patchListingsItem");
    let b = resilience.guard("patchListingsItem");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.limiter().period(), Some(ms(200)));
    // An operation the policy does not list takes the defaults: no token bucket there.
    let other = resilience.guard("getListingsItem");
    assert_eq!(other.limiter().period(), None);
    assert_eq!(resilience.guards().len(), 2);
}
