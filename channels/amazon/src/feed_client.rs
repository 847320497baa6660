//! Sending listings updates as one JSON_LISTINGS_FEED: `createFeedDocument`, the upload to the URL it
//! returns, `createFeed` (under both its own usage plan and the regional JSON_LISTINGS_FEED limit), `getFeed`
//! until the feed is done, `getFeedDocument` and the processing report read into one outcome per item.

use std::time::{Duration, Instant};

use channel_api::connector::{ConnectorError, OutboundItem};
use channel_api::connectors::http::{read_json, without_url};
use serde_json::{Value, json};
use tracing::info;

use crate::{AmazonConnector, feeds, listings};

/// The first wait before reading a feed's status; doubled up to `MAX_POLL` while it is not done.
const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(30);
/// A feed that is not done after this long is given up on; its items are retried (the patches are
/// idempotent replacements, so a feed that did finish after all is harmless to resend).
const FEED_DEADLINE: Duration = Duration::from_secs(2 * 3600);

fn text<'a>(value: &'a Value, field: &str, what: &str) -> Result<&'a str, ConnectorError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectorError::retryable(format!("{what} has no {field} (body: {value})")))
}

impl AmazonConnector {
    /// Delivers `items` in one feed: one outcome per item, in order. An item whose patch cannot be built fails
    /// alone; a message the report rejects fails with Amazon's issue text; a failure of the feed itself fails
    /// every item it carried with that failure's class.
    pub(crate) async fn send_feed(
        &self,
        items: &[OutboundItem],
    ) -> Vec<Result<(), ConnectorError>> {
        let mut results: Vec<Option<Result<(), ConnectorError>>> = vec![None; items.len()];
        let mut messages = Vec::with_capacity(items.len());
        let mut carried = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match listings::patch_request(&item.fields, &self.marketplace_id) {
                Ok(request) => {
                    messages.push((item.key.clone(), request));
                    carried.push(i);
                }
                Err(e) => results[i] = Some(Err(ConnectorError::permanent(e))),
            }
        }
        if !messages.is_empty() {
            match self.run_feed(&messages).await {
                Ok(outcomes) => {
                    for (k, outcome) in outcomes.into_iter().enumerate() {
                        if let Some(&i) = carried.get(k) {
                            results[i] = Some(outcome.map_err(ConnectorError::permanent));
                        }
                    }
                }
                Err(e) => {
                    for &i in &carried {
                        results[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ConnectorError::retryable(
                        "the feed's processing report has no outcome for this item",
                    ))
                })
            })
            .collect()
    }

    async fn run_feed(
        &self,
        messages: &[(String, Value)],
    ) -> Result<Vec<Result<(), String>>, ConnectorError> {
        let body = feeds::document(&self.seller_id, messages).to_string();

        let url = format!("{}/feeds/2021-06-30/documents", self.base_url);
        let spec = json!({ "contentType": feeds::CONTENT_TYPE });
        let response = self
            .call("createFeedDocument", |_| self.http.post(&url).json(&spec))
            .await?;
        let document: Value = read_json(response, "the createFeedDocument answer").await?;
        let document_id = text(&document, "feedDocumentId", "the createFeedDocument answer")?;
        let upload_url = text(&document, "url", "the createFeedDocument answer")?;

        // The upload URL is presigned: no access token, no SP-API usage plan.
        let upload = self
            .http
            .put(upload_url)
            .header("content-type", feeds::CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                ConnectorError::retryable(format!("feed document upload: {}", without_url(&e)))
            })?;
        if !upload.status().is_success() {
            return Err(ConnectorError::retryable(format!(
                "feed document upload answered {}",
                upload.status()
            )));
        }

        // Each submission takes a token of the regional JSON_LISTINGS_FEED limit as well as createFeed's own.
        self.resilience
            .guard("jsonListingsFeed")
            .limiter()
            .acquire(1)
            .await
            .map_err(|e| ConnectorError::permanent(format!("jsonListingsFeed: {e}")))?;
        let url = format!("{}/feeds/2021-06-30/feeds", self.base_url);
        let spec = json!({
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [self.marketplace_id],
            "inputFeedDocumentId": document_id,
        });
        let response = self
            .call("createFeed", |_| self.http.post(&url).json(&spec))
            .await?;
        let created: Value = read_json(response, "the createFeed answer").await?;
        let feed_id = text(&created, "feedId", "the createFeed answer")?.to_string();
        let submitted = Instant::now();

        let (status, result_id) = self.await_feed(&feed_id, submitted).await?;
        let turnaround = submitted.elapsed();
        self.note_feed_turnaround(turnaround);
        info!(marketplace = %self.marketplace, feed = %feed_id, messages = messages.len(), %status,
            turnaround_ms = turnaround.as_millis() as u64, "JSON_LISTINGS_FEED processed");

        let url = format!(
            "{}/feeds/2021-06-30/documents/{}",
            self.base_url,
            crate::encode(&result_id)
        );
        let response = self
            .call("getFeedDocument", |_| self.http.get(&url))
            .await?;
        let document: Value = read_json(response, "the getFeedDocument answer").await?;
        let report_url = text(&document, "url", "the getFeedDocument answer")?;
        let report = self.http.get(report_url).send().await.map_err(|e| {
            ConnectorError::retryable(format!("processing report download: {}", without_url(&e)))
        })?;
        if !report.status().is_success() {
            return Err(ConnectorError::retryable(format!(
                "processing report download answered {}",
                report.status()
            )));
        }
        let bytes = report.bytes().await.map_err(|e| {
            ConnectorError::retryable(format!("processing report download: {}", without_url(&e)))
        })?;
        let compression = document.get("compressionAlgorithm").and_then(Value::as_str);
        let bytes = crate::documents::decompress(compression, &bytes)
            .map_err(|why| ConnectorError::permanent(format!("feed {feed_id}: {why}")))?;
        let report: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::retryable(format!(
                "feed {feed_id}: the processing report is not JSON: {e}"
            ))
        })?;
        let mut outcomes = feeds::outcomes(&report, messages.len());
        if status == "FATAL" && outcomes.iter().all(Result::is_ok) {
            outcomes = vec![Err(format!("Amazon aborted feed {feed_id} (FATAL)")); messages.len()];
        }
        Ok(outcomes)
    }

    /// Reads the feed's status until it is `DONE` or `FATAL`: the status and the result document's id.
    async fn await_feed(
        &self,
        feed_id: &str,
        submitted: Instant,
    ) -> Result<(String, String), ConnectorError> {
        let url = format!(
            "{}/feeds/2021-06-30/feeds/{}",
            self.base_url,
            crate::encode(feed_id)
        );
        let mut wait = FIRST_POLL;
        loop {
            tokio::time::sleep(wait).await;
            let response = self.call("getFeed", |_| self.http.get(&url)).await?;
            let feed: Value = read_json(response, "the getFeed answer").await?;
            let status = text(&feed, "processingStatus", "the getFeed answer")?;
            match status {
                "DONE" | "FATAL" => {
                    let result = text(&feed, "resultFeedDocumentId", "the getFeed answer")?;
                    return Ok((status.to_string(), result.to_string()));
                }
                "CANCELLED" => {
                    return Err(ConnectorError::retryable(format!(
                        "feed {feed_id} was cancelled before processing"
                    )));
                }
                _ if submitted.elapsed() > FEED_DEADLINE => {
                    return Err(ConnectorError::retryable(format!(
                        "feed {feed_id} is still {status} after {} s",
                        FEED_DEADLINE.as_secs()
                    )));
                }
                _ => wait = (wait * 2).min(MAX_POLL),
            }
        }
    }
}
