//! What one replica may do for one operation: the policy's entry for it (or its defaults), with the replica's
//! share of the quota applied. Pure: the policy, the operation's name and the replica count in, limits out.

use std::time::Duration;

use crds::channel::LimitUnit;
use crds::v1alpha1::{
    CircuitBreaker as PolicyBreaker, Jitter, RateLimitPolicySpec, ReplicaSharing,
    RetryPolicy as PolicyRetry, TokenBucket,
};

/// One replica's limits for one connector operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationLimits {
    /// The operation's name as the channel's API names it.
    pub operation: String,
    /// This replica's token bucket; `None` when the policy sets none (no client-side pacing).
    pub bucket: Option<Bucket>,
    /// Most calls in flight at once in this replica (concurrency is per replica, never divided).
    pub concurrency: u32,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    pub follow_server_hints: bool,
    /// How many replicas share a quota the server reports (its rate-limit headers describe the whole seller
    /// account): 1 with `PerReplica`, else the replica count.
    pub hint_share: u32,
}

/// A token bucket: `requests` tokens every `per`, holding at most `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub requests: u32,
    pub per: Duration,
    pub burst: u32,
    pub unit: LimitUnit,
}

impl Bucket {
    /// The time one token takes to come back, rounded up to the nanosecond so that rounding never makes the
    /// client faster than the policy (7 per 1,250 s is one every 178.571428572 s, not ...571 s).
    pub fn period(&self) -> Duration {
        period_nanos(
            u128::from(self.per_nanos()),
            u128::from(self.requests.max(1)),
        )
    }

