//! What changed between two sets of resources: added, removed and modified resources, and for a modified one
//! the field paths that differ. Pure.

use std::collections::BTreeMap;

use crds::validation::{Item, Resource};
use serde_json::Value;

/// A resource's identity across the two sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({})", self.kind, self.name, self.namespace)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Added,
    Removed,
    /// Leaf field paths whose value differs, each with the value before and after (`null` when absent).
    Modified(Vec<FieldChange>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub before: Value,
    pub after: Value,
}

/// The spec of a resource as JSON, for comparison.
pub fn spec_json(resource: &Resource) -> Value {
    let json = match resource {
        Resource::Marketplace(r) => serde_json::to_value(&r.spec),
        Resource::ChannelMapping(r) => serde_json::to_value(&r.spec),
        Resource::RateLimitPolicy(r) => serde_json::to_value(&r.spec),
        Resource::SyncSchedule(r) => serde_json::to_value(&r.spec),
        Resource::ErpConnection(r) => serde_json::to_value(&r.spec),
    };
    json.unwrap_or(Value::Null)
}

pub fn key(item: &Item) -> Key {
    Key {
        kind: item.resource.kind(),
        namespace: item.namespace.clone(),
        name: item.name.clone(),
    }
}

/// Every resource that differs, in a stable order.
pub fn compare(before: &[Item], after: &[Item]) -> BTreeMap<Key, Change> {
    let index = |items: &[Item]| -> BTreeMap<Key, Value> {
        items
            .iter()
            .map(|i| (key(i), spec_json(&i.resource)))
            .collect()
    };
    let (old, new) = (index(before), index(after));
    let mut out = BTreeMap::new();
    for (k, old_spec) in &old {
        match new.get(k) {
            None => {
                out.insert(k.clone(), Change::Removed);
            }
            Some(new_spec) => {
                let mut fields = Vec::new();
                field_changes("spec", old_spec, new_spec, &mut fields);
                if !fields.is_empty() {
                    out.insert(k.clone(), Change::Modified(fields));
                }
            }
        }
    }
    for k in new.keys() {
        if !old.contains_key(k) {
            out.insert(k.clone(), Change::Added);
        }
    }
    out
}

/// Lists are compared element by element, matched by their `flow`, `name` or `target` key where elements have
/// one (so that inserting a field mapping reports that field, not every field after it), else by position.
pub fn field_changes(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                field_changes(
                    &format!("{path}.{k}"),
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => match (element_keys(a), element_keys(b)) {
            (Some(ka), Some(kb)) => {
                let mut keys: Vec<&String> = ka.iter().chain(kb.iter()).map(|(k, _)| k).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let find = |list: &[(String, usize)], items: &[Value]| {
                        list.iter()
                            .find(|(key, _)| key == k)
                            .map(|(_, i)| items[*i].clone())
                            .unwrap_or(Value::Null)
                    };
                    field_changes(&format!("{path}[{k}]"), &find(&ka, a), &find(&kb, b), out);
                }
            }
            _ => {
                for i in 0..a.len().max(b.len()) {
                    field_changes(
                        &format!("{path}[{i}]"),
                        a.get(i).unwrap_or(&Value::Null),
                        b.get(i).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
        },
        _ if before == after => {}
        _ => out.push(FieldChange {
            path: path.to_string(),
            before: before.clone(),
            after: after.clone(),
        }),
    }
}

/// `(key, index)` of each element when every element is an object with the same identifying field.
fn element_keys(items: &[Value]) -> Option<Vec<(String, usize)>> {
    ["flow", "name", "target", "erpSku"]
        .into_iter()
        .find_map(|field| {
            items
                .iter()
                .enumerate()
                .map(|(i, v)| v.get(field)?.as_str().map(|k| (format!("{field}={k}"), i)))
                .collect::<Option<Vec<_>>>()
                .filter(|keys| !keys.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_elements_are_matched_by_their_key() {
        let before = json!({"flows": [{"flow": "inventory", "fields": [{"target": "a", "expression": "1"}]}]});
        let after = json!({"flows": [
            {"flow": "price", "fields": []},
            {"flow": "inventory", "fields": [{"target": "a", "expression": "2"}]}
        ]});
        let mut out = Vec::new();
        field_changes("spec", &before, &after, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.flows[flow=inventory].fields[target=a].expression",
                "spec.flows[flow=price]"
            ]
        );
        assert_eq!(out[0].before, json!("1"));
        assert_eq!(out[0].after, json!("2"));
    }
}
