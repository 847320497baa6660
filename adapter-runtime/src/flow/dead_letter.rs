//! Sending a consumed message to the dead-letter stream, the one way every flow does it.

use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use chrono::Utc;
use crds::channel::Flow;
use tracing::warn;

use crate::envelope::H_CORRELATION_ID;
use crate::jetstream::{DeadLetter, DeadLetterStore, ErrorClass, from_header_map};
use crate::metrics::{DeadLetterLabels, Metrics, Outcome};

/// Stores `message` in the dead-letter stream with `reason`, then acknowledges it and counts it. If the dead
/// letter cannot be stored, the message is nak'ed to come back after `retry`: it is never dropped. Returns the
/// message's correlation id when the dead letter was stored.
#[allow(clippy::too_many_arguments)]
pub async fn dead_letter(
    store: &DeadLetterStore,
    metrics: &Metrics,
    message: &Message,
    marketplace: &str,
    flow: Flow,
    class: ErrorClass,
    reason: String,
    retry: Duration,
) -> Option<String> {
    let headers = message
        .headers
        .as_ref()
        .map(from_header_map)
        .unwrap_or_default();
    let correlation_id = headers.get(H_CORRELATION_ID).cloned().unwrap_or_default();
    let attempts = message.info().map(|i| i.delivered).unwrap_or(1);
    let letter = DeadLetter {
        marketplace: marketplace.to_string(),
        flow,
        original_subject: message.subject.to_string(),
        headers,
        payload: message.payload.to_vec(),
        reason: reason.clone(),
        class,
        attempts: u32::try_from(attempts).unwrap_or(0),
        at: Utc::now(),
    };
    match store.put(&letter).await {
        Ok(_) => {
            warn!(%marketplace, %flow, correlation_id = %correlation_id, %class, %reason, "dead-lettered");
            let _ = message.ack().await;
            metrics.count(marketplace, flow.as_str(), Outcome::Failed, 1);
            let labels = DeadLetterLabels {
                marketplace: marketplace.to_string(),
                flow: flow.as_str().into(),
                class: class.as_str().into(),
            };
            metrics.dead_letters.get_or_create(&labels).inc();
            Some(correlation_id)
        }
        Err(e) => {
            warn!(%marketplace, %flow, correlation_id = %correlation_id, error = %e, "cannot store dead letter; will retry");
            let _ = message.ack_with(AckKind::Nak(Some(retry))).await;
            None
        }
    }
}
