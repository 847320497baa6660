//! The schema of each kind, walked the way the API server walks it: which fields exist (pruning, unknown
//! fields), their defaults, and how lists and maps merge in server-side apply (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, and for built-in kinds the older
//! `x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key`).
//!
//! Tradewind kinds use the `openAPIV3Schema` of their generated CRD; built-in kinds use the upstream Kubernetes
//! OpenAPI definitions in `schemas/kubernetes-1.33.json`. Both read `metadata` as the upstream `ObjectMeta`.

pub mod structural;
pub mod validate;

use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value, json};

/// The upstream definitions (`$defs`) of the built-in kinds served, and of everything they reference.
static DEFINITIONS: LazyLock<Arc<Value>> = LazyLock::new(|| {
    let text = include_str!("../../schemas/kubernetes-1.33.json");
    #[allow(clippy::expect_used)]
    Arc::new(serde_json::from_str(text).expect("schemas/kubernetes-1.33.json is JSON"))
});

/// The definitions document: `{"$defs": {...}}`.
pub fn definitions() -> Arc<Value> {
    DEFINITIONS.clone()
}

/// `$ref` of the upstream `ObjectMeta`.
pub const OBJECT_META: &str = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The schema of one kind: its root node and the definitions its `$ref`s point into.
#[derive(Clone, Debug)]
pub struct Schema {
    root: Arc<Value>,
    defs: Arc<Value>,
}

impl Schema {
    /// A built-in kind, by its definition name (`io.k8s.api.apps.v1.Deployment`).
    pub fn builtin(definition: &str) -> Self {
        Self {
            root: Arc::new(json!({"$ref": format!("#/$defs/{definition}")})),
            defs: definitions(),
        }
    }

    /// A custom resource, from its CRD's `openAPIV3Schema`: `apiVersion` and `kind` are strings and `metadata` is
    /// the `ObjectMeta` of every object.
    pub fn custom(open_api_v3_schema: &Value) -> Self {
        let mut root = open_api_v3_schema.clone();
        if let Some(Value::Object(props)) = root.get_mut("properties") {
            props.insert("apiVersion".into(), json!({"type": "string"}));
            props.insert("kind".into(), json!({"type": "string"}));
            props.insert("metadata".into(), json!({"$ref": OBJECT_META}));
        }
        Self {
            root: Arc::new(root),
            defs: definitions(),
        }
    }

    pub fn root(&self) -> Node<'_> {
        Node::new(&self.root, &self.defs)
    }

    /// The root schema as a self-contained JSON Schema (`$defs` included), for a validator.
    pub fn to_json_schema(&self) -> Value {
        let mut out = (*self.root).clone();
        if let (Value::Object(out), Some(defs)) = (&mut out, self.defs.get("$defs")) {
            out.insert("$defs".into(), defs.clone());
        }
        out
    }
}

/// How the API server treats a list in a merge (server-side apply) and in managed fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole; one owner.
    Atomic,
    /// Scalars merged as a set; each value owned on its own.
    Set,
    /// Objects merged by the values of these keys; each entry owned on its own.
    Map(Vec<String>),
}

/// What a schema node describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An object with declared properties (a struct); `atomic` when `x-kubernetes-map-type: atomic`.
    Struct {
        atomic: bool,
    },
    /// An object whose keys are data (`additionalProperties`: labels, ConfigMap data).
    Map {
        atomic: bool,
    },
    List(ListType),
    /// A string, number, boolean, int-or-string or quantity.
    Scalar,
    /// Anything (`x-kubernetes-preserve-unknown-fields` without properties): kept and owned as one value.
    Any,
}

/// One node of a schema, with `$ref`s resolved.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    value: &'a Value,
    defs: &'a Value,
}

impl<'a> Node<'a> {
    fn new(value: &'a Value, defs: &'a Value) -> Self {
        let mut node = Self { value, defs };
        // Follow `$ref` chains (definitions refer to definitions).
        for _ in 0..16 {
            let Some(target) = node.value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(found) = target
                .strip_prefix('#')
                .and_then(|pointer| defs.pointer(pointer))
            else {
                break;
            };
            node.value = found;
        }
        node
    }

