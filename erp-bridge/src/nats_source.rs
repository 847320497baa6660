//! The NATS source: the ERP publishes canonical events itself on `spec.source.nats.subject`. The bridge keeps
//! that subject in a stream of its own (`TW_<ns>_ERP_<erp>_INGEST`, 7 days), so events published while the
//! bridge is down wait, and reads it with one durable consumer, in order. Each event is validated
//! ([`adapter_runtime::envelope::decode`], or a `{"type", "data"}` record without CloudEvents headers); a bad
//! one is dead-lettered with the reason and the events behind it go on; a good one is republished into the
//! topology's subjects with the idempotent id `<erp>:nats:<the ERP's event id>`, and acknowledged to the ERP's
//! stream only once JetStream has the copy. A crash in between republishes, and de-duplication drops it.

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::envelope::{H_MSG_ID, H_SPEC_VERSION, H_TRACEPARENT, H_TYPE, decode, encode};
use adapter_runtime::flow::{Shutdown, dead_letter};
use adapter_runtime::jetstream::{DeadLetterStore, ErrorClass, from_header_map, to_header_map};
use adapter_runtime::metrics::{Metrics, Outcome};
use adapter_runtime::topology::{ConsumerDef, Namespace, StreamDef};
use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use crds::channel::Flow;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::ingest::{Routed, parse_record, route};

/// Events read and republished per round trip at most.
const BATCH: usize = 256;

/// The stream that keeps what the ERP publishes on `subject`.
pub fn ingest_stream(ns: &Namespace, erp: &str, subject: &str) -> StreamDef {
    // Named like the connection's other streams (the shipment stream's name without its suffix).
    let shipments = ns.shipment_stream(erp);
    let base = shipments
        .name
        .strip_suffix("_SHIPMENTS")
        .unwrap_or(&shipments.name);
    StreamDef {
        name: format!("{base}_INGEST"),
        subjects: vec![subject.to_string()],
        max_msgs_per_subject: None,
        max_age: Some(Duration::from_secs(7 * 24 * 3600)),
        duplicate_window: Duration::from_secs(24 * 3600),
        ..shipments
    }
}

/// The bridge's durable consumer of its ingest stream (one per stream, so the name needs no ERP).
pub fn ingest_consumer(stream: &StreamDef) -> ConsumerDef {
    ConsumerDef {
        stream: stream.name.clone(),
        durable_name: "bridge".into(),
        filter_subjects: Vec::new(),
        max_ack_pending: 4 * BATCH as i64,
        ack_wait: Duration::from_secs(30),
        max_deliver: 100,
    }
}

pub struct NatsSource {
    pub namespace: Namespace,
    pub namespace_name: String,
    pub erp: String,
    pub js: jetstream::Context,
    pub consumer: Consumer<pull::Config>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub metrics: Arc<Metrics>,
}

impl NatsSource {
    pub async fn run(self, shutdown: Shutdown) {
        info!(erp = %self.erp, "NATS source started");
        while !shutdown.is_triggered() {
            let fetch = self
                .consumer
                .fetch()
                .max_messages(BATCH)
                .expires(Duration::from_millis(500))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            match batch {
                Ok(stream) => {
                    let messages: Vec<Message> =
                        stream.filter_map(|m| async { m.ok() }).collect().await;
                    self.handle(&messages).await;
                }
                Err(e) => {
                    warn!(erp = %self.erp, error = %e, "NATS source: fetch failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {},
                        () = shutdown.triggered() => break,
                    }
                }
            }
        }
        info!(erp = %self.erp, "NATS source stopped");
    }

