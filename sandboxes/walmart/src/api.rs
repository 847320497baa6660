//! The sandbox's HTTP routes: the Walmart Marketplace operations and the sandbox's own controls.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use chrono::Utc;
use rust_decimal::Decimal;
use sandbox::{RecordedCall, body_value};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::{ItemPrice, Shared};

type S = AxumState<Arc<Shared>>;

pub fn router(state: Arc<Shared>) -> Router {
    Router::new()
        .route("/v3/token", post(token))
        .route("/v3/inventory", put(update_inventory).get(get_inventory))
        .route("/v3/price", put(update_price))
        .route("/v3/orders", get(crate::orders::get_all))
        .route("/v3/orders/{id}", get(crate::orders::get_one))
        .route(
            "/v3/orders/{id}/acknowledge",
            post(crate::orders::acknowledge),
        )
        .route("/v3/orders/{id}/cancel", post(crate::orders::cancel))
        .route("/v3/orders/{id}/shipping", post(crate::orders::shipping))
        .route("/v3/feeds", post(crate::feeds::submit))
        .route("/v3/feeds/{id}", get(crate::feeds::status))
        .route("/v3/returns", get(crate::reports::get_returns))
        .route(
            "/v3/report/reconreport/availableReconFiles",
            get(crate::reports::available_recon),
        )
        .route(
            "/v3/report/reconreport/reconFileJson",
            get(crate::reports::recon_json),
        )
        .route("/_sandbox/state", get(sandbox_state))
        .route("/_sandbox/items", post(sandbox_items))
        .route("/_sandbox/orders", post(crate::orders::sandbox_orders))
        .route("/_sandbox/returns", post(crate::reports::sandbox_returns))
        .route("/_sandbox/recon", post(crate::reports::sandbox_recon))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            note_correlation,
        ))
        .with_state(state)
}

/// Notes every API call's `WM_QOS.CORRELATION_ID`: one used twice is a deviation (each call needs its own).
async fn note_correlation(
    AxumState(state): S,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/_sandbox/") {
        state.seen_ids.note(
            &state.controls.conformance,
            sandbox::CallRef {
                operation: "any",
                method: request.method().as_str(),
                path,
                query: request.uri().query(),
            },
            request.headers(),
        );
    }
    next.run(request).await
}

/// Walmart's error body (`errors[]` with code, field, description, info, severity, category).
pub fn errors(status: StatusCode, code: &str, field: &str, description: &str) -> Response {
    let category = if status.is_server_error() {
        "SYSTEM"
    } else {
        "REQUEST"
    };
    json_response(
        status,
        json!({ "errors": [{
            "code": code,
            "field": field,
            "description": description,
            "info": description,
            "severity": "ERROR",
            "category": category,
        }]}),
    )
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
}

/// The call's `WM_QOS.CORRELATION_ID` (checked present by [`gate`]).
pub(crate) fn correlation(headers: &HeaderMap) -> &str {
    header(headers, "WM_QOS.CORRELATION_ID").unwrap_or_default()
}

/// The headers every call carries (the token call included): `WM_SVC.NAME` and `WM_QOS.CORRELATION_ID`.
fn missing_service_headers(headers: &HeaderMap) -> Option<Response> {
    for name in ["WM_SVC.NAME", "WM_QOS.CORRELATION_ID"] {
        if header(headers, name).is_none() {
            return Some(errors(
                StatusCode::BAD_REQUEST,
                "MISSING_HEADER.GMP_GATEWAY_API",
                name,
                &format!("Required header {name} is missing"),
            ));
        }
    }
    None
}

/// What every API operation does first: faults, the required headers, the access token, the operation's
/// bucket. `Some` is the answer to give instead of doing the work.
pub(crate) async fn gate(state: &Shared, operation: &str, headers: &HeaderMap) -> Option<Response> {
    if let Some(response) = state.controls.faults.apply(operation).await {
        return Some(response);
    }
    if let Some(response) = missing_service_headers(headers) {
        return Some(response);
    }
    let token = header(headers, "WM_SEC.ACCESS_TOKEN").unwrap_or_default();
    if !state.token_valid(token) {
        return Some(errors(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED.GMP_GATEWAY_API",
            "WM_SEC.ACCESS_TOKEN",
            "Unauthorized: the access token is missing, invalid or expired",
        ));
    }
    if let Err(retry_after) = state.allow(operation) {
        return Some(throttled(retry_after));
    }
    None
}

