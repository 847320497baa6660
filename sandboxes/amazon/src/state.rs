//! The sandbox's seller account: listings, orders, shipments, issued tokens and each operation's bucket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use crds::channel::ChannelKind;
use rust_decimal::Decimal;
use sandbox::{Controls, ServerBucket};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Credentials;

/// One SKU's offer as the patches left it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub quantity: Option<i64>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub patches: u64,
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
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Takes a token from `operation`'s published bucket; `false` means answer 429.
    pub fn allow(&self, operation: &str) -> bool {
        let Some(limit) = ChannelKind::Amazon
            .operation(operation)
            .and_then(|o| o.published)
        else {
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
