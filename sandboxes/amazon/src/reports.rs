//! Reports 2021-06-30: the returns report (`GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`) and the settlement
//! report (`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`), generated from the sandbox's orders and returns and
//! found with `getReports`, `getReport` and `getReportDocument` as on Amazon.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{errors, gate, json_response, query_map, record};
use crate::state::{PlacedOrder, PlacedReturn, ReportEntry, SettlementTweak, Shared};

type S = AxumState<Arc<Shared>>;

pub const RETURNS_REPORT: &str = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE";
pub const SETTLEMENT_REPORT: &str = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2";

const RETURNS_COLUMNS: [&str; 33] = [
    "Order ID",
    "Order date",
    "Return request date",
    "Return request status",
    "Amazon RMA ID",
    "Seller RMA ID",
    "Label type",
    "Label cost",
    "Currency code",
    "Return carrier",
    "Tracking ID",
    "Label to be paid by",
    "A-to-z claim",
    "Is prime",
    "ASIN",
    "Merchant SKU",
    "Item Name",
    "Return quantity",
    "Return reason",
    "In policy",
    "Return type",
    "Resolution",
    "Invoice number",
    "Return delivery date",
    "Order Amount",
    "Order quantity",
    "SafeT action reason",
    "SafeT claim id",
    "SafeT claim state",
    "SafeT claim creation time",
    "SafeT claim reimbursement amount",
    "Refunded Amount",
    "Category",
];

const SETTLEMENT_COLUMNS: [&str; 24] = [
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
];

/// A tab-delimited row with `cells` at their columns and the rest empty.
fn row(columns: &[&str], cells: &[(&str, String)]) -> String {
    columns
        .iter()
        .map(|c| {
            cells
                .iter()
                .find(|(k, _)| k == c)
                .map_or(String::new(), |(_, v)| v.clone())
        })
        .collect::<Vec<_>>()
        .join("\t")
}

