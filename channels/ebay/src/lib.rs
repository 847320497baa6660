//! eBay Sell API connector: OAuth refresh-token grant, Inventory bulk_update_price_quantity, Fulfillment getOrders
//! and createShippingFulfillment.
//!
//! - Token: `POST /identity/v1/oauth2/token` (`grant_type=refresh_token`, Basic `client_id:client_secret`),
//!   cached until a minute before `expires_in`; a 401 from an API drops it so the next attempt fetches another.
//! - Inventory: `bulk_update_price_quantity`, 25 SKUs per call (`shipToLocationAvailability.quantity`); each
//!   SKU's `statusCode` and `errors` become that record's result, so one bad SKU fails alone.
//! - Orders in: `getOrders` with `filter=lastmodifieddate:[<since>..]`, `limit`/`offset` pages of 100.
//! - Prices: eBay keeps the price on the offer, so each SKU's published fixed-price offers are looked up once with
//!   `getOffers` and cached (SKU -> offer ids); the prices then go out in `bulk_update_price_quantity`'s
//!   `offers[{offerId, price}]`, 25 offers per call. An offer eBay no longer knows drops the SKU from the cache
//!   and is retried, so a relisted SKU is looked up again.
//! - Shipments: one `createShippingFulfillment` per package (the shipment's lines, carrier, tracking).
//! - Daily quotas: every call goes through its operation's guard; a `RateLimitPolicy` bucket of
//!   `{requests: <quota>, per: 24h}` paces the account under eBay's daily call limit, and a 429 is retried
//!   after its hint.

pub mod orders;
pub mod prices;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use crds::channel::Flow;
use serde::Deserialize;
use serde_json::{Value, json};

use adapter_runtime::canonical::{MarketplaceName, Record};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::{Connector, ConnectorError, FailureKind, OutboundItem, PollPage};
use adapter_runtime::connectors::http::{HttpAnswer, classify_status, read_json, send_guarded};
use adapter_runtime::connectors::{http_client, read_credential};
use adapter_runtime::resilience::{Failure, Resilience};

pub const PRODUCTION_URL: &str = "https://api.ebay.com";
/// Most SKUs per bulk_update_price_quantity call.
pub const BULK_SKUS: usize = 25;
pub const ORDERS_PAGE: usize = 100;
const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.inventory https://api.ebay.com/oauth/api_scope/sell.fulfillment";

