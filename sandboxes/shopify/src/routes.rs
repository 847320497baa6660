//! `POST /admin/api/<version>/graphql.json`: the access token, faults, the cost bucket, then the root field of
//! the document with its variables. Answers have Shopify's shapes: `data` + `extensions.cost`, `errors` with
//! `extensions.code = THROTTLED`, `userErrors` inside the mutation payloads.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sandbox::{RecordedCall, body_value};
use serde_json::{Value, json};

use crate::state::{Fulfillment, LOCATION_ID, Order, Store};
use crate::{API_VERSION, Sandbox, Throttle, cost};

/// Shopify's bound on a variant's price.
const MAX_PRICE: i64 = 1_000_000_000_000_000_000;

pub const TOKEN_HEADER: &str = "x-shopify-access-token";

/// Root fields served, most specific first (a document is matched by the first one it names).
const ROOTS: &[&str] = &[
    "inventorySetQuantities",
    "productVariantsBulkUpdate",
    "fulfillmentCreate",
    "orderCancel",
    "productVariants",
    "orders",
    "order",
];

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/_sandbox/state", get(state))
        .with_state(sandbox)
}

async fn state(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let store = json!(&*sandbox.store());
    axum::Json(
        json!({"store": store, "throttledAnswers": sandbox.throttled_answers(),
        "pointsCharged": sandbox.points_charged()}),
    )
    .into_response()
}

fn record(
    sandbox: &Sandbox,
    operation: &str,
    path: String,
    body: Value,
    response: Response,
) -> Response {
    sandbox.controls.recorder.record(RecordedCall {
        operation: operation.to_string(),
        method: "POST".into(),
        path,
        query: None,
        body,
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

/// The root field a document asks for.
pub fn root_field(document: &str) -> Option<&'static str> {
    let body = document.split_once('{').map(|(_, b)| b)?;
    ROOTS.iter().copied().find(|root| {
        body.match_indices(root).any(|(at, _)| {
            let next = body[at + root.len()..].chars().next();
            matches!(next, Some('(' | '{' | ' ' | '\n'))
        })
    })
}

fn cost_extension(requested: u64, throttle: Throttle) -> Value {
    json!({"cost": {
        "requestedQueryCost": requested,
        "actualQueryCost": if throttle.admitted { json!(requested) } else { Value::Null },
        "throttleStatus": {
            "maximumAvailable": throttle.maximum_available,
            "currentlyAvailable": throttle.currently_available,
            "restoreRate": throttle.restore_rate,
        }
    }})
}

async fn graphql(
    State(sandbox): State<Arc<Sandbox>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/admin/api/{version}/graphql.json");
    let recorded = body_value(&body);
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    if token != Some(sandbox.settings.access_token.as_str()) {
        let response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})),
        )
            .into_response();
        return record(&sandbox, "graphql", path, recorded, response);
    }
    if version != API_VERSION {
        let response = (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"errors": "Not Found"})),
        )
            .into_response();
        return record(&sandbox, "graphql", path, recorded, response);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let document = request.get("query").and_then(Value::as_str).unwrap_or("");
    let Some(root) = root_field(document) else {
        let response = (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errors": [{"message": "Parse error: no field this store serves", "extensions": {"code": "BAD_REQUEST"}}]})),
        )
            .into_response();
        return record(&sandbox, "graphql", path, recorded, response);
    };
    if let Some(fault) = sandbox.controls.faults.apply(root).await {
        return record(&sandbox, root, path, recorded, fault);
    }
    let variables = request.get("variables").cloned().unwrap_or(json!({}));
    let first = variables
        .get("first")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(250);
    let nested = if root == "orders" { 20 } else { 0 };
    let requested = cost::requested(root, first, nested);
    let throttle = sandbox.charge(requested);
    if !throttle.admitted {
        let response = axum::Json(json!({
            "errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"
            }}],
            "extensions": cost_extension(requested, throttle),
        }))
        .into_response();
        return record(&sandbox, root, path, recorded, response);
    }
    let data = {
        let mut store = sandbox.store();
        match root {
            "inventorySetQuantities" => set_quantities(&mut store, &variables),
            "productVariantsBulkUpdate" => bulk_update(&mut store, &variables),
            "fulfillmentCreate" => fulfillment_create(&mut store, &variables),
            "orderCancel" => order_cancel(&mut store, &variables),
            "productVariants" => product_variants(&store, &variables),
            "orders" => orders(&store, &variables),
            _ => order(&store, &variables),
        }
    };
    let response = match data {
        Ok(data) => axum::Json(json!({"data": data, "extensions": cost_extension(requested, throttle)}))
            .into_response(),
        Err(message) => axum::Json(json!({
            "errors": [{"message": message, "extensions": {"code": "argumentLiteralsIncompatible"}}],
            "extensions": cost_extension(requested, throttle),
        }))
        .into_response(),
    };
    record(&sandbox, root, path, recorded, response)
}

