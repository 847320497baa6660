//! Walmart's reconciliation report (`getReconReport`, JSON form: one object per CSV row) into a canonical
//! Settlement, and the settlement matched per order against what Tradewind knows of the orders. Pure.
//!
//! The `PaymentSummary` row holds the period, the currency and Walmart's `Total Payable`; every other row is
//! one amount (`Transaction Type` / `Amount Type`, `Amount`, `Purchase Order #`, `Partner Item Id`).

use std::collections::BTreeMap;

use channel_api::canonical::{
    CorrelationId, Currency, MarketplaceName, Money, OrderId, Settlement, SettlementLine,
    SettlementLineKind,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

fn column<'a>(row: &'a Value, name: &str) -> Option<&'a str> {
    row.get(name)
        .and_then(Value::as_str)
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
}

/// Walmart's `MM/DD/YYYY` dates, at midnight UTC (`end_of_day` for a period's last day).
fn date(text: &str, field: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    let day = NaiveDate::parse_from_str(text, "%m/%d/%Y")
        .map_err(|e| format!("{field}: not MM/DD/YYYY (value: {text:?}): {e}"))?;
    let time = if end_of_day {
        day.and_hms_opt(23, 59, 59)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    time.map(|t| t.and_utc())
        .ok_or_else(|| format!("{field}: {text:?} has no such time"))
}

/// The canonical kind of an amount: `Transaction Type` and `Amount Type`.
pub fn kind(transaction: &str, amount_type: &str) -> SettlementLineKind {
    let amount_type = amount_type.to_ascii_lowercase();
    if amount_type.contains("commission") || amount_type.contains("fee") {
        return SettlementLineKind::Fee;
    }
    match transaction {
        "Sale" if amount_type.contains("tax") => SettlementLineKind::Tax,
        "Sale" if amount_type.contains("shipping") => SettlementLineKind::Shipping,
        "Sale" => SettlementLineKind::Sale,
        "Refund" => SettlementLineKind::Refund,
        "Reserve" => SettlementLineKind::Reserve,
        _ => SettlementLineKind::Adjustment,
    }
}

/// What the report says besides its lines: Walmart's own total, to compare with the lines' sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub settlement: Settlement,
    /// `Total Payable` of the PaymentSummary row.
    pub total_payable: Money,
}

/// The report of `report_date` (Walmart's `MMDDYYYY`) as a settlement of `marketplace`.
pub fn to_settlement(
    rows: &[Value],
    report_date: &str,
    marketplace: &str,
) -> Result<Report, String> {
    let context = |e: String| format!("reconciliation report {report_date}: {e}");
    let summary = rows
        .iter()
        .find(|r| column(r, "Transaction Type") == Some("PaymentSummary"))
        .ok_or_else(|| context("no PaymentSummary row".into()))?;
    let currency: Currency = column(summary, "Currency")
        .ok_or_else(|| context("PaymentSummary Currency: missing".into()))?
        .parse()
        .map_err(|e| context(format!("PaymentSummary Currency: {e}")))?;
    let amount = |row: &Value, name: &str, at: &str| -> Result<Decimal, String> {
        let text = column(row, name).ok_or_else(|| format!("{at} {name}: missing"))?;
        text.replace(',', "")
            .parse::<Decimal>()
            .map_err(|e| format!("{at} {name}: not a decimal (value: {text:?}): {e}"))
    };
    let total_payable = amount(summary, "Total Payable", "PaymentSummary").map_err(context)?;
    let period_start = date(
        column(summary, "Period Start Date")
            .ok_or_else(|| context("Period Start Date: missing".into()))?,
        "Period Start Date",
        false,
    )
    .map_err(context)?;
    let period_end = date(
        column(summary, "Period End Date")
            .ok_or_else(|| context("Period End Date: missing".into()))?,
        "Period End Date",
        true,
    )
    .map_err(context)?;
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let transaction = column(row, "Transaction Type").unwrap_or_default();
        if transaction == "PaymentSummary" {
            continue;
        }
        let at = format!("row {i}");
        let value = amount(row, "Amount", &at).map_err(context)?;
        let posted = match column(row, "Transaction Posted Timestamp") {
            Some(text) => {
                date(text, &format!("{at} Transaction Posted Timestamp"), false).map_err(context)?
            }
            None => period_end,
        };
        lines.push(SettlementLine {
            kind: kind(transaction, column(row, "Amount Type").unwrap_or_default()),
            order_id: column(row, "Purchase Order #")
                .map(OrderId::try_from)
                .transpose()
                .map_err(|e| context(format!("{at} Purchase Order #: {e}")))?,
            sku: column(row, "Partner Item Id")
                .map(|s| s.try_into())
                .transpose()
                .map_err(|e: String| context(format!("{at} Partner Item Id: {e}")))?,
            amount: Money::new(value, currency),
            description: [transaction, column(row, "Amount Type").unwrap_or_default()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" / "),
            posted_at: posted,
        });
    }
    let marketplace_name = MarketplaceName::try_from(marketplace).map_err(context)?;
    let settlement_id = format!("recon-{report_date}");
    let correlation_id = CorrelationId::try_from(format!("{marketplace}:{settlement_id}").as_str())
        .map_err(context)?;
    let sum = lines.iter().map(|l| l.amount.amount).sum();
    Ok(Report {
        settlement: Settlement {
            correlation_id,
            marketplace: marketplace_name,
            settlement_id,
            period_start,
            period_end,
            currency,
            total: Money::new(sum, currency),
            lines,
        },
        total_payable: Money::new(total_payable, currency),
    })
}

