//! Outbound records to Mirakl's formats: the STO01 stock file and the OF24 body. Pure functions: each item
//! either becomes a line (whose number is kept, so STO03's error report can be traced back to it) or is
//! refused with the field at fault.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use channel_api::connector::OutboundItem;

/// A stock file and, for each item, its line number in the file or why it has none.
#[derive(Debug, PartialEq)]
pub struct StockFile {
    pub csv: String,
    /// Per item, in order: `Ok(line number)` (the header is line 1) or the reason it was left out.
    pub lines: Vec<Result<usize, String>>,
}

/// The SKU of an item: the mapping's `offer-sku` or `shop_sku`, else the canonical `sku`, else the key.
fn sku_of(item: &OutboundItem) -> String {
    ["offer-sku", "shop_sku", "sku"]
        .iter()
        .find_map(|f| item.fields.get(*f).and_then(Value::as_str))
        .unwrap_or(&item.key)
        .to_string()
}

/// Renders the STO01 file: `"offer-sku";"quantity";"update-delete"`, one line per item. The quantity is the
/// mapping's `quantity`, else the canonical `available` (the quantity to list), and must be a whole number.
pub fn stock_file(items: &[OutboundItem]) -> StockFile {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let _ = writer.write_record(["offer-sku", "quantity", "update-delete"]);
    let mut next_line = 2;
    let mut lines = Vec::with_capacity(items.len());
    for item in items {
        let quantity = ["quantity", "available"]
            .iter()
            .find_map(|f| item.fields.get(*f).map(|v| (*f, v)));
        let line = match quantity {
            None => Err("neither field quantity nor available is present".to_string()),
            Some((field, value)) => match value.as_i64() {
                Some(q) if q >= 0 => Ok(q),
                // Mirakl cannot list fewer than none; a negative position lists nothing.
                Some(_) => Ok(0),
                None => Err(format!("field {field} must be a whole number, got {value}")),
            },
        }
        .map(|quantity| {
            let sku = sku_of(item);
            let quantity = quantity.to_string();
            let _ = writer.write_record([sku.as_str(), quantity.as_str(), "update"]);
            let at = next_line;
            next_line += 1;
            at
        });
        lines.push(line);
    }
    let csv = String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    StockFile { csv, lines }
}

/// The OF24 body's offers, and per item its index among them or why it was left out. Prices are the
/// mapping's `price` (a number or decimal string) or the canonical `price.amount`; the product reference
/// defaults to the shop SKU (`product_id_type` `SHOP_SKU`), the state to new (`11`).
pub fn offers_body(items: &[OutboundItem]) -> (Value, Vec<Result<usize, String>>) {
    let mut offers = Vec::new();
    let mut placed = Vec::with_capacity(items.len());
    for item in items {
        match offer(item) {
            Ok(offer) => {
                placed.push(Ok(offers.len()));
                offers.push(offer);
            }
            Err(reason) => placed.push(Err(reason)),
        }
    }
    (json!({ "offers": offers }), placed)
}

