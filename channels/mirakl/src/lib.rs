//! Mirakl seller API connector: API key, per-operator host, STO01, OF24, OR11, OR21, OR23, OR24.
//!
//! - Inventory: every batch is one STO01 stock file (CSV upload); STO02 is read until the import ends and
//!   STO03's error report is read back, so each rejected line fails only its own record, with Mirakl's text.
//! - Price: every batch is one OF24 call.
//! - Orders in: OR11 by update date (`start_update_date`) with offset pagination, pages of 100.
//! - Orders out: `accepted` -> OR21 every line accepted; `rejected` -> OR21 every line refused;
//!   `cancelled` -> OR29 (an accepted order's cancellation).
//! - Shipments: OR23 (carrier and tracking) then OR24 (shipped).
//!
//! STO01, OF24 and OR11 may be called at most once per minute: every call goes through its operation's guard
//! (the `RateLimitPolicy`), and one call carries every change the flow has gathered meanwhile.

pub mod descriptor;
pub use descriptor::DESCRIPTOR;
pub mod country;
pub mod orders;
pub mod render;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crds::channel::Flow;
use serde::Deserialize;
use serde_json::{Value, json};

use channel_api::canonical::{MarketplaceName, Record};
use channel_api::config::AdapterConfig;
use channel_api::connector::{Connector, ConnectorError, FailureKind, OutboundItem, PollPage};
use channel_api::connectors::http::{classify_status, read_json, send_guarded, without_url};
use channel_api::connectors::{http_client, read_credential};
use channel_api::resilience::Resilience;

/// Most records in one stock file or OF24 call: Mirakl's frequencies make one large call better than many.
pub const MAX_BATCH: usize = 10_000;
/// OR11's largest page.
pub const PAGE_SIZE: usize = 100;
/// STO02 reads before an import still running is left to the next delivery attempt.
const STATUS_READS: usize = 20;

pub struct MiraklConnector {
    base_url: String,
    api_key: String,
    marketplace: MarketplaceName,
    http: reqwest::Client,
    resilience: Arc<Resilience>,
    /// Line ids of the orders read, for OR21 (which names every line); read again from OR11 when absent.
    line_ids: Mutex<HashMap<String, Vec<String>>>,
    /// Orders this connector answered with OR21, and how (accepted or refused). The ERP acknowledges every
    /// new version of an order; Mirakl refuses a second OR21 once the order has moved on, so a repeat of the
    /// same answer is not sent.
    answered: Mutex<HashMap<String, bool>>,
}

/// Answers remembered at most; past it the memory starts again (a repeat then costs one refused OR21).
const MAX_ANSWERED: usize = 100_000;

#[derive(Deserialize)]
struct ImportCreated {
    import_id: Value,
}

#[derive(Deserialize)]
struct ImportStatus {
    status: String,
    #[serde(default)]
    has_error_report: bool,
}

#[derive(Deserialize)]
struct OrderPage {
    orders: Vec<Value>,
    total_count: usize,
}

impl MiraklConnector {
    /// The connector of a `mirakl` Marketplace: `spec.endpoint.baseUrl` (the operator's instance: Mirakl has
    /// no single production URL) and the credentials Secret's `api_key`.
    pub fn from_config(
        config: &AdapterConfig,
        resilience: Arc<Resilience>,
    ) -> Result<Self, String> {
        let base_url = config.spec.endpoint.base_url.as_deref().ok_or(
            "spec.endpoint.baseUrl is required for a mirakl marketplace: each operator runs its own Mirakl \
             instance (for example https://<operator>.mirakl.net), there is no default production URL",
        )?;
        let marketplace = MarketplaceName::try_from(config.marketplace.as_str())
            .map_err(|e| format!("marketplace name: {e}"))?;
        Self::new(
            base_url,
            &config.credentials_dir,
            marketplace,
            resilience,
            Duration::from_secs(60),
        )
    }

