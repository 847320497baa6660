//! Walmart Marketplace API connector: client credentials; inventory and price per SKU or by bulk feed, item
//! (catalog) updates by feed, with each feed's per-item status read back; orders polled with
//! `lastModifiedStartDate` and `nextCursor`, acknowledged once the ERP accepted them, shipped with tracking,
//! cancelled both ways; returns with their refunds; the reconciliation report as settlements matched to orders.
//!
//! Every call carries `WM_SEC.ACCESS_TOKEN` (a client-credentials token cached until shortly before its 900 s
//! run out), `WM_QOS.CORRELATION_ID` (a fresh GUID per call, as the specification asks; it is logged with the
//! record's correlation id and named in the failure of a refused call, so a support case can quote it) and
//! `WM_SVC.NAME`, and goes through the guard of its operation in crds' catalogue, so the `RateLimitPolicy`
//! paces it and a 429's `Retry-After` holds the operation back.
//!
//! URLs: `spec.endpoint.baseUrl` (default `https://marketplace.walmartapis.com`) and `spec.endpoint.tokenUrl`
//! (default `<baseUrl>/v3/token`). Secret keys: `client_id`, `client_secret`. See docs/channels/walmart.md.

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod actions;
mod auth;
pub mod bulk;
mod deliver;
pub mod errors;
pub mod feeds;
mod headers;
pub mod orders;
mod poll;
pub mod recon;
pub mod render;
pub mod returns;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_api::config::AdapterConfig;
use channel_api::connector::{Connector, ConnectorError, OutboundItem, PollPage, Rejected};
use channel_api::connectors::http::{HttpAnswer, read_json, send_guarded};
use channel_api::connectors::{http_client, read_credential};
use channel_api::resilience::{Failure, Resilience};
use crds::channel::Flow;
use crds::v1alpha1::{DeliveryMode, RateLimitPolicySpec};
use reqwest::StatusCode;
use serde_json::Value;

use crate::auth::ClientCredentials;
use crate::headers::{SERVICE_NAME, WM_QOS_CORRELATION_ID, WM_SEC_ACCESS_TOKEN, WM_SVC_NAME};
use crate::recon::KnownOrder;

/// Walmart Marketplace (US) production API.
pub const PRODUCTION_URL: &str = "https://marketplace.walmartapis.com";

/// Where and as whom the connector calls, and how it paces feeds.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub timeout: Duration,
    /// The Marketplace's name: the prefix of order correlation ids.
    pub marketplace: String,
    /// The `RateLimitPolicy`, whose per-SKU buckets decide between per-SKU calls and feeds.
    pub rate_limits: RateLimitPolicySpec,
    /// Delivery per outbound flow (inventory, price): per SKU, feed, or whichever drains a backlog sooner.
    pub inventory_delivery: DeliveryMode,
    pub price_delivery: DeliveryMode,
    /// Whether an order the ERP accepted is acknowledged (Walmart requires it before shipping).
    pub acknowledge: bool,
    /// First wait before a feed's status is read; it doubles up to 30 s.
    pub feed_first_check: Duration,
    /// How long a feed may stay in processing before its items are sent again.
    pub feed_timeout: Duration,
}

pub struct WalmartConnector {
    base_url: String,
    marketplace: String,
    tokens: ClientCredentials,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    rate_limits: RateLimitPolicySpec,
    inventory_delivery: DeliveryMode,
    price_delivery: DeliveryMode,
    acknowledge: bool,
    feed_first_check: Duration,
    feed_timeout: Duration,
    /// Milliseconds the last feed took from submission to processed (an estimate of 2 minutes before any).
    feed_turnaround_millis: AtomicU64,
    /// What the buyer was charged per order polled, and refunds per (order, return), for reconciliation.
    known_orders: Mutex<BTreeMap<String, KnownOrder>>,
    refunds: Mutex<BTreeMap<(String, String), rust_decimal::Decimal>>,
}

