//! Orders pushed by the portal: `POST /hooks/orders` on the adapter's HTTP server, one portal order per request,
//! signed with HMAC-SHA256 over `<timestamp>.<body>` ([`channel_api::signature`]: headers
//! `X-Tradewind-Timestamp` and `X-Tradewind-Signature`).
//!
//! Answers: `202` once the order is stored (the `accept` function returns after JetStream acknowledged the
//! publish), so a portal that got 2xx never has to send again; `401` for a missing, wrong or stale signature;
//! `400` naming the field for a body that is not an order; `503` when the order could not be stored (the
//! portal sends it again later; the duplicate window drops a second copy). This module knows nothing of NATS:
//! the adapter passes `accept`, and `reject`, which keeps a signed request that is not an order in the
//! dead-letter stream with the reason answered.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use channel_api::canonical::Record;
use channel_api::config::AdapterConfig;
use channel_api::mapping::MappingPlan;
use channel_api::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use crds::channel::Flow;
use serde_json::{Value, json};
use tracing::warn;

use crate::orders;
use crate::settings::{self, OrdersMode, WEBHOOK_PATH};

/// Stores one order and returns once it is stored; the error says why it was not.
pub type Accept =
    Arc<dyn Fn(Record) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Keeps what the portal sent that is not an order, a signed request or a polled order (the adapter stores it
/// in the dead-letter stream): the key (the order id when it could be read, else `unreadable`), the body and
/// the reason.
pub type Reject = Arc<
    dyn Fn(String, Vec<u8>, String) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// The webhook of a Marketplace whose orders are pushed.
pub struct Webhook {
    marketplace: String,
    key: Vec<u8>,
    tolerance: Duration,
    mapping: Option<Arc<MappingPlan>>,
}

impl std::fmt::Debug for Webhook {
    // The key is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("marketplace", &self.marketplace)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook of `config`, or `None` when its orders are polled (or the channel is not `rest`).
    pub fn from_config(config: &AdapterConfig) -> Result<Option<Self>, String> {
        if config.spec.channel != crds::channel::ChannelKind::Rest {
            return Ok(None);
        }
        let resolved = crate::resolve_settings(config)?;
        let OrdersMode::Webhook {
            secret_key,
            max_skew_seconds,
        } = resolved.orders
        else {
            return Ok(None);
        };
        let key = crate::secret(&config.credentials_dir, &secret_key)
            .map_err(|e| format!("spec.rest.orders.webhook.hmacSecretKey: {e}"))?;
        Ok(Some(Self {
            marketplace: config.marketplace.clone(),
            key: key.into_bytes(),
            tolerance: Duration::from_secs(u64::from(max_skew_seconds)),
            mapping: crate::compile_mapping(config)?,
        }))
    }

    /// The path the portal posts to.
    pub fn path(&self) -> &'static str {
        WEBHOOK_PATH
    }

    /// The route, for the adapter's HTTP server; `accept` stores each verified order, `reject` each signed
    /// request that is not one.
    pub fn router(self: Arc<Self>, accept: Accept, reject: Option<Reject>) -> Router {
        Router::new()
            .route(settings::WEBHOOK_PATH, post(receive))
            .with_state(Arc::new(Handler {
                webhook: self,
                accept,
                reject,
            }))
    }

    /// What a request is: a verified order, or the answer refusing it. Pure but for the clock.
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<Record, (StatusCode, String)> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verify(
            &self.key,
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            body,
            chrono::Utc::now(),
            self.tolerance,
        )
        .map_err(|e| (StatusCode::UNAUTHORIZED, e.to_string()))?;
        let order: Value = serde_json::from_slice(body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("body: not JSON: {e}")))?;
        let plan = self.mapping.as_ref().and_then(|m| m.flow(Flow::Orders));
        orders::to_record(&order, plan, &self.marketplace).map_err(|e| (StatusCode::BAD_REQUEST, e))
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

struct Handler {
    webhook: Arc<Webhook>,
    accept: Accept,
    reject: Option<Reject>,
}

/// The key a refused body is kept under: its order id when it has one.
pub fn key_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("orderId").and_then(Value::as_str).map(str::to_string))
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .unwrap_or_else(|| "unreadable".into())
}

async fn receive(State(handler): State<Arc<Handler>>, headers: HeaderMap, body: Bytes) -> Response {
    let webhook = &handler.webhook;
    let record = match webhook.check(&headers, &body) {
        Ok(record) => record,
        Err((status, error)) => {
            warn!(marketplace = %webhook.marketplace, status = status.as_u16(), error = %error, "a pushed order was refused");
            // Only signed requests are kept: anyone can send unsigned junk.
            if status == StatusCode::BAD_REQUEST
                && let Some(reject) = &handler.reject
                && let Err(e) = reject(key_of(&body), body.to_vec(), error.clone()).await
            {
                warn!(marketplace = %webhook.marketplace, error = %e, "the refused order was not dead-lettered");
            }
            return answer(status, json!({ "error": error }));
        }
    };
    let correlation_id = record.correlation_id().to_string();
    match (handler.accept)(record).await {
        Ok(()) => answer(
            StatusCode::ACCEPTED,
            json!({ "accepted": true, "correlationId": correlation_id }),
        ),
        Err(e) => {
            warn!(marketplace = %webhook.marketplace, error = %e, "a pushed order could not be stored");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the order could not be stored; send it again later" }),
            )
        }
    }
}
