//! Validation of a decoded (pruned, defaulted) object, with the causes the API server reports in a 422
//! `Invalid` answer. Tradewind kinds are checked by `crds::schema::SchemaSet` (the checks of `twctl validate`:
//! the CRD's structural schema and its CEL rules); built-in kinds by the upstream OpenAPI definitions.

use crds::schema::{ProblemKind, SchemaProblem, SchemaSet, pointer_to_field_path};
use serde_json::Value;

use super::{ListType, Node, Schema, Shape};

/// One entry of a Status' `details.causes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueTypeInvalid`, `FieldValueNotSupported`,
    /// `FieldValueForbidden`, ...
    pub reason: String,
    pub message: String,
    /// The field path (`spec.replicas`, `spec.containers[0].name`).
    pub field: String,
}

impl Cause {
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// `Invalid value: <value>: <detail>`, as `field.Invalid` words it.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        Self::new(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {}: {detail}", shown(value)),
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self::new("FieldValueForbidden", field, format!("Forbidden: {detail}"))
    }
}

/// A value as error messages show it: scalars as JSON, objects and lists by their type.
fn shown(value: &Value) -> String {
    match value {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value at a field path (`spec.items[0].name`).
fn at_path<'v>(root: &'v Value, field: &str) -> Option<&'v Value> {
    let mut node = root;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, i)| (k, i));
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            node = node.get(index.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

/// The cause of a schema problem found in `object`.
pub fn cause(object: &Value, problem: SchemaProblem) -> Cause {
    let value = at_path(object, &problem.field_path).unwrap_or(&Value::Null);
    let field = problem.field_path;
    match problem.kind {
        ProblemKind::Required { property } => {
            let field = if field.is_empty() {
                property
            } else {
                format!("{field}.{property}")
            };
            Cause::new("FieldValueRequired", field, "Required value")
        }
        ProblemKind::Type { expected } => {
            let actual = json_type(value);
            let message = format!(
                "Invalid value: \"{actual}\": {field} in body must be of type {expected}: \"{actual}\""
            );
            Cause::new("FieldValueTypeInvalid", field, message)
        }
        ProblemKind::Enum => Cause::new(
            "FieldValueNotSupported",
            field,
            format!("Unsupported value: {}: {}", shown(value), problem.message),
        ),
        ProblemKind::Unknown => Cause::new(
            "FieldValueInvalid",
            field,
            format!("unknown field: {}", problem.message),
        ),
        ProblemKind::Rule { reason } => Cause::new(
            reason.as_deref().unwrap_or("FieldValueInvalid"),
            field,
            format!("Invalid value: {}: {}", shown(value), problem.message),
        ),
        ProblemKind::Other => Cause::invalid(field, value, &problem.message),
    }
}

/// Entries of a `map` list with the same keys, and repeated values of a `set` list: the API server refuses them
/// (`Duplicate value`) although JSON Schema alone does not.
pub fn duplicates(value: &Value, node: Node<'_>, at: &str, out: &mut Vec<Cause>) {
    let child = |name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    match (node.shape(), value) {
        (Shape::Struct { .. } | Shape::Map { .. }, Value::Object(map)) => {
            for (key, v) in map {
                if let Some(sub) = node.property(key).or_else(|| node.map_values()) {
                    duplicates(v, sub, &child(key), out);
                }
            }
        }
        (Shape::List(list), Value::Array(items)) => {
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let identity = match &list {
                    ListType::Set => Some(item.clone()),
                    ListType::Map(keys) => Some(Value::Object(
                        keys.iter()
                            .filter_map(|k| Some((k.clone(), item.get(k)?.clone())))
                            .collect(),
                    )),
                    ListType::Atomic => None,
                };
                if let Some(identity) = identity {
                    if seen.contains(&identity) {
                        out.push(Cause::new(
                            "FieldValueDuplicate",
                            format!("{at}[{i}]"),
                            format!("Duplicate value: {identity}"),
                        ));
                    }
                    seen.push(identity);
                }
                if let Some(sub) = node.items() {
                    duplicates(item, sub, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// How one kind's objects are validated.
pub enum Validator {
    /// A Tradewind kind, by `crds::schema::SchemaSet` (schema and CEL rules, transition rules on update).
    Custom {
        kind: String,
        set: std::sync::Arc<SchemaSet>,
    },
    /// A built-in kind, by its upstream OpenAPI definition.
    Builtin(Box<jsonschema::Validator>),
}

impl Validator {
    pub fn builtin(schema: &Schema) -> Result<Self, String> {
        jsonschema::validator_for(&schema.to_json_schema())
            .map(|v| Validator::Builtin(Box::new(v)))
            .map_err(|e| e.to_string())
    }

    /// Every cause that makes `object` invalid (`old`: the stored object, on an update).
    pub fn causes(&self, object: &Value, old: Option<&Value>) -> Vec<Cause> {
        let problems = match self {
            Validator::Custom { kind, set } => set.check_update(kind, object, old),
            Validator::Builtin(validator) => validator
                .iter_errors(object)
                .map(|e| SchemaProblem {
                    field_path: pointer_to_field_path(e.instance_path().as_str()),
                    message: e.to_string(),
                    kind: ProblemKind::of(&e),
                })
                .collect(),
        };
        problems.into_iter().map(|p| cause(object, p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_required_field_is_named_with_its_parent() {
        let validator =
            Validator::builtin(&Schema::builtin("io.k8s.api.apps.v1.Deployment")).unwrap();
        let causes = validator.causes(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                    "spec": {"replicas": "two", "template": {}}}),
            None,
        );
        let reasons: Vec<(&str, &str)> = causes
            .iter()
            .map(|c| (c.reason.as_str(), c.field.as_str()))
            .collect();
        assert!(
            reasons.contains(&("FieldValueRequired", "spec.selector")),
            "{causes:?}"
        );
        assert!(
            reasons.contains(&("FieldValueTypeInvalid", "spec.replicas")),
            "{causes:?}"
        );
    }
}