/// The returns report of `returns` (their orders looked up in `orders`). Pure.
pub fn returns_report(returns: &[PlacedReturn], orders: &[PlacedOrder]) -> String {
    let mut out = vec![RETURNS_COLUMNS.join("\t")];
    for r in returns {
        let order = orders.iter().find(|o| o.order_id == r.order_id);
        out.push(row(
            &RETURNS_COLUMNS,
            &[
                ("Order ID", r.order_id.clone()),
                (
                    "Order date",
                    order.map_or(String::new(), |o| o.created.format("%Y-%m-%d").to_string()),
                ),
                (
                    "Return request date",
                    r.requested.to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
                ("Return request status", "Approved".into()),
                ("Amazon RMA ID", r.rma_id.clone()),
                ("Label type", "AmazonUnPaidLabel".into()),
                ("Currency code", "USD".into()),
                ("Label to be paid by", "Customer".into()),
                ("A-to-z claim", "N".into()),
                ("Is prime", "N".into()),
                ("Merchant SKU", r.sku.clone()),
                ("Item Name", format!("Sandbox item {}", r.sku)),
                ("Return quantity", r.quantity.to_string()),
                ("Return reason", r.reason.clone()),
                ("In policy", "Y".into()),
                ("Return type", "C-Returns".into()),
                ("Resolution", "StandardRefund".into()),
                (
                    "Order Amount",
                    order.map_or(String::new(), |o| order_total(o).to_string()),
                ),
                (
                    "Order quantity",
                    order.map_or(String::new(), |o| o.quantity.to_string()),
                ),
                ("Refunded Amount", r.refunded.clone()),
            ],
        ));
    }
    out.join("\n") + "\n"
}

fn order_total(order: &PlacedOrder) -> Decimal {
    order.unit_price.parse::<Decimal>().unwrap_or_default() * Decimal::from(order.quantity)
}

/// One amount of a settlement.
pub struct Amount {
    pub transaction: &'static str,
    pub order_id: Option<String>,
    pub sku: Option<String>,
    pub amount_type: &'static str,
    pub description: &'static str,
    pub amount: Decimal,
}

fn v2_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A settlement report (flat file V2): the summary row, then one row per amount. Pure.
pub fn settlement_report(
    id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    amounts: &[Amount],
) -> String {
    let total: Decimal = amounts.iter().map(|a| a.amount).sum();
    let mut out = vec![
        SETTLEMENT_COLUMNS.join("\t"),
        row(
            &SETTLEMENT_COLUMNS,
            &[
                ("settlement-id", id.to_string()),
                ("settlement-start-date", v2_time(start)),
                ("settlement-end-date", v2_time(end)),
                ("deposit-date", v2_time(end + Duration::days(2))),
                ("total-amount", total.to_string()),
                ("currency", "USD".into()),
            ],
        ),
    ];
    for a in amounts {
        out.push(row(
            &SETTLEMENT_COLUMNS,
            &[
                ("settlement-id", id.to_string()),
                ("transaction-type", a.transaction.to_string()),
                ("order-id", a.order_id.clone().unwrap_or_default()),
                ("marketplace-name", "Amazon.com".into()),
                ("amount-type", a.amount_type.to_string()),
                ("amount-description", a.description.to_string()),
                ("amount", a.amount.to_string()),
                ("fulfillment-id", "MFN".into()),
                ("posted-date", end.format("%Y-%m-%d").to_string()),
                ("posted-date-time", v2_time(end)),
                ("sku", a.sku.clone().unwrap_or_default()),
            ],
        ));
    }
    out.join("\n") + "\n"
}

/// Amazon's commission in the sandbox: 15% of the sale, 12% given back on a refund (it keeps a fifth).
fn commission(amount: Decimal, percent: i64) -> Decimal {
    (amount * Decimal::new(percent, 2)).round_dp(2)
}

impl Shared {
    /// The buyer returns `quantity` of an order, refunded in full; the RMA id, or `None` for an unknown order.
    pub fn return_order(&self, order_id: &str, quantity: i64, reason: &str) -> Option<String> {
        let rma = format!("D{:09}", self.next_id());
        let mut s = self.lock();
        let order = s.orders.iter().find(|o| o.order_id == order_id)?.clone();
        let refunded =
            order.unit_price.parse::<Decimal>().unwrap_or_default() * Decimal::from(quantity);
        s.returns.push(PlacedReturn {
            rma_id: rma.clone(),
            order_id: order_id.to_string(),
            sku: order.sku,
            quantity,
            reason: reason.to_string(),
            refunded: refunded.to_string(),
            requested: Utc::now(),
        });
        Some(rma)
    }

    fn add_report(
        &self,
        report_type: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        content: String,
    ) -> String {
        let report_id = self.next_id().to_string();
        let document_id = format!("amzn1.spdoc.1.4.na.{}", self.next_id());
        self.put_document(
            &document_id,
            "text/tab-separated-values; charset=UTF-8",
            Some(content.into_bytes()),
        );
        self.lock().reports.push(ReportEntry {
            report_id: report_id.clone(),
            report_type: report_type.to_string(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            created: Utc::now(),
            data_start: start,
            data_end: end,
            report_document_id: document_id,
        });
        report_id
    }

    /// A returns report requested with `createReport`: the returns asked for in `[start, end)`; its report id.
    pub fn request_returns_report(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        let content = {
            let s = self.lock();
            let returns: Vec<PlacedReturn> = s
                .returns
                .iter()
                .filter(|r| r.requested >= start && r.requested < end)
                .cloned()
                .collect();
            returns_report(&returns, &s.orders)
        };
        self.add_report(RETURNS_REPORT, start, end, content)
    }

    /// A returns report of the returns not reported yet; its report id.
    pub fn publish_returns_report(&self) -> String {
        let (content, start) = {
            let mut s = self.lock();
            let new: Vec<PlacedReturn> = s
                .returns
                .iter()
                .filter(|r| !s.reported_returns.contains(&r.rma_id))
                .cloned()
                .collect();
            s.reported_returns
                .extend(new.iter().map(|r| r.rma_id.clone()));
            let start = new
                .iter()
                .map(|r| r.requested)
                .min()
                .unwrap_or_else(Utc::now);
            (returns_report(&new, &s.orders), start)
        };
        self.add_report(RETURNS_REPORT, start, Utc::now(), content)
    }

    /// Writes `principal` as the Principal of `order_id` in the next settlement (an order the sandbox does not
    /// have is settled as an unknown order).
    pub fn tweak_settlement(&self, order_id: &str, principal: &str) {
        self.lock().settlement_tweaks.push(SettlementTweak {
            order_id: order_id.to_string(),
            principal: principal.to_string(),
        });
    }

    /// Closes the settlement period: every order and return not settled yet, a subscription fee, and the
    /// tweaks; its report id.
    pub fn close_settlement(&self) -> String {
        // Periods end on a whole second, as the report writes them: the next one after now.
        let now = Utc::now();
        let now = now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
            + Duration::seconds(1);
        let (content, start) = {
            let mut s = self.lock();
            let start = s
                .settled_until
                .or_else(|| s.orders.iter().map(|o| o.created).min())
                .unwrap_or(now - Duration::days(14));
            let tweaks = std::mem::take(&mut s.settlement_tweaks);
            let principal_of = |order: &PlacedOrder| {
                tweaks
                    .iter()
                    .find(|t| t.order_id == order.order_id)
                    .and_then(|t| t.principal.parse().ok())
                    .unwrap_or_else(|| order_total(order))
            };
            let mut amounts = Vec::new();
            let orders: Vec<PlacedOrder> = s
                .orders
                .iter()
                .filter(|o| o.status != "CANCELLED" && !s.settled_orders.contains(&o.order_id))
                .cloned()
                .collect();
            for order in &orders {
                let line = |amount_type, description, amount| Amount {
                    transaction: "Order",
                    order_id: Some(order.order_id.clone()),
                    sku: Some(order.sku.clone()),
                    amount_type,
                    description,
                    amount,
                };
                amounts.push(line("ItemPrice", "Principal", principal_of(order)));
                amounts.push(line(
                    "ItemFees",
                    "Commission",
                    -commission(order_total(order), 15),
                ));
            }
            for tweak in tweaks
                .iter()
                .filter(|t| !s.orders.iter().any(|o| o.order_id == t.order_id))
            {
                amounts.push(Amount {
                    transaction: "Order",
                    order_id: Some(tweak.order_id.clone()),
                    sku: Some("TW-UNKNOWN".into()),
                    amount_type: "ItemPrice",
                    description: "Principal",
                    amount: tweak.principal.parse().unwrap_or_default(),
                });
            }
            let returns: Vec<PlacedReturn> = s
                .returns
                .iter()
                .filter(|r| !s.settled_returns.contains(&r.rma_id))
                .cloned()
                .collect();
            for r in &returns {
                let refunded: Decimal = r.refunded.parse().unwrap_or_default();
                let line = |amount_type, description, amount| Amount {
                    transaction: "Refund",
                    order_id: Some(r.order_id.clone()),
                    sku: Some(r.sku.clone()),
                    amount_type,
                    description,
                    amount,
                };
                amounts.push(line("ItemPrice", "Principal", -refunded));
                amounts.push(line("ItemFees", "Commission", commission(refunded, 12)));
            }
            amounts.push(Amount {
                transaction: "other-transaction",
                order_id: None,
                sku: None,
                amount_type: "other-transaction",
                description: "Subscription Fee",
                amount: Decimal::new(-3999, 2),
            });
            s.settled_orders
                .extend(orders.iter().map(|o| o.order_id.clone()));
            s.settled_returns
                .extend(returns.iter().map(|r| r.rma_id.clone()));
            s.settled_until = Some(now);
            let id = format!("{}", 11_000_000_000u64 + self.next_id());
            (settlement_report(&id, start, now, &amounts), start)
        };
        self.add_report(SETTLEMENT_REPORT, start, now, content)
    }
}

/// A report as the model's `Report` definition.
pub fn report_json(report: &ReportEntry) -> Value {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({
        "reportId": report.report_id,
        "reportType": report.report_type,
        "marketplaceIds": report.marketplace_ids,
        "createdTime": at(report.created),
        "processingStatus": "DONE",
        "processingStartTime": at(report.created),
        "processingEndTime": at(report.created),
        "dataStartTime": at(report.data_start),
        "dataEndTime": at(report.data_end),
        "reportDocumentId": report.report_document_id,
    })
}

fn list_reports(state: &Shared, params: &HashMap<String, String>) -> Response {
    // A next token carries the query it continues: offset~types~since~statuses.
    let continued: Option<Vec<String>> = params
        .get("nextToken")
        .map(|t| t.split('~').map(str::to_string).collect());
    let (offset, types, since, statuses) = match &continued {
        Some(parts) if parts.len() == 4 => match parts[0].parse::<usize>() {
            Ok(offset) => (offset, parts[1].clone(), parts[2].clone(), parts[3].clone()),
            Err(_) => return errors(StatusCode::BAD_REQUEST, "InvalidInput", "Invalid nextToken"),
        },
        Some(_) => return errors(StatusCode::BAD_REQUEST, "InvalidInput", "Invalid nextToken"),
        None => match params.get("reportTypes") {
            None => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "reportTypes is required unless nextToken is given",
                );
            }
            Some(types) => (
                0,
                types.clone(),
                params.get("createdSince").cloned().unwrap_or_default(),
                params
                    .get("processingStatuses")
                    .cloned()
                    .unwrap_or_default(),
            ),
        },
    };
    let since = if since.is_empty() {
        Utc::now() - Duration::days(90)
    } else {
        match DateTime::parse_from_rfc3339(&since) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    &format!("createdSince is not an ISO 8601 date-time: {since}"),
                );
            }
        }
    };
    if !statuses.is_empty() && !statuses.split(',').any(|s| s == "DONE") {
        return json_response(StatusCode::OK, json!({ "reports": [] }));
    }
    let page_size = params
        .get("pageSize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let wanted: Vec<&str> = types.split(',').collect();
    let s = state.lock();
    let mut matching: Vec<&ReportEntry> = s
        .reports
        .iter()
        .filter(|r| wanted.contains(&r.report_type.as_str()) && r.created >= since)
        .collect();
    // Newest first, as Amazon lists them.
    matching.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then(b.report_id.cmp(&a.report_id))
    });
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|r| report_json(r))
        .collect();
    let mut body = json!({ "reports": page });
    if offset + page_size < matching.len() {
        let statuses = if statuses.is_empty() {
            String::new()
        } else {
            statuses
        };
        body["nextToken"] = json!(format!(
            "{}~{types}~{}~{statuses}",
            offset + page_size,
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    json_response(StatusCode::OK, body)
}

pub async fn get_reports(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReports";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => list_reports(&state, &query_map(&query)),
    };
    record(
        &state,
        OP,
        Method::GET,
        "/reports/2021-06-30/reports".into(),
        query,
        b"",
        response,
    )
}

pub async fn create_report(AxumState(state): S, headers: HeaderMap, body: Bytes) -> Response {
    const OP: &str = "createReport";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => request_report(&state, &body),
    };
    record(
        &state,
        OP,
        Method::POST,
        "/reports/2021-06-30/reports".into(),
        None,
        &body,
        response,
    )
}

