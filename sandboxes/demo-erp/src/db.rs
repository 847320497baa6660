//! The demo ERP's database: every change in one transaction with its outbox row (the triggers write it).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_postgres::{Client, GenericClient, NoTls};

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

/// An item's price: the amount as PostgreSQL writes the numeric (`"19.99"`), its currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceRow {
    pub sku: String,
    pub amount: String,
    pub currency: String,
}

/// What the ERP holds, for the consistency check ([`Db::snapshot`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// By SKU, then location.
    pub stock: Vec<StockRow>,
    /// By SKU.
    pub prices: Vec<PriceRow>,
    /// In the order they were created (two rows for one channel order are a duplicate).
    pub sales_orders: Vec<SalesOrder>,
    /// In the order they were shipped.
    pub shipments: Vec<ShipmentRow>,
    /// Returns and settlements received: kind (`return`, `settlement`), marketplace, the channel's id.
    pub documents: Vec<(String, String, String)>,
    /// Write requests received, by what they did (`created`, `repeated`, `updated`, `refused`, ...).
    pub requests: Vec<(String, u64)>,
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

/// An update or cancellation of a channel order's sales order, as the API received it.
#[derive(Clone, Debug)]
pub struct OrderChange {
    pub idempotency_key: String,
    pub kind: ChangeKind,
    pub marketplace: String,
    pub channel_order_id: String,
    /// An update's new lines.
    pub lines: Vec<NewLine>,
    /// A cancellation's lines and quantities (line id, quantity); empty for the whole order.
    pub cancelled_lines: Vec<(String, i64)>,
    pub body: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Update,
    Cancel,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Update => "update",
            ChangeKind::Cancel => "cancel",
        }
    }
}

/// What an update or cancellation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    Applied {
        number: String,
        status: String,
    },
    /// The key was used before: what the first request left.
    Repeated {
        number: String,
        status: String,
    },
    /// A cancellation kept for an order the ERP does not hold (yet).
    Pending,
    UnknownOrder,
    /// Not changed, and why (a shipped or cancelled sales order).
    Refused(String),
}

