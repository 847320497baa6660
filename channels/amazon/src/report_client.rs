//! Returns and settlements from Amazon's reports. Returns: a returns report requested with `createReport` for
//! the window since the cursor and read once `getReport` says it is done. Settlements: the settlement reports
//! Amazon generates, found with `getReports` (done reports created since the cursor, oldest first, one per
//! poll). Both are downloaded with `getReportDocument` and parsed into canonical records; a settlement is
//! reconciled against the orders and refunds this connector knows, and every mismatch is handed back to the
//! flow to dead-letter as a settlement exception.

use std::collections::BTreeMap;

use channel_api::canonical::{CorrelationId, OrderId, Record, Settlement, SettlementLineKind};
use channel_api::connector::{ConnectorError, PollPage, Rejected};
use channel_api::connectors::http::{read_json, without_url};
use chrono::{DateTime, SecondsFormat, Utc};
use crds::channel::Flow;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::warn;

use crate::reconcile::{self, KnownOrder};
use crate::{AmazonConnector, encode, orders, returns_report, settlement_report};

/// How far back the first poll of a new marketplace looks for reports (Amazon keeps them 90 days).
const FIRST_POLL_LOOKBACK: chrono::Duration = chrono::Duration::days(30);

/// Where a report poll stands: reports created at or after `after`, except those in `done` (the ones created
/// exactly at `after` that were already read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportsCursor {
    pub after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
}

/// Where the returns poll stands: returns requested up to `after` are read; `requested` is the report asked
/// for the window from `after` to its `until`, while Amazon prepares it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnsCursor {
    pub after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<RequestedReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedReport {
    pub report_id: String,
    pub until: DateTime<Utc>,
}

/// A requested window ends this long before now: Amazon refuses a `dataEndTime` after its own clock.
const CLOCK_MARGIN: chrono::Duration = chrono::Duration::seconds(2);

/// How far before a settlement period a refunded return may have been asked for.
const REFUND_LOOKBACK: chrono::Duration = chrono::Duration::days(60);
/// Waits between `getReport` calls for a report requested during a poll, doubling up to a minute; given up
/// after `REPORT_DEADLINE` (the poll fails and is tried again).
const REPORT_FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
const REPORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// One report as `getReports` lists it.
#[derive(Clone, Debug)]
struct Listed {
    id: String,
    created: DateTime<Utc>,
    document: String,
}

/// What the connector knows of the orders it has seen: the charged total per order id, and each order's
/// refunds by return id (so a return read twice counts once).
#[derive(Debug, Default)]
pub struct Knowledge {
    pub charged: BTreeMap<String, Decimal>,
    pub refunds: BTreeMap<String, BTreeMap<String, Decimal>>,
}

impl Knowledge {
    /// What `reconcile` compares against: orders with a known charge, their refunds negative.
    pub fn known_orders(&self) -> BTreeMap<String, KnownOrder> {
        self.charged
            .iter()
            .map(|(order, charged)| {
                let refunded: Decimal = self
                    .refunds
                    .get(order)
                    .map(|r| r.values().copied().sum())
                    .unwrap_or_default();
                (
                    order.clone(),
                    KnownOrder {
                        charged: *charged,
                        // Negative, as the settlement writes refunds (and "0", never "-0").
                        refunded: Decimal::ZERO - refunded,
                    },
                )
            })
            .collect()
    }
}

fn correlation(marketplace: &str, what: &str) -> CorrelationId {
    CorrelationId::try_from(format!("{marketplace}:{what}"))
        .or_else(|_| CorrelationId::try_from(marketplace))
        .unwrap_or_else(|_| CorrelationId::try_from("amazon").unwrap_or_else(|_| unreachable!()))
}

