//! A sandbox of the Walmart Marketplace API (US), for tests, benchmarks and the local mode: the token endpoint
//! (`POST /v3/token`, client credentials, 900 s tokens), inventory per SKU (`PUT /v3/inventory`) and price per
//! SKU (`PUT /v3/price`), with the paths, headers, bodies and error bodies of the specifications in
//! `../shared/specs/walmart/`. Every call needs `WM_SVC.NAME` and `WM_QOS.CORRELATION_ID`, every API call a valid
//! `WM_SEC.ACCESS_TOKEN`. Each operation with a published limit (crds' catalogue) has a server-side token bucket
//! that answers 429 `REQUEST_THRESHOLD_VIOLATED` with `Retry-After`.
//!
//! Every request is checked against the specification files (`conformance`: the OpenAPI documents, the
//! limits stated in prose, the semantic rules); a deviating one is answered with Walmart's `errors[]` body
//! and recorded, and in debug builds every answer is checked against its response schema.
//!
//! Beside the API: `POST /_sandbox/items` puts SKUs in the catalogue, `GET /_sandbox/state` shows stock and
//! price per SKU, and the shared `/_sandbox/faults` and `/_sandbox/requests` routes inject faults and show
//! what was received.

mod api;
pub mod conformance;
mod feeds;
mod orders;
mod reports;
mod state;

use std::collections::HashMap;
use std::sync::Arc;

pub use crds::channel::PublishedLimit;
pub use orders::OrderSpec;
pub use sandbox::Running;
pub use state::{Feed, Item, ItemPrice, State};

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
    /// How long a feed stays `RECEIVED` before it is processed (default 300 ms; Walmart takes minutes).
    pub feed_processing: Option<std::time::Duration>,
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

    /// Reads the state under its lock, without copying it (a catalogue of 100,000 items is read in place).
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.state.with(|state| f(state))
    }

    /// Puts SKUs in the seller's catalogue (quantity 0, no price); Walmart answers 404 for others.
    pub fn seed_items<'a>(&self, skus: impl IntoIterator<Item = &'a str>) {
        self.state.seed_items(skus);
    }

    /// Places an order of `quantity` × `sku` at `unit_price` (a decimal) for the US; its purchaseOrderId.
    pub fn place_order(&self, sku: &str, quantity: u32, unit_price: &str) -> String {
        orders::place(
            &self.state,
            &OrderSpec {
                lines: vec![(sku.to_string(), quantity, unit_price.to_string())],
                ..OrderSpec::default()
            },
        )
    }

    /// Places an order as specified; its purchaseOrderId.
    pub fn place(&self, spec: &OrderSpec) -> String {
        orders::place(&self.state, spec)
    }

    /// Places `count` orders of random seeded SKUs, quantities and prices; their ids.
    pub fn generate_orders(&self, count: usize) -> Vec<String> {
        orders::generate(&self.state, count)
    }

    /// Serves `order` as it is (for malformed orders): it appears in `getAllOrders` as modified now.
    pub fn put_raw_order(&self, order: serde_json::Value) {
        orders::put_raw(&self.state, order);
    }

    /// The buyer cancels a line of an order (as Walmart shows it: `Cancelled`, `CUSTOMER_CANCEL`).
    pub fn buyer_cancels(&self, purchase_order_id: &str, line_number: &str) -> bool {
        orders::buyer_cancels(&self.state, purchase_order_id, line_number)
    }

    /// A return of `quantity` of a line of an order, refunded `refund` (a decimal); its returnOrderId.
    pub fn add_return(
        &self,
        purchase_order_id: &str,
        line_number: &str,
        quantity: u32,
        refund: &str,
    ) -> Option<String> {
        reports::add_return(
            &self.state,
            purchase_order_id,
            line_number,
            quantity,
            refund,
        )
    }

    /// A reconciliation report for `report_date` (`MMDDYYYY`) with `rows` as served by `reconFileJson`.
    pub fn add_recon_report(&self, report_date: &str, rows: Vec<serde_json::Value>) {
        self.state.with(|s| {
            s.recon_reports.insert(report_date.to_string(), rows);
        });
    }

    /// A reconciliation report for `report_date` in the legacy format only (a date before the seller's v1
    /// reports): listed by the legacy `availableReconFiles`, not available from `reconFileJson`.
    pub fn add_legacy_recon_report(&self, report_date: &str) {
        self.state.with(|s| {
            s.legacy_recon_dates.insert(report_date.to_string());
        });
    }

    /// A reconciliation report for `report_date` built from the sandbox's orders and returns: for each order
    /// its product price, tax and shipping, a 15 % commission, and each return's refund; the PaymentSummary's
    /// Total Payable is their sum.
    pub fn generate_recon_report(&self, report_date: &str) {
        reports::generate_recon(&self.state, report_date);
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
    let state = Arc::new(state::Shared::new(
        options.credentials,
        options.limits,
        options
            .feed_processing
            .unwrap_or(std::time::Duration::from_millis(300)),
    ));
    state
        .controls
        .conformance
        .set_known(conformance::KNOWN_DEVIATIONS);
    let router = sandbox::strict::layer(
        api::router(state.clone()),
        conformance::strictness(),
        state.controls.clone(),
    );
    let running = sandbox::serve(router, state.controls.clone(), address).await?;
    Ok(WalmartSandbox { running, state })
}
