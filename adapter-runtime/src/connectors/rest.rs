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
use std::time::{Duration, SystemTime};

use crds::channel::Flow;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::canonical::Record;
use crate::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use crate::resilience::{Failure, Resilience, hints_from_headers};

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
    /// `credentials_dir` is the mounted credentials Secret; its optional `token` file is sent as a bearer
    /// token.
    pub fn new(
        base_url: &str,
        credentials_dir: &Path,
        resilience: Arc<Resilience>,
        timeout: Duration,
    ) -> Result<Self, String> {
        crate::connectors::ensure_crypto_provider();
        let token = std::fs::read_to_string(credentials_dir.join("token"))
            .ok()
            .map(|t| t.trim().to_string());
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            http,
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

    /// Sends a request built by `build`, classifying the answer.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let guard = self.resilience.guard(operation);
        guard
            .run(1, || {
                let request = self.authorised(build());
                async move {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| Failure::Retryable(without_url(&e)))?;
                    let status = response.status();
                    if status.is_success() {
                        return Ok(response);
                    }
                    let headers: Vec<(String, String)> = response
                        .headers()
                        .iter()
                        .filter_map(|(k, v)| {
                            v.to_str()
                                .ok()
                                .map(|v| (k.as_str().to_string(), v.to_string()))
                        })
                        .collect();
                    let body = response.text().await.unwrap_or_default();
                    let error = format!("{status}: {}", body.chars().take(500).collect::<String>());
                    if status.as_u16() == 429 {
                        let hint = hints_from_headers(
                            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                            SystemTime::now(),
                        )
                        .into_iter()
                        .next();
                        Err(Failure::Throttled { error, hint })
                    } else if status.is_server_error() {
                        Err(Failure::Retryable(error))
                    } else {
                        Err(Failure::Permanent(error))
                    }
                }
            })
            .await
            .map_err(ConnectorError::from_outcome)
    }
}

/// A transport error's text without the URL (which may carry a query with a token).
fn without_url(error: &reqwest::Error) -> String {
    let error = error.to_string();
    match error.find(" for url") {
        Some(at) => error[..at].to_string(),
        None => error,
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
