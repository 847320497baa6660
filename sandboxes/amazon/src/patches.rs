//! What the sandbox makes of Listings Items patches, shared by `patchListingsItem` and JSON_LISTINGS_FEED
//! messages: the change they ask for, or Amazon-shaped issues. Pure.

use rust_decimal::Decimal;
use serde_json::{Value, json};

/// A valid set of patches: the offer and any other listing attributes they replace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    pub quantity: Option<i64>,
    /// Amount and currency.
    pub price: Option<(String, String)>,
    /// Other attributes (catalog content), by name, as given.
    pub attributes: Vec<(String, Value)>,
}

fn issue(code: &str, message: String, attribute: Option<&str>) -> Value {
    let mut issue = json!({ "code": code, "message": message, "severity": "ERROR" });
    if let Some(name) = attribute {
        issue["attributeNames"] = json!([name]);
    }
    issue
}

/// Checks JSON Patch operations on `/attributes/<name>`: the change, or every issue found.
pub fn check(patches: &[Value]) -> Result<Change, Vec<Value>> {
    let mut change = Change::default();
    let mut issues = Vec::new();
    if patches.is_empty() {
        issues.push(issue("90244", "'patches' must not be empty".into(), None));
    }
    for (i, p) in patches.iter().enumerate() {
        let path = p.get("path").and_then(Value::as_str).unwrap_or_default();
        let op = p.get("op").and_then(Value::as_str).unwrap_or_default();
        if !matches!(op, "add" | "replace" | "merge" | "delete") {
            issues.push(issue(
                "90244",
                format!("patch {i}: op must be add, replace, merge or delete (value: {op:?})"),
                None,
            ));
            continue;
        }
        let value = p.pointer("/value/0");
        match path {
            "/attributes/fulfillment_availability" => {
                match value.and_then(|v| v.get("quantity")).and_then(Value::as_i64) {
                    Some(q) if q >= 0 => change.quantity = Some(q),
                    other => issues.push(issue(
                        "90220",
                        format!(
                            "'fulfillment_availability.quantity' must be a whole number of 0 or more (value: {})",
                            other.map_or("missing".to_string(), |q| q.to_string())
                        ),
                        Some("fulfillment_availability"),
                    )),
                }
            }
            "/attributes/purchasable_offer" => {
                let amount = value
                    .and_then(|v| v.pointer("/our_price/0/schedule/0/value_with_tax"))
                    .and_then(|a| match a {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    });
                let currency = value
                    .and_then(|v| v.get("currency"))
                    .and_then(Value::as_str);
                match (amount, currency) {
                    (Some(amount), Some(currency))
                        if amount.parse::<Decimal>().is_ok_and(|d| d > Decimal::ZERO) =>
                    {
                        change.price = Some((amount, currency.to_string()));
                    }
                    _ => issues.push(issue(
                        "90220",
                        format!("'purchasable_offer' needs a currency and a positive our_price (patch {i})"),
                        Some("purchasable_offer"),
                    )),
                }
            }
            other => match other.strip_prefix("/attributes/") {
                Some(name)
                    if !name.is_empty()
                        && !name.contains('/')
                        && p.get("value").and_then(Value::as_array).is_some_and(|v| !v.is_empty()) =>
                {
                    change.attributes.push((name.to_string(), p["value"].clone()));
                }
                _ => issues.push(issue(
                    "90244",
                    format!("The patch path '{other}' is not an attribute with a list of values (patch {i})"),
                    None,
                )),
            },
        }
    }
    if issues.is_empty() {
        Ok(change)
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_and_content_patches_are_read() {
        let change = check(&[
            json!({"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}),
            json!({"op": "replace", "path": "/attributes/purchasable_offer", "value": [{"currency": "USD", "our_price": [{"schedule": [{"value_with_tax": 9.5}]}]}]}),
            json!({"op": "replace", "path": "/attributes/item_name", "value": [{"value": "Tea"}]}),
        ])
        .unwrap();
        assert_eq!(change.quantity, Some(4));
        assert_eq!(change.price, Some(("9.5".into(), "USD".into())));
        assert_eq!(change.attributes[0].0, "item_name");
    }

    #[test]
    fn a_negative_quantity_is_an_issue() {
        let issues = check(&[json!({"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"quantity": -1}]})]).unwrap_err();
        assert_eq!(issues[0]["code"], "90220");
    }
}
