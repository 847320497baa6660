//! Bulk feeds: `POST /v3/feeds?feedType=` with a `multipart/form-data` file (inventory, MP_INVENTORY, price,
//! MP_ITEM), each feed type under its operation's published limit and file size; `GET /v3/feeds/{feedId}`
//! answers `RECEIVED` until the feed is processed, then `PROCESSED` with one `itemIngestionStatus` per item
//! (`DATA_ERROR` with Walmart's code and description for the items it refuses).

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{correlation, errors, form, gate, header, json_response, record};
use crate::state::{Feed, ItemPrice, Shared};

type S = AxumState<Arc<Shared>>;

/// A feed type's operation (crds catalogue), most bytes of its file, and the key of its elements.
fn feed_type(name: &str) -> Option<(&'static str, usize, &'static str)> {
    match name {
        "inventory" => Some(("bulkInventoryFeed", 5_000_000, "Inventory")),
        "MP_INVENTORY" => Some(("mpInventoryFeed", 1_000_000, "Inventory")),
        "price" => Some(("priceBulkUploads", 5_000_000, "Price")),
        "MP_ITEM" | "item" => Some(("itemFeed", 25_000_000, "MPItem")),
        _ => None,
    }
}

/// `POST /v3/feeds?feedType=...`.
pub async fn submit(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let name = form(query.as_deref().unwrap_or_default())
        .remove("feedType")
        .unwrap_or_default();
    let Some((operation, max_bytes, key)) = feed_type(&name) else {
        let response = errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAM.GMP_FEED_API",
            "feedType",
            &format!("feedType {name:?} is not one of inventory, MP_INVENTORY, price, MP_ITEM"),
        );
        return record(
            &state,
            "submitFeed",
            Method::POST,
            "/v3/feeds",
            query,
            b"",
            response,
        );
    };
    let mut recorded_body = body.to_vec();
    let response = match gate(&state, operation, &headers).await {
        Some(response) => response,
        None => {
            let content_type = header(&headers, "content-type").unwrap_or_default();
            match sandbox::multipart::part(content_type, &body, "file") {
                Err(e) => errors(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_CONTENT.GMP_FEED_API",
                    "file",
                    &e,
                ),
                Ok(file) if file.len() > max_bytes => errors(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "REQUEST_ENTITY_TOO_LARGE.GMP_FEED_API",
                    "file",
                    &format!(
                        "The {name} feed file is {} bytes; the limit is {max_bytes}",
                        file.len()
                    ),
                ),
                Ok(file) => {
                    // The file is what a test validates; it is recorded in place of the multipart envelope.
                    recorded_body = file.clone();
                    accept(&state, &name, key, &file, correlation(&headers))
                }
            }
        }
    };
    record(
        &state,
        operation,
        Method::POST,
        "/v3/feeds",
        query,
        &recorded_body,
        response,
    )
}

