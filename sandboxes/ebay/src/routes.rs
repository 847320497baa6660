//! eBay's paths: the token endpoint, then Bearer-checked Sell API calls, each counted against its daily quota.
//! Errors have eBay's shape: `{"errors": [{"errorId", "domain", "category", "message"}]}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use sandbox::{RecordedCall, body_value};
use serde_json::{Value, json};

use crate::{Sandbox, ShippingFulfillment};

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/identity/v1/oauth2/token", post(token))
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(bulk_update),
        )
        .route("/sell/fulfillment/v1/order", get(get_orders))
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment",
            post(create_fulfillment),
        )
        .route("/_sandbox/state", get(state))
        .with_state(sandbox)
}

async fn state(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let account = json!(&*sandbox.account());
    axum::Json(account).into_response()
}

fn error(status: StatusCode, id: u32, domain: &str, message: &str) -> Response {
    (status, axum::Json(json!({"errors": [{"errorId": id, "domain": domain, "category": "REQUEST", "message": message}]})))
        .into_response()
}

fn record(
    sandbox: &Sandbox,
    operation: &str,
    method: &str,
    path: String,
    query: Option<String>,
    body: Value,
    response: Response,
) -> Response {
    sandbox.controls.recorder.record(RecordedCall {
        operation: operation.into(),
        method: method.into(),
        path,
        query,
        body,
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

async fn token(State(sandbox): State<Arc<Sandbox>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form(&body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // The refresh token and credentials are never recorded: only the grant type.
    let recorded = json!({"grant_type": field("grant_type")});
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        sandbox.settings.client_id, sandbox.settings.client_secret
    ));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let response = if basic != Some(expected.as_str()) {
        (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "client authentication failed"}))).into_response()
    } else if field("grant_type") != Some("refresh_token")
        || field("refresh_token") != Some(sandbox.settings.refresh_token.as_str())
    {
        (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was issued to another client"}))).into_response()
    } else {
        let mut account = sandbox.account();
        account.tokens_issued += 1;
        let token = format!("v^1.1#i^1#sandbox-{}", account.tokens_issued);
        account.tokens.push(token.clone());
        axum::Json(
            json!({"access_token": token, "expires_in": 7200, "token_type": "User Access Token"}),
        )
        .into_response()
    };
    record(
        &sandbox,
        "getToken",
        "POST",
        "/identity/v1/oauth2/token".into(),
        None,
        recorded,
        response,
    )
}

/// The bearer token, faults and the daily quota.
async fn admit(sandbox: &Sandbox, operation: &str, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| sandbox.account().tokens.iter().any(|k| k == t)) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            1001,
            "OAuth",
            "Invalid access token",
        ));
    }
    if let Some(fault) = sandbox.controls.faults.apply(operation).await {
        return Some(fault);
    }
    if !sandbox.count_call(operation) {
        return Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            2001,
            "API_ACCESS",
            "Too many requests. The request limit has been reached for the resource.",
        ));
    }
    None
}

