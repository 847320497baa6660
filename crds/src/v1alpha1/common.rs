//! Types shared by several resources: references, conditions, status bookkeeping.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Annotation a user sets (to any new value, usually the current time) to ask for an immediate reconcile, or for
/// a `SyncSchedule`, an immediate run. The handled value is echoed in `status.lastHandledRequestedAt`.
pub const REQUESTED_AT_ANNOTATION: &str = "tradewind.dev/requested-at";

/// The API group of every Tradewind resource.
pub const GROUP: &str = "tradewind.dev";
/// The API version defined by this module.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "tradewind.dev/v1alpha1";

/// A reference to another Tradewind resource in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the referenced resource, in the same namespace as the referring one.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A reference to a Secret in the same namespace. Credentials are only ever read from Secrets; no spec field
/// holds a credential value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret, in the same namespace as the referring resource. The keys it must hold depend on the
    /// channel or connection kind (see docs/channels/ and docs/erp.md).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// One key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret, in the same namespace as the referring resource.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret whose value is used.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// What happens to a resource's JetStream streams and consumers when the resource is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove the durable consumers; keep streams and their messages (dead letters included).
    #[default]
    Retain,
    /// Remove consumers and the streams owned by this resource, with their messages.
    Delete,
}

/// Status fields every Tradewind resource carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// The `metadata.generation` this status describes. Older than the current generation means the operator
    /// has not processed the latest spec yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state, in the Kubernetes condition shape, one entry per `type`. `Ready` is always present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The last value of the `tradewind.dev/requested-at` annotation the operator acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_requested_at: Option<String>,
}

/// Condition types used across resources.
pub mod condition {
    /// The resource does what it is for. Always present.
    pub const READY: &str = "Ready";
    /// Everything the operator renders for the resource was applied.
    pub const SYNCED: &str = "Synced";
    /// Every referenced Secret exists and holds the keys the channel or connection needs.
    pub const CREDENTIALS_FOUND: &str = "CredentialsFound";
    /// Every mapping expression compiled and type-checked.
    pub const MAPPING_VALID: &str = "MappingValid";
    /// The JetStream streams and durable consumers exist.
    pub const STREAMS_READY: &str = "StreamsReady";
    /// The adapter (or ERP bridge) Deployment has its desired available replicas.
    pub const ADAPTER_AVAILABLE: &str = "AdapterAvailable";
    /// Working, but a flow dead-letters or lags beyond its SLO; the reason says which.
    pub const DEGRADED: &str = "Degraded";
    /// Every limit is within the channel's published quota.
    pub const WITHIN_QUOTA: &str = "WithinQuota";
    /// The schedule's cron expression and time zone parse, and its target exists.
    pub const SCHEDULE_VALID: &str = "ScheduleValid";
}

/// Schema of a conditions list: the metav1.Condition shape, merged by `type` (`x-kubernetes-list-type: map`).
fn conditions_schema(generator: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}
