//! The sandbox's HTTP routes: the SP-API operations and the sandbox's own controls.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use chrono::{DateTime, Utc};
use sandbox::{RecordedCall, body_value};
use serde_json::{Value, json};

use crate::feeds;
use crate::patches;
use crate::reports;
use crate::state::{Shared, order_json};

type S = AxumState<Arc<Shared>>;

pub fn router(state: Arc<Shared>) -> Router {
    Router::new()
        .route("/auth/o2/token", post(token))
        .route(
            "/listings/2021-08-01/items/{seller}/{sku}",
            patch(patch_listing).get(get_listing),
        )
        .route("/orders/2026-01-01/orders", get(search_orders))
        .route(
            "/orders/v0/orders/{order_id}/shipmentConfirmation",
            post(confirm_shipment),
        )
        .route(
            "/feeds/2021-06-30/documents",
            post(feeds::create_feed_document),
        )
        .route(
            "/feeds/2021-06-30/documents/{id}",
            get(feeds::get_feed_document),
        )
        .route("/feeds/2021-06-30/feeds", post(feeds::create_feed))
        .route("/feeds/2021-06-30/feeds/{feed_id}", get(feeds::get_feed))
        .route("/_sandbox/uploads/{id}", put(feeds::upload))
        .route("/_sandbox/documents/{id}", get(feeds::download))
        .route("/_sandbox/documents/{id}/gzip", get(feeds::download_gzip))
        .route("/_sandbox/refusals", post(sandbox_refusal))
        .route(
            "/reports/2021-06-30/reports",
            get(reports::get_reports).post(reports::create_report),
        )
        .route("/reports/2021-06-30/reports/{id}", get(reports::get_report))
        .route(
            "/reports/2021-06-30/documents/{id}",
            get(reports::get_report_document),
        )
        .route("/orders/2026-01-01/orders/{order_id}", get(get_order))
        .route("/_sandbox/returns", post(reports::sandbox_return))
        .route("/_sandbox/reports/{kind}", post(reports::sandbox_report))
        .route(
            "/_sandbox/settlement-tweaks",
            post(reports::sandbox_settlement_tweak),
        )
        .route("/_sandbox/state", get(sandbox_state))
        .route("/_sandbox/orders", post(sandbox_order))
        .with_state(state)
}

/// Amazon's error body.
pub(crate) fn errors(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "errors": [{ "code": code, "message": message, "details": "" }] }).to_string(),
    )
        .into_response()
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The rate an operation's 429 reports in `x-amzn-RateLimit-Limit`, as Amazon writes it (requests per second).
fn rate_header(operation: &str) -> String {
    crds::channel::ChannelKind::Amazon
        .operation(operation)
        .and_then(|o| o.published)
        .map(|l| {
            let per_second = l.requests as f64 * 1000.0 / l.per_millis as f64;
            format!("{per_second}")
        })
        .unwrap_or_else(|| "1".into())
}

/// What every SP-API operation does first: faults, the access token, the operation's bucket. `Some` is the
/// answer to give instead of doing the work.
pub(crate) async fn gate(state: &Shared, operation: &str, headers: &HeaderMap) -> Option<Response> {
    if let Some(response) = state.controls.faults.apply(operation).await {
        return Some(response);
    }
    let token = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !state.token_valid(token) {
        return Some(errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        ));
    }
    if !state.allow(operation) {
        return Some(throttled(operation));
    }
    None
}

/// Amazon's 429 for `operation`, with its rate in `x-amzn-RateLimit-Limit`.
pub(crate) fn throttled(operation: &str) -> Response {
    let mut response = errors(
        StatusCode::TOO_MANY_REQUESTS,
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
    );
    if let Ok(value) = HeaderValue::from_str(&rate_header(operation)) {
        response
            .headers_mut()
            .insert("x-amzn-RateLimit-Limit", value);
    }
    response
}

