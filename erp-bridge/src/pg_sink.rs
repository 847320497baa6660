//! The PostgreSQL target: each order, return and settlement is inserted as a row into the ERP's database,
//! keyed by its message id, with `ON CONFLICT DO NOTHING`, so a redelivery (a retry, a bridge killed between
//! the insert and the acknowledgement, a restart) finds the row there and inserts nothing: exactly once in
//! effect. The ERP reads the tables and answers orders through its source (an `orderAcknowledgement` record).
//!
//! The bridge creates the tables (`DDL`, also in docs/erp.md) when they are missing; a role without the right
//! to create them needs a DBA to run it once. Connections: up to [`CONNECTIONS`], reconnected after failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use adapter_runtime::canonical::Record;
use adapter_runtime::connector::ConnectorError;
use adapter_runtime::resilience::{Failure, Resilience};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};
use tracing::{info, warn};

use crate::sink::{Delivered, operation};

/// Connections to the sink database at most (inserts are pipelined on each).
pub const CONNECTIONS: usize = 4;

/// The tables, in schema `{schema}`; `message_id` is the idempotency key.
pub const DDL: &str = r#"
CREATE TABLE IF NOT EXISTS {schema}.tradewind_orders (
    message_id     text        PRIMARY KEY,   -- <marketplace>:<order id>:<revision>
    marketplace    text        NOT NULL,
    order_id       text        NOT NULL,
    correlation_id text        NOT NULL,
    record         jsonb       NOT NULL,      -- the canonical order
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

/// The insert of a record: statement and its text parameters (`record` is cast from text to jsonb and `total`
/// to numeric in SQL, so that money is never a float on the way).
pub fn insert(schema: &str, key: &str, record: &Record) -> Result<(String, Vec<String>), String> {
    let schema = quote(schema);
    let json = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map(|v| v.to_string())
            .map_err(|e| format!("encoding the record: {e}"))
    };
    Ok(match record {
        Record::Order(o) => (
            format!(
                "INSERT INTO {schema}.tradewind_orders (message_id, marketplace, order_id, correlation_id, record) \
                 VALUES ($1, $2, $3, $4, $5::text::jsonb) ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                key.to_string(),
                o.marketplace.to_string(),
                o.order_id.to_string(),
                o.correlation_id.to_string(),
                json(serde_json::to_value(o.as_ref()))?,
            ],
        ),
        Record::Return(r) => (
            format!(
                "INSERT INTO {schema}.tradewind_returns (message_id, marketplace, order_id, return_id, status, \
                 correlation_id, record) VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) \
                 ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                key.to_string(),
                r.marketplace.to_string(),
                r.order_id.to_string(),
                r.return_id.clone(),
                format!("{:?}", r.status),
                r.correlation_id.to_string(),
                json(serde_json::to_value(r))?,
            ],
        ),
        Record::Settlement(s) => (
            format!(
                "INSERT INTO {schema}.tradewind_settlements (message_id, marketplace, settlement_id, currency, \
                 total, correlation_id, record) VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7::text::jsonb) \
                 ON CONFLICT (message_id) DO NOTHING"
            ),
            vec![
                key.to_string(),
                s.marketplace.to_string(),
                s.settlement_id.clone(),
                s.currency.to_string(),
                s.total.amount.to_string(),
                s.correlation_id.to_string(),
                json(serde_json::to_value(s))?,
            ],
        ),
        other => {
            return Err(format!(
                "the PostgreSQL sink stores orders, returns and settlements, not a {}",
                other.event_type()
            ));
        }
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

    pub async fn deliver(&self, key: &str, record: &Record) -> Result<Delivered, ConnectorError> {
        let (statement, params) =
            insert(&self.schema, key, record).map_err(ConnectorError::permanent)?;
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let guard = self.resilience.guard(operation(record));
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
        let (sql, params) = insert("public", "m:1:1", &Record::Order(Box::new(order))).unwrap();
        assert!(
            sql.ends_with("ON CONFLICT (message_id) DO NOTHING"),
            "{sql}"
        );
        assert_eq!(params[0], "m:1:1");
    }
}