pub struct EbayConnector {
    base_url: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    marketplace: MarketplaceName,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    token: Mutex<Option<(String, Instant)>>,
    /// SKU -> its priceable offers, from getOffers: looked up once, not per price (getOffers has its daily
    /// quota too).
    offers: Mutex<HashMap<String, Vec<prices::KnownOffer>>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct OrderPage {
    #[serde(default)]
    orders: Vec<Value>,
    #[serde(default)]
    total: usize,
}

/// A non-2xx eBay answer: 401 is retryable (the token is renewed), the rest as usual.
fn classify(answer: &HttpAnswer) -> Failure<String> {
    if answer.status == reqwest::StatusCode::UNAUTHORIZED {
        Failure::Retryable(answer.summary())
    } else {
        classify_status(answer)
    }
}

/// An eBay `errors` list in one line.
fn messages(errors: Option<&Value>) -> String {
    errors
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let id = e.get("errorId").map(Value::to_string).unwrap_or_default();
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            format!("eBay error {id}: {message}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl EbayConnector {
    /// `spec.endpoint.baseUrl` (default https://api.ebay.com), `spec.endpoint.tokenUrl` (default
    /// `<baseUrl>/identity/v1/oauth2/token`) and the Secret's `client_id`, `client_secret`, `refresh_token`.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let marketplace = MarketplaceName::try_from(config.marketplace.as_str())
            .map_err(|e| format!("marketplace name: {e}"))?;
        let endpoint = &config.spec.endpoint;
        Self::new(
            endpoint.base_url.as_deref().unwrap_or(PRODUCTION_URL),
            endpoint.token_url.as_deref(),
            &config.credentials_dir,
            marketplace,
            resilience,
            Duration::from_secs(30),
        )
    }

    pub fn new(
        base_url: &str,
        token_url: Option<&str>,
        credentials_dir: &Path,
        marketplace: MarketplaceName,
        resilience: Arc<Resilience>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let base_url = base_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base_url)
            .map_err(|e| format!("spec.endpoint.baseUrl {base_url:?} is not a URL: {e}"))?;
        let token_url = token_url
            .map(str::to_string)
            .unwrap_or_else(|| format!("{base_url}/identity/v1/oauth2/token"));
        reqwest::Url::parse(&token_url)
            .map_err(|e| format!("spec.endpoint.tokenUrl {token_url:?} is not a URL: {e}"))?;
        Ok(Self {
            base_url,
            token_url,
            client_id: read_credential(credentials_dir, "client_id")?,
            client_secret: read_credential(credentials_dir, "client_secret")?,
            refresh_token: read_credential(credentials_dir, "refresh_token")?,
            marketplace,
            http: http_client(timeout)?,
            resilience,
            token: Mutex::new(None),
            offers: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Option<(String, Instant)>> {
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn access_token(&self) -> Result<String, ConnectorError> {
        if let Some((token, until)) = self.cached().as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.client_id, self.client_secret));
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("scope", SCOPE),
        ];
        let response = send_guarded(
            &self.resilience,
            "getToken",
            1,
            || {
                self.http
                    .post(&self.token_url)
                    .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
                    .form(&form)
            },
            classify_status,
        )
        .await?;
        let answer: TokenAnswer = read_json(response, "the token answer").await?;
        let lifetime = Duration::from_secs(answer.expires_in.saturating_sub(60).max(1));
        *self.cached() = Some((answer.access_token.clone(), Instant::now() + lifetime));
        Ok(answer.access_token)
    }

    /// One API call with the user token; a 401 forgets the token so the retry fetches a new one.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let token = self.access_token().await?;
        let result = send_guarded(
            &self.resilience,
            operation,
            1,
            || build().bearer_auth(&token),
            classify,
        )
        .await;
        if result
            .as_ref()
            .is_err_and(|e| e.to_string().contains("401"))
        {
            *self.cached() = None;
        }
        result
    }

