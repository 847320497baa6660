//! An inbound flow: records polled from a channel, published to the marketplace's stream.
//!
//! Each record gets a message id that names what it is (`<marketplace>:<order id>:<revision>` for an order),
//! so a record polled twice is stored once: the cursor is advanced only after the page's records are
//! acknowledged by JetStream, and a crash in between re-polls the same page, whose duplicates JetStream drops.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use crds::channel::Flow;
use tracing::{info, warn};

use crate::canonical::Record;
use crate::connector::{Connector, Rejected};
use crate::envelope::{Event, H_CORRELATION_ID, H_MSG_ID, Headers};
use crate::jetstream::{
    CursorStore, DeadLetter, DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry,
    publish_event,
};
use crate::metrics::{Metrics, Outcome};
use crate::topology::{Namespace, order_message_id};

use super::Shutdown;

/// Tuning of an inbound flow.
#[derive(Clone, Debug)]
pub struct InboundSettings {
    pub namespace: String,
    pub marketplace: String,
    pub flow: Flow,
    pub poll_interval: Duration,
}

/// A running inbound flow.
pub struct InboundFlow<C: Connector> {
    pub settings: InboundSettings,
    pub js: jetstream::Context,
    pub connector: Arc<C>,
    pub cursors: Arc<CursorStore>,
    pub timeline: Option<Arc<Timeline>>,
    pub metrics: Arc<Metrics>,
}

/// The message id and subject key of a record read from a channel.
pub fn identity(marketplace: &str, record: &Record) -> (String, String) {
    match record {
        Record::Order(o) => (
            order_message_id(marketplace, o.order_id.as_str(), o.revision),
            o.order_id.to_string(),
        ),
        Record::OrderCancellation(c) => (
            format!(
                "{marketplace}:{}:cancel:{}",
                c.order_id,
                c.at.timestamp_millis()
            ),
            c.order_id.to_string(),
        ),
        Record::Return(r) => (
            format!("{marketplace}:return:{}:{:?}", r.return_id, r.status),
            r.return_id.clone(),
        ),
        Record::Settlement(s) => (
            format!("{marketplace}:settlement:{}", s.settlement_id),
            s.settlement_id.clone(),
        ),
        other => {
            let id = other.correlation_id().to_string();
            (format!("{marketplace}:{}:{id}", other.event_type()), id)
        }
    }
}

