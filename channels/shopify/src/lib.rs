//! Shopify Admin GraphQL connector with cost-based throttling.
//!
//! - Inventory: variants looked up by SKU (inventory item, location, current `available`), then one
//!   `inventorySetQuantities` (name `available`, reason `correction`) per batch with `compareQuantity` set to
//!   the quantity just read. Shopify applies the mutation all or nothing; when a quantity changed meanwhile
//!   (`COMPARE_QUANTITY_STALE`) the connector reads again and retries with the new figure (the ERP's quantity
//!   is authoritative), at most [`CAS_ATTEMPTS`] times, then dead-letters the record: a SKU whose quantity
//!   keeps moving under us is worth a look rather than an endless loop.
//! - Price: `productVariantsBulkUpdate` per product (at most 250 variants per call), partial updates allowed so
//!   one bad price fails only its own record.
//! - Orders in: `orders(query: "updated_at:>='...'", after: cursor, sortKey: UPDATED_AT)`, pages of 50.
//! - Orders out: `accepted` needs nothing on Shopify; `rejected` and `cancelled` -> `orderCancel`.
//! - Shipments: the order's open fulfillment orders -> `fulfillmentCreate` with `trackingInfo`.
//! - Pacing: every call goes through the `graphql` guard at its requested cost; each answer's
//!   `extensions.cost.throttleStatus` is passed to the guard so it waits for the points before the next call
//!   instead of being THROTTLED. A THROTTLED answer is a throttled failure (retried after the hint).
//! - `userErrors` fail their records with Shopify's message (the flow dead-letters them).

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod graphql;
pub mod orders;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crds::channel::Flow;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use channel_api::canonical::{MarketplaceName, Record};
use channel_api::config::AdapterConfig;
use channel_api::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use channel_api::connectors::http::without_url;
use channel_api::connectors::{http_client, read_credential};
use channel_api::resilience::{Failure, Resilience, ServerHint};

use graphql::{Answer, MAX_INPUT, OPERATION, UserError};

/// Reads and writes of a compare-and-set before a record is dead-lettered.
pub const CAS_ATTEMPTS: usize = 3;
const TOKEN_HEADER: &str = "X-Shopify-Access-Token";

pub struct ShopifyConnector {
    url: String,
    access_token: String,
    marketplace: MarketplaceName,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
}

/// A variant as the SKU lookup found it.
#[derive(Clone, Debug)]
struct Variant {
    id: String,
    product_id: String,
    inventory_item_id: String,
    location_id: Option<String>,
    available: Option<i64>,
}

/// The store's URL: `spec.endpoint.baseUrl`, else `https://<sellerId>` (`<shop>.myshopify.com`, the suffix
/// added when only the shop's name is given).
pub fn store_url(base_url: Option<&str>, seller_id: Option<&str>) -> Result<String, String> {
    let url = match (base_url, seller_id) {
        (Some(base), _) => base.trim_end_matches('/').to_string(),
        (None, Some(shop)) if shop.ends_with(".myshopify.com") => format!("https://{shop}"),
        (None, Some(shop)) => format!("https://{shop}.myshopify.com"),
        (None, None) => {
            return Err(
                "spec.endpoint.sellerId (<shop>.myshopify.com) or spec.endpoint.baseUrl is required for a shopify marketplace"
                    .into(),
            );
        }
    };
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| format!("store URL {url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("store URL {url:?} must be an http(s) URL"));
    }
    Ok(url)
}

fn quantity_of(item: &OutboundItem) -> Result<i64, String> {
    for source in [&item.fields, &item.record] {
        for field in ["available", "quantity"] {
            if let Some(v) = source.get(field) {
                return v
                    .as_i64()
                    .ok_or_else(|| format!("field {field} must be a whole number, got {v}"));
            }
        }
    }
    Err("field available is missing".into())
}

fn price_of(item: &OutboundItem) -> Result<Decimal, String> {
    let read = |v: &Value| -> Option<Result<Decimal, String>> {
        let v = v.get("amount").unwrap_or(v);
        match v {
            Value::String(s) => Some(s.parse().map_err(|e| format!("field price {s:?}: {e}"))),
            Value::Number(n) => Some(
                n.to_string()
                    .parse()
                    .map_err(|e| format!("field price {n}: {e}")),
            ),
            _ => None,
        }
    };
    item.fields
        .get("price")
        .and_then(read)
        .or_else(|| item.record.get("price").and_then(read))
        .unwrap_or_else(|| Err("field price is missing".into()))
}

