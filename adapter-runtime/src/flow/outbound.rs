//! An outbound flow: ERP events from a durable JetStream consumer to a channel.
//!
//! Each fetched batch is decoded, coalesced (only the newest event per subject, that is per SKU, is sent),
//! prepared (the channel inventory policy), mapped, and delivered in chunks of the connector's batch size.
//! Every message ends acknowledged (delivered, superseded, or dead-lettered with its reason) or negatively
//! acknowledged with a delay (a retryable failure): a message that cannot succeed never holds up the ones
//! behind it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{AckKind, Message};
use chrono::Utc;
use crds::channel::Flow;
use futures::StreamExt;
use serde_json::Value;
use tracing::{info, warn};

use crate::connector::{Connector, FailureKind, OutboundItem};
use crate::envelope::{Event, decode};
use crate::jetstream::{DeadLetterStore, ErrorClass, H_REPLAY_FOR, from_header_map};
use crate::metrics::{FlowLabels, Metrics, Outcome};

use super::Shutdown;

/// Turns a decoded event into the record's key on the channel and the JSON the mapping reads (after the
/// process layer, for example the inventory policy). An error dead-letters the message.
pub type PrepareFn = Arc<dyn Fn(&Event) -> Result<(String, Value), String> + Send + Sync>;

/// The mapping of the flow: canonical JSON in, channel fields out. An error dead-letters the message.
pub type MapFn = Arc<dyn Fn(&Value) -> Result<Value, String> + Send + Sync>;

/// Tuning of an outbound flow.
#[derive(Clone, Debug)]
pub struct OutboundSettings {
    pub marketplace: String,
    pub flow: Flow,
    /// Most messages fetched at once.
    pub fetch_batch: usize,
    /// How long a fetch waits to fill its batch: changes arriving within it are coalesced.
    pub coalesce_window: Duration,
    /// Deliveries before a retryable failure is dead-lettered as exhausted.
    pub max_attempts: u32,
    /// Redelivery delay after the first retryable failure; doubled per delivery up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The consumer's ack wait: while a batch is being worked on (rate limits can make that long), its
    /// messages are kept from redelivery by progress acknowledgements every third of it.
    pub ack_wait: Duration,
}

/// A running outbound flow.
pub struct OutboundFlow<C: Connector> {
    pub settings: OutboundSettings,
    pub consumer: Consumer<pull::Config>,
    pub connector: Arc<C>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub prepare: PrepareFn,
    pub map: Option<MapFn>,
    pub metrics: Arc<Metrics>,
}

/// A message on its way through one batch.
struct InFlight {
    message: Message,
    event: Event,
    subject: String,
}

impl<C: Connector> OutboundFlow<C> {
    /// Runs until `shutdown`: the batch in progress is finished (delivered, dead-lettered or nak'ed), then the
    /// loop returns without fetching more.
    pub async fn run(&self, shutdown: Shutdown) {
        let s = &self.settings;
        info!(marketplace = %s.marketplace, flow = %s.flow, "outbound flow started");
        while !shutdown.is_triggered() {
            let fetch = self
                .consumer
                .fetch()
                .max_messages(s.fetch_batch)
                .expires(s.coalesce_window.max(Duration::from_millis(10)))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            let messages: Vec<Message> = match batch {
                Ok(stream) => stream.filter_map(|m| async { m.ok() }).collect().await,
                Err(e) => {
                    warn!(marketplace = %s.marketplace, flow = %s.flow, error = %e, "fetch failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {},
                        () = shutdown.triggered() => break,
                    }
                    continue;
                }
            };
            if !messages.is_empty() {
                self.process(messages).await;
            }
        }
        info!(marketplace = %s.marketplace, flow = %s.flow, "outbound flow stopped");
    }

