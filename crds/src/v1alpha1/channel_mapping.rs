//! `ChannelMapping`: how canonical records become a channel's fields, and a channel's payloads become canonical
//! records.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::CommonStatus;
use crate::channel::{ChannelKind, Flow};

/// Field mappings between the canonical model and one channel, per flow. Each target field is a CEL expression:
/// over `record` (the canonical record) for outbound flows, over `payload` (the channel's record) for inbound
/// ones, with `maps.<name>` for value maps and `sku(...)` for the SKU cross-reference. Expressions are compiled
/// and type-checked once, when the resource is reconciled.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "ChannelMapping",
    plural = "channelmappings",
    shortname = "twmap",
    category = "tradewind",
    doc = "Field mappings between the canonical model and one sales channel, per flow",
    namespaced,
    status = "ChannelMappingStatus",
    printcolumn(name = "Channel", type_ = "string", json_path = ".spec.channel"),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"MappingValid\")].status"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMappingSpec {
    /// The channel whose field catalogue the target fields (outbound) or source payloads (inbound) belong to.
    pub channel: ChannelKind,
    /// Field mappings per flow; one entry per flow.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["flow".into()]))]
    #[schemars(length(min = 1))]
    pub flows: Vec<FlowMapping>,
    /// Named tables that translate codes (carriers, conditions, units), used in expressions as
    /// `maps.<name>[value]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub value_maps: Vec<ValueMap>,
    /// ERP SKU to channel SKU, for SKUs whose channel SKU differs. Unlisted SKUs are the same on both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["erpSku".into()]))]
    pub sku_cross_reference: Vec<SkuCrossReference>,
}

/// The mapping of one flow.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowMapping {
    /// The flow these fields belong to.
    pub flow: Flow,
    /// One entry per target field.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["target".into()]))]
    #[schemars(length(min = 1))]
    pub fields: Vec<FieldMapping>,
}

/// One target field and the expression that computes it.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMapping {
    /// Dotted path of the field written: in the channel's payload for outbound flows (for example
    /// `fulfillment_availability.quantity`), in the canonical record for inbound flows (for example
    /// `lines.quantity`). Hyphens are allowed for CSV columns such as Mirakl's `offer-sku`.
    #[schemars(
        length(min = 1),
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
    )]
    pub target: String,
    /// CEL expression computing the value, for example `record.available - 2` or `maps.carrier[record.carrier]`.
    #[schemars(length(min = 1, max = 4096))]
    pub expression: String,
    /// Value used when the expression refers to a field the record does not have, as a JSON literal (`0`,
    /// `"EA"`, `true`). Absent: such a record goes to the dead-letter stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A named code table.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.onMissing != 'UseFallback' || has(self.fallback)").message("valueMaps[].fallback is required when onMissing is UseFallback"))]
pub struct ValueMap {
    /// Name used in expressions as `maps.<name>`.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: String,
    /// Source value to target value.
    pub entries: BTreeMap<String, String>,
    /// What a value missing from `entries` becomes.
    #[serde(default)]
    pub on_missing: OnMissing,
    /// The value used with `onMissing: UseFallback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// Behaviour for a value not in a value map.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum OnMissing {
    /// The record goes to the dead-letter stream, naming the map and the value.
    #[default]
    Fail,
    /// The value passes through unchanged.
    PassThrough,
    /// The map's `fallback` is used.
    UseFallback,
}

/// One SKU that differs between ERP and channel.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuCrossReference {
    /// The SKU in the ERP.
    #[schemars(length(min = 1))]
    pub erp_sku: String,
    /// The SKU on the channel.
    #[schemars(length(min = 1))]
    pub channel_sku: String,
}

/// Observed state of a `ChannelMapping`.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMappingStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Every expression that failed to compile or type-check, with where it is. Empty when `MappingValid` is
    /// `True`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MappingError>,
}

/// A mapping expression that does not compile.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingError {
    /// Path of the expression in the spec, for example `spec.flows[0].fields[2].expression`.
    pub field_path: String,
    /// The flow.
    pub flow: Flow,
    /// The target field.
    pub target: String,
    /// What is wrong (the CEL compiler's or type checker's message).
    pub message: String,
}