pub(crate) fn record(
    state: &Shared,
    operation: &str,
    method: Method,
    path: String,
    query: Option<String>,
    body: &[u8],
    response: Response,
) -> Response {
    state.controls.recorder.record(RecordedCall {
        operation: operation.to_string(),
        method: method.to_string(),
        path,
        query,
        body: body_value(body),
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

fn form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn query_map(query: &Option<String>) -> HashMap<String, String> {
    query
        .as_deref()
        .map(|q| form(q.as_bytes()))
        .unwrap_or_default()
}

async fn token(AxumState(state): S, body: Bytes) -> Response {
    let params = form(&body);
    let credentials = &state.credentials;
    // The body carries secrets: it is not recorded.
    let response = if params.get("grant_type").map(String::as_str) != Some("refresh_token") {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token"}),
        )
    } else if params.get("client_id") != Some(&credentials.client_id)
        || params.get("client_secret") != Some(&credentials.client_secret)
    {
        json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        )
    } else if params.get("refresh_token") != Some(&credentials.refresh_token) {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : refresh_token"}),
        )
    } else {
        json_response(
            StatusCode::OK,
            json!({"access_token": state.issue_token(), "token_type": "bearer", "expires_in": 3600, "refresh_token": credentials.refresh_token}),
        )
    };
    record(
        &state,
        "token",
        Method::POST,
        "/auth/o2/token".into(),
        None,
        b"",
        response,
    )
}

async fn patch_listing(
    AxumState(state): S,
    Path((seller, sku)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "patchListingsItem";
    let path = format!("/listings/2021-08-01/items/{seller}/{sku}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => apply_patch(&state, &sku, &query, &body),
    };
    record(&state, OP, Method::PATCH, path, query, &body, response)
}

fn apply_patch(state: &Shared, sku: &str, query: &Option<String>, body: &[u8]) -> Response {
    if !query_map(query).contains_key("marketplaceIds") {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Missing required parameter: marketplaceIds",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Request body is not valid JSON",
        );
    };
    if request.get("productType").and_then(Value::as_str).is_none() {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Missing required field: productType",
        );
    }
    let Some(patches) = request.get("patches").and_then(Value::as_array) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Missing required field: patches",
        );
    };
    let submission = format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let checked = patches::check(patches);
    let refused = state.refusal(sku);
    match (checked, refused) {
        (Ok(change), None) => {
            state.lock().apply(sku, change);
            json_response(
                StatusCode::OK,
                json!({"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}),
            )
        }
        (checked, refused) => {
            let mut issues = checked.err().unwrap_or_default();
            issues.extend(refused);
            json_response(
                StatusCode::OK,
                json!({"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}),
            )
        }
    }
}

async fn get_listing(
    AxumState(state): S,
    Path((seller, sku)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getListingsItem";
    let path = format!("/listings/2021-08-01/items/{seller}/{sku}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.lock().listings.get(&sku) {
            Some(listing) => json_response(
                StatusCode::OK,
                json!({"sku": sku, "attributes": {
                    "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": listing.quantity}],
                    "purchasable_offer": [{"currency": listing.currency, "our_price": [{"schedule": [{"value_with_tax": listing.price}]}]}],
                }}),
            ),
            None => errors(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!("SKU '{sku}' not found in marketplace"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, None, b"", response)
}

async fn search_orders(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "searchOrders";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => orders_page(&state, &query_map(&query)),
    };
    record(
        &state,
        OP,
        Method::GET,
        "/orders/2026-01-01/orders".into(),
        query,
        b"",
        response,
    )
}

fn orders_page(state: &Shared, params: &HashMap<String, String>) -> Response {
    let parse = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        match params.get(name) {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| format!("{name} is not an ISO 8601 date-time: {text}")),
        }
    };
    let (updated_after, created_after) = match (parse("lastUpdatedAfter"), parse("createdAfter")) {
        (Ok(u), Ok(c)) => (u, c),
        (Err(e), _) | (_, Err(e)) => return errors(StatusCode::BAD_REQUEST, "InvalidInput", &e),
    };
    if updated_after.is_some() == created_after.is_some() {
        let message = "You must provide exactly one of createdAfter and lastUpdatedAfter";
        state.controls.conformance.request_violation(
            sandbox::CallRef {
                operation: "searchOrders",
                method: "GET",
                path: "/orders/2026-01-01/orders",
                query: None,
            },
            400,
            sandbox::Violation::of(crate::conformance::ONE_TIME_FILTER, "query", message),
        );
        return errors(StatusCode::BAD_REQUEST, "InvalidInput", message);
    }
    let page_size = params
        .get("maxResultsPerPage")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let start: usize = match params.get("paginationToken") {
        Some(token) => match token.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "Invalid paginationToken",
                );
            }
        },
        None => 0,
    };
    let marketplace_id = params
        .get("marketplaceIds")
        .cloned()
        .unwrap_or_else(|| "ATVPDKIKX0DER".into());
    let now = Utc::now();
    let s = state.lock();
    let mut matching: Vec<_> = s
        .orders
        .iter()
        .filter(|o| updated_after.is_none_or(|t| o.last_updated > t))
        .filter(|o| created_after.is_none_or(|t| o.created > t))
        .collect();
    matching.sort_by_key(|o| o.last_updated);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(page_size)
        .map(|o| order_json(o, &marketplace_id))
        .collect();
    let mut body = json!({ "orders": page, "lastUpdatedBefore": now.to_rfc3339() });
    if start + page_size < matching.len() {
        body["pagination"] = json!({ "nextToken": format!("page-{}", start + page_size) });
    }
    json_response(StatusCode::OK, body)
}

