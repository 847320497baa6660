//! The ERP REST sink: orders that passed the order process are posted to the ERP's sales-order API with an
//! idempotency key equal to the order's message id, so a retry or a redelivery after a crash is the same
//! request to the ERP, never a second order. The ERP's sales-order number goes back as an accepted
//! `OrderAcknowledgement` (which the channel flow uses to acknowledge the order), and into the timeline.
//!
//! Pacing: at most `concurrency` orders are in flight, and each call goes through the sink's rate-limit guard,
//! so in a flash sale orders wait in JetStream and the ERP is never overrun.

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{AcknowledgementOutcome, OrderAcknowledgement, Record};
use adapter_runtime::connector::FailureKind;
use adapter_runtime::connectors::http::{classify_status, read_json, send_guarded};
use adapter_runtime::envelope::{Event, H_MSG_ID, decode};
use adapter_runtime::flow::{Shutdown, dead_letter};
use adapter_runtime::jetstream::{
    DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry, from_header_map, publish_event,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use crds::channel::Flow;
use futures::StreamExt;
use serde::Deserialize;
use tracing::{info, warn};

/// The operation name of a sales-order post in the sink's `RateLimitPolicy`.
pub const POST_ORDER_OPERATION: &str = "postSalesOrder";

pub struct RestSink {
    pub namespace: Namespace,
    pub namespace_name: String,
    pub erp: String,
    pub marketplace: String,
    pub orders_url: String,
    pub token: Option<String>,
    pub idempotency_header: String,
    pub concurrency: usize,
    pub http: reqwest::Client,
    pub resilience: Arc<Resilience>,
    pub js: jetstream::Context,
    pub consumer: Consumer<pull::Config>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub timeline: Arc<Timeline>,
    pub metrics: Arc<Metrics>,
}

#[derive(Deserialize)]
struct SalesOrderAnswer {
    number: String,
}

impl RestSink {
    pub async fn run(self, shutdown: Shutdown) {
        info!(erp = %self.erp, marketplace = %self.marketplace, "ERP sink started");
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
            futures::future::join_all(messages.iter().map(|m| self.handle(m))).await;
        }
        info!(erp = %self.erp, marketplace = %self.marketplace, "ERP sink stopped");
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
        let Record::Order(order) = &event.record else {
            self.fail(
                message,
                ErrorClass::Permanent,
                format!(
                    "the REST sink posts orders; a {} is kept here for an operator",
                    event.record.event_type()
                ),
            )
            .await;
            return;
        };
        let key = headers
            .get(H_MSG_ID)
            .cloned()
            .unwrap_or_else(|| event.id.clone());
        let result = send_guarded(
            &self.resilience,
            POST_ORDER_OPERATION,
            1,
            || {
                let request = self
                    .http
                    .post(&self.orders_url)
                    .header(self.idempotency_header.as_str(), &key)
                    .json(order.as_ref());
                match &self.token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            },
            classify_status,
        )
        .await;
        let answer = match result {
            Ok(response) => read_json::<SalesOrderAnswer>(response, "the ERP's answer").await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(answer) => {
                if self.accepted(&event, order, &answer.number).await {
                    let _ = message.ack().await;
                } else {
                    // The ERP has the order; posting it again returns the same number, so the answer is
                    // published on the redelivery.
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
            Err(e) if e.kind == FailureKind::Retryable => {
                warn!(erp = %self.erp, order = %order.order_id, error = %e, "ERP unavailable; the order waits in JetStream");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
            }
            Err(e) => {
                self.rejected(&event, order, &e.message).await;
                let class = match e.kind {
                    FailureKind::Exhausted => ErrorClass::Exhausted,
                    _ => ErrorClass::Permanent,
                };
                self.fail(message, class, format!("the ERP refused the order: {e}"))
                    .await;
            }
        }
    }

    async fn accepted(
        &self,
        event: &Event,
        order: &adapter_runtime::canonical::Order,
        number: &str,
    ) -> bool {
        let published = self
            .answer(
                event,
                order,
                OrderUpdateKind::Accepted,
                AcknowledgementOutcome::Accepted {
                    erp_order_number: number.to_string(),
                },
            )
            .await;
        if !published {
            return false;
        }
        let _ = self
            .timeline
            .append(
                &order.correlation_id,
                TimelineEntry {
                    at: Utc::now(),
                    step: Step::PostedToErp,
                    detail: number.to_string(),
                    by: format!("erp-bridge/{}", self.erp),
                },
            )
            .await;
        self.metrics.count(
            &self.marketplace,
            "orders",
            adapter_runtime::metrics::Outcome::Out,
            1,
        );
        published
    }

    async fn rejected(
        &self,
        event: &Event,
        order: &adapter_runtime::canonical::Order,
        reason: &str,
    ) {
        let _ = self
            .answer(
                event,
                order,
                OrderUpdateKind::Rejected,
                AcknowledgementOutcome::Rejected {
                    reason: reason.chars().take(500).collect(),
                },
            )
            .await;
    }

    /// Publishes the ERP's answer for the channel flow, with an id derived from the order's so that a
    /// redelivered order answers once.
    async fn answer(
        &self,
        event: &Event,
        order: &adapter_runtime::canonical::Order,
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
            id: format!("{}:erp-{}", event.id, kind.as_str()),
            source: format!("/tradewind/{}/erp/{}", self.namespace_name, self.erp),
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
            Flow::Orders,
            class,
            reason,
            Duration::from_secs(2),
        )
        .await;
    }
}
