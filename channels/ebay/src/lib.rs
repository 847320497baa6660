//! eBay Sell API connector: OAuth refresh-token grant, Inventory bulk_update_price_quantity, Fulfillment getOrders
//! and createShippingFulfillment.
//!
//! - Token: `POST /identity/v1/oauth2/token` (`grant_type=refresh_token`, Basic `client_id:client_secret`),
//!   kept in the shared [`TokenCache`] (renewed a minute before `expires_in`, one grant at a time for every
//!   flow); a 401 from an API gets a new token and the call is made once more.
//! - Inventory: `bulk_update_price_quantity`, 25 SKUs per call (`shipToLocationAvailability.quantity`); each
//!   SKU's `statusCode` and `errors` become that record's result, so one bad SKU fails alone.
//! - Orders in: `getOrders` with `filter=lastmodifieddate:[<since>..]`, `limit`/`offset` pages of 100.
//! - Prices: eBay keeps the price on the offer, so each SKU's published fixed-price offers are looked up once with
//!   `getOffers` and cached (SKU -> offer ids); the prices then go out in `bulk_update_price_quantity`'s
//!   `offers[{offerId, price}]`, 25 offers per call. An offer eBay no longer knows drops the SKU from the cache
//!   and is retried, so a relisted SKU is looked up again.
//! - Shipments: one `createShippingFulfillment` per package (the shipment's lines, carrier, tracking).
//! - Settlements: one eBay payout is one canonical `Settlement`. `getPayouts` (`filter=payoutDate:[<cursor>..]`,
//!   `sort=payoutDate`, oldest first) finds the next payout after the cursor; `getTransactions`
//!   (`filter=payoutId:{<id>}`, `limit`/`offset` pages of 200) gives its amounts, one line per transaction. The
//!   cursor is the last payout handled (date and id). A paid payout whose transactions cannot be read, or that
//!   eBay did not pay out, is dead-lettered before the cursor moves past it; a payout still in progress waits.
//!   The Finances API lives on eBay's `apiz` host: see [`finances_url`]. Each settled order's sale is
//!   reconciled with the order total the orders flow read (or, for an order read before a restart, `getOrders`
//!   by `orderIds`, 50 a call); a mismatch or an order eBay does not return is dead-lettered naming both amounts.
//! - Daily quotas: every call goes through its operation's guard; a `RateLimitPolicy` bucket of
//!   `{requests: <quota>, per: 24h}` paces the account under eBay's daily call limit, and a 429 is retried
//!   after its hint.

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod orders;
pub mod prices;
pub mod settlements;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use crds::channel::Flow;
use serde::Deserialize;
use serde_json::{Value, json};

use channel_api::auth::{Grant, TokenCache};
use channel_api::canonical::{CorrelationId, MarketplaceName, Money, Order, Record, Settlement};
use channel_api::config::AdapterConfig;
use channel_api::connector::{
    Connector, ConnectorError, FailureKind, OutboundItem, PollPage, Rejected,
};
use channel_api::connectors::http::{HttpAnswer, classify_status, read_json, send_guarded};
use channel_api::connectors::{http_client, read_credential};
use channel_api::resilience::{Failure, Resilience};

pub const PRODUCTION_URL: &str = "https://api.ebay.com";
/// Most SKUs per bulk_update_price_quantity call.
pub const BULK_SKUS: usize = 25;
pub const ORDERS_PAGE: usize = 100;
/// Payouts per getPayouts call (eBay's maximum) and transactions per getTransactions call.
pub const PAYOUTS_PAGE: usize = 200;
pub const TRANSACTIONS_PAGE: usize = 200;
/// Most orders one getOrders call looks up by `orderIds`.
pub const ORDER_IDS_PER_CALL: usize = 50;
/// Order totals kept for reconciliation; past it the lowest order ids are forgotten (and looked up again).
pub const KNOWN_ORDERS: usize = 100_000;
/// The marketplace eBay assumes when none is configured (`X-EBAY-C-MARKETPLACE-ID`).
pub const DEFAULT_MARKETPLACE_ID: &str = "EBAY_US";
const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.inventory https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.finances";
const FINANCES_PATH: &str = "/sell/finances/v1";

/// The Finances API's base URL for a Sell API base URL. eBay serves the Finances API from its own host, `apiz`
/// in place of `api` (`https://api.ebay.com` -> `https://apiz.ebay.com`, `https://api.sandbox.ebay.com` ->
/// `https://apiz.sandbox.ebay.com`); any other host (a local sandbox, a proxy) serves it as it is. The result
/// ends in `/sell/finances/v1`. [`EbayConnector::with_finances_url`] sets another.
pub fn finances_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let host = base
        .strip_prefix("https://api.")
        .map(|rest| format!("https://apiz.{rest}"))
        .unwrap_or_else(|| base.to_string());
    format!("{host}{FINANCES_PATH}")
}

