//! Finances API payouts and their transactions to canonical settlements, and the settlements cursor. Pure.
//!
//! One eBay payout is one settlement: `getPayouts` gives the payout (id, date, status, amount) and
//! `getTransactions` filtered by its `payoutId` the amounts it pays out. eBay states every transaction amount as
//! a positive value with a `bookingEntry` of `CREDIT` (paid to the seller) or `DEBIT` (charged); the canonical
//! line is signed. A `SALE`'s `amount` is net of its selling fees (and of sales tax eBay collects and remits);
//! when `totalFeeBasisAmount` (what the buyer paid) and `totalFeeAmount` account for it, the sale is three lines:
//! the sale at what the buyer paid, the fees and eBay's collected tax (both negative), which add up to the net.
//! Otherwise it is one net line. The payout adds up the nets either way.
//!
//! Reconciliation ([`reconcile`]) compares each order's sale lines with the order total Tradewind read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use channel_api::canonical::builders::{field_name, text, time};
use channel_api::canonical::{
    CorrelationId, Currency, MarketplaceName, Money, OrderId, Settlement, SettlementLine,
    SettlementLineKind,
};

/// The last payout handled: its date (the next `getPayouts` filters `payoutDate:[<date>..]`, inclusive, so the
/// payout is read again and dropped by its id) and its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
}

impl Cursor {
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None => Ok(Self::default()),
            Some(t) => {
                serde_json::from_str(t).map_err(|e| format!("settlements cursor {t:?}: {e}"))
            }
        }
    }

    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `payoutDate:[<date>..]`, eBay's filter syntax (UTC, milliseconds); none before the first payout.
    pub fn filter(&self) -> Option<String> {
        self.payout_date.map(|t| {
            format!(
                "payoutDate:[{}..]",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
        })
    }

    /// Whether a payout of `date` and `id` comes after this cursor, so is not handled yet (payouts of the same
    /// date in id order).
    pub fn is_new(&self, date: DateTime<Utc>, id: &str) -> bool {
        match &self.payout_date {
            None => true,
            Some(done) => (date, id) > (*done, self.payout_id.as_deref().unwrap_or("")),
        }
    }

    pub fn after(payout: &Payout) -> Self {
        Self {
            payout_date: Some(payout.date),
            payout_id: Some(payout.id.clone()),
        }
    }
}

/// What a payout's status means for its settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayoutState {
    /// `SUCCEEDED`: paid, its transactions are final.
    Paid,
    /// `INITIATED`, `RETRYABLE_FAILED`: not paid yet; it and the payouts after it wait.
    Pending,
    /// Anything else (`FAILED`, `REVERSED`, `TERMINATED`): eBay did not pay it out.
    NotPaid,
}

/// The fields of a `Payout` a settlement needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Payout {
    pub id: String,
    pub date: DateTime<Utc>,
    pub status: String,
    pub amount: Money,
}

impl Payout {
    pub fn state(&self) -> PayoutState {
        match self.status.as_str() {
            "SUCCEEDED" => PayoutState::Paid,
            "INITIATED" | "RETRYABLE_FAILED" => PayoutState::Pending,
            _ => PayoutState::NotPaid,
        }
    }
}

