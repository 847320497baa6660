//! The inbound flows: orders (`getAllOrders`), returns (`getReturns`) and the reconciliation report
//! (`getReconReport`). Each keeps its place in a cursor the runtime stores after the page is published.

use std::collections::BTreeMap;

use channel_api::canonical::{CorrelationId, Record};
use channel_api::connector::{ConnectorError, FailureKind, PollPage, Rejected};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use crds::channel::Flow;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::recon::KnownOrder;
use crate::{WalmartConnector, encode, orders, recon, returns};

/// How far back the first poll of a new marketplace reads orders and returns.
const FIRST_POLL_LOOKBACK: chrono::Duration = chrono::Duration::days(7);
/// Walmart's largest orders page.
const ORDERS_PAGE: &str = "200";
/// Most orders (and refunds) kept in memory for reconciliation.
const KNOWN_ORDERS: usize = 200_000;
/// Rows per reconciliation report page.
const RECON_PAGE: usize = 1_000;

/// Where an orders or returns poll stands: records modified from `after`, and Walmart's `nextCursor` (a query
/// string) while paging.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    pub after: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn read_cursor(text: Option<&str>, what: &str) -> Result<Cursor, ConnectorError> {
    match text {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            ConnectorError::permanent(format!(
                "the stored {what} cursor is not Walmart's (value: {text:?}): {e}"
            ))
        }),
        None => Ok(Cursor {
            after: Utc::now() - FIRST_POLL_LOOKBACK,
            next: None,
        }),
    }
}

/// The cursor after a page: while paging the window stays; after the last page it moves to the newest
/// record seen (Walmart's start date is inclusive, so the newest is read again and dropped as a duplicate).
fn next_cursor(cursor: &Cursor, next: Option<String>, newest: DateTime<Utc>) -> Option<String> {
    let after = if next.is_some() { cursor.after } else { newest };
    serde_json::to_string(&Cursor { after, next }).ok()
}