impl WalmartConnector {
    /// The connector of a `walmart` Marketplace: URLs from `spec.endpoint` (production by default), the
    /// credentials Secret's `client_id` and `client_secret`.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let base_url = config
            .spec
            .endpoint
            .base_url
            .as_deref()
            .unwrap_or(PRODUCTION_URL)
            .trim_end_matches('/')
            .to_string();
        let token_url = config
            .spec
            .endpoint
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{base_url}/v3/token"));
        let flows = &config.spec.flows;
        Self::new(
            Settings {
                base_url,
                token_url,
                client_id: read_credential(&config.credentials_dir, "client_id")?,
                client_secret: read_credential(&config.credentials_dir, "client_secret")?,
                timeout: Duration::from_secs(30),
                marketplace: config.marketplace.clone(),
                rate_limits: config.rate_limits.spec.clone(),
                inventory_delivery: flows
                    .inventory
                    .as_ref()
                    .map(|f| f.delivery.delivery)
                    .unwrap_or_default(),
                price_delivery: flows.price.as_ref().map(|f| f.delivery).unwrap_or_default(),
                acknowledge: flows.orders.as_ref().is_none_or(|o| o.acknowledge),
                feed_first_check: Duration::from_secs(1),
                feed_timeout: Duration::from_secs(15 * 60),
            },
            resilience,
        )
    }

    pub fn new(settings: Settings, resilience: Arc<Resilience>) -> Result<Self, String> {
        Ok(Self {
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            marketplace: settings.marketplace,
            tokens: ClientCredentials::new(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
            ),
            http: http_client(settings.timeout)?,
            resilience,
            rate_limits: settings.rate_limits,
            inventory_delivery: settings.inventory_delivery,
            price_delivery: settings.price_delivery,
            acknowledge: settings.acknowledge,
            feed_first_check: settings.feed_first_check,
            feed_timeout: settings.feed_timeout,
            feed_turnaround_millis: AtomicU64::new(120_000),
            known_orders: Mutex::new(BTreeMap::new()),
            refunds: Mutex::new(BTreeMap::new()),
        })
    }

    /// One API call of `operation` with Walmart's headers, on behalf of the transaction `correlation` (the
    /// record's correlation id, kept in our logs). Each attempt gets its own `WM_QOS.CORRELATION_ID` GUID,
    /// logged next to `correlation` and named in the failure of a refused attempt. A 401 renews the token and
    /// tries once more (a token can be revoked before it expires); other failures are classified by
    /// [`errors::classify`].
    async fn call(
        &self,
        operation: &str,
        correlation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        // The GUID of the attempt being classified.
        let call_id = Mutex::new(String::new());
        // A 401 is not retried by the guard: the token is renewed first.
        let classify = |answer: &HttpAnswer| {
            let call_id = call_id.lock().map(|id| id.clone()).unwrap_or_default();
            if answer.status == StatusCode::UNAUTHORIZED {
                return Failure::Permanent(format!(
                    "401 {} [{WM_QOS_CORRELATION_ID} {call_id}]",
                    errors::error_text(&answer.body)
                ));
            }
            errors::with_call_id(errors::classify(answer), &call_id)
        };
        self.tokens
            .authorized(&self.http, &self.resilience, |token| {
                let build = &build;
                let call_id = &call_id;
                async move {
                    send_guarded(
                        &self.resilience,
                        operation,
                        1,
                        || {
                            let id = uuid::Uuid::new_v4().to_string();
                            tracing::debug!(
                                operation,
                                correlation,
                                wm_qos_correlation_id = %id,
                                "calling Walmart"
                            );
                            if let Ok(mut last) = call_id.lock() {
                                last.clone_from(&id);
                            }
                            build()
                                .header(WM_SEC_ACCESS_TOKEN, token.as_str())
                                .header(WM_QOS_CORRELATION_ID, id)
                                .header(WM_SVC_NAME, SERVICE_NAME)
                                .header("Accept", "application/json")
                        },
                        classify,
                    )
                    .await
                }
            })
            .await
    }

    /// A call whose answer is JSON.
    async fn call_json(
        &self,
        operation: &str,
        correlation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, ConnectorError> {
        let response = self.call(operation, correlation, build).await?;
        read_json(response, &format!("Walmart's {operation} answer")).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A correlation id for calls that belong to no record (polls, feed status reads).
    fn new_correlation(&self, what: &str) -> String {
        format!(
            "{}:{what}:{}",
            self.marketplace,
            uuid::Uuid::new_v4().simple()
        )
    }
}

/// A path segment, percent-encoded (purchase order ids are digits, but nothing checks that for us).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Connector for WalmartConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            // A batch is either worked through per SKU under the operation's guard or sent as feeds.
            Flow::Inventory | Flow::Price | Flow::Catalog => 10_000,
            _ => 1,
        }
    }

    fn fetch_batch(&self, flow: Flow) -> usize {
        match flow {
            // The backlog at hand decides between per-SKU calls and feeds: fetch as much as JetStream allows.
            Flow::Inventory | Flow::Price | Flow::Catalog => 10_000,
            _ => 500,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        match flow {
            Flow::Inventory | Flow::Price | Flow::Catalog => {
                self.deliver_listing(flow, items).await
            }
            _ => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    let result = match flow {
                        Flow::Orders => self.order_update(item).await,
                        Flow::Shipments => self.ship(item).await,
                        other => Err(ConnectorError::permanent(format!(
                            "the Walmart connector has no outbound {other} flow"
                        ))),
                    };
                    results.push(result);
                }
                results
            }
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        self.poll_checked(flow, cursor).await.map(|(page, _)| page)
    }

    async fn poll_checked(
        &self,
        flow: Flow,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        match flow {
            Flow::Orders => self.poll_orders(cursor).await,
            Flow::Returns => self.poll_returns(cursor).await,
            Flow::Settlements => self.poll_settlements(cursor).await,
            other => Err(ConnectorError::permanent(format!(
                "the Walmart connector has no inbound {other} flow"
            ))),
        }
    }

    fn reread(
        &self,
        flow: Flow,
        raw: &[u8],
    ) -> Result<Vec<channel_api::canonical::Record>, String> {
        WalmartConnector::reread(self, flow, raw)
    }
}
