//! The Amazon Selling Partner API connector: Login with Amazon, Listings Items 2021-08-01 for inventory,
//! price and catalog, Orders 2026-01-01 for orders, Orders v0 `confirmShipment` for shipments. Every call
//! goes through its operation's guard, so the `RateLimitPolicy` (by default Amazon's published limits) paces
//! it, and Amazon's `429 QuotaExceeded` with `x-amzn-RateLimit-Limit` slows it down.
//!
//! Secret keys: `client_id`, `client_secret`, `refresh_token`. See docs/channels/amazon.md.

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
mod auth;
pub mod bulk;
pub mod documents;
mod feed_client;
pub mod feeds;
pub mod flat_file;
pub mod listings;
pub mod orders;
pub mod reconcile;
mod report_client;
pub mod returns_report;
pub mod settlement_report;
pub mod shipments;

use std::sync::Arc;
use std::time::Duration;

use channel_api::config::AdapterConfig;
use channel_api::connector::{Connector, ConnectorError, OutboundItem, PollPage, Rejected};
use channel_api::connectors::http::{HttpAnswer, classify_status, read_json, send_guarded};
use channel_api::connectors::{http_client, read_credential};
use channel_api::resilience::{Failure, Resilience};
use chrono::{DateTime, Utc};
use crds::channel::Flow;
use crds::v1alpha1::DeliveryMode;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

/// Amazon's production token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";

/// The production SP-API endpoint of a region (`na`, `eu`, `fe`).
pub fn default_base_url(region: &str) -> Option<&'static str> {
    match region {
        "na" => Some("https://sellingpartnerapi-na.amazon.com"),
        "eu" => Some("https://sellingpartnerapi-eu.amazon.com"),
        "fe" => Some("https://sellingpartnerapi-fe.amazon.com"),
        _ => None,
    }
}

/// How long Amazon takes to process a JSON_LISTINGS_FEED until one has been measured: Amazon documents
/// minutes, and two is what a small feed commonly takes. Each processed feed's measured turnaround replaces it.
pub const DEFAULT_FEED_TURNAROUND: Duration = Duration::from_secs(120);

/// Records fetched at once on the listings flows (the consumer's max ack pending): the backlog one choice
/// between patches and a feed is made for.
pub const LISTINGS_BATCH: usize = 1_000;

/// Patch calls in flight at once: the usage plan's burst. The guard's concurrency setting still applies.
const PATCHES_IN_FLIGHT: usize = 5;

/// How far back the first poll of a new marketplace reads orders.
const FIRST_POLL_LOOKBACK: chrono::Duration = chrono::Duration::days(7);

pub struct AmazonConnector {
    base_url: String,
    seller_id: String,
    marketplace_id: String,
    marketplace: String,
    lwa: auth::Lwa,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    /// The feed turnaround `bulk::choose` assumes: the last one measured, or the default.
    feed_turnaround: std::sync::Mutex<Duration>,
    /// The orders and refunds this connector has read, for settlement reconciliation.
    knowledge: std::sync::Mutex<report_client::Knowledge>,
    /// Per listings flow: how the Marketplace asks it to be delivered, and its most records per feed.
    delivery: Vec<(Flow, DeliveryMode, usize)>,
}

