//! The demo ERP's REST API for sales orders.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::db::{Db, NewLine, NewOrder, Posted};

#[derive(Clone)]
struct Api {
    db: Arc<Db>,
    token: String,
    load: Arc<Load>,
    delay: Duration,
    /// Sales-order answers still to lose (stored, then answered 503).
    lose: Arc<AtomicUsize>,
}

/// Posts being answered now, and the most there ever were at once: how hard a client pushes the ERP.
#[derive(Debug, Default)]
pub struct Load {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Load {
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Counts a post in, and holds it for the API's answer delay.
    async fn enter(self: &Arc<Self>, delay: Duration) -> InFlight {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let in_flight = InFlight(self.clone());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        in_flight
    }
}

/// One post in flight; counted out when dropped, however the handler ends.
struct InFlight(Arc<Load>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn router(
    db: Arc<Db>,
    token: String,
    load: Arc<Load>,
    delay: Duration,
    lose_answers: usize,
) -> Router {
    Router::new()
        .route("/sales-orders", post(post_order).get(list_orders))
        .route("/returns", post(post_return))
        .route("/settlements", post(post_settlement))
        .with_state(Api {
            db,
            token,
            load,
            delay,
            lose: Arc::new(AtomicUsize::new(lose_answers)),
        })
}

type Answer = (StatusCode, Json<Value>);

fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    (status, Json(json!({ "error": message.into() })))
}

fn authorised(api: &Api, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == api.token)
}

async fn list_orders(State(api): State<Api>, headers: HeaderMap) -> Answer {
    if !authorised(&api, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    match api.db.sales_orders().await {
        Ok(orders) => (StatusCode::OK, Json(json!({ "salesOrders": orders }))),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn post_order(State(api): State<Api>, headers: HeaderMap, body: Json<Value>) -> Answer {
    let _in_flight = api.load.enter(api.delay).await;
    if !authorised(&api, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "header Idempotency-Key is required",
        );
    };
    let order = match parse_order(key, body.0) {
        Ok(order) => order,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    let skus: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
    match api.db.unknown_skus(&skus).await {
        Ok(unknown) if !unknown.is_empty() => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("lines[].sku: unknown items {unknown:?}"),
            );
        }
        Ok(_) => {}
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
    let posted = api.db.post_order(&order).await;
    let lost = posted.is_ok()
        && api
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if lost {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the sales order was stored but this answer is lost (demo fault)",
        );
    }
    match posted {
        Ok(Posted::Created(number)) => (StatusCode::CREATED, Json(json!({ "number": number }))),
        Ok(Posted::Existing(number)) => (StatusCode::OK, Json(json!({ "number": number }))),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn post_return(state: State<Api>, headers: HeaderMap, body: Json<Value>) -> Answer {
    post_document(state, headers, body, "return", "returnId").await
}

async fn post_settlement(state: State<Api>, headers: HeaderMap, body: Json<Value>) -> Answer {
    post_document(state, headers, body, "settlement", "settlementId").await
}

/// Stores a canonical return or settlement once per idempotency key.
async fn post_document(
    State(api): State<Api>,
    headers: HeaderMap,
    Json(body): Json<Value>,
    kind: &str,
    id_field: &str,
) -> Answer {
    let _in_flight = api.load.enter(api.delay).await;
    if !authorised(&api, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "header Idempotency-Key is required",
        );
    };
    let text = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{field}: required text"),
                )
            })
    };
    let (marketplace, document_id) = match (text("marketplace"), text(id_field)) {
        (Ok(m), Ok(d)) => (m, d),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match api
        .db
        .post_document(kind, key, &marketplace, &document_id, &body)
        .await
    {
        Ok(Posted::Created(id)) => (StatusCode::CREATED, Json(json!({ "id": id }))),
        Ok(Posted::Existing(id)) => (StatusCode::OK, Json(json!({ "id": id }))),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// The fields of a canonical order the ERP needs, each missing or malformed one named.
fn parse_order(key: &str, body: Value) -> Result<NewOrder, String> {
    let text = |field: &str| -> Result<String, String> {
        body.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{field}: required text"))
    };
    let allocation = body
        .pointer("/enrichment/allocation")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let lines = body
        .get("lines")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("lines: at least one line is required")?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line_id = line
                .get("lineId")
                .and_then(Value::as_str)
                .ok_or(format!("lines[{i}].lineId: required text"))?;
            let sku = line
                .get("sku")
                .and_then(Value::as_str)
                .ok_or(format!("lines[{i}].sku: required text"))?;
            let quantity = line
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|q| *q > 0)
                .ok_or(format!(
                    "lines[{i}].quantity: a positive integer is required (value: {})",
                    line.get("quantity").unwrap_or(&Value::Null)
                ))?;
            Ok(NewLine {
                line_id: line_id.to_string(),
                sku: sku.to_string(),
                quantity,
                location: allocation
                    .get(line_id)
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(NewOrder {
        idempotency_key: key.to_string(),
        marketplace: text("marketplace")?,
        channel_order_id: text("orderId")?,
        correlation_id: text("correlationId")?,
        lines,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_orders_name_the_field() {
        let order = json!({"marketplace": "m", "orderId": "1", "correlationId": "m:1",
            "lines": [{"lineId": "1", "sku": "A", "quantity": 0}]});
        assert_eq!(
            parse_order("k", order).unwrap_err(),
            "lines[0].quantity: a positive integer is required (value: 0)"
        );
        assert_eq!(
            parse_order(
                "k",
                json!({"lines": [{"lineId": "1", "sku": "A", "quantity": 1}]})
            )
            .unwrap_err(),
            "marketplace: required text"
        );
    }
}
