//! CloudEvents in binary mode over NATS: the attributes travel as `ce-*` headers, the canonical record as the
//! JSON payload, with the W3C `traceparent` and our correlation id beside them.
//!
//! Decoding never panics and never guesses: a payload that is not UTF-8, not JSON, of an unknown type, too
//! large, or a record that breaks its invariants is a [`DecodeError`] whose text names the problem; the flow
//! sends the message to the dead-letter stream with it and moves on.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::canonical::{FieldError, Record, Validate};
use crate::topology::MAX_MESSAGE_BYTES;

pub const SPEC_VERSION: &str = "1.0";
pub const H_SPEC_VERSION: &str = "ce-specversion";
pub const H_ID: &str = "ce-id";
pub const H_SOURCE: &str = "ce-source";
pub const H_TYPE: &str = "ce-type";
pub const H_TIME: &str = "ce-time";
pub const H_SUBJECT: &str = "ce-subject";
/// CloudEvents extension attribute carrying the business transaction's correlation id.
pub const H_CORRELATION_ID: &str = "ce-correlationid";
pub const H_TRACEPARENT: &str = "traceparent";
pub const H_CONTENT_TYPE: &str = "content-type";
/// JetStream's de-duplication header; equal to `ce-id`.
pub const H_MSG_ID: &str = "Nats-Msg-Id";

/// Header names and values of a message, independent of the NATS client's header type.
pub type Headers = BTreeMap<String, String>;

/// A record with its CloudEvent attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unique per event, and stable when the same event is published again (used as `Nats-Msg-Id`).
    pub id: String,
    /// Who produced it, as a URI reference (`/tradewind/<namespace>/marketplace/<name>`).
    pub source: String,
    pub time: DateTime<Utc>,
    /// W3C trace context of the transaction, when it has one.
    pub traceparent: Option<String>,
    pub record: Record,
}