fn offer(item: &OutboundItem) -> Result<Value, String> {
    let fields = &item.fields;
    let price = fields.get("price").ok_or("field price is missing")?;
    let price = decimal(price.get("amount").unwrap_or(price))
        .ok_or_else(|| format!("field price must be a decimal amount, got {price}"))?;
    if price < Decimal::ZERO {
        return Err(format!("field price must not be negative, got {price}"));
    }
    let sku = sku_of(item);
    let text = |field: &str, default: &str| {
        fields
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let mut offer = json!({
        "shop_sku": sku,
        "product_id": text("product_id", &sku),
        "product_id_type": text("product_id_type", "SHOP_SKU"),
        "state_code": text("state_code", "11"),
        "update_delete": "update",
        "price": json_number(price)?,
    });
    // A mapped `discount` (OF24's own shape) is sent as mapped, without its null members.
    if let Some(Value::Object(discount)) = fields.get("discount") {
        let present: serde_json::Map<String, Value> = discount
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if present.contains_key("price") {
            offer["discount"] = Value::Object(present);
        }
    } else if let Some(sale) = fields.get("sale").filter(|s| !s.is_null()) {
        let amount = sale
            .pointer("/price/amount")
            .and_then(decimal)
            .ok_or_else(|| {
                format!("field sale.price.amount must be a decimal amount, got {sale}")
            })?;
        offer["discount"] = json!({
            "price": json_number(amount)?,
            "start_date": sale.get("startsAt"),
            "end_date": sale.get("endsAt"),
        });
    }
    Ok(offer)
}

/// OF24 wants prices as JSON numbers, and serde_json writes numbers from f64 (its shortest round-trip
/// form). That is exact for any price of up to 15 significant digits; the round trip is checked so a price
/// that would change is refused rather than sent wrong.
fn json_number(amount: Decimal) -> Result<Value, String> {
    use rust_decimal::prelude::ToPrimitive;
    let float = amount
        .to_f64()
        .ok_or_else(|| format!("price {amount} cannot be sent as a JSON number"))?;
    let number = serde_json::Number::from_f64(float)
        .ok_or_else(|| format!("price {amount} cannot be sent as a JSON number"))?;
    match number.to_string().parse::<Decimal>() {
        Ok(back) if back == amount => Ok(Value::Number(number)),
        _ => Err(format!(
            "price {amount} has too many digits to be sent exactly"
        )),
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// Lines of a STO03 error report: (line number, Mirakl's message). The first column is the line number in
/// the file sent, the second the reason.
pub fn error_report_lines(report: &str) -> Vec<(usize, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(report.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            let line = r.get(0)?.trim().parse().ok()?;
            Some((line, r.get(1).unwrap_or_default().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::canonical::CorrelationId;

    fn item(key: &str, fields: Value) -> OutboundItem {
        OutboundItem {
            key: key.into(),
            correlation_id: CorrelationId::try_from("c-1").unwrap(),
            record: fields.clone(),
            fields,
        }
    }

    #[test]
    fn stock_lines_are_numbered_and_bad_items_left_out() {
        let file = stock_file(&[
            item("A", json!({"sku": "A", "available": 5})),
            item("B", json!({"sku": "B", "available": "many"})),
            item("C", json!({"offer-sku": "C-1", "quantity": -3})),
        ]);
        assert_eq!(
            file.csv,
            "\"offer-sku\";\"quantity\";\"update-delete\"\n\"A\";\"5\";\"update\"\n\"C-1\";\"0\";\"update\"\n"
        );
        assert_eq!(file.lines[0], Ok(2));
        assert!(file.lines[1].as_ref().unwrap_err().contains("available"));
        assert_eq!(file.lines[2], Ok(3));
    }

    #[test]
    fn offers_carry_the_exact_decimal_price() {
        let (body, placed) = offers_body(&[
            item(
                "A",
                json!({"sku": "A", "price": {"amount": "19.90", "currency": "EUR"}}),
            ),
            item("B", json!({"sku": "B"})),
        ]);
        assert_eq!(body["offers"][0]["price"].to_string(), "19.9");
        assert_eq!(body["offers"][0]["product_id_type"], "SHOP_SKU");
        assert_eq!(placed[0], Ok(0));
        assert!(placed[1].is_err());
    }

    #[test]
    fn a_mapped_discount_is_sent_without_its_nulls() {
        let (body, _) = offers_body(&[
            item(
                "A",
                json!({"shop_sku": "A-FR", "price": 10.5, "discount": {"price": 8.0, "start_date": null}}),
            ),
            item(
                "B",
                json!({"shop_sku": "B-FR", "price": 3, "discount": {"price": null}}),
            ),
        ]);
        assert_eq!(body["offers"][0]["shop_sku"], "A-FR");
        assert_eq!(body["offers"][0]["discount"], json!({"price": 8.0}));
        assert!(body["offers"][1].get("discount").is_none());
    }

    #[test]
    fn error_report_lines_give_number_and_reason() {
        let lines = error_report_lines(
            "\"line\";\"error-message\";\"offer-sku\"\n\"3\";\"The offer does not exist\";\"X\"\n",
        );
        assert_eq!(lines, vec![(3, "The offer does not exist".to_string())]);
    }
}
