//! A demo ERP on PostgreSQL, for the local mode and the tests: items, stock per location, prices, sales orders
//! and shipments, with the transactional outbox (`src/schema.sql`) Tradewind's bridge reads, and a small REST
//! API for sales orders that allocates stock and ships each order after a short delay, so that the shipment
//! flow has work.
//!
//! The API follows the ERP contract of docs/erp.md and enforces nothing else: every write has
//! `Authorization: Bearer <token>` and an `Idempotency-Key`, and a repeated key answers what the first request
//! did. `POST /sales-orders` with a canonical order creates a sales order (`201 {"number": "SO-1001"}`; `200`
//! for a repeated key) — a channel order created again under another key is a second sales order, which the
//! consistency check reports. `PATCH /sales-orders/{marketplace}/{order id}` updates it (`{"revision",
//! "changed", "order"}`; `409` once shipped or cancelled, `404` when unknown); `POST
//! /sales-orders/{marketplace}/{order id}/cancellation` cancels it or some lines (`202 {"status": "pending"}`
//! when the order is not there yet: it is created cancelled). `GET /sales-orders` lists them. `POST /returns`
//! and `POST /settlements` take a canonical return or settlement (`201 {"id": "RETURN-1"}`, `200` with the same
//! id for a repeated key). Every write request is recorded with what it did ([`DemoErp::requests`]).

mod api;
mod db;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use db::{Document, PriceRow, RequestRow, SalesOrder, ShipmentRow, Snapshot, StockRow};

/// How the demo ERP behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// The bearer token its API expects.
    pub api_token: String,
    /// How long after it was posted an order is shipped.
    pub ship_after: Duration,
    /// The carrier code shipments carry (the ERP's own code; mappings turn it into the channel's).
    pub carrier: String,
    /// How long the API takes to answer a post, like a busy ERP (posts overlap for that long).
    pub answer_delay: Duration,
    /// The first this many sales orders are stored and then answered `503`, as if the answer was lost on the
    /// way: the client must retry with the same key and get the same number.
    pub lose_answers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_token: "demo-only-token".into(),
            ship_after: Duration::from_secs(2),
            carrier: "ups".into(),
            answer_delay: Duration::ZERO,
            lose_answers: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("demo ERP database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("demo ERP: {0}")]
    Io(#[from] std::io::Error),
    #[error("demo ERP: {0}")]
    Invalid(String),
}

/// A running demo ERP; its API and shipper stop when it is dropped.
pub struct DemoErp {
    address: SocketAddr,
    db: Arc<db::Db>,
    load: Arc<api::Load>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DemoErp {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DemoErp {
    /// Creates its schema in the database at `pg_url` (idempotently), serves its API on `address`
    /// (`127.0.0.1:0` for a free port) and starts shipping.
    pub async fn start(pg_url: &str, address: &str, options: Options) -> Result<DemoErp, Error> {
        let db = Arc::new(db::Db::connect(pg_url).await?);
        db.create_schema().await?;
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let load = Arc::new(api::Load::default());
        let app = api::router(
            db.clone(),
            options.api_token.clone(),
            load.clone(),
            options.answer_delay,
            options.lose_answers,
        );
        let serve = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let shipper_db = db.clone();
        let shipper = tokio::spawn(async move {
            loop {
                if let Err(e) = shipper_db
                    .ship_due(options.ship_after, &options.carrier)
                    .await
                {
                    tracing::warn!(error = %e, "demo ERP: shipping failed; retrying");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Ok(DemoErp {
            address,
            db,
            load,
            tasks: vec![serve, shipper],
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Adds (or updates) an item with its price and stock per location.
    pub async fn add_item(
        &self,
        sku: &str,
        title: &str,
        price: &str,
        currency: &str,
        stock: &[(&str, i64)],
    ) -> Result<(), Error> {
        self.db.add_item(sku, title, price, currency, stock).await
    }

    /// Sets the quantity on hand of `sku` at `location`.
    pub async fn set_stock(&self, sku: &str, location: &str, on_hand: i64) -> Result<(), Error> {
        self.db.set_stock(sku, location, on_hand).await
    }

    /// Sets the price of `sku` (a decimal, e.g. `"19.99"`).
    pub async fn set_price(&self, sku: &str, amount: &str) -> Result<(), Error> {
        self.db.set_price(sku, amount).await
    }

    /// Stock per SKU and location, with what is reserved by open orders.
    pub async fn stock(&self) -> Result<Vec<StockRow>, Error> {
        self.db.stock().await
    }

    pub async fn sales_orders(&self) -> Result<Vec<SalesOrder>, Error> {
        self.db.sales_orders().await
    }

    pub async fn shipments(&self) -> Result<Vec<ShipmentRow>, Error> {
        self.db.shipments().await
    }

    /// Returns and settlements posted to `POST /returns` and `POST /settlements`.
    pub async fn documents(&self) -> Result<Vec<Document>, Error> {
        self.db.documents().await
    }

    /// What the consistency check compares — stock, prices, sales orders (with their status: open, shipped,
    /// cancelled), shipments, returns and settlements, requests by outcome — read in one repeatable-read
    /// transaction.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        self.db.snapshot().await
    }

    /// Every write request the API received (method, path, idempotency key, body, status) and what it did
    /// (`created SO-1001`, `repeated SO-1001`, `updated ...`, `cancelled ...`, `pending: ...`, `refused: ...`),
    /// oldest first.
    pub async fn requests(&self) -> Result<Vec<RequestRow>, Error> {
        self.db.requests().await
    }

    /// The most posts (sales orders, returns, settlements) the API was answering at once since it started.
    pub fn max_concurrent_posts(&self) -> usize {
        self.load.max()
    }

    /// Outbox rows not yet marked sent by a bridge.
    pub async fn unsent_outbox_rows(&self) -> Result<i64, Error> {
        self.db.unsent_outbox_rows().await
    }
}