impl<C: Connector> InboundFlow<C> {
    /// Polls until `shutdown`, waiting `poll_interval` between polls unless the channel has more pages ready.
    pub async fn run(&self, shutdown: Shutdown) {
        let s = &self.settings;
        info!(marketplace = %s.marketplace, flow = %s.flow, "inbound flow started");
        while !shutdown.is_triggered() {
            let more = match self.poll_once().await {
                Ok(more) => more,
                Err(e) => {
                    warn!(marketplace = %s.marketplace, flow = %s.flow, error = %e, "poll failed; will retry");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(s.poll_interval) => {},
                () = shutdown.triggered() => break,
            }
        }
        info!(marketplace = %s.marketplace, flow = %s.flow, "inbound flow stopped");
    }

    /// One poll: reads a page from the cursor, publishes its records, then moves the cursor. Returns whether the
    /// channel has more pages ready.
    pub async fn poll_once(&self) -> Result<bool, String> {
        self.poll_page().await.map(|page| page.more)
    }

    /// One poll, with how many records it published as new (re-polled duplicates are not counted).
    pub async fn poll_page(&self) -> Result<Polled, String> {
        let s = &self.settings;
        let ns = Namespace::new(&s.namespace);
        let cursor = self
            .cursors
            .get(&s.marketplace, s.flow)
            .await
            .map_err(|e| e.to_string())?;
        let (page, rejected) = self
            .connector
            .poll_checked(s.flow, cursor.as_ref().map(|c| c.value.as_str()))
            .await
            .map_err(|e| e.to_string())?;
        self.metrics.count(
            &s.marketplace,
            s.flow.as_str(),
            Outcome::In,
            page.records.len() as u64,
        );
        let mut published = 0;
        for record in page.records {
            let (id, key) = identity(&s.marketplace, &record);
            let subject = ns.marketplace_subject(&s.marketplace, s.flow, &key);
            let correlation_id = record.correlation_id().clone();
            let event = Event {
                id,
                source: format!("/tradewind/{}/marketplace/{}", s.namespace, s.marketplace),
                time: Utc::now(),
                traceparent: Some(new_traceparent()),
                record,
            };
            let outcome = publish_event(&self.js, &subject, &event, Some(&key))
                .await
                .map_err(|e| e.to_string())?;
            if outcome.duplicate {
                self.metrics
                    .count(&s.marketplace, s.flow.as_str(), Outcome::Coalesced, 1);
                continue;
            }
            published += 1;
            self.metrics
                .count(&s.marketplace, s.flow.as_str(), Outcome::Out, 1);
            if let Some(timeline) = &self.timeline {
                let entry = TimelineEntry {
                    at: event.time,
                    step: Step::Received,
                    detail: String::new(),
                    by: format!("adapter/{}", s.marketplace),
                };
                if let Err(e) = timeline.append(&correlation_id, entry).await {
                    warn!(correlation_id = %correlation_id, error = %e, "timeline not updated");
                }
            }
        }
        // Before the cursor moves: a crash in between re-polls the page, and the dead letters' ids drop repeats.
        for item in rejected {
            self.dead_letter(&ns, item).await?;
        }
        if let Some(next) = page.next_cursor
            && cursor.as_ref().map(|c| &c.value) != Some(&next)
        {
            self.cursors
                .advance(&s.marketplace, s.flow, cursor.as_ref(), &next)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Polled {
            published,
            more: page.more,
        })
    }
}

impl<C: Connector> InboundFlow<C> {
    /// Stores what the connector rejected from a page in the dead-letter stream, under the subject of the
    /// record it belongs to.
    async fn dead_letter(&self, ns: &Namespace, item: Rejected) -> Result<(), String> {
        let s = &self.settings;
        let mut headers = Headers::new();
        headers.insert(H_MSG_ID.into(), item.id);
        headers.insert(
            H_CORRELATION_ID.into(),
            item.correlation_id.as_str().to_string(),
        );
        let letter = DeadLetter {
            marketplace: s.marketplace.clone(),
            flow: s.flow,
            original_subject: ns.marketplace_subject(&s.marketplace, s.flow, &item.key),
            headers,
            payload: serde_json::to_vec(&item.payload).unwrap_or_default(),
            reason: item.reason.clone(),
            class: ErrorClass::Business,
            attempts: 1,
            at: Utc::now(),
        };
        DeadLetterStore::new(self.js.clone(), ns.clone())
            .put(&letter)
            .await
            .map_err(|e| e.to_string())?;
        warn!(marketplace = %s.marketplace, flow = %s.flow, correlation_id = %item.correlation_id, reason = %item.reason, "dead-lettered");
        self.metrics
            .count(&s.marketplace, s.flow.as_str(), Outcome::Failed, 1);
        Ok(())
    }
}

/// What one poll did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Polled {
    /// Records published as new.
    pub published: u64,
    /// The channel has more pages ready now.
    pub more: bool,
}

/// A new W3C trace context (`00-<trace id>-<span id>-01`) for a transaction that starts here: every event of
/// the order after this one carries it on.
pub fn new_traceparent() -> String {
    let trace: u128 = rand::random::<u128>().max(1);
    let span: u64 = rand::random::<u64>().max(1);
    format!("00-{trace:032x}-{span:016x}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_w3c_shaped_and_distinct() {
        let a = new_traceparent();
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![2, 32, 16, 2]
        );
        assert!(
            parts
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_ne!(a, new_traceparent());
    }
}