/// Walmart's answer to a call over its limit: 429, `REQUEST_THRESHOLD_VIOLATED`, and `Retry-After`.
fn throttled(retry_after_seconds: u64) -> Response {
    let mut response = errors(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API",
        "",
        "Request threshold violated",
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

pub(crate) fn record(
    state: &Shared,
    operation: &str,
    method: Method,
    path: &str,
    query: Option<String>,
    body: &[u8],
    response: Response,
) -> Response {
    state.controls.recorder.record(RecordedCall {
        operation: operation.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        query,
        body: body_value(body),
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub(crate) fn form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn query_sku(query: &Option<String>) -> Option<String> {
    form(query.as_deref().unwrap_or_default())
        .remove("sku")
        .filter(|s| !s.is_empty())
}

/// `POST /v3/token`: client credentials in a Basic `Authorization` header, `grant_type=client_credentials`.
async fn token(AxumState(state): S, headers: HeaderMap, body: Bytes) -> Response {
    const OP: &str = "getToken";
    let response = match state.controls.faults.apply(OP).await {
        Some(response) => response,
        None => match missing_service_headers(&headers) {
            Some(response) => response,
            None => issue(&state, &headers, &body),
        },
    };
    // The Authorization header carries the secret and is never recorded; the body holds only the grant type.
    record(&state, OP, Method::POST, "/v3/token", None, &body, response)
}

fn issue(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let params = form(&String::from_utf8_lossy(body));
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAM.GMP_GATEWAY_API",
            "grant_type",
            "grant_type must be client_credentials",
        );
    }
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        state.credentials.client_id, state.credentials.client_secret
    ));
    let given = header(headers, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .unwrap_or_default();
    if given != expected {
        return errors(
            StatusCode::UNAUTHORIZED,
            "INVALID_CLIENT.GMP_GATEWAY_API",
            "Authorization",
            "Client authentication failed: invalid client id or secret",
        );
    }
    json_response(
        StatusCode::OK,
        json!({
            "access_token": state.issue_token(),
            "token_type": "Bearer",
            "expires_in": state.credentials.token_seconds,
        }),
    )
}

#[derive(Deserialize)]
struct InventoryBody {
    sku: String,
    quantity: Quantity,
}

#[derive(Deserialize)]
struct Quantity {
    unit: String,
    amount: Value,
}

/// `PUT /v3/inventory?sku=...`: `{"sku", "quantity": {"unit": "EACH", "amount"}}`.
async fn update_inventory(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const OP: &str = "updateInventoryForAnItem";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => apply_inventory(&state, &query, &body, correlation(&headers)),
    };
    record(
        &state,
        OP,
        Method::PUT,
        "/v3/inventory",
        query,
        &body,
        response,
    )
}

fn apply_inventory(
    state: &Shared,
    query: &Option<String>,
    body: &[u8],
    correlation_id: &str,
) -> Response {
    let Some(sku) = query_sku(query) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAM.GMP_INVENTORY_API",
            "sku",
            "Required query parameter sku is missing",
        );
    };
    let request: InventoryBody = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            return errors(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
                "inventory",
                &format!("Request body is not a valid inventory: {e}"),
            );
        }
    };
    if request.sku != sku {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
            "sku",
            &format!(
                "sku {} in the body does not match sku {sku} of the query",
                request.sku
            ),
        );
    }
    if request.quantity.unit != "EACH" {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
            "quantity.unit",
            &format!("quantity.unit {} is not EACH", request.quantity.unit),
        );
    }
    let Some(amount) = request.quantity.amount.as_i64().filter(|a| *a >= 0) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
            "quantity.amount",
            &format!(
                "quantity.amount {} is not a whole number of units",
                request.quantity.amount
            ),
        );
    };
    if !state.set_quantity(&sku, amount, correlation_id) {
        return errors(
            StatusCode::NOT_FOUND,
            "CONTENT_NOT_FOUND.GMP_INVENTORY_API",
            "sku",
            &format!("Item not found for sku {sku}"),
        );
    }
    json_response(
        StatusCode::OK,
        json!({"sku": sku, "quantity": {"unit": "EACH", "amount": amount}}),
    )
}