async fn confirm_shipment(
    AxumState(state): S,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "confirmShipment";
    let path = format!("/orders/v0/orders/{order_id}/shipmentConfirmation");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => confirm(&state, &order_id, &body),
    };
    record(&state, OP, Method::POST, path, None, &body, response)
}

fn confirm(state: &Shared, order_id: &str, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Request body is not valid JSON",
        );
    };
    let Some(detail) = request.get("packageDetail") else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "packageDetail is required",
        );
    };
    for field in [
        "packageReferenceId",
        "carrierCode",
        "trackingNumber",
        "shipDate",
        "orderItems",
    ] {
        if detail.get(field).is_none() {
            return errors(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                &format!("packageDetail.{field} is required"),
            );
        }
    }
    if request
        .get("marketplaceId")
        .and_then(Value::as_str)
        .is_none()
    {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "marketplaceId is required",
        );
    }
    let mut s = state.lock();
    let Some(order) = s.orders.iter_mut().find(|o| o.order_id == order_id) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Order {order_id} not found"),
        );
    };
    let items_known = detail["orderItems"].as_array().is_some_and(|items| {
        items
            .iter()
            .all(|i| i["orderItemId"] == order.order_item_id.as_str())
    });
    if !items_known {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "packageDetail.orderItems: unknown orderItemId for this order",
        );
    }
    if order.status == "CANCELLED" {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "The order is cancelled and cannot be shipped",
        );
    }
    order.status = "SHIPPED".into();
    order.last_updated = Utc::now();
    s.shipments
        .push(json!({ "orderId": order_id, "packageDetail": detail }));
    StatusCode::NO_CONTENT.into_response()
}

async fn sandbox_state(AxumState(state): S) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(state.snapshot()).unwrap_or_default(),
    )
}

/// `{"sku": "...", "quantity": 2, "unitPrice": "19.99"}`: places an order, answers its id.
async fn sandbox_order(AxumState(state): S, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(sku), Some(quantity)) = (
        request.get("sku").and_then(Value::as_str),
        request
            .get("quantity")
            .and_then(Value::as_i64)
            .filter(|q| *q > 0),
    ) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "sku (text) and quantity (positive integer) are required"}),
        );
    };
    let price = request
        .get("unitPrice")
        .and_then(Value::as_str)
        .unwrap_or("10.00");
    let id = state.place_order(sku, quantity, price);
    json_response(StatusCode::CREATED, json!({ "orderId": id }))
}

/// `{"sku": "...", "code": "8541", "message": "..."}`: Amazon refuses this SKU from now on, in patches and feed
/// messages, with this issue.
async fn sandbox_refusal(AxumState(state): S, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(sku), Some(message)) = (
        request.get("sku").and_then(Value::as_str),
        request.get("message").and_then(Value::as_str),
    ) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "sku and message (text) are required"}),
        );
    };
    let code = request
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("8541");
    state.refuse_sku(sku, code, message);
    StatusCode::NO_CONTENT.into_response()
}

async fn get_order(
    AxumState(state): S,
    Path(order_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getOrder";
    let path = format!("/orders/2026-01-01/orders/{order_id}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.lock().orders.iter().find(|o| o.order_id == order_id) {
            // getOrder names no marketplace: the order is rendered in the sandbox's US marketplace.
            Some(order) => json_response(
                StatusCode::OK,
                json!({ "order": order_json(order, "ATVPDKIKX0DER") }),
            ),
            None => errors(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Order {order_id} not found"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, query, b"", response)
}
