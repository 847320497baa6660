//! Listings Items 2021-08-01 patch requests from mapped fields (or canonical records), and their answers.
//! Pure.

use serde_json::{Map, Value, json};

/// The product type of offer-only patches: Amazon accepts `PRODUCT` when only offer attributes change.
pub const OFFER_PRODUCT_TYPE: &str = "PRODUCT";

/// A `ListingsItemPatchRequest` for one SKU. `fields` are the mapping's output: each top-level field is a
/// listing attribute (`fulfillment_availability`, `purchasable_offer`, `item_name`...); without a mapping
/// (`fields` is the canonical record) the attributes are derived from the record.
pub fn patch_request(fields: &Value, marketplace_id: &str) -> Result<Value, String> {
    let object = fields
        .as_object()
        .ok_or_else(|| format!("the mapped fields are not an object (value: {fields})"))?;
    let attributes = if is_canonical(object) {
        canonical_attributes(object)?
    } else {
        object
            .iter()
            .filter(|(name, _)| name.as_str() != "productType")
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    };
    if attributes.is_empty() {
        return Err("no listing attribute to patch".into());
    }
    let patches: Vec<Value> = attributes
        .into_iter()
        .map(|(name, value)| {
            let value = attribute_value(&name, value, marketplace_id)?;
            Ok(json!({ "op": "replace", "path": format!("/attributes/{name}"), "value": value }))
        })
        .collect::<Result<_, String>>()?;
    let product_type = object
        .get("productType")
        .and_then(Value::as_str)
        .unwrap_or(OFFER_PRODUCT_TYPE);
    Ok(json!({ "productType": product_type, "patches": patches }))
}

/// A canonical record (no mapping for the flow) has `sku` and `asOf`.
fn is_canonical(object: &Map<String, Value>) -> bool {
    object.contains_key("sku") && object.contains_key("asOf")
}

fn canonical_attributes(record: &Map<String, Value>) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    if let Some(available) = record.get("available") {
        out.push((
            "fulfillment_availability".to_string(),
            json!({ "fulfillment_channel_code": "DEFAULT", "quantity": available }),
        ));
    }
    if let Some(price) = record.get("price") {
        out.push((
            "purchasable_offer".to_string(),
            json!({ "currency": price["currency"], "our_price": price["amount"] }),
        ));
    }
    if let Some(title) = record.get("title") {
        out.push(("item_name".to_string(), json!({ "value": title })));
        if let Some(Value::Array(bullets)) = record.get("bulletPoints") {
            for bullet in bullets {
                out.push(("bullet_point".to_string(), json!({ "value": bullet })));
            }
        }
        if let Some(description) = record.get("description") {
            out.push((
                "product_description".to_string(),
                json!({ "value": description }),
            ));
        }
        if let Some(brand) = record.get("brand") {
            out.push(("brand".to_string(), json!({ "value": brand })));
        }
        if let Some(Value::Array(images)) = record.get("images") {
            // Amazon's image attributes: the main image, then up to eight others.
            for (i, image) in images.iter().take(9).enumerate() {
                let name = match i {
                    0 => "main_product_image_locator".to_string(),
                    n => format!("other_product_image_locator_{n}"),
                };
                out.push((name, json!({ "media_location": image })));
            }
        }
        if let Some(Value::Object(attributes)) = record.get("attributes") {
            // Without a mapping, the ERP's attribute names are taken as Amazon's.
            for (name, value) in attributes {
                out.push((name.clone(), json!({ "value": value })));
            }
        }
    }
    Ok(merge_repeated(out))
}

/// Attributes named more than once (bullet points) become one attribute with several values.
fn merge_repeated(attributes: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (name, value) in attributes {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, Value::Array(values))) => values.push(value),
            Some((_, existing)) => *existing = Value::Array(vec![existing.clone(), value]),
            None => out.push((name, value)),
        }
    }
    out
}

/// An attribute's value as Amazon wants it: a list of values each tagged with the marketplace;
/// `purchasable_offer.our_price` given as an amount becomes Amazon's price schedule.
fn attribute_value(name: &str, value: Value, marketplace_id: &str) -> Result<Value, String> {
    let values = match value {
        Value::Array(values) => values,
        other => vec![other],
    };
    values
        .into_iter()
        .map(|mut v| {
            if let Value::Object(object) = &mut v {
                if name == "purchasable_offer"
                    && let Some(amount) = object.get("our_price").cloned()
                    && !amount.is_array()
                {
                    object.insert(
                        "our_price".into(),
                        json!([{ "schedule": [{ "value_with_tax": decimal_number(&amount)? }] }]),
                    );
                }
                if name != "fulfillment_availability" {
                    object
                        .entry("marketplace_id")
                        .or_insert_with(|| json!(marketplace_id));
                }
            }
            Ok(v)
        })
        .collect::<Result<Vec<Value>, String>>()
        .map(Value::Array)
}

