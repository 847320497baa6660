//! Reads a marketplace's per-flow counts from JetStream: its consumers' pending and ack-pending, and its dead
//! letters per flow in the namespace's dead-letter stream.

use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use crds::channel::{Direction, Flow};
use futures::StreamExt;

use crate::render::jetstream::Topology;
use crate::status::flows::FlowCounts;

/// When the first record after `ack_floor` on one of `filters` was stored: the oldest record the consumer has
/// not acknowledged (at most; one acknowledged out of order is counted as waiting). `None` if none is found.
async fn oldest_after(
    stream: &jetstream::stream::Stream,
    filters: &[String],
    ack_floor: u64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut oldest = None;
    for filter in filters {
        if let Ok(message) = stream
            .direct_get_next_for_subject(filter.clone(), Some(ack_floor + 1))
            .await
        {
            let at = chrono::DateTime::from_timestamp(
                message.time.unix_timestamp(),
                message.time.nanosecond(),
            );
            oldest = match (oldest, at) {
                (Some(o), Some(a)) => Some(std::cmp::min(o, a)),
                (o, a) => o.or(a),
            };
        }
    }
    oldest
}

/// Counts for each enabled flow. A consumer or stream not there yet counts as zero.
pub async fn read_counts(
    js: &jetstream::Context,
    namespace: &str,
    marketplace: &str,
    flows: &[Flow],
    topology: &Topology,
) -> Result<Vec<(Flow, FlowCounts)>, String> {
    let ns = Namespace::new(namespace);
    let mut dead_letters = std::collections::BTreeMap::new();
    if let Ok(stream) = js.get_stream(ns.dead_letter_stream().name).await {
        let filter = format!(
            "tw.{}.dlq.{}.>",
            adapter_runtime::subject::encode_token(namespace),
            adapter_runtime::subject::encode_token(marketplace)
        );
        let mut subjects = stream
            .info_with_subjects(filter)
            .await
            .map_err(|e| e.to_string())?;
        while let Some(entry) = subjects.next().await {
            let (subject, count) = entry.map_err(|e| e.to_string())?;
            dead_letters.insert(subject, count as u64);
        }
    }
    let mut out = Vec::new();
    for flow in flows {
        let durable = match (flow.direction(), flow) {
            (Direction::Outbound, _) => {
                Some(adapter_runtime::topology::consumer_name(marketplace, *flow))
            }
            (_, Flow::Orders) => Some(ns.order_process_consumer(marketplace, 1).durable_name),
            _ => None,
        };
        let mut counts = FlowCounts {
            // The flow's own subject and those under it (the ERP bridge's, for orders not taken by the ERP).
            dead_letters: {
                let subject = ns.dead_letter_subject(marketplace, *flow);
                let below = format!("{subject}.");
                dead_letters
                    .iter()
                    .filter(|(s, _)| **s == subject || s.starts_with(&below))
                    .map(|(_, n)| n)
                    .sum()
            },
            ..FlowCounts::default()
        };
        if let Some(def) =
            durable.and_then(|d| topology.consumers.iter().find(|c| c.durable_name == d))
            && let Ok(stream) = js.get_stream(&def.stream).await
            && let Ok(info) = stream.consumer_info(&def.durable_name).await
        {
            counts.pending = info.num_pending;
            counts.ack_pending = info.num_ack_pending as u64;
            counts.last_ack_at = info
                .ack_floor
                .last_active
                .and_then(|t| chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()));
            if counts.pending + counts.ack_pending > 0 {
                counts.oldest_unacked_at = oldest_after(
                    &stream,
                    &def.filter_subjects,
                    info.ack_floor.stream_sequence,
                )
                .await;
            }
        }
        out.push((*flow, counts));
    }
    Ok(out)
}
