//! The PostgreSQL target: each operation of the ERP contract is inserted as a row into the ERP's database,
//! keyed by its idempotency key, with `ON CONFLICT DO NOTHING`, so a redelivery (a retry, a bridge killed
//! between the insert and the acknowledgement, a restart) finds the row there and inserts nothing: exactly
//! once in effect. A sales order's creation is a row of `tradewind_orders` (one per channel order); its updates
//! and cancellations are rows of `tradewind_order_updates`, their `kind` saying which. The ERP reads the tables
//! and answers orders through its source (an `orderAcknowledgement` record).
//!
//! The bridge creates the tables (`DDL`, also in docs/erp.md) when they are missing; a role without the right
//! to create them needs a DBA to run it once. Connections: up to [`CONNECTIONS`], reconnected after failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use adapter_runtime::connector::ConnectorError;
use adapter_runtime::resilience::{Failure, Resilience};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};
use tracing::{info, warn};

use crate::contract::Operation;
use crate::sink::{Delivered, operation};

/// Connections to the sink database at most (inserts are pipelined on each).
pub const CONNECTIONS: usize = 4;

/// The tables, in schema `{schema}`; `message_id` is the idempotency key.
pub const DDL: &str = r#"
CREATE TABLE IF NOT EXISTS {schema}.tradewind_orders (
    message_id     text        PRIMARY KEY,   -- <marketplace>:<order id>: one row per channel order
    marketplace    text        NOT NULL,
    order_id       text        NOT NULL,
    correlation_id text        NOT NULL,
    record         jsonb       NOT NULL,      -- the canonical order as created
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.tradewind_order_updates (
    message_id     text        PRIMARY KEY,   -- <marketplace>:<order id>:update:<revision> or ...:cancel[:<lines>]
    marketplace    text        NOT NULL,
    order_id       text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('update', 'cancel')),
    revision       bigint,                    -- the order's revision (updates)
    changed        text,                      -- what changed, comma-separated: lines, totals, shipTo, fulfilment
    correlation_id text        NOT NULL,
    record         jsonb       NOT NULL,      -- the canonical order (update) or order cancellation (cancel)
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.tradewind_returns (
    message_id     text        PRIMARY KEY,   -- <marketplace>:return:<return id>:<status>
    marketplace    text        NOT NULL,
    order_id       text        NOT NULL,
    return_id      text        NOT NULL,
    status         text        NOT NULL,
    correlation_id text        NOT NULL,
    record         jsonb       NOT NULL,      -- the canonical return
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.tradewind_settlements (
    message_id     text        PRIMARY KEY,   -- <marketplace>:settlement:<settlement id>
    marketplace    text        NOT NULL,
    settlement_id  text        NOT NULL,
    currency       text        NOT NULL,
    total          numeric     NOT NULL,      -- exact decimal, never a float
    correlation_id text        NOT NULL,
    record         jsonb       NOT NULL,      -- the canonical settlement, line by line
    received_at    timestamptz NOT NULL DEFAULT now()
);
"#;

/// The DDL for `schema` (checked by the CRD schema: an identifier), quoted.
pub fn ddl(schema: &str) -> String {
    DDL.replace("{schema}", &quote(schema))
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The insert of an operation: statement and its text parameters (`record` is cast from text to jsonb and
/// `total` to numeric in SQL, so that money is never a float on the way).
pub fn insert(
    schema: &str,
    operation: &Operation,
) -> Result<(String, Vec<Option<String>>), String> {
    let schema = quote(schema);
    let key = operation.key();
    let json = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map(|v| Some(v.to_string()))
            .map_err(|e| format!("encoding the record: {e}"))
    };
    let some = |s: &dyn ToString| Some(s.to_string());
    let updates = format!(
        "INSERT INTO {schema}.tradewind_order_updates (message_id, marketplace, order_id, kind, revision, changed, \
         correlation_id, record) VALUES ($1, $2, $3, $4, $5::text::bigint, $6, $7, $8::text::jsonb) \
         ON CONFLICT (message_id) DO NOTHING"
    );
    Ok(match operation {
        Operation::Create(o) => (
            format!(
                "INSERT INTO {schema}.tradewind_orders (message_id, marketplace, order_id, correlation_id, record) \
                 VALUES ($1, $2, $3, $4, $5::text::jsonb) ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                Some(key),
                some(&o.marketplace),
                some(&o.order_id),
                some(&o.correlation_id),
                json(serde_json::to_value(o.as_ref()))?,
            ],
        ),
        Operation::Update { order: o, changed } => (
            updates,
            vec![
                Some(key),
                some(&o.marketplace),
                some(&o.order_id),
                some(&"update"),
                some(&o.revision),
                Some(
                    changed
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                some(&o.correlation_id),
                json(serde_json::to_value(o.as_ref()))?,
            ],
        ),
        Operation::Cancel(c) => (
            updates,
            vec![
                Some(key),
                some(&c.marketplace),
                some(&c.order_id),
                some(&"cancel"),
                None,
                None,
                some(&c.correlation_id),
                json(serde_json::to_value(c))?,
            ],
        ),
        Operation::Return(r) => (
            format!(
                "INSERT INTO {schema}.tradewind_returns (message_id, marketplace, order_id, return_id, status, \
                 correlation_id, record) VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) \
                 ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                Some(key),
                some(&r.marketplace),
                some(&r.order_id),
                Some(r.return_id.clone()),
                Some(format!("{:?}", r.status)),
                some(&r.correlation_id),
                json(serde_json::to_value(r))?,
            ],
        ),
        Operation::Settlement(s) => (
            format!(
                "INSERT INTO {schema}.tradewind_settlements (message_id, marketplace, settlement_id, currency, \
                 total, correlation_id, record) VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7::text::jsonb) \
                 ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                Some(key),
                some(&s.marketplace),
                Some(s.settlement_id.clone()),
                some(&s.currency),
                some(&s.total.amount),
                some(&s.correlation_id),
                json(serde_json::to_value(s))?,
            ],
        ),
    })
}

pub struct PgTarget {
    dsn: String,
    schema: String,
    resilience: Arc<Resilience>,
    clients: Vec<Mutex<Option<Arc<Client>>>>,
    next: AtomicUsize,
}

impl PgTarget {
    pub fn new(
        dsn: String,
        schema: String,
        resilience: Arc<Resilience>,
        connections: usize,
    ) -> Self {
        Self {
            dsn,
            schema,
            resilience,
            clients: (0..connections.clamp(1, CONNECTIONS))
                .map(|_| Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub async fn deliver(&self, op: &Operation) -> Result<Delivered, ConnectorError> {
        let (statement, params) = insert(&self.schema, op).map_err(ConnectorError::permanent)?;
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let guard = self.resilience.guard(operation(op));
        let inserted = guard
            .run(1, || async {
                let client = self.client().await.map_err(Failure::Retryable)?;
                client
                    .execute(statement.as_str(), &params)
                    .await
                    .map_err(|e| classify(&e))
            })
            .await
            .map_err(ConnectorError::from_outcome)?;
        Ok(Delivered::Stored {
            duplicate: inserted == 0,
        })
    }

    /// A connected client, round-robin over the slots; a closed one is replaced.
    async fn client(&self) -> Result<Arc<Client>, String> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        let mut client = self.clients[slot].lock().await;
        if let Some(c) = client.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (fresh, connection) = tokio_postgres::connect(&self.dsn, NoTls)
            .await
            .map_err(|e| format!("connecting to the sink database: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        if let Err(e) = fresh.batch_execute(&ddl(&self.schema)).await {
            // Tables made by a DBA may exist while the role cannot create them; the insert tells.
            warn!(schema = %self.schema, error = %e, "PostgreSQL sink: cannot create the tables");
        } else {
            info!(schema = %self.schema, "PostgreSQL sink: connected, tables in place");
        }
        let fresh = Arc::new(fresh);
        *client = Some(fresh.clone());
        Ok(fresh)
    }
}

/// A failed statement: a lost connection or an unavailable server is retried; what the database refuses for
/// the data itself (a constraint, a missing table or column, no permission) is permanent.
fn classify(error: &tokio_postgres::Error) -> Failure<String> {
    let text = error.to_string();
    match error.code() {
        Some(code) => {
            let class = &code.code()[..2.min(code.code().len())];
            let text = match error.as_db_error() {
                Some(db) => format!("{}: {}", code.code(), db.message()),
                None => text,
            };
            // 08 connection, 40 transaction rollback (serialization, deadlock), 53 resources, 57 operator
            // intervention (shutdown), 58 system error.
            if matches!(class, "08" | "40" | "53" | "57" | "58") {
                Failure::Retryable(text)
            } else {
                Failure::Permanent(text)
            }
        }
        None => Failure::Retryable(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ddl_is_in_the_schema_and_quoted() {
        let ddl = ddl("erp");
        assert!(ddl.contains("CREATE TABLE IF NOT EXISTS \"erp\".tradewind_orders"));
        assert!(ddl.contains("\"erp\".tradewind_settlements"));
        assert!(!ddl.contains("{schema}"));
    }

    #[test]
    fn the_documented_ddl_is_the_one_the_bridge_runs() {
        let docs = include_str!("../../docs/erp.md");
        assert!(
            docs.contains(ddl("public").trim()),
            "docs/erp.md shows another DDL"
        );
    }

    #[test]
    fn inserts_ignore_duplicates_and_keep_money_exact() {
        let order: adapter_runtime::canonical::Order = serde_json::from_str(include_str!(
            "../../adapter-runtime/tests/fixtures/order.json"
        ))
        .unwrap();
        let (sql, params) = insert("public", &Operation::Create(Box::new(order.clone()))).unwrap();
        assert!(
            sql.ends_with("ON CONFLICT (message_id) DO NOTHING"),
            "{sql}"
        );
        assert_eq!(params[0].as_deref(), Some("amazon-us:113-5512345-1234567"));
        let mut changed = order;
        changed.revision = 2;
        let update = Operation::Update {
            order: Box::new(changed),
            changed: vec![crate::contract::OrderPart::Lines],
        };
        let (sql, params) = insert("public", &update).unwrap();
        assert!(sql.contains("tradewind_order_updates"), "{sql}");
        assert_eq!(params[3].as_deref(), Some("update"));
        assert_eq!(params[5].as_deref(), Some("lines"));
    }
}
