//! The JetStream streams and durable consumers a `Marketplace` needs, from `adapter_runtime::topology`: the same
//! definitions the adapter ensures at start, so that the operator can provision them ahead, report them in
//! status and remove them on deletion.

use adapter_runtime::topology::{ConsumerDef, Namespace, StreamDef};
use crds::channel::{Direction, Flow};
use crds::v1alpha1::MarketplaceSpec;
use serde::Serialize;

/// Messages delivered and not yet acknowledged per consumer, as the adapter sets it.
pub const MAX_ACK_PENDING: i64 = 1_000;

/// Streams and consumers of one marketplace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Streams this marketplace reads or writes. Shared ones (the namespace's dead letters and commands, the
    /// ERP connection's streams) are listed but not owned: see [`Topology::owned_streams`].
    pub streams: Vec<StreamDef>,
    /// Durable consumers, all owned by the marketplace.
    pub consumers: Vec<ConsumerDef>,
    /// Name of the one stream owned by the marketplace alone (its channel's records).
    pub owned_stream: String,
}

impl Topology {
    /// Streams removed with the marketplace under `deletionPolicy: Delete`: only its own; the ERP
    /// connection's and the namespace's streams serve other marketplaces.
    pub fn owned_streams(&self) -> Vec<&StreamDef> {
        self.streams
            .iter()
            .filter(|s| s.name == self.owned_stream)
            .collect()
    }
}

/// The topology of marketplace `name` in `namespace`. `ack_wait` is the adapter's (see `AdapterConfig`).
pub fn marketplace_topology(
    namespace: &str,
    name: &str,
    spec: &MarketplaceSpec,
    ack_wait: std::time::Duration,
) -> Topology {
    let ns = Namespace::new(namespace);
    let erp = spec.erp_connection_ref.name.as_str();
    let own = ns.marketplace_stream(name);
    let owned_stream = own.name.clone();
    let mut streams = vec![own, ns.dead_letter_stream(), ns.command_stream()];
    let mut consumers = Vec::new();
    let mut with_ack_wait = |mut def: ConsumerDef| {
        def.ack_wait = ack_wait;
        consumers.push(def);
    };
    for flow in spec.flows.enabled() {
        match flow.direction() {
            Direction::Outbound => {
                streams.push(match flow {
                    Flow::Shipments => ns.shipment_stream(erp),
                    _ => ns.erp_stream(erp, flow),
                });
                with_ack_wait(ns.erp_flow_consumer(erp, name, flow, MAX_ACK_PENDING));
            }
            Direction::Inbound => {
                if flow == Flow::Orders {
                    streams.push(ns.erp_stream(erp, Flow::Inventory));
                    streams.push(ns.order_update_stream(erp));
                    with_ack_wait(ns.order_process_consumer(name, MAX_ACK_PENDING));
                    with_ack_wait(ns.order_update_consumer(erp, name, MAX_ACK_PENDING));
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    streams.retain(|s| seen.insert(s.name.clone()));
    Topology {
        streams,
        consumers,
        owned_stream,
    }
}

/// A readable, serializable view of a topology, for golden files and `twctl render`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologyView {
    pub streams: Vec<StreamView>,
    pub consumers: Vec<ConsumerView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamView {
    pub name: String,
    pub subjects: Vec<String>,
    pub owned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_msgs_per_subject: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    pub duplicate_window_seconds: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerView {
    pub stream: String,
    pub durable_name: String,
    pub filter_subjects: Vec<String>,
    pub max_ack_pending: i64,
    pub ack_wait_seconds: u64,
    pub max_deliver: i64,
}

impl From<&Topology> for TopologyView {
    fn from(t: &Topology) -> Self {
        Self {
            streams: t
                .streams
                .iter()
                .map(|s| StreamView {
                    name: s.name.clone(),
                    subjects: s.subjects.clone(),
                    owned: s.name == t.owned_stream,
                    max_msgs_per_subject: s.max_msgs_per_subject,
                    max_age_seconds: s.max_age.map(|d| d.as_secs()),
                    duplicate_window_seconds: s.duplicate_window.as_secs(),
                })
                .collect(),
            consumers: t
                .consumers
                .iter()
                .map(|c| ConsumerView {
                    stream: c.stream.clone(),
                    durable_name: c.durable_name.clone(),
                    filter_subjects: c.filter_subjects.clone(),
                    max_ack_pending: c.max_ack_pending,
                    ack_wait_seconds: c.ack_wait.as_secs(),
                    max_deliver: c.max_deliver,
                })
                .collect(),
        }
    }
}
