//! The demo ERP's REST API: sales orders created, updated and cancelled as the ERP contract of docs/erp.md
//! says (once per idempotency key, and nothing else), returns and settlements; every write request recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{patch, post};
use serde_json::{Value, json};

use crate::db::{ChangeKind, Changed, Db, NewLine, NewOrder, OrderChange, Posted, RequestRow};

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
        .route(
            "/sales-orders/{marketplace}/{order_id}",
            patch(update_order),
        )
        .route(
            "/sales-orders/{marketplace}/{order_id}/cancellation",
            post(cancel_order),
        )
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

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_string)
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

/// One write request: checked (token, key, JSON body), handled, and recorded with what it did.
struct Write {
    method: &'static str,
    path: String,
    key: Option<String>,
    body: Option<Value>,
    /// The channel order named by the path (marketplace, order id).
    order: Option<(String, String)>,
}

impl Write {
    /// The request's key and body, or the answer refusing it.
    fn check(&self, api: &Api, headers: &HeaderMap) -> Result<(String, Value), (Answer, String)> {
        if !authorised(api, headers) {
            let answer = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            return Err((answer, "refused: unauthorised".into()));
        }
        let Some(key) = self.key.clone() else {
            let answer = error(
                StatusCode::BAD_REQUEST,
                "header Idempotency-Key is required",
            );
            return Err((answer, "refused: no idempotency key".into()));
        };
        let Some(body) = self.body.clone() else {
            let answer = error(StatusCode::BAD_REQUEST, "the body is not JSON");
            return Err((answer, "refused: not JSON".into()));
        };
        Ok((key, body))
    }

    /// Records the request with `outcome` and gives the answer.
    async fn answer(self, api: &Api, (answer, outcome): (Answer, String)) -> Answer {
        let row = RequestRow {
            method: self.method.into(),
            path: self.path,
            idempotency_key: self.key,
            body: self.body,
            status: answer.0.as_u16(),
            outcome,
        };
        if let Err(e) = api.db.record_request(&row).await {
            tracing::warn!(error = %e, "demo ERP: the request is not recorded");
        }
        answer
    }
}

fn write(method: &'static str, path: String, headers: &HeaderMap, body: &Bytes) -> Write {
    Write {
        method,
        path,
        key: idempotency_key(headers),
        body: serde_json::from_slice(body).ok(),
        order: None,
    }
}

/// The outcome of a refusal: `refused: <message>`.
fn refused(status: StatusCode, message: impl Into<String>) -> (Answer, String) {
    let message = message.into();
    (
        error(status, message.clone()),
        format!("refused: {message}"),
    )
}

async fn post_order(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Answer {
    let request = write("POST", "/sales-orders".into(), &headers, &body);
    handled(api, request, headers, |api, request, headers| {
        Box::pin(async move {
            let _in_flight = api.load.enter(api.delay).await;
            create(api, request, headers).await
        })
    })
    .await
}

/// The work of one write, boxed for [`handled`].
type Work = for<'a> fn(
    &'a Api,
    &'a Write,
    &'a HeaderMap,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = (Answer, String)> + Send + 'a>,
>;

/// Runs a write to its end in a task of its own, and records it: a client that goes away (a bridge killed
/// mid-request) does not cut a committed write from its record, as a real ERP finishes the transaction it
/// began.
async fn handled(api: Api, request: Write, headers: HeaderMap, work: Work) -> Answer {
    let task = tokio::spawn(async move {
        let result = work(&api, &request, &headers).await;
        request.answer(&api, result).await
    });
    task.await.unwrap_or_else(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request failed: {e}"),
        )
    })
}