/// Why a message is not a usable event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge { bytes: usize, limit: usize },
    NotUtf8 { valid_up_to: usize },
    MissingHeader(&'static str),
    UnsupportedSpecVersion(String),
    UnknownType(String),
    Malformed(String),
    Invalid(Vec<FieldError>),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { bytes, limit } => {
                write!(f, "payload is {bytes} bytes; at most {limit}")
            }
            DecodeError::NotUtf8 { valid_up_to } => {
                write!(
                    f,
                    "payload is not UTF-8 (invalid byte at offset {valid_up_to})"
                )
            }
            DecodeError::MissingHeader(name) => write!(f, "header {name} is missing"),
            DecodeError::UnsupportedSpecVersion(v) => {
                write!(f, "CloudEvents spec version {v:?} is not 1.0")
            }
            DecodeError::UnknownType(t) => write!(f, "unknown event type {t:?}"),
            DecodeError::Malformed(message) => write!(f, "malformed payload: {message}"),
            DecodeError::Invalid(problems) => {
                let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
                write!(f, "invalid record: {}", texts.join("; "))
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The CloudEvents type names and the record variant tag each one carries.
const TYPES: &[(&str, &str)] = &[
    ("dev.tradewind.inventory.v1", "inventory"),
    ("dev.tradewind.price.v1", "price"),
    ("dev.tradewind.product.v1", "product"),
    ("dev.tradewind.order.v1", "order"),
    (
        "dev.tradewind.order-acknowledgement.v1",
        "orderAcknowledgement",
    ),
    ("dev.tradewind.order-cancellation.v1", "orderCancellation"),
    ("dev.tradewind.shipment.v1", "shipment"),
    ("dev.tradewind.return.v1", "return"),
    ("dev.tradewind.settlement.v1", "settlement"),
    ("dev.tradewind.invoice.v1", "invoice"),
];

/// Encodes an event as headers and a JSON payload.
pub fn encode(event: &Event, subject_key: Option<&str>) -> serde_json::Result<(Headers, Vec<u8>)> {
    let tagged = serde_json::to_value(&event.record)?;
    let data = tagged.get("data").cloned().unwrap_or(Value::Null);
    let payload = serde_json::to_vec(&data)?;
    let mut headers = Headers::new();
    headers.insert(H_SPEC_VERSION.into(), SPEC_VERSION.into());
    headers.insert(H_ID.into(), event.id.clone());
    headers.insert(H_MSG_ID.into(), event.id.clone());
    headers.insert(H_SOURCE.into(), event.source.clone());
    headers.insert(H_TYPE.into(), event.record.event_type().into());
    headers.insert(
        H_TIME.into(),
        event
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    headers.insert(
        H_CORRELATION_ID.into(),
        event.record.correlation_id().to_string(),
    );
    headers.insert(H_CONTENT_TYPE.into(), "application/json".into());
    if let Some(key) = subject_key {
        headers.insert(H_SUBJECT.into(), key.into());
    }
    if let Some(traceparent) = &event.traceparent {
        headers.insert(H_TRACEPARENT.into(), traceparent.clone());
    }
    Ok((headers, payload))
}

/// Decodes and validates an event.
pub fn decode(headers: &Headers, payload: &[u8]) -> Result<Event, DecodeError> {
    let limit = usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX);
    if payload.len() > limit {
        return Err(DecodeError::TooLarge {
            bytes: payload.len(),
            limit,
        });
    }
    let header = |name: &'static str| headers.get(name).ok_or(DecodeError::MissingHeader(name));
    let spec = header(H_SPEC_VERSION)?;
    if spec != SPEC_VERSION {
        return Err(DecodeError::UnsupportedSpecVersion(spec.clone()));
    }
    let event_type = header(H_TYPE)?;
    let tag = TYPES
        .iter()
        .find(|(name, _)| name == event_type)
        .map(|(_, tag)| *tag)
        .ok_or_else(|| DecodeError::UnknownType(event_type.clone()))?;
    let id = header(H_ID)?.clone();
    let source = header(H_SOURCE)?.clone();
    let time = DateTime::parse_from_rfc3339(header(H_TIME)?)
        .map_err(|e| DecodeError::Malformed(format!("header {H_TIME}: {e}")))?
        .with_timezone(&Utc);
    let text = std::str::from_utf8(payload).map_err(|e| DecodeError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let data: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let tagged = serde_json::json!({ "type": tag, "data": data });
    let record: Record = serde_path_to_error::deserialize(&tagged).map_err(|e| {
        let path = e.path().to_string();
        let path = path.strip_prefix("data.").unwrap_or(&path).to_string();
        DecodeError::Malformed(format!("{path}: {}", e.inner()))
    })?;
    let problems = record.problems();
    if !problems.is_empty() {
        return Err(DecodeError::Invalid(problems));
    }
    Ok(Event {
        id,
        source,
        time,
        traceparent: headers.get(H_TRACEPARENT).cloned(),
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::InventoryPosition;

    fn inventory(available: i64) -> Event {
        let record = Record::Inventory(InventoryPosition {
            correlation_id: "erp:inv:TW-1001:42".try_into().unwrap(),
            sku: "TW-1001".try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: "2026-11-28T10:00:00Z".parse().unwrap(),
        });
        Event {
            id: "erp:inv:TW-1001:42".into(),
            source: "/tradewind/demo/erp/demo-erp".into(),
            time: "2026-11-28T10:00:01Z".parse().unwrap(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            record,
        }
    }

    #[test]
    fn round_trip_keeps_every_attribute() {
        let event = inventory(7);
        let (headers, payload) = encode(&event, Some("TW-1001")).unwrap();
        assert_eq!(headers[H_TYPE], "dev.tradewind.inventory.v1");
        assert_eq!(headers[H_MSG_ID], event.id);
        assert_eq!(headers[H_CORRELATION_ID], "erp:inv:TW-1001:42");
        assert_eq!(decode(&headers, &payload).unwrap(), event);
    }

    #[test]
    fn every_record_type_is_decodable() {
        for (name, tag) in TYPES {
            let tagged: Value = serde_json::json!({"type": tag, "data": {}});
            // An empty record is malformed, but its type must be known.
            let error = serde_json::from_value::<Record>(tagged)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.contains("unknown variant"), "{name}: {error}");
        }
    }

    #[test]
    fn bad_input_is_named() {
        let (headers, payload) = encode(&inventory(7), None).unwrap();

        let not_json = decode(&headers, b"{not json").unwrap_err();
        assert!(
            not_json.to_string().starts_with("malformed payload"),
            "{not_json}"
        );

        let not_utf8 = decode(&headers, &[b'{', 0xff, b'}']).unwrap_err();
        assert_eq!(not_utf8, DecodeError::NotUtf8 { valid_up_to: 1 });

        let mut unknown = headers.clone();
        unknown.insert(H_TYPE.into(), "dev.tradewind.coupon.v1".into());
        assert_eq!(
            decode(&unknown, &payload).unwrap_err(),
            DecodeError::UnknownType("dev.tradewind.coupon.v1".into())
        );

        let huge = vec![b' '; 10 * 1024 * 1024];
        assert!(matches!(
            decode(&headers, &huge),
            Err(DecodeError::TooLarge { .. })
        ));

        let mut missing: Value = serde_json::from_slice(&payload).unwrap();
        missing.as_object_mut().unwrap().remove("sku");
        let error = decode(&headers, &serde_json::to_vec(&missing).unwrap()).unwrap_err();
        assert!(error.to_string().contains("sku"), "{error}");

        let (headers, payload) = encode(&inventory(-3), None).unwrap();
        let negative = decode(&headers, &payload).unwrap_err();
        assert_eq!(
            negative.to_string(),
            "invalid record: available: quantity must not be negative (value: -3)"
        );
    }
}
