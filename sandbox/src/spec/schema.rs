//! OpenAPI schemas as JSON Schema: what differs is converted once per document ([`normalize`]), and each
//! schema an operation uses is compiled on first use ([`LazySchema`]) from a small bundle holding only the
//! definitions it references, so a 2.6 MB specification is not copied into every validator.

use std::sync::{Arc, OnceLock};

use jsonschema::Draft;
use serde_json::{Map, Value, json};

/// Which OpenAPI dialect a document speaks, and so how its schemas read as JSON Schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0: Draft 4 schemas, `definitions`.
    Swagger2,
    /// OpenAPI 3.0: Draft 4-like schemas with `nullable`.
    OpenApi30,
    /// OpenAPI 3.1: JSON Schema 2020-12.
    OpenApi31,
}

impl Dialect {
    pub fn draft(self) -> Draft {
        match self {
            Dialect::Swagger2 | Dialect::OpenApi30 => Draft::Draft4,
            Dialect::OpenApi31 => Draft::Draft202012,
        }
    }
}

/// Rewrites the parts of a document's schemas JSON Schema reads differently, everywhere in the document:
/// OpenAPI 3.0's `nullable: true` becomes a `null` alternative; Swagger's `type: file` (not a JSON type) is
/// dropped; an empty `required` list (invalid in Draft 4) is removed; an OpenAPI 3.1 `example`-only object
/// needs nothing.
pub fn normalize(value: &mut Value, dialect: Dialect) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                normalize(child, dialect);
            }
            if dialect != Dialect::OpenApi31 {
                if map
                    .get("required")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    map.remove("required");
                }
                if map.get("type").and_then(Value::as_str) == Some("file") {
                    map.remove("type");
                }
            }
            if dialect == Dialect::OpenApi30 && map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                make_nullable(map);
            }
        }
        Value::Array(items) => {
            for item in items {
                normalize(item, dialect);
            }
        }
        _ => {}
    }
}

fn make_nullable(map: &mut Map<String, Value>) {
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match map.get("type").cloned() {
        Some(Value::String(t)) => {
            map.insert("type".into(), json!([t, "null"]));
        }
        Some(_) => {}
        None => {
            // `$ref`, `allOf`...: either that schema or null.
            let inner = Value::Object(std::mem::take(map));
            map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
        }
    }
}

/// A schema of a document, compiled on first use.
#[derive(Debug)]
pub struct LazySchema {
    /// The schema as written (refs into the document allowed).
    pub schema: Value,
    compiled: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
}

impl LazySchema {
    pub fn new(schema: Value) -> Self {
        Self {
            schema,
            compiled: OnceLock::new(),
        }
    }

    /// A schema that is the value at `pointer` of `document` (copied: references within it stay references
    /// into the document).
    pub fn at(document: &Value, pointer: &str) -> Self {
        Self::new(document.pointer(pointer).cloned().unwrap_or(json!({})))
    }

    /// The validator, compiling it against `document` the first time.
    pub fn validator(
        &self,
        document: &Value,
        dialect: Dialect,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        self.compiled
            .get_or_init(|| compile(&self.schema, document, dialect))
            .clone()
    }
}

/// Compiles `schema` with the parts of `document` it references.
pub fn compile(
    schema: &Value,
    document: &Value,
    dialect: Dialect,
) -> Result<Arc<jsonschema::Validator>, String> {
    let bundled = bundle(schema, document)?;
    jsonschema::options()
        .with_draft(dialect.draft())
        .should_validate_formats(true)
        .build(&bundled)
        .map(Arc::new)
        .map_err(|e| format!("the schema does not compile: {e}"))
}

/// `{"allOf": [schema]}` plus, at their own pointers, every part of `document` that `schema` references,
/// directly or not. References outside the document (other files, URLs) are an error.
pub fn bundle(schema: &Value, document: &Value) -> Result<Value, String> {
    let mut root = json!({ "allOf": [schema] });
    let mut pending = Vec::new();
    collect_refs(schema, &mut pending);
    let mut included = std::collections::BTreeSet::new();
    while let Some(reference) = pending.pop() {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!("reference {reference} leaves the document"));
        };
        let pointer = percent_encoding::percent_decode_str(pointer).decode_utf8_lossy();
        if !included.insert(pointer.to_string()) {
            continue;
        }
        let target = document
            .pointer(&pointer)
            .ok_or_else(|| format!("reference {reference} points nowhere in the document"))?;
        collect_refs(target, &mut pending);
        insert_at(&mut root, &pointer, target.clone());
    }
    Ok(root)
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            for child in map.values() {
                collect_refs(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// Puts `value` at `pointer` under `root`, creating objects (or arrays, for numeric tokens) on the way.
fn insert_at(root: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut at = root;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let index = token.parse::<usize>().ok();
        if at.is_null() {
            *at = if index.is_some() {
                json!([])
            } else {
                json!({})
            };
        }
        let next = match (at, index) {
            (Value::Array(items), Some(index)) => {
                while items.len() <= index {
                    items.push(Value::Null);
                }
                &mut items[index]
            }
            (Value::Object(map), _) => map.entry(token.clone()).or_insert(Value::Null),
            _ => return,
        };
        if last {
            *next = value;
            return;
        }
        at = next;
    }
}

/// The schema at a `$ref`-chain's end: what a parameter's `type` is read from.
pub fn resolve<'a>(mut schema: &'a Value, document: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| document.pointer(p))
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_a_null_alternative() {
        let mut doc = json!({"a": {"type": "string", "nullable": true, "enum": ["x"]},
            "b": {"$ref": "#/c", "nullable": true}, "d": {"required": [], "type": "file"}});
        normalize(&mut doc, Dialect::OpenApi30);
        assert_eq!(
            doc["a"],
            json!({"type": ["string", "null"], "enum": ["x", null]})
        );
        assert_eq!(
            doc["b"],
            json!({"anyOf": [{"$ref": "#/c"}, {"type": "null"}]})
        );
        assert_eq!(doc["d"], json!({}));
    }

    #[test]
    fn a_bundle_holds_only_what_is_referenced() {
        let doc = json!({"components": {"schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}, "required": ["b"]},
            "B": {"type": "integer", "maximum": 5},
            "Unused": {"type": "string"},
        }}});
        let schema = json!({"$ref": "#/components/schemas/A"});
        let bundled = bundle(&schema, &doc).unwrap();
        assert!(bundled.pointer("/components/schemas/Unused").is_none());
        let validator = compile(&schema, &doc, Dialect::OpenApi30).unwrap();
        assert!(validator.is_valid(&json!({"b": 5})));
        assert!(!validator.is_valid(&json!({"b": 6})));
        assert!(!validator.is_valid(&json!({})));
    }

    #[test]
    fn refs_into_arrays_are_bundled_at_their_index() {
        let doc = json!({"paths": {"/x": {"get": {"parameters": [{"name": "a"}, {"schema": {"maximum": 3}}]}}}});
        let validator = compile(
            &json!({"$ref": "#/paths/~1x/get/parameters/1/schema"}),
            &doc,
            Dialect::Swagger2,
        )
        .unwrap();
        assert!(validator.is_valid(&json!(3)));
        assert!(!validator.is_valid(&json!(4)));
    }

    #[test]
    fn date_times_are_checked() {
        let validator = compile(
            &json!({"type": "string", "format": "date-time"}),
            &json!({}),
            Dialect::Swagger2,
        )
        .unwrap();
        assert!(validator.is_valid(&json!("2026-01-01T10:00:00Z")));
        assert!(!validator.is_valid(&json!("2026-01-01 10:00")));
    }
}
