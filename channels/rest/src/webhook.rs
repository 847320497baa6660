//! Orders pushed by the portal: `POST /hooks/orders` on the adapter's HTTP server, one portal order per request,
//! signed with HMAC-SHA256 over `<timestamp>.<body>` ([`adapter_runtime::signature`]: headers
//! `X-Tradewind-Timestamp` and `X-Tradewind-Signature`).
//!
//! Answers: `202` once the order is stored (the `accept` function returns after JetStream acknowledged the
//! publish), so a portal that got 2xx never has to send again; `401` for a missing, wrong or stale signature;
//! `400` naming the field for a body that is not an order; `503` when the order could not be stored (the
//! portal sends it again later; the duplicate window drops a second copy). This module knows nothing of NATS:
//! the adapter passes `accept`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::Record;
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::mapping::MappingPlan;
use adapter_runtime::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
pub use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use crds::channel::Flow;
use serde_json::{Value, json};
use tracing::warn;

use crate::orders;
use crate::settings::{self, OrdersMode, WEBHOOK_PATH};

/// Stores one order and returns once it is stored; the error says why it was not.
pub type Accept =
    Arc<dyn Fn(Record) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

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

    /// The route, for the adapter's HTTP server; `accept` stores each verified order.
    pub fn router(self: Arc<Self>, accept: Accept) -> Router {
        Router::new()
            .route(settings::WEBHOOK_PATH, post(receive))
            .with_state((self, accept))
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

async fn receive(
    State((webhook, accept)): State<(Arc<Webhook>, Accept)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let record = match webhook.check(&headers, &body) {
        Ok(record) => record,
        Err((status, error)) => {
            warn!(marketplace = %webhook.marketplace, status = status.as_u16(), error = %error, "a pushed order was refused");
            return answer(status, json!({ "error": error }));
        }
    };
    let correlation_id = record.correlation_id().to_string();
    match accept(record).await {
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