fn user_error(field: &[&str], message: impl Into<String>, code: &str) -> Value {
    json!({"field": field, "message": message.into(), "code": code})
}

fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, String> {
    value.get(field).and_then(Value::as_str).ok_or_else(|| {
        format!("Variable input of type required: field {field} is missing or not a String")
    })
}

/// `productVariants(first:, query: "sku:A OR sku:B")`.
fn product_variants(store: &Store, variables: &Value) -> Result<Value, String> {
    let query = variables.get("query").and_then(Value::as_str).unwrap_or("");
    let skus: Vec<&str> = query
        .split(" OR ")
        .filter_map(|term| term.trim().strip_prefix("sku:"))
        .map(|s| s.trim_matches('"').trim_matches('\''))
        .collect();
    let nodes: Vec<Value> = skus
        .iter()
        .filter_map(|sku| store.variants.get(*sku))
        .map(|v| {
            json!({
                "id": v.id, "sku": v.sku, "price": v.price.to_string(),
                "product": {"id": v.product_id},
                "inventoryItem": {"id": v.inventory_item_id, "inventoryLevels": {"nodes": [{
                    "location": {"id": LOCATION_ID},
                    "quantities": [{"name": "available", "quantity": v.available}],
                }]}},
            })
        })
        .collect();
    Ok(
        json!({"productVariants": {"nodes": nodes, "pageInfo": {"hasNextPage": false, "endCursor": null}}}),
    )
}

