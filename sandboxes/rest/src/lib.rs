//! Sandbox of a B2B REST portal, for tests, benchmarks and the local mode. It serves whatever endpoints a
//! Marketplace's `spec.rest` names ([`Portal::from_rest`]), so the connector's configuration is what is
//! tested:
//!
//! - the batch endpoints (inventory, price, catalog, shipments, order updates) take `{"items": [...]}` at
//!   most `max_batch` items at a time, check the credential header, apply the portal's item rules (see
//!   [`state::check_item`]) and answer `200 {"accepted": n, "rejected": [{"index", "status": 422, "message"}]}`;
//!   a body that is not a batch is `400 {"error": "..."}`, too many items `413`;
//! - the orders endpoint pages the generated orders by a cursor (`{"orders", "nextCursor", "more"}`);
//! - pushed orders: [`RestSandbox::push`] (or `POST /_sandbox/push`) signs an order as the portal would
//!   (HMAC-SHA256 over `<timestamp>.<body>`) and posts it to the adapter's webhook, with wrong signatures,
//!   stale timestamps or malformed bodies on request;
//! - an optional rate limit per endpoint answers `429` with `Retry-After`; the shared `/_sandbox/faults` and
//!   `/_sandbox/requests` inject faults and show what was received; `GET /_sandbox/state` shows the data.

mod api;
pub mod push;
pub mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::http::Method;
use crds::channel::PublishedLimit;
use crds::v1alpha1::{RestCall, RestMethod, RestPortal};
use rust_decimal::Decimal;
use sandbox::{Controls, ServerBucket};

pub use push::{PushRequest, Signing};
pub use sandbox::Running;
pub use state::State;

/// Where the connector sends order updates (acknowledgements, cancellations): not configurable in `spec.rest`.
pub const ORDER_UPDATES_PATH: &str = "/orders/updates";

/// One batch endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `inventory`, `price`, `catalog`, `shipments` or `orderUpdates`: the name in the state and the recorded
    /// calls' operation.
    pub name: String,
    pub method: Method,
    /// Path on the sandbox (the Marketplace's `spec.rest` path; point `baseUrl` at the sandbox's root).
    pub path: String,
}

/// How the portal is set up.
#[derive(Clone, Debug)]
pub struct Portal {
    pub endpoints: Vec<Endpoint>,
    pub orders_path: String,
    pub cursor_param: String,
    /// The credential header and the exact value it must carry; `None`: no credential checked.
    pub auth: Option<(String, String)>,
    /// The HMAC key pushed orders are signed with.
    pub webhook_key: Option<String>,
    /// Most items in one call; more is `413`.
    pub max_batch: usize,
    /// Orders per page of the orders endpoint.
    pub page_size: usize,
    /// The rate limit of each endpoint; `None`: unlimited.
    pub limit: Option<PublishedLimit>,
    pub currency: String,
}

impl Default for Portal {
    /// The connector's defaults: `POST /inventory`, `/price`, `/catalog`, `/shipments`, `/orders/updates`, and
    /// `GET /orders?cursor=`.
    fn default() -> Self {
        Self::from_rest(&RestPortal::default(), None, None)
    }
}

impl Portal {
    /// The portal a Marketplace's `spec.rest` describes, with the credential header's expected value
    /// (`spec.rest.auth` with the Secret's value, prefix included) and the webhook's HMAC key.
    pub fn from_rest(
        rest: &RestPortal,
        auth_value: Option<&str>,
        webhook_key: Option<&str>,
    ) -> Self {
        let endpoint = |name: &str, call: Option<&RestCall>| Endpoint {
            name: name.into(),
            method: match call.map(|c| c.method) {
                None | Some(RestMethod::Post) => Method::POST,
                Some(RestMethod::Put) => Method::PUT,
                Some(RestMethod::Patch) => Method::PATCH,
            },
            path: call.map_or_else(|| format!("/{name}"), |c| c.path.clone()),
        };
        let poll = rest.orders.as_ref().and_then(|o| o.poll.as_ref());
        Self {
            endpoints: vec![
                endpoint("inventory", rest.inventory.as_ref()),
                endpoint("price", rest.price.as_ref()),
                endpoint("catalog", rest.catalog.as_ref()),
                endpoint("shipments", rest.shipments.as_ref()),
                Endpoint {
                    name: "orderUpdates".into(),
                    method: Method::POST,
                    path: ORDER_UPDATES_PATH.into(),
                },
            ],
            orders_path: poll.map_or_else(|| "/orders".into(), |p| p.path.clone()),
            cursor_param: poll.map_or_else(|| "cursor".into(), |p| p.cursor_param.clone()),
            auth: rest.auth.as_ref().zip(auth_value).map(|(auth, value)| {
                (
                    auth.header.to_ascii_lowercase(),
                    format!("{}{value}", auth.prefix.as_deref().unwrap_or_default()),
                )
            }),
            webhook_key: webhook_key.map(str::to_string),
            max_batch: rest.batch_size.map_or(100, |n| n as usize),
            page_size: 50,
            limit: None,
            currency: "EUR".into(),
        }
    }
}

