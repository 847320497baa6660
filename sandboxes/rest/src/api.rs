//! The portal's HTTP routes. The API paths come from the [`crate::Portal`], so they are matched in a fallback
//! handler rather than declared as routes; the sandbox's own controls are routes under `/_sandbox`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use sandbox::{RecordedCall, body_value};
use serde_json::{Value, json};

use crate::Shared;
use crate::push::PushRequest;
use crate::state::check_item;

type S = AxumState<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/state", get(sandbox_state))
        .route("/_sandbox/orders", post(sandbox_order))
        .route("/_sandbox/orders/generate", post(sandbox_generate))
        .route("/_sandbox/push", post(sandbox_push))
        .fallback(dispatch)
        .with_state(shared)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, json!({ "error": message.into() }))
}

async fn dispatch(
    AxumState(shared): S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let portal = &shared.portal;
    let (operation, response) = if method == Method::GET && path == portal.orders_path {
        let response = match gate(&shared, "orders", &headers).await {
            Some(refused) => refused,
            None => orders_page(&shared, uri.query()),
        };
        ("orders".to_string(), response)
    } else if let Some(endpoint) = portal
        .endpoints
        .iter()
        .find(|e| e.path == path && e.method == method)
    {
        let response = match gate(&shared, &endpoint.name, &headers).await {
            Some(refused) => refused,
            None => batch(&shared, &endpoint.name, &body),
        };
        (endpoint.name.clone(), response)
    } else if portal.endpoints.iter().any(|e| e.path == path) || path == portal.orders_path {
        (
            "unknown".to_string(),
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on {path}"),
            ),
        )
    } else {
        (
            "unknown".to_string(),
            error(StatusCode::NOT_FOUND, format!("no endpoint {path}")),
        )
    };
    shared.controls.recorder.record(RecordedCall {
        operation,
        method: method.to_string(),
        path,
        query: uri.query().map(str::to_string),
        body: body_value(&body),
        status: response.status().as_u16(),
        at: Utc::now(),
    });
    response
}

/// What every API call does first: faults, the credential header, the endpoint's bucket. `Some` is the answer
/// to give instead of doing the work.
async fn gate(shared: &Shared, operation: &str, headers: &HeaderMap) -> Option<Response> {
    if let Some(response) = shared.controls.faults.apply(operation).await {
        return Some(response);
    }
    if let Some((header, expected)) = &shared.portal.auth {
        let sent = headers.get(header.as_str()).and_then(|v| v.to_str().ok());
        if sent != Some(expected.as_str()) {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                format!("missing or invalid credential in header {header}"),
            ));
        }
    }
    if let Err(seconds) = shared.allow(operation) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit exceeded, retry later",
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert("retry-after", value);
        }
        return Some(response);
    }
    None
}

fn batch(shared: &Shared, endpoint: &str, body: &[u8]) -> Response {
    let body: Value = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body.items: missing or not an array",
        );
    };
    let max = shared.portal.max_batch;
    if items.len() > max {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body.items: {} items, at most {max} per request",
                items.len()
            ),
        );
    }
    let mut rejected = Vec::new();
    let mut accepted = 0;
    let mut state = shared.lock();
    for (index, item) in items.iter().enumerate() {
        match check_item(endpoint, item) {
            Ok((key, fields)) => {
                accepted += 1;
                state
                    .items
                    .entry(endpoint.to_string())
                    .or_default()
                    .insert(key, fields);
            }
            Err(message) => {
                rejected.push(json!({"index": index, "status": 422, "message": message}))
            }
        }
    }
    *state.batches.entry(endpoint.to_string()).or_default() += 1;
    json_response(
        StatusCode::OK,
        json!({"accepted": accepted, "rejected": rejected}),
    )
}

fn orders_page(shared: &Shared, query: Option<&str>) -> Response {
    let param = &shared.portal.cursor_param;
    let cursor = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k == param)
        .map(|(_, v)| v.to_string());
    let start = match cursor.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{param}: not a cursor this portal issued (value: {:?})",
                    cursor.unwrap_or_default()
                ),
            );
        }
    };
    let state = shared.lock();
    let end = state
        .orders
        .len()
        .min(start.saturating_add(shared.portal.page_size));
    let page: Vec<Value> = state
        .orders
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        json!({
            "orders": page,
            "nextCursor": end.max(start).to_string(),
            "more": end < state.orders.len(),
        }),
    )
}

async fn sandbox_state(AxumState(shared): S) -> Response {
    json_response(StatusCode::OK, json!(shared.snapshot()))
}

#[derive(serde::Deserialize)]
struct OrderRequest {
    /// (article number, quantity, net unit price as a decimal string).
    lines: Vec<(String, i64, String)>,
}

/// `POST /_sandbox/orders {"lines": [["TW-1001", 2, "9.90"]]}`: a buyer places an order.
async fn sandbox_order(
    AxumState(shared): S,
    axum::Json(request): axum::Json<OrderRequest>,
) -> Response {
    let lines: Vec<(&str, i64, &str)> = request
        .lines
        .iter()
        .map(|(a, q, p)| (a.as_str(), *q, p.as_str()))
        .collect();
    let order_id = shared.place_order(&lines);
    json_response(StatusCode::CREATED, json!({ "orderId": order_id }))
}

#[derive(serde::Deserialize)]
struct GenerateRequest {
    count: usize,
    skus: Vec<String>,
}

/// `POST /_sandbox/orders/generate {"count": 50, "skus": ["TW-1001", "TW-1002"]}`: buyers place random orders.
async fn sandbox_generate(
    AxumState(shared): S,
    axum::Json(request): axum::Json<GenerateRequest>,
) -> Response {
    let skus: Vec<&str> = request.skus.iter().map(String::as_str).collect();
    let ids = shared.generate_orders(request.count.min(10_000), &skus);
    json_response(StatusCode::CREATED, json!({ "orderIds": ids }))
}

/// `POST /_sandbox/push {"url": ..., ...}`: pushes an order to a webhook (see [`PushRequest`]).
async fn sandbox_push(
    AxumState(shared): S,
    axum::Json(request): axum::Json<PushRequest>,
) -> Response {
    let push = crate::push::push(&shared, request).await;
    json_response(StatusCode::OK, json!(push))
}