/// Where the orders poll stands: orders updated after `after`, and the page token while paging.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdersCursor {
    pub after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl AmazonConnector {
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let endpoint = &config.spec.endpoint;
        let region = endpoint.region.as_deref().unwrap_or("na");
        let base_url = match &endpoint.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => default_base_url(region)
                .ok_or_else(|| format!("spec.endpoint.region: unknown Amazon region (value: {region:?}; one of na, eu, fe)"))?
                .to_string(),
        };
        let marketplace_id = endpoint
            .marketplace_ids
            .first()
            .cloned()
            .ok_or("spec.endpoint.marketplaceIds: Amazon needs at least one marketplace id")?;
        let seller_id = endpoint
            .seller_id
            .clone()
            .ok_or("spec.endpoint.sellerId: Amazon needs the selling partner id")?;
        let flows = &config.spec.flows;
        let delivery = [
            (
                Flow::Inventory,
                flows.inventory.as_ref().map(|f| &f.delivery),
            ),
            (Flow::Price, flows.price.as_ref()),
            (Flow::Catalog, flows.catalog.as_ref()),
        ]
        .into_iter()
        .filter_map(|(flow, settings)| {
            let settings = settings?;
            let per_feed = settings
                .max_batch_size
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(feeds::MAX_MESSAGES)
                .clamp(1, feeds::MAX_MESSAGES);
            Some((flow, settings.delivery, per_feed))
        })
        .collect();
        let dir = &config.credentials_dir;
        let lwa = auth::Lwa::new(
            endpoint
                .token_url
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_string()),
            read_credential(dir, "client_id")?,
            read_credential(dir, "client_secret")?,
            read_credential(dir, "refresh_token")?,
        );
        Ok(Self {
            base_url,
            seller_id,
            marketplace_id,
            marketplace: config.marketplace.clone(),
            lwa,
            http: http_client(Duration::from_secs(30))?,
            resilience,
            feed_turnaround: std::sync::Mutex::new(DEFAULT_FEED_TURNAROUND),
            knowledge: std::sync::Mutex::new(report_client::Knowledge::default()),
            delivery,
        })
    }

    /// Starts from `turnaround` as the feed processing time instead of [`DEFAULT_FEED_TURNAROUND`] (a
    /// sandbox processes feeds in about a second).
    pub fn with_feed_turnaround(self, turnaround: Duration) -> Self {
        self.note_feed_turnaround(turnaround);
        self
    }

    /// The feed processing time the next choice assumes.
    pub fn feed_turnaround(&self) -> Duration {
        *self
            .feed_turnaround
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn note_feed_turnaround(&self, turnaround: Duration) {
        *self
            .feed_turnaround
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = turnaround;
    }

    /// Patches or a feed for `backlog` SKU updates with at most `per_feed` messages per feed, under Amazon's
    /// published limits.
    pub fn plan(&self, backlog: usize, per_feed: usize) -> bulk::Plan {
        let published = |name: &str| {
            crds::channel::ChannelKind::Amazon
                .operation(name)
                .and_then(|op| op.published)
        };
        let (Some(patch), Some(create), Some(regional)) = (
            published("patchListingsItem"),
            published("createFeed"),
            published("jsonListingsFeed"),
        ) else {
            return bulk::Plan {
                route: bulk::Route::Patches,
                patches_millis: 0,
                feed_millis: 0,
            };
        };
        bulk::choose(
            backlog as u64,
            &patch,
            &[create, regional],
            per_feed as u64,
            u64::try_from(self.feed_turnaround().as_millis()).unwrap_or(u64::MAX),
        )
    }

    /// Inventory, price or catalog updates: by patches or by feed as the flow's `delivery` says (`Auto`:
    /// whichever drains them sooner).
    async fn deliver_listings(
        &self,
        flow: Flow,
        items: &[OutboundItem],
    ) -> Vec<Result<(), ConnectorError>> {
        let (mode, per_feed) = self
            .delivery
            .iter()
            .find(|(f, _, _)| *f == flow)
            .map_or((DeliveryMode::Auto, feeds::MAX_MESSAGES), |(_, mode, n)| {
                (*mode, *n)
            });
        let plan = self.plan(items.len(), per_feed);
        let route = match mode {
            DeliveryMode::Auto => plan.route,
            DeliveryMode::PerRecord => bulk::Route::Patches,
            DeliveryMode::Bulk => bulk::Route::Feed,
        };
        info!(marketplace = %self.marketplace, %flow, items = items.len(), ?mode, ?route,
            patches_ms = plan.patches_millis as u64, feed_ms = plan.feed_millis as u64, "listings batch");
        match route {
            bulk::Route::Feed => {
                let mut results = Vec::with_capacity(items.len());
                for chunk in items.chunks(per_feed) {
                    results.extend(self.send_feed(chunk).await);
                }
                results
            }
            // Several in flight, so that Amazon's latency does not lower the rate; the operation's guard paces
            // them and bounds how many run at once. Results stay in the items' order.
            bulk::Route::Patches => {
                let mut in_flight = FuturesOrdered::new();
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    if in_flight.len() >= PATCHES_IN_FLIGHT
                        && let Some(result) = in_flight.next().await
                    {
                        results.push(result);
                    }
                    in_flight.push_back(self.patch_listing(item));
                }
                while let Some(result) = in_flight.next().await {
                    results.push(result);
                }
                results
            }
        }
    }

    /// One SP-API call: the access token, the operation's guard, Amazon's error classification. A 403 (how
    /// SP-API refuses an expired or revoked token) logs in again and tries once more.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.lwa
            .authorized(&self.http, |token| {
                let build = &build;
                async move {
                    send_guarded(
                        &self.resilience,
                        operation,
                        1,
                        || build(token.as_str()).header("x-amz-access-token", token.as_str()),
                        classify_amazon,
                    )
                    .await
                }
            })
            .await
    }

    async fn patch_listing(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body = listings::patch_request(&item.fields, &self.marketplace_id)
            .map_err(ConnectorError::permanent)?;
        let url = format!(
            "{}/listings/2021-08-01/items/{}/{}",
            self.base_url,
            encode(&self.seller_id),
            encode(&item.key)
        );
        let response = self
            .call("patchListingsItem", |_| {
                self.http
                    .patch(&url)
                    .query(&[("marketplaceIds", self.marketplace_id.as_str())])
                    .json(&body)
            })
            .await?;
        let answer: Value = read_json(response, "the patchListingsItem answer").await?;
        listings::submission_outcome(&answer).map_err(ConnectorError::permanent)
    }

    async fn confirm_shipment(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body = shipments::confirm_request(&item.fields, &item.record, &self.marketplace_id)
            .map_err(ConnectorError::permanent)?;
        let url = format!(
            "{}/orders/v0/orders/{}/shipmentConfirmation",
            self.base_url,
            encode(&item.key)
        );
        self.call("confirmShipment", |_| self.http.post(&url).json(&body))
            .await
            .map(|_| ())
    }

    async fn poll_orders(&self, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let cursor: OrdersCursor = match cursor {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                ConnectorError::permanent(format!(
                    "the stored orders cursor is not Amazon's (value: {text:?}): {e}"
                ))
            })?,
            None => OrdersCursor {
                after: Utc::now() - FIRST_POLL_LOOKBACK,
                token: None,
            },
        };
        let url = format!("{}/orders/2026-01-01/orders", self.base_url);
        let after = cursor
            .after
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut query: Vec<(&str, &str)> = vec![
            ("marketplaceIds", self.marketplace_id.as_str()),
            ("lastUpdatedAfter", after.as_str()),
            ("maxResultsPerPage", "100"),
        ];
        if let Some(token) = &cursor.token {
            query.push(("paginationToken", token.as_str()));
        }
        let response = self
            .call("searchOrders", |_| self.http.get(&url).query(&query))
            .await?;
        let answer: Value = read_json(response, "the searchOrders answer").await?;
        let list = answer
            .get("orders")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut records = Vec::with_capacity(list.len());
        let mut newest = cursor.after;
        for order in &list {
            if let Some(updated) = order
                .get("lastUpdatedTime")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            {
                newest = newest.max(updated.with_timezone(&Utc));
            }
            match orders::to_record(order, &self.marketplace) {
                Ok(record) => {
                    self.note_order(&record);
                    records.push(record)
                }
                // The order stays on Amazon; the cursor moves on. It is logged with what is wrong.
                Err(e) => {
                    warn!(marketplace = %self.marketplace, error = %e, "an Amazon order cannot be read")
                }
            }
        }
        let token = answer
            .pointer("/pagination/nextToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        let more = token.is_some();
        let next = OrdersCursor {
            // While paging, the window stays where it started; after the last page it moves to the newest order.
            after: if more { cursor.after } else { newest },
            token,
        };
        Ok(PollPage {
            records,
            next_cursor: serde_json::to_string(&next).ok(),
            more,
        })
    }
}

