//! The returns report (`GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`, tab-delimited) into canonical returns: the
//! rows of one return authorisation (Amazon RMA id) become one `Return` with a line per SKU. Pure.
//!
//! The report names no order item, so a return line's `lineId` is the SKU it returns.

use std::collections::BTreeMap;

use channel_api::canonical::{
    CorrelationId, Currency, MarketplaceName, Money, OrderId, Return, ReturnLine, ReturnStatus,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::flat_file;

/// The report type requested and read.
pub const REPORT_TYPE: &str = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE";

/// The columns read (the report has more).
pub const COLUMNS: [&str; 9] = [
    "Order ID",
    "Return request date",
    "Return request status",
    "Amazon RMA ID",
    "Currency code",
    "Merchant SKU",
    "Return quantity",
    "Return reason",
    "Refunded Amount",
];

/// A return's status from the report's request status and refund: a refund makes it `Refunded` whatever
/// the request status says.
pub fn status(request_status: &str, refunded: Decimal) -> ReturnStatus {
    if refunded > Decimal::ZERO {
        return ReturnStatus::Refunded;
    }
    match request_status.to_ascii_lowercase().as_str() {
        "approved" | "authorized" => ReturnStatus::Authorized,
        "closed" | "completed" | "return delivered" | "delivered" => ReturnStatus::Received,
        "rejected" | "denied" | "declined" => ReturnStatus::Rejected,
        _ => ReturnStatus::Requested,
    }
}

struct Row {
    order_id: String,
    return_id: String,
    requested: DateTime<Utc>,
    request_status: String,
    currency: Option<Currency>,
    refunded: Decimal,
    line: ReturnLine,
}

/// The returns of one report, for the marketplace named `marketplace`.
pub fn parse(text: &str, marketplace: &str) -> Result<Vec<Return>, String> {
    let marketplace = MarketplaceName::try_from(marketplace)?;
    let rows = flat_file::read(text, &COLUMNS, |row| {
        let order_id = row.required("Order ID")?.to_string();
        let sku = row.required("Merchant SKU")?;
        let quantity: i64 = row.required("Return quantity")?.parse().map_err(|_| {
            format!(
                "row {}: Return quantity: not a whole number (value: {:?})",
                row.number,
                row.get("Return quantity")
            )
        })?;
        let refunded = match row.get("Refunded Amount") {
            "" => Decimal::ZERO,
            _ => row.amount("Refunded Amount")?,
        };
        let currency = match row.get("Currency code") {
            "" => None,
            code => Some(
                code.parse::<Currency>()
                    .map_err(|e| format!("row {}: Currency code: {e}", row.number))?,
            ),
        };
        let return_id = match row.get("Amazon RMA ID") {
            "" => format!("{order_id}-{sku}"),
            rma => rma.to_string(),
        };
        Ok(Row {
            return_id,
            requested: row.time("Return request date")?,
            request_status: row.get("Return request status").to_string(),
            currency,
            refunded,
            line: ReturnLine {
                line_id: sku.to_string(),
                sku: sku
                    .try_into()
                    .map_err(|e| format!("row {}: Merchant SKU: {e}", row.number))?,
                quantity,
                reason: row.get("Return reason").to_string(),
            },
            order_id,
        })
    })?;
    let mut grouped: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for row in rows {
        grouped
            .entry((row.order_id.clone(), row.return_id.clone()))
            .or_default()
            .push(row);
    }
    grouped
        .into_iter()
        .map(|((order_id, return_id), rows)| {
            let order = OrderId::try_from(order_id.as_str())?;
            let refunded: Decimal = rows.iter().map(|r| r.refunded).sum();
            let currency = rows.iter().find_map(|r| r.currency);
            let first = &rows[0];
            let refund = match (refunded > Decimal::ZERO, currency) {
                (true, Some(currency)) => Some(Money::new(refunded, currency)),
                (true, None) => {
                    return Err(format!(
                        "return {return_id} of order {order_id}: a refund without a currency code"
                    ));
                }
                (false, _) => None,
            };
            Ok(Return {
                correlation_id: CorrelationId::for_order(&marketplace, &order),
                marketplace: marketplace.clone(),
                status: status(&first.request_status, refunded),
                created_at: rows
                    .iter()
                    .map(|r| r.requested)
                    .min()
                    .unwrap_or(first.requested),
                order_id: order,
                return_id,
                lines: rows.into_iter().map(|r| r.line).collect(),
                refund,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report's full header, as Amazon writes it.
    pub const HEADER: &str = "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\tSeller RMA ID\tLabel type\tLabel cost\tCurrency code\tReturn carrier\tTracking ID\tLabel to be paid by\tA-to-z claim\tIs prime\tASIN\tMerchant SKU\tItem Name\tReturn quantity\tReturn reason\tIn policy\tReturn type\tResolution\tInvoice number\tReturn delivery date\tOrder Amount\tOrder quantity\tSafeT action reason\tSafeT claim id\tSafeT claim state\tSafeT claim creation time\tSafeT claim reimbursement amount\tRefunded Amount\tCategory";

    fn row(
        order: &str,
        rma: &str,
        status: &str,
        sku: &str,
        quantity: &str,
        refunded: &str,
    ) -> String {
        format!(
            "{order}\t2026-11-01\t2026-11-10\t{status}\t{rma}\t\tAmazonUnPaidLabel\t0\tUSD\tUPS\t1Z\tCustomer\tN\tN\tB0001\t{sku}\tA thing\t{quantity}\tNOT_AS_DESCRIBED\tY\tC-Returns\tStandardRefund\t\t2026-11-12\t39.98\t2\t\t\t\t\t\t{refunded}\tHome"
        )
    }

    #[test]
    fn rows_of_one_authorisation_are_one_return_with_its_refund() {
        let text = format!(
            "{HEADER}\n{}\n{}\n{}\n",
            row("113-1", "DKqZ1", "Approved", "TW-1", "1", "19.99"),
            row("113-1", "DKqZ1", "Approved", "TW-2", "2", "5.00"),
            row("114-2", "DKqZ2", "Approved", "TW-3", "1", ""),
        );
        let returns = parse(&text, "amazon-us").unwrap();
        assert_eq!(returns.len(), 2);
        let first = &returns[0];
        assert_eq!(first.order_id.as_str(), "113-1");
        assert_eq!(first.return_id, "DKqZ1");
        assert_eq!(first.lines.len(), 2);
        assert_eq!(first.lines[1].quantity, 2);
        assert_eq!(first.status, ReturnStatus::Refunded);
        assert_eq!(first.refund.unwrap().amount, Decimal::new(2499, 2));
        assert_eq!(first.correlation_id.as_str(), "amazon-us:113-1");
        assert_eq!(returns[1].refund, None);
    }

    #[test]
    fn a_bad_cell_is_named_with_its_row() {
        let text = format!(
            "{HEADER}\n{}\n",
            row("113-1", "R", "Approved", "TW-1", "one", "")
        );
        let error = parse(&text, "amazon-us").unwrap_err();
        assert!(error.starts_with("row 2: Return quantity"), "{error}");
    }

    #[test]
    fn statuses() {
        assert_eq!(status("Approved", Decimal::ZERO), ReturnStatus::Authorized);
        assert_eq!(status("Pending", Decimal::ZERO), ReturnStatus::Requested);
        assert_eq!(status("Rejected", Decimal::ZERO), ReturnStatus::Rejected);
    }
}