async fn bulk_update(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/sell/inventory/v1/bulk_update_price_quantity".to_string();
    let recorded = body_value(&body);
    let op = "bulkUpdatePriceQuantity";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let requests = recorded
        .get("requests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if requests.is_empty() || requests.len() > 25 {
        let r = error(
            StatusCode::BAD_REQUEST,
            25709,
            "API_INVENTORY",
            "Invalid value for requests: between 1 and 25 SKUs per call",
        );
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let mut responses = Vec::new();
    let mut all_ok = true;
    {
        let mut account = sandbox.account();
        for request in &requests {
            let sku = request.get("sku").and_then(Value::as_str).unwrap_or("");
            let quantity = request
                .pointer("/shipToLocationAvailability/quantity")
                .and_then(Value::as_i64);
            let answer = match (account.listings.get_mut(sku), quantity) {
                (None, _) => {
                    json!({"sku": sku, "statusCode": 404, "errors": [{"errorId": 25702, "domain": "API_INVENTORY", "category": "REQUEST",
                    "message": format!("SKU {sku} is not available in the system")}]})
                }
                (Some(_), Some(q)) if q < 0 => {
                    json!({"sku": sku, "statusCode": 400, "errors": [{"errorId": 25604, "domain": "API_INVENTORY", "category": "REQUEST",
                    "message": "Input error. Quantity must not be negative."}]})
                }
                (Some(listing), q) => {
                    if let Some(q) = q {
                        listing.quantity = q;
                    }
                    json!({"sku": sku, "statusCode": 200})
                }
            };
            all_ok &= answer["statusCode"] == 200;
            responses.push(answer);
        }
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let r = (status, axum::Json(json!({"responses": responses}))).into_response();
    record(&sandbox, op, "POST", path, None, recorded, r)
}

/// `filter=lastmodifieddate:[<from>..]` (the upper bound optional).
fn modified_since(query: &str) -> Option<DateTime<Utc>> {
    let filter = query.split('&').find_map(|p| p.strip_prefix("filter="))?;
    let filter = percent_encoding::percent_decode_str(filter)
        .decode_utf8_lossy()
        .into_owned();
    let range = filter
        .split(',')
        .find_map(|f| f.trim().strip_prefix("lastmodifieddate:["))?;
    let from = range.split("..").next()?;
    DateTime::parse_from_rfc3339(from)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn get_orders(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/sell/fulfillment/v1/order".to_string();
    let op = "getOrders";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let q = query.clone().unwrap_or_default();
    let param = |name: &str| {
        q.split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let limit = param("limit").unwrap_or(50);
    if limit == 0 || limit > 200 {
        let r = error(
            StatusCode::BAD_REQUEST,
            30700,
            "API_FULFILLMENT",
            "The 'limit' value must be between 1 and 200",
        );
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let offset = param("offset").unwrap_or(0);
    let since = modified_since(&q);
    let account = sandbox.account();
    let mut selected: Vec<_> = account
        .orders
        .iter()
        .filter(|o| since.is_none_or(|t| o.last_modified_date >= t))
        .collect();
    selected.sort_by(|a, b| {
        (a.last_modified_date, &a.order_id).cmp(&(b.last_modified_date, &b.order_id))
    });
    let orders: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| {
            let total: rust_decimal::Decimal = o.lines.iter().map(|l| l.unit_price * rust_decimal::Decimal::from(l.quantity)).sum();
            let amount = |v: rust_decimal::Decimal| json!({"value": v.to_string(), "currency": o.currency});
            json!({
                "orderId": o.order_id, "creationDate": o.creation_date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "lastModifiedDate": o.last_modified_date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "orderFulfillmentStatus": if o.fulfilled { "FULFILLED" } else { "NOT_STARTED" },
                "orderPaymentStatus": "PAID",
                "buyer": {"username": "buyer_one", "buyerRegistrationAddress": {"fullName": "Sam Buyer", "email": "sam@example.com"}},
                "pricingSummary": {"priceSubtotal": amount(total), "deliveryCost": amount(rust_decimal::Decimal::new(599, 2)),
                    "tax": amount(rust_decimal::Decimal::ZERO), "total": amount(total + rust_decimal::Decimal::new(599, 2))},
                "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {"fullName": "Sam Buyer", "contactAddress": {
                    "addressLine1": "2145 Hamilton Ave", "city": "San Jose", "stateOrProvince": "CA", "postalCode": "95125", "countryCode": "US"}}}}],
                "lineItems": o.lines.iter().map(|l| json!({"lineItemId": l.line_item_id, "sku": l.sku, "quantity": l.quantity,
                    "lineItemCost": amount(l.unit_price * rust_decimal::Decimal::from(l.quantity)), "lineItemFulfillmentStatus": if o.fulfilled { "FULFILLED" } else { "NOT_STARTED" }})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let next = (offset + orders.len() < selected.len())
        .then(|| format!("{path}?limit={limit}&offset={}", offset + orders.len()));
    let r = axum::Json(json!({"href": path, "limit": limit, "offset": offset, "total": selected.len(), "orders": orders, "next": next})).into_response();
    drop(account);
    record(&sandbox, op, "GET", path, query, Value::Null, r)
}

async fn create_fulfillment(
    State(sandbox): State<Arc<Sandbox>>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment");
    let recorded = body_value(&body);
    let op = "createShippingFulfillment";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "POST", path, None, recorded, r);
    }
    let text = |f: &str| recorded.get(f).and_then(Value::as_str).map(str::to_string);
    let lines: Vec<(String, i64)> = recorded
        .get("lineItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some((
                l.get("lineItemId")?.as_str()?.to_string(),
                l.get("quantity")?.as_i64()?,
            ))
        })
        .collect();
    let mut account = sandbox.account();
    let next = account.fulfillments.len() + 1;
    let r = match account.orders.iter_mut().find(|o| o.order_id == order_id) {
        None => error(
            StatusCode::NOT_FOUND,
            32100,
            "API_FULFILLMENT",
            &format!("Order {order_id} not found"),
        ),
        Some(_) if lines.is_empty() => error(
            StatusCode::BAD_REQUEST,
            32200,
            "API_FULFILLMENT",
            "lineItems: at least one line item is required",
        ),
        Some(order)
            if lines
                .iter()
                .any(|(id, _)| !order.lines.iter().any(|l| &l.line_item_id == id)) =>
        {
            error(
                StatusCode::BAD_REQUEST,
                32300,
                "API_FULFILLMENT",
                "lineItems.lineItemId: a line item does not belong to the order",
            )
        }
        Some(order) => match (text("shippingCarrierCode"), text("trackingNumber")) {
            (Some(carrier), Some(tracking)) => {
                order.fulfilled = true;
                order.last_modified_date = Utc::now();
                let id = format!("FUL-{next}");
                account.fulfillments.push(ShippingFulfillment {
                    fulfillment_id: id.clone(),
                    order_id: order_id.clone(),
                    carrier,
                    tracking_number: tracking,
                    line_items: lines,
                });
                let mut r = (StatusCode::CREATED, axum::Json(json!({}))).into_response();
                if let Ok(v) = header::HeaderValue::from_str(&format!("{path}/{id}")) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                32400,
                "API_FULFILLMENT",
                "shippingCarrierCode and trackingNumber are required",
            ),
        },
    };
    drop(account);
    record(&sandbox, op, "POST", path, None, recorded, r)
}
