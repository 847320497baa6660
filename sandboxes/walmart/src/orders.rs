//! Orders: generated orders in Walmart's `getAllOrders` shape, served by `lastModifiedStartDate` in pages of at
//! most 200 with `nextCursor`; acknowledgements (required before shipping), line cancellations and shipping
//! updates, with Walmart's error bodies.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Number, Value, json};

use crate::api::{errors, form, gate, json_response, record};
use crate::state::Shared;

type S = AxumState<Arc<Shared>>;

/// Walmart's largest orders page.
pub const MAX_PAGE: usize = 200;
const CARRIERS: [&str; 12] = [
    "UPS",
    "USPS",
    "FedEx",
    "Airborne",
    "OnTrac",
    "DHL Ecommerce - US",
    "DHL",
    "LS",
    "UDS",
    "UPSMI",
    "FDX",
    "PILOT",
];
const METHOD_CODES: [&str; 6] = [
    "Standard",
    "Express",
    "OneDay",
    "Freight",
    "WhiteGlove",
    "Value",
];
const CANCEL_REASONS: [&str; 5] = [
    "CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
    "SELLER_CANCEL_PRICING_ERROR",
    "SELLER_CANCEL_OUT_OF_STOCK",
    "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
    "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE",
];

/// An order to place: lines of (sku, quantity, unit price as a decimal), shipping per order.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderSpec {
    pub lines: Vec<(String, u32, String)>,
    pub shipping: String,
    pub method_code: String,
    pub country: String,
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self {
            lines: Vec::new(),
            shipping: "0".into(),
            method_code: "Standard".into(),
            country: "USA".into(),
        }
    }
}

/// A decimal as a JSON number (Walmart's amounts are numbers).
fn number(amount: Decimal) -> Value {
    Number::from_str(&amount.round_dp(2).normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Places an order; its purchaseOrderId.
pub fn place(state: &Shared, spec: &OrderSpec) -> String {
    let now = now_ms();
    let id = state.with(|s| {
        s.order_sequence += 1;
        format!("{}", 1_800_000_000_000_u64 + s.order_sequence)
    });
    let shipping = Decimal::from_str(&spec.shipping).unwrap_or_default();
    let lines: Vec<Value> = spec
        .lines
        .iter()
        .enumerate()
        .map(|(i, (sku, quantity, price))| {
            let unit = Decimal::from_str(price).unwrap_or_default();
            let product = unit * Decimal::from(*quantity);
            // 8.25 % sales tax, to the cent.
            let tax = (product * Decimal::new(825, 4)).round_dp(2);
            let mut charges = vec![json!({
                "chargeType": "PRODUCT", "chargeName": "ItemPrice",
                "chargeAmount": {"currency": "USD", "amount": number(product)},
                "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": number(tax)}},
            })];
            if i == 0 && shipping > Decimal::ZERO {
                charges.push(json!({
                    "chargeType": "SHIPPING", "chargeName": "Shipping",
                    "chargeAmount": {"currency": "USD", "amount": number(shipping)},
                }));
            }
            json!({
                "lineNumber": (i + 1).to_string(),
                "item": {"productName": format!("Item {sku}"), "sku": sku},
                "charges": {"charge": charges},
                "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": quantity.to_string()},
                "statusDate": now,
                "orderLineStatuses": {"orderLineStatus": [{
                    "status": "Created",
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": quantity.to_string()},
                }]},
                "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": spec.method_code.to_uppercase()},
            })
        })
        .collect();
    let order = json!({
        "purchaseOrderId": id,
        "customerOrderId": format!("5{id}"),
        "customerEmailId": format!("buyer-{id}@relay.walmart.com"),
        "orderType": "REGULAR",
        "orderDate": now,
        "mart": "Walmart.com",
        "isGuest": false,
        "shippingInfo": {
            "phone": "2025550143",
            "estimatedDeliveryDate": now + 5 * 86_400_000,
            "estimatedShipDate": now + 86_400_000,
            "methodCode": spec.method_code,
            "postalAddress": {"name": "Kathryn Cole", "address1": "3258 Warners Rd", "city": "Garland",
                "state": "TX", "postalCode": "75040", "country": spec.country, "addressType": "RESIDENTIAL"},
        },
        "orderLines": {"orderLine": lines},
        "shipNode": {"type": "SellerFulfilled", "name": "Tradewind DAL", "id": "DAL"},
    });
    put(state, &id, order, now);
    id
}

