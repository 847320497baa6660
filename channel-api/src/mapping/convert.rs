//! JSON to CEL values and back, without passing anything through a float that was not one to begin with: decimal
//! amounts are strings in canonical JSON and stay strings; integers stay integers.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::objects::{Key, Map, Value};

/// The CEL value of a JSON value.
pub fn to_cel(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => number(n),
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(to_cel).collect()))
        }
        serde_json::Value::Object(fields) => object(fields.iter()),
    }
}

/// The CEL value of a record, keeping only the top-level fields in `fields` when it is `Some`: a flow's
/// expressions usually read a few fields of a record, and converting the others would be wasted work per record.
pub fn to_cel_selected(json: &serde_json::Value, fields: Option<&BTreeSet<String>>) -> Value {
    match (json, fields) {
        (serde_json::Value::Object(all), Some(wanted)) => object(
            all.iter()
                .filter(|(name, _)| wanted.contains(name.as_str())),
        ),
        _ => to_cel(json),
    }
}

fn object<'a>(fields: impl Iterator<Item = (&'a String, &'a serde_json::Value)>) -> Value {
    let map: HashMap<Key, Value> = fields
        .map(|(name, value)| (Key::String(Arc::new(name.clone())), to_cel(value)))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Integers are CEL ints (or uints above `i64::MAX`); only a JSON number with a fraction or exponent is a double.
fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The JSON value of an expression's result, or why it has none.
pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::UInt(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        Value::String(s) => serde_json::Value::String(s.as_str().to_string()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(map) => serde_json::Value::Object(
            map.map
                .iter()
                .map(|(key, value)| Ok((key_text(key), to_json(value)?)))
                .collect::<Result<_, String>>()?,
        ),
        // Timestamps and durations are written as canonical JSON writes them: RFC 3339 in UTC, and seconds.
        Value::Timestamp(t) => serde_json::Value::String(
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        Value::Duration(d) => serde_json::Value::String(duration_text(d)),
        Value::Opaque(opaque) => match opaque.downcast_ref::<cel::objects::OptionalValue>() {
            Some(optional) => optional
                .value()
                .map_or(Ok(serde_json::Value::Null), to_json)?,
            None => return Err(format!("a {} has no JSON form", opaque.runtime_type_name())),
        },
        Value::Bytes(_) => return Err("bytes have no JSON form; convert them with string()".into()),
        Value::Function(name, _) => return Err(format!("the function {name} has no JSON form")),
    })
}

fn key_text(key: &Key) -> String {
    match key {
        Key::String(s) => s.as_str().to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

/// `90s`, `1.5s`: CEL's (and protobuf JSON's) duration text.
fn duration_text(d: &chrono::Duration) -> String {
    let seconds = d.num_seconds();
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        format!("{seconds}s")
    } else {
        let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
        let fraction = format!("{:09}", nanos.unsigned_abs());
        format!(
            "{sign}{}.{}s",
            seconds.unsigned_abs(),
            fraction.trim_end_matches('0')
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_with_integers_and_decimal_strings_intact() {
        let record = json!({
            "available": 42,
            "big": u64::MAX,
            "price": {"amount": "19.99", "currency": "USD"},
            "ratio": 0.5,
            "tags": ["a", null, true]
        });
        let back = to_json(&to_cel(&record)).expect("converts back");
        assert_eq!(back, record);
        assert!(matches!(to_cel(&json!(42)), Value::Int(42)));
        assert!(matches!(to_cel(&json!("19.99")), Value::String(_)));
    }

    #[test]
    fn only_selected_fields_are_converted() {
        let record = json!({"sku": "A", "available": 1, "locations": [{"location": "DAL"}]});
        let wanted: BTreeSet<String> = ["available".to_string()].into();
        let back = to_json(&to_cel_selected(&record, Some(&wanted))).expect("converts back");
        assert_eq!(back, json!({"available": 1}));
        let all = to_json(&to_cel_selected(&record, None)).expect("converts back");
        assert_eq!(all, record);
    }

    #[test]
    fn values_without_json_form_are_errors() {
        assert!(to_json(&Value::Float(f64::NAN)).is_err());
        assert!(to_json(&Value::Bytes(Arc::new(vec![1]))).is_err());
        assert_eq!(
            to_json(&Value::Duration(chrono::Duration::milliseconds(1500))),
            Ok(json!("1.5s"))
        );
    }
}
