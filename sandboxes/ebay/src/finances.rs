//! The Finances API (`/sell/finances/v1`): payouts closed from the sandbox's orders, `getPayouts` and
//! `getTransactions` in the shapes of specs/ebay/ebay-finances.yml (`Payouts`, `Transactions`), errors with
//! eBay's Finances error ids (135003 pagination, 135004 payout date filter, 135005 sort).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::{Value, json};

use crate::routes::{admit, error, query_param, record};
use crate::{Order, Sandbox};

/// eBay's final value fee on the lines of a sale, in the sandbox: 13.25 %, rounded to the cent per line.
pub const FINAL_VALUE_FEE_RATE: Decimal = Decimal::from_parts(1325, 0, 0, false, 4);

/// One seller payout and the transactions it pays.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub payout_id: String,
    pub payout_date: DateTime<Utc>,
    /// `SUCCEEDED`, `INITIATED`, `RETRYABLE_FAILED`, `FAILED`, `REVERSED`.
    pub status: String,
    pub currency: String,
    /// The net amount paid: the transactions' credits less their debits.
    pub amount: Decimal,
    pub transactions: Vec<Transaction>,
    /// A JSON pointer left out of every transaction served (`Sandbox::break_payout`).
    pub malformed: Option<String>,
}

/// One monetary transaction of a payout.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub transaction_id: String,
    pub transaction_type: String,
    pub order_id: Option<String>,
    pub transaction_date: DateTime<Utc>,
    /// What the buyer paid, before fees.
    pub fee_basis: Decimal,
    /// Per order line: its id, what it cost and its final value fee.
    pub line_fees: Vec<(String, Decimal, Decimal)>,
    /// Positive; `booking_entry` says which way it goes.
    pub amount: Decimal,
    pub booking_entry: String,
}

fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A `SALE` per order, net of the final value fee of each line, paid out at `now` (after the previous payout,
/// so payout dates never tie), to the millisecond eBay states them in.
pub fn close(orders: &[Order], previous: Option<&Payout>, now: DateTime<Utc>) -> Payout {
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let date = previous
        .map(|p| p.payout_date + Duration::milliseconds(1))
        .map_or(now, |after| after.max(now));
    let number = previous
        .and_then(|p| p.payout_id.parse::<u64>().ok())
        .map_or(7_000_000_001, |n| n + 1);
    let transactions: Vec<Transaction> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let line_fees: Vec<(String, Decimal, Decimal)> = o
                .lines
                .iter()
                .map(|l| {
                    let cost = l.unit_price * Decimal::from(l.quantity);
                    (
                        l.line_item_id.clone(),
                        cost,
                        cents(cost * FINAL_VALUE_FEE_RATE),
                    )
                })
                .collect();
            let fee: Decimal = line_fees.iter().map(|(_, _, f)| *f).sum();
            Transaction {
                transaction_id: format!("{number}-{}", i + 1),
                transaction_type: "SALE".into(),
                order_id: Some(o.order_id.clone()),
                transaction_date: o.creation_date,
                fee_basis: o.total(),
                line_fees,
                amount: o.total() - fee,
                booking_entry: "CREDIT".into(),
            }
        })
        .collect();
    Payout {
        payout_id: number.to_string(),
        payout_date: date,
        status: "SUCCEEDED".into(),
        currency: orders.first().map_or("USD".into(), |o| o.currency.clone()),
        amount: transactions.iter().map(|t| t.amount).sum(),
        transactions,
        malformed: None,
    }
}

