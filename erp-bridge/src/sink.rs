//! The sink's consumer loop, the same for every target (REST, PostgreSQL, NATS): orders that passed the order
//! process, cancellations, and the channel's returns and settlements are read from JetStream and delivered to
//! the ERP as the ERP contract says ([`crate::contract`]): a sales order created once per channel order, a
//! later revision sent as an update only when something the ERP acts on changed, each request with an
//! idempotency key taken from the record, so a retry, a redelivery after a crash or a replay is the same
//! request, never a second one. A message is acknowledged only after the target has it and the order's state
//! ([`crate::order_state`]) says so.
//!
//! Pacing: at most `concurrency` deliveries are in flight in the whole bridge (one semaphore shared by every
//! marketplace's and flow's consumer), and each goes through the sink's rate-limit guard (the target's
//! operation in the `RateLimitPolicy`), so in a flash sale orders wait in JetStream and the ERP is never
//! overrun. The records of one order are handled one after the other, in stream order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{AcknowledgementOutcome, Order, OrderAcknowledgement, Record};
use adapter_runtime::connector::{ConnectorError, FailureKind};
use adapter_runtime::envelope::{Event, decode};
use adapter_runtime::flow::{Shutdown, dead_letter};
use adapter_runtime::jetstream::{
    DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry, from_header_map, publish_event,
};
use adapter_runtime::metrics::{Metrics, Outcome};
use adapter_runtime::topology::{ConsumerDef, Namespace, OrderUpdateKind};
use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use crds::channel::Flow;
use futures::StreamExt;
use tracing::{debug, info, warn};

use crate::contract::{Operation, SentOrder, decide};
use crate::nats_sink::NatsTarget;
use crate::order_state::{OrderStates, Read};
use crate::pg_sink::PgTarget;
use crate::rest_sink::RestTarget;

/// The operation names of the deliveries in the sink's `RateLimitPolicy`, whatever the target: a sales order's
/// creation, updates and cancellations all count against `postSalesOrder`.
pub const POST_ORDER_OPERATION: &str = "postSalesOrder";
pub const POST_RETURN_OPERATION: &str = "postReturn";
pub const POST_SETTLEMENT_OPERATION: &str = "postSettlement";

/// The flows a sink delivers, each from its own durable consumer.
pub const SINK_FLOWS: [Flow; 3] = [Flow::Orders, Flow::Returns, Flow::Settlements];

/// What the ERP has, once a delivery succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// The ERP answered with its sales-order number (REST orders).
    SalesOrder(String),
    /// Stored for the ERP to pick up, or taken without a number; `duplicate` when it already had it.
    Stored { duplicate: bool },
}

impl Delivered {
    fn number(&self) -> Option<String> {
        match self {
            Delivered::SalesOrder(number) => Some(number.clone()),
            Delivered::Stored { .. } => None,
        }
    }
}

/// Where the records go.
pub enum Target {
    Rest(RestTarget),
    Postgres(PgTarget),
    Nats(NatsTarget),
}

impl Target {
    /// Sends one operation of the contract; `event` is the message it comes from (its trace context).
    pub async fn deliver(
        &self,
        operation: &Operation,
        event: &Event,
    ) -> Result<Delivered, ConnectorError> {
        match self {
            Target::Rest(t) => t.deliver(operation).await,
            Target::Postgres(t) => t.deliver(operation).await,
            Target::Nats(t) => t.deliver(operation, event).await,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Rest(_) => "rest",
            Target::Postgres(_) => "postgres",
            Target::Nats(_) => "nats",
        }
    }
}

/// The guard operation of a delivery.
pub fn operation(operation: &Operation) -> &'static str {
    match operation {
        Operation::Return(_) => POST_RETURN_OPERATION,
        Operation::Settlement(_) => POST_SETTLEMENT_OPERATION,
        _ => POST_ORDER_OPERATION,
    }
}

/// The durable consumer of `flow` for one marketplace: orders that passed the order process
/// (`erp_sink_consumer`), or the channel's returns or settlements as published by its inbound flow.
pub fn consumer_def(
    ns: &Namespace,
    erp: &str,
    marketplace: &str,
    flow: Flow,
    max_ack_pending: i64,
) -> ConsumerDef {
    let orders = ns.erp_sink_consumer(erp, marketplace, max_ack_pending);
    if flow == Flow::Orders {
        return orders;
    }
    // `marketplace_subject` with a placeholder key gives the flow's subject; its wildcard replaces the key.
    let one = ns.marketplace_subject(marketplace, flow, "k");
    let prefix = one.strip_suffix(".k").unwrap_or(&one);
    ConsumerDef {
        durable_name: format!("{}-{}", orders.durable_name, flow.as_str()),
        filter_subjects: vec![format!("{prefix}.>")],
        ..orders
    }
}

