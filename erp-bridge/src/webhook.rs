//! The signed webhook source: the ERP POSTs one canonical record (`{"type": ..., "data": {...}}`) per request
//! to `spec.source.webhook.path`, signed with HMAC-SHA256 over `<timestamp>.<body>`
//! ([`adapter_runtime::signature`]: headers `X-Tradewind-Timestamp` and `X-Tradewind-Signature`).
//!
//! Answers: `202` only once JetStream acknowledged the publish, so an ERP that got a 2xx never has to send
//! again; `401` for a missing or wrong signature, or a timestamp further than `maxClockSkew` from now (a
//! captured request cannot be replayed later); `400` naming the field for a body that is not a record an ERP
//! sends; `413` for a body larger than a JetStream message may be; `503` when JetStream did not take it (the ERP sends it again).
//!
//! Idempotent: the message id is `<erp>:webhook:<X-Tradewind-Event-Id>` when the ERP sends that header, else
//! `<erp>:webhook:sha256:<hex of the body>`, so a retried request (same body, new timestamp and signature) is
//! dropped by JetStream's de-duplication.

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::jetstream::publish_event;
use adapter_runtime::metrics::{Metrics, Outcome};
use adapter_runtime::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use adapter_runtime::topology::{MAX_MESSAGE_BYTES, Namespace};
use async_nats::jetstream;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::ingest::{Routed, parse_record, route};

/// Optional header: the ERP's own id of the event, used for de-duplication instead of the body's hash.
pub const EVENT_ID_HEADER: &str = "x-tradewind-event-id";
/// W3C trace context the ERP may send along.
const TRACEPARENT_HEADER: &str = "traceparent";

/// The webhook of one `ErpConnection`.
pub struct Webhook {
    pub namespace: Namespace,
    pub namespace_name: String,
    pub erp: String,
    pub key: Vec<u8>,
    pub tolerance: Duration,
    pub path: String,
    pub js: jetstream::Context,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Webhook {
    // The key is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("erp", &self.erp)
            .field("path", &self.path)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The route, to merge into the bridge's HTTP server.
    pub fn router(self: Arc<Self>) -> Router {
        let path = self.path.clone();
        Router::new().route(&path, post(receive)).with_state(self)
    }

    /// What a request is: a verified, routed record, or the answer refusing it. Pure but for `now`.
    pub fn check(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Routed, (StatusCode, String)> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verify(
            &self.key,
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            body,
            now,
            self.tolerance,
        )
        .map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
        // JetStream refuses larger messages; sending such a body again could never succeed.
        let limit = usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX);
        if body.len() > limit {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body: {} bytes; at most {limit}", body.len()),
            ));
        }
        let bad = |message: String| (StatusCode::BAD_REQUEST, message);
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("body: not JSON: {e}")))?;
        let record = parse_record(&value).map_err(bad)?;
        let id = match header(EVENT_ID_HEADER) {
            Some(id) => format!(
                "{}:webhook:{}",
                self.erp,
                checked_event_id(id).map_err(bad)?
            ),
            None => format!(
                "{}:webhook:sha256:{}",
                self.erp,
                hex::encode(Sha256::digest(body))
            ),
        };
        let traceparent = header(TRACEPARENT_HEADER).map(str::to_string);
        route(
            &self.namespace,
            &self.namespace_name,
            &self.erp,
            id,
            record,
            traceparent,
        )
        .map_err(bad)
    }
}

/// The route while the connection is suspended (`spec.suspend`): every event is answered `503`, so the ERP
/// keeps it and sends it again later.
pub fn suspended(path: &str) -> Router {
    Router::new().route(
        path,
        post(|| async {
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the ERP connection is suspended (spec.suspend); send the event again later" }),
            )
        }),
    )
}

/// The ERP's event id, if usable as part of a message id: 1 to 128 visible ASCII characters.
fn checked_event_id(id: &str) -> Result<&str, String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "header {EVENT_ID_HEADER}: 1 to 128 visible ASCII characters are required (value: {:?})",
            id.chars().take(40).collect::<String>()
        ));
    }
    Ok(id)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn receive(State(webhook): State<Arc<Webhook>>, headers: HeaderMap, body: Bytes) -> Response {
    let routed = match webhook.check(&headers, &body, Utc::now()) {
        Ok(routed) => routed,
        Err((status, error)) => {
            warn!(erp = %webhook.erp, status = status.as_u16(), error = %error, "a webhook event was refused");
            return answer(status, json!({ "error": error }));
        }
    };
    match publish_event(
        &webhook.js,
        &routed.subject,
        &routed.event,
        Some(&routed.key),
    )
    .await
    {
        Ok(outcome) => {
            let counted = if outcome.duplicate {
                Outcome::Coalesced
            } else {
                Outcome::Out
            };
            let label = format!("erp:{}", webhook.erp);
            webhook
                .metrics
                .count(&label, routed.flow.as_str(), counted, 1);
            answer(
                StatusCode::ACCEPTED,
                json!({ "id": routed.event.id, "duplicate": outcome.duplicate }),
            )
        }
        Err(e) => {
            warn!(erp = %webhook.erp, error = %e, "a webhook event could not be stored");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the event could not be stored; send it again later" }),
            )
        }
    }
}
