//! The generic REST connector, for B2B portals and channels without a dedicated one.
//!
//! Outbound, each flow's batch is one `POST <baseUrl>/<flow>` with `{"items": [{"key", "correlationId",
//! "fields"}]}` and an `Idempotency-Key` header derived from the items, so a batch sent twice (after a crash
//! between the call and the acknowledgement) is recognisable as the same batch. Inbound, `GET
//! <baseUrl>/<flow>?cursor=<cursor>` answers `{"records": [...], "nextCursor": "...", "more": false}` with
//! canonical records (`{"type": "order", "data": {...}}`).
//!
//! Status codes: 2xx delivered; 429 and 5xx retried (honouring `Retry-After`); other 4xx dead-lettered with
//! the portal's answer. Every call goes through the operation's guard (`RateLimitPolicy` operation = flow name).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crds::channel::Flow;
use serde::Deserialize;
use serde_json::{Value, json};

use adapter_runtime::canonical::Record;
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use adapter_runtime::connectors::http::{classify_status, send_guarded};
use adapter_runtime::connectors::{http_client, read_optional_credential};
use adapter_runtime::resilience::Resilience;

/// Most records in one POST.
const MAX_BATCH: usize = 100;

pub struct RestConnector {
    base_url: String,
    token: Option<String>,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollAnswer {
    records: Vec<Record>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    more: bool,
}

impl RestConnector {
    /// The connector of a `rest` Marketplace: `spec.endpoint.baseUrl`, and the credentials Secret's optional
    /// `token` key sent as a bearer token.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let base_url = config
            .spec
            .endpoint
            .base_url
            .as_deref()
            .ok_or("spec.endpoint.baseUrl is required for a rest marketplace")?;
        Self::new(
            base_url,
            &config.credentials_dir,
            resilience,
            Duration::from_secs(30),
        )
    }

    /// `credentials_dir` is the mounted credentials Secret; its optional `token` file is sent as a bearer
    /// token.
    pub fn new(
        base_url: &str,
        credentials_dir: &Path,
        resilience: Arc<Resilience>,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: read_optional_credential(credentials_dir, "token"),
            http: http_client(timeout)?,
            resilience,
        })
    }

    fn url(&self, flow: Flow) -> String {
        format!("{}/{}", self.base_url, flow)
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request built by `build` through the operation's guard, classifying the answer by status.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        send_guarded(
            &self.resilience,
            operation,
            1,
            || self.authorised(build()),
            classify_status,
        )
        .await
    }
}

/// The idempotency key of a batch: a hash of its items' correlation ids and keys, stable across retries.
fn batch_key(items: &[OutboundItem]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for item in items {
        for byte in item
            .correlation_id
            .as_str()
            .bytes()
            .chain(item.key.bytes())
            .chain([0u8])
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

impl Connector for RestConnector {
    fn max_batch(&self, _: Flow) -> usize {
        MAX_BATCH
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let body = json!({
            "items": items.iter().map(|i| json!({
                "key": i.key,
                "correlationId": i.correlation_id.as_str(),
                "fields": i.fields,
            })).collect::<Vec<Value>>()
        });
        let key = batch_key(items);
        let url = self.url(flow);
        let result = self
            .call(flow.as_str(), || {
                self.http
                    .post(&url)
                    .header("Idempotency-Key", &key)
                    .json(&body)
            })
            .await;
        match result {
            Ok(_) => items.iter().map(|_| Ok(())).collect(),
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let url = self.url(flow);
        let query: Vec<(&str, &str)> = cursor.map(|c| vec![("cursor", c)]).unwrap_or_default();
        let response = self
            .call(flow.as_str(), || self.http.get(&url).query(&query))
            .await?;
        let answer: PollAnswer = response.json().await.map_err(|e| {
            ConnectorError::permanent(format!("the portal's answer is not a page of records: {e}"))
        })?;
        Ok(PollPage {
            records: answer.records,
            next_cursor: answer.next_cursor,
            more: answer.more,
        })
    }
}
