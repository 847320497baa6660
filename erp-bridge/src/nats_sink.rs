//! The NATS target: each operation of the ERP contract is published as a CloudEvent (the same binary-mode
//! encoding as everywhere in Tradewind) on a subject of its kind under the prefix —
//! `orders.<marketplace>.<order id>` (creations), `order-updates.<marketplace>.<order id>`,
//! `cancellations.<marketplace>.<order id>`, `returns.<marketplace>.<return id>`,
//! `settlements.<marketplace>.<settlement id>` — with a `tw-erp-operation` header (`create`, `update`, `cancel`,
//! `return`, `settlement`; an update also has `tw-erp-changed`), through JetStream with `Nats-Msg-Id` equal to
//! the idempotency key: a record counts as delivered once JetStream acknowledged it, and a redelivered record
//! is dropped by the de-duplication window (a day).
//!
//! A stream must capture `<subjectPrefix>.>`: the ERP's own, or else the bridge creates
//! `TW_<ns>_ERP_<erp>_SINK` (kept 7 days) for the ERP to consume with a durable consumer of its own.

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::connector::ConnectorError;
use adapter_runtime::envelope::{Event, H_MSG_ID, encode};
use adapter_runtime::jetstream::{ensure_stream, publish_raw};
use adapter_runtime::resilience::{Failure, Resilience};
use adapter_runtime::subject::encode_token;
use adapter_runtime::topology::{Namespace, StreamDef};
use async_nats::jetstream;
use tracing::info;

use crate::contract::Operation;
use crate::sink::{Delivered, operation as sink_operation};

/// Publishes in flight at most, per consumer (publishing is cheap; JetStream paces with its acks).
pub const CONCURRENCY: usize = 32;

/// The header naming the operation of the contract.
pub const H_OPERATION: &str = "tw-erp-operation";
/// The header listing what an update changed (`lines,shipTo`).
pub const H_CHANGED: &str = "tw-erp-changed";

/// The subject of an operation under `prefix`.
pub fn subject(prefix: &str, operation: &Operation) -> String {
    let (kind, marketplace, key) = match operation {
        Operation::Create(o) => ("orders", o.marketplace.as_str(), o.order_id.as_str()),
        Operation::Update { order: o, .. } => {
            ("order-updates", o.marketplace.as_str(), o.order_id.as_str())
        }
        Operation::Cancel(c) => ("cancellations", c.marketplace.as_str(), c.order_id.as_str()),
        Operation::Return(r) => ("returns", r.marketplace.as_str(), r.return_id.as_str()),
        Operation::Settlement(s) => (
            "settlements",
            s.marketplace.as_str(),
            s.settlement_id.as_str(),
        ),
    };
    format!(
        "{}.{kind}.{}.{}",
        prefix.trim_end_matches('.'),
        encode_token(marketplace),
        encode_token(key)
    )
}

/// The stream the bridge creates when none captures the prefix.
pub fn sink_stream(ns: &Namespace, erp: &str, prefix: &str) -> StreamDef {
    let shipments = ns.shipment_stream(erp);
    let base = shipments
        .name
        .strip_suffix("_SHIPMENTS")
        .unwrap_or(&shipments.name);
    StreamDef {
        name: format!("{base}_SINK"),
        subjects: vec![format!("{}.>", prefix.trim_end_matches('.'))],
        max_msgs_per_subject: None,
        max_age: Some(Duration::from_secs(7 * 24 * 3600)),
        duplicate_window: Duration::from_secs(24 * 3600),
        ..shipments
    }
}

/// Makes sure a stream captures the prefix: the ERP's, or the bridge's own.
pub async fn ensure_capture(
    js: &jetstream::Context,
    ns: &Namespace,
    erp: &str,
    prefix: &str,
) -> Result<String, String> {
    let ours = sink_stream(ns, erp, prefix);
    let probe = format!("{}.orders.probe.probe", prefix.trim_end_matches('.'));
    if let Ok(name) = js.stream_by_subject(probe).await
        && name != ours.name
    {
        info!(stream = %name, prefix = %prefix, "NATS sink: the ERP's stream captures the prefix");
        return Ok(name);
    }
    ensure_stream(js, &ours)
        .await
        .map_err(|e| format!("spec.sink.nats.subjectPrefix {prefix:?}: {e}"))?;
    Ok(ours.name)
}

pub struct NatsTarget {
    pub prefix: String,
    pub js: jetstream::Context,
    pub resilience: Arc<Resilience>,
}

impl NatsTarget {
    pub async fn deliver(
        &self,
        operation: &Operation,
        event: &Event,
    ) -> Result<Delivered, ConnectorError> {
        let subject = subject(&self.prefix, operation);
        let key = operation.key();
        // The operation's own record (a cancelled order's revision goes out as its cancellation), under the key.
        let sent = Event {
            id: key.clone(),
            record: operation.record(),
            ..event.clone()
        };
        let (mut headers, payload) = encode(&sent, None)
            .map_err(|e| ConnectorError::permanent(format!("encoding the record: {e}")))?;
        headers.insert(H_MSG_ID.into(), key);
        headers.insert(H_OPERATION.into(), operation.name().into());
        if let Operation::Update { changed, .. } = operation {
            let parts: Vec<&str> = changed.iter().map(|p| p.as_str()).collect();
            headers.insert(H_CHANGED.into(), parts.join(","));
        }
        let guard = self.resilience.guard(sink_operation(operation));
        let outcome = guard
            .run(1, || async {
                publish_raw(&self.js, &subject, &headers, payload.clone())
                    .await
                    .map_err(|e| Failure::Retryable(e.to_string()))
            })
            .await
            .map_err(ConnectorError::from_outcome)?;
        Ok(Delivered::Stored {
            duplicate: outcome.duplicate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_subjects_under_the_prefix() {
        let order: adapter_runtime::canonical::Order = serde_json::from_str(include_str!(
            "../../adapter-runtime/tests/fixtures/order.json"
        ))
        .unwrap();
        let expected = format!(
            "acme.erp.orders.{}.{}",
            encode_token(order.marketplace.as_str()),
            encode_token(order.order_id.as_str())
        );
        assert_eq!(
            subject("acme.erp", &Operation::Create(Box::new(order.clone()))),
            expected
        );
        let cancel = Operation::Cancel(crate::contract::cancellation_of(&order));
        assert!(subject("acme.erp", &cancel).starts_with("acme.erp.cancellations."));
        let stream = sink_stream(&Namespace::new("demo"), "erp", "acme.erp.");
        assert_eq!(stream.subjects, ["acme.erp.>"]);
        assert_eq!(stream.name, "TW_DEMO_ERP_ERP_SINK");
    }
}