    /// One `bulk_update_price_quantity` call of `requests` (PriceQuantity): eBay's `responses`, one per SKU
    /// and per offer.
    async fn bulk_update(&self, requests: Vec<Value>) -> Result<Vec<Value>, ConnectorError> {
        let url = format!(
            "{}/sell/inventory/v1/bulk_update_price_quantity",
            self.base_url
        );
        let body = json!({ "requests": requests });
        let response = self
            .call("bulkUpdatePriceQuantity", || {
                self.http.post(&url).json(&body)
            })
            .await?;
        let answer: Value = read_json(response, "the bulk_update_price_quantity answer").await?;
        Ok(answer
            .get("responses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    async fn deliver_inventory(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut results: Vec<Result<(), ConnectorError>> = Vec::with_capacity(items.len());
        for chunk in items.chunks(BULK_SKUS) {
            let mut requests = Vec::new();
            let mut placed = Vec::new();
            for item in chunk {
                let sku = channel_sku(item);
                // The mapped PriceQuantity field first, then the canonical record's.
                let quantity = item
                    .fields
                    .pointer("/shipToLocationAvailability/quantity")
                    .and_then(Value::as_i64)
                    .or_else(|| {
                        [&item.fields, &item.record].iter().find_map(|s| {
                            s.get("available")
                                .or_else(|| s.get("quantity"))
                                .and_then(Value::as_i64)
                        })
                    });
                match quantity {
                    Some(q) => {
                        placed.push(Ok(sku.to_string()));
                        requests.push(
                            json!({"sku": sku, "shipToLocationAvailability": {"quantity": q}}),
                        );
                    }
                    None => placed.push(Err(ConnectorError::permanent(format!(
                        "SKU {sku}: field available is missing or not a whole number"
                    )))),
                }
            }
            if requests.is_empty() {
                results.extend(placed.into_iter().map(|p| p.map(|_| ())));
                continue;
            }
            let responses = match self.bulk_update(requests).await {
                Ok(responses) => responses,
                Err(e) => {
                    results.extend(placed.into_iter().map(|p| p.and(Err(e.clone()))));
                    continue;
                }
            };
            for p in placed {
                results.push(p.and_then(|sku| {
                    let answer = responses
                        .iter()
                        .find(|r| r.get("sku").and_then(Value::as_str) == Some(sku.as_str()));
                    match answer
                        .and_then(|a| a.get("statusCode"))
                        .and_then(Value::as_u64)
                    {
                        Some(200) => Ok(()),
                        Some(status) => Err(ConnectorError::permanent(format!(
                            "SKU {sku}: status {status}: {}",
                            messages(answer.and_then(|a| a.get("errors")))
                        ))),
                        None => Err(ConnectorError::retryable(format!(
                            "SKU {sku}: no status in eBay's answer"
                        ))),
                    }
                }));
            }
        }
        results
    }

    fn known_offers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<prices::KnownOffer>>> {
        self.offers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The SKU's priceable offers: cached, else from `getOffers` (an empty list is not cached, so an offer
    /// published later is found).
    async fn offers_of(&self, sku: &str) -> Result<Vec<prices::KnownOffer>, ConnectorError> {
        if let Some(offers) = self.known_offers().get(sku) {
            return Ok(offers.clone());
        }
        let url = format!("{}/sell/inventory/v1/offer", self.base_url);
        let query = [("sku", sku), ("format", "FIXED_PRICE")];
        let answer: Value = match self
            .call("getOffers", || self.http.get(&url).query(&query))
            .await
        {
            Ok(response) => read_json(response, "the getOffers answer").await?,
            // eBay answers 404 (errorId 25713) for a SKU with no offer.
            Err(e) if e.kind == FailureKind::Permanent && e.message.starts_with("404") => {
                Value::Null
            }
            Err(e) => return Err(e),
        };
        let offers = prices::priceable_offers(&answer);
        if offers.is_empty() {
            return Err(ConnectorError::permanent(format!(
                "SKU {sku}: no published fixed-price offer on eBay (getOffers), so nothing to price"
            )));
        }
        self.known_offers().insert(sku.to_string(), offers.clone());
        Ok(offers)
    }

    async fn deliver_prices(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut results: Vec<Result<(), ConnectorError>> = vec![Ok(()); items.len()];
        let mut ready = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let sku = channel_sku(item);
            let price = match prices::wanted(item) {
                Ok(p) => p,
                Err(e) => {
                    results[index] = Err(ConnectorError::permanent(format!("SKU {sku}: {e}")));
                    continue;
                }
            };
            match self.offers_of(sku).await {
                Ok(offers) => {
                    if let Some(other) = offers
                        .iter()
                        .find_map(|o| o.currency.as_ref().filter(|c| **c != price.currency))
                    {
                        results[index] = Err(ConnectorError::permanent(format!(
                            "SKU {sku}: price in {} but the eBay offer is priced in {other}",
                            price.currency
                        )));
                    } else {
                        ready.push(prices::Ready {
                            index,
                            sku,
                            offers,
                            price,
                        });
                    }
                }
                Err(e) => {
                    results[index] = Err(ConnectorError {
                        message: format!("SKU {sku}: {}", e.message),
                        ..e
                    })
                }
            }
        }
        for call in prices::calls(&ready) {
            let requests = call.iter().map(prices::request).collect();
            let responses = match self.bulk_update(requests).await {
                Ok(responses) => responses,
                Err(e) => {
                    for r in call {
                        results[r.index] = Err(e.clone());
                    }
                    continue;
                }
            };
            for r in call {
                results[r.index] = match prices::outcome(r, &responses, messages) {
                    prices::Outcome::Priced => Ok(()),
                    prices::Outcome::Stale(why) => {
                        self.known_offers().remove(r.sku);
                        Err(ConnectorError::retryable(format!(
                            "{why}; its offers are looked up again"
                        )))
                    }
                    prices::Outcome::Refused(why) => {
                        // A refusal may come of a stale cache too (the offer now another SKU's).
                        self.known_offers().remove(r.sku);
                        Err(ConnectorError::permanent(why))
                    }
                    prices::Outcome::Unanswered(why) => Err(ConnectorError::retryable(why)),
                };
            }
        }
        results
    }

    async fn deliver_shipment(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let get = |f: &str| {
            item.fields
                .get(f)
                .or_else(|| item.record.get(f))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let order_id = get("orderId").unwrap_or_else(|| item.key.clone());
        let carrier = get("shippingCarrierCode")
            .or_else(|| get("carrier"))
            .ok_or_else(|| ConnectorError::permanent("field carrier is missing"))?;
        let tracking = get("trackingNumber")
            .ok_or_else(|| ConnectorError::permanent("field trackingNumber is missing"))?;
        let lines: Vec<Value> = item
            .record
            .get("lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| Some(json!({"lineItemId": l.get("lineId")?.as_str()?, "quantity": l.get("quantity")?.as_i64()?})))
            .collect();
        if lines.is_empty() {
            return Err(ConnectorError::permanent(
                "field lines is empty: eBay fulfils line items",
            ));
        }
        let mut body =
            json!({"lineItems": lines, "shippingCarrierCode": carrier, "trackingNumber": tracking});
        if let Some(shipped) = get("shippedAt") {
            body["shippedDate"] = json!(shipped);
        }
        let url = format!(
            "{}/sell/fulfillment/v1/order/{}/shipping_fulfillment",
            self.base_url,
            segment(&order_id)
        );
        self.call("createShippingFulfillment", || {
            self.http.post(&url).json(&body)
        })
        .await
        .map(|_| ())
    }

    async fn poll_orders(&self, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let cursor = orders::Cursor::parse(cursor).map_err(ConnectorError::permanent)?;
        let mut query = vec![
            ("limit", ORDERS_PAGE.to_string()),
            ("offset", cursor.offset.to_string()),
        ];
        if let Some(filter) = cursor.filter() {
            query.push(("filter", filter));
        }
        let url = format!("{}/sell/fulfillment/v1/order", self.base_url);
        let response = self
            .call("getOrders", || self.http.get(&url).query(&query))
            .await?;
        let page: OrderPage = read_json(response, "the getOrders answer").await?;
        let mut records = Vec::with_capacity(page.orders.len());
        let mut newest = None;
        for order in &page.orders {
            let order = orders::to_canonical(&self.marketplace, order)
                .map_err(ConnectorError::permanent)?;
            newest = newest.max(Some(order.updated_at));
            records.push(Record::Order(Box::new(order)));
        }
        let (next, more) = cursor.after_page(page.orders.len(), page.total, newest);
        Ok(PollPage {
            records,
            next_cursor: Some(next.render()),
            more,
        })
    }
}

/// The SKU on eBay: the mapped `sku` (a mapping writes `sku(record.sku)` to apply the SKU cross-reference),
/// else the item's key.
fn channel_sku(item: &OutboundItem) -> &str {
    item.fields
        .get("sku")
        .and_then(Value::as_str)
        .unwrap_or(&item.key)
}

fn segment(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

impl Connector for EbayConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory | Flow::Price => 250,
            _ => 50,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        match flow {
            Flow::Inventory => self.deliver_inventory(items).await,
            Flow::Price => self.deliver_prices(items).await,
            Flow::Shipments => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(self.deliver_shipment(item).await);
                }
                results
            }
            // eBay orders need no acceptance; cancellations go through eBay's cancellation flow (not yet).
            Flow::Orders => items
                .iter()
                .map(
                    |item| match item.fields.get("kind").and_then(Value::as_str) {
                        Some("accepted") => Ok(()),
                        other => Err(ConnectorError::permanent(format!(
                            "the eBay connector does not send {other:?} order updates yet"
                        ))),
                    },
                )
                .collect(),
            other => items
                .iter()
                .map(|_| {
                    Err(ConnectorError::permanent(format!(
                        "the eBay connector does not deliver the {other} flow yet"
                    )))
                })
                .collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        match flow {
            Flow::Orders => self.poll_orders(cursor).await,
            _ => Ok(PollPage {
                records: Vec::new(),
                next_cursor: cursor.map(str::to_string),
                more: false,
            }),
        }
    }
}
