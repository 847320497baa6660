//! Sandbox of the Mirakl seller API (one operator's instance, one shop) with its per-operation call
//! frequencies: STO01 stock imports (multipart CSV, STO02 status, STO03 error report), OF24 offers, OR11
//! orders (offset pagination, `start_update_date`), OR21 accept/refuse, OR23 tracking, OR24 ship, OR29
//! cancel. The API key is checked in `Authorization`; calls above the published frequency answer 429 with
//! `Retry-After`. `GET /_sandbox/state` shows offers, imports and orders.
//!
//! ```ignore
//! let (running, mirakl) = sandbox_mirakl::start(Settings::new("the-key")).await?;
//! mirakl.add_offers(["SKU-1", "SKU-2"]);
//! mirakl.add_order(NewOrder::new("ORDER-1").line("SKU-1", 2, dec!(9.99)));
//! // point spec.endpoint.baseUrl at running.url()
//! ```

pub mod conformance;
pub mod routes;
pub mod state;
pub mod stock_csv;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::Utc;
use crds::channel::{ChannelKind, PublishedLimit};
use rand::Rng;
use rust_decimal::Decimal;
use sandbox::{Controls, Running, ServerBucket};

pub use state::{Offer, Order, OrderState, Shop, Tracking};

/// How the sandbox behaves: the shop's API key, the operator's name, and the call frequencies enforced.
#[derive(Clone, Debug)]
pub struct Settings {
    pub api_key: String,
    pub operator: String,
    pub shop_id: i64,
    /// Per operation, the frequency answered with 429 when exceeded.
    pub limits: BTreeMap<String, PublishedLimit>,
    /// Connector deviations excused (recorded as known, their consequence not applied): by default
    /// [`conformance::KNOWN_DEVIATIONS`]; [`Settings::strict`] excuses none.
    pub known_deviations: Vec<sandbox::KnownDeviation>,
}

impl Settings {
    /// Mirakl's published frequencies, from the crds catalogue: STO01, STO03, OF24 and OR11 once per minute,
    /// STO02 once every 15 s.
    pub fn new(api_key: &str) -> Self {
        let mut limits = BTreeMap::new();
        for operation in ChannelKind::Mirakl.operations() {
            if let Some(limit) = operation.published {
                limits.insert(operation.name.to_string(), limit);
            }
        }
        Self {
            api_key: api_key.to_string(),
            operator: "sandbox-operator".into(),
            shop_id: 2001,
            limits,
            known_deviations: conformance::KNOWN_DEVIATIONS.to_vec(),
        }
    }

    /// Excuses no known deviation: every rule's consequence applies (OF24's reset of the fields not sent).
    pub fn strict(mut self) -> Self {
        self.known_deviations.clear();
        self
    }

    /// Every limited operation at once per `millis` instead (tests and benchmarks that cannot wait minutes;
    /// the connector's `RateLimitPolicy` must then say the same).
    pub fn every_limit_once_per(mut self, millis: u64) -> Self {
        for limit in self.limits.values_mut() {
            limit.per_millis = millis;
        }
        self
    }

    pub fn operator(mut self, operator: &str) -> Self {
        self.operator = operator.to_string();
        self
    }
}

/// A running sandbox's shared state.
#[derive(Debug)]
pub struct Sandbox {
    pub settings: Settings,
    pub controls: Arc<Controls>,
    shop: Mutex<Shop>,
    buckets: Mutex<BTreeMap<String, ServerBucket>>,
    started: Instant,
}

/// An order to seed.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub currency: String,
    pub lines: Vec<(String, i64, Decimal)>,
}

impl NewOrder {
    pub fn new(order_id: &str) -> Self {
        Self {
            order_id: order_id.to_string(),
            currency: "EUR".into(),
            lines: Vec::new(),
        }
    }

    pub fn line(mut self, sku: &str, quantity: i64, unit_price: Decimal) -> Self {
        self.lines.push((sku.to_string(), quantity, unit_price));
        self
    }
}

