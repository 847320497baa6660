//! What the API server checks of a manifest, done locally: the structural OpenAPI schema of the CRD (types,
//! enums, patterns, ranges, required fields) and its CEL rules (`x-kubernetes-validations`).
//!
//! Unknown fields are reported too. The API server would silently prune them, which turns a typo such as
//! `safetyStok` into a setting that never applies; `kubectl apply --validate=strict` rejects them, and so do we.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::{Map, Value};

/// A violation of a CRD's schema or CEL rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    /// Where, as a field path (`spec.flows.inventory.percentOfStock`).
    pub field_path: String,
    /// What is wrong, with the offending value where there is one.
    pub message: String,
    /// Which kind of rule it breaks (what the API server reports as a cause's `reason`).
    pub kind: ProblemKind,
}

/// The kind of rule a [`SchemaProblem`] breaks, as the API server tells them apart in the `details.causes` of
/// a 422 `Invalid` answer (`FieldValueRequired`, `FieldValueTypeInvalid`, `FieldValueNotSupported`,
/// `FieldValueInvalid`, or the `reason` a CEL rule declares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// A required property is missing; `field_path` is the object that lacks it.
    Required { property: String },
    /// The value has the wrong JSON type; `expected` names the type(s) the schema wants (`integer`,
    /// `string or null`).
    Type { expected: String },
    /// The value is not one of the schema's `enum` values.
    Enum,
    /// A property the schema does not declare.
    Unknown,
    /// A CEL rule (`x-kubernetes-validations`) failed; `reason` is the one the rule declares, if any.
    Rule { reason: Option<String> },
    /// Any other schema keyword (pattern, range, length, ...).
    Other,
}

impl ProblemKind {
    /// The kind of a JSON Schema violation.
    pub fn of(error: &jsonschema::ValidationError<'_>) -> Self {
        use jsonschema::error::ValidationErrorKind as K;
        match error.kind() {
            K::Required { property } => ProblemKind::Required {
                property: property
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| property.to_string()),
            },
            K::Type { kind } => ProblemKind::Type {
                expected: match kind {
                    jsonschema::error::TypeKind::Single(t) => t.to_string(),
                    jsonschema::error::TypeKind::Multiple(types) => types
                        .iter()
                        .filter(|t| *t != jsonschema::JsonType::Null)
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                },
            },
            K::Enum { .. } => ProblemKind::Enum,
            K::AdditionalProperties { .. } => ProblemKind::Unknown,
            _ => ProblemKind::Other,
        }
    }
}

/// Error building the checks from a CRD: only possible if the generated schema itself is broken.
#[derive(Debug, thiserror::Error)]
pub enum SchemaSetError {
    #[error("CRD {0} has no openAPIV3Schema")]
    MissingSchema(String),
    #[error("CRD {kind}: cannot serialize its schema: {source}")]
    Serialize {
        kind: String,
        source: serde_json::Error,
    },
    #[error("CRD {kind}: its schema is not a valid JSON Schema: {message}")]
    Invalid { kind: String, message: String },
    #[error("CRD {kind}: CEL rule does not compile: {message}")]
    Cel { kind: String, message: String },
}

struct KindChecks {
    json: jsonschema::Validator,
    cel: CompiledSchema,
}

/// The schema and CEL checks of every Tradewind kind, compiled once.
pub struct SchemaSet {
    by_kind: BTreeMap<String, KindChecks>,
    cel: Validator,
}

impl SchemaSet {
    /// Compiles the checks of the CRDs generated from the types.
    pub fn generated() -> Result<Self, SchemaSetError> {
        Self::from_crds(&crate::generated::all())
    }

    pub fn from_crds(crds: &[CustomResourceDefinition]) -> Result<Self, SchemaSetError> {
        let mut by_kind = BTreeMap::new();
        for crd in crds {
            let kind = crd.spec.names.kind.clone();
            let openapi = openapi_schema(crd)?;
            let json = jsonschema::validator_for(&with_object_meta(to_json_schema(&openapi)))
                .map_err(|e| SchemaSetError::Invalid {
                    kind: kind.clone(),
                    message: e.to_string(),
                })?;
            let cel = compile_schema(&openapi);
            if let Some(error) = cel.compilation_errors().first() {
                return Err(SchemaSetError::Cel {
                    kind,
                    message: format!("{error:?}"),
                });
            }
            by_kind.insert(kind, KindChecks { json, cel });
        }
        Ok(Self {
            by_kind,
            cel: Validator::new(),
        })
    }

    /// True when `kind` is one of the kinds in this set.
    pub fn knows(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }

    /// Every schema and CEL problem of `object`, a manifest of kind `kind`. CEL rules run only on an object
    /// that passed the schema, as in the API server.
    pub fn check(&self, kind: &str, object: &Value) -> Vec<SchemaProblem> {
        self.check_update(kind, object, None)
    }