    /// Handles one fetched batch to the end: every message is acked or nak'ed when this returns.
    pub async fn process(&self, messages: Vec<Message>) {
        let in_flight: Vec<Message> = messages.clone();
        let work = self.process_batch(messages);
        tokio::pin!(work);
        let mut keepalive =
            tokio::time::interval((self.settings.ack_wait / 3).max(Duration::from_millis(100)));
        keepalive.tick().await;
        loop {
            tokio::select! {
                () = &mut work => return,
                _ = keepalive.tick() => {
                    for message in &in_flight {
                        // Harmless for a message already acknowledged.
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                }
            }
        }
    }

    async fn process_batch(&self, messages: Vec<Message>) {
        let s = &self.settings;
        let flow_name = s.flow.as_str();
        self.metrics.count(
            &s.marketplace,
            flow_name,
            Outcome::In,
            messages.len() as u64,
        );

        let mut decoded = Vec::with_capacity(messages.len());
        for message in messages {
            let headers = message
                .headers
                .as_ref()
                .map(from_header_map)
                .unwrap_or_default();
            // A replayed dead letter of another marketplace, on a subject every marketplace reads.
            if headers
                .get(H_REPLAY_FOR)
                .is_some_and(|m| *m != s.marketplace)
            {
                self.superseded(&message).await;
                continue;
            }
            match decode(&headers, &message.payload) {
                Ok(event) => {
                    let subject = message.subject.to_string();
                    decoded.push(InFlight {
                        message,
                        event,
                        subject,
                    });
                }
                Err(e) => {
                    self.dead_letter(&message, ErrorClass::BadPayload, e.to_string())
                        .await
                }
            }
        }

        // Newest per subject; the rest are superseded.
        let mut newest: HashMap<String, InFlight> = HashMap::new();
        for item in decoded {
            let key = item.subject.clone();
            match newest.remove(&key) {
                Some(kept) if kept.event.time > item.event.time => {
                    self.superseded(&item.message).await;
                    newest.insert(key, kept);
                }
                Some(older) => {
                    self.superseded(&older.message).await;
                    newest.insert(key, item);
                }
                None => {
                    newest.insert(key, item);
                }
            }
        }

        let mut ready: Vec<(InFlight, OutboundItem)> = Vec::with_capacity(newest.len());
        for (_, item) in newest {
            match self.to_outbound(&item.event) {
                Ok(outbound) => ready.push((item, outbound)),
                Err(reason) => {
                    self.dead_letter(&item.message, ErrorClass::Mapping, reason)
                        .await
                }
            }
        }

        let chunk = self.connector.max_batch(s.flow).max(1);
        while !ready.is_empty() {
            let rest = ready.split_off(chunk.min(ready.len()));
            let items: Vec<OutboundItem> = ready.iter().map(|(_, o)| o.clone()).collect();
            let results = self.connector.deliver(s.flow, &items).await;
            for (index, (item, _)) in ready.into_iter().enumerate() {
                let result = results.get(index).cloned().unwrap_or_else(|| {
                    Err(crate::connector::ConnectorError::retryable(
                        "connector returned no result for this record",
                    ))
                });
                match result {
                    Ok(()) => self.delivered(&item).await,
                    Err(e) if e.kind == FailureKind::Permanent => {
                        self.dead_letter(&item.message, ErrorClass::Permanent, e.message)
                            .await
                    }
                    Err(e) if e.kind == FailureKind::Exhausted => {
                        self.dead_letter(&item.message, ErrorClass::Exhausted, e.message)
                            .await
                    }
                    Err(e) => {
                        let asked = e.http().and_then(|answer| answer.retry_after());
                        self.retry_later(&item.message, e.message, asked).await
                    }
                }
            }
            ready = rest;
        }
    }

    fn to_outbound(&self, event: &Event) -> Result<OutboundItem, String> {
        let (key, canonical) = (self.prepare)(event)?;
        let fields = match &self.map {
            Some(map) => map(&canonical)?,
            None => canonical.clone(),
        };
        Ok(OutboundItem {
            key,
            correlation_id: event.record.correlation_id().clone(),
            fields,
            record: canonical,
        })
    }

    async fn delivered(&self, item: &InFlight) {
        let s = &self.settings;
        if let Err(e) = item.message.ack().await {
            warn!(marketplace = %s.marketplace, flow = %s.flow, error = %e, "ack failed; the record may be sent again");
        }
        self.metrics
            .count(&s.marketplace, s.flow.as_str(), Outcome::Out, 1);
        let latency = (Utc::now() - item.event.time).to_std().unwrap_or_default();
        self.metrics
            .end_to_end_latency
            .get_or_create(&FlowLabels {
                marketplace: s.marketplace.clone(),
                flow: s.flow.as_str().into(),
            })
            .observe(latency.as_secs_f64());
    }

    async fn superseded(&self, message: &Message) {
        let _ = message.ack().await;
        self.metrics.count(
            &self.settings.marketplace,
            self.settings.flow.as_str(),
            Outcome::Coalesced,
            1,
        );
    }

    /// Naks `message` to come back after the backoff of its attempt, or after what the channel asked
    /// (`Retry-After`) when that is longer (at most the longest backoff).
    async fn retry_later(&self, message: &Message, reason: String, asked: Option<Duration>) {
        let s = &self.settings;
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1).max(1);
        let delivered = u32::try_from(delivered).unwrap_or(u32::MAX);
        if delivered >= s.max_attempts {
            let reason = format!("gave up after {delivered} attempts: {reason}");
            self.dead_letter(message, ErrorClass::Exhausted, reason)
                .await;
            return;
        }
        let factor = 2u32.saturating_pow(delivered.saturating_sub(1).min(20));
        let backoff = s.initial_backoff.saturating_mul(factor);
        let delay = backoff.max(asked.unwrap_or_default()).min(s.max_backoff);
        warn!(marketplace = %s.marketplace, flow = %s.flow, attempt = delivered, delay_ms = delay.as_millis() as u64, %reason, "delivery failed; will retry");
        let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
    }

    /// Dead-letters the message with `reason` (see [`super::dead_letter::dead_letter`]).
    async fn dead_letter(&self, message: &Message, class: ErrorClass, reason: String) {
        let s = &self.settings;
        let (store, metrics) = (&self.dead_letters, &self.metrics);
        let retry = s.initial_backoff;
        super::dead_letter::dead_letter(
            store,
            metrics,
            message,
            &s.marketplace,
            s.flow,
            class,
            reason,
            retry,
        )
        .await;
    }
}