async fn create(api: &Api, request: &Write, headers: &HeaderMap) -> (Answer, String) {
    let (key, body) = match request.check(api, headers) {
        Ok(checked) => checked,
        Err(refusal) => return refusal,
    };
    let order = match parse_order(&key, body) {
        Ok(order) => order,
        Err(message) => return refused(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    if let Some(refusal) = unknown_items(api, &order.lines).await {
        return refusal;
    }
    let posted = api.db.post_order(&order).await;
    let lost = posted.is_ok()
        && api
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    match posted {
        Ok(posted) if lost => (
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the sales order was stored but this answer is lost (demo fault)",
            ),
            format!("{} (answer lost)", posted_outcome(&posted)),
        ),
        Ok(Posted::Created(number)) => (
            (StatusCode::CREATED, Json(json!({ "number": number }))),
            format!("created {number}"),
        ),
        Ok(Posted::Existing(number)) => (
            (StatusCode::OK, Json(json!({ "number": number }))),
            format!("repeated {number}"),
        ),
        Err(e) => (
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            format!("failed: {e}"),
        ),
    }
}

fn posted_outcome(posted: &Posted) -> String {
    match posted {
        Posted::Created(number) => format!("created {number}"),
        Posted::Existing(number) => format!("repeated {number}"),
    }
}

/// A 422 naming the lines' SKUs the ERP does not know, if any.
async fn unknown_items(api: &Api, lines: &[NewLine]) -> Option<(Answer, String)> {
    let skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
    match api.db.unknown_skus(&skus).await {
        Ok(unknown) if unknown.is_empty() => None,
        Ok(unknown) => Some(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("lines[].sku: unknown items {unknown:?}"),
        )),
        Err(e) => Some((
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            format!("failed: {e}"),
        )),
    }
}

/// `PATCH /sales-orders/{marketplace}/{order id}` with `{"revision", "changed", "order"}`.
async fn update_order(
    State(api): State<Api>,
    AxumPath(order): AxumPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    order_change(api, ChangeKind::Update, order, headers, body).await
}

/// `POST /sales-orders/{marketplace}/{order id}/cancellation` with a canonical order cancellation.
async fn cancel_order(
    State(api): State<Api>,
    AxumPath(order): AxumPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    order_change(api, ChangeKind::Cancel, order, headers, body).await
}

async fn order_change(
    api: Api,
    kind: ChangeKind,
    (marketplace, order_id): (String, String),
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (method, path) = match kind {
        ChangeKind::Update => ("PATCH", format!("/sales-orders/{marketplace}/{order_id}")),
        ChangeKind::Cancel => (
            "POST",
            format!("/sales-orders/{marketplace}/{order_id}/cancellation"),
        ),
    };
    let request = Write {
        order: Some((marketplace, order_id)),
        ..write(method, path, &headers, &body)
    };
    let work: Work = match kind {
        ChangeKind::Update => {
            |api, request, headers| Box::pin(change(api, request, headers, ChangeKind::Update))
        }
        ChangeKind::Cancel => {
            |api, request, headers| Box::pin(change(api, request, headers, ChangeKind::Cancel))
        }
    };
    handled(api, request, headers, work).await
}