/// What Tradewind knows of one order: what the buyer was charged (product, shipping, tax) and refunded
/// (negative, as the report writes refunds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnownOrder {
    pub charged: Decimal,
    pub refunded: Decimal,
}

/// A settlement amount that does not match, naming both amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub order_id: String,
    pub what: &'static str,
    /// Tradewind's amount; `None` when the order is unknown.
    pub expected: Option<Money>,
    pub settled: Money,
}

impl Mismatch {
    pub fn reason(&self) -> String {
        match &self.expected {
            Some(expected) => format!(
                "settlement exception: order {} {} settled {} {} by Walmart but Tradewind has {} {}",
                self.order_id,
                self.what,
                self.settled.amount,
                self.settled.currency,
                expected.amount,
                expected.currency
            ),
            None => format!(
                "settlement exception: order {} is unknown to Tradewind; Walmart settled {} {} {}",
                self.order_id, self.what, self.settled.amount, self.settled.currency
            ),
        }
    }
}

/// The order ids the settlement's sales and refunds name.
pub fn order_ids(settlement: &Settlement) -> Vec<String> {
    let mut ids: Vec<String> = settlement
        .lines
        .iter()
        .filter_map(|l| l.order_id.as_ref().map(|o| o.to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Matches the settlement's sales (sale, shipping, tax) and refunds per order against `known`; fees,
/// adjustments and reserves are Walmart's own and are not compared.
pub fn reconcile(settlement: &Settlement, known: &BTreeMap<String, KnownOrder>) -> Vec<Mismatch> {
    let mut per_order: BTreeMap<String, KnownOrder> = BTreeMap::new();
    for line in &settlement.lines {
        let Some(order) = &line.order_id else {
            continue;
        };
        let sums = per_order.entry(order.to_string()).or_default();
        match line.kind {
            SettlementLineKind::Sale | SettlementLineKind::Shipping | SettlementLineKind::Tax => {
                sums.charged += line.amount.amount
            }
            SettlementLineKind::Refund => sums.refunded += line.amount.amount,
            _ => {}
        }
    }
    let money = |amount| Money::new(amount, settlement.currency);
    let mut out = Vec::new();
    for (order, settled) in per_order {
        let Some(k) = known.get(&order) else {
            out.push(Mismatch {
                order_id: order,
                what: "sales and refunds",
                expected: None,
                settled: money(settled.charged + settled.refunded),
            });
            continue;
        };
        if settled.charged != Decimal::ZERO && settled.charged != k.charged {
            out.push(Mismatch {
                order_id: order.clone(),
                what: "sales",
                expected: Some(money(k.charged)),
                settled: money(settled.charged),
            });
        }
        if settled.refunded != k.refunded {
            out.push(Mismatch {
                order_id: order,
                what: "refunds",
                expected: Some(money(k.refunded)),
                settled: money(settled.refunded),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"Period Start Date": "11/20/2026", "Period End Date": "11/27/2026", "Currency": "USD",
                "Transaction Type": "PaymentSummary", "Total Payable": "27.00"}),
            json!({"Transaction Type": "Sale", "Amount Type": "Product Price", "Amount": "25.98",
                "Purchase Order #": "PO-1", "Partner Item Id": "WM-1", "Transaction Posted Timestamp": "11/21/2026"}),
            json!({"Transaction Type": "Sale", "Amount Type": "Product tax", "Amount": "1.30",
                "Purchase Order #": "PO-1", "Partner Item Id": "WM-1", "Transaction Posted Timestamp": "11/21/2026"}),
            json!({"Transaction Type": "Sale", "Amount Type": "Commission on Product", "Amount": "-3.90",
                "Purchase Order #": "PO-1", "Partner Item Id": "WM-1", "Transaction Posted Timestamp": "11/21/2026"}),
            json!({"Transaction Type": "Refund", "Amount Type": "Product Price", "Amount": "-5.00",
                "Purchase Order #": "PO-2", "Transaction Posted Timestamp": "11/22/2026"}),
        ]
    }

    #[test]
    fn a_report_is_a_settlement_with_kinds_and_period() {
        let report =
            to_settlement(&rows(), "11272026", "walmart-us").unwrap_or_else(|e| panic!("{e}"));
        let s = &report.settlement;
        assert_eq!(s.settlement_id, "recon-11272026");
        assert_eq!(s.lines.len(), 4);
        assert_eq!(s.lines[1].kind, SettlementLineKind::Tax);
        assert_eq!(s.lines[2].kind, SettlementLineKind::Fee);
        assert_eq!(s.lines[3].kind, SettlementLineKind::Refund);
        assert_eq!(s.total.amount, Decimal::new(1838, 2));
        assert_eq!(report.total_payable.amount, Decimal::new(2700, 2));
        assert_eq!(s.period_end.to_rfc3339(), "2026-11-27T23:59:59+00:00");
    }

    #[test]
    fn mismatches_name_both_amounts() {
        let report =
            to_settlement(&rows(), "11272026", "walmart-us").unwrap_or_else(|e| panic!("{e}"));
        let known = BTreeMap::from([(
            "PO-1".to_string(),
            KnownOrder {
                charged: Decimal::new(2700, 2),
                refunded: Decimal::ZERO,
            },
        )]);
        let found = reconcile(&report.settlement, &known);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].reason(),
            "settlement exception: order PO-1 sales settled 27.28 USD by Walmart but Tradewind has 27.00 USD"
        );
        assert_eq!(
            found[1].reason(),
            "settlement exception: order PO-2 is unknown to Tradewind; Walmart settled sales and refunds -5.00 USD"
        );
    }
}
