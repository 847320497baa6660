//! The settlement report (`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`, tab-delimited) into a canonical
//! settlement. Pure.
//!
//! Its first data row is the summary (id, period, deposit date, total, currency); every other row is one
//! amount of one transaction: `transaction-type` (Order, Refund, other-transaction...), `amount-type`
//! (ItemPrice, ItemFees, Promotion, ItemWithheldTax...) and `amount-description` (Principal, Shipping, Tax,
//! Commission...) say what it is.

use channel_api::canonical::{
    CorrelationId, Currency, MarketplaceName, Money, OrderId, Settlement, SettlementLine,
    SettlementLineKind,
};
use rust_decimal::Decimal;

use crate::flat_file::{self, Row};

/// The report type Amazon generates every settlement period.
pub const REPORT_TYPE: &str = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2";

/// The report's columns, in Amazon's order.
pub const COLUMNS: [&str; 24] = [
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

/// What a settlement amount is, from its transaction type, amount type and description.
pub fn kind(transaction: &str, amount_type: &str, description: &str) -> SettlementLineKind {
    use SettlementLineKind::*;
    let refund = ["Refund", "Chargeback", "Guarantee"]
        .iter()
        .any(|w| transaction.contains(w));
    match amount_type {
        "ItemPrice" | "Promotion" if refund => Refund,
        "ItemPrice" => match description {
            "Shipping" => Shipping,
            "Tax" | "ShippingTax" | "GiftWrapTax" => Tax,
            _ => Sale,
        },
        // A promotion lowers what the buyer was charged.
        "Promotion" => Sale,
        "ItemFees" | "ItemFee" | "ShipmentFees" | "FBA Inventory Reimbursement" => Fee,
        // Marketplace-facilitator tax: collected and remitted by Amazon itself.
        "ItemWithheldTax" => Adjustment,
        _ if description.contains("Reserve") => Reserve,
        _ if description.contains("Fee") || transaction == "ServiceFee" => Fee,
        _ => Adjustment,
    }
}

/// A parsed settlement, and the report's own total when the lines do not add up to it (the settlement's
/// `total` is always the sum of its lines).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub settlement: Settlement,
    pub reported_total: Option<Decimal>,
}

enum Item {
    Summary(Summary),
    Line(Box<SettlementLine>),
}

struct Summary {
    id: String,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    total: Decimal,
    currency: Currency,
}

fn item(row: Row<'_>, currency: &mut Option<Currency>) -> Result<Item, String> {
    if !row.get("total-amount").is_empty() {
        let code = row.required("currency")?;
        let parsed: Currency = code
            .parse()
            .map_err(|e| format!("row {}: currency: {e}", row.number))?;
        *currency = Some(parsed);
        return Ok(Item::Summary(Summary {
            id: row.required("settlement-id")?.to_string(),
            start: row.time("settlement-start-date")?,
            end: row.time("settlement-end-date")?,
            total: row.amount("total-amount")?,
            currency: parsed,
        }));
    }
    let currency = currency.ok_or_else(|| {
        format!(
            "row {}: an amount before the summary row with the currency",
            row.number
        )
    })?;
    let transaction = row.get("transaction-type");
    let amount_type = row.get("amount-type");
    let description = row.get("amount-description");
    let order_id = match row.get("order-id") {
        "" => None,
        id => {
            Some(OrderId::try_from(id).map_err(|e| format!("row {}: order-id: {e}", row.number))?)
        }
    };
    let sku = match row.get("sku") {
        "" => None,
        sku => Some(
            sku.try_into()
                .map_err(|e| format!("row {}: sku: {e}", row.number))?,
        ),
    };
    let posted_at = match row.get("posted-date-time") {
        "" => row.time("posted-date")?,
        _ => row.time("posted-date-time")?,
    };
    Ok(Item::Line(Box::new(SettlementLine {
        kind: kind(transaction, amount_type, description),
        order_id,
        sku,
        amount: Money::new(row.amount("amount")?, currency),
        description: format!("{transaction}/{amount_type}/{description}"),
        posted_at,
    })))
}

