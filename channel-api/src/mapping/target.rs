//! Target fields: dotted paths split once at compile time, checked for clashes, and written into nested objects.

use serde_json::{Map, Value};

/// A target such as `fulfillment_availability.quantity`, as its path segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPath {
    text: String,
    segments: Vec<String>,
}

impl TargetPath {
    /// Splits a target at its dots; an empty segment (`a..b`, `.a`) is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!(
                "target {text:?} has an empty segment; write field names separated by single dots"
            ));
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True when writing one would overwrite the other: the same path, or one inside the other (`a` and `a.b`).
    pub fn clashes_with(&self, other: &TargetPath) -> bool {
        self.segments
            .iter()
            .zip(&other.segments)
            .all(|(a, b)| a == b)
    }

    /// Writes `value` at this path in `object`, creating the objects on the way. Compiled targets never clash, so
    /// an intermediate that is not an object can only come from a caller's own object; it is replaced.
    pub fn write(&self, object: &mut Map<String, Value>, value: Value) {
        let Some((last, parents)) = self.segments.split_last() else {
            return;
        };
        let mut current = object;
        for segment in parents {
            let entry = current
                .entry(segment.as_str())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            current = match entry {
                Value::Object(inner) => inner,
                _ => return,
            };
        }
        current.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> TargetPath {
        TargetPath::parse(text).expect("valid target")
    }

    #[test]
    fn dotted_targets_become_nested_objects() {
        let mut out = Map::new();
        path("fulfillment_availability.quantity").write(&mut out, json!(5));
        path("fulfillment_availability.fulfillment_channel_code").write(&mut out, json!("DEFAULT"));
        path("offer-sku").write(&mut out, json!("A"));
        assert_eq!(
            Value::Object(out),
            json!({
                "fulfillment_availability": {"quantity": 5, "fulfillment_channel_code": "DEFAULT"},
                "offer-sku": "A"
            })
        );
    }

    #[test]
    fn clashes_are_same_or_nested_paths() {
        assert!(path("a.b").clashes_with(&path("a")));
        assert!(path("a").clashes_with(&path("a.b")));
        assert!(path("a.b").clashes_with(&path("a.b")));
        assert!(!path("a.b").clashes_with(&path("a.c")));
        assert!(!path("ab").clashes_with(&path("a")));
        assert!(TargetPath::parse("a..b").is_err());
    }
}
