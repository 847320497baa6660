//! The PostgreSQL transactional-outbox source: unsent rows are claimed in id order with `FOR UPDATE SKIP
//! LOCKED`, published to JetStream with an idempotent message id (`<erp>:outbox:<row id>`), and marked sent in
//! the same transaction, in batches. A crash between publishing and marking republishes the batch, which
//! JetStream's de-duplication drops; a row is never marked sent before JetStream has it.
//!
//! Latency: the bridge `LISTEN`s on a channel named like the table; an ERP that notifies it on commit (see
//! the trigger in docs/erp.md) has its rows published at once, otherwise within `pollInterval`.
//!
//! Per-SKU order: rows are published in id order from one connection and JetStream keeps that order. Two
//! bridge replicas would each claim different rows, possibly of one SKU, so the bridge runs as one replica
//! per `ErpConnection` (the operator renders it so).

use std::time::Duration;

use adapter_runtime::canonical::{Record, Validate};
use adapter_runtime::envelope::{Event, encode};
use adapter_runtime::flow::Shutdown;
use adapter_runtime::jetstream::{DeadLetter, DeadLetterStore, ErrorClass, to_header_map};
use adapter_runtime::metrics::{Metrics, Outcome};
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use crds::channel::Flow;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};
use tracing::{info, warn};

pub use crate::ingest::subject_for;

/// An outbox row as read.
struct Row {
    id: i64,
    payload: serde_json::Value,
    created_at: String,
}

pub struct OutboxSource {
    pub namespace: Namespace,
    pub namespace_name: String,
    pub erp: String,
    pub dsn: String,
    pub table: String,
    pub batch_size: u32,
    pub poll_interval: Duration,
    pub js: jetstream::Context,
    pub dead_letters: std::sync::Arc<DeadLetterStore>,
    pub metrics: std::sync::Arc<Metrics>,
}