fn accept(state: &Shared, name: &str, key: &str, file: &[u8], correlation_id: &str) -> Response {
    let id = format!(
        "{}@{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "AQMBAQA"
    );
    let parsed: Result<Vec<Value>, String> = serde_json::from_slice::<Value>(file)
        .map_err(|e| format!("The feed file is not valid JSON: {e}"))
        .and_then(|v| {
            v.get(key)
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| format!("The feed file has no {key} array"))
        });
    let ready_at_ms =
        state.now_ms() + u64::try_from(state.feed_processing.as_millis()).unwrap_or(0);
    let (elements, error) = match parsed {
        Ok(elements) => (elements, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let feed = Feed {
        feed_type: name.to_string(),
        status: "RECEIVED".into(),
        ready_at_ms,
        elements,
        results: Vec::new(),
        error,
        correlation_id: correlation_id.to_string(),
    };
    state.with(|s| s.feeds.insert(id.clone(), feed));
    json_response(
        StatusCode::OK,
        json!({"feedId": id, "additionalAttributes": null, "errors": null}),
    )
}

fn data_error(sku: &str, index: usize, code: &str, description: String) -> Value {
    json!({"martId": 0, "sku": sku, "index": index, "ingestionStatus": "DATA_ERROR",
        "ingestionErrors": {"ingestionError": [{"type": "DATA_ERROR", "code": code, "description": description}]}})
}

/// Applies a feed whose processing time has come: each element succeeds or fails alone.
fn process(state: &Shared, id: &str) {
    let now = state.now_ms();
    let feed = state.with(|s| s.feeds.get(id).cloned());
    let Some(feed) = feed.filter(|f| f.status == "RECEIVED" && f.ready_at_ms <= now) else {
        return;
    };
    if feed.error.is_some() {
        state.with(|s| {
            if let Some(f) = s.feeds.get_mut(id) {
                f.status = "ERROR".into();
            }
        });
        return;
    }
    let mut results = Vec::with_capacity(feed.elements.len());
    for (index, element) in feed.elements.iter().enumerate() {
        let sku = element
            .get("sku")
            .or_else(|| element.pointer("/Orderable/sku"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let result = match feed.feed_type.as_str() {
            "inventory" | "MP_INVENTORY" => {
                inventory(state, &sku, index, element, &feed.correlation_id)
            }
            "price" => price(state, &sku, index, element, &feed.correlation_id),
            _ => item(state, &sku, index, element),
        };
        results.push(result);
    }
    state.with(|s| {
        if let Some(f) = s.feeds.get_mut(id) {
            f.results = results;
            f.status = "PROCESSED".into();
        }
    });
}

fn success(sku: &str, index: usize) -> Value {
    json!({"martId": 0, "sku": sku, "index": index, "ingestionStatus": "SUCCESS"})
}

fn inventory(state: &Shared, sku: &str, index: usize, element: &Value, correlation: &str) -> Value {
    if element.pointer("/quantity/unit").and_then(Value::as_str) != Some("EACH") {
        return data_error(
            sku,
            index,
            "ERR_EXT_DATA_0101001",
            format!("quantity.unit of SKU {sku} must be EACH"),
        );
    }
    let Some(amount) = element
        .pointer("/quantity/amount")
        .and_then(Value::as_i64)
        .filter(|a| *a >= 0)
    else {
        return data_error(
            sku,
            index,
            "ERR_EXT_DATA_0101001",
            format!("quantity.amount of SKU {sku} is not a whole number of units"),
        );
    };
    if state.set_quantity(sku, amount, correlation) {
        success(sku, index)
    } else {
        data_error(
            sku,
            index,
            "ERR_EXT_DATA_0101002",
            format!("SKU {sku} is not found in the seller's catalogue"),
        )
    }
}

fn price(state: &Shared, sku: &str, index: usize, element: &Value, correlation: &str) -> Value {
    let base = element
        .get("pricing")
        .and_then(Value::as_array)
        .and_then(|p| {
            p.iter()
                .find(|p| p.get("currentPriceType").and_then(Value::as_str) == Some("BASE"))
        });
    let currency = base
        .and_then(|b| b.pointer("/currentPrice/currency"))
        .and_then(Value::as_str);
    let amount = base
        .and_then(|b| b.pointer("/currentPrice/amount"))
        .and_then(Value::as_number)
        .and_then(|n| Decimal::from_str(&n.to_string()).ok())
        .filter(|a| *a > Decimal::ZERO);
    match (currency, amount) {
        (Some(currency @ ("USD" | "CAD")), Some(amount)) => {
            let price = ItemPrice {
                amount,
                currency: currency.to_string(),
            };
            if state.set_price(sku, price, correlation) {
                success(sku, index)
            } else {
                data_error(
                    sku,
                    index,
                    "ERR_EXT_DATA_0101002",
                    format!("SKU {sku} is not found in the seller's catalogue"),
                )
            }
        }
        _ => data_error(
            sku,
            index,
            "ERR_EXT_DATA_0801001",
            format!("SKU {sku} has no BASE currentPrice with a positive amount in USD or CAD"),
        ),
    }
}

fn item(state: &Shared, sku: &str, index: usize, element: &Value) -> Value {
    if sku.is_empty() {
        return data_error(
            sku,
            index,
            "ERR_EXT_DATA_0301001",
            "Orderable.sku is required".into(),
        );
    }
    if element
        .pointer("/Orderable/productName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return data_error(
            sku,
            index,
            "ERR_EXT_DATA_0301002",
            format!("Orderable.productName of SKU {sku} is required"),
        );
    }
    let product_types = element
        .get("Visible")
        .and_then(Value::as_object)
        .map(|v| v.len())
        .unwrap_or(0);
    if product_types != 1 {
        return data_error(
            sku,
            index,
            "ERR_EXT_DATA_0301003",
            format!("Visible of SKU {sku} must hold exactly one product type, not {product_types}"),
        );
    }
    state.seed_items([sku]);
    success(sku, index)
}

/// `GET /v3/feeds/{feedId}?includeDetails=&offset=&limit=`.
pub async fn status(
    AxumState(state): S,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getFeedItemStatus";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => {
            process(&state, &id);
            let params = form(query.as_deref().unwrap_or_default());
            let details = params.get("includeDetails").map(String::as_str) == Some("true");
            let offset = params
                .get("offset")
                .and_then(|o| o.parse::<usize>().ok())
                .unwrap_or(0);
            let limit = params
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(50)
                .min(50);
            match state.with(|s| s.feeds.get(&id).cloned()) {
                None => errors(
                    StatusCode::NOT_FOUND,
                    "CONTENT_NOT_FOUND.GMP_FEED_API",
                    "feedId",
                    &format!("Feed {id} not found"),
                ),
                Some(feed) => json_response(
                    StatusCode::OK,
                    status_body(&id, &feed, details, offset, limit),
                ),
            }
        }
    };
    record(
        &state,
        OP,
        Method::GET,
        &format!("/v3/feeds/{id}"),
        query,
        b"",
        response,
    )
}

fn status_body(id: &str, feed: &Feed, details: bool, offset: usize, limit: usize) -> Value {
    let count = |status: &str| {
        feed.results
            .iter()
            .filter(|r| r.get("ingestionStatus").and_then(Value::as_str) == Some(status))
            .count()
    };
    let received = feed.elements.len();
    let processing = if feed.status == "RECEIVED" {
        received
    } else {
        0
    };
    let mut body = json!({
        "feedId": id,
        "feedStatus": feed.status,
        "itemsReceived": received,
        "itemsSucceeded": count("SUCCESS"),
        "itemsFailed": count("DATA_ERROR"),
        "itemsProcessing": processing,
        "offset": offset,
        "limit": limit,
    });
    if let Some(error) = &feed.error {
        body["ingestionErrors"] = json!({"ingestionError": [{"type": "DATA_ERROR", "code": "ERR_EXT_DATA_0001001", "description": error}]});
    }
    if details {
        let items: Vec<Value> = feed
            .results
            .iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        body["itemDetails"] = json!({"itemIngestionStatus": items});
    }
    body
}
