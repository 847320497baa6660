//! The generic REST connector, for B2B portals and channels without a dedicated one. What it calls is the
//! Marketplace's `spec.rest` (see [`settings`] and docs/channels/b2b-rest.md):
//!
//! - inventory, price, catalog and shipment callbacks: one call per batch of at most `spec.rest.batchSize`
//!   records, to each flow's configured path and method, body `{"items": [...]}` with the mapping's fields per
//!   record and an `Idempotency-Key` header; the portal may reject single items in a 2xx answer ([`batch`]);
//! - orders: polled from `GET <path>?<cursorParam>=<cursor>` (answer `{"orders", "nextCursor", "more"}`), each
//!   portal order mapped by the `ChannelMapping`'s `orders` flow ([`orders`]); or pushed by the portal to the
//!   adapter's HMAC-signed webhook ([`webhook`]);
//! - the ERP's acknowledgements and cancellations: `POST <baseUrl>/orders/updates`.
//!
//! The credential header (`spec.rest.auth`) is read from the credentials Secret. Status codes: 2xx delivered;
//! 429 and 5xx retried (honouring `Retry-After`); other 4xx dead-lettered with the portal's answer. Every call
//! goes through its operation's guard (`RateLimitPolicy` operation = the flow's name).

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod batch;
pub mod orders;
pub mod settings;
pub mod webhook;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crds::channel::Flow;
use tracing::warn;

use channel_api::config::AdapterConfig;
use channel_api::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use channel_api::connectors::http::{classify_status, send_guarded, without_url};
use channel_api::connectors::{http_client, read_credential};
use channel_api::mapping::MappingPlan;
use channel_api::resilience::Resilience;

pub use settings::{OrdersMode, PortalSettings};
pub use webhook::Webhook;

pub struct RestConnector {
    marketplace: String,
    settings: PortalSettings,
    /// The `ChannelMapping`, for its `orders` flow (portal orders to canonical ones).
    mapping: Option<Arc<MappingPlan>>,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    /// Keeps polled orders that cannot be read (the adapter stores them in the dead-letter stream).
    reject: Option<webhook::Reject>,
}

impl RestConnector {
    /// The connector of a `rest` Marketplace: `spec.endpoint.baseUrl`, `spec.rest`, the credentials Secret.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let settings = resolve_settings(config)?;
        Ok(Self {
            marketplace: config.marketplace.clone(),
            settings,
            mapping: compile_mapping(config)?,
            http: http_client(Duration::from_secs(30))?,
            resilience,
            reject: None,
        })
    }

    /// Polled orders that cannot be read are passed to `reject` (key, body, reason) before the cursor moves
    /// past them, instead of only being logged.
    pub fn with_rejects(mut self, reject: webhook::Reject) -> Self {
        self.reject = Some(reject);
        self
    }

    pub fn settings(&self) -> &PortalSettings {
        &self.settings
    }

    /// Sends a request built by `build` through the operation's guard, with the credential header.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        send_guarded(
            &self.resilience,
            operation,
            1,
            || match &self.settings.auth {
                Some(auth) => build().header(auth.name.clone(), auth.value.clone()),
                None => build(),
            },
            classify_status,
        )
        .await
    }

    async fn poll_orders(
        &self,
        url: &str,
        cursor_param: &str,
        cursor: Option<&str>,
    ) -> Result<PollPage, ConnectorError> {
        let query: Vec<(&str, &str)> = cursor.map(|c| vec![(cursor_param, c)]).unwrap_or_default();
        let response = self
            .call(Flow::Orders.as_str(), || self.http.get(url).query(&query))
            .await?;
        let page: orders::OrdersPage =
            channel_api::connectors::http::read_json(response, "the portal's orders page").await?;
        let plan = self.mapping.as_ref().and_then(|m| m.flow(Flow::Orders));
        let mut records = Vec::with_capacity(page.orders.len());
        for order in &page.orders {
            match orders::to_record(order, plan, &self.marketplace) {
                Ok(record) => records.push(record),
                // The order stays on the portal and the cursor moves on; it is logged with what is wrong and
                // kept by `reject` when there is one.
                Err(e) => {
                    warn!(marketplace = %self.marketplace, error = %e, "a portal order cannot be read");
                    if let Some(reject) = &self.reject {
                        let body = order.to_string().into_bytes();
                        if let Err(stored) = reject(webhook::key_of(&body), body, e).await {
                            warn!(marketplace = %self.marketplace, error = %stored, "the unreadable order was not dead-lettered");
                        }
                    }
                }
            }
        }
        Ok(PollPage {
            records,
            next_cursor: page.next_cursor,
            more: page.more,
        })
    }
}