/// One request the API received.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRow {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
    /// What the ERP did: `created`, `repeated`, `updated`, `cancelled`, `pending`, `refused: ...`, ...
    pub outcome: String,
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
        stock_rows(&*self.client.lock().await).await
    }

    pub async fn sales_orders(&self) -> Result<Vec<SalesOrder>, Error> {
        sales_order_rows(&*self.client.lock().await).await
    }

    pub async fn shipments(&self) -> Result<Vec<ShipmentRow>, Error> {
        shipment_rows(&*self.client.lock().await).await
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

    /// What the consistency check compares, read in one repeatable-read transaction, so that it never sees
    /// half of a change (a shipment without its stock movement). Stock and prices are in SKU order, so a
    /// comparison can walk them beside another list in SKU order.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        let mut client = self.client.lock().await;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let stock = stock_rows(&tx).await?;
        let prices = tx
            .query(
                "SELECT sku, amount::text, currency::text FROM prices ORDER BY sku",
                &[],
            )
            .await?
            .iter()
            .map(|r| PriceRow {
                sku: r.get(0),
                amount: r.get(1),
                currency: r.get(2),
            })
            .collect();
        let sales_orders = sales_order_rows(&tx).await?;
        let shipments = shipment_rows(&tx).await?;
        let documents = tx
            .query(
                "SELECT DISTINCT kind, marketplace, document_id FROM channel_documents \
                 ORDER BY kind, marketplace, document_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let requests = tx
            .query(
                "SELECT trim(trailing ':' FROM split_part(outcome, ' ', 1)), count(*) FROM requests \
                 GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)))
            .collect();
        tx.commit().await?;
        Ok(Snapshot {
            stock,
            prices,
            sales_orders,
            shipments,
            documents,
            requests,
        })
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

    /// Creates the sales order and reserves its stock, or returns the one the key already made. Only the key
    /// counts: a channel order created again under another key is a second sales order. A cancellation of the
    /// whole channel order received before it makes the order `cancelled` at once, with nothing reserved.
    pub async fn post_order(&self, order: &NewOrder) -> Result<Posted, Error> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let existing = tx
            .query_opt(
                "UPDATE sales_orders SET posts = posts + 1 WHERE idempotency_key = $1 RETURNING number",
                &[&order.idempotency_key],
            )
            .await?;
        if let Some(row) = existing {
            tx.commit().await?;
            return Ok(Posted::Existing(row.get(0)));
        }
        let cancelled = tx
            .query_opt(
                "SELECT id FROM order_changes WHERE kind = 'cancel' AND whole_order \
                 AND marketplace = $1 AND channel_order_id = $2 AND sales_order_id IS NULL LIMIT 1",
                &[&order.marketplace, &order.channel_order_id],
            )
            .await?
            .is_some();
        let status = if cancelled { "cancelled" } else { "open" };
        let row = tx
            .query_one(
                "INSERT INTO sales_orders (number, idempotency_key, marketplace, channel_order_id, correlation_id, body, status) \
                 VALUES ('SO-' || nextval('sales_order_numbers'), $1, $2, $3, $4, $5, $6) RETURNING id, number",
                &[
                    &order.idempotency_key,
                    &order.marketplace,
                    &order.channel_order_id,
                    &order.correlation_id,
                    &order.body,
                    &status,
                ],
            )
            .await?;
        let (id, number): (i64, String) = (row.get(0), row.get(1));
        if cancelled {
            tx.execute(
                "UPDATE order_changes SET sales_order_id = $1 WHERE kind = 'cancel' AND marketplace = $2 \
                 AND channel_order_id = $3 AND sales_order_id IS NULL",
                &[&id, &order.marketplace, &order.channel_order_id],
            )
            .await?;
        }
        insert_lines(&tx, id, &order.lines, !cancelled).await?;
        tx.commit().await?;
        Ok(Posted::Created(number))
    }

    /// Applies an update (the sales order's lines replaced, stock reserved again) or a cancellation (of the
    /// whole order, or of some lines' quantities, their stock released) of a channel order's sales order, once
    /// per key: a repeated key answers what the first request did. Only an open sales order is changed; an
    /// update of an order the ERP does not hold is `UnknownOrder`; a cancellation of one is kept for it
    /// (`Pending`) and applies when the order is created.
    pub async fn change_order(&self, change: &OrderChange) -> Result<Changed, Error> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let repeated = tx
            .query_opt(
                "UPDATE order_changes c SET posts = c.posts + 1 WHERE c.idempotency_key = $1 \
                 RETURNING (SELECT number FROM sales_orders o WHERE o.id = c.sales_order_id), \
                 (SELECT status FROM sales_orders o WHERE o.id = c.sales_order_id)",
                &[&change.idempotency_key],
            )
            .await?;
        if let Some(row) = repeated {
            tx.commit().await?;
            let number: Option<String> = row.get(0);
            let status: Option<String> = row.get(1);
            return Ok(match (number, status) {
                (Some(number), Some(status)) => Changed::Repeated { number, status },
                _ => Changed::Pending,
            });
        }
        let held = tx
            .query_opt(
                "SELECT id, number, status FROM sales_orders WHERE marketplace = $1 AND channel_order_id = $2 \
                 ORDER BY id LIMIT 1 FOR UPDATE",
                &[&change.marketplace, &change.channel_order_id],
            )
            .await?
            .map(|r| Held {
                id: r.get(0),
                number: r.get(1),
                status: r.get(2),
            });
        let whole = change.cancelled_lines.is_empty();
        let Some(order) = held else {
            if change.kind == ChangeKind::Update {
                return Ok(Changed::UnknownOrder);
            }
            tx.execute(
                "INSERT INTO order_changes (idempotency_key, kind, marketplace, channel_order_id, whole_order, body) \
                 VALUES ($1, 'cancel', $2, $3, $4, $5)",
                &[
                    &change.idempotency_key,
                    &change.marketplace,
                    &change.channel_order_id,
                    &whole,
                    &change.body,
                ],
            )
            .await?;
            tx.commit().await?;
            return Ok(Changed::Pending);
        };
        if order.status != "open" {
            return Ok(Changed::Refused(format!(
                "sales order {} of {}:{} is {}; it cannot be {}",
                order.number,
                change.marketplace,
                change.channel_order_id,
                order.status,
                match change.kind {
                    ChangeKind::Update => "updated",
                    ChangeKind::Cancel => "cancelled",
                }
            )));
        }
        let status = match change.kind {
            ChangeKind::Update => apply_update(&tx, order.id, change).await?,
            ChangeKind::Cancel => apply_cancel(&tx, order.id, change).await?,
        };
        tx.execute(
            "INSERT INTO order_changes (idempotency_key, kind, marketplace, channel_order_id, whole_order, sales_order_id, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &change.idempotency_key,
                &change.kind.as_str(),
                &change.marketplace,
                &change.channel_order_id,
                &whole,
                &order.id,
                &change.body,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Changed::Applied {
            number: order.number,
            status: status.to_string(),
        })
    }

    /// Notes a request the API received and what it did.
    pub async fn record_request(&self, request: &RequestRow) -> Result<(), Error> {
        let client = self.client.lock().await;
        client
            .execute(
                "INSERT INTO requests (method, path, idempotency_key, body, status, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &request.method,
                    &request.path,
                    &request.idempotency_key,
                    &request.body,
                    &i32::from(request.status),
                    &request.outcome,
                ],
            )
            .await?;
        Ok(())
    }

    /// Every request received, oldest first.
    pub async fn requests(&self) -> Result<Vec<RequestRow>, Error> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                "SELECT method, path, idempotency_key, body, status, outcome FROM requests ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RequestRow {
                method: r.get(0),
                path: r.get(1),
                idempotency_key: r.get(2),
                body: r.get(3),
                status: u16::try_from(r.get::<_, i32>(4)).unwrap_or(0),
                outcome: r.get(5),
            })
            .collect())
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
                &format!(
                    "UPDATE stock s SET on_hand = GREATEST(s.on_hand - l.quantity, 0), \
                     reserved = GREATEST(s.reserved - l.quantity, 0) FROM {LINES_BY_STOCK} l \
                     WHERE s.sku = l.sku AND s.location = l.location"
                ),
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