    /// Republishes a batch in order (all publishes first, then the acknowledgements: one round trip), then
    /// acknowledges each event JetStream took; bad ones are dead-lettered in place.
    pub async fn handle(&self, messages: &[Message]) {
        let label = format!("erp:{}", self.erp);
        let mut pending = Vec::with_capacity(messages.len());
        for message in messages {
            let routed = match self.routed(message) {
                Ok(routed) => routed,
                Err((flow, reason)) => {
                    dead_letter(
                        &self.dead_letters,
                        &self.metrics,
                        message,
                        &label,
                        flow,
                        ErrorClass::BadPayload,
                        reason,
                        Duration::from_secs(2),
                    )
                    .await;
                    continue;
                }
            };
            let published = match encode(&routed.event, Some(&routed.key)) {
                Ok((headers, payload)) => self
                    .js
                    .publish_with_headers(
                        routed.subject.clone(),
                        to_header_map(&headers),
                        payload.into(),
                    )
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            pending.push((message, routed.flow, published));
        }
        for (message, flow, published) in pending {
            let stored = match published {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match stored {
                Ok(ack) => {
                    let counted = if ack.duplicate {
                        Outcome::Coalesced
                    } else {
                        Outcome::Out
                    };
                    self.metrics.count(&label, flow.as_str(), counted, 1);
                    let _ = message.double_ack().await;
                }
                Err(e) => {
                    warn!(erp = %self.erp, error = %e, "NATS source: not republished; it comes back");
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
    }

    /// The republished event of a message, or why there is none (with the flow it was probably meant for).
    fn routed(&self, message: &Message) -> Result<Routed, (Flow, String)> {
        let headers = message
            .headers
            .as_ref()
            .map(from_header_map)
            .unwrap_or_default();
        let (id, record, traceparent) = if headers.contains_key(H_SPEC_VERSION) {
            let event = decode(&headers, &message.payload)
                .map_err(|e| (flow_hint(headers.get(H_TYPE)), e.to_string()))?;
            (event.id, event.record, event.traceparent)
        } else {
            // A plain `{"type", "data"}` record: the id is the ERP's Nats-Msg-Id, else the payload's hash.
            let value: serde_json::Value = serde_json::from_slice(&message.payload)
                .map_err(|e| (Flow::Inventory, format!("payload: not JSON: {e}")))?;
            let record = parse_record(&value).map_err(|e| {
                let hint = value
                    .get("type")
                    .and_then(|t| t.as_str())
                    .map(str::to_string);
                (flow_hint(hint.as_ref()), e)
            })?;
            let id = match headers.get(H_MSG_ID) {
                Some(id) if !id.is_empty() => id.clone(),
                _ => format!("sha256:{}", hex::encode(Sha256::digest(&message.payload))),
            };
            (id, record, headers.get(H_TRACEPARENT).cloned())
        };
        let flow = flow_hint(Some(&record.event_type().to_string()));
        route(
            &self.namespace,
            &self.namespace_name,
            &self.erp,
            format!("{}:nats:{id}", self.erp),
            record,
            traceparent,
        )
        .map_err(|e| (flow, e))
    }
}

/// The flow a record type (a CloudEvents type or a record tag) belongs to, for the dead letter.
fn flow_hint(kind: Option<&String>) -> Flow {
    let kind = kind.map(String::as_str).unwrap_or_default();
    if kind.contains("price") {
        Flow::Price
    } else if kind.contains("product") {
        Flow::Catalog
    } else if kind.contains("shipment") {
        Flow::Shipments
    } else if kind.contains("order") {
        Flow::Orders
    } else {
        Flow::Inventory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ingest_stream_is_named_like_the_connection_and_keeps_the_subject() {
        let stream = ingest_stream(&Namespace::new("demo"), "demo-erp", "erp.events.>");
        assert_eq!(stream.name, "TW_DEMO_ERP_DEMO-ERP_INGEST");
        assert_eq!(stream.subjects, ["erp.events.>"]);
        assert_eq!(ingest_consumer(&stream).stream, stream.name);
    }

    #[test]
    fn record_types_hint_their_flow() {
        assert_eq!(
            flow_hint(Some(&"dev.tradewind.price.v1".into())),
            Flow::Price
        );
        assert_eq!(flow_hint(Some(&"orderCancellation".into())), Flow::Orders);
        assert_eq!(flow_hint(None), Flow::Inventory);
    }
}