    pub fn new(
        base_url: &str,
        credentials_dir: &Path,
        marketplace: MarketplaceName,
        resilience: Arc<Resilience>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| format!("spec.endpoint.baseUrl {base_url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "spec.endpoint.baseUrl {base_url:?} must be an http(s) URL"
            ));
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: read_credential(credentials_dir, "api_key")?,
            marketplace,
            http: http_client(timeout)?,
            resilience,
            line_ids: Mutex::new(HashMap::new()),
            answered: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// One call of `operation` through its guard, with the API key.
    async fn call(
        &self,
        operation: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        send_guarded(
            &self.resilience,
            operation,
            1,
            || build().header(reqwest::header::AUTHORIZATION, &self.api_key),
            classify_status,
        )
        .await
    }

    async fn deliver_stock(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let file = render::stock_file(items);
        let sent: Vec<usize> = file.lines.iter().filter_map(|l| l.clone().ok()).collect();
        let mut results: Vec<Result<(), ConnectorError>> = file
            .lines
            .iter()
            .map(|l| l.clone().map(|_| ()).map_err(ConnectorError::permanent))
            .collect();
        if sent.is_empty() {
            return results;
        }
        let rejected = match self.import_stock(&file.csv).await {
            Ok(rejected) => rejected,
            Err(e) => {
                for (result, line) in results.iter_mut().zip(&file.lines) {
                    if line.is_ok() {
                        *result = Err(e.clone());
                    }
                }
                return results;
            }
        };
        for (result, line) in results.iter_mut().zip(&file.lines) {
            if let Ok(number) = line
                && let Some((_, message)) = rejected.iter().find(|(n, _)| n == number)
            {
                *result = Err(ConnectorError::permanent(format!(
                    "Mirakl rejected stock line {number}: {message}"
                )));
            }
        }
        results
    }

