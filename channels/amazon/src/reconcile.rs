//! Settlement reconciliation: every order-level settlement amount matched to the order or refund it belongs to.
//! Pure: the known orders are passed in. They come from the orders this marketplace's orders flow has
//! published (the caller keeps each order's total and its refunds, keyed by order id); an order placed before
//! Tradewind polled it is therefore "unknown" and goes to a person, which is what a settlement exception is for.

use std::collections::BTreeMap;

use channel_api::canonical::{Money, Settlement, SettlementLineKind};
use rust_decimal::Decimal;

/// What Tradewind knows of one order: what the buyer was charged and what was refunded (negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownOrder {
    pub charged: Decimal,
    pub refunded: Decimal,
}

/// A settlement amount that does not match, naming both amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementException {
    pub order_id: String,
    pub what: &'static str,
    /// Tradewind's amount, absent when the order is unknown.
    pub expected: Option<Money>,
    pub settled: Money,
}

impl SettlementException {
    /// The dead-letter reason.
    pub fn reason(&self) -> String {
        match &self.expected {
            Some(expected) => format!(
                "settlement exception: order {} {} settled {} {} but Tradewind has {} {}",
                self.order_id,
                self.what,
                self.settled.amount,
                self.settled.currency.as_str(),
                expected.amount,
                expected.currency.as_str()
            ),
            None => format!(
                "settlement exception: order {} is unknown to Tradewind; {} settled {} {}",
                self.order_id,
                self.what,
                self.settled.amount,
                self.settled.currency.as_str()
            ),
        }
    }
}

/// Matches the settlement's sales (sale, shipping, tax) and refunds per order against `known`; fees,
/// adjustments, reserves and account-level lines are Amazon's own and are not compared.
pub fn reconcile(
    settlement: &Settlement,
    known: &BTreeMap<String, KnownOrder>,
) -> Vec<SettlementException> {
    let mut per_order: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for line in &settlement.lines {
        let Some(order) = &line.order_id else {
            continue;
        };
        let sums = per_order.entry(order.as_str()).or_default();
        match line.kind {
            SettlementLineKind::Sale | SettlementLineKind::Shipping | SettlementLineKind::Tax => {
                sums.0 += line.amount.amount
            }
            SettlementLineKind::Refund => sums.1 += line.amount.amount,
            _ => {}
        }
    }
    let money = |amount| Money::new(amount, settlement.currency);
    let mut out = Vec::new();
    for (order, (charged, refunded)) in per_order {
        let Some(k) = known.get(order) else {
            out.push(SettlementException {
                order_id: order.to_string(),
                what: "sales and refunds",
                expected: None,
                settled: money(charged + refunded),
            });
            continue;
        };
        if charged != k.charged {
            out.push(SettlementException {
                order_id: order.to_string(),
                what: "sales",
                expected: Some(money(k.charged)),
                settled: money(charged),
            });
        }
        if refunded != k.refunded {
            out.push(SettlementException {
                order_id: order.to_string(),
                what: "refunds",
                expected: Some(money(k.refunded)),
                settled: money(refunded),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::canonical::{
        CorrelationId, Currency, MarketplaceName, OrderId, SettlementLine,
    };
    use chrono::{TimeZone, Utc};

    fn usd(text: &str) -> Money {
        Money::new(text.parse().unwrap(), "USD".parse::<Currency>().unwrap())
    }

    fn line(kind: SettlementLineKind, order: Option<&str>, amount: &str) -> SettlementLine {
        SettlementLine {
            kind,
            order_id: order.map(|o| OrderId::try_from(o).unwrap()),
            sku: None,
            amount: usd(amount),
            description: String::new(),
            posted_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        }
    }

    fn settlement(lines: Vec<SettlementLine>) -> Settlement {
        let marketplace = MarketplaceName::try_from("amazon-us").unwrap();
        let order = OrderId::try_from("settlement-1").unwrap();
        Settlement {
            correlation_id: CorrelationId::for_order(&marketplace, &order),
            marketplace,
            settlement_id: "1".into(),
            period_start: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            period_end: Utc.with_ymd_and_hms(2026, 11, 14, 0, 0, 0).unwrap(),
            currency: "USD".parse().unwrap(),
            total: usd("0"),
            lines,
        }
    }

    fn known(charged: &str, refunded: &str) -> KnownOrder {
        KnownOrder {
            charged: charged.parse().unwrap(),
            refunded: refunded.parse().unwrap(),
        }
    }

    #[test]
    fn matching_sales_and_refunds_raise_nothing_and_fees_are_not_compared() {
        let s = settlement(vec![
            line(SettlementLineKind::Sale, Some("111-1"), "20.00"),
            line(SettlementLineKind::Shipping, Some("111-1"), "4.99"),
            line(SettlementLineKind::Fee, Some("111-1"), "-3.00"),
            line(SettlementLineKind::Refund, Some("111-1"), "-4.99"),
            line(SettlementLineKind::Fee, None, "-39.99"),
        ]);
        let k = BTreeMap::from([("111-1".to_string(), known("24.99", "-4.99"))]);
        assert_eq!(reconcile(&s, &k), vec![]);
    }

    #[test]
    fn a_different_amount_names_both() {
        let s = settlement(vec![line(SettlementLineKind::Sale, Some("111-1"), "19.00")]);
        let k = BTreeMap::from([("111-1".to_string(), known("24.99", "0"))]);
        let found = reconcile(&s, &k);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].reason(),
            "settlement exception: order 111-1 sales settled 19.00 USD but Tradewind has 24.99 USD"
        );
    }

    #[test]
    fn an_unknown_order_is_an_exception() {
        let s = settlement(vec![line(
            SettlementLineKind::Refund,
            Some("999-9"),
            "-5.00",
        )]);
        let found = reconcile(&s, &BTreeMap::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].expected, None);
        assert!(found[0].reason().contains("999-9 is unknown"));
    }
}
