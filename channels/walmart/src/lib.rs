//! Walmart Marketplace API connector: client credentials, inventory and price per SKU.
//!
//! Every call carries `WM_SEC.ACCESS_TOKEN` (a client-credentials token cached until shortly before its 900 s
//! run out), `WM_QOS.CORRELATION_ID` (the record's correlation id, so Walmart's logs and ours name the same
//! transaction) and `WM_SVC.NAME`, and goes through the guard of its operation in crds' catalogue, so the
//! `RateLimitPolicy` paces it and a 429's `Retry-After` holds the operation back.
//!
//! URLs: `spec.endpoint.baseUrl` (default `https://marketplace.walmartapis.com`) and `spec.endpoint.tokenUrl`
//! (default `<baseUrl>/v3/token`). Secret keys: `client_id`, `client_secret`.

mod auth;
pub mod errors;
mod headers;
pub mod render;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use adapter_runtime::connectors::http::{HttpAnswer, send_guarded};
use adapter_runtime::connectors::{http_client, read_credential};
use adapter_runtime::resilience::{Failure, Resilience};
use crds::channel::Flow;
use reqwest::StatusCode;
use serde_json::Value;

use crate::auth::TokenCache;
use crate::headers::{SERVICE_NAME, WM_QOS_CORRELATION_ID, WM_SEC_ACCESS_TOKEN, WM_SVC_NAME};

/// Walmart Marketplace (US) production API.
pub const PRODUCTION_URL: &str = "https://marketplace.walmartapis.com";

/// Where and as whom the connector calls.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub timeout: Duration,
}

pub struct WalmartConnector {
    base_url: String,
    tokens: TokenCache,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
}

impl WalmartConnector {
    /// The connector of a `walmart` Marketplace: URLs from `spec.endpoint` (production by default), the
    /// credentials Secret's `client_id` and `client_secret`.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let base_url = config
            .spec
            .endpoint
            .base_url
            .as_deref()
            .unwrap_or(PRODUCTION_URL)
            .trim_end_matches('/')
            .to_string();
        let token_url = config
            .spec
            .endpoint
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{base_url}/v3/token"));
        Self::new(
            Settings {
                base_url,
                token_url,
                client_id: read_credential(&config.credentials_dir, "client_id")?,
                client_secret: read_credential(&config.credentials_dir, "client_secret")?,
                timeout: Duration::from_secs(30),
            },
            resilience,
        )
    }

    pub fn new(settings: Settings, resilience: Arc<Resilience>) -> Result<Self, String> {
        Ok(Self {
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            tokens: TokenCache::new(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
            ),
            http: http_client(settings.timeout)?,
            resilience,
        })
    }

    /// One API call of `operation` with Walmart's headers. A 401 renews the token and tries once more
    /// (a token can be revoked before it expires); other failures are classified by [`errors::classify`].
    async fn call(
        &self,
        operation: &str,
        correlation_id: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        for attempt in 0..2 {
            let token = self
                .tokens
                .access_token(&self.http, &self.resilience)
                .await?;
            let unauthorised = AtomicBool::new(false);
            let classify = |answer: &HttpAnswer| {
                if answer.status == StatusCode::UNAUTHORIZED {
                    unauthorised.store(true, Ordering::Relaxed);
                    return Failure::Permanent(format!("401 {}", errors::error_text(&answer.body)));
                }
                errors::classify(answer)
            };
            let result = send_guarded(
                &self.resilience,
                operation,
                1,
                || {
                    build()
                        .header(WM_SEC_ACCESS_TOKEN, &token)
                        .header(WM_QOS_CORRELATION_ID, correlation_id)
                        .header(WM_SVC_NAME, SERVICE_NAME)
                        .header("Accept", "application/json")
                },
                classify,
            )
            .await;
            if result.is_err() && unauthorised.load(Ordering::Relaxed) && attempt == 0 {
                self.tokens.forget().await;
                continue;
            }
            return result;
        }
        Err(ConnectorError::retryable(
            "Walmart refused a freshly issued access token",
        ))
    }

    async fn put_json(
        &self,
        operation: &str,
        url: &str,
        query: &[(&str, &str)],
        item: &OutboundItem,
        body: &Value,
    ) -> Result<(), ConnectorError> {
        self.call(operation, item.correlation_id.as_str(), || {
            self.http.put(url).query(query).json(body)
        })
        .await
        .map(|_| ())
    }

    async fn update_inventory(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body =
            render::inventory_body(&item.key, &item.fields).map_err(ConnectorError::permanent)?;
        let url = format!("{}/v3/inventory", self.base_url);
        self.put_json(
            "updateInventoryForAnItem",
            &url,
            &[("sku", &item.key)],
            item,
            &body,
        )
        .await
    }

    async fn update_price(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let body =
            render::price_body(&item.key, &item.fields).map_err(ConnectorError::permanent)?;
        let url = format!("{}/v3/price", self.base_url);
        self.put_json("updatePrice", &url, &[], item, &body).await
    }
}

impl Connector for WalmartConnector {
    fn max_batch(&self, _: Flow) -> usize {
        1
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let result = match flow {
                Flow::Inventory => self.update_inventory(item).await,
                Flow::Price => self.update_price(item).await,
                other => Err(ConnectorError::permanent(format!(
                    "the Walmart connector does not deliver the {other} flow yet"
                ))),
            };
            results.push(result);
        }
        results
    }

    async fn poll(&self, _: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        // No inbound flow yet: the cursor stays where it is.
        Ok(PollPage {
            records: Vec::new(),
            next_cursor: cursor.map(str::to_string),
            more: false,
        })
    }
}
