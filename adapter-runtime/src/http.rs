//! `/metrics` (OpenMetrics), `/healthz` (the process runs) and `/readyz` (connected and flows started).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::flow::Shutdown;
use crate::metrics::Metrics;

/// Whether the adapter can do its work, and if not, why.
#[derive(Debug, Default)]
pub struct Readiness {
    not_ready: Mutex<Option<String>>,
}

impl Readiness {
    /// Not ready until [`Readiness::ready`] is called.
    pub fn starting() -> Self {
        Self {
            not_ready: Mutex::new(Some("starting".into())),
        }
    }

    pub fn ready(&self) {
        if let Ok(mut state) = self.not_ready.lock() {
            *state = None;
        }
    }

    pub fn not_ready(&self, reason: impl Into<String>) {
        if let Ok(mut state) = self.not_ready.lock() {
            *state = Some(reason.into());
        }
    }

    /// `None` when ready, else the reason.
    pub fn reason(&self) -> Option<String> {
        self.not_ready
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| Some("state unavailable".into()))
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

pub fn router(metrics: Arc<Metrics>, readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .with_state(AppState { metrics, readiness })
}

async fn metrics_handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn ready_handler(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

/// Serves until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, readiness))
        .with_graceful_shutdown(async move { shutdown.triggered().await })
        .await
}

/// Serves `/metrics`, `/healthz`, `/readyz` and a channel's own routes (its signed webhook) on the same port
/// until `shutdown`: the routes the channel adds must not overlap these three.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    channel_routes: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, readiness).merge(channel_routes))
        .with_graceful_shutdown(async move { shutdown.triggered().await })
        .await
}