impl Payout {
    /// States the sale of `order_id` at `paid` (what the buyer paid, before fees), its net and the payout's
    /// amount following.
    pub fn misstate_sale(&mut self, order_id: &str, paid: Decimal) {
        for t in &mut self.transactions {
            if t.order_id.as_deref() == Some(order_id) {
                let fees = t.fee_basis - t.amount;
                t.fee_basis = paid;
                t.amount = paid - fees;
            }
        }
        self.amount = self.transactions.iter().map(|t| t.amount).sum();
    }
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn amount(value: Decimal, currency: &str) -> Value {
    json!({"value": value.to_string(), "currency": currency})
}

/// A `Payout` of the spec.
pub fn payout_json(p: &Payout) -> Value {
    json!({
        "payoutId": p.payout_id,
        "payoutStatus": p.status,
        "payoutStatusDescription": if p.status == "SUCCEEDED" { "Funds sent" } else { "Funds not sent yet" },
        "amount": amount(p.amount, &p.currency),
        "payoutDate": millis(p.payout_date),
        "payoutInstrument": {"instrumentType": "BANK", "nickname": "Checking", "accountLastFourDigits": "4321"},
        "transactionCount": p.transactions.len(),
    })
}

/// A `Transaction` of the spec, without the payout's malformed field if it has one.
pub fn transaction_json(p: &Payout, t: &Transaction) -> Value {
    let mut v = json!({
        "transactionId": t.transaction_id,
        "transactionType": t.transaction_type,
        "transactionStatus": "PAYOUT",
        "transactionDate": millis(t.transaction_date),
        "amount": amount(t.amount, &p.currency),
        "bookingEntry": t.booking_entry,
        "payoutId": p.payout_id,
        "totalFeeBasisAmount": amount(t.fee_basis, &p.currency),
        "totalFeeAmount": amount(t.fee_basis - t.amount, &p.currency),
        "buyer": {"username": "buyer_one"},
        "orderLineItems": t.line_fees.iter().map(|(id, cost, fee)| json!({
            "lineItemId": id,
            "feeBasisAmount": amount(*cost, &p.currency),
            "marketplaceFees": [{"feeType": "FINAL_VALUE_FEE", "amount": amount(*fee, &p.currency)}],
        })).collect::<Vec<_>>(),
    });
    if let Some(order) = &t.order_id {
        v["orderId"] = json!(order);
    }
    if let Some(pointer) = &p.malformed {
        remove(&mut v, pointer);
    }
    v
}

/// Removes the field at `pointer` (`/amount/value`).
fn remove(v: &mut Value, pointer: &str) {
    if let Some((parent, field)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = v.pointer_mut(parent)
    {
        map.remove(field);
    }
}

/// The filters of `filter=` (`name:[from..to]`, `name:{value}`, comma separated), by name.
fn filters(query: &str) -> Vec<(String, String)> {
    query_param(query, "filter")
        .unwrap_or_default()
        .split(',')
        .filter_map(|f| f.trim().split_once(':'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// `[from..to]` (either end optional) of UTC times: `None` when malformed.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn date_range(value: &str) -> Option<Range> {
    let inner = value.strip_prefix('[')?.strip_suffix(']')?;
    let (from, to) = inner.split_once("..")?;
    let parse = |s: &str| -> Option<Option<DateTime<Utc>>> {
        if s.is_empty() {
            Some(None)
        } else {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| Some(t.with_timezone(&Utc)))
        }
    };
    Some((parse(from)?, parse(to)?))
}

/// `{value}`.
fn braced(value: &str) -> Option<&str> {
    value.strip_prefix('{')?.strip_suffix('}')
}

/// A request eBay refuses with 400: its Finances error id and message.
type Refused = (u32, &'static str);

/// `limit` (1..=`max`, `default`) and `offset`, or eBay's 135003.
fn paging(query: &str, default: usize, max: usize) -> Result<(usize, usize), Refused> {
    let number = |name: &str, default: usize| match query_param(query, name) {
        None => Some(default),
        Some(v) => v.parse::<usize>().ok(),
    };
    match (number("limit", default), number("offset", 0)) {
        (Some(limit), Some(offset)) if (1..=max).contains(&limit) => Ok((limit, offset)),
        _ => Err((135003, "The value of pagination is invalid.")),
    }
}

/// `getPayouts`: payouts by `payoutDate` range and `payoutStatus`, newest first unless `sort=payoutDate`.
pub async fn get_payouts(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/sell/finances/v1/payout".to_string();
    let op = "getPayouts";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let q = query.clone().unwrap_or_default();
    let r = payouts_answer(&sandbox, &path, &q).unwrap_or_else(|(id, message)| {
        error(StatusCode::BAD_REQUEST, id, "API_FINANCES", message)
    });
    record(&sandbox, op, "GET", path, query, Value::Null, r)
}

fn payouts_answer(sandbox: &Sandbox, path: &str, q: &str) -> Result<Response, Refused> {
    let (limit, offset) = paging(q, 20, 200)?;
    let mut range: Range = (None, None);
    let mut status = None;
    for (name, value) in filters(q) {
        match name.as_str() {
            "payoutDate" => {
                range = date_range(&value)
                    .ok_or((135004, "The value of payout date filter is invalid."))?;
            }
            "payoutStatus" => status = braced(&value).map(str::to_string),
            _ => {}
        }
    }
    let ascending = match query_param(q, "sort").as_deref() {
        None | Some("-payoutDate") => false,
        Some("payoutDate") => true,
        Some(_) => {
            return Err((135005, "The value of sorting is invalid."));
        }
    };
    let account = sandbox.account();
    let mut selected: Vec<&Payout> = account
        .payouts
        .iter()
        .filter(|p| range.0.is_none_or(|from| p.payout_date >= from))
        .filter(|p| range.1.is_none_or(|to| p.payout_date <= to))
        .filter(|p| status.as_deref().is_none_or(|s| s == p.status))
        .collect();
    selected.sort_by(|a, b| (a.payout_date, &a.payout_id).cmp(&(b.payout_date, &b.payout_id)));
    if !ascending {
        selected.reverse();
    }
    let payouts: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(limit)
        .map(|p| payout_json(p))
        .collect();
    let mut answer = json!({"href": format!("{path}?{q}"), "limit": limit, "offset": offset,
        "total": selected.len(), "payouts": payouts});
    if offset + payouts.len() < selected.len() {
        answer["next"] = json!(format!(
            "{path}?limit={limit}&offset={}",
            offset + payouts.len()
        ));
    }
    Ok(axum::Json(answer).into_response())
}

/// `getTransactions`: the transactions of `payoutId:{..}` (and `orderId:{..}`, `transactionType:{..}`), oldest
/// first; 204 when none match.
pub async fn get_transactions(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/sell/finances/v1/transaction".to_string();
    let op = "getTransactions";
    if let Some(r) = admit(&sandbox, op, &headers).await {
        return record(&sandbox, op, "GET", path, query, Value::Null, r);
    }
    let q = query.clone().unwrap_or_default();
    let r = transactions_answer(&sandbox, &path, &q).unwrap_or_else(|(id, message)| {
        error(StatusCode::BAD_REQUEST, id, "API_FINANCES", message)
    });
    record(&sandbox, op, "GET", path, query, Value::Null, r)
}

fn transactions_answer(sandbox: &Sandbox, path: &str, q: &str) -> Result<Response, Refused> {
    let (limit, offset) = paging(q, 20, 1000)?;
    let wanted: Vec<(String, String)> = filters(q)
        .into_iter()
        .filter_map(|(name, value)| braced(&value).map(|v| (name, v.to_string())))
        .collect();
    let wants = |name: &str, value: Option<&str>| {
        wanted
            .iter()
            .filter(|(n, _)| n == name)
            .all(|(_, v)| value == Some(v.as_str()))
    };
    let account = sandbox.account();
    let selected: Vec<Value> = account
        .payouts
        .iter()
        .filter(|p| wants("payoutId", Some(&p.payout_id)))
        .flat_map(|p| p.transactions.iter().map(move |t| (p, t)))
        .filter(|(_, t)| wants("orderId", t.order_id.as_deref()))
        .filter(|(_, t)| wants("transactionType", Some(&t.transaction_type)))
        .map(|(p, t)| transaction_json(p, t))
        .collect();
    if selected.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let page: Vec<Value> = selected.iter().skip(offset).take(limit).cloned().collect();
    let mut answer = json!({"href": format!("{path}?{q}"), "limit": limit, "offset": offset,
        "total": selected.len(), "transactions": page});
    if offset + page.len() < selected.len() {
        answer["next"] = json!(format!(
            "{path}?limit={limit}&offset={}",
            offset + page.len()
        ));
    }
    Ok(axum::Json(answer).into_response())
}

/// `POST /_sandbox/payouts`: closes a payout of the unpaid orders; 201 with its id, 409 when none is unpaid.
pub async fn close_payout(State(sandbox): State<Arc<Sandbox>>) -> Response {
    match sandbox.close_payout() {
        Some(id) => (StatusCode::CREATED, axum::Json(json!({"payoutId": id}))).into_response(),
        None => (
            StatusCode::CONFLICT,
            axum::Json(json!({"message": "no unpaid order to pay out"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewOrder, Settings};

    #[test]
    fn a_payout_pays_each_order_net_of_its_fees_once() {
        let sandbox = Sandbox::new(Settings::new("i", "s", "r"));
        sandbox.add_order(NewOrder::new("12-1").line("A", 2, Decimal::new(1000, 2)));
        let id = sandbox.close_payout().unwrap();
        let payout = sandbox.payout(&id).unwrap();
        // 20.00 + 5.99 delivery, less 13.25 % of 20.00 = 2.65.
        assert_eq!(payout.amount, Decimal::new(2334, 2));
        assert_eq!(payout.transactions[0].fee_basis, Decimal::new(2599, 2));
        assert!(sandbox.close_payout().is_none(), "the order is paid");
        sandbox.add_order(NewOrder::new("12-2").line("A", 1, Decimal::new(1000, 2)));
        let next = sandbox.payout(&sandbox.close_payout().unwrap()).unwrap();
        assert!(next.payout_date > payout.payout_date);
        assert_eq!(next.transactions.len(), 1);
    }

    #[test]
    fn a_broken_payout_leaves_the_field_out() {
        let sandbox = Sandbox::new(Settings::new("i", "s", "r"));
        sandbox.add_order(NewOrder::new("12-1").line("A", 1, Decimal::ONE));
        let id = sandbox.close_payout().unwrap();
        sandbox.break_payout(&id, "/amount/value");
        let p = sandbox.payout(&id).unwrap();
        let t = transaction_json(&p, &p.transactions[0]);
        assert!(t.pointer("/amount/currency").is_some() && t.pointer("/amount/value").is_none());
    }

    #[test]
    fn date_filters_parse_both_ends() {
        let (from, to) = date_range("[2026-01-01T00:00:00.000Z..]").unwrap();
        assert!(from.is_some() && to.is_none());
        assert!(date_range("[yesterday..]").is_none());
    }
}
