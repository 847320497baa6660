//! The sandbox's seller account: listings, orders, shipments, issued tokens and each operation's bucket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crds::channel::ChannelKind;
use rust_decimal::Decimal;
use sandbox::{Controls, ServerBucket};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Credentials;
use crate::patches::Change;

/// A feed or report document: its content type and content (absent until uploaded).
pub type Document = (String, Option<Vec<u8>>);

/// Feed processing time unless a test sets another: short, so that feeds finish within a test.
pub const DEFAULT_FEED_PROCESSING: Duration = Duration::from_secs(1);

impl State {
    /// Applies a valid change to a SKU's listing.
    pub fn apply(&mut self, sku: &str, change: Change) {
        let listing = self.listings.entry(sku.to_string()).or_default();
        listing.patches += 1;
        if let Some(q) = change.quantity {
            listing.quantity = Some(q);
        }
        if let Some((amount, currency)) = change.price {
            listing.price = Some(amount);
            listing.currency = Some(currency);
        }
        for (name, value) in change.attributes {
            listing.attributes.insert(name, value);
        }
    }
}

/// One SKU's offer as the patches left it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub quantity: Option<i64>,
    pub price: Option<String>,
    pub currency: Option<String>,
    /// Patch calls and feed messages applied.
    pub patches: u64,
    /// Other attributes (catalog content) as last replaced.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
}

/// A feed submitted with `createFeed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedEntry {
    pub feed_id: String,
    pub feed_type: String,
    pub marketplace_ids: Vec<String>,
    pub input_feed_document_id: String,
    pub created: DateTime<Utc>,
    /// `IN_QUEUE`, `IN_PROGRESS`, `DONE`, `FATAL`.
    pub processing_status: String,
    pub processing_end: Option<DateTime<Utc>>,
    pub result_feed_document_id: Option<String>,
    /// Messages accepted and rejected by the processing report.
    pub accepted: u64,
    pub rejected: u64,
}

/// An order placed on the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub order_id: String,
    pub order_item_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: String,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Orders 2026-01-01 `FulfillmentStatus`.
    pub status: String,
    pub cancel_requested: bool,
}

/// A return a buyer asked for, refunded in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedReturn {
    pub rma_id: String,
    pub order_id: String,
    pub sku: String,
    pub quantity: i64,
    pub reason: String,
    /// Refunded to the buyer (unit price times quantity), a decimal.
    pub refunded: String,
    pub requested: DateTime<Utc>,
}

/// A report as Reports 2021-06-30 describes it, with its document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportEntry {
    pub report_id: String,
    pub report_type: String,
    pub marketplace_ids: Vec<String>,
    pub created: DateTime<Utc>,
    pub data_start: DateTime<Utc>,
    pub data_end: DateTime<Utc>,
    pub report_document_id: String,
}

/// A settlement amount to write differently or add (fault injection for reconciliation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementTweak {
    pub order_id: String,
    /// The order's Principal amount to settle instead of what the buyer paid, a decimal.
    pub principal: String,
}

/// What the sandbox holds, as `GET /_sandbox/state` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub listings: BTreeMap<String, Listing>,
    pub orders: Vec<PlacedOrder>,
    /// Confirmed packages: the order id and the `packageDetail` as received.
    pub shipments: Vec<Value>,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: u64,
    pub feeds: Vec<FeedEntry>,
    pub returns: Vec<PlacedReturn>,
    pub reports: Vec<ReportEntry>,
    /// Orders and returns already in a settlement.
    pub settled_orders: Vec<String>,
    pub settled_returns: Vec<String>,
    /// Returns already in a returns report.
    pub reported_returns: Vec<String>,
    /// Tweaks for the next settlement: a different Principal for a known order, or an unknown order.
    pub settlement_tweaks: Vec<SettlementTweak>,
    /// The end of the last settlement period (the next one starts there).
    pub settled_until: Option<DateTime<Utc>>,
}

pub struct Shared {
    pub controls: Arc<Controls>,
    /// The middle group of this sandbox's order ids, different per start, so that orders of two runs
    /// against one NATS never share an id.
    order_prefix: u64,
    pub credentials: Credentials,
    started: Instant,
    state: Mutex<State>,
    tokens: Mutex<HashSet<String>>,
    buckets: Mutex<HashMap<String, ServerBucket>>,
    /// Uploaded feed documents and generated result documents, by id: (content type, content).
    documents: Mutex<HashMap<String, Document>>,
    /// How long a feed takes from `createFeed` to `DONE`.
    feed_processing: Mutex<Duration>,
    /// SKUs Amazon refuses, with the issue's code and message (fault injection for per-message failures).
    refusals: Mutex<HashMap<String, (String, String)>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Report documents are served GZIP-compressed, as Amazon serves most of them.
    compress_reports: std::sync::atomic::AtomicBool,
    /// Limits that replace an operation's published one (a local run shortens slow periods).
    limit_overrides: Mutex<HashMap<String, crds::channel::PublishedLimit>>,
}