fn request_report(state: &Shared, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Request body is not valid JSON",
        );
    };
    let marketplaces = request
        .get("marketplaceIds")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if !(1..=25).contains(&marketplaces) {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "marketplaceIds needs 1 to 25 marketplace ids",
        );
    }
    let now = Utc::now();
    let time = |name: &str| -> Result<DateTime<Utc>, String> {
        match request.get(name).and_then(Value::as_str) {
            None => Ok(now),
            Some(text) => match DateTime::parse_from_rfc3339(text) {
                Ok(t) if t.with_timezone(&Utc) <= now => Ok(t.with_timezone(&Utc)),
                _ => Err(format!(
                    "{name} must be an ISO 8601 date-time not after now (value: {text})"
                )),
            },
        }
    };
    let (start, end) = match (time("dataStartTime"), time("dataEndTime")) {
        (Ok(start), Ok(end)) if start <= end => (start, end),
        (Err(e), _) | (_, Err(e)) => {
            return errors(StatusCode::BAD_REQUEST, "InvalidInput", &e);
        }
        _ => {
            return errors(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                "dataStartTime is after dataEndTime",
            );
        }
    };
    match request.get("reportType").and_then(Value::as_str) {
        Some(RETURNS_REPORT) => {
            let id = state.request_returns_report(start, end);
            json_response(StatusCode::ACCEPTED, json!({ "reportId": id }))
        }
        // Amazon generates settlement reports itself; they cannot be requested.
        Some(SETTLEMENT_REPORT) => errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Report type GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 cannot be requested",
        ),
        Some(other) => errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Report type {other} is not supported by the sandbox"),
        ),
        None => errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "reportType is required",
        ),
    }
}