fn put(state: &Shared, id: &str, order: Value, modified: i64) {
    state.with(|s| {
        s.orders.insert(id.to_string(), order);
        s.order_modified.insert(id.to_string(), modified);
    });
}

/// Places `count` orders of random seeded SKUs (1-3 lines, 1-5 units, 5.00-99.99 each).
pub fn generate(state: &Shared, count: usize) -> Vec<String> {
    let skus: Vec<String> = state.with(|s| s.items.keys().cloned().collect());
    let skus = if skus.is_empty() {
        vec!["WM-GENERATED".to_string()]
    } else {
        skus
    };
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let lines = (0..rng.random_range(1..=3))
                .map(|_| {
                    let sku = skus[rng.random_range(0..skus.len())].clone();
                    let cents = rng.random_range(500..10_000);
                    (
                        sku,
                        rng.random_range(1..=5),
                        Decimal::new(cents, 2).to_string(),
                    )
                })
                .collect();
            place(
                state,
                &OrderSpec {
                    lines,
                    ..OrderSpec::default()
                },
            )
        })
        .collect()
}

/// Serves `order` as given (malformed orders for tests), modified now.
pub fn put_raw(state: &Shared, order: Value) {
    let id = order
        .get("purchaseOrderId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("raw-{}", uuid::Uuid::new_v4().simple()));
    state.with(|s| {
        s.raw_orders.insert(id.clone());
    });
    put(state, &id, order, now_ms());
}

/// `response` marked as a fault injected on purpose when it carries one of the orders served as given.
fn mark_raw(state: &Shared, ids: &[&str], mut response: Response) -> Response {
    if state.with(|s| ids.iter().any(|id| s.raw_orders.contains(*id))) {
        response.extensions_mut().insert(sandbox::InjectedFault);
    }
    response
}

/// The line `number` of an order, mutably.
fn line_mut<'a>(order: &'a mut Value, number: &str) -> Option<&'a mut Value> {
    order
        .pointer_mut("/orderLines/orderLine")?
        .as_array_mut()?
        .iter_mut()
        .find(|l| l.get("lineNumber").and_then(Value::as_str) == Some(number))
}

fn line_status(line: &Value) -> &str {
    line.pointer("/orderLineStatuses/orderLineStatus/0/status")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn set_status(line: &mut Value, status: Value, now: i64) {
    line["orderLineStatuses"] = json!({"orderLineStatus": [status]});
    line["statusDate"] = Value::from(now);
}

pub fn buyer_cancels(state: &Shared, id: &str, line_number: &str) -> bool {
    let now = now_ms();
    state.with(|s| {
        let Some(line) = s.orders.get_mut(id).and_then(|o| line_mut(o, line_number)) else {
            return false;
        };
        let quantity = line["orderLineQuantity"]["amount"].clone();
        set_status(
            line,
            json!({"status": "Cancelled", "cancellationReason": "CUSTOMER_CANCEL",
                "statusQuantity": {"unitOfMeasurement": "EACH", "amount": quantity}}),
            now,
        );
        s.order_modified.insert(id.to_string(), now);
        true
    })
}

fn not_found(id: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "CONTENT_NOT_FOUND.GMP_ORDER_API",
        "purchaseOrderId",
        &format!("Order {id} not found"),
    )
}

fn bad(field: &str, description: String) -> Response {
    errors(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_CONTENT.GMP_ORDER_API",
        field,
        &description,
    )
}

fn bad_box(field: &str, description: String) -> Box<Response> {
    Box::new(bad(field, description))
}