impl Sandbox {
    pub fn new(settings: Settings) -> Self {
        let buckets = settings
            .limits
            .iter()
            .map(|(op, limit)| (op.clone(), ServerBucket::new(*limit, 0)))
            .collect();
        Self {
            settings,
            controls: Arc::new(Controls::default()),
            shop: Mutex::new(Shop::default()),
            buckets: Mutex::new(buckets),
            started: Instant::now(),
        }
    }

    /// The shop, locked.
    pub fn shop(&self) -> MutexGuard<'_, Shop> {
        self.shop.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(seconds to wait)` when `operation` exceeds its frequency now, `None` when the call is allowed.
    pub fn throttled(&self, operation: &str) -> Option<u64> {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.get_mut(operation)?;
        if bucket.try_take(1, now) {
            return None;
        }
        let limit = self.settings.limits.get(operation)?;
        Some(
            (limit.per_millis / limit.requests.max(1))
                .div_ceil(1000)
                .max(1),
        )
    }

    pub fn add_offers<'a>(&self, skus: impl IntoIterator<Item = &'a str>) {
        let mut shop = self.shop();
        for sku in skus {
            shop.add_offer(sku);
        }
    }

    /// Adds an order waiting for acceptance, updated now.
    pub fn add_order(&self, order: NewOrder) {
        let now = Utc::now();
        let index = self.shop().orders.len() + 1;
        let lines = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, (sku, quantity, price))| state::OrderLine {
                order_line_id: format!("{}-{}", order.order_id, i + 1),
                offer_sku: sku.clone(),
                quantity: *quantity,
                price_unit: *price,
                shipping_price: Decimal::new(495, 2),
                tax: (*price * Decimal::from(*quantity) * Decimal::new(20, 2)).round_dp(2),
                accepted: None,
            })
            .collect();
        self.shop().orders.push(Order {
            order_id: order.order_id,
            state: OrderState::WaitingAcceptance,
            currency: order.currency,
            created_date: now,
            last_updated_date: now,
            customer_id: format!("CUST-{index}"),
            firstname: "Camille".into(),
            lastname: format!("Buyer{index}"),
            street_1: format!("{index} rue du Port"),
            city: "Lyon".into(),
            zip_code: "69002".into(),
            // Mirakl addresses carry ISO 3166-1 alpha-3 codes.
            country_iso_code: "FRA".into(),
            lines,
            tracking: None,
        });
    }

    /// Generates `count` orders of one to three lines over the shop's offers (for load and demos).
    pub fn generate_orders(&self, count: usize, rng: &mut impl Rng) {
        let skus: Vec<String> = self.shop().offers.keys().cloned().collect();
        if skus.is_empty() {
            return;
        }
        let first = self.shop().orders.len();
        for n in 0..count {
            let mut order = NewOrder::new(&format!("GEN-{:06}-A", first + n + 1));
            for _ in 0..rng.random_range(1..=3) {
                let sku = &skus[rng.random_range(0..skus.len())];
                let cents = rng.random_range(500..20_000);
                order = order.line(sku, rng.random_range(1..=4), Decimal::new(cents, 2));
            }
            self.add_order(order);
        }
    }

    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.shop()
            .orders
            .iter()
            .find(|o| o.order_id == order_id)
            .cloned()
    }

    pub fn offer(&self, sku: &str) -> Option<Offer> {
        self.shop().offers.get(sku).cloned()
    }
}

/// Starts a sandbox on a free port of 127.0.0.1: its URL is the operator's base URL.
pub async fn start(settings: Settings) -> std::io::Result<(Running, Arc<Sandbox>)> {
    start_on(settings, "127.0.0.1:0").await
}

/// Starts a sandbox on `address`.
pub async fn start_on(
    settings: Settings,
    address: &str,
) -> std::io::Result<(Running, Arc<Sandbox>)> {
    let sandbox = Arc::new(Sandbox::new(settings));
    sandbox
        .controls
        .conformance
        .set_known(&sandbox.settings.known_deviations);
    let router = sandbox::strict::layer(
        routes::router(sandbox.clone()),
        conformance::strictness(),
        sandbox.controls.clone(),
    );
    let running = sandbox::serve(router, sandbox.controls.clone(), address).await?;
    Ok((running, sandbox))
}