/// A decimal amount (canonical money is a decimal string) as the JSON number Amazon's schema asks for.
fn decimal_number(amount: &Value) -> Result<Value, String> {
    match amount {
        Value::Number(_) => Ok(amount.clone()),
        Value::String(text) => text
            .parse::<rust_decimal::Decimal>()
            .map_err(|e| {
                format!("purchasable_offer.our_price: not a decimal amount (value: {text:?}): {e}")
            })
            .and_then(|d| {
                d.normalize()
                    .to_string()
                    .parse::<serde_json::Number>()
                    .map(Value::Number)
                    .map_err(|e| e.to_string())
            }),
        other => Err(format!(
            "purchasable_offer.our_price: not an amount (value: {other})"
        )),
    }
}

/// Amazon's answer to a patch: `Ok` when accepted, else the issues in Amazon's words.
pub fn submission_outcome(answer: &Value) -> Result<(), String> {
    match answer.get("status").and_then(Value::as_str) {
        Some("ACCEPTED") => Ok(()),
        status => {
            let issues: Vec<String> = answer
                .get("issues")
                .and_then(Value::as_array)
                .map(|issues| {
                    issues
                        .iter()
                        .filter(|i| i.get("severity").and_then(Value::as_str) == Some("ERROR"))
                        .map(|i| {
                            format!(
                                "{} {}",
                                i.get("code").and_then(Value::as_str).unwrap_or("?"),
                                i.get("message").and_then(Value::as_str).unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Err(format!(
                "Amazon answered {}: {}",
                status.unwrap_or("without a status"),
                if issues.is_empty() {
                    "no issue given".to_string()
                } else {
                    issues.join("; ")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_offer_fields_become_amazon_attributes() {
        let fields = json!({
            "fulfillment_availability": {"fulfillment_channel_code": "DEFAULT", "quantity": 7},
            "purchasable_offer": {"currency": "USD", "our_price": "19.90"},
        });
        let request = patch_request(&fields, "ATVPDKIKX0DER").unwrap();
        assert_eq!(request["productType"], "PRODUCT");
        assert_eq!(
            request["patches"][0]["path"],
            "/attributes/fulfillment_availability"
        );
        assert_eq!(request["patches"][0]["value"][0]["quantity"], 7);
        let offer = &request["patches"][1]["value"][0];
        assert_eq!(
            offer["our_price"][0]["schedule"][0]["value_with_tax"],
            json!(19.9)
        );
        assert_eq!(offer["marketplace_id"], "ATVPDKIKX0DER");
    }

    #[test]
    fn a_canonical_record_is_patched_without_a_mapping() {
        let record = json!({"sku": "A", "available": 3, "asOf": "2026-11-28T00:00:00Z", "correlationId": "x"});
        let request = patch_request(&record, "M").unwrap();
        assert_eq!(request["patches"][0]["value"][0]["quantity"], 3);
        assert_eq!(request["patches"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_canonical_product_becomes_content_attributes() {
        let record = json!({"sku": "A", "asOf": "2026-11-28T00:00:00Z", "title": "Tea", "bulletPoints": ["Green", "Loose"],
            "brand": "Tw", "images": ["https://img/1.jpg", "https://img/2.jpg"], "attributes": {"color": "green"}});
        let request = patch_request(&record, "M").unwrap();
        let paths: Vec<&str> = request["patches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                "/attributes/item_name",
                "/attributes/bullet_point",
                "/attributes/brand",
                "/attributes/main_product_image_locator",
                "/attributes/other_product_image_locator_1",
                "/attributes/color"
            ]
        );
        assert_eq!(request["patches"][1]["value"][1]["value"], "Loose");
        assert_eq!(request["patches"][3]["value"][0]["marketplace_id"], "M");
    }

    #[test]
    fn an_invalid_submission_carries_amazons_issue_text() {
        let answer = json!({"status": "INVALID", "issues": [{"code": "90220", "message": "bad quantity", "severity": "ERROR"}]});
        assert_eq!(
            submission_outcome(&answer).unwrap_err(),
            "Amazon answered INVALID: 90220 bad quantity"
        );
        assert!(submission_outcome(&json!({"status": "ACCEPTED"})).is_ok());
    }
}