/// The query string of `nextCursor` as pairs (Walmart gives `?limit=200&hasMoreElements=true&...`).
fn cursor_query(next: &str) -> Vec<(String, String)> {
    next.trim_start_matches('?')
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl WalmartConnector {
    /// The records of one order as `getAllOrders` gives it (its total remembered for reconciliation).
    fn read_order(&self, order: &Value) -> Result<Vec<Record>, String> {
        let mapped = orders::to_records(order, &self.marketplace)?;
        for record in &mapped {
            if let Record::Order(o) = record {
                self.remember_order(o.order_id.as_str(), o.totals.total.amount);
            }
        }
        Ok(mapped)
    }

    /// The record of one return as `getReturns` gives it (its refund remembered for reconciliation).
    fn read_return(&self, ret: &Value) -> Result<Record, String> {
        let record = returns::to_record(ret, &self.marketplace)?;
        if let Record::Return(r) = &record
            && let Some(refund) = &r.refund
        {
            let mut refunds = self.refunds.lock().unwrap_or_else(|e| e.into_inner());
            refunds.insert((r.order_id.to_string(), r.return_id.clone()), refund.amount);
            while refunds.len() > KNOWN_ORDERS {
                refunds.pop_first();
            }
        }
        Ok(record)
    }

    /// An order or return dead-lettered as Walmart gave it, read again.
    pub(crate) fn reread(&self, flow: Flow, raw: &[u8]) -> Result<Vec<Record>, String> {
        let value: Value =
            serde_json::from_slice(raw).map_err(|e| format!("the dead letter is not JSON: {e}"))?;
        match flow {
            Flow::Orders => self.read_order(&value),
            Flow::Returns => self.read_return(&value).map(|r| vec![r]),
            other => Err(format!(
                "a Walmart {other} dead letter holds no record to read again"
            )),
        }
    }

    /// One page of orders. A malformed order is returned as rejected, with what is wrong, so the runtime
    /// dead-letters it before the cursor moves past it.
    pub(crate) async fn poll_orders(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let cursor = read_cursor(cursor, "orders")?;
        let query: Vec<(String, String)> = match &cursor.next {
            Some(next) => cursor_query(next),
            None => vec![
                ("lastModifiedStartDate".into(), rfc3339(cursor.after)),
                ("limit".into(), ORDERS_PAGE.into()),
            ],
        };
        let url = self.url("/v3/orders");
        let answer = self
            .call_json("getAllOrders", &self.new_correlation("orders"), || {
                self.http.get(&url).query(&query)
            })
            .await
            .or_else(nothing_found)?;
        let mut records = Vec::new();
        let mut rejected = Vec::new();
        let mut newest = cursor.after;
        for order in orders::orders_of(&answer) {
            let modified = orders::last_modified(&order);
            if let Some(t) = modified {
                newest = newest.max(t);
            }
            match self.read_order(&order) {
                Ok(mapped) => records.extend(mapped),
                Err(reason) => rejected.push(self.rejected_order(&order, modified, reason)?),
            }
        }
        let next = orders::next_cursor(&answer);
        let more = next.is_some();
        Ok((
            PollPage {
                records,
                next_cursor: next_cursor(&cursor, next, newest),
                more,
            },
            rejected,
        ))
    }

    fn rejected_order(
        &self,
        order: &Value,
        modified: Option<DateTime<Utc>>,
        reason: String,
    ) -> Result<Rejected, ConnectorError> {
        let id = order
            .get("purchaseOrderId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string();
        // The id is Walmart's text and may be anything; the marketplace name alone is a valid fallback.
        let correlation = CorrelationId::try_from(format!("{}:{id}", self.marketplace).as_str())
            .or_else(|_| CorrelationId::try_from(self.marketplace.as_str()))
            .map_err(ConnectorError::permanent);
        Ok(Rejected {
            key: id.clone(),
            // Stable across re-polls of the same unchanged order.
            id: format!(
                "{}:order-invalid:{id}:{}",
                self.marketplace,
                modified.map(|t| t.timestamp_millis()).unwrap_or_default()
            ),
            correlation_id: correlation?,
            payload: order.clone(),
            reason: format!("Walmart order cannot be read: {reason}"),
        })
    }

    /// Keeps what the buyer was charged for reconciliation. The memory is bounded: past
    /// [`KNOWN_ORDERS`] the lowest ids (Walmart's purchase order ids grow over time) are forgotten, and a
    /// settlement that names them reads them back from Walmart.
    fn remember_order(&self, order: &str, charged: Decimal) {
        let mut known = self.known_orders.lock().unwrap_or_else(|e| e.into_inner());
        known.entry(order.to_string()).or_default().charged = charged;
        while known.len() > KNOWN_ORDERS {
            known.pop_first();
        }
    }

    /// One page of returns, modified from the cursor's time; a malformed return is rejected (dead-lettered).
    pub(crate) async fn poll_returns(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let cursor = read_cursor(cursor, "returns")?;
        let query: Vec<(String, String)> = match &cursor.next {
            Some(next) => cursor_query(next),
            None => vec![
                ("returnLastModifiedStartDate".into(), rfc3339(cursor.after)),
                ("limit".into(), ORDERS_PAGE.into()),
            ],
        };
        let url = self.url("/v3/returns");
        let answer = self
            .call_json("getReturns", &self.new_correlation("returns"), || {
                self.http.get(&url).query(&query)
            })
            .await
            .or_else(nothing_found)?;
        let mut records = Vec::new();
        let mut rejected = Vec::new();
        let mut newest = cursor.after;
        for ret in returns::returns_of(&answer) {
            let modified = ret
                .get("returnOrderLines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|l| l.get("statusTime").and_then(Value::as_str))
                .chain(ret.get("returnOrderDate").and_then(Value::as_str))
                .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .max();
            if let Some(t) = modified {
                newest = newest.max(t);
            }
            match self.read_return(&ret) {
                Ok(record) => records.push(record),
                Err(reason) => {
                    let id = ret
                        .get("returnOrderId")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("unknown")
                        .to_string();
                    rejected.push(Rejected {
                        key: id.clone(),
                        id: format!(
                            "{}:return-invalid:{id}:{}",
                            self.marketplace,
                            modified.map(|t| t.timestamp_millis()).unwrap_or_default()
                        ),
                        correlation_id: CorrelationId::try_from(
                            format!("{}:{id}", self.marketplace).as_str(),
                        )
                        .or_else(|_| CorrelationId::try_from(self.marketplace.as_str()))
                        .map_err(ConnectorError::permanent)?,
                        payload: ret.clone(),
                        reason: format!("Walmart return cannot be read: {reason}"),
                    });
                }
            }
        }
        let next = orders::next_cursor(&answer);
        let more = next.is_some();
        Ok((
            PollPage {
                records,
                next_cursor: next_cursor(&cursor, next, newest),
                more,
            },
            rejected,
        ))
    }

    /// The next reconciliation report after the cursor's report date (`MMDDYYYY`), as a settlement, with the
    /// amounts that do not match Tradewind's orders rejected (dead-lettered, naming both amounts).
    pub(crate) async fn poll_settlements(
        &self,
        cursor: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let correlation = self.new_correlation("recon");
        // The v1 report dates: reconFileJson serves "only v1 reports" (walmart-marketplace-reports.yml), and
        // the legacy listing also has dates from before the seller's v1 reports.
        let url = self.url("/v3/report/reconreport/availableReconFiles");
        let answer = self
            .call_json("getReconReport", &correlation, || {
                self.http.get(&url).query(&[("reportVersion", "v1")])
            })
            .await?;
        let done = cursor.and_then(parse_report_date);
        let mut dates: Vec<(NaiveDate, String)> = answer
            .get("availableApReportDates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|d| parse_report_date(d).map(|date| (date, d.to_string())))
            .filter(|(date, _)| done.is_none_or(|done| *date > done))
            .collect();
        dates.sort();
        let Some((_, report_date)) = dates.first().cloned() else {
            return Ok((
                PollPage {
                    records: Vec::new(),
                    next_cursor: cursor.map(str::to_string),
                    more: false,
                },
                Vec::new(),
            ));
        };
        let rows = self.report_rows(&report_date, &correlation).await?;
        let report = recon::to_settlement(&rows, &report_date, &self.marketplace)
            .map_err(ConnectorError::permanent)?;
        let known = self.known_for(&report.settlement).await?;
        let settlement = &report.settlement;
        let mut rejected: Vec<Rejected> = recon::reconcile(settlement, &known)
            .into_iter()
            .map(|m| Rejected {
                key: settlement.settlement_id.clone(),
                id: format!(
                    "{}:settlement-exception:{}:{}:{}",
                    self.marketplace, settlement.settlement_id, m.order_id, m.what
                ),
                correlation_id: settlement.correlation_id.clone(),
                payload: json!({
                    "settlementId": settlement.settlement_id,
                    "orderId": m.order_id,
                    "lines": settlement.lines.iter()
                        .filter(|l| l.order_id.as_ref().is_some_and(|o| o.as_str() == m.order_id))
                        .collect::<Vec<_>>(),
                }),
                reason: m.reason(),
            })
            .collect();
        if report.total_payable != settlement.total {
            rejected.push(Rejected {
                key: settlement.settlement_id.clone(),
                id: format!(
                    "{}:settlement-exception:{}:total",
                    self.marketplace, settlement.settlement_id
                ),
                correlation_id: settlement.correlation_id.clone(),
                payload: json!({"settlementId": settlement.settlement_id}),
                reason: format!(
                    "settlement exception: report {report_date} Total Payable is {} {} by Walmart but its amounts add up to {} {}",
                    report.total_payable.amount,
                    report.total_payable.currency,
                    settlement.total.amount,
                    settlement.total.currency
                ),
            });
        }
        Ok((
            PollPage {
                records: vec![Record::Settlement(report.settlement)],
                next_cursor: Some(report_date),
                more: dates.len() > 1,
            },
            rejected,
        ))
    }

    /// Every row of one report, page by page.
    async fn report_rows(
        &self,
        report_date: &str,
        correlation: &str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let url = self.url("/v3/report/reconreport/reconFileJson");
        let mut rows = Vec::new();
        loop {
            let offset = rows.len().to_string();
            let page_size = RECON_PAGE.to_string();
            let answer = self
                .call_json("getReconReport", correlation, || {
                    self.http.get(&url).query(&[
                        ("reportDate", report_date),
                        ("offset", offset.as_str()),
                        ("noOfRecords", page_size.as_str()),
                    ])
                })
                .await?;
            let page = answer
                .get("reportData")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let count = page.len();
            rows.extend(page);
            if count < RECON_PAGE {
                return Ok(rows);
            }
        }
    }

    /// What Tradewind knows of the settlement's orders: those the orders flow read, and for the others (read
    /// before a restart) the order as Walmart has it; an order Walmart does not know stays unknown.
    async fn known_for(
        &self,
        settlement: &channel_api::canonical::Settlement,
    ) -> Result<BTreeMap<String, KnownOrder>, ConnectorError> {
        let mut known = self
            .known_orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for order in recon::order_ids(settlement) {
            if known.contains_key(&order) {
                continue;
            }
            let url = self.url(&format!("/v3/orders/{}", encode(&order)));
            match self
                .call_json("getAnOrder", settlement.correlation_id.as_str(), || {
                    self.http.get(&url)
                })
                .await
            {
                Ok(answer) => {
                    let body = answer.get("order").unwrap_or(&answer);
                    if let Ok(charged) = orders::charged(body) {
                        known.entry(order).or_default().charged = charged.amount;
                    }
                }
                Err(e) if e.kind == FailureKind::Permanent => {}
                Err(e) => return Err(e),
            }
        }
        for ((order, _), refund) in self
            .refunds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if let Some(k) = known.get_mut(order) {
                // Refunds are negative in the report.
                k.refunded -= *refund;
            }
        }
        // Each refund counted once per call: the map above is a copy.
        Ok(known)
    }
}

/// Walmart answers a search that matches nothing with `404 CONTENT_NOT_FOUND` rather than an empty list: that
/// is an empty page (the cursor stays), not a failure.
fn nothing_found(error: ConnectorError) -> Result<Value, ConnectorError> {
    let not_found = error.is_status(reqwest::StatusCode::NOT_FOUND)
        && error.http().is_some_and(|answer| {
            crate::errors::codes(&answer.body).any(|c| c.starts_with("CONTENT_NOT_FOUND"))
        });
    if not_found { Ok(json!({})) } else { Err(error) }
}

/// Walmart's report dates: `MMDDYYYY`.
fn parse_report_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%m%d%Y").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: &str) -> ConnectorError {
        let body = json!({"errors": [{"code": code, "description": "from Walmart"}]}).to_string();
        let status = reqwest::StatusCode::from_u16(status).unwrap_or_default();
        ConnectorError::permanent(format!("{status} {code}")).with_http(
            channel_api::error::HttpFailure::new(status, [], &body, std::time::SystemTime::now()),
        )
    }

    /// An order or a return kept raw in a dead letter is read again as the poll reads it; one still malformed
    /// says why, and a flow without raw records refuses.
    #[test]
    fn a_dead_lettered_order_or_return_is_read_again() {
        let policy = serde_json::from_value(json!({"channel": "walmart"})).unwrap();
        let connector = WalmartConnector::new(
            crate::Settings {
                base_url: "http://127.0.0.1:9".into(),
                token_url: "http://127.0.0.1:9/v3/token".into(),
                client_id: "id".into(),
                client_secret: "secret".into(),
                timeout: std::time::Duration::from_secs(1),
                marketplace: "walmart-us".into(),
                rate_limits: policy,
                inventory_delivery: Default::default(),
                price_delivery: Default::default(),
                acknowledge: true,
                feed_first_check: std::time::Duration::from_secs(1),
                feed_timeout: std::time::Duration::from_secs(60),
            },
            std::sync::Arc::new(channel_api::resilience::Resilience::new(
                serde_json::from_value(json!({"channel": "walmart"})).unwrap(),
                1,
            )),
        )
        .unwrap();
        let order = crate::orders::tests::order().to_string();
        let records = connector.reread(Flow::Orders, order.as_bytes()).unwrap();
        assert!(
            matches!(&records[..], [Record::Order(o)] if o.order_id.as_str() == "1796277083022"),
            "{records:?}"
        );
        let ret = json!({"returnOrderId": "R-1", "returnOrderDate": "2026-11-28T10:00:00Z",
            "returnOrderLines": [{"purchaseOrderId": "PO-1", "purchaseOrderLineNumber": 1, "returnReason": "DAMAGED",
                "item": {"sku": "WM-1"}, "quantity": {"unitOfMeasure": "EACH", "measurementValue": 1.0},
                "status": "COMPLETED"}]});
        let records = connector
            .reread(Flow::Returns, ret.to_string().as_bytes())
            .unwrap();
        assert!(matches!(&records[..], [Record::Return(r)] if r.return_id == "R-1"));
        let mut broken = crate::orders::tests::order();
        broken["orderLines"]["orderLine"][0]["item"]
            .as_object_mut()
            .unwrap()
            .remove("sku");
        assert!(
            connector
                .reread(Flow::Orders, broken.to_string().as_bytes())
                .unwrap_err()
                .contains("sku"),
        );
        assert!(connector.reread(Flow::Settlements, b"{}").is_err());
    }

    #[test]
    fn a_search_that_finds_nothing_is_an_empty_page() {
        let none = answered(404, "CONTENT_NOT_FOUND.GMP_ORDER_API");
        assert_eq!(nothing_found(none).ok(), Some(json!({})));
        // Another 404, another code, or the same words without an answer are failures.
        assert!(nothing_found(answered(404, "NOT_FOUND.GMP_ITEM_API")).is_err());
        assert!(nothing_found(answered(400, "INVALID_REQUEST_PARAM.GMP_ORDER_API")).is_err());
        let words_only = ConnectorError::permanent("404 CONTENT_NOT_FOUND.GMP_ORDER_API");
        assert!(nothing_found(words_only).is_err());
        assert!(orders::orders_of(&json!({})).is_empty());
    }

    #[test]
    fn next_cursor_query_is_read_back() {
        assert_eq!(
            cursor_query(
                "?limit=200&hasMoreElements=true&soIndex=400&createdStartDate=2026-11-21T10%3A00%3A00Z"
            ),
            vec![
                ("limit".to_string(), "200".to_string()),
                ("hasMoreElements".to_string(), "true".to_string()),
                ("soIndex".to_string(), "400".to_string()),
                (
                    "createdStartDate".to_string(),
                    "2026-11-21T10:00:00Z".to_string()
                ),
            ]
        );
    }

    #[test]
    fn the_window_moves_only_after_the_last_page() {
        let start = Cursor {
            after: Utc::now() - chrono::Duration::days(1),
            next: None,
        };
        let newest = Utc::now();
        let paging = next_cursor(&start, Some("?x=1".into()), newest).unwrap_or_default();
        assert!(paging.contains("?x=1") && !paging.contains(&rfc3339(newest)));
        let done = next_cursor(&start, None, newest).unwrap_or_default();
        let back: Cursor = serde_json::from_str(&done).unwrap_or(start.clone());
        assert_eq!(back.after, newest);
        assert_eq!(
            parse_report_date("11272026"),
            NaiveDate::from_ymd_opt(2026, 11, 27)
        );
    }
}
