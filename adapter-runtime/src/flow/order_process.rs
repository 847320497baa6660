//! The order process stage: orders as received from a channel are checked against the marketplace's rules and
//! the ERP's catalogue, enriched, and published for the ERP sink, or dead-lettered with every reason.
//!
//! The ERP's catalogue is the last-value inventory stream of the marketplace's ERP connection: a SKU is known
//! when the ERP has published a position for it, and its locations give the stock used for allocation.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use crds::channel::Flow;
use crds::v1alpha1::OrdersFlow;
use tracing::{info, warn};

use crate::canonical::{Currency, InventoryPosition, Record, Sku};
use crate::envelope::{Event, decode};
use crate::jetstream::{
    DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry, from_header_map, publish_event,
};
use crate::metrics::{Metrics, Outcome};
use crate::process::{SkuLookup, check_order};
use crate::topology::Namespace;

use super::Shutdown;

/// The ERP's positions for the SKUs of one order.
struct Catalogue(HashMap<String, InventoryPosition>);

impl SkuLookup for Catalogue {
    fn is_known(&self, sku: &Sku) -> bool {
        self.0.contains_key(sku.as_str())
    }

    fn stock_at(&self, sku: &Sku, warehouse: &str) -> Option<i64> {
        let position = self.0.get(sku.as_str())?;
        position
            .locations
            .iter()
            .find(|l| l.location == warehouse)
            .map(|l| l.available)
    }
}

/// The order process of one marketplace.
pub struct OrderProcess {
    pub namespace: Namespace,
    pub marketplace: String,
    pub erp_connection: String,
    pub currency: Currency,
    pub settings: OrdersFlow,
    pub js: jetstream::Context,
    pub consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub timeline: Option<Arc<Timeline>>,
    pub metrics: Arc<Metrics>,
    /// Channel SKU to ERP SKU, from the mapping's `skuCrossReference`: order lines name the channel's SKU,
    /// the ERP knows its own.
    pub erp_skus: HashMap<String, String>,
}

impl OrderProcess {
    pub async fn run(&self, shutdown: Shutdown) {
        use futures::StreamExt;
        info!(marketplace = %self.marketplace, "order process started");
        while !shutdown.is_triggered() {
            let fetch = self
                .consumer
                .fetch()
                .max_messages(50)
                .expires(std::time::Duration::from_secs(1))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            let Ok(batch) = batch else {
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(500)) => continue,
                    () = shutdown.triggered() => break,
                }
            };
            let messages: Vec<Message> = batch.filter_map(|m| async { m.ok() }).collect().await;
            for message in messages {
                self.handle(&message).await;
            }
        }
        info!(marketplace = %self.marketplace, "order process stopped");
    }

    async fn catalogue(&self, skus: impl Iterator<Item = &Sku>) -> Result<Catalogue, String> {
        let stream_name = self
            .namespace
            .erp_stream(&self.erp_connection, Flow::Inventory)
            .name;
        let stream = self
            .js
            .get_stream(&stream_name)
            .await
            .map_err(|e| format!("opening {stream_name}: {e}"))?;
        let mut known = HashMap::new();
        for sku in skus {
            let subject =
                self.namespace
                    .erp_subject(&self.erp_connection, Flow::Inventory, sku.as_str());
            // No message for the subject: the ERP never published this SKU.
            let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await else {
                continue;
            };
            let headers = from_header_map(&message.headers);
            if let Ok(Event {
                record: Record::Inventory(position),
                ..
            }) = decode(&headers, &message.payload)
            {
                known.insert(sku.to_string(), position);
            }
        }
        Ok(Catalogue(known))
    }

    async fn handle(&self, message: &Message) {
        let headers = message
            .headers
            .as_ref()
            .map(from_header_map)
            .unwrap_or_default();
        let event = match decode(&headers, &message.payload) {
            Ok(event) => event,
            Err(e) => {
                return self
                    .dead_letter(message, ErrorClass::BadPayload, e.to_string())
                    .await;
            }
        };
        let Record::Order(mut order) = event.record else {
            // Cancellations share the subject space; they go to the ERP as they are.
            return self.forward(message, event).await;
        };
        for line in &mut order.lines {
            if let Some(erp_sku) = self.erp_skus.get(line.sku.as_str())
                && let Ok(sku) = Sku::try_from(erp_sku.as_str())
            {
                line.sku = sku;
            }
        }
        let catalogue = match self.catalogue(order.lines.iter().map(|l| &l.sku)).await {
            Ok(catalogue) => catalogue,
            Err(e) => {
                warn!(marketplace = %self.marketplace, error = %e, "cannot read the ERP catalogue; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(std::time::Duration::from_secs(1))))
                    .await;
                return;
            }
        };
        match check_order(*order, &self.settings, self.currency, &catalogue) {
            Ok(order) => {
                let event = Event {
                    record: Record::Order(Box::new(order)),
                    ..event
                };
                self.forward(message, event).await;
            }
            Err(rejections) => {
                let reasons: Vec<String> = rejections.iter().map(ToString::to_string).collect();
                self.dead_letter(
                    message,
                    ErrorClass::Business,
                    format!("order refused: {}", reasons.join("; ")),
                )
                .await;
            }
        }
    }

    /// Publishes the (enriched) record for the ERP under the original id plus `:accepted`, then acks.
    async fn forward(&self, message: &Message, event: Event) {
        let (order_id, correlation_id) = match &event.record {
            Record::Order(o) => (o.order_id.to_string(), o.correlation_id.clone()),
            Record::OrderCancellation(c) => (c.order_id.to_string(), c.correlation_id.clone()),
            other => (
                other.correlation_id().to_string(),
                other.correlation_id().clone(),
            ),
        };
        let subject = self
            .namespace
            .erp_order_subject(&self.marketplace, &order_id);
        let event = Event {
            id: format!("{}:accepted", event.id),
            ..event
        };
        match publish_event(&self.js, &subject, &event, Some(&order_id)).await {
            Ok(_) => {
                let _ = message.ack().await;
                self.metrics
                    .count(&self.marketplace, "orders", Outcome::Out, 1);
                self.step(&correlation_id, Step::Validated, "").await;
            }
            Err(e) => {
                warn!(marketplace = %self.marketplace, correlation_id = %correlation_id, error = %e, "cannot publish the order for the ERP; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(std::time::Duration::from_secs(1))))
                    .await;
            }
        }
    }

    async fn step(&self, id: &crate::canonical::CorrelationId, step: Step, detail: &str) {
        if let Some(timeline) = &self.timeline {
            let entry = TimelineEntry {
                at: Utc::now(),
                step,
                detail: detail.into(),
                by: format!("adapter/{}", self.marketplace),
            };
            if let Err(e) = timeline.append(id, entry).await {
                warn!(correlation_id = %id, error = %e, "timeline not updated");
            }
        }
    }

    async fn dead_letter(&self, message: &Message, class: ErrorClass, reason: String) {
        let (store, metrics) = (&self.dead_letters, &self.metrics);
        let retry = std::time::Duration::from_secs(1);
        let stored = super::dead_letter::dead_letter(
            store,
            metrics,
            message,
            &self.marketplace,
            Flow::Orders,
            class,
            reason.clone(),
            retry,
        )
        .await;
        if let Some(id) = stored.and_then(|id| crate::canonical::CorrelationId::try_from(id).ok()) {
            self.step(&id, Step::DeadLettered, &reason).await;
        }
    }
}