/// One settlement report, for the marketplace named `marketplace`.
pub fn parse(text: &str, marketplace: &str) -> Result<Parsed, String> {
    let marketplace = MarketplaceName::try_from(marketplace)?;
    let mut currency = None;
    let items = flat_file::read(
        text,
        &[
            "settlement-id",
            "total-amount",
            "currency",
            "transaction-type",
            "order-id",
            "amount-type",
            "amount-description",
            "amount",
            "posted-date",
        ],
        |row| item(row, &mut currency),
    )?;
    let mut summary = None;
    let mut lines = Vec::new();
    for item in items {
        match item {
            Item::Summary(s) if summary.is_none() => summary = Some(s),
            Item::Summary(s) => {
                return Err(format!("a second summary row (settlement {})", s.id));
            }
            Item::Line(line) => lines.push(*line),
        }
    }
    let summary = summary.ok_or("the report has no summary row (with total-amount)")?;
    let sum: Decimal = lines.iter().map(|l| l.amount.amount).sum();
    let id = OrderId::try_from(format!("settlement-{}", summary.id))?;
    Ok(Parsed {
        settlement: Settlement {
            correlation_id: CorrelationId::for_order(&marketplace, &id),
            marketplace,
            settlement_id: summary.id,
            period_start: summary.start,
            period_end: summary.end,
            currency: summary.currency,
            total: Money::new(sum, summary.currency),
            lines,
        },
        reported_total: (sum != summary.total).then_some(summary.total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settlement as Amazon writes it: the summary row, then one row per amount.
    fn sample(total: &str) -> String {
        let header = COLUMNS.join("\t");
        let row = |cells: &[(&str, &str)]| {
            COLUMNS
                .iter()
                .map(|c| cells.iter().find(|(k, _)| k == c).map_or("", |(_, v)| *v))
                .collect::<Vec<_>>()
                .join("\t")
        };
        let amount =
            |transaction: &str, order: &str, amount_type: &str, description: &str, amount: &str| {
                row(&[
                    ("settlement-id", "11742953791"),
                    ("transaction-type", transaction),
                    ("order-id", order),
                    ("marketplace-name", "Amazon.com"),
                    ("amount-type", amount_type),
                    ("amount-description", description),
                    ("amount", amount),
                    ("fulfillment-id", "MFN"),
                    ("posted-date", "2026-11-05"),
                    ("posted-date-time", "2026-11-05 18:11:09 UTC"),
                    ("sku", "TW-1001"),
                    ("quantity-purchased", "1"),
                ])
            };
        [
            header,
            row(&[
                ("settlement-id", "11742953791"),
                ("settlement-start-date", "2026-11-01 07:00:00 UTC"),
                ("settlement-end-date", "2026-11-15 07:00:00 UTC"),
                ("deposit-date", "2026-11-17 07:00:00 UTC"),
                ("total-amount", total),
                ("currency", "USD"),
            ]),
            amount("Order", "113-1", "ItemPrice", "Principal", "19.99"),
            amount("Order", "113-1", "ItemPrice", "Shipping", "4.99"),
            amount("Order", "113-1", "ItemPrice", "Tax", "1.65"),
            amount(
                "Order",
                "113-1",
                "ItemWithheldTax",
                "MarketplaceFacilitatorTax-Principal",
                "-1.65",
            ),
            amount("Order", "113-1", "ItemFees", "Commission", "-3.00"),
            amount("Refund", "113-1", "ItemPrice", "Principal", "-19.99"),
            amount("Refund", "113-1", "ItemFees", "Commission", "2.40"),
            row(&[
                ("transaction-type", "other-transaction"),
                ("amount-type", "other-transaction"),
                ("amount-description", "Subscription Fee"),
                ("amount", "-39.99"),
                ("posted-date", "2026-11-02"),
            ]),
        ]
        .join("\n")
    }

    #[test]
    fn a_v2_settlement_reads_into_typed_lines() {
        let parsed = parse(&sample("-35.60"), "amazon-us").unwrap();
        assert_eq!(parsed.reported_total, None);
        let s = parsed.settlement;
        assert_eq!(s.settlement_id, "11742953791");
        assert_eq!(s.period_end.to_rfc3339(), "2026-11-15T07:00:00+00:00");
        assert_eq!(s.total.amount, Decimal::new(-3560, 2));
        let kinds: Vec<SettlementLineKind> = s.lines.iter().map(|l| l.kind).collect();
        use SettlementLineKind::*;
        assert_eq!(
            kinds,
            vec![Sale, Shipping, Tax, Adjustment, Fee, Refund, Fee, Fee]
        );
        assert_eq!(s.lines[0].order_id.as_ref().unwrap().as_str(), "113-1");
        assert_eq!(s.lines[7].order_id, None);
        assert_eq!(s.lines[0].description, "Order/ItemPrice/Principal");
    }

    #[test]
    fn a_total_that_the_lines_do_not_add_up_to_is_reported() {
        let parsed = parse(&sample("100.00"), "amazon-us").unwrap();
        assert_eq!(parsed.reported_total, Some(Decimal::new(10_000, 2)));
        assert_eq!(parsed.settlement.total.amount, Decimal::new(-3560, 2));
    }

    #[test]
    fn no_summary_row_is_an_error() {
        let text = format!("{}\n", COLUMNS.join("\t"));
        assert!(
            parse(&text, "amazon-us")
                .unwrap_err()
                .contains("summary row")
        );
    }
}