/// The sandbox's shared state.
#[derive(Debug)]
pub struct Shared {
    pub portal: Portal,
    pub controls: Arc<Controls>,
    state: Mutex<State>,
    buckets: Mutex<std::collections::HashMap<String, ServerBucket>>,
    started: Instant,
    http: reqwest::Client,
}

impl Shared {
    fn new(portal: Portal, http: reqwest::Client) -> Self {
        Self {
            portal,
            controls: Arc::default(),
            state: Mutex::default(),
            buckets: Mutex::default(),
            started: Instant::now(),
            http,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a token from `endpoint`'s bucket: `Err(seconds to wait)` when throttled.
    fn allow(&self, endpoint: &str) -> Result<(), u64> {
        let Some(limit) = self.portal.limit else {
            return Ok(());
        };
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets
            .entry(endpoint.to_string())
            .or_insert_with(|| ServerBucket::new(limit, now));
        if bucket.try_take(1, now) {
            Ok(())
        } else {
            // One token's refill time, rounded up to whole seconds as Retry-After is written.
            Err(limit
                .per_millis
                .div_ceil(limit.requests.max(1))
                .div_ceil(1000)
                .max(1))
        }
    }

    /// Generates an order of `lines` (article number, quantity, net unit price); returns its id.
    pub fn place_order(&self, lines: &[(&str, i64, &str)]) -> String {
        let mut state = self.lock();
        let order_id = format!("PO-{}", 100_001 + state.orders.len());
        let lines: Vec<(String, i64, Decimal)> = lines
            .iter()
            .map(|(a, q, p)| ((*a).to_string(), *q, p.parse().unwrap_or(Decimal::ONE)))
            .collect();
        let order =
            state::portal_order(&order_id, &lines, &self.portal.currency, chrono::Utc::now());
        state.orders.push(order);
        order_id
    }

    /// Generates `count` orders of one to three lines of `skus` (random quantities 1..=10 and net prices
    /// 1.00..=99.99), as buyers would place them; returns their ids.
    pub fn generate_orders(&self, count: usize, skus: &[&str]) -> Vec<String> {
        use rand::Rng;
        if skus.is_empty() {
            return Vec::new();
        }
        let mut rng = rand::rng();
        (0..count)
            .map(|_| {
                let lines: Vec<(String, i64, String)> = (0..rng.random_range(1..=3usize))
                    .map(|_| {
                        let sku = skus[rng.random_range(0..skus.len())];
                        let cents: i64 = rng.random_range(100..=9_999);
                        (
                            sku.to_string(),
                            rng.random_range(1..=10),
                            Decimal::new(cents, 2).to_string(),
                        )
                    })
                    .collect();
                let lines: Vec<(&str, i64, &str)> = lines
                    .iter()
                    .map(|(s, q, p)| (s.as_str(), *q, p.as_str()))
                    .collect();
                self.place_order(&lines)
            })
            .collect()
    }

    /// Adds an order of the caller's own JSON (a malformed one, say) to the orders served; returns its index.
    pub fn place_raw_order(&self, order: serde_json::Value) -> usize {
        let mut state = self.lock();
        state.orders.push(order);
        state.orders.len() - 1
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Reads the state under its lock, without copying it.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }
}

/// A running sandbox with its state.
pub struct RestSandbox {
    pub running: Running,
    pub shared: Arc<Shared>,
}

impl RestSandbox {
    /// The sandbox's root: the Marketplace's `spec.endpoint.baseUrl`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn snapshot(&self) -> State {
        self.shared.snapshot()
    }

    /// Reads the state under its lock, without copying it (a catalogue of 100,000 items is read in place).
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.shared.read(f)
    }

    /// Generates an order for polling (or to push); returns its id.
    pub fn place_order(&self, lines: &[(&str, i64, &str)]) -> String {
        self.shared.place_order(lines)
    }

    /// Generates `count` orders of random lines of `skus`; returns their ids.
    pub fn generate_orders(&self, count: usize, skus: &[&str]) -> Vec<String> {
        self.shared.generate_orders(count, skus)
    }

    /// Adds an order of the caller's own JSON to the orders served (polled or pushed).
    pub fn place_raw_order(&self, order: serde_json::Value) -> usize {
        self.shared.place_raw_order(order)
    }

    /// Pushes an order to a webhook as the portal would; the adapter's answer.
    pub async fn push(&self, request: PushRequest) -> state::Push {
        push::push(&self.shared, request).await
    }

    pub fn controls(&self) -> &Controls {
        &self.shared.controls
    }
}

/// Starts the sandbox on `address` (`127.0.0.1:0` for a free port) as `portal`.
pub async fn start(address: &str, portal: Portal) -> std::io::Result<RestSandbox> {
    // The client pushing webhooks; built as the connectors build theirs (rustls over ring).
    let http = adapter_runtime::connectors::http_client(std::time::Duration::from_secs(10))
        .map_err(std::io::Error::other)?;
    let shared = Arc::new(Shared::new(portal, http));
    let router = api::router(shared.clone());
    let running = sandbox::serve(router, shared.controls.clone(), address).await?;
    Ok(RestSandbox { running, shared })
}