    /// STO01, then STO02 until the import ends, then STO03 when it has an error report: the lines in error.
    async fn import_stock(&self, csv: &str) -> Result<Vec<(usize, String)>, ConnectorError> {
        let boundary = format!("tradewind-{:016x}", fnv(csv.as_bytes()));
        let body = multipart_file(&boundary, "stock.csv", csv);
        let url = self.url("/api/offers/stock/imports");
        let response = self
            .call("STO01", || {
                self.http
                    .post(&url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(body.clone())
            })
            .await?;
        let created: ImportCreated = read_json(response, "the STO01 answer").await?;
        let import_id = match created.import_id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let status_url = self.url(&format!("/api/offers/stock/imports/{import_id}/status"));
        let mut status = None;
        for _ in 0..STATUS_READS {
            let response = self.call("STO02", || self.http.get(&status_url)).await?;
            let read: ImportStatus = read_json(response, "the STO02 answer").await?;
            if matches!(read.status.as_str(), "COMPLETE" | "FAILED") {
                status = Some(read);
                break;
            }
        }
        let status = status.ok_or_else(|| {
            ConnectorError::retryable(format!("stock import {import_id} is still running"))
        })?;
        if !status.has_error_report {
            return if status.status == "FAILED" {
                Err(ConnectorError::permanent(format!(
                    "stock import {import_id} failed without an error report"
                )))
            } else {
                Ok(Vec::new())
            };
        }
        let report_url = self.url(&format!(
            "/api/offers/stock/imports/{import_id}/error_report"
        ));
        let response = self.call("STO03", || self.http.get(&report_url)).await?;
        let report = response.text().await.map_err(|e| {
            ConnectorError::retryable(format!("reading the STO03 report: {}", without_url(&e)))
        })?;
        let lines = render::error_report_lines(&report);
        if status.status == "FAILED" && lines.iter().all(|(n, _)| *n < 2) {
            let message = lines.first().map(|l| l.1.clone()).unwrap_or_default();
            return Err(ConnectorError::permanent(format!(
                "stock import {import_id} failed: {message}"
            )));
        }
        Ok(lines)
    }

    async fn deliver_prices(&self, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let (body, placed) = render::offers_body(items);
        let mut results: Vec<Result<(), ConnectorError>> = placed
            .iter()
            .map(|p| p.clone().map(|_| ()).map_err(ConnectorError::permanent))
            .collect();
        if placed.iter().all(Result::is_err) {
            return results;
        }
        let url = self.url("/api/offers");
        if let Err(e) = self.call("OF24", || self.http.post(&url).json(&body)).await {
            for (result, p) in results.iter_mut().zip(&placed) {
                if p.is_ok() {
                    *result = Err(e.clone());
                }
            }
        }
        results
    }

    async fn deliver_order_update(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let order_id = item.key.as_str();
        let kind = item
            .fields
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        match kind {
            "accepted" | "rejected" => self.accept_lines(order_id, kind == "accepted").await,
            "cancelled" => {
                let url = self.url(&format!("/api/orders/{}/cancel", segment(order_id)));
                self.call("OR29", || self.http.put(&url)).await.map(|_| ())
            }
            other => Err(ConnectorError::permanent(format!(
                "field kind must be accepted, rejected or cancelled, got {other:?}"
            ))),
        }
    }

    /// OR21: every line of the order accepted, or every line refused; nothing when this connector already
    /// gave the order that answer.
    async fn accept_lines(&self, order_id: &str, accepted: bool) -> Result<(), ConnectorError> {
        let already = self
            .answered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(order_id)
            .copied();
        if already == Some(accepted) {
            return Ok(());
        }
        let lines = self.order_lines(order_id).await?;
        let body = json!({
            "order_lines": lines.iter().map(|id| json!({"accepted": accepted, "id": id})).collect::<Vec<_>>()
        });
        let url = self.url(&format!("/api/orders/{}/accept", segment(order_id)));
        self.call("OR21", || self.http.put(&url).json(&body))
            .await?;
        let mut answers = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() >= MAX_ANSWERED {
            answers.clear();
        }
        answers.insert(order_id.to_string(), accepted);
        Ok(())
    }

    /// The line ids of an order: from the orders read, else from OR11 by id.
    async fn order_lines(&self, order_id: &str) -> Result<Vec<String>, ConnectorError> {
        if let Some(lines) = self.lines_cache().get(order_id) {
            return Ok(lines.clone());
        }
        let url = self.url("/api/orders");
        let query = [("order_ids", order_id.to_string()), ("max", "1".into())];
        let response = self
            .call("OR11", || self.http.get(&url).query(&query))
            .await?;
        let page: OrderPage = read_json(response, "the OR11 answer").await?;
        let order = page.orders.first().ok_or_else(|| {
            ConnectorError::permanent(format!("order {order_id} is not known to Mirakl"))
        })?;
        let converted =
            orders::to_canonical(&self.marketplace, order).map_err(ConnectorError::permanent)?;
        self.lines_cache()
            .insert(order_id.to_string(), converted.line_ids.clone());
        Ok(converted.line_ids)
    }

    fn lines_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<String>>> {
        self.line_ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn deliver_shipment(&self, item: &OutboundItem) -> Result<(), ConnectorError> {
        let fields = &item.fields;
        let get = |f: &str| fields.get(f).and_then(Value::as_str).map(str::to_string);
        let carrier = get("carrier_code").or_else(|| get("carrier"));
        let tracking = get("tracking_number").or_else(|| get("trackingNumber"));
        let mut body = json!({});
        match (carrier, get("carrier_name")) {
            (Some(code), _) => body["carrier_code"] = json!(code),
            (None, Some(name)) => body["carrier_name"] = json!(name),
            (None, None) => {
                return Err(ConnectorError::permanent(
                    "field carrier (or carrier_code / carrier_name) is missing",
                ));
            }
        }
        if let Some(tracking) = tracking {
            body["tracking_number"] = json!(tracking);
        }
        if let Some(url) = get("carrier_url") {
            body["carrier_url"] = json!(url);
        }
        let order = segment(&item.key);
        let tracking_url = self.url(&format!("/api/orders/{order}/tracking"));
        match self
            .call("OR23", || self.http.put(&tracking_url).json(&body))
            .await
        {
            Ok(_) => {}
            // Mirakl takes tracking only once the order is accepted. The ERP's acceptance travels on its own
            // flow and can come after the shipment (a flash sale); a package the ERP shipped is an order it
            // accepted: accept it now and let the shipment be retried once Mirakl has moved the order on.
            Err(refused) if refused.kind == FailureKind::Permanent => {
                return match self.accept_lines(&item.key, true).await {
                    Ok(()) => Err(ConnectorError::retryable(format!(
                        "order {}: tracking refused while it awaited acceptance ({refused}); accepted it, the \
                         shipment follows",
                        item.key
                    ))),
                    Err(_) => Err(refused),
                };
            }
            Err(other) => return Err(other),
        }
        let ship_url = self.url(&format!("/api/orders/{order}/ship"));
        self.call("OR24", || self.http.put(&ship_url)).await?;
        Ok(())
    }

    async fn poll_orders(&self, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        let cursor = orders::Cursor::parse(cursor).map_err(ConnectorError::permanent)?;
        let mut query = vec![
            ("max", PAGE_SIZE.to_string()),
            ("offset", cursor.offset.to_string()),
        ];
        if let Some(since) = cursor.since {
            query.push((
                "start_update_date",
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ));
        }
        let url = self.url("/api/orders");
        let response = self
            .call("OR11", || self.http.get(&url).query(&query))
            .await?;
        let page: OrderPage = read_json(response, "the OR11 answer").await?;
        let mut records = Vec::with_capacity(page.orders.len());
        let mut newest = None;
        for order in &page.orders {
            // An order that cannot be read is a channel bug: stop here rather than skip it silently.
            let converted = orders::to_canonical(&self.marketplace, order)
                .map_err(ConnectorError::permanent)?;
            newest = newest.max(Some(converted.order.updated_at));
            self.lines_cache().insert(
                converted.order.order_id.to_string(),
                converted.line_ids.clone(),
            );
            records.push(Record::Order(Box::new(converted.order)));
        }
        let (next, more) = cursor.after_page(page.orders.len(), page.total_count, newest);
        Ok(PollPage {
            records,
            next_cursor: Some(next.render()),
            more,
        })
    }
}

/// An order id as one path segment.
fn segment(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

/// The multipart/form-data body of one `file` part.
pub fn multipart_file(boundary: &str, filename: &str, content: &str) -> Vec<u8> {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    )
    .into_bytes()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Connector for MiraklConnector {
    fn max_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory | Flow::Price => MAX_BATCH,
            _ => 100,
        }
    }

    /// A call a minute: every message the consumer may hand over at once goes in the next call.
    fn fetch_batch(&self, flow: Flow) -> usize {
        match flow {
            Flow::Inventory | Flow::Price => 1_000,
            _ => 500,
        }
    }

    async fn deliver(&self, flow: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        match flow {
            Flow::Inventory => self.deliver_stock(items).await,
            Flow::Price => self.deliver_prices(items).await,
            Flow::Orders | Flow::Shipments => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(if flow == Flow::Orders {
                        self.deliver_order_update(item).await
                    } else {
                        self.deliver_shipment(item).await
                    });
                }
                results
            }
            other => items
                .iter()
                .map(|_| {
                    Err(ConnectorError::permanent(format!(
                        "the Mirakl connector does not deliver the {other} flow"
                    )))
                })
                .collect(),
        }
    }

    async fn poll(&self, flow: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        match flow {
            Flow::Orders => self.poll_orders(cursor).await,
            // Returns (RT11) and settlements (TL02) are not read yet: nothing to report.
            _ => Ok(PollPage {
                records: Vec::new(),
                next_cursor: cursor.map(str::to_string),
                more: false,
            }),
        }
    }
}
