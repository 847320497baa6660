//! The sandbox's state: issued access tokens, items with their stock and price, and each operation's
//! server-side token bucket.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crds::channel::{ChannelKind, PublishedLimit};
use rust_decimal::Decimal;
use sandbox::{Controls, ServerBucket};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Credentials;

/// One item of the seller's catalogue as Walmart holds it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Units available to sell (`quantity.amount` of the last inventory update).
    pub quantity: i64,
    /// The BASE price, with its currency, once one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<ItemPrice>,
    /// `WM_QOS.CORRELATION_ID` of the last inventory update of this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_correlation_id: Option<String>,
    /// `WM_QOS.CORRELATION_ID` of the last price update of this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_correlation_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: String,
}

/// What `GET /_sandbox/state` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// SKU -> item.
    pub items: BTreeMap<String, Item>,
    /// Access tokens issued so far.
    pub tokens_issued: u64,
    /// purchaseOrderId -> the order as `getAllOrders` serves it (line statuses change with acknowledgements,
    /// cancellations and shipping updates).
    #[serde(default)]
    pub orders: BTreeMap<String, Value>,
    /// purchaseOrderId -> when the order last changed (epoch milliseconds), what `lastModifiedStartDate` reads.
    #[serde(default)]
    pub order_modified: BTreeMap<String, i64>,
    /// Orders placed so far (their ids follow it).
    #[serde(default)]
    pub order_sequence: u64,
    /// feedId -> the feed.
    #[serde(default)]
    pub feeds: BTreeMap<String, Feed>,
    /// Return orders as `getReturns` serves them.
    #[serde(default)]
    pub returns: Vec<Value>,
    /// Reconciliation reports by date (`MMDDYYYY`): their rows as `reconFileJson` serves them (v1 reports,
    /// which also exist in the legacy format).
    #[serde(default)]
    pub recon_reports: BTreeMap<String, Vec<Value>>,
    /// Dates whose report exists only in the legacy format (before the seller's v1 reports): listed by
    /// `availableReconFiles` without `reportVersion=v1`, not served by `reconFileJson`.
    #[serde(default)]
    pub legacy_recon_dates: std::collections::BTreeSet<String>,
    /// Orders served as given (malformed on purpose): answers holding one are faults injected by a test,
    /// not checked against the specification.
    #[serde(default)]
    pub raw_orders: std::collections::BTreeSet<String>,
}

/// A submitted feed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    pub feed_type: String,
    /// `RECEIVED` until processed, then `PROCESSED` (or `ERROR` when the file could not be read).
    pub status: String,
    /// Milliseconds since the sandbox started at which the feed is processed.
    pub ready_at_ms: u64,
    /// The file's elements, in order.
    pub elements: Vec<Value>,
    /// Per element once processed: `itemIngestionStatus` entries.
    pub results: Vec<Value>,
    /// The file-level error, when the file was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub correlation_id: String,
}

/// The state behind the routes.
pub struct Shared {
    pub controls: Arc<Controls>,
    /// Correlation ids of recent calls (each call must carry a new one).
    pub seen_ids: crate::conformance::SeenIds,
    pub credentials: Credentials,
    /// How long Walmart takes to process a feed.
    pub feed_processing: Duration,
    started: Instant,
    limits: HashMap<String, PublishedLimit>,
    buckets: Mutex<HashMap<String, ServerBucket>>,
    tokens: Mutex<HashMap<String, Instant>>,
    data: Mutex<State>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked leaves consistent data behind (every update is one assignment).
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// `overrides` replace (or add) the published limit of an operation, for tests that need a per-SKU
    /// operation throttled (Walmart publishes no fixed rate for those).
    pub fn new(
        credentials: Credentials,
        overrides: HashMap<String, PublishedLimit>,
        feed_processing: Duration,
    ) -> Self {
        let mut limits: HashMap<String, PublishedLimit> = ChannelKind::Walmart
            .operations()
            .iter()
            .filter_map(|o| o.published.map(|l| (o.name.to_string(), l)))
            .collect();
        limits.extend(overrides);
        Self {
            controls: Arc::new(Controls::default()),
            seen_ids: Default::default(),
            credentials,
            feed_processing,
            started: Instant::now(),
            limits,
            buckets: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            data: Mutex::new(State::default()),
        }
    }

    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes one token of `operation`'s bucket: `Err(retry_after_seconds)` when throttled. Operations without
    /// a published limit are never throttled.
    pub fn allow(&self, operation: &str) -> Result<(), u64> {
        let Some(limit) = self.limits.get(operation).copied() else {
            return Ok(());
        };
        let now = self.now_ms();
        let mut buckets = lock(&self.buckets);
        let bucket = buckets
            .entry(operation.to_string())
            .or_insert_with(|| ServerBucket::new(limit, now));
        if bucket.try_take(1, now) {
            Ok(())
        } else {
            // One token's refill time, rounded up to whole seconds as Retry-After is written.
            let millis = limit.per_millis.div_ceil(limit.requests.max(1));
            Err(millis.div_ceil(1000).max(1))
        }
    }

    /// Issues an access token valid for the configured lifetime.
    pub fn issue_token(&self) -> String {
        let token = format!("wm-sandbox-{}", uuid::Uuid::new_v4().simple());
        let expires = Instant::now() + Duration::from_secs(self.credentials.token_seconds);
        lock(&self.tokens).insert(token.clone(), expires);
        lock(&self.data).tokens_issued += 1;
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    /// Adds items (quantity 0, no price) that are not there yet.
    pub fn seed_items<'a>(&self, skus: impl IntoIterator<Item = &'a str>) {
        let mut data = lock(&self.data);
        for sku in skus {
            data.items.entry(sku.to_string()).or_default();
        }
    }

    /// Sets the quantity of a known item; `false` when the SKU is not in the catalogue.
    pub fn set_quantity(&self, sku: &str, quantity: i64, correlation_id: &str) -> bool {
        match lock(&self.data).items.get_mut(sku) {
            Some(item) => {
                item.quantity = quantity;
                item.inventory_correlation_id = Some(correlation_id.to_string());
                true
            }
            None => false,
        }
    }

    /// Sets the BASE price of a known item; `false` when the SKU is not in the catalogue.
    pub fn set_price(&self, sku: &str, price: ItemPrice, correlation_id: &str) -> bool {
        match lock(&self.data).items.get_mut(sku) {
            Some(item) => {
                item.price = Some(price);
                item.price_correlation_id = Some(correlation_id.to_string());
                true
            }
            None => false,
        }
    }

    pub fn item(&self, sku: &str) -> Option<Item> {
        lock(&self.data).items.get(sku).cloned()
    }

    pub fn snapshot(&self) -> State {
        lock(&self.data).clone()
    }

    /// Reads or changes the state under its lock.
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.data))
    }
}