/// Amazon's error classification: 429 (`QuotaExceeded`) throttled with the `x-amzn-RateLimit-Limit` hint,
/// 5xx retried, other 4xx permanent with Amazon's message (a 403, an expired token, is retried once after a
/// new login by [`auth::Lwa::authorized`]).
fn classify_amazon(answer: &HttpAnswer) -> Failure<String> {
    let message = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|body| {
            let error = body.pointer("/errors/0")?;
            Some(format!(
                "{} {}: {}",
                answer.status.as_u16(),
                error.get("code")?.as_str()?,
                error.get("message").and_then(Value::as_str).unwrap_or("")
            ))
        });
    match message {
        Some(message) => classify_status(answer).map(|_| message),
        None => classify_status(answer),
    }
}

/// A path segment, percent-encoded (SKUs may hold `/`, spaces or `#`).
fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Connector for AmazonConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            // The whole fetched backlog, so that patches or a feed is chosen for all of it.
            Flow::Inventory | Flow::Price | Flow::Catalog => LISTINGS_BATCH,
            // One call per record, worked through under the operation's guard.
            _ => 20,
        }
    }

    fn fetch_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory | Flow::Price | Flow::Catalog => LISTINGS_BATCH,
            _ => 500,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        if matches!(flow, Flow::Inventory | Flow::Price | Flow::Catalog) {
            return self.deliver_listings(flow, items).await;
        }
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let result = match flow {
                Flow::Shipments => self.confirm_shipment(item).await,
                Flow::Orders => order_update(item),
                other => Err(ConnectorError::permanent(format!(
                    "the Amazon connector has no outbound {other} flow"
                ))),
            };
            results.push(result);
        }
        results
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
            Flow::Orders => self
                .poll_orders(cursor)
                .await
                .map(|page| (page, Vec::new())),
            Flow::Returns => self.poll_returns(cursor).await,
            Flow::Settlements => self.poll_settlements(cursor).await,
            other => Err(ConnectorError::permanent(format!(
                "the Amazon connector has no inbound {other} flow"
            ))),
        }
    }
}

/// The ERP's answer about an order. Amazon's merchant-fulfilled orders need no acknowledgement, so an
/// acceptance is done; a refusal or a seller cancellation has no operation in the Orders models Tradewind
/// implements, so it is dead-lettered for a person to cancel in Seller Central.
fn order_update(item: &OutboundItem) -> Result<(), ConnectorError> {
    match item.fields.get("kind").and_then(Value::as_str) {
        Some("accepted") => Ok(()),
        Some(kind) => Err(ConnectorError::permanent(format!(
            "order {} was {kind} by the ERP: Amazon's Orders API has no seller cancellation; cancel it in Seller Central",
            item.key
        ))),
        None => Err(ConnectorError::permanent(format!(
            "order {}: an order update without a kind",
            item.key
        ))),
    }
}