async fn change(
    api: &Api,
    request: &Write,
    headers: &HeaderMap,
    kind: ChangeKind,
) -> (Answer, String) {
    let _in_flight = api.load.enter(api.delay).await;
    let Some((marketplace, order_id)) = &request.order else {
        return refused(StatusCode::NOT_FOUND, "no order in the path");
    };
    let (key, body) = match request.check(api, headers) {
        Ok(checked) => checked,
        Err(refusal) => return refusal,
    };
    let parsed = match kind {
        ChangeKind::Update => parse_update(&key, &body, marketplace, order_id),
        ChangeKind::Cancel => parse_cancellation(&body, marketplace, order_id),
    };
    let (lines, cancelled_lines) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return refused(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    if let Some(refusal) = unknown_items(api, &lines).await {
        return refusal;
    }
    let order_change = OrderChange {
        idempotency_key: key,
        kind,
        marketplace: marketplace.clone(),
        channel_order_id: order_id.clone(),
        lines,
        cancelled_lines,
        body,
    };
    match api.db.change_order(&order_change).await {
        Ok(Changed::Applied { number, status }) => (
            (
                StatusCode::OK,
                Json(json!({ "number": number, "status": status })),
            ),
            format!(
                "{} {number}",
                match kind {
                    ChangeKind::Update => "updated",
                    ChangeKind::Cancel => "cancelled",
                }
            ),
        ),
        Ok(Changed::Repeated { number, status }) => (
            (
                StatusCode::OK,
                Json(json!({ "number": number, "status": status })),
            ),
            format!("repeated {number}"),
        ),
        Ok(Changed::Pending) => (
            (StatusCode::ACCEPTED, Json(json!({ "status": "pending" }))),
            "pending: no sales order yet".into(),
        ),
        Ok(Changed::UnknownOrder) => refused(
            StatusCode::NOT_FOUND,
            format!("no sales order for {marketplace}:{order_id}"),
        ),
        Ok(Changed::Refused(why)) => refused(StatusCode::CONFLICT, why),
        Err(e) => (
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            format!("failed: {e}"),
        ),
    }
}

/// What a change names: an update's new lines, a cancellation's (line id, quantity) pairs.
type ChangeLines = (Vec<NewLine>, Vec<(String, i64)>);

/// An update's new lines, from its `order`, which must be the order of the path.
fn parse_update(
    key: &str,
    body: &Value,
    marketplace: &str,
    order_id: &str,
) -> Result<ChangeLines, String> {
    let order = body.get("order").ok_or("order: required")?;
    let parsed = parse_order(key, order.clone()).map_err(|e| format!("order.{e}"))?;
    if parsed.marketplace != marketplace || parsed.channel_order_id != order_id {
        return Err(format!(
            "order: {}:{} is not the order of the path {marketplace}:{order_id}",
            parsed.marketplace, parsed.channel_order_id
        ));
    }
    Ok((parsed.lines, Vec::new()))
}

/// A cancellation's lines and quantities (none: the whole order); it must be for the order of the path.
fn parse_cancellation(
    body: &Value,
    marketplace: &str,
    order_id: &str,
) -> Result<ChangeLines, String> {
    let text = |field: &str| body.get(field).and_then(Value::as_str).unwrap_or_default();
    if text("marketplace") != marketplace || text("orderId") != order_id {
        return Err(format!(
            "marketplace, orderId: {}:{} is not the order of the path {marketplace}:{order_id}",
            text("marketplace"),
            text("orderId")
        ));
    }
    let lines = body
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, line)| {
            let line_id = line
                .get("lineId")
                .and_then(Value::as_str)
                .ok_or(format!("lines[{i}].lineId: required text"))?;
            let quantity = line
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|q| *q > 0)
                .ok_or(format!(
                    "lines[{i}].quantity: a positive integer is required"
                ))?;
            Ok((line_id.to_string(), quantity))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((Vec::new(), lines))
}

async fn post_return(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Answer {
    let request = write("POST", "/returns".into(), &headers, &body);
    handled(api, request, headers, |api, request, headers| {
        Box::pin(post_document(api, request, headers, "return", "returnId"))
    })
    .await
}

async fn post_settlement(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Answer {
    let request = write("POST", "/settlements".into(), &headers, &body);
    handled(api, request, headers, |api, request, headers| {
        Box::pin(post_document(
            api,
            request,
            headers,
            "settlement",
            "settlementId",
        ))
    })
    .await
}

/// Stores a canonical return or settlement once per idempotency key.
async fn post_document(
    api: &Api,
    request: &Write,
    headers: &HeaderMap,
    kind: &str,
    id_field: &str,
) -> (Answer, String) {
    let _in_flight = api.load.enter(api.delay).await;
    let (key, body) = match request.check(api, headers) {
        Ok(checked) => checked,
        Err(refusal) => return refusal,
    };
    let text = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                refused(
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
        .post_document(kind, &key, &marketplace, &document_id, &body)
        .await
    {
        Ok(Posted::Created(id)) => (
            (StatusCode::CREATED, Json(json!({ "id": id }))),
            format!("created {id}"),
        ),
        Ok(Posted::Existing(id)) => (
            (StatusCode::OK, Json(json!({ "id": id }))),
            format!("repeated {id}"),
        ),
        Err(e) => (
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            format!("failed: {e}"),
        ),
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
