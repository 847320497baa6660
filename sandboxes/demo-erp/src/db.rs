//! The demo ERP's database: every change in one transaction with its outbox row (the triggers write it).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use crate::Error;

/// One connection, used by one request at a time: the demo ERP is small, and this keeps every write
/// transaction simple.
pub struct Db {
    client: Mutex<Client>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockRow {
    pub sku: String,
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesOrder {
    pub number: String,
    pub marketplace: String,
    pub channel_order_id: String,
    pub status: String,
    /// How many times the order was posted (retries and redeliveries included).
    pub posts: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentRow {
    pub marketplace: String,
    pub order_id: String,
    pub shipment_id: String,
    pub tracking_number: String,
}

/// A return or settlement as posted (`kind` is `return` or `settlement`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: String,
    pub kind: String,
    pub idempotency_key: String,
    pub marketplace: String,
    pub document_id: String,
    /// How many times it was posted (retries and redeliveries included).
    pub posts: i32,
}

/// An order line as the API receives it (the canonical order's fields the ERP needs).
#[derive(Clone, Debug)]
pub struct NewLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub location: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewOrder {
    pub idempotency_key: String,
    pub marketplace: String,
    pub channel_order_id: String,
    pub correlation_id: String,
    pub lines: Vec<NewLine>,
    pub body: Value,
}

/// What posting an order did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    Created(String),
    Existing(String),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, Error> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "demo ERP: database connection ended");
            }
        });
        Ok(Db {
            client: Mutex::new(client),
        })
    }

    pub async fn create_schema(&self) -> Result<(), Error> {
        let client = self.client.lock().await;
        // Concurrent starts on one database would race on CREATE OR REPLACE; serialize them.
        client
            .batch_execute(&format!(
                "SELECT pg_advisory_lock(7041); {} SELECT pg_advisory_unlock(7041);",
                include_str!("schema.sql")
            ))
            .await?;
        Ok(())
    }

    pub async fn add_item(
        &self,
        sku: &str,
        title: &str,
        price: &str,
        currency: &str,
        stock: &[(&str, i64)],
    ) -> Result<(), Error> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO items (sku, title) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET title = $2",
            &[&sku, &title],
        )
        .await?;
        tx.execute(
            "INSERT INTO prices (sku, amount, currency) VALUES ($1, $2::text::numeric, $3) \
             ON CONFLICT (sku) DO UPDATE SET amount = $2::text::numeric, currency = $3",
            &[&sku, &price, &currency],
        )
        .await?;
        for (location, on_hand) in stock {
            tx.execute(
                "INSERT INTO stock (sku, location, on_hand) VALUES ($1, $2, $3) \
                 ON CONFLICT (sku, location) DO UPDATE SET on_hand = $3",
                &[&sku, location, on_hand],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_stock(&self, sku: &str, location: &str, on_hand: i64) -> Result<(), Error> {
        if on_hand < 0 {
            return Err(Error::Invalid(format!(
                "stock of {sku} at {location}: on hand must not be negative (value: {on_hand})"
            )));
        }
        let client = self.client.lock().await;
        client
            .execute(
                "INSERT INTO stock (sku, location, on_hand) VALUES ($1, $2, $3) \
                 ON CONFLICT (sku, location) DO UPDATE SET on_hand = $3",
                &[&sku, &location, &on_hand],
            )
            .await?;
        Ok(())
    }

    pub async fn set_price(&self, sku: &str, amount: &str) -> Result<(), Error> {
        let client = self.client.lock().await;
        let updated = client
            .execute(
                "UPDATE prices SET amount = $2::text::numeric WHERE sku = $1",
                &[&sku, &amount],
            )
            .await?;
        if updated == 0 {
            return Err(Error::Invalid(format!("price of {sku}: no such item")));
        }
        Ok(())
    }

    pub async fn stock(&self) -> Result<Vec<StockRow>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT sku, location, on_hand, reserved FROM stock ORDER BY sku, location",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StockRow {
                sku: r.get(0),
                location: r.get(1),
                on_hand: r.get(2),
                reserved: r.get(3),
            })
            .collect())
    }

    pub async fn sales_orders(&self) -> Result<Vec<SalesOrder>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT number, marketplace, channel_order_id, status, posts FROM sales_orders ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SalesOrder {
                number: r.get(0),
                marketplace: r.get(1),
                channel_order_id: r.get(2),
                status: r.get(3),
                posts: r.get(4),
            })
            .collect())
    }

    pub async fn shipments(&self) -> Result<Vec<ShipmentRow>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT o.marketplace, o.channel_order_id, s.shipment_id, s.tracking_number \
                 FROM shipments s JOIN sales_orders o ON o.id = s.sales_order_id ORDER BY s.id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ShipmentRow {
                marketplace: r.get(0),
                order_id: r.get(1),
                shipment_id: r.get(2),
                tracking_number: r.get(3),
            })
            .collect())
    }

    pub async fn unsent_outbox_rows(&self) -> Result<i64, Error> {
        let client = self.client.lock().await;
        let row = client
            .query_one(
                "SELECT count(*) FROM tradewind_outbox WHERE sent_at IS NULL",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Stores a return or settlement once per idempotency key; a repeat counts the post and answers the id.
    pub async fn post_document(
        &self,
        kind: &str,
        key: &str,
        marketplace: &str,
        document_id: &str,
        body: &Value,
    ) -> Result<Posted, Error> {
        let client = self.client.lock().await;
        let row = client
            .query_one(
                "INSERT INTO channel_documents (kind, idempotency_key, marketplace, document_id, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) \
                 DO UPDATE SET posts = channel_documents.posts + 1 RETURNING id, posts",
                &[&kind, &key, &marketplace, &document_id, body],
            )
            .await?;
        let id = format!("{}-{}", kind.to_ascii_uppercase(), row.get::<_, i64>(0));
        Ok(if row.get::<_, i32>(1) == 1 {
            Posted::Created(id)
        } else {
            Posted::Existing(id)
        })
    }

    /// Returns and settlements, in the order they were first posted.
    pub async fn documents(&self) -> Result<Vec<Document>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT id, kind, idempotency_key, marketplace, document_id, posts FROM channel_documents ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Document {
                id: format!(
                    "{}-{}",
                    r.get::<_, String>(1).to_ascii_uppercase(),
                    r.get::<_, i64>(0)
                ),
                kind: r.get(1),
                idempotency_key: r.get(2),
                marketplace: r.get(3),
                document_id: r.get(4),
                posts: r.get(5),
            })
            .collect())
    }

    /// Unknown SKUs among `skus`.
    pub async fn unknown_skus(&self, skus: &[String]) -> Result<Vec<String>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT s FROM unnest($1::text[]) AS s WHERE s NOT IN (SELECT sku FROM items)",
                &[&skus],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Creates the sales order and reserves its stock, or returns the one the key or the channel order
    /// already made.
    pub async fn post_order(&self, order: &NewOrder) -> Result<Posted, Error> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let existing = tx
            .query_opt(
                "UPDATE sales_orders SET posts = posts + 1 \
                 WHERE idempotency_key = $1 OR (marketplace = $2 AND channel_order_id = $3) RETURNING number",
                &[&order.idempotency_key, &order.marketplace, &order.channel_order_id],
            )
            .await?;
        if let Some(row) = existing {
            tx.commit().await?;
            return Ok(Posted::Existing(row.get(0)));
        }
        let row = tx
            .query_one(
                "INSERT INTO sales_orders (number, idempotency_key, marketplace, channel_order_id, correlation_id, body) \
                 VALUES ('SO-' || nextval('sales_order_numbers'), $1, $2, $3, $4, $5) RETURNING id, number",
                &[
                    &order.idempotency_key,
                    &order.marketplace,
                    &order.channel_order_id,
                    &order.correlation_id,
                    &order.body,
                ],
            )
            .await?;
        let (id, number): (i64, String) = (row.get(0), row.get(1));
        for line in &order.lines {
            // Allocate where the order process said, else where most is available.
            let location: Option<String> = match &line.location {
                Some(l) => Some(l.clone()),
                None => tx
                    .query_opt(
                        "SELECT location FROM stock WHERE sku = $1 ORDER BY on_hand - reserved DESC, location LIMIT 1",
                        &[&line.sku],
                    )
                    .await?
                    .map(|r| r.get(0)),
            };
            tx.execute(
                "INSERT INTO sales_order_lines (sales_order_id, line_id, sku, quantity, location) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &line.line_id, &line.sku, &line.quantity, &location],
            )
            .await?;
            if let Some(location) = &location {
                tx.execute(
                    "UPDATE stock SET reserved = reserved + $3 WHERE sku = $1 AND location = $2",
                    &[&line.sku, location, &line.quantity],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Posted::Created(number))
    }

    /// Ships every open order posted more than `after` ago: one package each, stock taken off hand.
    pub async fn ship_due(&self, after: Duration, carrier: &str) -> Result<usize, Error> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let seconds = after.as_secs_f64();
        let due = tx
            .query(
                "SELECT id, number FROM sales_orders WHERE status = 'open' \
                 AND created_at < now() - make_interval(secs => $1) ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&seconds],
            )
            .await?;
        for order in &due {
            let (id, number): (i64, String) = (order.get(0), order.get(1));
            tx.execute(
                "UPDATE stock s SET on_hand = GREATEST(s.on_hand - l.quantity, 0), \
                 reserved = GREATEST(s.reserved - l.quantity, 0) \
                 FROM sales_order_lines l WHERE l.sales_order_id = $1 AND s.sku = l.sku AND s.location = l.location",
                &[&id],
            )
            .await?;
            tx.execute(
                "INSERT INTO shipments (sales_order_id, shipment_id, carrier, tracking_number) \
                 VALUES ($1::bigint, 'PKG-' || $2, $3, '1ZDEMO' || lpad($1::bigint::text, 10, '0'))",
                &[&id, &number, &carrier],
            )
            .await?;
            tx.execute(
                "UPDATE sales_orders SET status = 'shipped' WHERE id = $1",
                &[&id],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }
}
