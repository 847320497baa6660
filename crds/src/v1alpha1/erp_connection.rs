//! `ErpConnection`: where the ERP's events come from and where orders, returns and settlements go.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, LocalObjectReference, SecretKeySelector};

/// The connection to the ERP, the system of record. The operator runs an ERP bridge Deployment for it that
/// publishes the ERP's events (stock, prices, products, shipments) to JetStream and posts orders, returns and
/// settlements to the ERP exactly once.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "ErpConnection",
    plural = "erpconnections",
    shortname = "twerp",
    category = "tradewind",
    doc = "Where ERP events come from and where orders, returns and settlements go",
    namespaced,
    status = "ErpConnectionStatus",
    printcolumn(name = "Source", type_ = "string", json_path = ".status.sourceKind"),
    printcolumn(name = "Sink", type_ = "string", json_path = ".status.sinkKind"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pending"),
    printcolumn(name = "DLQ", type_ = "integer", json_path = ".status.deadLetters"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ErpConnectionSpec {
    /// Where ERP events come from. Set exactly one member.
    pub source: ErpSource,
    /// Where orders, returns and settlements go. Set exactly one member.
    pub sink: ErpSink,
    /// The ERP bridge Deployment.
    #[serde(default)]
    pub bridge: BridgeSettings,
    /// Pause the bridge: no events are read from the ERP and nothing is posted to it; records wait in JetStream.
    #[serde(default)]
    pub suspend: bool,
}

/// Source of ERP events: exactly one member is set.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.postgresOutbox), has(self.webhook), has(self.nats)].filter(x, x).size() == 1").message("spec.source must set exactly one of postgresOutbox, webhook, nats"))]
pub struct ErpSource {
    /// A transactional outbox table in the ERP's PostgreSQL database (DDL in docs/erp.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_outbox: Option<PostgresOutboxSource>,
    /// The ERP calls a signed webhook on the bridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSource>,
    /// The ERP publishes canonical events to NATS itself; the bridge validates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsSource>,
}

/// A transactional outbox read with `FOR UPDATE SKIP LOCKED`.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostgresOutboxSource {
    /// Secret key holding the PostgreSQL connection string (DSN).
    pub dsn_secret_ref: SecretKeySelector,
    /// Outbox table, optionally schema-qualified.
    #[serde(default = "default_outbox_table")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"))]
    pub table: String,
    /// Most rows claimed and published per transaction.
    #[serde(default = "default_outbox_batch")]
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: u32,
    /// How often the table is read when it was empty (a NOTIFY wakes the bridge sooner).
    #[serde(default = "default_outbox_poll")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub poll_interval: Duration,
}

fn default_outbox_table() -> String {
    "tradewind_outbox".into()
}
fn default_outbox_batch() -> u32 {
    500
}
fn default_outbox_poll() -> Duration {
    std::time::Duration::from_secs(1).into()
}

/// A webhook the ERP calls, signed with HMAC-SHA256 over the timestamp and the body.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSource {
    /// Secret key holding the HMAC key shared with the ERP.
    pub hmac_secret_ref: SecretKeySelector,
    /// HTTP path the bridge serves the webhook on.
    #[serde(default = "default_webhook_path")]
    #[schemars(regex(pattern = "^/"))]
    pub path: String,
    /// Requests whose timestamp is further than this from the bridge's clock are refused (replay protection).
    #[serde(default = "default_max_skew")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub max_clock_skew: Duration,
}

fn default_webhook_path() -> String {
    "/erp/events".into()
}
fn default_max_skew() -> Duration {
    std::time::Duration::from_secs(300).into()
}

/// Canonical events the ERP publishes to NATS itself.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatsSource {
    /// Subject (wildcards allowed) the ERP publishes canonical events on.
    #[schemars(length(min = 1))]
    pub subject: String,
}

/// Sink for orders, returns and settlements: exactly one member is set.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.rest), has(self.postgres), has(self.nats)].filter(x, x).size() == 1").message("spec.sink must set exactly one of rest, postgres, nats"))]
pub struct ErpSink {
    /// The ERP's REST API, called with an idempotency key per order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<RestSink>,
    /// Rows inserted into the ERP's PostgreSQL database; duplicates are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresSink>,
    /// Canonical records published to NATS for the ERP to consume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsSink>,
}

/// The ERP's REST API.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestSink {
    /// Base URL of the ERP API.
    #[schemars(regex(pattern = "^https?://"))]
    pub base_url: String,
    /// Path sales orders are posted to.
    #[serde(default = "default_orders_path")]
    #[schemars(regex(pattern = "^/"))]
    pub orders_path: String,
    /// Path returns are posted to.
    #[serde(default = "default_returns_path")]
    #[schemars(regex(pattern = "^/"))]
    pub returns_path: String,
    /// Path settlements are posted to.
    #[serde(default = "default_settlements_path")]
    #[schemars(regex(pattern = "^/"))]
    pub settlements_path: String,
    /// Secret key holding the API token, sent as `Authorization: Bearer`. Absent: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// Header carrying the idempotency key (the order's message id).
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: String,
    /// Timeout of one request.
    #[serde(default = "default_timeout")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Duration,
    /// Limits for calls to the ERP (a `RateLimitPolicy` with `channel: rest`). Absent: only `concurrency` caps
    /// the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_policy_ref: Option<LocalObjectReference>,
    /// Most requests to the ERP in flight at once, per bridge replica. In a flash sale, orders wait in JetStream
    /// rather than overrun the ERP.
    #[serde(default = "default_sink_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub concurrency: u32,
}

fn default_orders_path() -> String {
    "/sales-orders".into()
}
fn default_returns_path() -> String {
    "/returns".into()
}
fn default_settlements_path() -> String {
    "/settlements".into()
}
fn default_idempotency_header() -> String {
    "Idempotency-Key".into()
}
fn default_timeout() -> Duration {
    std::time::Duration::from_secs(10).into()
}
fn default_sink_concurrency() -> u32 {
    4
}

/// PostgreSQL tables the bridge inserts into.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostgresSink {
    /// Secret key holding the PostgreSQL connection string (DSN).
    pub dsn_secret_ref: SecretKeySelector,
    /// Schema holding the `tradewind_orders`, `tradewind_returns` and `tradewind_settlements` tables.
    #[serde(default = "default_pg_schema")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub schema: String,
    /// Most inserts in flight at once, per bridge replica.
    #[serde(default = "default_sink_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub concurrency: u32,
}

fn default_pg_schema() -> String {
    "public".into()
}

/// NATS subjects the ERP consumes.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatsSink {
    /// Prefix of the subjects orders, returns and settlements are published on (`<prefix>.orders`, ...).
    #[schemars(length(min = 1))]
    pub subject_prefix: String,
}

/// The ERP bridge Deployment.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BridgeSettings {
    /// Number of bridge pods.
    #[serde(default = "default_bridge_replicas")]
    #[schemars(range(min = 0, max = 16))]
    pub replicas: i32,
    /// CPU and memory for the bridge container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        Self {
            replicas: default_bridge_replicas(),
            resources: None,
        }
    }
}

fn default_bridge_replicas() -> i32 {
    1
}

/// Observed state of an `ErpConnection`.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErpConnectionStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The source in use (`postgresOutbox`, `webhook`, `nats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<String>,
    /// The sink in use (`rest`, `postgres`, `nats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink_kind: Option<String>,
    /// Orders, returns and settlements waiting for the ERP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// Records the ERP refused, in the dead-letter stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<u64>,
    /// When an ERP event was last published or a record last posted (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<String>,
    /// Marketplaces that reference this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<u32>,
}
