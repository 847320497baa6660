//! The portal's data: what each batch endpoint received (latest fields per key), the orders it generated, the
//! webhooks it pushed, and its validation rules. The rules are the ones a typical B2B portal applies to any
//! JSON it is sent, without knowing the mapping: each item is `{"key", "correlationId", "fields"}` with a
//! non-empty key and an object of fields, no number may be negative, and a price's `amount` must be above zero.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

/// What the portal holds, as shown by `GET /_sandbox/state`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Per endpoint (`inventory`, `price`, `catalog`, `shipments`, `orderUpdates`), the latest fields per key.
    pub items: BTreeMap<String, BTreeMap<String, Value>>,
    /// Calls accepted per endpoint.
    pub batches: BTreeMap<String, u64>,
    /// Orders generated, oldest first, in the portal's own JSON.
    pub orders: Vec<Value>,
    /// Webhook pushes made, with the adapter's answer.
    pub pushes: Vec<Push>,
}

/// One webhook push and its answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Push {
    pub order_id: Option<String>,
    pub status: u16,
    pub answer: String,
    pub at: DateTime<Utc>,
}

/// One item's key and fields, or why the portal rejects it (answered as `422` in the item's entry).
pub fn check_item(endpoint: &str, item: &Value) -> Result<(String, Value), String> {
    let key = item
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or("key: missing or not a non-empty string")?;
    let fields = item
        .get("fields")
        .filter(|f| f.is_object())
        .ok_or("fields: missing or not an object")?;
    check_values(endpoint, "", fields)?;
    Ok((key.to_string(), fields.clone()))
}

fn check_values(endpoint: &str, path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|f| f < 0.0) => {
            Err(format!("{path} must not be negative (value: {n})"))
        }
        Value::Object(fields) => {
            for (name, inner) in fields {
                let inner_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if endpoint == "price" && name == "amount" {
                    check_amount(&inner_path, inner)?;
                }
                check_values(endpoint, &inner_path, inner)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, inner)| check_values(endpoint, &format!("{path}[{i}]"), inner)),
        _ => Ok(()),
    }
}

fn check_amount(path: &str, value: &Value) -> Result<(), String> {
    let amount = match value {
        Value::String(s) => Decimal::from_str(s).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    };
    match amount {
        Some(a) if a > Decimal::ZERO => Ok(()),
        Some(_) => Err(format!("{path} must be greater than 0 (value: {value})")),
        None => Err(format!("{path} is not a decimal amount (value: {value})")),
    }
}

/// A new order in the portal's JSON (the example ChannelMapping's `payload` fields), placed at `at`: `lines` of
/// (article number, quantity, net unit price), 19 % VAT, no freight.
pub fn portal_order(
    order_id: &str,
    lines: &[(String, i64, Decimal)],
    currency: &str,
    at: DateTime<Utc>,
) -> Value {
    let vat_rate = Decimal::new(19, 2);
    let mut net = Decimal::ZERO;
    let mut vat = Decimal::ZERO;
    let positions: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (article, quantity, price))| {
            let line_net = *price * Decimal::from(*quantity);
            // Commercial rounding, as invoices do.
            let line_vat = (line_net * vat_rate)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            net += line_net;
            vat += line_vat;
            json!({
                "position": (i + 1) * 10,
                "articleNumber": article,
                "quantity": quantity,
                "netPrice": price.round_dp(2).to_string(),
                "vatAmount": line_vat.to_string(),
            })
        })
        .collect();
    let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "orderId": order_id,
        "status": "NEW",
        "orderDate": stamp,
        "lastModified": stamp,
        "currency": currency,
        "buyer": {"companyName": "Nordlicht Handels GmbH", "email": "einkauf@nordlicht.example"},
        "deliveryAddress": {
            "company": "Nordlicht Handels GmbH",
            "street": "Speicherstadt 7",
            "city": "Hamburg",
            "zip": "20457",
            "countryCode": "DE"
        },
        "positions": positions,
        "totals": {
            "net": net.round_dp(2).to_string(),
            "freight": "0.00",
            "vat": vat.round_dp(2).to_string(),
            "gross": (net + vat).round_dp(2).to_string()
        },
        "shippingMethod": "DHL-PAKET"
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn items_need_a_key_and_no_negative_numbers() {
        let item =
            |key: &str, fields: Value| json!({"key": key, "correlationId": "c", "fields": fields});
        assert_eq!(
            check_item("inventory", &item("A", json!({"quantityAvailable": 3}))),
            Ok(("A".into(), json!({"quantityAvailable": 3})))
        );
        assert_eq!(
            check_item("inventory", &item("", json!({}))),
            Err("key: missing or not a non-empty string".into())
        );
        assert_eq!(
            check_item("inventory", &json!({"key": "A", "fields": 3})),
            Err("fields: missing or not an object".into())
        );
        assert_eq!(
            check_item(
                "inventory",
                &item("A", json!({"stockByWarehouse": [{"quantity": -1}]}))
            ),
            Err("stockByWarehouse[0].quantity must not be negative (value: -1)".into())
        );
    }

    #[test]
    fn a_price_must_be_above_zero() {
        let item = |amount: &str| json!({"key": "A", "fields": {"netPrice": {"amount": amount}}});
        assert!(check_item("price", &item("9.50")).is_ok());
        assert_eq!(
            check_item("price", &item("0.00")),
            Err("netPrice.amount must be greater than 0 (value: \"0.00\")".into())
        );
    }

    #[test]
    fn generated_orders_add_up() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .to_utc();
        let order = portal_order(
            "PO-1",
            &[
                ("TW-1".into(), 2, Decimal::new(1000, 2)),
                ("TW-2".into(), 1, Decimal::new(550, 2)),
            ],
            "EUR",
            at,
        );
        assert_eq!(order["totals"]["net"], "25.50");
        assert_eq!(order["totals"]["vat"], "4.85");
        assert_eq!(order["totals"]["gross"], "30.35");
        assert_eq!(order["positions"][1]["position"], 20);
    }
}