/// `GET /v3/orders`: orders modified from `lastModifiedStartDate`, oldest first, `limit` (at most 200) per
/// page, `nextCursor` while more remain.
pub async fn get_all(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getAllOrders";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => list(&state, query.as_deref().unwrap_or_default()),
    };
    record(&state, OP, Method::GET, "/v3/orders", query, b"", response)
}

fn list(state: &Shared, query: &str) -> Response {
    let params = form(query);
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=MAX_PAGE).contains(&l) => l,
        Some(_) => {
            return errors(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_PARAM.GMP_ORDER_API",
                "limit",
                &format!(
                    "limit {} is not between 1 and {MAX_PAGE}",
                    params.get("limit").cloned().unwrap_or_default()
                ),
            );
        }
    };
    let start = match params.get("lastModifiedStartDate") {
        None => i64::MIN,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_PARAM.GMP_ORDER_API",
                    "lastModifiedStartDate",
                    &format!("lastModifiedStartDate {text} is not a date-time: {e}"),
                );
            }
        },
    };
    let skip = params
        .get("soIndex")
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(0);
    let (page, total, ids) = state.with(|s| {
        let mut matching: Vec<(i64, &String)> = s
            .order_modified
            .iter()
            .filter(|(_, modified)| **modified >= start)
            .map(|(id, modified)| (*modified, id))
            .collect();
        matching.sort();
        let total = matching.len();
        let ids: Vec<String> = matching
            .iter()
            .skip(skip)
            .take(limit)
            .map(|(_, id)| (*id).clone())
            .collect();
        let page: Vec<Value> = ids
            .iter()
            .filter_map(|id| s.orders.get(id).cloned())
            .collect();
        (page, total, ids)
    });
    let mut meta = json!({"totalCount": total, "limit": limit});
    if skip + limit < total {
        let start_text = params
            .get("lastModifiedStartDate")
            .map(|t| t.replace(':', "%3A").replace('+', "%2B"))
            .unwrap_or_default();
        meta["nextCursor"] = Value::from(format!(
            "?limit={limit}&hasMoreElements=true&soIndex={}&lastModifiedStartDate={start_text}",
            skip + limit
        ));
    }
    let response = json_response(
        StatusCode::OK,
        json!({"list": {"meta": meta, "elements": {"order": page}}}),
    );
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    mark_raw(state, &ids, response)
}

/// `GET /v3/orders/{purchaseOrderId}`.
pub async fn get_one(AxumState(state): S, Path(id): Path<String>, headers: HeaderMap) -> Response {
    const OP: &str = "getAnOrder";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.with(|s| s.orders.get(&id).cloned()) {
            // The specification answers the order itself here (the actions wrap it in `order`), with
            // `orderDate` as a date-time string where the other answers give epoch milliseconds.
            Some(mut order) => {
                if let Some(date) = order
                    .get("orderDate")
                    .and_then(Value::as_i64)
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                {
                    order["orderDate"] =
                        Value::from(date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                }
                mark_raw(&state, &[&id], json_response(StatusCode::OK, order))
            }
            None => not_found(&id),
        },
    };
    record(
        &state,
        OP,
        Method::GET,
        &format!("/v3/orders/{id}"),
        None,
        b"",
        response,
    )
}