pub struct Sink {
    pub namespace: Namespace,
    pub namespace_name: String,
    pub erp: String,
    pub marketplace: String,
    pub flow: Flow,
    /// Records fetched per round trip.
    pub concurrency: usize,
    /// Deliveries in flight across every consumer of the sink, at most the sink's concurrency.
    pub permits: Arc<tokio::sync::Semaphore>,
    pub target: Arc<Target>,
    pub js: jetstream::Context,
    pub consumer: Consumer<pull::Config>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub timeline: Arc<Timeline>,
    pub metrics: Arc<Metrics>,
    /// What was last sent about each order.
    pub states: Arc<OrderStates>,
}

impl Sink {
    pub async fn run(self, shutdown: Shutdown) {
        info!(erp = %self.erp, marketplace = %self.marketplace, flow = %self.flow, target = self.target.name(), "ERP sink started");
        while !shutdown.is_triggered() {
            let fetch = self
                .consumer
                .fetch()
                .max_messages(self.concurrency.max(1))
                .expires(Duration::from_millis(500))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            let messages: Vec<Message> = match batch {
                Ok(stream) => stream.filter_map(|m| async { m.ok() }).collect().await,
                Err(e) => {
                    warn!(erp = %self.erp, error = %e, "ERP sink: fetch failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {},
                        () = shutdown.triggered() => break,
                    }
                    continue;
                }
            };
            // One order's records one after the other (a create before its update), orders side by side.
            let mut by_order: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
            for message in &messages {
                by_order
                    .entry(message.subject.as_str())
                    .or_default()
                    .push(message);
            }
            let this = &self;
            futures::future::join_all(by_order.into_values().map(|group| async move {
                for message in group {
                    this.handle(message).await;
                }
            }))
            .await;
        }
        info!(erp = %self.erp, marketplace = %self.marketplace, flow = %self.flow, "ERP sink stopped");
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
                self.fail(message, ErrorClass::BadPayload, e.to_string())
                    .await;
                return;
            }
        };
        let expected = matches!(
            (self.flow, &event.record),
            (
                Flow::Orders,
                Record::Order(_) | Record::OrderCancellation(_)
            ) | (Flow::Returns, Record::Return(_))
                | (Flow::Settlements, Record::Settlement(_))
        );
        if !expected {
            if matches!(event.record, Record::OrderAcknowledgement(_)) {
                let _ = message.ack().await; // an answer to the channel shares the subjects; not the ERP's
                return;
            }
            self.fail(
                message,
                ErrorClass::Permanent,
                format!(
                    "the {} sink of {} takes no {} record",
                    self.flow,
                    self.erp,
                    event.record.event_type()
                ),
            )
            .await;
            return;
        }
        let order = order_of(&event.record);
        let read = match order {
            Some((marketplace, order_id)) => match self.states.get(marketplace, order_id).await {
                Ok(read) => read,
                Err(e) => {
                    warn!(erp = %self.erp, error = %e, "the order state cannot be read; the record waits");
                    self.retry(message).await;
                    return;
                }
            },
            None => Read::default(),
        };
        let operation = match decide(&event.record, read.sent.as_ref()) {
            Ok(operation) => operation,
            Err(unsent) => {
                debug!(erp = %self.erp, flow = %self.flow, correlation_id = %event.record.correlation_id(), ?unsent, "nothing for the ERP");
                self.metrics
                    .count(&self.marketplace, self.flow.as_str(), Outcome::Coalesced, 1);
                let _ = message.ack().await;
                return;
            }
        };
        let key = operation.key();
        let Ok(_permit) = self.permits.acquire().await else {
            return; // closed only when the bridge stops; the message is redelivered
        };
        match self.target.deliver(&operation, &event).await {
            Ok(delivered) => {
                // The answer to the channel first, then the order's state: a state written means everything
                // that follows the delivery was done, so a redelivery that finds it may just be acknowledged.
                if !self.delivered(&event, &operation, &delivered).await {
                    self.retry(message).await;
                    return;
                }
                if let Some((marketplace, order_id)) = order {
                    let sent = SentOrder::after(read.sent.as_ref(), &operation, delivered.number());
                    if let Err(e) = self.states.put(marketplace, order_id, &read, &sent).await {
                        // The ERP has it; the redelivery sends the same request under the same key.
                        warn!(erp = %self.erp, key = %key, error = %e, "the order state is not written; the record comes again");
                        self.retry(message).await;
                        return;
                    }
                }
                let _ = message.ack().await;
            }
            Err(e) if e.kind == FailureKind::Retryable => {
                warn!(erp = %self.erp, flow = %self.flow, key = %key, error = %e, "ERP unavailable; the record waits in JetStream");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
            }
            Err(e) => {
                // A refused creation is the order's rejection; a refused update or cancellation is not (the
                // order stands as created), it waits for a person in the dead letter.
                if let Operation::Create(order) = &operation {
                    self.answer(
                        &event,
                        order,
                        OrderUpdateKind::Rejected,
                        AcknowledgementOutcome::Rejected {
                            reason: e.message.chars().take(500).collect(),
                        },
                    )
                    .await;
                }
                let class = match e.kind {
                    FailureKind::Exhausted => ErrorClass::Exhausted,
                    _ => ErrorClass::Permanent,
                };
                self.fail(
                    message,
                    class,
                    format!("the ERP refused the {} {key}: {e}", operation.name()),
                )
                .await;
            }
        }
    }

    /// Redelivered a second later.
    async fn retry(&self, message: &Message) {
        let _ = message
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await;
    }

    /// Publishes what follows a delivery: the ERP's sales-order number back to the channel (for a creation), and
    /// the timeline. False when the answer could not be published (the record is redelivered).
    async fn delivered(&self, event: &Event, operation: &Operation, delivered: &Delivered) -> bool {
        if let (Operation::Create(order), Delivered::SalesOrder(number)) = (operation, delivered) {
            let published = self
                .answer(
                    event,
                    order,
                    OrderUpdateKind::Accepted,
                    AcknowledgementOutcome::Accepted {
                        erp_order_number: number.clone(),
                    },
                )
                .await;
            if !published {
                return false;
            }
        }
        let what = match operation {
            Operation::Update { changed, .. } => {
                let parts: Vec<&str> = changed.iter().map(|p| p.as_str()).collect();
                format!("update ({})", parts.join(", "))
            }
            other => other.name().to_string(),
        };
        let detail = match delivered {
            Delivered::SalesOrder(number) => format!("{what} {number}"),
            Delivered::Stored { duplicate } => format!(
                "{what} to the {} sink{}",
                self.target.name(),
                if *duplicate { " (already there)" } else { "" }
            ),
        };
        let _ = self
            .timeline
            .append(
                event.record.correlation_id(),
                TimelineEntry {
                    at: Utc::now(),
                    step: Step::PostedToErp,
                    detail,
                    by: format!("erp-bridge/{}", self.erp),
                },
            )
            .await;
        self.metrics
            .count(&self.marketplace, self.flow.as_str(), Outcome::Out, 1);
        true
    }

    /// Publishes the ERP's answer for the channel flow, with an id naming the order and the answer (not the
    /// order's revision): a redelivered order, or a new revision of it, answers the channel once within the
    /// order-update stream's de-duplication window (a channel refuses a second acceptance of an order).
    async fn answer(
        &self,
        event: &Event,
        order: &Order,
        kind: OrderUpdateKind,
        outcome: AcknowledgementOutcome,
    ) -> bool {
        let subject = self.namespace.order_update_subject(
            &self.erp,
            order.marketplace.as_str(),
            order.order_id.as_str(),
            kind,
        );
        let answer = Event {
            id: format!(
                "{}:{}:erp-{}",
                order.marketplace.as_str(),
                order.order_id.as_str(),
                kind.as_str()
            ),
            source: crate::ingest::erp_source(&self.namespace_name, &self.erp),
            time: Utc::now(),
            traceparent: event.traceparent.clone(),
            record: Record::OrderAcknowledgement(OrderAcknowledgement {
                correlation_id: order.correlation_id.clone(),
                marketplace: order.marketplace.clone(),
                order_id: order.order_id.clone(),
                outcome,
                at: Utc::now(),
            }),
        };
        match publish_event(&self.js, &subject, &answer, Some(order.order_id.as_str())).await {
            Ok(_) => true,
            Err(e) => {
                warn!(erp = %self.erp, order = %order.order_id, error = %e, "cannot publish the ERP's answer");
                false
            }
        }
    }

    async fn fail(&self, message: &Message, class: ErrorClass, reason: String) {
        dead_letter(
            &self.dead_letters,
            &self.metrics,
            message,
            &self.marketplace,
            self.flow,
            class,
            reason,
            Duration::from_secs(2),
        )
        .await;
    }
}

/// The channel order a record is about, when it is one whose state the bridge keeps (orders, cancellations).
fn order_of(record: &Record) -> Option<(&str, &str)> {
    match record {
        Record::Order(o) => Some((o.marketplace.as_str(), o.order_id.as_str())),
        Record::OrderCancellation(c) => Some((c.marketplace.as_str(), c.order_id.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_and_settlements_have_consumers_of_their_own() {
        let ns = Namespace::new("demo");
        let orders = consumer_def(&ns, "erp", "amazon-us", Flow::Orders, 10);
        assert_eq!(orders, ns.erp_sink_consumer("erp", "amazon-us", 10));
        let returns = consumer_def(&ns, "erp", "amazon-us", Flow::Returns, 10);
        assert_eq!(
            returns.durable_name,
            format!("{}-returns", orders.durable_name)
        );
        assert_eq!(returns.filter_subjects, ["tw.demo.mp.amazon-us.returns.>"]);
        assert_eq!(returns.stream, orders.stream);
    }
}