    fn child(&self, value: &'a Value) -> Node<'a> {
        Node::new(value, self.defs)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key)
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key) == Some(&Value::Bool(true))
    }

    /// The JSON type, without the `null` alternative optional built-in fields carry.
    pub fn type_name(&self) -> Option<&'a str> {
        match self.get("type")? {
            Value::String(t) => Some(t),
            Value::Array(types) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null"),
            _ => None,
        }
    }

    /// Whether `null` is a value of this field (`nullable: true`, or `null` among the types).
    pub fn nullable(&self) -> bool {
        self.flag("nullable")
            || matches!(self.get("type"), Some(Value::Array(types)) if types.iter().any(|t| t == "null"))
    }

    pub fn preserves_unknown_fields(&self) -> bool {
        self.flag("x-kubernetes-preserve-unknown-fields")
    }

    pub fn properties(&self) -> Option<&'a Map<String, Value>> {
        self.get("properties").and_then(Value::as_object)
    }

    pub fn property(&self, name: &str) -> Option<Node<'a>> {
        self.properties()?.get(name).map(|v| self.child(v))
    }

    /// The schema of a map's values (`additionalProperties` as a schema).
    pub fn map_values(&self) -> Option<Node<'a>> {
        match self.get("additionalProperties")? {
            v @ Value::Object(_) => Some(self.child(v)),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<Node<'a>> {
        self.get("items").map(|v| self.child(v))
    }

    pub fn default(&self) -> Option<&'a Value> {
        self.get("default")
    }

    pub fn shape(&self) -> Shape {
        if self.flag("x-kubernetes-int-or-string") || self.get("oneOf").is_some() {
            return Shape::Scalar;
        }
        let atomic_map =
            self.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
        match self.type_name() {
            Some("array") => Shape::List(self.list_type()),
            Some("object") if self.properties().is_some() => Shape::Struct { atomic: atomic_map },
            Some("object") if self.map_values().is_some() => Shape::Map { atomic: atomic_map },
            Some("object") if self.preserves_unknown_fields() => Shape::Any,
            Some("object") => Shape::Struct { atomic: atomic_map },
            Some(_) => Shape::Scalar,
            None if self.preserves_unknown_fields() => Shape::Any,
            None => Shape::Scalar,
        }
    }

    /// The list type: `x-kubernetes-list-type`, else (built-in kinds from before list types) a
    /// `x-kubernetes-patch-strategy: merge` list keyed by its `x-kubernetes-patch-merge-key`, else atomic.
    fn list_type(&self) -> ListType {
        let keys = || -> Vec<String> {
            self.get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        match self.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => return ListType::Set,
            Some("map") => return ListType::Map(keys()),
            Some(_) => return ListType::Atomic,
            None => {}
        }
        let merges = self
            .get("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(',').any(|s| s == "merge"));
        match self
            .get("x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
        {
            Some(key) if merges => ListType::Map(vec![key.to_string()]),
            None if merges => ListType::Set,
            _ => ListType::Atomic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_at(schema: &Schema, path: &[&str]) -> Shape {
        let mut node = schema.root();
        for name in path {
            node = match node.shape() {
                Shape::List(_) => node.items().unwrap(),
                _ => node.property(name).unwrap(),
            };
        }
        node.shape()
    }

    #[test]
    fn built_in_lists_merge_by_the_keys_of_the_upstream_openapi() {
        let deployment = Schema::builtin("io.k8s.api.apps.v1.Deployment");
        let pod = ["spec", "template", "spec"];
        let at = |rest: &[&str]| {
            let path: Vec<&str> = pod.iter().chain(rest).copied().collect();
            shape_at(&deployment, &path)
        };
        assert_eq!(
            at(&["containers"]),
            Shape::List(ListType::Map(vec!["name".into()]))
        );
        assert_eq!(
            at(&["containers", "[]", "ports"]),
            Shape::List(ListType::Map(vec![
                "containerPort".into(),
                "protocol".into()
            ]))
        );
        assert_eq!(
            at(&["containers", "[]", "env"]),
            Shape::List(ListType::Map(vec!["name".into()]))
        );
        assert_eq!(
            at(&["containers", "[]", "args"]),
            Shape::List(ListType::Atomic)
        );
        assert_eq!(
            at(&["volumes"]),
            Shape::List(ListType::Map(vec!["name".into()]))
        );
        assert_eq!(
            shape_at(&deployment, &["spec", "selector"]),
            Shape::Struct { atomic: true }
        );
        assert_eq!(
            shape_at(&deployment, &["metadata", "finalizers"]),
            Shape::List(ListType::Set)
        );
        assert_eq!(
            shape_at(&deployment, &["metadata", "ownerReferences"]),
            Shape::List(ListType::Map(vec!["uid".into()]))
        );
        assert_eq!(
            shape_at(&deployment, &["metadata", "labels"]),
            Shape::Map { atomic: false }
        );
    }
}