impl ShopifyConnector {
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let endpoint = &config.spec.endpoint;
        let url = store_url(endpoint.base_url.as_deref(), endpoint.seller_id.as_deref())?;
        let marketplace = MarketplaceName::try_from(config.marketplace.as_str())
            .map_err(|e| format!("marketplace name: {e}"))?;
        Self::new(
            &url,
            &config.credentials_dir,
            marketplace,
            resilience,
            Duration::from_secs(30),
        )
    }

    /// A connector for the store at `store_url` with the Secret's `access_token`.
    pub fn new(
        store_url: &str,
        credentials_dir: &Path,
        marketplace: MarketplaceName,
        resilience: Arc<Resilience>,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            url: format!("{}{}", store_url.trim_end_matches('/'), graphql::path()),
            access_token: read_credential(credentials_dir, "access_token")?,
            marketplace,
            http: http_client(timeout)?,
            resilience,
        })
    }

    /// One GraphQL call through the `graphql` guard at `cost` points: the `data`, or a failure.
    async fn call(
        &self,
        document: &str,
        variables: Value,
        cost: u32,
    ) -> Result<Value, ConnectorError> {
        let guard = self.resilience.guard(OPERATION);
        let body = json!({"query": document, "variables": variables});
        guard
            .run(cost, || {
                let request = self
                    .http
                    .post(&self.url)
                    .header(TOKEN_HEADER, &self.access_token)
                    .json(&body);
                let guard = guard.clone();
                async move {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| Failure::Retryable(without_url(&e)))?;
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text = response.text().await.map_err(|e| {
                        Failure::Retryable(format!("reading the answer: {}", without_url(&e)))
                    })?;
                    let summary =
                        || format!("{status}: {}", text.chars().take(300).collect::<String>());
                    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                        let hint =
                            retry_after.map(|s| ServerHint::RetryAfter(Duration::from_secs(s)));
                        return Err(Failure::Throttled {
                            error: summary(),
                            hint,
                        });
                    }
                    if status.is_server_error() {
                        return Err(Failure::Retryable(summary()));
                    }
                    if !status.is_success() {
                        return Err(Failure::Permanent(summary()));
                    }
                    // A cut body is a transport problem: asking again gets a whole one.
                    let value: Value = serde_json::from_str(&text)
                        .map_err(|e| Failure::Retryable(format!("the answer is not JSON: {e}")))?;
                    let hint = graphql::throttle_hint(&value);
                    match graphql::read_answer(&value) {
                        Answer::Data(data) => {
                            if let Some(hint) = hint {
                                guard.observe(hint);
                            }
                            Ok(data)
                        }
                        Answer::Throttled => Err(Failure::Throttled {
                            error: "Shopify answered THROTTLED".into(),
                            hint,
                        }),
                        Answer::Errors(message) => {
                            Err(Failure::Permanent(format!("Shopify: {message}")))
                        }
                    }
                }
            })
            .await
            .map_err(ConnectorError::from_outcome)
    }

    /// The variants of `skus`, by SKU.
    async fn variants(&self, skus: &[&str]) -> Result<BTreeMap<String, Variant>, ConnectorError> {
        let mut found = BTreeMap::new();
        for chunk in skus.chunks(MAX_INPUT) {
            let first = u32::try_from(chunk.len()).unwrap_or(250);
            let data = self
                .call(
                    graphql::VARIANTS_BY_SKU,
                    json!({"first": first, "query": graphql::sku_query(chunk)}),
                    graphql::cost_of_connection(first, 0),
                )
                .await?;
            for node in data
                .pointer("/productVariants/nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let get = |p: &str| node.pointer(p).and_then(Value::as_str).map(str::to_string);
                let (Some(sku), Some(id), Some(product_id), Some(inventory_item_id)) = (
                    get("/sku"),
                    get("/id"),
                    get("/product/id"),
                    get("/inventoryItem/id"),
                ) else {
                    continue;
                };
                let level = node.pointer("/inventoryItem/inventoryLevels/nodes/0");
                let location_id = level
                    .and_then(|l| l.pointer("/location/id"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let available = level
                    .and_then(|l| l.get("quantities"))
                    .and_then(Value::as_array)
                    .and_then(|q| {
                        q.iter()
                            .find(|q| q.get("name").and_then(Value::as_str) == Some("available"))
                    })
                    .and_then(|q| q.get("quantity"))
                    .and_then(Value::as_i64);
                found.insert(
                    sku,
                    Variant {
                        id,
                        product_id,
                        inventory_item_id,
                        location_id,
                        available,
                    },
                );
            }
        }
        Ok(found)
    }

    async fn deliver_inventory(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut results: Vec<Result<(), ConnectorError>> = vec![Ok(()); items.len()];
        let mut pending: Vec<(usize, i64)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match quantity_of(item) {
                Ok(q) => pending.push((i, q)),
                Err(e) => {
                    results[i] = Err(ConnectorError::permanent(format!("SKU {}: {e}", item.key)))
                }
            }
        }
        let mut stale: BTreeMap<usize, String> = BTreeMap::new();
        for _ in 0..CAS_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let skus: Vec<&str> = pending
                .iter()
                .map(|(i, _)| items[*i].key.as_str())
                .collect();
            let variants = match self.variants(&skus).await {
                Ok(v) => v,
                Err(e) => {
                    for (i, _) in &pending {
                        results[*i] = Err(e.clone());
                    }
                    return results;
                }
            };
            let mut sent: Vec<usize> = Vec::new();
            let mut quantities = Vec::new();
            for (i, quantity) in &pending {
                let sku = items[*i].key.as_str();
                match variants.get(sku) {
                    Some(Variant {
                        inventory_item_id,
                        location_id: Some(location),
                        available: Some(current),
                        ..
                    }) => {
                        sent.push(*i);
                        quantities.push(
                            json!({"inventoryItemId": inventory_item_id, "locationId": location,
                            "quantity": quantity, "compareQuantity": current}),
                        );
                    }
                    Some(_) => {
                        results[*i] = Err(ConnectorError::permanent(format!(
                            "SKU {sku}: the variant is not stocked at any location"
                        )))
                    }
                    None => {
                        results[*i] = Err(ConnectorError::permanent(format!(
                            "SKU {sku}: no variant with this SKU in the store"
                        )))
                    }
                }
            }
            pending.retain(|(i, _)| sent.contains(i));
            if sent.is_empty() {
                break;
            }
            let input = json!({"input": {"name": "available", "reason": "correction", "quantities": quantities}});
            let data = match self
                .call(graphql::SET_QUANTITIES, input, graphql::cost_of_mutation())
                .await
            {
                Ok(d) => d,
                Err(e) => {
                    for i in &sent {
                        results[*i] = Err(e.clone());
                    }
                    return results;
                }
            };
            let errors = graphql::user_errors(
                data.get("inventorySetQuantities").unwrap_or(&Value::Null),
                "userErrors",
            );
            if errors.is_empty() {
                for i in &sent {
                    stale.remove(i);
                }
                pending.clear();
                break;
            }
            // Nothing was applied: the records named by errors other than a stale compare fail with
            // Shopify's message; every other record is sent again after a fresh read.
            for error in &errors {
                let Some(i) = error
                    .index_in("quantities")
                    .and_then(|n| sent.get(n))
                    .copied()
                else {
                    continue;
                };
                if error.code.as_deref() == Some("COMPARE_QUANTITY_STALE") {
                    stale.insert(i, error.describe());
                } else {
                    results[i] = Err(ConnectorError::permanent(format!(
                        "SKU {}: {}",
                        items[i].key,
                        error.describe()
                    )));
                    pending.retain(|(p, _)| *p != i);
                }
            }
            if errors.iter().all(|e| e.index_in("quantities").is_none()) {
                let message = errors
                    .iter()
                    .map(UserError::describe)
                    .collect::<Vec<_>>()
                    .join("; ");
                for i in &sent {
                    results[*i] = Err(ConnectorError::permanent(message.clone()));
                }
                return results;
            }
        }
        for (i, _) in pending {
            let why = stale.get(&i).cloned().unwrap_or_default();
            results[i] = Err(ConnectorError::permanent(format!(
                "SKU {}: quantity still changing after {CAS_ATTEMPTS} compare-and-set attempts: {why}",
                items[i].key
            )));
        }
        results
    }

    async fn deliver_prices(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut results: Vec<Result<(), ConnectorError>> = vec![Ok(()); items.len()];
        let mut wanted: Vec<(usize, Decimal)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match price_of(item) {
                Ok(p) => wanted.push((i, p)),
                Err(e) => {
                    results[i] = Err(ConnectorError::permanent(format!("SKU {}: {e}", item.key)))
                }
            }
        }
        let skus: Vec<&str> = wanted.iter().map(|(i, _)| items[*i].key.as_str()).collect();
        let variants = match self.variants(&skus).await {
            Ok(v) => v,
            Err(e) => {
                for (i, _) in &wanted {
                    results[*i] = Err(e.clone());
                }
                return results;
            }
        };
        let mut by_product: BTreeMap<String, Vec<(usize, String, Decimal)>> = BTreeMap::new();
        for (i, price) in wanted {
            match variants.get(items[i].key.as_str()) {
                Some(v) => by_product.entry(v.product_id.clone()).or_default().push((
                    i,
                    v.id.clone(),
                    price,
                )),
                None => {
                    results[i] = Err(ConnectorError::permanent(format!(
                        "SKU {}: no variant with this SKU in the store",
                        items[i].key
                    )))
                }
            }
        }
        for (product, variants) in by_product {
            for chunk in variants.chunks(MAX_INPUT) {
                let body = json!({"productId": product, "allowPartialUpdates": true,
                    "variants": chunk.iter().map(|(_, id, price)| json!({"id": id, "price": price.to_string()})).collect::<Vec<_>>()});
                match self
                    .call(graphql::BULK_UPDATE, body, graphql::cost_of_mutation())
                    .await
                {
                    Ok(data) => {
                        for error in graphql::user_errors(
                            data.get("productVariantsBulkUpdate")
                                .unwrap_or(&Value::Null),
                            "userErrors",
                        ) {
                            match error.index_in("variants").and_then(|n| chunk.get(n)) {
                                Some((i, _, _)) => {
                                    results[*i] = Err(ConnectorError::permanent(format!(
                                        "SKU {}: {}",
                                        items[*i].key,
                                        error.describe()
                                    )))
                                }
                                None => {
                                    for (i, _, _) in chunk {
                                        results[*i] =
                                            Err(ConnectorError::permanent(error.describe()));
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        for (i, _, _) in chunk {
                            results[*i] = Err(e.clone());
                        }
                    }
                }
            }
        }
        results
    }

    async fn deliver_order_update(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let reason = match item
            .fields
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
        {
            // Shopify orders need no acceptance.
            "accepted" => return Ok(()),
            "rejected" => "INVENTORY",
            "cancelled" => "OTHER",
            other => {
                return Err(ConnectorError::permanent(format!(
                    "field kind must be accepted, rejected or cancelled, got {other:?}"
                )));
            }
        };
        let variables = json!({"orderId": orders::order_gid(&item.key), "reason": reason, "refund": true, "restock": true});
        let data = self
            .call(
                graphql::ORDER_CANCEL,
                variables,
                graphql::cost_of_mutation(),
            )
            .await?;
        let errors = graphql::user_errors(
            data.get("orderCancel").unwrap_or(&Value::Null),
            "orderCancelUserErrors",
        );
        match errors.first() {
            None => Ok(()),
            Some(e) => Err(ConnectorError::permanent(format!(
                "order {}: {}",
                item.key,
                e.describe()
            ))),
        }
    }

    async fn deliver_shipment(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let get = |fields: &[&str]| {
            fields.iter().find_map(|f| {
                item.fields
                    .get(*f)
                    .or_else(|| item.record.get(*f))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        };
        let order_id = get(&["orderId"]).unwrap_or_else(|| item.key.clone());
        let number = get(&["number", "trackingNumber", "tracking_number"])
            .ok_or_else(|| ConnectorError::permanent("field trackingNumber is missing"))?;
        let company = get(&["company", "carrier"]);
        let url = get(&["url", "trackingUrl"]);
        let data = self
            .call(
                graphql::FULFILLMENT_ORDERS,
                json!({"id": orders::order_gid(&order_id), "first": 10}),
                graphql::cost_of_connection(10, 0),
            )
            .await?;
        let order = data.get("order").filter(|o| !o.is_null()).ok_or_else(|| {
            ConnectorError::permanent(format!("order {order_id} is not known to Shopify"))
        })?;
        let open: Vec<Value> = order
            .pointer("/fulfillmentOrders/nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|f| {
                matches!(
                    f.get("status").and_then(Value::as_str),
                    Some("OPEN" | "IN_PROGRESS")
                )
            })
            .filter_map(|f| f.get("id").cloned())
            .map(|id| json!({"fulfillmentOrderId": id}))
            .collect();
        // Nothing open: the package was fulfilled already (a redelivery), and shipping twice is shipping once.
        if open.is_empty() {
            return Ok(());
        }
        let mut tracking = json!({"number": number});
        if let Some(company) = company {
            tracking["company"] = json!(company);
        }
        if let Some(url) = url {
            tracking["url"] = json!(url);
        }
        let variables = json!({"fulfillment": {"lineItemsByFulfillmentOrder": open, "trackingInfo": tracking, "notifyCustomer": true}});
        let data = self
            .call(
                graphql::FULFILLMENT_CREATE,
                variables,
                graphql::cost_of_mutation(),
            )
            .await?;
        match graphql::user_errors(
            data.get("fulfillmentCreate").unwrap_or(&Value::Null),
            "userErrors",
        )
        .first()
        {
            None => Ok(()),
            Some(e) => Err(ConnectorError::permanent(format!(
                "order {order_id}: {}",
                e.describe()
            ))),
        }
    }

    async fn poll_orders(&self, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let cursor = orders::Cursor::parse(cursor).map_err(ConnectorError::permanent)?;
        let variables =
            json!({"first": graphql::ORDERS_PAGE, "after": cursor.after, "query": cursor.search()});
        let data = self
            .call(
                graphql::ORDERS,
                variables,
                graphql::cost_of_connection(graphql::ORDERS_PAGE, 20),
            )
            .await?;
        let mut records = Vec::new();
        let mut newest = None;
        for node in data
            .pointer("/orders/nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // An order that cannot be read is a channel bug: stop here rather than skip it silently.
            let order =
                orders::to_canonical(&self.marketplace, node).map_err(ConnectorError::permanent)?;
            newest = newest.max(Some(order.updated_at));
            records.push(Record::Order(Box::new(order)));
        }
        let has_next = data
            .pointer("/orders/pageInfo/hasNextPage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let end = data
            .pointer("/orders/pageInfo/endCursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (next, more) = cursor.after_page(has_next, end, newest);
        Ok(PollPage {
            records,
            next_cursor: Some(next.render()),
            more,
        })
    }
}

impl Connector for ShopifyConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory | Flow::Price => MAX_INPUT,
            _ => 50,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        match flow {
            Flow::Inventory => self.deliver_inventory(items).await,
            Flow::Price => self.deliver_prices(items).await,
            Flow::Orders | Flow::Shipments => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(if flow == Flow::Orders {
                        self.deliver_order_update(item).await
                    } else {
                        self.deliver_shipment(item).await
                    });
                }
                results
            }
            other => items
                .iter()
                .map(|_| {
                    Err(ConnectorError::permanent(format!(
                        "the Shopify connector does not deliver the {other} flow"
                    )))
                })
                .collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        match flow {
            Flow::Orders => self.poll_orders(cursor).await,
            // Returns are not read yet: nothing to report.
            _ => Ok(PollPage {
                records: Vec::new(),
                next_cursor: cursor.map(str::to_string),
                more: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_url_comes_from_the_base_url_or_the_shop() {
        assert_eq!(
            store_url(None, Some("acme.myshopify.com")).unwrap(),
            "https://acme.myshopify.com"
        );
        assert_eq!(
            store_url(None, Some("acme")).unwrap(),
            "https://acme.myshopify.com"
        );
        assert_eq!(
            store_url(Some("http://127.0.0.1:9/"), Some("acme")).unwrap(),
            "http://127.0.0.1:9"
        );
        assert!(store_url(None, None).unwrap_err().contains("sellerId"));
    }
}
