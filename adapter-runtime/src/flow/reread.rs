//! Raw channel records sent back to the adapter (a replayed dead letter of a record the connector could not read
//! from a poll, a push or a partner's file) are read again by the connector ([`Connector::reread`]) and
//! published as a poll would publish them — same message ids, so a record read twice is stored once — or, when
//! they still cannot be read, dead-lettered again with the new reason, raw as before.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{Consumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use crds::channel::Flow;
use futures::StreamExt;
use tracing::{info, warn};

use crate::connector::Connector;
use crate::jetstream::{DeadLetterStore, ErrorClass, H_REREAD_SUBJECT, Timeline, from_header_map};
use crate::metrics::Metrics;
use crate::topology::Namespace;

use super::Shutdown;
use super::inbound::Reader;

pub struct RereadFlow<C: Connector> {
    pub namespace: String,
    pub marketplace: String,
    pub js: jetstream::Context,
    pub consumer: Consumer<pull::Config>,
    pub connector: Arc<C>,
    pub dead_letters: Arc<DeadLetterStore>,
    pub timeline: Option<Arc<Timeline>>,
    pub metrics: Arc<Metrics>,
}

impl<C: Connector> RereadFlow<C> {
    pub async fn run(&self, shutdown: Shutdown) {
        info!(marketplace = %self.marketplace, "reread flow started");
        while !shutdown.is_triggered() {
            let fetch = self
                .consumer
                .fetch()
                .max_messages(20)
                .expires(Duration::from_secs(1))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            let Ok(batch) = batch else {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    () = shutdown.triggered() => break,
                }
            };
            let messages: Vec<Message> = batch.filter_map(|m| async { m.ok() }).collect().await;
            for message in &messages {
                self.handle(message).await;
            }
        }
        info!(marketplace = %self.marketplace, "reread flow stopped");
    }

    async fn handle(&self, message: &Message) {
        let Some(flow) = flow_of(&self.namespace, &self.marketplace, &message.subject) else {
            super::dead_letter(
                &self.dead_letters,
                &self.metrics,
                message,
                &self.marketplace,
                Flow::Orders,
                ErrorClass::BadPayload,
                format!("{} is not a reread subject", message.subject),
                Duration::from_secs(1),
            )
            .await;
            return;
        };
        let records = match self.connector.reread(flow, &message.payload) {
            Ok(records) => records,
            Err(reason) => {
                self.again(message, flow, reason).await;
                return;
            }
        };
        let reader = Reader {
            js: &self.js,
            namespace: &self.namespace,
            marketplace: &self.marketplace,
            flow,
            timeline: self.timeline.as_deref(),
            metrics: &self.metrics,
        };
        for record in records {
            if let Err(e) = reader.publish(record).await {
                warn!(marketplace = %self.marketplace, %flow, error = %e, "a record read again is not published; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
                return;
            }
        }
        info!(marketplace = %self.marketplace, %flow, "a record from a dead letter was read again and published");
        let _ = message.ack().await;
    }

    /// Still unreadable: dead-lettered again, raw, under the subject of the record it belongs to, so that it can
    /// be replayed once more after the next fix.
    async fn again(&self, message: &Message, flow: Flow, reason: String) {
        let headers = message
            .headers
            .as_ref()
            .map(from_header_map)
            .unwrap_or_default();
        let mut letter = crate::jetstream::DeadLetter {
            marketplace: self.marketplace.clone(),
            flow,
            original_subject: headers
                .get(H_REREAD_SUBJECT)
                .cloned()
                .unwrap_or_else(|| message.subject.to_string()),
            headers,
            payload: message.payload.to_vec(),
            reason: format!("read again from its dead letter: {reason}"),
            class: ErrorClass::BadPayload,
            attempts: 1,
            at: chrono::Utc::now(),
        };
        letter.headers.remove(H_REREAD_SUBJECT);
        match self.dead_letters.put(&letter).await {
            Ok(_) => {
                warn!(marketplace = %self.marketplace, %flow, reason = %letter.reason, "dead-lettered again");
                let _ = message.ack().await;
            }
            Err(e) => {
                warn!(marketplace = %self.marketplace, error = %e, "cannot store the dead letter; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
        }
    }
}

/// The flow of a reread subject of `marketplace` (`tw.<ns>.mp.<marketplace>.reread.<flow>.<key>`).
fn flow_of(namespace: &str, marketplace: &str, subject: &str) -> Option<Flow> {
    let probe = Namespace::new(namespace).reread_subject(marketplace, Flow::Orders, "k");
    let prefix = probe.strip_suffix("orders.k")?;
    let rest = subject.strip_prefix(prefix)?;
    let flow = rest.split('.').next()?;
    Flow::ALL.into_iter().find(|f| f.as_str() == flow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_is_read_from_the_subject() {
        let ns = Namespace::new("shop");
        let subject = ns.reread_subject("walmart-us", Flow::Returns, "R.1");
        assert_eq!(flow_of("shop", "walmart-us", &subject), Some(Flow::Returns));
        assert_eq!(flow_of("shop", "amazon-us", &subject), None);
        assert_eq!(
            flow_of("shop", "walmart-us", "tw.shop.mp.walmart-us.orders.1"),
            None
        );
    }
}
