//! An inbound flow: records polled from a channel, published to the marketplace's stream.
//!
//! Each record gets a message id that names what it is (`<marketplace>:<order id>:<revision>` for an order),
//! so a record polled twice is stored once: the cursor is advanced only after the page's records are
//! acknowledged by JetStream, and a crash in between re-polls the same page, whose duplicates JetStream drops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use crds::channel::Flow;
use tracing::{info, warn};

use crate::canonical::Record;
use crate::connector::{Connector, Rejected};
use crate::envelope::{Event, H_CORRELATION_ID, H_MSG_ID, Headers, encode};
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
        // The page's records by subject key: what a rejected item of the page is about, if it is one of them.
        let mut read: HashMap<String, Read> = HashMap::new();
        for record in page.records {
            let outcome = self.reader().publish(record).await?;
            published += u64::from(outcome.new);
            read.insert(outcome.key.clone(), outcome);
        }
        // Before the cursor moves: a crash in between re-polls the page, and the dead letters' ids drop repeats.
        for item in rejected {
            let about = read.get(&item.key);
            self.dead_letter(&ns, item, about).await?;
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

    fn reader(&self) -> Reader<'_> {
        Reader {
            js: &self.js,
            namespace: &self.settings.namespace,
            marketplace: &self.settings.marketplace,
            flow: self.settings.flow,
            timeline: self.timeline.as_deref(),
            metrics: &self.metrics,
        }
    }
}

impl<C: Connector> InboundFlow<C> {
    /// Stores what the connector rejected from a page in the dead-letter stream. When it is about a record the
    /// page published (a settlement whose amounts do not reconcile), the dead letter holds that record in its
    /// envelope, so a replay delivers it (the ERP's key makes a second delivery none), and the connector's
    /// account of the problem goes in the `tw-dlq-detail` header; otherwise it holds the channel's raw payload,
    /// which a replay sends back to the connector to read again.
    async fn dead_letter(
        &self,
        ns: &Namespace,
        item: Rejected,
        about: Option<&Read>,
    ) -> Result<(), String> {
        let s = &self.settings;
        let detail = serde_json::to_vec(&item.payload).unwrap_or_default();
        let (original_subject, mut headers, payload) = match about {
            Some(read) => {
                let (mut headers, payload) = encode(&read.event, Some(&read.key))
                    .map_err(|e| format!("encoding the dead letter's record: {e}"))?;
                headers.insert(H_DETAIL.into(), detail_header(&detail));
                (read.subject.clone(), headers, payload)
            }
            None => (
                ns.marketplace_subject(&s.marketplace, s.flow, &item.key),
                Headers::new(),
                detail,
            ),
        };
        headers.insert(H_MSG_ID.into(), item.id);
        headers.insert(
            H_CORRELATION_ID.into(),
            item.correlation_id.as_str().to_string(),
        );
        let letter = DeadLetter {
            marketplace: s.marketplace.clone(),
            flow: s.flow,
            original_subject,
            headers,
            payload,
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

/// The header of a dead letter that holds a record, with the connector's account of what is wrong with it.
pub const H_DETAIL: &str = "tw-dlq-detail";

/// A JSON detail as one header line, cut to 16 KiB.
fn detail_header(json: &[u8]) -> String {
    let text = String::from_utf8_lossy(json);
    text.chars()
        .take(16 * 1024)
        .collect::<String>()
        .replace(['\r', '\n'], " ")
}

/// Publishes records read from a channel — by a poll, or read again from a dead letter — to the marketplace's
/// stream, each with the message id and subject key [`identity`] gives it, and notes their arrival.
pub struct Reader<'a> {
    pub js: &'a jetstream::Context,
    pub namespace: &'a str,
    pub marketplace: &'a str,
    pub flow: Flow,
    pub timeline: Option<&'a Timeline>,
    pub metrics: &'a Metrics,
}

/// One record as published.
pub struct Read {
    pub subject: String,
    pub key: String,
    pub event: Event,
    /// JetStream had not seen it (a re-read or re-polled record is a duplicate).
    pub new: bool,
}

impl Reader<'_> {
    pub async fn publish(&self, record: Record) -> Result<Read, String> {
        let ns = Namespace::new(self.namespace);
        let (id, key) = identity(self.marketplace, &record);
        let subject = ns.marketplace_subject(self.marketplace, self.flow, &key);
        let correlation_id = record.correlation_id().clone();
        let event = Event {
            id,
            source: format!(
                "/tradewind/{}/marketplace/{}",
                self.namespace, self.marketplace
            ),
            time: Utc::now(),
            traceparent: Some(new_traceparent()),
            record,
        };
        let outcome = publish_event(self.js, &subject, &event, Some(&key))
            .await
            .map_err(|e| e.to_string())?;
        let flow = self.flow.as_str();
        if outcome.duplicate {
            self.metrics
                .count(self.marketplace, flow, Outcome::Coalesced, 1);
        } else {
            self.metrics.count(self.marketplace, flow, Outcome::Out, 1);
            if let Some(timeline) = self.timeline {
                let entry = TimelineEntry {
                    at: event.time,
                    step: Step::Received,
                    detail: String::new(),
                    by: format!("adapter/{}", self.marketplace),
                };
                if let Err(e) = timeline.append(&correlation_id, entry).await {
                    warn!(correlation_id = %correlation_id, error = %e, "timeline not updated");
                }
            }
        }
        Ok(Read {
            subject,
            key,
            event,
            new: !outcome.duplicate,
        })
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
