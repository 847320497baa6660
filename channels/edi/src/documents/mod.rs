//! The transaction sets this connector writes and reads, as pure functions between canonical JSON (or the
//! mapping's `SEGMENT.ELEMENT` fields) and segments. Envelopes are added by [`crate::envelope`].
//!
//! Outbound documents read each value from the mapped fields first (`LIN.LIN03`, as the `ChannelMapping`
//! names them, so cross-references and value maps apply) and fall back to the canonical record.

pub mod acknowledgement;
pub mod functional_ack;
pub mod inventory;
pub mod invoice;
pub mod purchase_order;
pub mod ship_notice;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A JSON scalar as X12 text (strings as they are, numbers in their JSON text), `None` for null or absent.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The mapped `segment.element` field, if the mapping produced one.
pub(crate) fn mapped(fields: &Value, segment: &str, element: &str) -> Option<String> {
    text(fields.get(segment).and_then(|s| s.get(element)))
}

/// A canonical record's field (camelCase name).
pub(crate) fn field(record: &Value, name: &str) -> Option<String> {
    text(record.get(name))
}

/// A required value: the mapped field, else the record's, else an error naming both.
pub(crate) fn required(
    fields: &Value,
    record: &Value,
    (segment, element): (&str, &str),
    name: &str,
) -> Result<String, String> {
    mapped(fields, segment, element)
        .or_else(|| field(record, name))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{segment}.{element} (or the record's {name}) is missing"))
}

/// CCYYMMDD.
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d").to_string()
}

/// HHMM.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%H%M").to_string()
}

/// An RFC 3339 time from a record field.
pub(crate) fn record_time(record: &Value, name: &str) -> Result<DateTime<Utc>, String> {
    let t = field(record, name).ok_or_else(|| format!("the record's {name} is missing"))?;
    DateTime::parse_from_rfc3339(&t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("the record's {name} {t:?} is not an RFC 3339 time: {e}"))
}

/// A quantity: an integer, as X12's N0 types want it.
pub(crate) fn quantity(value: &str, what: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("{what} {value:?} is not a whole number"))
}

#[cfg(test)]
mod tests;