impl OutboxSource {
    /// Drains the outbox until `shutdown`, reconnecting to PostgreSQL after failures.
    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_triggered() {
            let (mut client, mut wake) = match connect(&self.dsn, &self.table).await {
                Ok(connected) => connected,
                Err(e) => {
                    warn!(erp = %self.erp, error = %e, "outbox: cannot connect to PostgreSQL; retrying");
                    if wait(&shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_millis(200);
            info!(erp = %self.erp, table = %self.table, "outbox: connected");
            loop {
                match self.drain_once(&mut client).await {
                    Ok(0) => {
                        // Empty: wait for the ERP's NOTIFY, or the poll interval when it sends none.
                        tokio::select! {
                            () = tokio::time::sleep(self.poll_interval) => {},
                            _ = wake.recv() => {},
                            () = shutdown.triggered() => return,
                        }
                    }
                    Ok(_) if shutdown.is_triggered() => return,
                    Ok(_) => {}
                    Err(e) => {
                        warn!(erp = %self.erp, error = %e, "outbox: batch not published; it will be retried");
                        if client.is_closed() {
                            break;
                        }
                        if wait(&shutdown, backoff).await {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Claims, publishes and marks one batch; returns how many rows it handled.
    pub async fn drain_once(&self, client: &mut Client) -> Result<usize, String> {
        let tx = client.transaction().await.map_err(|e| e.to_string())?;
        let query = format!(
            "SELECT id, payload, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
             FROM {} WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            quoted_table(&self.table)?
        );
        let limit = i64::from(self.batch_size.max(1));
        let rows: Vec<Row> = tx
            .query(&query, &[&limit])
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| Row {
                id: r.get(0),
                payload: r.get(1),
                created_at: r.get(2),
            })
            .collect();
        if rows.is_empty() {
            return Ok(0);
        }
        // Publish the whole batch, then wait for every acknowledgement in order: one round trip per batch.
        let label = format!("erp:{}", self.erp);
        let mut acks = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.event(row) {
                Ok((subject, flow, event, key)) => {
                    let (headers, payload) =
                        encode(&event, Some(&key)).map_err(|e| e.to_string())?;
                    let ack = self
                        .js
                        .publish_with_headers(subject, to_header_map(&headers), payload.into())
                        .await
                        .map_err(|e| e.to_string())?;
                    acks.push((flow, ack));
                }
                Err((flow, reason)) => {
                    self.dead_letter(row, flow, reason).await?;
                    self.metrics
                        .count(&label, flow.as_str(), Outcome::Failed, 1);
                }
            }
        }
        let mut published = Vec::with_capacity(acks.len());
        for (flow, ack) in acks {
            published.push((flow, ack.await.map_err(|e| e.to_string())?.duplicate));
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        tx.execute(
            &format!(
                "UPDATE {} SET sent_at = now() WHERE id = ANY($1)",
                quoted_table(&self.table)?
            ),
            &[&ids],
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        // Counted once committed: a batch that is republished after a failure counts when it finally goes.
        for (flow, duplicate) in published {
            let counted = if duplicate {
                Outcome::Coalesced
            } else {
                Outcome::Out
            };
            self.metrics.count(&label, flow.as_str(), counted, 1);
        }
        Ok(rows.len())
    }

    /// The event of a row, or why it cannot be one (with the flow it was meant for, for the dead letter).
    fn event(&self, row: &Row) -> Result<(String, Flow, Event, String), (Flow, String)> {
        let record: Record = serde_json::from_value(row.payload.clone()).map_err(|e| {
            (
                flow_hint(&row.payload),
                format!(
                    "outbox row {}: payload is not a canonical record: {e}",
                    row.id
                ),
            )
        })?;
        let problems = record.problems();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err((
                flow_hint(&row.payload),
                format!("outbox row {}: {}", row.id, text.join("; ")),
            ));
        }
        let (subject, flow, key) = subject_for(&self.namespace, &self.erp, &record)
            .map_err(|e| (Flow::Inventory, format!("outbox row {}: {e}", row.id)))?;
        let time = DateTime::parse_from_rfc3339(&row.created_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        Ok((
            subject,
            flow,
            Event {
                id: format!("{}:outbox:{}", self.erp, row.id),
                source: crate::ingest::erp_source(&self.namespace_name, &self.erp),
                time,
                traceparent: None,
                record,
            },
            key,
        ))
    }

    /// A row that cannot be published is kept, with why, in the dead-letter stream; the rows behind it go on.
    async fn dead_letter(&self, row: &Row, flow: Flow, reason: String) -> Result<(), String> {
        warn!(erp = %self.erp, row = row.id, reason = %reason, "outbox: dead-lettering a row");
        let letter = DeadLetter {
            marketplace: format!("erp:{}", self.erp),
            flow,
            original_subject: format!("outbox:{}:{}", self.table, row.id),
            headers: Default::default(),
            payload: serde_json::to_vec(&row.payload).unwrap_or_default(),
            reason,
            class: ErrorClass::BadPayload,
            attempts: 1,
            at: Utc::now(),
        };
        self.dead_letters
            .put(&letter)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The record of an outbox row that was dead-lettered (its dead letter's original subject is
/// `outbox:<table>:<row id>`), read again with this bridge's code, routed as the outbox would publish it: message
/// id `<erp>:outbox:<row id>`, so a replay that JetStream already took is dropped. `twctl dlq replay` publishes
/// it; an error says why the row still is not a record (the dead letter stays).
pub fn replayed(
    ns: &Namespace,
    namespace_name: &str,
    letter: &DeadLetter,
) -> Result<crate::ingest::Routed, String> {
    let erp = letter
        .from_erp()
        .ok_or_else(|| format!("{} is not an ERP's dead letter", letter.marketplace))?;
    let row = letter
        .original_subject
        .strip_prefix("outbox:")
        .and_then(|rest| rest.rsplit(':').next())
        .ok_or_else(|| format!("{} is not an outbox row", letter.original_subject))?;
    let payload: serde_json::Value = serde_json::from_slice(&letter.payload)
        .map_err(|e| format!("outbox row {row}: payload is not JSON: {e}"))?;
    let record =
        crate::ingest::parse_record(&payload).map_err(|e| format!("outbox row {row}: {e}"))?;
    crate::ingest::route(
        ns,
        namespace_name,
        erp,
        format!("{erp}:outbox:{row}"),
        record,
        None,
    )
}

/// The flow a malformed payload was probably meant for, from its `type`.
fn flow_hint(payload: &serde_json::Value) -> Flow {
    match payload.get("type").and_then(|t| t.as_str()) {
        Some("price") => Flow::Price,
        Some("product") => Flow::Catalog,
        Some("shipment") => Flow::Shipments,
        Some("invoice") => Flow::Invoices,
        Some("orderCancellation") => Flow::Orders,
        _ => Flow::Inventory,
    }
}

/// The table name, checked (the schema allows `schema.table` of lower-case identifiers) and quoted.
pub fn quoted_table(table: &str) -> Result<String, String> {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !part.starts_with(|c: char| c.is_ascii_digit())
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| valid(p)) {
        return Err(format!(
            "spec.source.postgresOutbox.table: not a lower-case table name (value: {table:?})"
        ));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

/// Connects and listens on the channel named like the table (`LISTEN "tradewind_outbox"`); the receiver
/// yields once per notification (coalesced: one pending wake is enough).
async fn connect(dsn: &str, table: &str) -> Result<(Client, mpsc::Receiver<()>), String> {
    let (client, mut connection) = tokio_postgres::connect(dsn, NoTls)
        .await
        .map_err(|e| format!("connecting to the outbox database: {e}"))?;
    let (wake, woken) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = wake.try_send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", notify_channel(table)))
        .await
        .map_err(|e| format!("listening for outbox notifications: {e}"))?;
    Ok((client, woken))
}

/// The notification channel of an outbox table: its name as written (`tradewind_outbox`, `erp.outbox`),
/// quoted as one identifier.
pub fn notify_channel(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

/// Waits `duration` or until shutdown; `true` when shutting down.
async fn wait(shutdown: &Shutdown, duration: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => shutdown.is_triggered(),
        () = shutdown.triggered() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_checked_and_quoted() {
        assert_eq!(
            quoted_table("tradewind_outbox"),
            Ok("\"tradewind_outbox\"".into())
        );
        assert_eq!(quoted_table("erp.outbox"), Ok("\"erp\".\"outbox\"".into()));
        assert!(quoted_table("outbox; DROP TABLE x").is_err());
        assert!(quoted_table("Outbox").is_err());
    }
}
