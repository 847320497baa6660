//! Sandbox of the Shopify Admin GraphQL API (one store): `POST /admin/api/<version>/graphql.json` with the
//! `X-Shopify-Access-Token` header checked. It reads just enough of the documents the connector sends (the root
//! field and the variables) and answers with Shopify's types and error shapes:
//!
//! - `productVariants(query: "sku:A OR sku:B")`: variants with product, inventory item, location, quantity;
//! - `inventorySetQuantities`: compare-and-set (`compareQuantity` stale -> `COMPARE_QUANTITY_STALE` userError);
//! - `productVariantsBulkUpdate`: prices, userErrors for unknown variants or bad prices;
//! - `orders(query: "updated_at:>=...", after: cursor)`, `order(id).fulfillmentOrders`, `orderCancel`;
//! - `fulfillmentCreate` with `trackingInfo` (recorded);
//! - cost accounting: every answer carries `extensions.cost.throttleStatus`; a query whose cost exceeds the
//!   points available answers `THROTTLED` (HTTP 200, as Shopify does) from a leaky bucket (1,000 points,
//!   50 restored per second by default, [`Settings::plan`] for another).
//!
//! ```ignore
//! let (running, shop) = sandbox_shopify::start(Settings::new("shpat_token")).await?;
//! shop.add_variant("SKU-1", 10, dec!(9.99));
//! shop.add_order(NewOrder::new().line("SKU-1", 2, dec!(9.99)));
//! // point spec.endpoint.baseUrl at running.url()
//! ```

pub mod cost;
pub mod routes;
pub mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crds::channel::{LimitUnit, PublishedLimit};
use rust_decimal::Decimal;
use sandbox::{Controls, Running};

use cost::CostBucket;

pub use state::{Fulfillment, NewOrder, Order, Store, Variant};

/// The Admin API version served (and the only one accepted).
pub const API_VERSION: &str = "2025-01";

/// How the sandbox behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    pub access_token: String,
    /// The cost bucket: `burst` points at most, `requests` points restored every `per_millis`.
    pub plan: PublishedLimit,
}

impl Settings {
    /// A standard plan: 1,000 points, 50 restored per second.
    pub fn new(access_token: &str) -> Self {
        Self {
            access_token: access_token.to_string(),
            plan: PublishedLimit {
                requests: 50,
                per_millis: 1_000,
                burst: 1_000,
                unit: LimitUnit::CostPoints,
                source: "Shopify Admin GraphQL standard plan",
            },
        }
    }

    /// Another plan: `maximum` points, `restore_per_second` restored each second.
    pub fn plan(mut self, maximum: u64, restore_per_second: u64) -> Self {
        self.plan.burst = maximum;
        self.plan.requests = restore_per_second;
        self.plan.per_millis = 1_000;
        self
    }
}

/// A running sandbox's shared state.
#[derive(Debug)]
pub struct Sandbox {
    pub settings: Settings,
    pub controls: Arc<Controls>,
    store: Mutex<Store>,
    bucket: Mutex<CostBucket>,
    started: Instant,
    throttled: AtomicU64,
    charged: AtomicU64,
}

/// The bucket after a query: what `extensions.cost.throttleStatus` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    pub maximum_available: u64,
    pub currently_available: u64,
    pub restore_rate: u64,
    /// Whether the query's points were taken (false: THROTTLED).
    pub admitted: bool,
}

impl Sandbox {
    pub fn new(settings: Settings) -> Self {
        let bucket = CostBucket::new(settings.plan);
        Self {
            settings,
            controls: Arc::new(Controls::default()),
            store: Mutex::new(Store::default()),
            bucket: Mutex::new(bucket),
            started: Instant::now(),
            throttled: AtomicU64::new(0),
            charged: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `cost` points now if available.
    pub fn charge(&self, cost: u64) -> Throttle {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let admitted = bucket.try_take(cost, now);
        if admitted {
            self.charged.fetch_add(cost, Ordering::Relaxed);
        } else {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let plan = self.settings.plan;
        Throttle {
            maximum_available: plan.burst,
            currently_available: bucket.available(now),
            restore_rate: plan.requests * 1_000 / plan.per_millis.max(1),
            admitted,
        }
    }

    /// How many queries were answered THROTTLED.
    pub fn throttled_answers(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// The points charged for the queries admitted.
    pub fn points_charged(&self) -> u64 {
        self.charged.load(Ordering::Relaxed)
    }

    /// A variant of `product_id` (several variants may share a product).
    pub fn add_variant_of(&self, product_id: &str, sku: &str, available: i64, price: Decimal) {
        self.store()
            .add_variant_of(product_id, sku, available, price);
    }

    /// A variant of `sku` with `available` units at the store's one location and this price.
    pub fn add_variant(&self, sku: &str, available: i64, price: Decimal) {
        self.store().add_variant(sku, available, price);
    }

    pub fn add_order(&self, order: NewOrder) -> String {
        self.store().add_order(order)
    }

    pub fn variant(&self, sku: &str) -> Option<Variant> {
        self.store().variants.get(sku).cloned()
    }

    pub fn order(&self, id: &str) -> Option<Order> {
        self.store().orders.iter().find(|o| o.id == id).cloned()
    }

    /// Changes a variant's quantity behind the connector's back (another app, a sale at the till).
    pub fn adjust(&self, sku: &str, delta: i64) {
        if let Some(v) = self.store().variants.get_mut(sku) {
            v.available += delta;
        }
    }
}

/// Starts a sandbox on a free port of 127.0.0.1: its URL is the store's base URL.
pub async fn start(settings: Settings) -> std::io::Result<(Running, Arc<Sandbox>)> {
    start_on(settings, "127.0.0.1:0").await
}

pub async fn start_on(
    settings: Settings,
    address: &str,
) -> std::io::Result<(Running, Arc<Sandbox>)> {
    let sandbox = Arc::new(Sandbox::new(settings));
    let running = sandbox::serve(
        routes::router(sandbox.clone()),
        sandbox.controls.clone(),
        address,
    )
    .await?;
    Ok((running, sandbox))
}
