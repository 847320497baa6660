//! Pruning and defaulting, as the API server does them to an object it decodes: fields the schema does not
//! declare are dropped (reported, for `fieldValidation` Warn and Strict), then `null`s of fields that are not
//! nullable are dropped and `default`s fill what is missing (also inside an object a default just created).

use serde_json::Value;

use super::{Node, Shape};

/// Drops every field `node` does not declare, below `at` (a field path); returns the paths dropped.
pub fn prune(value: &mut Value, node: Node<'_>, at: &str) -> Vec<String> {
    let mut dropped = Vec::new();
    prune_into(value, node, at, &mut dropped);
    dropped
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn prune_into(value: &mut Value, node: Node<'_>, at: &str, dropped: &mut Vec<String>) {
    match (node.shape(), value) {
        (Shape::Struct { .. }, Value::Object(map)) => {
            let keep_unknown = node.preserves_unknown_fields();
            let mut unknown = Vec::new();
            for (key, child) in map.iter_mut() {
                match node.property(key) {
                    Some(prop) => prune_into(child, prop, &join(at, key), dropped),
                    None if keep_unknown => {}
                    None => unknown.push(key.clone()),
                }
            }
            for key in unknown {
                map.remove(&key);
                dropped.push(join(at, &key));
            }
        }
        (Shape::Map { .. }, Value::Object(map)) => {
            if let Some(values) = node.map_values() {
                for (key, child) in map.iter_mut() {
                    prune_into(child, values, &join(at, key), dropped);
                }
            }
        }
        (Shape::List(_), Value::Array(items)) => {
            if let Some(item) = node.items() {
                for (i, child) in items.iter_mut().enumerate() {
                    prune_into(child, item, &format!("{at}[{i}]"), dropped);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s: a missing field, or a `null` one that is not nullable, takes its schema's default; a
/// `null` that is not nullable and has no default is dropped. Recurses into what it defaulted.
pub fn default(value: &mut Value, node: Node<'_>) {
    match (node.shape(), value) {
        (Shape::Struct { .. }, Value::Object(map)) => {
            if let Some(props) = node.properties() {
                for name in props.keys() {
                    let Some(prop) = node.property(name) else {
                        continue;
                    };
                    let null = map.get(name).is_some_and(Value::is_null) && !prop.nullable();
                    if null || !map.contains_key(name) {
                        match prop.default() {
                            Some(d) => {
                                map.insert(name.clone(), d.clone());
                            }
                            None if null => {
                                map.remove(name);
                            }
                            None => {}
                        }
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                if let Some(prop) = node.property(key) {
                    default(child, prop);
                }
            }
        }
        (Shape::Map { .. }, Value::Object(map)) => {
            if let Some(values) = node.map_values() {
                for child in map.values_mut() {
                    default(child, values);
                }
            }
        }
        (Shape::List(_), Value::Array(items)) => {
            if let Some(item) = node.items() {
                for child in items {
                    default(child, item);
                }
            }
        }
        _ => {}
    }
}

/// Drops every `null` field of a built-in object: Go decodes `null` into an unset field, which is not written.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Schema;

    fn schema() -> Schema {
        Schema::custom(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "mode": {"type": "string", "default": "Auto"},
                    "limits": {"type": "object", "default": {}, "properties": {
                        "rate": {"type": "integer", "default": 5}}},
                    "note": {"type": "string", "nullable": true},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "items": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "weight": {"type": "integer", "default": 1}}}}
                }}
            }
        }))
    }

    #[test]
    fn unknown_fields_are_dropped_and_named_except_where_preserved() {
        let schema = schema();
        let mut object = json!({"apiVersion": "x/v1", "kind": "X",
            "metadata": {"name": "a", "bogus": 1},
            "spec": {"mode": "On", "typo": 1, "free": {"anything": {"goes": true}},
                     "items": [{"name": "a", "extra": true}]},
            "stray": 1});
        let dropped = prune(&mut object, schema.root(), "");
        assert_eq!(
            dropped,
            vec![
                "metadata.bogus",
                "spec.items[0].extra",
                "spec.typo",
                "stray"
            ]
        );
        assert_eq!(object["spec"]["free"], json!({"anything": {"goes": true}}));
    }

    #[test]
    fn defaults_fill_missing_fields_and_the_fields_of_a_defaulted_object() {
        let schema = schema();
        let mut object = json!({"spec": {"mode": null, "note": null, "items": [{"name": "a"}]}});
        default(&mut object, schema.root());
        assert_eq!(
            object["spec"],
            json!({"mode": "Auto", "note": null, "limits": {"rate": 5},
                   "items": [{"name": "a", "weight": 1}]})
        );
    }
}
