//! 810 Invoice, out: one set per invoice.
//!
//! The canonical model has no invoice record yet: the ERP's invoice event is read as JSON with
//! `invoiceNumber`, `invoiceDate` (RFC 3339), `orderId`, `total {amount, currency}` and `lines [{lineId,
//! quantity, unitPrice {amount}, sku}]`, or as the mapping's `BIG`/`CUR`/`TDS`/`lines` fields.
//! `BIG*<CCYYMMDD>*<invoice>**<PO>`, `CUR*SE*<currency>`, per line `IT1*<line>*<qty>*EA*<price>**VN*<sku>`,
//! `TDS*<total in cents>` (two implied decimals), `CTT*<lines>`.

use rust_decimal::Decimal;
use serde_json::Value;

use super::{date, mapped, quantity, record_time, required, text};
use crate::x12::Segment;

/// The body of one 810.
pub fn body(fields: &Value, record: &Value) -> Result<Vec<Segment>, String> {
    let big_date = match mapped(fields, "BIG", "BIG01") {
        Some(d) => d,
        None => date(record_time(record, "invoiceDate")?),
    };
    let number = required(fields, record, ("BIG", "BIG02"), "invoiceNumber")?;
    let po = required(fields, record, ("BIG", "BIG04"), "orderId")?;
    let total = record.get("total");
    let currency = mapped(fields, "CUR", "CUR02")
        .or_else(|| text(total.and_then(|t| t.get("currency"))))
        .ok_or("CUR.CUR02 (or the record's total.currency) is missing")?;
    let cents = match mapped(fields, "TDS", "TDS01") {
        Some(c) => quantity(&c, "TDS01")?,
        None => {
            let amount = text(total.and_then(|t| t.get("amount")))
                .ok_or("the record's total.amount is missing")?;
            implied_two_decimals(&amount)?
        }
    };
    let mut segments = vec![
        Segment::new("BIG", &[&big_date, &number, "", &po]),
        Segment::new("CUR", &["SE", &currency]),
    ];
    let lines = lines(fields, record)?;
    if lines.is_empty() {
        return Err("the invoice has no lines".into());
    }
    let count = lines.len();
    segments.extend(lines);
    segments.push(Segment::new("TDS", &[&cents.to_string()]));
    segments.push(Segment::new("CTT", &[&count.to_string()]));
    Ok(segments)
}

/// An amount as X12's N2 (two implied decimals): `1234.5` is `123450`. More than two decimals is an error,
/// never a rounding.
pub fn implied_two_decimals(amount: &str) -> Result<i64, String> {
    let d: Decimal = amount
        .parse()
        .map_err(|e| format!("amount {amount:?} is not a decimal: {e}"))?;
    let cents = d * Decimal::from(100);
    if cents.fract() != Decimal::ZERO {
        return Err(format!("amount {amount} has more than two decimals"));
    }
    i64::try_from(cents).map_err(|e| format!("amount {amount}: {e}"))
}

fn lines(fields: &Value, record: &Value) -> Result<Vec<Segment>, String> {
    // Mapped lines name X12 elements (`IT102`); without a mapping `fields` is the record itself.
    let mapped_lines = fields.get("lines").and_then(Value::as_array).filter(|l| {
        l.iter()
            .any(|line| line.get("IT102").is_some() || line.get("IT107").is_some())
    });
    let (source, mapped) = match mapped_lines {
        Some(l) => (l, true),
        None => (
            record
                .get("lines")
                .and_then(Value::as_array)
                .ok_or("the record's lines are missing")?,
            false,
        ),
    };
    source
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let get = |mapped_name: &str, record_name: &str| {
                if mapped {
                    text(l.get(mapped_name))
                } else if record_name == "unitPrice" {
                    text(l.get("unitPrice").and_then(|p| p.get("amount")))
                } else {
                    text(l.get(record_name))
                }
            };
            let line = get("IT101", "lineId").unwrap_or_else(|| (i + 1).to_string());
            let qty = quantity(&get("IT102", "quantity").unwrap_or_default(), "IT102")?;
            let unit =
                if mapped { text(l.get("IT103")) } else { None }.unwrap_or_else(|| "EA".into());
            let price = get("IT104", "unitPrice").ok_or(format!("lines[{i}] has no unit price"))?;
            price
                .parse::<Decimal>()
                .map_err(|e| format!("lines[{i}] unit price {price:?}: {e}"))?;
            let qualifier =
                if mapped { text(l.get("IT106")) } else { None }.unwrap_or_else(|| "VN".into());
            let sku = get("IT107", "sku").ok_or(format!("lines[{i}] has no sku"))?;
            Ok(Segment::new(
                "IT1",
                &[&line, &qty.to_string(), &unit, &price, "", &qualifier, &sku],
            ))
        })
        .collect()
}