    fn per_nanos(&self) -> u64 {
        u64::try_from(self.per.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// `total_nanos / count` rounded up, at least one nanosecond, saturating at `u64::MAX` nanoseconds.
pub(crate) fn period_nanos(total_nanos: u128, count: u128) -> Duration {
    let nanos = total_nanos.div_ceil(count.max(1)).max(1);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Retries, with durations as `std::time::Duration` (a negative Kubernetes duration counts as zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; at least one.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: Jitter,
}

impl From<&PolicyRetry> for RetryPolicy {
    fn from(policy: &PolicyRetry) -> Self {
        let initial_backoff = std_duration(policy.initial_backoff);
        Self {
            max_attempts: policy.max_attempts.max(1),
            initial_backoff,
            // A maximum below the initial wait would make the backoff shrink; the initial wait wins.
            max_backoff: std_duration(policy.max_backoff).max(initial_backoff),
            jitter: policy.jitter,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::from(&PolicyRetry::default())
    }
}

/// Circuit breaker settings; counts are at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    pub failure_threshold: u32,
    pub open_for: Duration,
    pub half_open_probes: u32,
}

impl From<&PolicyBreaker> for BreakerPolicy {
    fn from(policy: &PolicyBreaker) -> Self {
        Self {
            failure_threshold: policy.failure_threshold.max(1),
            open_for: std_duration(policy.open_for),
            half_open_probes: policy.half_open_probes.max(1),
        }
    }
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self::from(&PolicyBreaker::default())
    }
}

impl OperationLimits {
    /// The limits of `operation` in one of `replicas` adapter replicas (0 counts as 1).
    ///
    /// A listed operation takes its own token bucket (absent: no pacing, as the API documents) and concurrency,
    /// and falls back to `defaults` for retry, circuit breaker and server hints; an unlisted one takes
    /// `defaults` entirely. With `DivideAmongReplicas` the bucket is this replica's share (see
    /// [`replica_share`]).
    pub fn resolve(spec: &RateLimitPolicySpec, operation: &str, replicas: u32) -> Self {
        let defaults = &spec.defaults;
        let listed = spec.operations.iter().find(|op| op.name == operation);
        let (bucket, concurrency, retry, breaker, follow) = match listed {
            Some(op) => (
                op.token_bucket.as_ref(),
                op.concurrency.unwrap_or(defaults.concurrency),
                op.retry.as_ref().unwrap_or(&defaults.retry),
                op.circuit_breaker
                    .as_ref()
                    .unwrap_or(&defaults.circuit_breaker),
                op.follow_server_hints
                    .unwrap_or(defaults.follow_server_hints),
            ),
            None => (
                defaults.token_bucket.as_ref(),
                defaults.concurrency,
                &defaults.retry,
                &defaults.circuit_breaker,
                defaults.follow_server_hints,
            ),
        };
        let replicas = replicas.max(1);
        Self {
            operation: operation.to_owned(),
            bucket: bucket.map(|b| replica_share(b, replicas, spec.replica_sharing)),
            concurrency: concurrency.max(1),
            retry: RetryPolicy::from(retry),
            breaker: BreakerPolicy::from(breaker),
            follow_server_hints: follow,
            hint_share: match spec.replica_sharing {
                ReplicaSharing::PerReplica => 1,
                ReplicaSharing::DivideAmongReplicas => replicas,
            },
        }
    }
}

/// One replica's bucket. `DivideAmongReplicas`: `requests / replicas` and `burst / replicas`, rounded down, at
/// least one token each, over the same period: the rule `twctl validate` checks (`check_replica_share`), which
/// flags policies where "at least one" would let the replicas together exceed the published quota.
/// `PerReplica`: the bucket as written.
pub fn replica_share(bucket: &TokenBucket, replicas: u32, sharing: ReplicaSharing) -> Bucket {
    let divisor = match sharing {
        ReplicaSharing::PerReplica => 1,
        ReplicaSharing::DivideAmongReplicas => replicas.max(1),
    };
    Bucket {
        requests: (bucket.requests / divisor).max(1),
        per: std_duration(bucket.per),
        burst: (bucket.burst / divisor).max(1),
        unit: bucket.unit,
    }
}

/// A policy duration (Kubernetes `metav1.Duration`, which can be negative) as a `std::time::Duration`; negative
/// counts as zero. Generic: the type is only known through crds, and it orders every negative value below
/// `Duration::ZERO`.
fn std_duration<D>(duration: D) -> Duration
where
    D: PartialOrd<Duration> + Into<Duration>,
{
    if duration < Duration::ZERO {
        Duration::ZERO
    } else {
        duration.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::channel::ChannelKind;
    use crds::v1alpha1::{OperationDefaults, OperationLimits as PolicyOperation};

    fn bucket(requests: u32, per: Duration, burst: u32) -> TokenBucket {
        TokenBucket {
            requests,
            per: per.into(),
            burst,
            unit: LimitUnit::Requests,
        }
    }

    fn spec() -> RateLimitPolicySpec {
        RateLimitPolicySpec {
            channel: ChannelKind::Amazon,
            operations: vec![PolicyOperation {
                name: "patchListingsItem".into(),
                token_bucket: Some(bucket(5, Duration::from_secs(1), 5)),
                concurrency: Some(5),
                retry: None,
                circuit_breaker: None,
                follow_server_hints: Some(false),
            }],
            defaults: OperationDefaults {
                token_bucket: Some(bucket(1, Duration::from_secs(2), 3)),
                retry: PolicyRetry {
                    max_attempts: 7,
                    ..PolicyRetry::default()
                },
                ..OperationDefaults::default()
            },
            replica_sharing: ReplicaSharing::DivideAmongReplicas,
        }
    }

    #[test]
    fn listed_operation_falls_back_to_defaults_per_field() {
        let limits = OperationLimits::resolve(&spec(), "patchListingsItem", 1);
        assert_eq!(limits.bucket.map(|b| (b.requests, b.burst)), Some((5, 5)));
        assert_eq!(limits.concurrency, 5);
        assert_eq!(limits.retry.max_attempts, 7, "retry from defaults");
        assert!(!limits.follow_server_hints, "the operation's own setting");
    }

    #[test]
    fn unlisted_operation_takes_the_defaults() {
        let limits = OperationLimits::resolve(&spec(), "getOrder", 0);
        let bucket = limits.bucket.unwrap();
        assert_eq!(
            (bucket.requests, bucket.per, bucket.burst),
            (1, Duration::from_secs(2), 3)
        );
        assert_eq!(limits.concurrency, 4);
        assert!(limits.follow_server_hints);
        assert_eq!(limits.hint_share, 1, "0 replicas counts as 1");
    }

    #[test]
    fn shares_round_down_but_keep_one_token() {
        let b = bucket(5, Duration::from_secs(1), 10);
        let share = replica_share(&b, 3, ReplicaSharing::DivideAmongReplicas);
        assert_eq!((share.requests, share.burst), (1, 3));
        let share = replica_share(&b, 8, ReplicaSharing::DivideAmongReplicas);
        assert_eq!((share.requests, share.burst), (1, 1));
        let share = replica_share(&b, 3, ReplicaSharing::PerReplica);
        assert_eq!((share.requests, share.burst), (5, 10));
    }

    #[test]
    fn periods_round_up() {
        let search = replica_share(
            &bucket(7, Duration::from_secs(1250), 20),
            1,
            ReplicaSharing::PerReplica,
        );
        assert_eq!(search.period(), Duration::from_nanos(178_571_428_572));
        let zero = replica_share(&bucket(1, Duration::ZERO, 1), 1, ReplicaSharing::PerReplica);
        assert_eq!(zero.period(), Duration::from_nanos(1));
    }

    #[test]
    fn inverted_backoff_bounds_keep_the_initial_wait() {
        let retry = RetryPolicy::from(&PolicyRetry {
            initial_backoff: Duration::from_secs(10).into(),
            max_backoff: Duration::from_secs(1).into(),
            ..PolicyRetry::default()
        });
        assert_eq!(retry.max_backoff, Duration::from_secs(10));
    }
}
