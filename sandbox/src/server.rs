//! Serving a sandbox: each one is an axum router merged with the control routes, on a port of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::conformance::Conformance;
use crate::faults::{FaultPlan, Faults};
use crate::recorder::Recorder;

/// What every sandbox shares: its planned faults, the calls it received and the deviations from the
/// specification it recorded.
#[derive(Debug, Default)]
pub struct Controls {
    pub faults: Faults,
    pub recorder: Recorder,
    pub conformance: Arc<Conformance>,
}

/// A running sandbox; stops when dropped.
#[derive(Debug)]
pub struct Running {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Running {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` (with the control routes of `controls` merged in) on `address` (`127.0.0.1:0` for a free
/// port).
pub async fn serve(
    app: Router,
    controls: Arc<Controls>,
    address: &str,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let app = app.merge(control_routes(controls));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Running {
        address,
        stop: Some(stop),
    })
}

#[derive(Deserialize)]
struct OperationFilter {
    operation: Option<String>,
}

/// `POST /_sandbox/faults` (a [`FaultPlan`]), `DELETE /_sandbox/faults`, `GET /_sandbox/faults`,
/// `GET /_sandbox/requests?operation=...`, `DELETE /_sandbox/requests`, `GET /_sandbox/deviations` (every
/// deviation from the specification recorded, known ones marked), `DELETE /_sandbox/deviations`.
pub fn control_routes(controls: Arc<Controls>) -> Router {
    Router::new()
        .route(
            "/_sandbox/faults",
            get(|State(c): State<Arc<Controls>>| async move { axum::Json(c.faults.pending()) })
                .post(
                    |State(c): State<Arc<Controls>>, axum::Json(plan): axum::Json<FaultPlan>| async move {
                        c.faults.plan(plan);
                        StatusCode::NO_CONTENT
                    },
                )
                .delete(|State(c): State<Arc<Controls>>| async move {
                    c.faults.clear();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/_sandbox/requests",
            get(
                |State(c): State<Arc<Controls>>, Query(filter): Query<OperationFilter>| async move {
                    axum::Json(c.recorder.calls(filter.operation.as_deref()))
                },
            )
            .delete(|State(c): State<Arc<Controls>>| async move {
                c.recorder.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_sandbox/deviations",
            get(|State(c): State<Arc<Controls>>| async move {
                axum::Json(c.conformance.deviations())
            })
            .delete(|State(c): State<Arc<Controls>>| async move {
                c.conformance.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(controls)
}
