//! The body of one outbound call and the portal's answer to it. Pure.
//!
//! Request: `{"items": [{"key": "<SKU or order id>", "correlationId": "...", "fields": {...}}, ...]}`, `fields`
//! being the mapping's output for one record (the canonical record when the flow has no mapping). The key and
//! correlation id let the portal recognise an item sent again. Answer (2xx): empty, or `{"rejected":
//! [{"index": <position in items>, "status": <code>, "message": "..."}]}` for items the portal refused while it
//! took the others.

use channel_api::connector::{ConnectorError, OutboundItem};
use serde::Deserialize;
use serde_json::{Value, json};

/// The request body of a batch.
pub fn body(items: &[OutboundItem]) -> Value {
    json!({
        "items": items.iter().map(|i| json!({
            "key": i.key,
            "correlationId": i.correlation_id.as_str(),
            "fields": i.fields,
        })).collect::<Vec<Value>>()
    })
}

/// The idempotency key of a batch: a hash of its items' correlation ids and keys, stable across retries, so a
/// batch sent twice (after a crash between the call and the acknowledgement) is recognisable as the same.
pub fn key(items: &[OutboundItem]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for item in items {
        for byte in item
            .correlation_id
            .as_str()
            .bytes()
            .chain(item.key.bytes())
            .chain([0u8])
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    rejected: Vec<Rejection>,
}

#[derive(Debug, Deserialize)]
struct Rejection {
    index: usize,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    message: String,
}

/// One result per item from a 2xx answer's text: the items the answer rejects fail permanently with the
/// portal's words; an empty or non-JSON answer accepts every item (many portals answer `204` or `OK`).
pub fn results(items: &[OutboundItem], answer: &str) -> Vec<Result<(), ConnectorError>> {
    let mut results: Vec<Result<(), ConnectorError>> = items.iter().map(|_| Ok(())).collect();
    let answer: Answer = serde_json::from_str(answer).unwrap_or_default();
    for rejection in answer.rejected {
        if let Some(slot) = results.get_mut(rejection.index) {
            let status = rejection
                .status
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            *slot = Err(ConnectorError::permanent(format!(
                "the portal rejected item {} ({}): {status}{}",
                rejection.index, items[rejection.index].key, rejection.message
            )));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(key: &str) -> OutboundItem {
        OutboundItem {
            key: key.into(),
            correlation_id: format!("c-{key}").as_str().try_into().unwrap(),
            fields: json!({"articleNumber": key}),
            record: json!({}),
        }
    }

    #[test]
    fn the_body_lists_the_mapped_fields_in_order() {
        assert_eq!(
            body(&[item("A"), item("B")]),
            json!({"items": [
                {"key": "A", "correlationId": "c-A", "fields": {"articleNumber": "A"}},
                {"key": "B", "correlationId": "c-B", "fields": {"articleNumber": "B"}}
            ]})
        );
        assert_eq!(key(&[item("A")]), key(&[item("A")]));
        assert_ne!(key(&[item("A")]), key(&[item("B")]));
    }

    #[test]
    fn rejected_items_fail_with_the_portals_text_and_the_others_pass() {
        let items = [item("A"), item("B"), item("C")];
        let answer = r#"{"accepted": 2, "rejected": [{"index": 1, "status": 422, "message": "quantityAvailable must not be negative"}, {"index": 9}]}"#;
        let results = results(&items, answer);
        assert!(results[0].is_ok() && results[2].is_ok());
        let error = results[1].clone().unwrap_err();
        assert_eq!(
            error,
            ConnectorError::permanent(
                "the portal rejected item 1 (B): 422: quantityAvailable must not be negative"
            )
        );
        assert!(super::results(&items, "").iter().all(Result::is_ok));
    }
}