    /// [`SchemaSet::check`] of an update: CEL transition rules (`oldSelf`) also run, against `old`.
    pub fn check_update(
        &self,
        kind: &str,
        object: &Value,
        old: Option<&Value>,
    ) -> Vec<SchemaProblem> {
        let Some(checks) = self.by_kind.get(kind) else {
            return vec![SchemaProblem {
                field_path: "kind".into(),
                message: format!("unknown kind {kind:?}"),
                kind: ProblemKind::Other,
            }];
        };
        let mut problems: Vec<SchemaProblem> = checks
            .json
            .iter_errors(object)
            .map(|e| SchemaProblem {
                field_path: pointer_to_field_path(e.instance_path().as_str()),
                message: e.to_string(),
                kind: ProblemKind::of(&e),
            })
            .collect();
        if problems.is_empty()
            && let Err(errors) = self.cel.validate_compiled(&checks.cel, object, old)
        {
            problems.extend(errors.iter().map(|e| SchemaProblem {
                field_path: e.field_path.clone(),
                message: e.message.clone(),
                kind: ProblemKind::Rule {
                    reason: e.reason.clone(),
                },
            }));
        }
        problems
    }
}

/// The openAPIV3Schema of a CRD's first version, as JSON.
pub fn openapi_schema(crd: &CustomResourceDefinition) -> Result<Value, SchemaSetError> {
    let kind = crd.spec.names.kind.clone();
    let schema = crd
        .spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or_else(|| SchemaSetError::MissingSchema(kind.clone()))?;
    serde_json::to_value(schema).map_err(|source| SchemaSetError::Serialize { kind, source })
}

/// Adds what the API server checks of every object besides its schema: `apiVersion`, `kind`, and a
/// `metadata.name` and `metadata.namespace` that are valid Kubernetes names.
fn with_object_meta(mut schema: Value) -> Value {
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert("apiVersion".into(), serde_json::json!({"type": "string"}));
        props.insert("kind".into(), serde_json::json!({"type": "string"}));
        props.insert(
            "metadata".into(),
            serde_json::json!({
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "maxLength": 253,
                        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
                    },
                    "namespace": {
                        "type": "string",
                        "maxLength": 63,
                        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
                    }
                }
            }),
        );
    }
    schema
}

/// Turns a JSON pointer (`/spec/flows/0/target`) into a field path (`spec.flows[0].target`).
pub fn pointer_to_field_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    path
}

/// Rewrites a Kubernetes structural schema as a JSON Schema with the same meaning: `nullable` becomes a `null`
/// alternative, `x-kubernetes-int-or-string` an integer-or-string alternative, and objects with declared
/// properties refuse unknown ones.
pub fn to_json_schema(openapi: &Value) -> Value {
    match openapi {
        Value::Object(node) => {
            let mut out = Map::new();
            for (key, value) in node {
                let value = match key.as_str() {
                    "properties" | "patternProperties" => match value {
                        Value::Object(props) => Value::Object(
                            props
                                .iter()
                                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                                .collect(),
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" | "not" => to_json_schema(value),
                    "allOf" | "anyOf" | "oneOf" => match value {
                        Value::Array(items) => {
                            Value::Array(items.iter().map(to_json_schema).collect())
                        }
                        other => other.clone(),
                    },
                    _ => value.clone(),
                };
                out.insert(key.clone(), value);
            }
            if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                out.remove("anyOf");
                out.insert("type".into(), serde_json::json!(["integer", "string"]));
            }
            if node.get("nullable") == Some(&Value::Bool(true))
                && let Some(ty) = out.get("type").cloned()
            {
                let mut types = match ty {
                    Value::Array(types) => types,
                    single => vec![single],
                };
                types.push(Value::String("null".into()));
                out.insert("type".into(), Value::Array(types));
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            let preserves =
                node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if node.contains_key("properties")
                && !node.contains_key("additionalProperties")
                && !preserves
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Every place where `schema` is not structural in the Kubernetes sense: a node without a `type` (unless it
/// is int-or-string or preserves unknown fields), a `$ref`, or `definitions`. Paths are JSON pointers.
pub fn structural_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk_structural(schema, "", &mut problems);
    problems
}

fn walk_structural(node: &Value, at: &str, problems: &mut Vec<String>) {
    let Value::Object(map) = node else {
        problems.push(format!("{at}: schema node is not an object"));
        return;
    };
    for forbidden in ["$ref", "definitions", "$defs"] {
        if map.contains_key(forbidden) {
            problems.push(format!("{at}: has {forbidden}"));
        }
    }
    let exempt = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match map.get("type") {
        Some(Value::String(_)) => {}
        Some(other) => problems.push(format!("{at}: type must be a single string, is {other}")),
        None if !exempt => problems.push(format!("{at}: has no type")),
        None => {}
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, sub) in props {
            walk_structural(sub, &format!("{at}/properties/{name}"), problems);
        }
    }
    if let Some(items) = map.get("items") {
        walk_structural(items, &format!("{at}/items"), problems);
    }
    if let Some(additional @ Value::Object(_)) = map.get("additionalProperties") {
        walk_structural(additional, &format!("{at}/additionalProperties"), problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(
            pointer_to_field_path("/spec/flows/0/target"),
            "spec.flows[0].target"
        );
        assert_eq!(pointer_to_field_path(""), "");
    }

    #[test]
    fn nullable_becomes_a_null_alternative() {
        let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true}}});
        let json = to_json_schema(&schema);
        assert_eq!(
            json["properties"]["a"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert_eq!(json["additionalProperties"], Value::Bool(false));
    }

    #[test]
    fn a_node_without_type_is_not_structural() {
        let schema =
            serde_json::json!({"type": "object", "properties": {"a": {"description": "x"}}});
        assert_eq!(
            structural_problems(&schema),
            vec!["/properties/a: has no type".to_string()]
        );
    }
}