/// `POST /v3/orders/{id}/acknowledge`: every `Created` line becomes `Acknowledged`.
pub async fn acknowledge(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "acknowledgeOrders";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => {
            let now = now_ms();
            state.with(|s| match s.orders.get_mut(&id) {
                None => not_found(&id),
                Some(order) => {
                    if let Some(lines) = order
                        .pointer_mut("/orderLines/orderLine")
                        .and_then(Value::as_array_mut)
                    {
                        for line in lines.iter_mut().filter(|l| line_status(l) == "Created") {
                            let quantity = line["orderLineQuantity"]["amount"].clone();
                            set_status(
                                line,
                                json!({"status": "Acknowledged",
                                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": quantity}}),
                                now,
                            );
                        }
                    }
                    let answer = json!({"order": order.clone()});
                    s.order_modified.insert(id.clone(), now);
                    json_response(StatusCode::OK, answer)
                }
            })
        }
    };
    record(
        &state,
        OP,
        Method::POST,
        &format!("/v3/orders/{id}/acknowledge"),
        None,
        b"",
        response,
    )
}

/// The `orderLine` array under `root` (`orderCancellation` or `orderShipment`) of a request body.
fn request_lines(body: &[u8], root: &str) -> Result<Vec<Value>, Box<Response>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad_box(root, format!("Request body is not valid JSON: {e}")))?;
    value
        .pointer(&format!("/{root}/orderLines/orderLine"))
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .cloned()
        .ok_or_else(|| {
            bad_box(
                &format!("{root}.orderLines.orderLine"),
                "orderLine is required".into(),
            )
        })
}

/// `POST /v3/orders/{id}/cancel`: the named lines cancelled with a seller reason.
pub async fn cancel(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "cancelOrderLines";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match request_lines(&body, "orderCancellation") {
            Err(response) => *response,
            Ok(lines) => apply_cancel(&state, &id, &lines),
        },
    };
    record(
        &state,
        OP,
        Method::POST,
        &format!("/v3/orders/{id}/cancel"),
        None,
        &body,
        response,
    )
}

fn apply_cancel(state: &Shared, id: &str, lines: &[Value]) -> Response {
    let now = now_ms();
    state.with(|s| {
        let Some(order) = s.orders.get(id) else {
            return not_found(id);
        };
        let mut order = order.clone();
        for (i, request) in lines.iter().enumerate() {
            let number = request
                .get("lineNumber")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let status = request
                .pointer("/orderLineStatuses/orderLineStatus/0")
                .cloned()
                .unwrap_or(Value::Null);
            let reason = status
                .get("cancellationReason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if status.get("status").and_then(Value::as_str) != Some("Cancelled") {
                return bad(
                    &format!("orderLine[{i}].orderLineStatuses.orderLineStatus.status"),
                    "status must be Cancelled".into(),
                );
            }
            if !CANCEL_REASONS.contains(&reason) {
                return bad(
                    &format!("orderLine[{i}].orderLineStatuses.orderLineStatus.cancellationReason"),
                    format!(
                        "cancellationReason {reason:?} is not one of {}",
                        CANCEL_REASONS.join(", ")
                    ),
                );
            }
            let Some(line) = line_mut(&mut order, number) else {
                return bad(
                    &format!("orderLine[{i}].lineNumber"),
                    format!("Order {id} has no line {number:?}"),
                );
            };
            if matches!(line_status(line), "Shipped" | "Delivered") {
                return bad(
                    &format!("orderLine[{i}].lineNumber"),
                    format!(
                        "Line {number} of order {id} is already shipped and cannot be cancelled"
                    ),
                );
            }
            set_status(line, status, now);
        }
        s.orders.insert(id.to_string(), order.clone());
        s.order_modified.insert(id.to_string(), now);
        json_response(StatusCode::OK, json!({"order": order}))
    })
}

/// `POST /v3/orders/{id}/shipping`: the named lines shipped with carrier, method and tracking. A line that
/// was not acknowledged is refused, as Walmart does.
pub async fn shipping(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "shippingUpdates";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match request_lines(&body, "orderShipment") {
            Err(response) => *response,
            Ok(lines) => apply_shipping(&state, &id, &lines),
        },
    };
    record(
        &state,
        OP,
        Method::POST,
        &format!("/v3/orders/{id}/shipping"),
        None,
        &body,
        response,
    )
}

