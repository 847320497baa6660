//! Request bodies of the per-SKU calls, from an outbound item's fields (the ChannelMapping's output, or the
//! canonical record when the flow has no mapping). Pure functions: bad input is an error naming the field and
//! the value, and the record is dead-lettered.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value, json};

/// `PUT /v3/inventory` body: `{"sku", "quantity": {"unit": "EACH", "amount"}}`. The quantity is the field
/// `available` (canonical), or `quantity` as a number or as Walmart's `{"amount"}` object.
pub fn inventory_body(sku: &str, fields: &Value) -> Result<Value, String> {
    let quantity = fields
        .get("available")
        .or_else(|| fields.get("quantity").map(|q| q.get("amount").unwrap_or(q)))
        .ok_or_else(|| format!("inventory for {sku} has no field available (or quantity)"))?;
    let amount = quantity.as_i64().filter(|q| *q >= 0).ok_or_else(|| {
        format!("inventory for {sku}: available {quantity} is not a whole number of units >= 0")
    })?;
    Ok(json!({"sku": sku, "quantity": {"unit": "EACH", "amount": amount}}))
}

/// The currencies Walmart prices in (the price spec's `currency` enum).
const CURRENCIES: [&str; 2] = ["USD", "CAD"];

/// `PUT /v3/price` body: `{"sku", "pricing": [{"currentPriceType": "BASE", "currentPrice": {currency,
/// amount}}]}`. The price is the field `price` as canonical Money (`{"amount": "12.99", "currency"}`) or a
/// decimal with `currency` beside it.
pub fn price_body(sku: &str, fields: &Value) -> Result<Value, String> {
    // A mapping that writes Walmart's own `pricing` (one entry or a list): its BASE current price.
    let mapped_pricing = match fields.get("pricing") {
        Some(Value::Array(list)) => list
            .iter()
            .find(|p| p.get("currentPriceType").and_then(Value::as_str) != Some("REDUCED")),
        Some(entry @ Value::Object(_)) => Some(entry),
        _ => None,
    }
    .and_then(|p| p.get("currentPrice"));
    let price = mapped_pricing
        .or_else(|| fields.get("price"))
        .ok_or_else(|| format!("price for {sku} has no field price (or pricing.currentPrice)"))?;
    let (amount, currency) = match price {
        Value::Object(money) => (money.get("amount"), money.get("currency")),
        other => (Some(other), fields.get("currency")),
    };
    let amount = amount
        .and_then(|a| match a {
            Value::String(s) => Decimal::from_str(s).ok(),
            Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
            _ => None,
        })
        .filter(|a| *a > Decimal::ZERO)
        .ok_or_else(|| format!("price for {sku}: amount {price} is not a positive decimal"))?;
    let currency = currency
        .and_then(Value::as_str)
        .ok_or_else(|| format!("price for {sku} has no currency"))?;
    if !CURRENCIES.contains(&currency) {
        return Err(format!(
            "price for {sku}: currency {currency} is not one Walmart prices in (USD, CAD)"
        ));
    }
    Ok(json!({
        "sku": sku,
        "pricing": [{
            "currentPriceType": "BASE",
            "currentPrice": {"currency": currency, "amount": wire_number(amount)?},
        }],
    }))
}

/// Walmart's amounts are JSON numbers: the decimal's text becomes the number, with no float arithmetic
/// before it (two decimal places survive the round trip exactly).
fn wire_number(amount: Decimal) -> Result<Number, String> {
    Number::from_str(&amount.normalize().to_string())
        .map_err(|e| format!("amount {amount} cannot be written as a JSON number: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_from_canonical_and_mapped_fields() {
        let expected = json!({"sku": "A-1", "quantity": {"unit": "EACH", "amount": 7}});
        assert_eq!(
            inventory_body("A-1", &json!({"available": 7})).ok(),
            Some(expected.clone())
        );
        assert_eq!(
            inventory_body("A-1", &json!({"quantity": 7})).ok(),
            Some(expected.clone())
        );
        assert_eq!(
            inventory_body("A-1", &json!({"quantity": {"amount": 7, "unit": "EACH"}})).ok(),
            Some(expected)
        );
    }

    #[test]
    fn inventory_errors_name_the_field_and_value() {
        let err = inventory_body("A-1", &json!({"available": -2}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("available -2"), "{err}");
        let err = inventory_body("A-1", &json!({"qty": 2}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("no field available"), "{err}");
    }

    #[test]
    fn price_from_money_is_exact() {
        let body = price_body(
            "A-1",
            &json!({"price": {"amount": "12.990", "currency": "USD"}}),
        );
        assert_eq!(
            body.ok()
                .map(|b| b["pricing"][0]["currentPrice"]["amount"].to_string()),
            Some("12.99".to_string())
        );
        let body = price_body("A-1", &json!({"price": "5", "currency": "CAD"})).ok();
        assert_eq!(
            body.map(|b| b["pricing"][0]["currentPrice"].clone()),
            Some(json!({"currency": "CAD", "amount": 5}))
        );
    }

    #[test]
    fn price_from_walmarts_mapped_pricing() {
        let fields = json!({"pricing": {"currentPriceType": "BASE", "currentPrice": {"currency": "USD", "amount": 12.99}}});
        assert_eq!(
            price_body("A-1", &fields)
                .ok()
                .map(|b| b["pricing"][0]["currentPrice"].clone()),
            Some(json!({"currency": "USD", "amount": 12.99}))
        );
    }

    #[test]
    fn price_errors() {
        let err = price_body("A-1", &json!({"price": {"amount": "3", "currency": "EUR"}}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("currency EUR"), "{err}");
        let err = price_body(
            "A-1",
            &json!({"price": {"amount": "-1", "currency": "USD"}}),
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains("not a positive decimal"), "{err}");
    }
}