/// `inventorySetQuantities(input:)`: all or nothing, compare-and-set per quantity unless
/// `ignoreCompareQuantity`.
fn set_quantities(store: &mut Store, variables: &Value) -> Result<Value, String> {
    let input = variables
        .get("input")
        .ok_or("Variable $input of type InventorySetQuantitiesInput! was provided invalid value")?;
    let name = text(input, "name")?.to_string();
    let reason = text(input, "reason")?.to_string();
    let ignore_compare = input
        .get("ignoreCompareQuantity")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let quantities = input
        .get("quantities")
        .and_then(Value::as_array)
        .ok_or("field quantities is missing")?;
    let mut errors = Vec::new();
    if name != "available" && name != "on_hand" {
        errors.push(user_error(
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            "INVALID_NAME",
        ));
    }
    const REASONS: &[&str] = &[
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    ];
    if !REASONS.contains(&reason.as_str()) {
        errors.push(user_error(
            &["input", "reason"],
            format!("The specified reason is invalid: {reason}"),
            "INVALID_REASON",
        ));
    }
    let mut changes = Vec::new();
    for (i, q) in quantities.iter().enumerate() {
        let index = i.to_string();
        let item = q
            .get("inventoryItemId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let location = q.get("locationId").and_then(Value::as_str).unwrap_or("");
        let Some(quantity) = q.get("quantity").and_then(Value::as_i64) else {
            errors.push(user_error(
                &["input", "quantities", &index, "quantity"],
                "Quantity is required.",
                "INVALID_QUANTITY_NEGATIVE",
            ));
            continue;
        };
        if location != LOCATION_ID {
            errors.push(user_error(
                &["input", "quantities", &index, "locationId"],
                "The specified location could not be found.",
                "INVALID_LOCATION",
            ));
            continue;
        }
        let Some(variant) = store.variant_by_item(item) else {
            errors.push(user_error(
                &["input", "quantities", &index, "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            ));
            continue;
        };
        if !ignore_compare {
            let compare = q.get("compareQuantity").and_then(Value::as_i64);
            if compare != Some(variant.available) {
                errors.push(user_error(
                    &["input", "quantities", &index, "compareQuantity"],
                    "The specified compare quantity does not match the current quantity.",
                    "COMPARE_QUANTITY_STALE",
                ));
                continue;
            }
        }
        changes.push((item.to_string(), quantity - variant.available, quantity));
    }
    if !errors.is_empty() {
        return Ok(
            json!({"inventorySetQuantities": {"inventoryAdjustmentGroup": null, "userErrors": errors}}),
        );
    }
    let mut rendered = Vec::new();
    for (item, delta, quantity) in changes {
        if let Some(variant) = store.variant_by_item(&item) {
            variant.available = quantity;
            variant.last_change = Some((name.clone(), reason.clone()));
        }
        rendered.push(json!({"name": name, "delta": delta, "quantityAfterChange": quantity}));
    }
    Ok(json!({"inventorySetQuantities": {
        "inventoryAdjustmentGroup": {"reason": reason, "changes": rendered},
        "userErrors": [],
    }}))
}

/// `productVariantsBulkUpdate(productId:, variants:, allowPartialUpdates:)`.
fn bulk_update(store: &mut Store, variables: &Value) -> Result<Value, String> {
    let product = text(variables, "productId")?.to_string();
    let partial = variables
        .get("allowPartialUpdates")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let variants = variables
        .get("variants")
        .and_then(Value::as_array)
        .ok_or("field variants is missing")?;
    if variants.len() > 250 {
        return Err(format!(
            "The input array size of {} is greater than the maximum allowed of 250.",
            variants.len()
        ));
    }
    let mut errors = Vec::new();
    let mut updates = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let index = i.to_string();
        let id = v.get("id").and_then(Value::as_str).unwrap_or("");
        match store.variant_by_id(id) {
            Some(found) if found.product_id == product => {}
            _ => {
                errors.push(user_error(
                    &["variants", &index, "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                ));
                continue;
            }
        }
        let price = v
            .get("price")
            .and_then(Value::as_str)
            .map(str::parse::<Decimal>);
        match price {
            Some(Ok(p)) if p >= Decimal::from(MAX_PRICE) => errors.push(user_error(
                &["variants", &index, "price"],
                format!("Price must be less than {MAX_PRICE}"),
                "LESS_THAN",
            )),
            Some(Ok(p)) if p >= Decimal::ZERO => updates.push((id.to_string(), p)),
            Some(Ok(_)) => errors.push(user_error(
                &["variants", &index, "price"],
                "Price must be greater than or equal to 0",
                "GREATER_THAN_OR_EQUAL_TO",
            )),
            _ => errors.push(user_error(
                &["variants", &index, "price"],
                "Price is invalid",
                "INVALID",
            )),
        }
    }
    if !errors.is_empty() && !partial {
        return Ok(
            json!({"productVariantsBulkUpdate": {"productVariants": null, "userErrors": errors}}),
        );
    }
    let mut updated = Vec::new();
    for (id, price) in updates {
        if let Some(v) = store.variants.values_mut().find(|v| v.id == id) {
            v.price = price;
            updated.push(json!({"id": id, "price": price.to_string()}));
        }
    }
    Ok(json!({"productVariantsBulkUpdate": {"productVariants": updated, "userErrors": errors}}))
}

fn money(amount: Decimal, currency: &str) -> Value {
    json!({"shopMoney": {"amount": amount.to_string(), "currencyCode": currency}})
}

fn render_order(order: &Order) -> Value {
    let subtotal: Decimal = order
        .lines
        .iter()
        .map(|l| l.unit_price * Decimal::from(l.quantity))
        .sum();
    let tax = (subtotal * Decimal::new(13, 2)).round_dp(2);
    let shipping = Decimal::new(995, 2);
    let c = order.currency.as_str();
    json!({
        "id": order.id, "name": order.name,
        "createdAt": order.created_at, "updatedAt": order.updated_at, "cancelledAt": order.cancelled_at,
        "currencyCode": c, "email": "buyer@example.com",
        "displayFulfillmentStatus": if order.fulfilled { "FULFILLED" } else { "UNFULFILLED" },
        "customer": {"displayName": "Alex Buyer"},
        "shippingAddress": {"name": "Alex Buyer", "address1": "1 King St W", "address2": null, "city": "Toronto",
            "provinceCode": "ON", "zip": "M5H 1A1", "countryCodeV2": order.country, "phone": null},
        "subtotalPriceSet": money(subtotal, c), "totalShippingPriceSet": money(shipping, c),
        "totalTaxSet": money(tax, c), "totalDiscountsSet": money(Decimal::ZERO, c),
        "totalPriceSet": money(subtotal + shipping + tax, c),
        "lineItems": {"nodes": order.lines.iter().map(|l| json!({
            "id": l.id, "sku": l.sku, "quantity": l.quantity,
            "originalUnitPriceSet": money(l.unit_price, c),
            "taxLines": [{"priceSet": money((l.unit_price * Decimal::from(l.quantity) * Decimal::new(13, 2)).round_dp(2), c)}],
        })).collect::<Vec<_>>()},
    })
}

/// The `updated_at:>=...` (or `>`) term of a search query.
fn updated_since(query: &str) -> Option<(DateTime<Utc>, bool)> {
    let term = query
        .split_whitespace()
        .find_map(|t| t.strip_prefix("updated_at:"))?;
    let (inclusive, value) = match term.strip_prefix(">=") {
        Some(v) => (true, v),
        None => (false, term.strip_prefix('>')?),
    };
    let value = value.trim_matches('\'').trim_matches('"');
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| (t.with_timezone(&Utc), inclusive))
}

/// `orders(first:, after:, query:, sortKey: UPDATED_AT)`: cursors are the position in that order.
fn orders(store: &Store, variables: &Value) -> Result<Value, String> {
    let first = variables
        .get("first")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 250) as usize;
    let query = variables.get("query").and_then(Value::as_str).unwrap_or("");
    let since = updated_since(query);
    let mut selected: Vec<&Order> = store
        .orders
        .iter()
        .filter(|o| match since {
            Some((t, true)) => o.updated_at >= t,
            Some((t, false)) => o.updated_at > t,
            None => true,
        })
        .collect();
    selected.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
    let start = match variables.get("after").and_then(Value::as_str) {
        Some(cursor) => cursor
            .strip_prefix("pos:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| format!("Invalid cursor for current pagination sort: {cursor}"))?,
        None => 0,
    };
    let page: Vec<Value> = selected
        .iter()
        .skip(start)
        .take(first)
        .map(|o| render_order(o))
        .collect();
    let end = start + page.len();
    Ok(json!({"orders": {
        "nodes": page,
        "pageInfo": {"hasNextPage": end < selected.len(), "endCursor": if end > start { json!(format!("pos:{end}")) } else { Value::Null }},
    }}))
}

/// `order(id:) { fulfillmentOrders }`.
fn order(store: &Store, variables: &Value) -> Result<Value, String> {
    let id = text(variables, "id")?;
    Ok(
        json!({"order": store.orders.iter().find(|o| o.id == id).map(|o| json!({
            "id": o.id,
            "fulfillmentOrders": {"nodes": [{"id": o.fulfillment_order_id,
                "status": if o.fulfilled || o.cancelled_at.is_some() { "CLOSED" } else { "OPEN" }}]},
        }))}),
    )
}

/// `fulfillmentCreate(fulfillment: {lineItemsByFulfillmentOrder, trackingInfo, notifyCustomer})`.
fn fulfillment_create(store: &mut Store, variables: &Value) -> Result<Value, String> {
    let input = variables
        .get("fulfillment")
        .ok_or("field fulfillment is missing")?;
    let orders: Vec<&str> = input
        .get("lineItemsByFulfillmentOrder")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.get("fulfillmentOrderId").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let Some(fulfillment_order) = orders.first().copied() else {
        return Ok(
            json!({"fulfillmentCreate": {"fulfillment": null, "userErrors": [user_error(&["fulfillment", "lineItemsByFulfillmentOrder"], "Line items by fulfillment order can't be blank", "BLANK")]}}),
        );
    };
    let tracking = input.get("trackingInfo").cloned().unwrap_or(json!({}));
    let get = |f: &str| tracking.get(f).and_then(Value::as_str).map(str::to_string);
    let next = store.fulfillments.len() + 1;
    let Some(order) = store
        .orders
        .iter_mut()
        .find(|o| o.fulfillment_order_id == fulfillment_order)
    else {
        return Ok(
            json!({"fulfillmentCreate": {"fulfillment": null, "userErrors": [user_error(&["fulfillment"], "Fulfillment order does not exist.", "NOT_FOUND")]}}),
        );
    };
    if order.fulfilled || order.cancelled_at.is_some() {
        return Ok(
            json!({"fulfillmentCreate": {"fulfillment": null, "userErrors": [user_error(&["fulfillment"], format!("Fulfillment order {fulfillment_order} has an unfulfillable status= closed."), "INVALID")]}}),
        );
    }
    order.fulfilled = true;
    order.updated_at = Utc::now();
    let fulfillment = Fulfillment {
        id: format!("gid://shopify/Fulfillment/{next}"),
        order_id: order.id.clone(),
        fulfillment_order_id: fulfillment_order.to_string(),
        company: get("company"),
        number: get("number"),
        url: get("url"),
    };
    let rendered = json!({"id": fulfillment.id, "status": "SUCCESS",
        "trackingInfo": [{"company": fulfillment.company, "number": fulfillment.number, "url": fulfillment.url}]});
    store.fulfillments.push(fulfillment);
    Ok(json!({"fulfillmentCreate": {"fulfillment": rendered, "userErrors": []}}))
}

/// `orderCancel(orderId:, reason:, refund:, restock:)`.
fn order_cancel(store: &mut Store, variables: &Value) -> Result<Value, String> {
    let id = text(variables, "orderId")?;
    let reason = text(variables, "reason")?;
    let errors = if ![
        "CUSTOMER",
        "DECLINED",
        "FRAUD",
        "INVENTORY",
        "OTHER",
        "STAFF",
    ]
    .contains(&reason)
    {
        vec![user_error(
            &["reason"],
            format!("Reason {reason} is invalid"),
            "INVALID",
        )]
    } else {
        match store.orders.iter_mut().find(|o| o.id == id) {
            None => vec![user_error(
                &["orderId"],
                "Order does not exist",
                "NOT_FOUND",
            )],
            Some(o) if o.fulfilled => vec![user_error(
                &["orderId"],
                "Cannot cancel a fulfilled order",
                "INVALID",
            )],
            Some(o) => {
                o.cancelled_at = Some(Utc::now());
                o.updated_at = Utc::now();
                Vec::new()
            }
        }
    };
    Ok(
        json!({"orderCancel": {"job": if errors.is_empty() { json!({"id": "gid://shopify/Job/1"}) } else { Value::Null },
        "orderCancelUserErrors": errors, "userErrors": errors}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_field_is_found_in_a_document() {
        assert_eq!(
            root_field(
                "mutation M($input: X!) { inventorySetQuantities(input: $input) { userErrors { message } } }"
            ),
            Some("inventorySetQuantities")
        );
        assert_eq!(
            root_field("query Q { orders(first: 1) { nodes { id } } }"),
            Some("orders")
        );
        assert_eq!(
            root_field("query Q($id: ID!) { order(id: $id) { id } }"),
            Some("order")
        );
        assert_eq!(root_field("query { shop { name } }"), None);
    }

    #[test]
    fn updated_since_reads_both_comparisons() {
        let (t, inclusive) =
            updated_since("status:any updated_at:>='2026-01-01T00:00:00Z'").unwrap();
        assert!(inclusive);
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(!updated_since("updated_at:>2026-01-01T00:00:00Z").unwrap().1);
    }
}