/// The `payoutId` of a `getPayouts` entry, if it has one (a payout without one cannot be looked up).
pub fn payout_id(payout: &Value) -> Option<&str> {
    payout
        .get("payoutId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The `Amount` at `pointer` (`{"value": "12.34", "currency": "USD"}`): both fields required.
fn amount(v: &Value, pointer: &str) -> Result<Money, String> {
    let value_at = format!("{pointer}/value");
    let value = text(v, &value_at)?;
    let value = value.parse::<Decimal>().map_err(|e| {
        format!(
            "field {}: not a decimal (value: {value:?}): {e}",
            field_name(&value_at)
        )
    })?;
    let currency_at = format!("{pointer}/currency");
    let currency: Currency = text(v, &currency_at)?
        .parse()
        .map_err(|e: String| format!("field {}: {e}", field_name(&currency_at)))?;
    Ok(Money::new(value, currency))
}

/// One `getPayouts` entry.
pub fn payout(v: &Value) -> Result<Payout, String> {
    let id = payout_id(v).ok_or("field payoutId is missing or not text")?;
    let within = |e: String| format!("payout {id}: {e}");
    Ok(Payout {
        id: id.to_string(),
        date: time(v, "/payoutDate").map_err(within)?,
        status: text(v, "/payoutStatus").map_err(within)?.to_string(),
        amount: amount(v, "/amount").map_err(within)?,
    })
}

/// The canonical kind of a transaction.
pub fn kind(transaction_type: &str) -> SettlementLineKind {
    match transaction_type {
        "SALE" => SettlementLineKind::Sale,
        "REFUND" => SettlementLineKind::Refund,
        "NON_SALE_CHARGE" | "SHIPPING_LABEL" => SettlementLineKind::Fee,
        "LOAN_REPAYMENT" | "WITHDRAWAL" => SettlementLineKind::Reserve,
        _ => SettlementLineKind::Adjustment,
    }
}

/// The optional `Amount` at `pointer` in `currency`: absent is `None`, present but unreadable an error.
fn optional_amount(
    v: &Value,
    pointer: &str,
    currency: Currency,
) -> Result<Option<Decimal>, String> {
    if v.pointer(pointer).is_none() {
        return Ok(None);
    }
    let money = amount(v, pointer)?;
    if money.currency != currency {
        return Err(format!(
            "field {}.currency: {} but the payout is in {currency}",
            field_name(pointer),
            money.currency
        ));
    }
    Ok(Some(money.amount))
}

/// One transaction as settlement lines in `currency` (the payout's).
fn lines(t: &Value, currency: Currency) -> Result<Vec<SettlementLine>, String> {
    let id = text(t, "/transactionId")?;
    let within = |e: String| format!("transaction {id}: {e}");
    let transaction_type = text(t, "/transactionType").map_err(within)?;
    let money = amount(t, "/amount").map_err(within)?;
    if money.currency != currency {
        return Err(within(format!(
            "field amount.currency: {} but the payout is in {currency}",
            money.currency
        )));
    }
    let sign = match text(t, "/bookingEntry").map_err(within)? {
        "CREDIT" => Decimal::ONE,
        "DEBIT" => Decimal::NEGATIVE_ONE,
        other => {
            return Err(within(format!(
                "field bookingEntry: {other:?} is neither CREDIT nor DEBIT"
            )));
        }
    };
    let order_id = t
        .get("orderId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(OrderId::try_from)
        .transpose()
        .map_err(|e| within(format!("field orderId: {e}")))?;
    let description = match t.get("transactionMemo").and_then(Value::as_str) {
        Some(memo) if !memo.is_empty() => format!("{transaction_type}: {memo}"),
        _ => transaction_type.to_string(),
    };
    let posted_at = time(t, "/transactionDate").map_err(within)?;
    let net = SettlementLine {
        kind: kind(transaction_type),
        order_id,
        sku: None,
        amount: Money::new(money.amount * sign, currency),
        description,
        posted_at,
    };
    if transaction_type != "SALE" || sign != Decimal::ONE {
        return Ok(vec![net]);
    }
    let basis = optional_amount(t, "/totalFeeBasisAmount", currency).map_err(within)?;
    let fees = optional_amount(t, "/totalFeeAmount", currency).map_err(within)?;
    let tax = optional_amount(t, "/eBayCollectedTaxAmount", currency).map_err(within)?;
    let (Some(basis), Some(fees)) = (basis, fees) else {
        return Ok(vec![net]);
    };
    let tax = tax.unwrap_or_default();
    if basis - fees - tax != money.amount {
        // The parts do not account for the net: the net alone, which reconciliation then reports.
        return Ok(vec![net]);
    }
    let part = |kind, value: Decimal, description: String| SettlementLine {
        kind,
        order_id: net.order_id.clone(),
        sku: None,
        amount: Money::new(value, currency),
        description,
        posted_at,
    };
    let mut parts = vec![
        part(SettlementLineKind::Sale, basis, net.description.clone()),
        part(
            SettlementLineKind::Fee,
            -fees,
            "SALE: selling fees (totalFeeAmount)".into(),
        ),
    ];
    if !tax.is_zero() {
        parts.push(part(
            SettlementLineKind::Tax,
            -tax,
            "SALE: tax collected and remitted by eBay (eBayCollectedTaxAmount)".into(),
        ));
    }
    Ok(parts)
}

/// The orders the settlement's sale lines name.
pub fn order_ids(settlement: &Settlement) -> Vec<String> {
    let mut ids: Vec<String> = settlement
        .lines
        .iter()
        .filter(|l| l.kind == SettlementLineKind::Sale)
        .filter_map(|l| l.order_id.as_ref().map(|o| o.as_str().to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Each order whose sale lines do not add up to what Tradewind read as its total (`known`: order id -> total),
/// with the dead-letter reason naming both amounts; an order Tradewind never read is an exception too. Refunds,
/// fees and account-level amounts are eBay's own and are not compared.
pub fn reconcile(
    settlement: &Settlement,
    known: &BTreeMap<String, Money>,
) -> Vec<(String, String)> {
    let mut sold: BTreeMap<&str, Decimal> = BTreeMap::new();
    for line in &settlement.lines {
        if let (SettlementLineKind::Sale, Some(order)) = (line.kind, &line.order_id) {
            *sold.entry(order.as_str()).or_default() += line.amount.amount;
        }
    }
    let currency = settlement.currency;
    sold.into_iter()
        .filter_map(|(order, settled)| {
            let reason = match known.get(order) {
                None => format!(
                    "settlement exception: payout {} settles order {order} for {settled} {currency} but the order is unknown to Tradewind",
                    settlement.settlement_id
                ),
                Some(total) if total.amount == settled && total.currency == currency => return None,
                Some(total) => format!(
                    "settlement exception: payout {} settles order {order} for {settled} {currency} but Tradewind read its total as {} {}",
                    settlement.settlement_id, total.amount, total.currency
                ),
            };
            Some((order.to_string(), reason))
        })
        .collect()
}

/// The payout and its transactions as one settlement: from the earliest transaction to the payout date, the
/// total the sum of the lines.
pub fn to_settlement(
    marketplace: &MarketplaceName,
    payout: &Payout,
    transactions: &[Value],
) -> Result<Settlement, String> {
    let within = |e: String| format!("payout {}: {e}", payout.id);
    let currency = payout.amount.currency;
    let mut lines = Vec::with_capacity(transactions.len());
    for t in transactions {
        lines.extend(self::lines(t, currency).map_err(within)?);
    }
    let period_start = lines
        .iter()
        .map(|l| l.posted_at)
        .min()
        .unwrap_or(payout.date)
        .min(payout.date);
    let correlation_id =
        CorrelationId::try_from(format!("{}:payout-{}", marketplace.as_str(), payout.id).as_str())
            .map_err(within)?;
    let total = lines.iter().map(|l| l.amount.amount).sum();
    Ok(Settlement {
        correlation_id,
        marketplace: marketplace.clone(),
        settlement_id: payout.id.clone(),
        period_start,
        period_end: payout.date,
        currency,
        total: Money::new(total, currency),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payout_json() -> Value {
        json!({"payoutId": "7000000001", "payoutDate": "2026-03-02T10:00:00.000Z", "payoutStatus": "SUCCEEDED",
            "amount": {"value": "86.99", "currency": "USD"}})
    }

    #[test]
    fn credits_add_and_debits_subtract_to_the_payout() {
        let marketplace = MarketplaceName::try_from("ebay-us").unwrap();
        let p = payout(&payout_json()).unwrap();
        let transactions = [
            json!({"transactionId": "T1", "transactionType": "SALE", "bookingEntry": "CREDIT", "orderId": "12-1",
                "amount": {"value": "91.99", "currency": "USD"}, "transactionDate": "2026-03-01T09:00:00.000Z"}),
            json!({"transactionId": "T2", "transactionType": "NON_SALE_CHARGE", "bookingEntry": "DEBIT",
                "amount": {"value": "5.00", "currency": "USD"}, "transactionDate": "2026-03-01T12:00:00.000Z",
                "transactionMemo": "Promoted listing fee"}),
        ];
        let s = to_settlement(&marketplace, &p, &transactions).unwrap();
        assert_eq!(s.settlement_id, "7000000001");
        assert_eq!(s.total.amount, Decimal::new(8699, 2));
        assert_eq!(s.total, p.amount);
        assert_eq!(s.lines[0].kind, SettlementLineKind::Sale);
        assert_eq!(s.lines[0].order_id.as_ref().unwrap().as_str(), "12-1");
        assert_eq!(s.lines[1].kind, SettlementLineKind::Fee);
        assert_eq!(s.lines[1].amount.amount, Decimal::new(-500, 2));
        assert_eq!(
            s.lines[1].description,
            "NON_SALE_CHARGE: Promoted listing fee"
        );
        assert_eq!(s.period_start, s.lines[0].posted_at);
    }

    #[test]
    fn a_sale_with_its_fees_is_the_sale_the_fees_and_the_collected_tax() {
        let marketplace = MarketplaceName::try_from("ebay-us").unwrap();
        let p = payout(
            &json!({"payoutId": "7", "payoutDate": "2026-03-02T10:00:00.000Z",
            "payoutStatus": "SUCCEEDED", "amount": {"value": "80.00", "currency": "USD"}}),
        )
        .unwrap();
        let sale = json!({"transactionId": "T1", "transactionType": "SALE", "bookingEntry": "CREDIT",
            "orderId": "12-1", "amount": {"value": "80.00", "currency": "USD"},
            "totalFeeBasisAmount": {"value": "100.00", "currency": "USD"},
            "totalFeeAmount": {"value": "12.00", "currency": "USD"},
            "eBayCollectedTaxAmount": {"value": "8.00", "currency": "USD"},
            "transactionDate": "2026-03-01T09:00:00.000Z"});
        let s = to_settlement(&marketplace, &p, &[sale]).unwrap();
        let kinds: Vec<_> = s.lines.iter().map(|l| (l.kind, l.amount.amount)).collect();
        assert_eq!(
            kinds,
            vec![
                (SettlementLineKind::Sale, Decimal::new(10000, 2)),
                (SettlementLineKind::Fee, Decimal::new(-1200, 2)),
                (SettlementLineKind::Tax, Decimal::new(-800, 2)),
            ]
        );
        assert_eq!(s.total, p.amount);
        let usd = |v: i64| Money::new(Decimal::new(v, 2), "USD".parse().unwrap());
        let known = BTreeMap::from([("12-1".to_string(), usd(10000))]);
        assert!(reconcile(&s, &known).is_empty());
        let known = BTreeMap::from([("12-1".to_string(), usd(9500))]);
        let exceptions = reconcile(&s, &known);
        assert_eq!(exceptions.len(), 1);
        assert!(
            exceptions[0].1.contains("100.00 USD") && exceptions[0].1.contains("95.00 USD"),
            "{}",
            exceptions[0].1
        );
        assert!(reconcile(&s, &BTreeMap::new())[0].1.contains("unknown"));
    }

    #[test]
    fn a_bad_transaction_names_the_payout_the_transaction_and_the_field() {
        let marketplace = MarketplaceName::try_from("ebay-us").unwrap();
        let p = payout(&payout_json()).unwrap();
        let bad = json!({"transactionId": "T9", "transactionType": "SALE", "bookingEntry": "CREDIT",
            "amount": {"value": "ninety", "currency": "USD"}, "transactionDate": "2026-03-01T09:00:00.000Z"});
        let e = to_settlement(&marketplace, &p, &[bad]).unwrap_err();
        assert!(
            e.contains("payout 7000000001") && e.contains("transaction T9"),
            "{e}"
        );
        assert!(e.contains("amount.value") && e.contains("ninety"), "{e}");
        let e = payout(&json!({"payoutId": "7", "payoutStatus": "SUCCEEDED"})).unwrap_err();
        assert!(e.contains("payoutDate"), "{e}");
    }

    #[test]
    fn the_cursor_filters_from_the_last_payout_and_drops_it_when_read_again() {
        let p = payout(&payout_json()).unwrap();
        let cursor = Cursor::parse(Some(&Cursor::after(&p).render())).unwrap();
        assert_eq!(
            cursor.filter().unwrap(),
            "payoutDate:[2026-03-02T10:00:00.000Z..]"
        );
        assert!(!cursor.is_new(p.date, &p.id));
        assert!(cursor.is_new(p.date, "7000000002"));
        assert!(Cursor::default().is_new(p.date, &p.id));
    }
}