/// `GET /v3/inventory?sku=...`.
async fn get_inventory(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getInventory";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match query_sku(&query).and_then(|sku| state.item(&sku).map(|i| (sku, i))) {
            Some((sku, item)) => json_response(
                StatusCode::OK,
                json!({"sku": sku, "quantity": {"unit": "EACH", "amount": item.quantity}}),
            ),
            None => errors(
                StatusCode::NOT_FOUND,
                "CONTENT_NOT_FOUND.GMP_INVENTORY_API",
                "sku",
                "Item not found",
            ),
        },
    };
    record(
        &state,
        OP,
        Method::GET,
        "/v3/inventory",
        query,
        b"",
        response,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceBody {
    sku: String,
    pricing: Vec<Pricing>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pricing {
    current_price_type: String,
    current_price: Amount,
}

#[derive(Deserialize)]
struct Amount {
    currency: String,
    amount: Value,
}

/// `PUT /v3/price`: `{"sku", "pricing": [{"currentPriceType": "BASE", "currentPrice": {currency, amount}}]}`.
async fn update_price(AxumState(state): S, headers: HeaderMap, body: Bytes) -> Response {
    const OP: &str = "updatePrice";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => apply_price(&state, &body, correlation(&headers)),
    };
    record(&state, OP, Method::PUT, "/v3/price", None, &body, response)
}

fn apply_price(state: &Shared, body: &[u8], correlation_id: &str) -> Response {
    let bad = |field: &str, description: String| {
        errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_CONTENT.GMP_PRICE_API",
            field,
            &description,
        )
    };
    let request: PriceBody = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return bad("price", format!("Request body is not a valid price: {e}")),
    };
    let Some(base) = request
        .pricing
        .iter()
        .find(|p| p.current_price_type == "BASE")
    else {
        return bad(
            "pricing.currentPriceType",
            "pricing has no BASE currentPrice".into(),
        );
    };
    if !matches!(base.current_price.currency.as_str(), "USD" | "CAD") {
        return bad(
            "pricing.currentPrice.currency",
            format!(
                "currency {} is not one of USD, CAD",
                base.current_price.currency
            ),
        );
    }
    // The amount is a JSON number; its text is parsed exactly, never through a float.
    let Some(amount) = base
        .current_price
        .amount
        .as_number()
        .and_then(|n| n.to_string().parse::<Decimal>().ok())
        .filter(|a| *a > Decimal::ZERO)
    else {
        return bad(
            "pricing.currentPrice.amount",
            format!(
                "amount {} is not a positive price",
                base.current_price.amount
            ),
        );
    };
    let price = ItemPrice {
        amount,
        currency: base.current_price.currency.clone(),
    };
    if !state.set_price(&request.sku, price, correlation_id) {
        return errors(
            StatusCode::NOT_FOUND,
            "CONTENT_NOT_FOUND.GMP_PRICE_API",
            "sku",
            &format!("Item not found for sku {}", request.sku),
        );
    }
    json_response(
        StatusCode::OK,
        json!({
            "statusCode": 200,
            "mart": "WALMART_US",
            "sku": request.sku,
            "message": "Thank you. Your price has been updated. Please allow up to five minutes for this change to be reflected on the site.",
        }),
    )
}

async fn sandbox_state(AxumState(state): S) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_value(state.snapshot()).unwrap_or(Value::Null),
    )
}

#[derive(Deserialize)]
struct SeedItems {
    skus: Vec<String>,
}

/// `POST /_sandbox/items {"skus": [...]}`: puts items in the seller's catalogue (quantity 0, no price).
async fn sandbox_items(AxumState(state): S, axum::Json(seed): axum::Json<SeedItems>) -> StatusCode {
    state.seed_items(seed.skus.iter().map(String::as_str));
    StatusCode::NO_CONTENT
}
