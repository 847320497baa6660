//! A sandbox of the Amazon Selling Partner API, for tests, benchmarks and the local mode: the LWA token
//! endpoint, Listings Items (`patchListingsItem`, `getListingsItem`), Orders 2026-01-01 (`searchOrders`) and
//! Orders v0 (`confirmShipment`), with the paths, bodies, error bodies and published limits of the official
//! models in `../shared/specs/amazon/` — each operation's token bucket answers `429 QuotaExceeded` with the
//! `x-amzn-RateLimit-Limit` header exactly when Amazon would.
//!
//! Every request is checked against the models (`conformance`: the Swagger files, the limits stated in
//! prose, the semantic rules, the JSON_LISTINGS_FEED document schema); a deviating one is answered with
//! Amazon's `errors[]` body and recorded, and in debug builds every answer is checked against its response
//! schema.
//!
//! Beside the API: `POST /_sandbox/orders` places an order (as a buyer would), `GET /_sandbox/state` shows
//! listings, orders and shipments, and the shared `/_sandbox/faults` and `/_sandbox/requests` routes inject
//! faults and show what was received.

mod api;
pub mod conformance;
pub mod feeds;
pub mod patches;
pub mod reports;
mod state;

use std::sync::Arc;

pub use sandbox::Running;
pub use state::{
    DEFAULT_FEED_PROCESSING, FeedEntry, Listing, PlacedOrder, PlacedReturn, ReportEntry, State,
};

/// The credentials the sandbox accepts at its token endpoint (the quickstart's Secret holds these).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            client_id: "amzn1.application-oa2-client.sandbox".into(),
            client_secret: "sandbox-only-secret".into(),
            refresh_token: "Atzr|sandbox-only-token".into(),
        }
    }
}

/// A running sandbox with its state, for tests and the local mode.
pub struct AmazonSandbox {
    pub running: Running,
    pub state: Arc<state::Shared>,
}

impl AmazonSandbox {
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The token endpoint's URL (`<url>/auth/o2/token`).
    pub fn token_url(&self) -> String {
        format!("{}/auth/o2/token", self.running.url())
    }

    /// From now on, report documents are served GZIP-compressed (`compressionAlgorithm: GZIP`), as Amazon
    /// serves most reports.
    pub fn compress_report_documents(&self) {
        self.state.compress_reports(true);
    }

    /// Replaces `operation`'s published limit on this sandbox (a local run shortens Amazon's slowest periods).
    pub fn override_limit(&self, operation: &str, limit: crds::channel::PublishedLimit) {
        self.state.override_limit(operation, limit);
    }

    /// A copy of the state: listings, orders, shipments.
    pub fn snapshot(&self) -> State {
        self.state.snapshot()
    }

    /// Places an order for `quantity` of `sku` at `unit_price` (a decimal), as a buyer would; returns its id.
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> String {
        self.state.place_order(sku, quantity, unit_price)
    }

    /// Cancels an order as its buyer would.
    pub fn cancel_order(&self, order_id: &str) -> bool {
        self.state.cancel_order(order_id)
    }

    /// How long feeds take from `createFeed` to `DONE` from now on.
    pub fn set_feed_processing(&self, processing: std::time::Duration) {
        self.state.set_feed_processing(processing)
    }

    /// Amazon refuses `sku` from now on (patches answer `INVALID`, feed messages are reported) with this issue.
    pub fn refuse_sku(&self, sku: &str, code: &str, message: &str) {
        self.state.refuse_sku(sku, code, message)
    }

    /// The buyer returns `quantity` of an order, refunded in full; the RMA id (`None`: no such order).
    pub fn return_order(&self, order_id: &str, quantity: i64, reason: &str) -> Option<String> {
        self.state.return_order(order_id, quantity, reason)
    }

    /// Publishes a returns report of the returns not reported yet; its report id.
    pub fn publish_returns_report(&self) -> String {
        self.state.publish_returns_report()
    }

    /// The next settlement writes `principal` (a decimal) as the order's Principal; an order the sandbox does
    /// not have is settled as an unknown order.
    pub fn tweak_settlement(&self, order_id: &str, principal: &str) {
        self.state.tweak_settlement(order_id, principal)
    }

    /// Closes the settlement period (every order and return not settled yet); its report id.
    pub fn close_settlement(&self) -> String {
        self.state.close_settlement()
    }

    /// The text of a report's document, by report id.
    pub fn report_text(&self, report_id: &str) -> Option<String> {
        let document = self
            .snapshot()
            .reports
            .into_iter()
            .find(|r| r.report_id == report_id)?
            .report_document_id;
        let (_, content) = self.state.document(&document)?;
        content.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Calls received, for assertions.
    pub fn controls(&self) -> &sandbox::Controls {
        &self.state.controls
    }
}

/// Starts the sandbox on `address` (`127.0.0.1:0` for a free port) accepting `credentials`.
pub async fn start(address: &str, credentials: Credentials) -> std::io::Result<AmazonSandbox> {
    let state = Arc::new(state::Shared::new(credentials));
    let controls = state.controls.clone();
    controls
        .conformance
        .set_known(conformance::KNOWN_DEVIATIONS);
    let router = sandbox::strict::layer(
        api::router(state.clone()),
        conformance::strictness(),
        controls.clone(),
    );
    let running = sandbox::serve(router, controls, address).await?;
    Ok(AmazonSandbox { running, state })
}