impl AmazonConnector {
    /// Remembers an order's charged total (from the orders flow or `getOrder`).
    pub(crate) fn note_order(&self, record: &Record) {
        let mut known = self.knowledge.lock().unwrap_or_else(|p| p.into_inner());
        match record {
            Record::Order(order) => {
                known
                    .charged
                    .insert(order.order_id.to_string(), order.totals.total.amount);
            }
            // A cancelled order is charged nothing: a settlement of it is an exception.
            Record::OrderCancellation(c) => {
                known.charged.insert(c.order_id.to_string(), Decimal::ZERO);
            }
            _ => {}
        }
    }

    pub(crate) async fn poll_returns(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let cursor: ReturnsCursor = match cursor {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                ConnectorError::permanent(format!(
                    "the stored returns cursor is not Amazon's (value: {text:?}): {e}"
                ))
            })?,
            None => ReturnsCursor {
                after: Utc::now() - FIRST_POLL_LOOKBACK,
                requested: None,
            },
        };
        let page = |records: Vec<Record>, next: &ReturnsCursor| PollPage {
            records,
            next_cursor: serde_json::to_string(next).ok(),
            more: false,
        };
        let Some(requested) = &cursor.requested else {
            let until = Utc::now() - CLOCK_MARGIN;
            if until <= cursor.after {
                return Ok((page(Vec::new(), &cursor), Vec::new()));
            }
            let report_id = self.create_returns_report(cursor.after, until).await?;
            let next = ReturnsCursor {
                after: cursor.after,
                requested: Some(RequestedReport { report_id, until }),
            };
            return Ok((page(Vec::new(), &next), Vec::new()));
        };
        let url = format!(
            "{}/reports/2021-06-30/reports/{}",
            self.base_url,
            encode(&requested.report_id)
        );
        let response = self.call("getReport", |_| self.http.get(&url)).await?;
        let report: Value = read_json(response, "the getReport answer").await?;
        let status = report
            .get("processingStatus")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let read = ReturnsCursor {
            after: requested.until,
            requested: None,
        };
        match status {
            "DONE" => {
                let Some(document) = report.get("reportDocumentId").and_then(Value::as_str) else {
                    return Err(ConnectorError::retryable(format!(
                        "returns report {} is done without a reportDocumentId",
                        requested.report_id
                    )));
                };
                let mut rejected = Vec::new();
                let records = match self.download_report(document).await? {
                    Ok(text) => match returns_report::parse(&text, &self.marketplace) {
                        Ok(returns) => self.note_returns(returns),
                        Err(e) => {
                            rejected.push(self.unreadable(Flow::Returns, &requested.report_id, e));
                            Vec::new()
                        }
                    },
                    Err(e) => {
                        rejected.push(self.unreadable(Flow::Returns, &requested.report_id, e));
                        Vec::new()
                    }
                };
                Ok((page(records, &read), rejected))
            }
            // Amazon cancels a report that has no data: nothing was returned in the window.
            "CANCELLED" => Ok((page(Vec::new(), &read), Vec::new())),
            "FATAL" => {
                warn!(marketplace = %self.marketplace, report = %requested.report_id,
                    "Amazon could not produce the returns report; it is requested again");
                let again = ReturnsCursor {
                    after: cursor.after,
                    requested: None,
                };
                Ok((page(Vec::new(), &again), Vec::new()))
            }
            // IN_QUEUE, IN_PROGRESS: read again at the next poll.
            _ => Ok((page(Vec::new(), &cursor), Vec::new())),
        }
    }

    /// `createReport` for the returns requested from `after` to `until`; the report id.
    async fn create_returns_report(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<String, ConnectorError> {
        let url = format!("{}/reports/2021-06-30/reports", self.base_url);
        let spec = json!({
            "reportType": returns_report::REPORT_TYPE,
            "marketplaceIds": [self.marketplace_id],
            "dataStartTime": after.to_rfc3339_opts(SecondsFormat::Millis, true),
            "dataEndTime": until.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        let response = self
            .call("createReport", |_| self.http.post(&url).json(&spec))
            .await?;
        let created: Value = read_json(response, "the createReport answer").await?;
        created
            .get("reportId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ConnectorError::retryable(format!(
                    "the createReport answer has no reportId (body: {created})"
                ))
            })
    }

    /// The returns asked for between `start` and `end`, from a returns report requested now and waited for.
    async fn returns_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<channel_api::canonical::Return>, ConnectorError> {
        let report_id = self.create_returns_report(start, end).await?;
        let url = format!(
            "{}/reports/2021-06-30/reports/{}",
            self.base_url,
            encode(&report_id)
        );
        let started = std::time::Instant::now();
        let mut wait = REPORT_FIRST_WAIT;
        loop {
            let response = self.call("getReport", |_| self.http.get(&url)).await?;
            let report: Value = read_json(response, "the getReport answer").await?;
            match report.get("processingStatus").and_then(Value::as_str) {
                Some("DONE") => {
                    let document = report
                        .get("reportDocumentId")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let text = self.download_report(document).await?.map_err(|e| {
                        ConnectorError::permanent(format!("returns report {report_id}: {e}"))
                    })?;
                    return returns_report::parse(&text, &self.marketplace).map_err(|e| {
                        ConnectorError::permanent(format!("returns report {report_id}: {e}"))
                    });
                }
                Some("CANCELLED") => return Ok(Vec::new()),
                Some("FATAL") => {
                    return Err(ConnectorError::retryable(format!(
                        "Amazon could not produce returns report {report_id}"
                    )));
                }
                _ if started.elapsed() > REPORT_DEADLINE => {
                    return Err(ConnectorError::retryable(format!(
                        "returns report {report_id} is not done after {} s",
                        REPORT_DEADLINE.as_secs()
                    )));
                }
                _ => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(60));
                }
            }
        }
    }

    /// Remembers the refunds of returns read, for reconciliation; the returns as records.
    fn note_returns(&self, returns: Vec<channel_api::canonical::Return>) -> Vec<Record> {
        let mut known = self.knowledge.lock().unwrap_or_else(|p| p.into_inner());
        for r in &returns {
            if let Some(refund) = r.refund {
                known
                    .refunds
                    .entry(r.order_id.to_string())
                    .or_default()
                    .insert(r.return_id.clone(), refund.amount);
            }
        }
        returns.into_iter().map(Record::Return).collect()
    }

    pub(crate) async fn poll_settlements(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let flow = Flow::Settlements;
        let report_type = settlement_report::REPORT_TYPE;
        let cursor: ReportsCursor = match cursor {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                ConnectorError::permanent(format!(
                    "the stored {flow} cursor is not Amazon's (value: {text:?}): {e}"
                ))
            })?,
            None => ReportsCursor {
                after: Utc::now() - FIRST_POLL_LOOKBACK,
                done: Vec::new(),
            },
        };
        let mut pending: Vec<Listed> = self
            .list_reports(report_type, cursor.after)
            .await?
            .into_iter()
            .filter(|r| {
                r.created > cursor.after
                    || (r.created == cursor.after && !cursor.done.contains(&r.id))
            })
            .collect();
        pending.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        let Some(report) = pending.first().cloned() else {
            return Ok((
                PollPage {
                    records: Vec::new(),
                    next_cursor: serde_json::to_string(&cursor).ok(),
                    more: false,
                },
                Vec::new(),
            ));
        };
        let mut rejected = Vec::new();
        let records = match self.download_report(&report.document).await? {
            Err(unreadable) => {
                rejected.push(self.unreadable(flow, &report.id, unreadable));
                Vec::new()
            }
            Ok(text) => match settlement_report::parse(&text, &self.marketplace) {
                Ok(parsed) => {
                    rejected.extend(self.settlement_exceptions(&parsed).await?);
                    vec![Record::Settlement(parsed.settlement)]
                }
                Err(e) => {
                    rejected.push(self.unreadable(flow, &report.id, e));
                    Vec::new()
                }
            },
        };
        let done = if report.created == cursor.after {
            let mut done = cursor.done.clone();
            done.push(report.id.clone());
            done
        } else {
            vec![report.id.clone()]
        };
        let next = ReportsCursor {
            after: report.created,
            done,
        };
        Ok((
            PollPage {
                records,
                next_cursor: serde_json::to_string(&next).ok(),
                more: pending.len() > 1,
            },
            rejected,
        ))
    }

    /// A report that cannot be read goes to a person; the poll moves on.
    fn unreadable(&self, flow: Flow, report_id: &str, why: String) -> Rejected {
        Rejected {
            key: report_id.to_string(),
            id: format!("{}:{flow}:report:{report_id}", self.marketplace),
            correlation_id: correlation(&self.marketplace, &format!("report-{report_id}")),
            payload: json!({ "reportId": report_id }),
            reason: format!("Amazon {flow} report {report_id} cannot be read: {why}"),
        }
    }

    /// Every done report of `report_type` created since `after`, through all pages.
    async fn list_reports(
        &self,
        report_type: &str,
        after: DateTime<Utc>,
    ) -> Result<Vec<Listed>, ConnectorError> {
        let url = format!("{}/reports/2021-06-30/reports", self.base_url);
        let since = after.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut token: Option<String> = None;
        let mut out = Vec::new();
        loop {
            let query: Vec<(&str, &str)> = match &token {
                // A next token is the only parameter of the next page.
                Some(token) => vec![("nextToken", token.as_str())],
                None => vec![
                    ("reportTypes", report_type),
                    ("processingStatuses", "DONE"),
                    ("createdSince", since.as_str()),
                    ("pageSize", "100"),
                ],
            };
            let response = self
                .call("getReports", |_| self.http.get(&url).query(&query))
                .await?;
            let answer: Value = read_json(response, "the getReports answer").await?;
            for report in answer
                .get("reports")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let field = |name: &str| report.get(name).and_then(Value::as_str);
                let (Some(id), Some(created), Some(document), Some("DONE")) = (
                    field("reportId"),
                    field("createdTime").and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
                    field("reportDocumentId"),
                    field("processingStatus"),
                ) else {
                    continue;
                };
                out.push(Listed {
                    id: id.to_string(),
                    created: created.with_timezone(&Utc),
                    document: document.to_string(),
                });
            }
            token = answer
                .get("nextToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// A report document's text; `Ok(Err(why))` when Amazon serves it in a form this build does not read.
    async fn download_report(
        &self,
        document_id: &str,
    ) -> Result<Result<String, String>, ConnectorError> {
        let url = format!(
            "{}/reports/2021-06-30/documents/{}",
            self.base_url,
            encode(document_id)
        );
        let response = self
            .call("getReportDocument", |_| self.http.get(&url))
            .await?;
        let document: Value = read_json(response, "the getReportDocument answer").await?;
        let Some(link) = document.get("url").and_then(Value::as_str) else {
            return Err(ConnectorError::retryable(format!(
                "the getReportDocument answer has no url (body: {document})"
            )));
        };
        let response = self.http.get(link).send().await.map_err(|e| {
            ConnectorError::retryable(format!("report download: {}", without_url(&e)))
        })?;
        if !response.status().is_success() {
            return Err(ConnectorError::retryable(format!(
                "report download answered {}",
                response.status()
            )));
        }
        let bytes = response.bytes().await.map_err(|e| {
            ConnectorError::retryable(format!("report download: {}", without_url(&e)))
        })?;
        let compression = document.get("compressionAlgorithm").and_then(Value::as_str);
        let bytes = match crate::documents::decompress(compression, &bytes) {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Err(why)),
        };
        // Amazon writes flat files in UTF-8 (or Latin-1 in some marketplaces): unreadable bytes are replaced.
        Ok(Ok(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The settlement's exceptions: its lines against the orders and refunds known, orders not seen yet looked
    /// up with `getOrder`, and a report total the lines do not add up to.
    async fn settlement_exceptions(
        &self,
        parsed: &settlement_report::Parsed,
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let settlement = &parsed.settlement;
        let unseen: Vec<String> = {
            let known = self.knowledge.lock().unwrap_or_else(|p| p.into_inner());
            let mut ids: Vec<String> = settlement
                .lines
                .iter()
                .filter_map(|l| l.order_id.as_ref().map(OrderId::to_string))
                .filter(|id| !known.charged.contains_key(id))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        for order_id in unseen {
            if let Some(record) = self.get_order(&order_id).await? {
                self.note_order(&record);
            }
        }
        let refunds_unknown = {
            let known = self.knowledge.lock().unwrap_or_else(|p| p.into_inner());
            settlement.lines.iter().any(|l| {
                l.kind == SettlementLineKind::Refund
                    && l.order_id
                        .as_ref()
                        .is_some_and(|o| !known.refunds.contains_key(o.as_str()))
            })
        };
        if refunds_unknown {
            // Refunds of returns this connector has not read (the returns flow is off, or they were read
            // before a restart): Amazon's returns report over the settlement period tells them.
            let start = settlement.period_start - REFUND_LOOKBACK;
            let end = settlement.period_end.min(Utc::now());
            let returns = self.returns_between(start, end).await?;
            self.note_returns(returns);
        }
        let known = self
            .knowledge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .known_orders();
        let mut out: Vec<Rejected> = reconcile::reconcile(settlement, &known)
            .into_iter()
            .map(|exception| {
                let lines: Vec<Value> = settlement
                    .lines
                    .iter()
                    .filter(|l| {
                        l.order_id.as_ref().map(OrderId::as_str) == Some(&exception.order_id)
                    })
                    .filter_map(|l| serde_json::to_value(l).ok())
                    .collect();
                Rejected {
                    key: settlement.settlement_id.clone(),
                    id: format!(
                        "{}:settlement:{}:{}:{}",
                        self.marketplace,
                        settlement.settlement_id,
                        exception.order_id,
                        exception.what
                    ),
                    correlation_id: correlation(&self.marketplace, &exception.order_id),
                    payload: json!({
                        "settlementId": settlement.settlement_id,
                        "orderId": exception.order_id,
                        "what": exception.what,
                        "settled": exception.settled,
                        "expected": exception.expected,
                        "lines": lines,
                    }),
                    reason: exception.reason(),
                }
            })
            .collect();
        if let Some(total) = parsed.reported_total {
            out.push(total_exception(&self.marketplace, settlement, total));
        }
        Ok(out)
    }

    /// One order from Amazon (Orders 2026-01-01 `getOrder`); `None` when Amazon does not know it.
    async fn get_order(&self, order_id: &str) -> Result<Option<Record>, ConnectorError> {
        let url = format!(
            "{}/orders/2026-01-01/orders/{}",
            self.base_url,
            encode(order_id)
        );
        let result = self
            // Orders 2026-01-01 getOrder takes the order id alone (`includedData` aside): no marketplaceIds.
            .call("getOrder", |_| self.http.get(&url))
            .await;
        let response = match result {
            Ok(response) => response,
            Err(e) if e.is_status(reqwest::StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let answer: Value = read_json(response, "the getOrder answer").await?;
        Ok(answer
            .get("order")
            .and_then(|order| orders::to_record(order, &self.marketplace).ok()))
    }
}

fn total_exception(marketplace: &str, settlement: &Settlement, reported: Decimal) -> Rejected {
    Rejected {
        key: settlement.settlement_id.clone(),
        id: format!(
            "{marketplace}:settlement:{}:total",
            settlement.settlement_id
        ),
        correlation_id: settlement.correlation_id.clone(),
        payload: json!({ "settlementId": settlement.settlement_id, "reportedTotal": reported.to_string(), "linesTotal": settlement.total }),
        reason: format!(
            "settlement exception: settlement {} reports a total of {reported} {} but its lines add up to {} {}",
            settlement.settlement_id,
            settlement.currency.as_str(),
            settlement.total.amount,
            settlement.currency.as_str()
        ),
    }
}
