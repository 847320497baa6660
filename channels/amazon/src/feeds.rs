//! JSON_LISTINGS_FEED documents from listings patch requests, and the processing report read back into one
//! outcome per message. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The content type the feed document is uploaded with (and declared in `createFeedDocument`).
pub const CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// Most messages one JSON_LISTINGS_FEED may carry.
pub const MAX_MESSAGES: usize = 25_000;

/// A JSON_LISTINGS_FEED document (listings-feed-schema-v2): one `PATCH` message per SKU, numbered from 1 in
/// the order given, each carrying the patch request's product type and patches.
pub fn document(seller_id: &str, messages: &[(String, Value)]) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (sku, request))| {
            json!({
                "messageId": i + 1,
                "sku": sku,
                "operationType": "PATCH",
                "productType": request["productType"],
                "patches": request["patches"],
            })
        })
        .collect();
    json!({
        "header": { "sellerId": seller_id, "version": "2.0", "issueLocale": "en_US" },
        "messages": messages,
    })
}

/// One outcome per message of a feed of `count` messages from its processing report: a message with an
/// `ERROR` issue failed with Amazon's issue text (code and message, every issue of it); warnings are accepted.
/// An error that names no message (the document itself) fails every message.
pub fn outcomes(report: &Value, count: usize) -> Vec<Result<(), String>> {
    let mut by_message: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut feed_level = Vec::new();
    for issue in report
        .get("issues")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if issue.get("severity").and_then(Value::as_str) != Some("ERROR") {
            continue;
        }
        let text = issue_text(issue);
        match issue.get("messageId").and_then(Value::as_u64) {
            Some(id) => by_message.entry(id).or_default().push(text),
            None => feed_level.push(text),
        }
    }
    (1..=count as u64)
        .map(|id| {
            let mut texts = by_message.remove(&id).unwrap_or_default();
            texts.extend(feed_level.iter().cloned());
            if texts.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "Amazon's feed processing report rejected message {id}: {}",
                    texts.join("; ")
                ))
            }
        })
        .collect()
}

fn issue_text(issue: &Value) -> String {
    let code = issue.get("code").and_then(Value::as_str).unwrap_or("?");
    let message = issue.get("message").and_then(Value::as_str).unwrap_or("");
    match issue.get("attributeName").and_then(Value::as_str) {
        Some(attribute) => format!("{code} {message} ({attribute})"),
        None => format!("{code} {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_numbered_patches() {
        let request = json!({"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/x", "value": [1]}]});
        let doc = document(
            "A1",
            &[("S-1".into(), request.clone()), ("S-2".into(), request)],
        );
        assert_eq!(doc["header"]["version"], "2.0");
        assert_eq!(doc["messages"][1]["messageId"], 2);
        assert_eq!(doc["messages"][1]["sku"], "S-2");
        assert_eq!(doc["messages"][0]["operationType"], "PATCH");
    }

    #[test]
    fn the_specs_example_report_fails_exactly_the_messages_it_names() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../specs/amazon/listings-feed-processing-report-schema-v2.example.json"),
        )
        .unwrap();
        let report: Value = serde_json::from_str(&text).unwrap();
        let results = outcomes(&report, 5);
        assert!(results[0].is_ok() && results[1].is_ok() && results[2].is_ok());
        let four = results[3].clone().unwrap_err();
        assert!(
            four.contains("90220 '[batteries_required]' is required but not supplied."),
            "{four}"
        );
        assert!(
            four.contains("supplier_declared_dg_hz_regulation"),
            "{four}"
        );
        let five = results[4].clone().unwrap_err();
        assert!(five.contains("(purchasable_offer.our_price)"), "{five}");
    }

    #[test]
    fn a_feed_level_error_fails_every_message() {
        let report = json!({"issues": [{"severity": "ERROR", "code": "4000001", "message": "bad document"}]});
        assert!(outcomes(&report, 2).iter().all(Result::is_err));
    }
}
