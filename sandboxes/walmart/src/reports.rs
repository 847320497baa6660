//! Returns (`GET /v3/returns`, by `returnLastModifiedStartDate` with `nextCursor`) and the reconciliation
//! report (`availableReconFiles`, `reconFileJson` pages of rows).

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Number, Value, json};

use crate::api::{errors, form, gate, json_response, record};
use crate::state::Shared;

type S = AxumState<Arc<Shared>>;

fn number(amount: Decimal) -> Value {
    Number::from_str(&amount.round_dp(2).normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn decimal(value: Option<&Value>) -> Decimal {
    match value {
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string()).unwrap_or_default(),
        Some(Value::String(s)) => Decimal::from_str(s).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// A completed, refunded return of `quantity` of one line of an order; its returnOrderId.
pub fn add_return(
    state: &Shared,
    order_id: &str,
    line_number: &str,
    quantity: u32,
    refund: &str,
) -> Option<String> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let refund = Decimal::from_str(refund).ok()?;
    state.with(|s| {
        let order = s.orders.get(order_id)?;
        let line = order
            .pointer("/orderLines/orderLine")?
            .as_array()?
            .iter()
            .find(|l| l.get("lineNumber").and_then(Value::as_str) == Some(line_number))?;
        let sku = line.pointer("/item/sku")?.as_str()?.to_string();
        let number_of_line = line_number.parse::<i64>().unwrap_or(1);
        let id = format!("RET{}", s.returns.len() + 1_000);
        let ret = json!({
            "returnOrderId": id,
            "customerEmailId": order.get("customerEmailId"),
            "customerName": {"firstName": "Kathryn", "lastName": "Cole"},
            "customerOrderId": order.get("customerOrderId"),
            "returnOrderDate": now,
            "returnByDate": now,
            "refundMode": "ONLINE",
            "totalRefundAmount": {"currencyAmount": number(refund), "currencyUnit": "USD"},
            "returnOrderLines": [{
                "returnOrderLineNumber": 1,
                "salesOrderLineNumber": number_of_line,
                "purchaseOrderId": order_id,
                "purchaseOrderLineNumber": number_of_line,
                "returnReason": "DAMAGED",
                "item": {"sku": sku, "condition": "New", "productName": format!("Item {sku}")},
                "quantity": {"unitOfMeasure": "EACH", "measurementValue": quantity},
                "status": "COMPLETED",
                "statusTime": now,
                "currentDeliveryStatus": "DELIVERED",
                "currentRefundStatus": "REFUND_COMPLETED",
            }],
            "returnChannel": {"channelName": "ONLINE"},
        });
        s.returns.push(ret);
        Some(id)
    })
}

fn modified(ret: &Value) -> Option<DateTime<Utc>> {
    ret.pointer("/returnOrderLines/0/statusTime")
        .or_else(|| ret.get("returnOrderDate"))
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /v3/returns`.
pub async fn get_returns(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReturns";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => list_returns(&state, query.as_deref().unwrap_or_default()),
    };
    record(&state, OP, Method::GET, "/v3/returns", query, b"", response)
}

fn list_returns(state: &Shared, query: &str) -> Response {
    let params = form(query);
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAM.GMP_RETURNS_API",
            "limit",
            &format!("limit {limit} is not between 1 and 200"),
        );
    }
    let start = match params.get("returnLastModifiedStartDate") {
        None => None,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                return errors(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_PARAM.GMP_RETURNS_API",
                    "returnLastModifiedStartDate",
                    &format!("returnLastModifiedStartDate {text} is not a date-time: {e}"),
                );
            }
        },
    };
    let offset = params
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let matching: Vec<Value> = state.with(|s| {
        s.returns
            .iter()
            .filter(|r| start.is_none_or(|start| modified(r).is_some_and(|m| m >= start)))
            .cloned()
            .collect()
    });
    let total = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
    let next = if offset + limit < total {
        let start_text = params
            .get("returnLastModifiedStartDate")
            .map(|t| t.replace(':', "%3A").replace('+', "%2B"))
            .unwrap_or_default();
        format!(
            "?limit={limit}&offset={}&returnLastModifiedStartDate={start_text}",
            offset + limit
        )
    } else {
        String::new()
    };
    json_response(
        StatusCode::OK,
        json!({"meta": {"totalCount": total, "limit": limit, "nextCursor": next}, "returnOrders": page}),
    )
}

/// A report from the sandbox's orders and returns, dated `report_date` (`MMDDYYYY`): per order line its
/// product price, tax and shipping, a 15 % commission; per return its refund; the PaymentSummary row last.
pub fn generate_recon(state: &Shared, report_date: &str) {
    let end = NaiveDate::parse_from_str(report_date, "%m%d%Y")
        .unwrap_or_else(|_| Utc::now().date_naive());
    let start = end - chrono::Duration::days(7);
    let day = |d: NaiveDate| d.format("%m/%d/%Y").to_string();
    state.with(|s| {
        let mut rows = Vec::new();
        let mut total = Decimal::ZERO;
        let mut push = |rows: &mut Vec<Value>, transaction: &str, amount_type: &str, amount: Decimal, po: &str, sku: &str| {
            total += amount;
            rows.push(json!({
                "Transaction Type": transaction, "Amount Type": amount_type, "Amount": amount.round_dp(2).to_string(),
                "Purchase Order #": po, "Partner Item Id": sku, "Transaction Posted Timestamp": day(end),
                "Transaction Description": if transaction == "Refund" { "Refund" } else { "Purchase" },
                "Currency": "USD",
            }));
        };
        for (po, order) in &s.orders {
            let Some(lines) = order.pointer("/orderLines/orderLine").and_then(Value::as_array) else {
                continue;
            };
            for line in lines {
                let sku = line.pointer("/item/sku").and_then(Value::as_str).unwrap_or_default();
                for charge in line.pointer("/charges/charge").and_then(Value::as_array).into_iter().flatten() {
                    let amount = decimal(charge.pointer("/chargeAmount/amount"));
                    let tax = decimal(charge.pointer("/tax/taxAmount/amount"));
                    if charge.get("chargeType").and_then(Value::as_str) == Some("PRODUCT") {
                        push(&mut rows, "Sale", "Product Price", amount, po, sku);
                        push(&mut rows, "Sale", "Product tax", tax, po, sku);
                        push(&mut rows, "Sale", "Commission on Product", -(amount * Decimal::new(15, 2)).round_dp(2), po, sku);
                    } else {
                        push(&mut rows, "Sale", "Shipping Price", amount, po, sku);
                        if tax != Decimal::ZERO {
                            push(&mut rows, "Sale", "Shipping tax", tax, po, sku);
                        }
                    }
                }
            }
        }
        for ret in &s.returns {
            let po = ret.pointer("/returnOrderLines/0/purchaseOrderId").and_then(Value::as_str).unwrap_or_default();
            let sku = ret.pointer("/returnOrderLines/0/item/sku").and_then(Value::as_str).unwrap_or_default();
            let refund = decimal(ret.pointer("/totalRefundAmount/currencyAmount"));
            push(&mut rows, "Refund", "Product Price", -refund, po, sku);
        }
        rows.push(json!({
            "Period Start Date": day(start), "Period End Date": day(end), "Currency": "USD",
            "Transaction Type": "PaymentSummary", "Total Payable": total.round_dp(2).to_string(),
            "Transaction Description": "Deposited in account", "Transaction Posted Timestamp": day(end),
        }));
        s.recon_reports.insert(report_date.to_string(), rows);
    });
}

/// `GET /v3/report/reconreport/availableReconFiles[?reportVersion=v1]`: the v1 report dates, or (legacy,
/// without `reportVersion=v1`) every date with a legacy report, the legacy-only ones included.
pub async fn available_recon(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReconReport";
    let v1 = form(query.as_deref().unwrap_or_default())
        .get("reportVersion")
        .is_some_and(|v| v == "v1");
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => {
            let dates: Vec<String> = state.with(|s| {
                let mut dates: std::collections::BTreeSet<String> =
                    s.recon_reports.keys().cloned().collect();
                if !v1 {
                    dates.extend(s.legacy_recon_dates.iter().cloned());
                }
                dates.into_iter().collect()
            });
            json_response(StatusCode::OK, json!({"availableApReportDates": dates}))
        }
    };
    record(
        &state,
        OP,
        Method::GET,
        "/v3/report/reconreport/availableReconFiles",
        query,
        b"",
        response,
    )
}

/// `GET /v3/report/reconreport/reconFileJson?reportDate=&offset=&noOfRecords=`.
pub async fn recon_json(
    AxumState(state): S,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    const OP: &str = "getReconReport";
    let response = match gate(&state, OP, &headers).await {
        Some(response) => response,
        None => {
            let params = form(query.as_deref().unwrap_or_default());
            let missing = ["reportDate", "offset", "noOfRecords"]
                .into_iter()
                .find(|p| !params.contains_key(*p));
            match missing {
                Some(name) => errors(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST_PARAM.GMP_REPORT_API",
                    name,
                    &format!("Required query parameter {name} is missing"),
                ),
                None => {
                    let date = params.get("reportDate").cloned().unwrap_or_default();
                    let offset = params
                        .get("offset")
                        .and_then(|o| o.parse::<usize>().ok())
                        .unwrap_or(0);
                    let count = params
                        .get("noOfRecords")
                        .and_then(|o| o.parse::<usize>().ok())
                        .unwrap_or(0);
                    let legacy_only = state.with(|s| {
                        s.legacy_recon_dates.contains(&date) && !s.recon_reports.contains_key(&date)
                    });
                    if legacy_only {
                        state.controls.conformance.request_violation(
                            sandbox::CallRef {
                                operation: "getAvailableV1ReconReportAsJson",
                                method: "GET",
                                path: "/v3/report/reconreport/reconFileJson",
                                query: query.as_deref(),
                            },
                            404,
                            sandbox::Violation::of(
                                crate::conformance::RECON_JSON_V1_ONLY,
                                "query.reportDate",
                                format!(
                                    "the report of {date} is a legacy report; reconFileJson is available only for v1 reports (find their dates with availableReconFiles?reportVersion=v1)"
                                ),
                            ),
                        );
                    }
                    match state.with(|s| s.recon_reports.get(&date).cloned()) {
                        None => errors(
                            StatusCode::NOT_FOUND,
                            "CONTENT_NOT_FOUND.GMP_REPORT_API",
                            "reportDate",
                            &format!("No reconciliation report for {date}"),
                        ),
                        Some(rows) => {
                            let page: Vec<Value> =
                                rows.iter().skip(offset).take(count).cloned().collect();
                            json_response(
                                StatusCode::OK,
                                json!({"reportData": page, "nextOffset": offset + page.len(),
                                    "totalRecords": page.len(),
                                    "description": format!("Number of Lines in file {}", rows.len())}),
                            )
                        }
                    }
                }
            }
        }
    };
    record(
        &state,
        OP,
        Method::GET,
        "/v3/report/reconreport/reconFileJson",
        query,
        b"",
        response,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxReturn {
    purchase_order_id: String,
    line_number: String,
    quantity: u32,
    refund: String,
}

/// `POST /_sandbox/returns {"purchaseOrderId", "lineNumber", "quantity", "refund"}`.
pub async fn sandbox_returns(
    AxumState(state): S,
    axum::Json(r): axum::Json<SandboxReturn>,
) -> Response {
    match add_return(
        &state,
        &r.purchase_order_id,
        &r.line_number,
        r.quantity,
        &r.refund,
    ) {
        Some(id) => json_response(StatusCode::CREATED, json!({"returnOrderId": id})),
        None => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "no such order line, or refund is not a decimal"}),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxRecon {
    report_date: String,
    /// Rows as given; absent: generated from the orders and returns.
    rows: Option<Vec<Value>>,
}

/// `POST /_sandbox/recon {"reportDate", "rows"?}`.
pub async fn sandbox_recon(
    AxumState(state): S,
    axum::Json(r): axum::Json<SandboxRecon>,
) -> StatusCode {
    match r.rows {
        Some(rows) => state.with(|s| {
            s.recon_reports.insert(r.report_date, rows);
        }),
        None => generate_recon(&state, &r.report_date),
    }
    StatusCode::CREATED
}
