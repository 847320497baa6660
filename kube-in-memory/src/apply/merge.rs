//! The pure parts of server-side apply, after structured-merge-diff: the fields a value sets (what an applier
//! comes to own), merging an applied configuration into the live object by the schema's list and map types,
//! and removing fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldpath::{FieldSet, Path, entry, field, member};
use crate::schema::{ListType, Node, Shape};

/// Why a value cannot be merged or read as fields (the API server answers these with an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct MergeError {
    /// Where, as a field path (`.spec.ports`).
    pub path: String,
    pub message: String,
}

fn error(path: &[String], message: impl Into<String>) -> MergeError {
    MergeError {
        path: super::fieldpath::display(path),
        message: message.into(),
    }
}

/// Every field path `value` sets, each with its value when it is a leaf (a scalar, an atomic list or map, an
/// empty object, a set member) and `None` when it is a list-map entry or map entry with fields below it.
pub type Fields = BTreeMap<Path, Option<Value>>;

/// The fields of `value` (as structured-merge-diff's `ToFieldSet`): leaves, set members and list-map entries;
/// a struct field only when it is a leaf, `null` or an empty object.
pub fn fields_of(value: &Value, node: Node<'_>) -> Result<Fields, MergeError> {
    let mut out = Fields::new();
    walk_fields(value, node, &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// The paths of [`fields_of`].
pub fn field_set(fields: &Fields) -> FieldSet {
    fields.keys().cloned().collect()
}

fn walk_fields(
    value: &Value,
    node: Node<'_>,
    path: &mut Path,
    out: &mut Fields,
) -> Result<(), MergeError> {
    let leaf = |out: &mut Fields, path: &Path| {
        out.insert(path.clone(), Some(value.clone()));
    };
    match (node.shape(), value) {
        (Shape::Struct { atomic: false }, Value::Object(map)) => {
            for (key, child) in map {
                path.push(field(key));
                match node.property(key) {
                    Some(prop) => {
                        walk_fields(child, prop, path, out)?;
                        if child.is_null() || child.as_object().is_some_and(Map::is_empty) {
                            out.insert(path.clone(), Some(child.clone()));
                        }
                    }
                    None if node.preserves_unknown_fields() => {
                        out.insert(path.clone(), Some(child.clone()));
                    }
                    None => return Err(error(path, "field not declared in schema")),
                }
                path.pop();
            }
        }
        (Shape::Map { atomic: false }, Value::Object(map)) => {
            for (key, child) in map {
                path.push(field(key));
                match node.map_values() {
                    Some(values) => walk_fields(child, values, path, out)?,
                    None => leaf(out, path),
                }
                // A map entry is owned itself (its children, if any, too).
                out.entry(path.clone()).or_insert(None);
                path.pop();
            }
        }
        (Shape::List(ListType::Set), Value::Array(items)) => {
            for item in items {
                path.push(member(item));
                out.insert(path.clone(), Some(item.clone()));
                path.pop();
            }
        }
        (Shape::List(ListType::Map(keys)), Value::Array(items)) => {
            let item_node = node.items();
            for item in items {
                path.push(entry(&key_of(item, &keys, item_node, path)?));
                if out.contains_key(path) {
                    return Err(error(path, "duplicate entries for key"));
                }
                out.insert(path.clone(), None);
                if let Some(item_node) = item_node {
                    walk_fields(item, item_node, path, out)?;
                }
                path.pop();
            }
        }
        _ => leaf(out, path),
    }
    Ok(())
}

/// The key values of a list-map entry; a missing key takes its schema default.
fn key_of(
    item: &Value,
    keys: &[String],
    item_node: Option<Node<'_>>,
    path: &[String],
) -> Result<BTreeMap<String, Value>, MergeError> {
    let mut out = BTreeMap::new();
    for key in keys {
        let value = item.get(key).filter(|v| !v.is_null()).cloned().or_else(|| {
            item_node
                .and_then(|n| n.property(key))
                .and_then(|p| p.default().cloned())
        });
        match value {
            Some(value) => {
                out.insert(key.clone(), value);
            }
            None => {
                return Err(error(
                    path,
                    format!(
                        "associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `config` merged into `live`: objects field by field, `set` lists as a union, `map` lists entry by entry
/// (matched by their keys), atomic lists, atomic maps and scalars replaced. Entries of `live` keep their
/// place; new ones follow, in the order of `config`.
pub fn merge(live: &Value, config: &Value, node: Node<'_>) -> Result<Value, MergeError> {
    merge_at(live, config, node, &mut Vec::new())
}

fn merge_at(
    live: &Value,
    config: &Value,
    node: Node<'_>,
    path: &mut Path,
) -> Result<Value, MergeError> {
    match (node.shape(), live, config) {
        (
            Shape::Struct { atomic: false } | Shape::Map { atomic: false },
            Value::Object(l),
            Value::Object(c),
        ) => {
            let mut out = l.clone();
            for (key, child_config) in c {
                path.push(field(key));
                let child_node = node.property(key).or_else(|| node.map_values());
                let merged = match child_node {
                    Some(child_node) => merge_at(
                        l.get(key).unwrap_or(&Value::Null),
                        child_config,
                        child_node,
                        path,
                    )?,
                    None => child_config.clone(),
                };
                out.insert(key.clone(), merged);
                path.pop();
            }
            Ok(Value::Object(out))
        }
        (Shape::List(ListType::Set), Value::Array(l), Value::Array(c)) => {
            let mut out = l.clone();
            for item in c {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Ok(Value::Array(out))
        }
        (Shape::List(ListType::Map(keys)), Value::Array(l), Value::Array(c)) => {
            let item_node = node.items();
            let keyed = |items: &[Value], path: &[String]| -> Result<Vec<String>, MergeError> {
                items
                    .iter()
                    .map(|i| key_of(i, &keys, item_node, path).map(|k| entry(&k)))
                    .collect()
            };
            let live_keys = keyed(l, path)?;
            let config_keys = keyed(c, path)?;
            let mut out = Vec::with_capacity(l.len() + c.len());
            for (item, key) in l.iter().zip(&live_keys) {
                match config_keys.iter().position(|k| k == key) {
                    Some(i) => {
                        path.push(key.clone());
                        out.push(match item_node {
                            Some(n) => merge_at(item, &c[i], n, path)?,
                            None => c[i].clone(),
                        });
                        path.pop();
                    }
                    None => out.push(item.clone()),
                }
            }
            for (item, key) in c.iter().zip(&config_keys) {
                if !live_keys.contains(key) {
                    out.push(item.clone());
                }
            }
            Ok(Value::Array(out))
        }
        _ => Ok(config.clone()),
    }
}

/// `value` without the fields at `paths` (each removed with everything below it). An object or list that
/// becomes empty by a removal goes too, as structured-merge-diff leaves nothing behind.
pub fn remove(value: &mut Value, paths: &FieldSet, node: Node<'_>) {
    for path in paths.iter() {
        remove_path(value, path, node);
    }
}

/// Removes `path` below `value`; true when `value` became empty by it.
fn remove_path(value: &mut Value, path: &[String], node: Node<'_>) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return false;
    };
    match (node.shape(), &mut *value) {
        (_, Value::Object(map)) => {
            let Some(name) = step.strip_prefix("f:") else {
                return false;
            };
            let child_node = node.property(name).or_else(|| node.map_values());
            let gone = match (rest.is_empty(), map.get_mut(name), child_node) {
                (true, Some(_), _) => true,
                (false, Some(child), Some(child_node)) => remove_path(child, rest, child_node),
                _ => false,
            };
            if gone {
                map.remove(name);
                map.is_empty()
            } else {
                false
            }
        }
        (Shape::List(list), Value::Array(items)) => {
            let item_node = node.items();
            let position = items.iter().position(|item| match &list {
                ListType::Set => member(item) == *step,
                ListType::Map(keys) => {
                    key_of(item, keys, item_node, &[]).is_ok_and(|k| entry(&k) == *step)
                }
                ListType::Atomic => false,
            });
            let Some(i) = position else { return false };
            let gone = match (rest.is_empty(), item_node) {
                (true, _) => true,
                (false, Some(n)) => remove_path(&mut items[i], rest, n),
                (false, None) => false,
            };
            if gone {
                items.remove(i);
                items.is_empty()
            } else {
                false
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Schema;

    fn deployment() -> Schema {
        Schema::builtin("io.k8s.api.apps.v1.Deployment")
    }

    fn containers(value: &Value) -> &Value {
        &value["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn list_map_entries_merge_by_key_and_keep_their_place() {
        let schema = deployment();
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "s:1"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "new", "image": "n:1"},
            {"name": "app", "image": "a:2", "ports": [{"containerPort": 9090, "protocol": "TCP"}]}]}}}});
        let merged = merge(&live, &config, schema.root()).unwrap();
        assert_eq!(
            containers(&merged),
            &json!([
                {"name": "app", "image": "a:2", "ports": [
                    {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 9090, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "s:1"},
                {"name": "new", "image": "n:1"}])
        );
    }

    #[test]
    fn atomic_lists_and_maps_are_replaced_and_sets_unite() {
        let schema = deployment();
        let live = json!({"metadata": {"finalizers": ["a", "b"]},
            "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}},
                     "template": {"spec": {"containers": [{"name": "app", "args": ["x", "y"]}]}}}});
        let config = json!({"metadata": {"finalizers": ["c", "a"]},
            "spec": {"selector": {"matchLabels": {"c": "3"}},
                     "template": {"spec": {"containers": [{"name": "app", "args": ["z"]}]}}}});
        let merged = merge(&live, &config, schema.root()).unwrap();
        assert_eq!(merged["metadata"]["finalizers"], json!(["a", "b", "c"]));
        assert_eq!(
            merged["spec"]["selector"],
            json!({"matchLabels": {"c": "3"}})
        );
        assert_eq!(containers(&merged)[0]["args"], json!(["z"]));
    }

    #[test]
    fn fields_are_leaves_entries_and_members() {
        let schema = deployment();
        let value = json!({"metadata": {"labels": {"app": "x"}, "finalizers": ["f"]},
            "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {"containers": [
                {"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let paths: Vec<String> = fields_of(&value, schema.root())
            .unwrap()
            .keys()
            .map(|p| super::super::fieldpath::display(p))
            .collect();
        assert_eq!(
            paths,
            vec![
                r#".metadata.finalizers[="f"]"#,
                ".metadata.labels.app",
                ".spec.selector",
                r#".spec.template.spec.containers[name="app"]"#,
                r#".spec.template.spec.containers[name="app"].name"#,
                r#".spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"]"#,
                r#".spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].containerPort"#,
                r#".spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].protocol"#,
            ]
        );
    }

    #[test]
    fn undeclared_fields_and_keyless_or_duplicate_entries_are_refused() {
        let schema = deployment();
        let refused = |value: Value| fields_of(&value, schema.root()).unwrap_err().message;
        assert_eq!(
            refused(json!({"spec": {"replicaz": 1}})),
            "field not declared in schema"
        );
        assert!(
            refused(json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}))
                .contains("omits key field \"name\"")
        );
        assert_eq!(
            refused(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}})
            ),
            "duplicate entries for key"
        );
    }

    #[test]
    fn removing_the_last_field_of_an_object_removes_the_object() {
        let schema = deployment();
        let mut value = json!({"metadata": {"name": "d", "labels": {"a": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "app"}, {"name": "old"}]}}}});
        let paths: FieldSet = [
            vec!["f:metadata".to_string(), "f:labels".into(), "f:a".into()],
            vec![
                "f:spec".to_string(),
                "f:template".into(),
                "f:spec".into(),
                "f:containers".into(),
                r#"k:{"name":"old"}"#.into(),
            ],
        ]
        .into_iter()
        .collect();
        remove(&mut value, &paths, schema.root());
        assert_eq!(
            value,
            json!({"metadata": {"name": "d"},
                   "spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}})
        );
    }
}