pub async fn get_report(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReport";
    let path = format!("/reports/2021-06-30/reports/{id}");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.lock().reports.iter().find(|r| r.report_id == id) {
            Some(report) => json_response(StatusCode::OK, report_json(report)),
            None => errors(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Report {id} not found"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, None, b"", response)
}

pub async fn get_report_document(
    AxumState(state): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReportDocument";
    let path = format!("/reports/2021-06-30/documents/{id}");
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => match state.document(&id) {
            Some(_) if state.reports_compressed() => json_response(
                StatusCode::OK,
                json!({"reportDocumentId": id, "compressionAlgorithm": "GZIP",
                    "url": format!("http://{host}/_sandbox/documents/{id}/gzip")}),
            ),
            Some(_) => json_response(
                StatusCode::OK,
                json!({"reportDocumentId": id, "url": format!("http://{host}/_sandbox/documents/{id}")}),
            ),
            None => errors(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Report document {id} not found"),
            ),
        },
    };
    record(&state, OP, Method::GET, path, None, b"", response)
}

/// `{"orderId": "...", "quantity": 1, "reason": "..."}`: the buyer returns part of an order.
pub async fn sandbox_return(AxumState(state): S, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(order_id), Some(quantity)) = (
        request.get("orderId").and_then(Value::as_str),
        request
            .get("quantity")
            .and_then(Value::as_i64)
            .filter(|q| *q > 0),
    ) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "orderId (text) and quantity (positive integer) are required"}),
        );
    };
    let reason = request
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("NOT_AS_DESCRIBED");
    match state.return_order(order_id, quantity, reason) {
        Some(rma) => json_response(StatusCode::CREATED, json!({"rmaId": rma})),
        None => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no order {order_id}")}),
        ),
    }
}