impl Shared {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            controls: Arc::new(Controls::default()),
            order_prefix: u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default()
                % 10_000_000,
            credentials,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            tokens: Mutex::new(HashSet::new()),
            buckets: Mutex::new(HashMap::new()),
            documents: Mutex::new(HashMap::new()),
            feed_processing: Mutex::new(DEFAULT_FEED_PROCESSING),
            refusals: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(1),
            compress_reports: std::sync::atomic::AtomicBool::new(false),
            limit_overrides: Mutex::new(HashMap::new()),
        }
    }

    pub fn compress_reports(&self, on: bool) {
        self.compress_reports
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn reports_compressed(&self) -> bool {
        self.compress_reports
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new numeric id, unique in this sandbox.
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 50_000
    }

    pub fn put_document(&self, id: &str, content_type: &str, content: Option<Vec<u8>>) {
        self.documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), (content_type.to_string(), content));
    }

    /// Stores an upload to a document created earlier; `false` when there is no such document.
    pub fn upload_document(&self, id: &str, content: Vec<u8>) -> bool {
        match self
            .documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            Some(document) => {
                document.1 = Some(content);
                true
            }
            None => false,
        }
    }

    /// A document: `None` when unknown, `Some((content type, None))` when created but not uploaded.
    pub fn document(&self, id: &str) -> Option<Document> {
        self.documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn feed_processing(&self) -> Duration {
        *self
            .feed_processing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_feed_processing(&self, processing: Duration) {
        *self
            .feed_processing
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = processing;
    }

    pub fn refuse_sku(&self, sku: &str, code: &str, message: &str) {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sku.to_string(), (code.to_string(), message.to_string()));
    }

    /// The issue Amazon raises for `sku`, when it is refused.
    pub fn refusal(&self, sku: &str) -> Option<Value> {
        self.refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sku)
            .map(|(code, message)| json!({"code": code, "message": message, "severity": "ERROR"}))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Replaces `operation`'s published limit with `limit` from now on.
    pub fn override_limit(&self, operation: &str, limit: crds::channel::PublishedLimit) {
        self.limit_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(operation.to_string(), limit);
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(operation);
    }

    /// Takes a token from `operation`'s published bucket (or its override); `false` means answer 429.
    pub fn allow(&self, operation: &str) -> bool {
        let overridden = self
            .limit_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(operation)
            .copied();
        let Some(limit) = overridden.or_else(|| {
            ChannelKind::Amazon
                .operation(operation)
                .and_then(|o| o.published)
        }) else {
            return true;
        };
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(operation.to_string())
            .or_insert_with(|| ServerBucket::new(limit, now))
            .try_take(1, now)
    }

    pub fn issue_token(&self) -> String {
        let mut state = self.lock();
        state.tokens_issued += 1;
        let token = format!("Atza|sandbox-{}", state.tokens_issued);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone());
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(token)
    }

    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> String {
        let mut state = self.lock();
        let n = state.orders.len() + 1;
        let now = Utc::now();
        let order_id = format!("113-{:07}-{:07}", self.order_prefix, n);
        state.orders.push(PlacedOrder {
            order_id: order_id.clone(),
            order_item_id: format!("{:014}", 10_000_000 + n),
            sku: sku.to_string(),
            quantity,
            unit_price: unit_price.to_string(),
            created: now,
            last_updated: now,
            status: "UNSHIPPED".into(),
            cancel_requested: false,
        });
        order_id
    }

    pub fn cancel_order(&self, order_id: &str) -> bool {
        let mut state = self.lock();
        match state.orders.iter_mut().find(|o| o.order_id == order_id) {
            Some(order) => {
                order.cancel_requested = true;
                order.status = "CANCELLED".into();
                order.last_updated = Utc::now();
                true
            }
            None => false,
        }
    }
}

/// An order as Orders 2026-01-01 returns it.
pub fn order_json(order: &PlacedOrder, marketplace_id: &str) -> Value {
    let unit: Decimal = order.unit_price.parse().unwrap_or_default();
    let total = unit * Decimal::from(order.quantity);
    let money = |amount: Decimal| json!({ "amount": amount.to_string(), "currencyCode": "USD" });
    let mut item = json!({
        "orderItemId": order.order_item_id,
        "quantityOrdered": order.quantity,
        "product": {
            "sellerSku": order.sku,
            "title": format!("Sandbox item {}", order.sku),
            "price": { "unitPrice": money(unit) },
        },
        "proceeds": { "proceedsTotal": money(total) },
    });
    if order.cancel_requested {
        item["cancellation"] = json!({ "cancellationRequest": { "requester": "BUYER", "cancelReason": "Buyer canceled" } });
    }
    json!({
        "orderId": order.order_id,
        "createdTime": order.created.to_rfc3339(),
        "lastUpdatedTime": order.last_updated.to_rfc3339(),
        "salesChannel": { "channelName": "Amazon.com", "marketplaceId": marketplace_id },
        "buyer": { "buyerName": "Sandbox Buyer", "buyerEmail": "buyer@marketplace.amazon.com" },
        "recipient": { "deliveryAddress": {
            "name": "Sandbox Buyer", "addressLine1": "410 Terry Ave N", "city": "Seattle",
            "stateOrRegion": "WA", "postalCode": "98109", "countryCode": "US"
        } },
        "proceeds": { "grandTotal": money(total) },
        "fulfillment": { "fulfillmentStatus": order.status, "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "Standard" },
        "orderItems": [item],
    })
}