pub struct EbayConnector {
    base_url: String,
    /// Where the Finances API is: [`finances_url`] of the base URL unless set.
    finances_url: String,
    /// `X-EBAY-C-MARKETPLACE-ID` of the Finances calls: the first of `spec.endpoint.marketplaceIds`.
    marketplace_id: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    marketplace: MarketplaceName,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    tokens: TokenCache,
    /// SKU -> its priceable offers, from getOffers: looked up once, not per price (getOffers has its daily
    /// quota too).
    offers: Mutex<HashMap<String, Vec<prices::KnownOffer>>>,
    /// Order id -> the total the orders flow read, for settlement reconciliation.
    known_orders: Mutex<BTreeMap<String, Money>>,
}

#[derive(Deserialize)]
struct OrderPage {
    #[serde(default)]
    orders: Vec<Value>,
    #[serde(default)]
    total: usize,
}

/// A non-2xx eBay answer: 401 permanent for the guard (the token is renewed and the call made once more by
/// [`TokenCache::authorized`], not retried with the same token), the rest as usual.
fn classify(answer: &HttpAnswer) -> Failure<String> {
    if answer.status == reqwest::StatusCode::UNAUTHORIZED {
        Failure::Permanent(answer.summary())
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
        let connector = Self::new(
            endpoint.base_url.as_deref().unwrap_or(PRODUCTION_URL),
            endpoint.token_url.as_deref(),
            &config.credentials_dir,
            marketplace,
            resilience,
            Duration::from_secs(30),
        )?;
        Ok(match endpoint.marketplace_ids.first() {
            Some(id) => connector.with_marketplace_id(id),
            None => connector,
        })
    }

    /// The Finances API at `url` (ending in `/sell/finances/v1`) instead of the one derived from the base URL.
    pub fn with_finances_url(mut self, url: &str) -> Result<Self, String> {
        let url = url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&url)
            .map_err(|e| format!("the Finances API URL {url:?} is not a URL: {e}"))?;
        self.finances_url = url;
        Ok(self)
    }

    /// The eBay marketplace of the account's Finances calls (`EBAY_GB`); `EBAY_US` by default.
    pub fn with_marketplace_id(mut self, marketplace_id: &str) -> Self {
        self.marketplace_id = marketplace_id.to_string();
        self
    }

    pub fn finances_base_url(&self) -> &str {
        &self.finances_url
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
            finances_url: finances_url(&base_url),
            marketplace_id: DEFAULT_MARKETPLACE_ID.to_string(),
            base_url,
            token_url,
            client_id: read_credential(credentials_dir, "client_id")?,
            client_secret: read_credential(credentials_dir, "client_secret")?,
            refresh_token: read_credential(credentials_dir, "refresh_token")?,
            marketplace,
            http: http_client(timeout)?,
            resilience,
            tokens: TokenCache::new(),
            offers: Mutex::new(HashMap::new()),
            known_orders: Mutex::new(BTreeMap::new()),
        })
    }

    /// One refresh-token grant, through the `getToken` guard.
    async fn grant(&self) -> Result<Grant, ConnectorError> {
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
        read_json(response, "the token answer").await
    }

    /// One API call with the user token; a 401 gets a new token and the call is made once more.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.tokens
            .authorized(
                || self.grant(),
                reqwest::StatusCode::UNAUTHORIZED,
                |token| {
                    let build = &build;
                    async move {
                        send_guarded(
                            &self.resilience,
                            operation,
                            1,
                            || build().bearer_auth(token.as_str()),
                            classify,
                        )
                        .await
                    }
                },
            )
            .await
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
            Err(e) if e.is_status(reqwest::StatusCode::NOT_FOUND) => Value::Null,
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
                Err(e) => results[index] = Err(e.context(format!("SKU {sku}"))),
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
            body["shippedDate"] = json!(shipped_date(&shipped).map_err(ConnectorError::permanent)?);
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

    /// One Finances API `GET` of `path` (under the Finances base URL): its JSON, `Null` for eBay's 204 (nothing
    /// matches).
    async fn finances_get(
        &self,
        operation: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ConnectorError> {
        let url = format!("{}{path}", self.finances_url);
        let response = self
            .call(operation, || {
                self.http
                    .get(&url)
                    .query(query)
                    .header("X-EBAY-C-MARKETPLACE-ID", &self.marketplace_id)
            })
            .await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        read_json(response, &format!("the {operation} answer")).await
    }

    fn remember_order(&self, order: &Order) {
        let mut known = self.known_orders.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(order.order_id.as_str().to_string(), order.totals.total);
        while known.len() > KNOWN_ORDERS {
            known.pop_first();
        }
    }

    /// The totals of the settlement's orders: those the orders flow read, the others looked up with
    /// `getOrders` by `orderIds`; an order eBay does not return stays unknown.
    async fn known_for(
        &self,
        settlement: &Settlement,
    ) -> Result<BTreeMap<String, Money>, ConnectorError> {
        let wanted = settlements::order_ids(settlement);
        let mut known: BTreeMap<_, _> = {
            let remembered = self.known_orders.lock().unwrap_or_else(|p| p.into_inner());
            wanted
                .iter()
                .filter_map(|id| remembered.get(id).map(|t| (id.clone(), *t)))
                .collect()
        };
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|id| !known.contains_key(*id))
            .collect();
        let url = format!("{}/sell/fulfillment/v1/order", self.base_url);
        for chunk in missing.chunks(ORDER_IDS_PER_CALL) {
            let ids = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let query = [("orderIds", ids)];
            let response = self
                .call("getOrders", || self.http.get(&url).query(&query))
                .await?;
            let page: OrderPage = read_json(response, "the getOrders answer").await?;
            for order in &page.orders {
                // An order that cannot be read stays unknown, and its settlement lines go to a person.
                if let Ok(order) = orders::to_canonical(&self.marketplace, order) {
                    self.remember_order(&order);
                    known.insert(order.order_id.as_str().to_string(), order.totals.total);
                }
            }
        }
        Ok(known)
    }

    /// Every transaction of the payout, `getTransactions` page by page.
    async fn payout_transactions(&self, payout_id: &str) -> Result<Vec<Value>, ConnectorError> {
        let mut transactions = Vec::new();
        loop {
            let query = [
                ("filter", format!("payoutId:{{{payout_id}}}")),
                ("limit", TRANSACTIONS_PAGE.to_string()),
                ("offset", transactions.len().to_string()),
            ];
            let answer = self
                .finances_get("getTransactions", "/transaction", &query)
                .await?;
            let page = answer
                .get("transactions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let read = page.len();
            transactions.extend(page);
            if read == 0 || transactions.len() >= total {
                return Ok(transactions);
            }
        }
    }

    /// The next payout after the cursor as one settlement, or what keeps it from being one as a dead letter.
    async fn poll_settlements(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let done = settlements::Cursor::parse(cursor).map_err(ConnectorError::permanent)?;
        let mut query = vec![
            ("sort", "payoutDate".to_string()),
            ("limit", PAYOUTS_PAGE.to_string()),
            ("offset", "0".to_string()),
        ];
        if let Some(filter) = done.filter() {
            query.push(("filter", filter));
        }
        let answer = self.finances_get("getPayouts", "/payout", &query).await?;
        let listed = answer
            .get("payouts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut rejected = Vec::new();
        // Where the cursor goes when no settlement is published: past the payouts dead-lettered so far.
        let mut next = done.clone();
        let stay = |next: &settlements::Cursor| {
            let next_cursor = if *next == done {
                cursor.map(str::to_string)
            } else {
                Some(next.render())
            };
            PollPage {
                next_cursor,
                ..PollPage::default()
            }
        };
        for (index, entry) in listed.iter().enumerate() {
            let payout = match settlements::payout(entry) {
                Ok(payout) => payout,
                Err(reason) => {
                    // Unreadable payouts are dead-lettered; the cursor moves past them with the next readable one.
                    let id = settlements::payout_id(entry)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("unidentified-{index}"));
                    rejected.push(self.rejected(
                        &id,
                        "unreadable",
                        entry,
                        format!("getPayouts: {reason}"),
                    )?);
                    continue;
                }
            };
            if !done.is_new(payout.date, &payout.id) {
                continue;
            }
            let more = index + 1 < listed.len();
            let handled = settlements::Cursor::after(&payout).render();
            match payout.state() {
                // It and the payouts after it wait for eBay to pay it.
                settlements::PayoutState::Pending => return Ok((stay(&next), rejected)),
                settlements::PayoutState::NotPaid => {
                    rejected.push(self.rejected(
                        &payout.id,
                        "not-paid",
                        entry,
                        format!(
                            "payout {}: payoutStatus {}: eBay did not pay it out, so it settles nothing",
                            payout.id, payout.status
                        ),
                    )?);
                    next = settlements::Cursor::after(&payout);
                    continue;
                }
                settlements::PayoutState::Paid => {}
            }
            let transactions = match self.payout_transactions(&payout.id).await {
                Ok(t) => t,
                Err(e) if e.kind == FailureKind::Permanent => {
                    rejected.push(self.rejected(
                        &payout.id,
                        "unreadable",
                        entry,
                        format!("payout {}: getTransactions: {}", payout.id, e.message),
                    )?);
                    return Ok((page(Vec::new(), handled, more), rejected));
                }
                Err(e) => return Err(e),
            };
            let settlement =
                match settlements::to_settlement(&self.marketplace, &payout, &transactions) {
                    Ok(s) => s,
                    Err(reason) => {
                        let payload = json!({"payout": entry, "transactions": transactions});
                        rejected.push(self.rejected(&payout.id, "unreadable", &payload, reason)?);
                        return Ok((page(Vec::new(), handled, more), rejected));
                    }
                };
            let known = self.known_for(&settlement).await?;
            for (order, reason) in settlements::reconcile(&settlement, &known) {
                let payload = json!({
                    "payoutId": payout.id,
                    "orderId": order,
                    "lines": settlement.lines.iter()
                        .filter(|l| l.order_id.as_ref().is_some_and(|o| o.as_str() == order))
                        .collect::<Vec<_>>(),
                });
                rejected.push(self.rejected(
                    &payout.id,
                    &format!("order-{order}"),
                    &payload,
                    reason,
                )?);
            }
            if settlement.total != payout.amount {
                rejected.push(self.rejected(
                    &payout.id,
                    "total",
                    entry,
                    format!(
                        "settlement exception: payout {} amount is {} {} by eBay but its transactions add up to {} {}",
                        payout.id,
                        payout.amount.amount,
                        payout.amount.currency,
                        settlement.total.amount,
                        settlement.total.currency
                    ),
                )?);
            }
            return Ok((
                page(vec![Record::Settlement(settlement)], handled, more),
                rejected,
            ));
        }
        Ok((stay(&next), rejected))
    }

    /// A payout dead-lettered under its settlement's subject (`what` it is: unreadable, not-paid, total); the id
    /// makes a re-poll's copy a duplicate.
    fn rejected(
        &self,
        payout_id: &str,
        what: &str,
        payload: &Value,
        reason: String,
    ) -> Result<Rejected, ConnectorError> {
        // eBay's payout ids are digits; anything else is kept to what a subject token and an id may hold.
        let key: String = payout_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(64)
            .collect();
        let key = if key.is_empty() {
            "unidentified".into()
        } else {
            key
        };
        let correlation = format!("{}:payout-{key}", self.marketplace.as_str());
        let correlation_id = CorrelationId::try_from(correlation.as_str())
            .map_err(|e| ConnectorError::permanent(format!("payout {key}: {e}")))?;
        Ok(Rejected {
            id: format!("{correlation}:{what}"),
            key,
            correlation_id,
            payload: payload.clone(),
            reason,
        })
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
            self.remember_order(&order);
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

/// A page that moves the cursor to the payout `handled`.
fn page(records: Vec<Record>, handled: String, more: bool) -> PollPage {
    PollPage {
        records,
        next_cursor: Some(handled),
        more,
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
        self.poll_checked(flow, cursor).await.map(|(page, _)| page)
    }

    async fn poll_checked(
        &self,
        flow: Flow,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        match flow {
            Flow::Orders => Ok((self.poll_orders(cursor).await?, Vec::new())),
            Flow::Settlements => self.poll_settlements(cursor).await,
            _ => Ok((
                PollPage {
                    records: Vec::new(),
                    next_cursor: cursor.map(str::to_string),
                    more: false,
                },
                Vec::new(),
            )),
        }
    }
}

/// A shipment time as eBay's `shippedDate` documents it: `[YYYY]-[MM]-[DD]T[hh]:[mm]:[ss].[sss]Z`, in UTC
/// with exactly three fractional digits (the canonical `shippedAt` may carry any precision and offset).
pub fn shipped_date(text: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .map_err(|e| format!("field shippedAt: {text:?} is not an RFC 3339 time: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_dates_have_the_documented_millisecond_format() {
        assert_eq!(
            shipped_date("2026-12-07T21:27:02.048366Z").as_deref(),
            Ok("2026-12-07T21:27:02.048Z")
        );
        assert_eq!(
            shipped_date("2026-12-07T23:27:02+02:00").as_deref(),
            Ok("2026-12-07T21:27:02.000Z")
        );
        let error = shipped_date("yesterday").unwrap_err();
        assert!(
            error.contains("shippedAt") && error.contains("yesterday"),
            "{error}"
        );
    }

    #[test]
    fn the_finances_api_is_on_the_apiz_host_in_production_and_the_sandbox() {
        assert_eq!(
            finances_url("https://api.ebay.com"),
            "https://apiz.ebay.com/sell/finances/v1"
        );
        assert_eq!(
            finances_url("https://api.sandbox.ebay.com/"),
            "https://apiz.sandbox.ebay.com/sell/finances/v1"
        );
        assert_eq!(
            finances_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/sell/finances/v1"
        );
    }
}