fn check_tracking(i: usize, status: &Value) -> Result<(), Box<Response>> {
    let at = |f: &str| format!("orderLine[{i}].orderLineStatuses.orderLineStatus.{f}");
    if status.get("status").and_then(Value::as_str) != Some("Shipped") {
        return Err(bad_box(&at("status"), "status must be Shipped".into()));
    }
    let tracking = status.get("trackingInfo").cloned().unwrap_or(Value::Null);
    if !tracking.get("shipDateTime").is_some_and(Value::is_i64) {
        return Err(bad_box(
            &at("trackingInfo.shipDateTime"),
            "shipDateTime (epoch milliseconds) is required".into(),
        ));
    }
    let carrier = tracking
        .pointer("/carrierName/carrier")
        .and_then(Value::as_str);
    let other = tracking
        .pointer("/carrierName/otherCarrier")
        .and_then(Value::as_str);
    match (carrier, other) {
        (Some(c), _) if !CARRIERS.contains(&c) => {
            return Err(bad_box(
                &at("trackingInfo.carrierName.carrier"),
                format!("carrier {c:?} is not one of {}", CARRIERS.join(", ")),
            ));
        }
        (None, None) => {
            return Err(bad_box(
                &at("trackingInfo.carrierName"),
                "carrier or otherCarrier is required".into(),
            ));
        }
        _ => {}
    }
    let method = tracking
        .get("methodCode")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !METHOD_CODES.contains(&method) {
        return Err(bad_box(
            &at("trackingInfo.methodCode"),
            format!(
                "methodCode {method:?} is not one of {}",
                METHOD_CODES.join(", ")
            ),
        ));
    }
    if tracking
        .get("trackingNumber")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad_box(
            &at("trackingInfo.trackingNumber"),
            "trackingNumber is required".into(),
        ));
    }
    Ok(())
}

fn apply_shipping(state: &Shared, id: &str, lines: &[Value]) -> Response {
    let now = now_ms();
    state.with(|s| {
        let Some(order) = s.orders.get(id) else {
            return not_found(id);
        };
        let mut order = order.clone();
        for (i, request) in lines.iter().enumerate() {
            let number = request.get("lineNumber").and_then(Value::as_str).unwrap_or_default();
            if request.get("sellerOrderId").and_then(Value::as_str).is_none_or(str::is_empty) {
                return bad(&format!("orderLine[{i}].sellerOrderId"), "sellerOrderId is required".into());
            }
            let status = request
                .pointer("/orderLineStatuses/orderLineStatus/0")
                .cloned()
                .unwrap_or(Value::Null);
            if let Err(response) = check_tracking(i, &status) {
                return *response;
            }
            let Some(line) = line_mut(&mut order, number) else {
                return bad(
                    &format!("orderLine[{i}].lineNumber"),
                    format!("Order {id} has no line {number:?}"),
                );
            };
            match line_status(line) {
                "Acknowledged" | "Shipped" => set_status(line, status, now),
                other => {
                    return bad(
                        &format!("orderLine[{i}].lineNumber"),
                        format!(
                            "Line {number} of order {id} is {other}; an order must be acknowledged before it is shipped"
                        ),
                    );
                }
            }
        }
        s.orders.insert(id.to_string(), order.clone());
        s.order_modified.insert(id.to_string(), now);
        json_response(StatusCode::OK, json!({"order": order}))
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum SandboxOrders {
    /// `{"count": n}`: generated orders.
    Generate { count: usize },
    /// An order as specified.
    Place(OrderSpec),
}

/// `POST /_sandbox/orders`: `{"count": n}` or `{"lines": [[sku, quantity, "price"]], ...}`; the ids placed.
pub async fn sandbox_orders(
    AxumState(state): S,
    axum::Json(request): axum::Json<SandboxOrders>,
) -> Response {
    let ids = match request {
        SandboxOrders::Generate { count } => generate(&state, count),
        SandboxOrders::Place(spec) => vec![place(&state, &spec)],
    };
    json_response(StatusCode::CREATED, json!({"purchaseOrderIds": ids}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_numbers_with_cents() {
        assert_eq!(number(Decimal::new(2598, 2)), json!(25.98));
        assert_eq!(number(Decimal::new(1, 0)), json!(1));
    }
}