/// The settings of `config`, with the credential header's value read from the Secret.
pub fn resolve_settings(config: &AdapterConfig) -> Result<PortalSettings, String> {
    let keys = settings::secret_keys(&config.spec);
    let auth = match &keys.auth {
        Some(key) => Some(
            read_credential(&config.credentials_dir, key)
                .map_err(|e| format!("spec.rest.auth.secretKey: {e}"))?,
        ),
        None => None,
    };
    settings::resolve(&config.spec, auth.as_deref())
}

/// The `ChannelMapping` compiled, when there is one.
pub fn compile_mapping(config: &AdapterConfig) -> Result<Option<Arc<MappingPlan>>, String> {
    config
        .mapping
        .as_ref()
        .map(|m| {
            MappingPlan::compile(&m.name, &m.spec)
                .map(Arc::new)
                .map_err(|errors| {
                    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    format!("mapping does not compile:\n{}", lines.join("\n"))
                })
        })
        .transpose()
}

/// A credential of the Secret, for the webhook's HMAC key.
pub(crate) fn secret(credentials_dir: &Path, key: &str) -> Result<String, String> {
    read_credential(credentials_dir, key)
}

impl Connector for RestConnector {
    fn max_batch(&self, _: Flow) -> usize {
        self.settings.batch_size
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let Some(call) = self.settings.call(flow) else {
            let error = ConnectorError::permanent(format!("the rest connector has no {flow} flow"));
            return items.iter().map(|_| Err(error.clone())).collect();
        };
        let body = batch::body(items);
        let key = batch::key(items);
        let result = self
            .call(flow.as_str(), || {
                self.http
                    .request(call.method.clone(), &call.url)
                    .header("Idempotency-Key", &key)
                    .json(&body)
            })
            .await;
        match result {
            Ok(response) => match response.text().await {
                Ok(text) => batch::results(items, &text),
                // The portal took the batch; only its per-item answer is lost.
                Err(e) => {
                    warn!(flow = %flow, error = %without_url(&e), "the portal's answer could not be read; the batch counts as accepted");
                    items.iter().map(|_| Ok(())).collect()
                }
            },
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        if flow != Flow::Orders {
            return Err(ConnectorError::permanent(format!(
                "the rest connector polls no {flow} flow"
            )));
        }
        match &self.settings.orders {
            OrdersMode::Poll { url, cursor_param } => {
                self.poll_orders(url, cursor_param, cursor).await
            }
            // The portal pushes its orders to the webhook: nothing to poll.
            OrdersMode::Webhook { .. } => Ok(PollPage::default()),
        }
    }

    /// A portal order, polled or pushed, that could not be read: read again through the mapping of today.
    fn reread(
        &self,
        flow: Flow,
        raw: &[u8],
    ) -> Result<Vec<channel_api::canonical::Record>, String> {
        if flow != Flow::Orders {
            return Err(format!("the rest connector reads no {flow} records"));
        }
        let order: serde_json::Value =
            serde_json::from_slice(raw).map_err(|e| format!("body: not JSON: {e}"))?;
        let plan = self.mapping.as_ref().and_then(|m| m.flow(Flow::Orders));
        orders::to_record(&order, plan, &self.marketplace).map(|record| vec![record])
    }
}
