//! Limits a specification states only in prose ("It cannot be more than 50 entities"): each written down
//! once, by hand, as a JSON Schema fragment on a parameter or body field of one operation, with the file and
//! the sentence it comes from. Loading checks that the sentence is really in that file, so a rule cannot
//! drift from its source; the request checks then apply it like the specification's own schemas.

use serde_json::Value;

use super::openapi::Scalar;

/// What a prose rule constrains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A query parameter, read as this type.
    Query(&'static str, Scalar),
    /// A header, read as text.
    Header(&'static str),
    /// A path parameter, read as this type.
    Path(&'static str, Scalar),
    /// Values in a JSON body at a pointer whose `*` tokens stand for every array item or object member
    /// (`/fulfillments/*/shippedDate`); absent values are not checked.
    Body(&'static str),
}

/// A rule stated in prose in a specification.
#[derive(Clone, Debug)]
pub struct ProseRule {
    /// The rule's id, named in violations: `walmart.getFeedItemStatus.limit`.
    pub id: &'static str,
    /// The operation (its `operationId`) it applies to; `*`: every operation declaring the parameter.
    pub operation: &'static str,
    pub target: Target,
    /// The constraint, as a JSON Schema (Draft 4) fragment: `{"maximum": 50}`.
    pub schema: Value,
    /// The specification file (under `specs/`) and the sentence the rule comes from, verbatim.
    pub file: &'static str,
    pub quote: &'static str,
}

/// A correction to a specification whose schema contradicts the same file's examples and the API's real
/// answers (a Java `Object` map published as `type: object` where every example has strings). Applied at
/// load; refused when the value at `pointer` is not `was`, so a corrected file makes the erratum fail loudly
/// instead of silently replacing the fix.
#[derive(Clone, Copy, Debug)]
pub struct Erratum {
    pub file: &'static str,
    /// JSON pointer into the parsed file.
    pub pointer: &'static str,
    /// The value found there, as JSON text.
    pub was: &'static str,
    /// The value used instead, as JSON text.
    pub now: &'static str,
    /// Why, citing the contradicting example.
    pub why: &'static str,
}

/// Whether `quote` is in `text`, whitespace-insensitively (YAML folds lines).
pub fn quoted_in(text: &str, quote: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    squash(text).contains(&squash(quote))
}

/// Whether `quote` is in one of the strings of a parsed document (a description, a summary), so quoting
/// rules see the text as written, not its YAML escaping.
pub fn quoted_in_document(document: &Value, quote: &str) -> bool {
    match document {
        Value::String(text) => quoted_in(text, quote),
        Value::Array(items) => items.iter().any(|i| quoted_in_document(i, quote)),
        Value::Object(map) => map.values().any(|v| quoted_in_document(v, quote)),
        _ => false,
    }
}

/// The values of `value` at `pattern` with their concrete pointers.
pub fn select<'v>(value: &'v Value, pattern: &str) -> Vec<(String, &'v Value)> {
    let mut found = vec![(String::new(), value)];
    for token in pattern.split('/').skip(1) {
        let mut next = Vec::new();
        for (pointer, at) in found {
            match (token, at) {
                ("*", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        next.push((format!("{pointer}/{i}"), item));
                    }
                }
                ("*", Value::Object(map)) => {
                    for (key, item) in map {
                        next.push((format!("{pointer}/{key}"), item));
                    }
                }
                (token, Value::Object(map)) => {
                    if let Some(item) = map.get(token) {
                        next.push((format!("{pointer}/{token}"), item));
                    }
                }
                (token, Value::Array(items)) => {
                    if let Some(item) = token.parse::<usize>().ok().and_then(|i| items.get(i)) {
                        next.push((format!("{pointer}/{token}"), item));
                    }
                }
                _ => {}
            }
        }
        found = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_expand_over_arrays() {
        let body = json!({"a": [{"d": 1}, {"d": 2}, {"e": 3}]});
        let found: Vec<_> = select(&body, "/a/*/d")
            .into_iter()
            .map(|(p, v)| (p, v.clone()))
            .collect();
        assert_eq!(
            found,
            vec![("/a/0/d".into(), json!(1)), ("/a/1/d".into(), json!(2))]
        );
    }

    #[test]
    fn quotes_are_found_across_line_folds() {
        assert!(quoted_in(
            "It cannot be\n   more than 50 entities.",
            "cannot be more than 50"
        ));
        assert!(!quoted_in(
            "It cannot be more than 60",
            "cannot be more than 50"
        ));
    }
}