/// Publishes a returns report (`/_sandbox/reports/returns`) or closes a settlement period
/// (`/_sandbox/reports/settlement`); answers the report id.
pub async fn sandbox_report(AxumState(state): S, Path(kind): Path<String>) -> Response {
    let id = match kind.as_str() {
        "returns" => state.publish_returns_report(),
        "settlement" => state.close_settlement(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    json_response(StatusCode::CREATED, json!({"reportId": id}))
}

/// `{"orderId": "...", "principal": "12.00"}`: the next settlement writes this Principal for the order.
pub async fn sandbox_settlement_tweak(AxumState(state): S, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    match (
        request.get("orderId").and_then(Value::as_str),
        request
            .get("principal")
            .and_then(Value::as_str)
            .filter(|p| p.parse::<Decimal>().is_ok()),
    ) {
        (Some(order_id), Some(principal)) => {
            state.tweak_settlement(order_id, principal);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "orderId (text) and principal (a decimal as text) are required"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settlement_report_has_the_summary_total_of_its_amounts() {
        let t = Utc::now();
        let text = settlement_report(
            "7",
            t,
            t,
            &[
                Amount {
                    transaction: "Order",
                    order_id: Some("1".into()),
                    sku: None,
                    amount_type: "ItemPrice",
                    description: "Principal",
                    amount: Decimal::new(1000, 2),
                },
                Amount {
                    transaction: "Order",
                    order_id: Some("1".into()),
                    sku: None,
                    amount_type: "ItemFees",
                    description: "Commission",
                    amount: Decimal::new(-150, 2),
                },
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].split('\t').count(), 24);
        assert_eq!(lines[1].split('\t').nth(4), Some("8.50"));
        assert_eq!(lines[2].split('\t').nth(14), Some("10.00"));
    }
}