/// Replaces an open sales order's lines and body.
async fn apply_update(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    change: &OrderChange,
) -> Result<&'static str, Error> {
    release(tx, id).await?;
    tx.execute(
        "DELETE FROM sales_order_lines WHERE sales_order_id = $1",
        &[&id],
    )
    .await?;
    insert_lines(tx, id, &change.lines, true).await?;
    tx.execute(
        "UPDATE sales_orders SET body = $2 WHERE id = $1",
        &[&id, &change.body],
    )
    .await?;
    Ok("open")
}

/// Cancels an open sales order, or takes the cancelled quantities off its lines (cancelled once none is left).
async fn apply_cancel(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    change: &OrderChange,
) -> Result<&'static str, Error> {
    for (line_id, quantity) in &change.cancelled_lines {
        tx.execute(
            "UPDATE stock s SET reserved = GREATEST(s.reserved - LEAST(l.quantity, $3), 0) \
             FROM sales_order_lines l WHERE l.sales_order_id = $1 AND l.line_id = $2 \
             AND s.sku = l.sku AND s.location = l.location",
            &[&id, line_id, quantity],
        )
        .await?;
        tx.execute(
            "DELETE FROM sales_order_lines WHERE sales_order_id = $1 AND line_id = $2 AND quantity <= $3",
            &[&id, line_id, quantity],
        )
        .await?;
        tx.execute(
            "UPDATE sales_order_lines SET quantity = quantity - $3 WHERE sales_order_id = $1 AND line_id = $2",
            &[&id, line_id, quantity],
        )
        .await?;
    }
    let left: i64 = tx
        .query_one(
            "SELECT count(*) FROM sales_order_lines WHERE sales_order_id = $1",
            &[&id],
        )
        .await?
        .get(0);
    if change.cancelled_lines.is_empty() || left == 0 {
        release(tx, id).await?;
        tx.execute(
            "UPDATE sales_orders SET status = 'cancelled' WHERE id = $1",
            &[&id],
        )
        .await?;
        return Ok("cancelled");
    }
    Ok("open")
}

/// A sales order locked for a change.
struct Held {
    id: i64,
    number: String,
    status: String,
}

/// Inserts a sales order's lines, allocated where the order process said or else where most is available, and
/// reserves their stock when `reserve`.
async fn insert_lines(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    lines: &[NewLine],
    reserve: bool,
) -> Result<(), Error> {
    for line in lines {
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
        if let (true, Some(location)) = (reserve, &location) {
            tx.execute(
                "UPDATE stock SET reserved = reserved + $3 WHERE sku = $1 AND location = $2",
                &[&line.sku, location, &line.quantity],
            )
            .await?;
        }
    }
    Ok(())
}

/// Stock per SKU and location, in that order.
async fn stock_rows(client: &impl GenericClient) -> Result<Vec<StockRow>, Error> {
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

/// Sales orders in the order they were created.
async fn sales_order_rows(client: &impl GenericClient) -> Result<Vec<SalesOrder>, Error> {
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

/// Packages shipped, with their channel order, in the order they were shipped.
async fn shipment_rows(client: &impl GenericClient) -> Result<Vec<ShipmentRow>, Error> {
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

/// A sales order's (`$1`) quantities per stock row: an `UPDATE ... FROM` joined to the lines themselves would
/// update a stock row once however many lines share it.
const LINES_BY_STOCK: &str = "(SELECT sku, location, sum(quantity) AS quantity FROM sales_order_lines \
     WHERE sales_order_id = $1 GROUP BY sku, location)";

/// Releases the stock an open sales order reserved.
async fn release(tx: &tokio_postgres::Transaction<'_>, id: i64) -> Result<(), Error> {
    tx.execute(
        &format!(
            "UPDATE stock s SET reserved = GREATEST(s.reserved - l.quantity, 0) FROM {LINES_BY_STOCK} l \
             WHERE s.sku = l.sku AND s.location = l.location"
        ),
        &[&id],
    )
    .await?;
    Ok(())
}
