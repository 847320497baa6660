//! `RateLimitPolicy`: how fast, how concurrently and how persistently a connector calls each API operation.

use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::CommonStatus;
use crate::channel::{ChannelKind, LimitUnit};

/// Limits for the calls a connector makes to one channel. Referenced by `Marketplace.spec.rateLimitPolicyRef`
/// (and by `ErpConnection.spec.sink.rateLimitPolicyRef` with `channel: rest`, since ERP APIs have limits too).
/// Shipped examples carry each channel's published limits; `twctl validate` rejects limits above them.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "RateLimitPolicy",
    plural = "ratelimitpolicies",
    shortname = "twrl",
    category = "tradewind",
    doc = "Rate limits, concurrency, retries and circuit breakers for the calls to one channel",
    namespaced,
    status = "RateLimitPolicyStatus",
    printcolumn(name = "Channel", type_ = "string", json_path = ".spec.channel"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Used By", type_ = "integer", json_path = ".status.usedBy"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitPolicySpec {
    /// The channel whose API these limits apply to. Operation names are that channel's (see
    /// docs/channels/<channel>.md), and limits are checked against its published quotas.
    pub channel: ChannelKind,
    /// Limits per operation. An operation not listed here uses `defaults`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub operations: Vec<OperationLimits>,
    /// Limits for every operation not listed in `operations`.
    #[serde(default)]
    pub defaults: OperationDefaults,
    /// How a quota is shared when the adapter runs more than one replica. The channel enforces its quota per
    /// seller account, not per pod.
    #[serde(default)]
    pub replica_sharing: ReplicaSharing,
}

/// How a quota is shared between adapter replicas.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum ReplicaSharing {
    /// Each replica gets `rate / replicas` and `burst / replicas` (rounded down, at least one token), so the
    /// replicas together never exceed the quota. Replicas learn their count from the rendered configuration.
    #[default]
    DivideAmongReplicas,
    /// Every replica gets the full limit. Only for channels whose quota is per connection or where one replica
    /// runs.
    PerReplica,
}

/// The limits of one connector operation.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationLimits {
    /// The operation's name as the channel's API names it, for example `patchListingsItem`, `searchOrders`,
    /// `bulkInventoryFeed` or `graphql`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Token bucket for this operation. Absent: no client-side pacing (not recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_bucket: Option<TokenBucket>,
    /// Most calls of this operation in flight at once, per replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub concurrency: Option<u32>,
    /// Retries of failed calls. Absent: `defaults.retry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Circuit breaker. Absent: `defaults.circuitBreaker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Slow down as the server asks (Retry-After, x-amzn-RateLimit-Limit, Shopify throttleStatus). Absent:
    /// `defaults.followServerHints`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_server_hints: Option<bool>,
}

/// Limits applied to operations a policy does not list.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDefaults {
    /// Token bucket for unlisted operations. Absent: no client-side pacing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_bucket: Option<TokenBucket>,
    /// Most calls of one unlisted operation in flight at once, per replica.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 1024))]
    pub concurrency: u32,
    /// Retries of failed calls.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Circuit breaker.
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
    /// Slow down as the server asks (Retry-After and the channel's own rate-limit headers).
    #[serde(default = "default_true")]
    pub follow_server_hints: bool,
}

impl Default for OperationDefaults {
    fn default() -> Self {
        Self {
            token_bucket: None,
            concurrency: default_concurrency(),
            retry: RetryPolicy::default(),
            circuit_breaker: CircuitBreaker::default(),
            follow_server_hints: true,
        }
    }
}

fn default_concurrency() -> u32 {
    4
}

fn default_true() -> bool {
    true
}

/// A token bucket: `requests` tokens are added every `per`, and at most `burst` are held. A call takes one
/// token (or its query cost, with `unit: CostPoints`). Amazon's "0.0056 requests per second" is
/// `requests: 1, per: 179s`: pick a whole count over a period that stays within the published rate.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.burst >= self.requests").message("tokenBucket.burst must be at least tokenBucket.requests"))]
pub struct TokenBucket {
    /// Tokens added every `per`.
    #[schemars(range(min = 1))]
    pub requests: u32,
    /// The refill period, as a Go duration (`1s`, `2m`, `1h`). Default `1s`.
    #[serde(default = "one_second")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub per: Duration,
    /// Most tokens the bucket holds: how many calls may go out back to back after a quiet period.
    #[schemars(range(min = 1))]
    pub burst: u32,
    /// What a token stands for.
    #[serde(default)]
    pub unit: LimitUnit,
}

fn one_second() -> Duration {
    std::time::Duration::from_secs(1).into()
}

/// Retries with exponential backoff and jitter. Only retryable failures are retried (timeouts, 5xx,
/// throttling); a permanent failure goes to the dead-letter stream at once.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first included. After the last, the record goes to the dead-letter stream.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: u32,
    /// Wait before the first retry; doubled at each further retry.
    #[serde(default = "default_initial_backoff")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    #[serde(default = "default_max_backoff")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub max_backoff: Duration,
    /// How the wait is randomised so replicas do not retry in lockstep.
    #[serde(default)]
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: default_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            jitter: Jitter::default(),
        }
    }
}

fn default_attempts() -> u32 {
    5
}
fn default_initial_backoff() -> Duration {
    std::time::Duration::from_millis(500).into()
}
fn default_max_backoff() -> Duration {
    std::time::Duration::from_secs(60).into()
}

/// Randomisation of retry waits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Jitter {
    /// Wait a random time between zero and the backoff.
    #[default]
    Full,
    /// Wait between half the backoff and the backoff.
    Equal,
    /// Wait exactly the backoff.
    None,
}

/// A circuit breaker: after `failureThreshold` consecutive failures the operation is not called for `openFor`,
/// then `halfOpenProbes` calls test whether it recovered. Records wait in JetStream meanwhile.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// Consecutive retryable failures that open the breaker.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1))]
    pub failure_threshold: u32,
    /// How long the breaker stays open before probing.
    #[serde(default = "default_open_for")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub open_for: Duration,
    /// Calls let through while half open; all must succeed to close the breaker.
    #[serde(default = "default_half_open_probes")]
    #[schemars(range(min = 1))]
    pub half_open_probes: u32,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            failure_threshold: default_failure_threshold(),
            open_for: default_open_for(),
            half_open_probes: default_half_open_probes(),
        }
    }
}

fn default_failure_threshold() -> u32 {
    10
}
fn default_open_for() -> Duration {
    std::time::Duration::from_secs(30).into()
}
fn default_half_open_probes() -> u32 {
    1
}

/// Observed state of a `RateLimitPolicy`.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitPolicyStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// How many `Marketplace` and `ErpConnection` resources reference this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<u32>,
}
