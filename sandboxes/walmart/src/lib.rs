//! A sandbox of the Walmart Marketplace API (US), for tests, benchmarks and the local mode: the token endpoint
//! (`POST /v3/token`, client credentials, 900 s tokens), inventory per SKU (`PUT /v3/inventory`) and price per
//! SKU (`PUT /v3/price`), with the paths, headers, bodies and error bodies of the specifications in
//! `../shared/specs/walmart/`. Every call needs `WM_SVC.NAME` and `WM_QOS.CORRELATION_ID`, every API call a valid
//! `WM_SEC.ACCESS_TOKEN`. Each operation with a published limit (crds' catalogue) has a server-side token bucket
//! that answers 429 `REQUEST_THRESHOLD_VIOLATED` with `Retry-After`.
//!
//! Beside the API: `POST /_sandbox/items` puts SKUs in the catalogue, `GET /_sandbox/state` shows stock and
//! price per SKU, and the shared `/_sandbox/faults` and `/_sandbox/requests` routes inject faults and show
//! what was received.

mod api;
mod state;

use std::collections::HashMap;
use std::sync::Arc;

pub use crds::channel::PublishedLimit;
pub use sandbox::Running;
pub use state::{Item, ItemPrice, State};

/// The client credentials the sandbox accepts at its token endpoint, and the lifetime of its tokens.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    /// Seconds an access token lasts (Walmart: 900).
    pub token_seconds: u64,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            client_id: "walmart-sandbox-client".into(),
            client_secret: "sandbox-only-secret".into(),
            token_seconds: 900,
        }
    }
}

/// How to start a sandbox.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub credentials: Credentials,
    /// Limits that replace (or add to) the published ones, by operation name: Walmart publishes no fixed rate
    /// for per-SKU calls, so a test that needs them throttled sets one here.
    pub limits: HashMap<String, PublishedLimit>,
}

/// A running sandbox with its state, for tests and the local mode.
pub struct WalmartSandbox {
    pub running: Running,
    state: Arc<state::Shared>,
}

impl WalmartSandbox {
    /// `http://127.0.0.1:<port>`: the `baseUrl` of a Marketplace pointed at the sandbox.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// `<url>/v3/token`.
    pub fn token_url(&self) -> String {
        format!("{}/v3/token", self.running.url())
    }

    /// A copy of the state: items with stock and price.
    pub fn snapshot(&self) -> State {
        self.state.snapshot()
    }

    /// Puts SKUs in the seller's catalogue (quantity 0, no price); Walmart answers 404 for others.
    pub fn seed_items<'a>(&self, skus: impl IntoIterator<Item = &'a str>) {
        self.state.seed_items(skus);
    }

    /// Planned faults and calls received.
    pub fn controls(&self) -> &sandbox::Controls {
        &self.state.controls
    }
}

/// Starts the sandbox on `address` (`127.0.0.1:0` for a free port) with the default credentials and the
/// published limits.
pub async fn start(address: &str) -> std::io::Result<WalmartSandbox> {
    start_with(address, Options::default()).await
}

/// Starts the sandbox on `address` with `options`.
pub async fn start_with(address: &str, options: Options) -> std::io::Result<WalmartSandbox> {
    let state = Arc::new(state::Shared::new(options.credentials, options.limits));
    let router = api::router(state.clone());
    let running = sandbox::serve(router, state.controls.clone(), address).await?;
    Ok(WalmartSandbox { running, state })
}
