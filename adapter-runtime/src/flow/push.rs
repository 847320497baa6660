//! Records a channel pushes to the adapter (a signed order webhook) instead of the adapter polling for them.
//! Each is published to the marketplace's stream exactly as a polled record is (same subject, message id,
//! CloudEvent and timeline step, see [`super::InboundFlow`]), and [`PushPublisher::publish`] returns only once
//! JetStream acknowledged it: the HTTP handler answers 2xx after that, so a sender told 2xx never has to send
//! again, and a record sent twice is dropped by the duplicate window. Channel-free: the channel's handler
//! turns its request into a canonical record and calls `publish`.

use std::sync::Arc;

use async_nats::jetstream;
use chrono::Utc;
use crds::channel::Flow;
use tracing::warn;

use crate::canonical::Record;
use crate::config::AdapterConfig;
use crate::envelope::Event;
use crate::jetstream::{
    DeadLetter, DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry, ensure_kv,
    ensure_stream, publish_event,
};
use crate::metrics::{DeadLetterLabels, Metrics, Outcome};
use crate::topology::Namespace;

use super::inbound::{identity, new_traceparent};

/// Publishes pushed records of one marketplace's inbound flow.
pub struct PushPublisher {
    pub namespace: String,
    pub marketplace: String,
    pub flow: Flow,
    pub js: jetstream::Context,
    pub timeline: Option<Arc<Timeline>>,
    pub metrics: Arc<Metrics>,
}

impl PushPublisher {
    /// Connects to NATS as the adapter does and makes sure the marketplace's stream and the timeline bucket
    /// exist, so a record pushed before the flows started is stored all the same.
    pub async fn connect(
        config: &AdapterConfig,
        flow: Flow,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let client = crate::app::connect(config).await?;
        let js = jetstream::new(client);
        let ns = Namespace::new(&config.namespace);
        let e = |e: crate::jetstream::Error| e.to_string();
        ensure_stream(&js, &ns.marketplace_stream(&config.marketplace))
            .await
            .map_err(e)?;
        ensure_stream(&js, &ns.dead_letter_stream())
            .await
            .map_err(e)?;
        let timeline = Timeline::new(ensure_kv(&js, &ns.timeline_bucket()).await.map_err(e)?);
        Ok(Self {
            namespace: config.namespace.clone(),
            marketplace: config.marketplace.clone(),
            flow,
            js,
            timeline: Some(Arc::new(timeline)),
            metrics,
        })
    }

    /// Publishes `record` and waits for JetStream's acknowledgement. `Ok(true)`: stored; `Ok(false)`: a
    /// duplicate of a record already stored (also safe to acknowledge to the sender).
    pub async fn publish(&self, record: Record) -> Result<bool, String> {
        let ns = Namespace::new(&self.namespace);
        let flow = self.flow.as_str();
        self.metrics.count(&self.marketplace, flow, Outcome::In, 1);
        let (id, key) = identity(&self.marketplace, &record);
        let subject = ns.marketplace_subject(&self.marketplace, self.flow, &key);
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
        let outcome = publish_event(&self.js, &subject, &event, Some(&key))
            .await
            .map_err(|e| e.to_string())?;
        if outcome.duplicate {
            self.metrics
                .count(&self.marketplace, flow, Outcome::Coalesced, 1);
            return Ok(false);
        }
        self.metrics.count(&self.marketplace, flow, Outcome::Out, 1);
        if let Some(timeline) = &self.timeline {
            let entry = TimelineEntry {
                at: event.time,
                step: Step::Received,
                detail: "pushed to the webhook".into(),
                by: format!("adapter/{}", self.marketplace),
            };
            if let Err(e) = timeline.append(&correlation_id, entry).await {
                warn!(correlation_id = %correlation_id, error = %e, "timeline not updated");
            }
        }
        Ok(true)
    }

    /// Stores a pushed request that is not a usable record (its signature was right, so it is the channel's)
    /// in the dead-letter stream with `reason`, as the channel's answer said it, so it can be looked at and
    /// replayed after a fix. `key` (the order id when it could be read) completes the original subject.
    pub async fn dead_letter(
        &self,
        key: &str,
        payload: Vec<u8>,
        reason: String,
        class: ErrorClass,
    ) -> Result<(), String> {
        let ns = Namespace::new(&self.namespace);
        let letter = DeadLetter {
            marketplace: self.marketplace.clone(),
            flow: self.flow,
            original_subject: ns.marketplace_subject(&self.marketplace, self.flow, key),
            headers: Default::default(),
            payload,
            reason,
            class,
            attempts: 1,
            at: Utc::now(),
        };
        DeadLetterStore::new(self.js.clone(), ns)
            .put(&letter)
            .await
            .map_err(|e| e.to_string())?;
        let flow = self.flow.as_str();
        self.metrics
            .count(&self.marketplace, flow, Outcome::Failed, 1);
        let labels = DeadLetterLabels {
            marketplace: self.marketplace.clone(),
            flow: flow.into(),
            class: class.as_str().into(),
        };
        self.metrics.dead_letters.get_or_create(&labels).inc();
        Ok(())
    }
}
