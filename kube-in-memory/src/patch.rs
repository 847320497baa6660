//! JSON merge patch (RFC 7386, `application/merge-patch+json`) and JSON patch (RFC 6902,
//! `application/json-patch+json`).

use serde_json::Value;

/// Applies a merge patch: objects merge key by key, `null` removes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => {
            let mut p = p.clone();
            strip_nulls(&mut p);
            *t = p;
        }
    }
}

/// A merge patch's value written where there was none keeps no `null` members.
fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(strip_nulls);
    }
}

/// The reference tokens of a JSON pointer (`~1` is `/`, `~0` is `~`).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent<'v>(target: &'v mut Value, path: &[String]) -> Result<&'v mut Value, String> {
    let mut node = target;
    for token in path {
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path /{} does not exist", path.join("/")))?;
    }
    Ok(node)
}

fn add(target: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let tokens = tokens(pointer)?;
    let Some((last, path)) = tokens.split_last() else {
        *target = value;
        return Ok(());
    };
    match parent(target, path)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) if last == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            if i > items.len() {
                return Err(format!("array index {i} out of bounds"));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!("cannot add at {pointer}")),
    }
}

fn remove(target: &mut Value, pointer: &str) -> Result<Value, String> {
    let tokens = tokens(pointer)?;
    let (last, path) = tokens
        .split_last()
        .ok_or_else(|| "cannot remove the whole document".to_string())?;
    let missing = || format!("path {pointer} does not exist");
    match parent(target, path)? {
        Value::Object(map) => map.remove(last).ok_or_else(missing),
        Value::Array(items) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < items.len() {
                Ok(items.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

fn get(target: &Value, pointer: &str) -> Option<Value> {
    target.pointer(pointer).cloned()
}

/// Applies a JSON patch; the first failing operation (a `test` that does not hold, a missing path) fails it.
pub fn json_patch(target: &mut Value, operations: &Value) -> Result<(), String> {
    let operations = operations
        .as_array()
        .ok_or_else(|| "a JSON patch is a list of operations".to_string())?;
    for op in operations {
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| "operation without path".to_string())?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation on {path} without value"))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation on {path} without from"))
        };
        match op.get("op").and_then(Value::as_str) {
            Some("add") => add(target, path, value()?)?,
            Some("remove") => {
                remove(target, path)?;
            }
            Some("replace") => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            Some("test") => {
                // A missing path tests equal to null, as the API server's patch library treats it.
                let current = get(target, path).unwrap_or(Value::Null);
                if current != value()? {
                    return Err(format!("testing value {path} failed"));
                }
            }
            Some("move") => {
                let moved = remove(target, from()?)?;
                add(target, path, moved)?;
            }
            Some("copy") => {
                let copied =
                    get(target, from()?).ok_or_else(|| format!("path {} does not exist", path))?;
                add(target, path, copied)?;
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_objects_and_null_removes() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(
            &mut target,
            &json!({"a": {"b": null, "d": {"e": null, "f": 3}}, "l": [3]}),
        );
        assert_eq!(target, json!({"a": {"c": 2, "d": {"f": 3}}, "l": [3]}));
    }

    #[test]
    fn json_patch_operations_and_a_failing_test() {
        let mut target = json!({"metadata": {"finalizers": ["a", "b"]}});
        json_patch(
            &mut target,
            &json!([
                {"op": "test", "path": "/metadata/finalizers/1", "value": "b"},
                {"op": "remove", "path": "/metadata/finalizers/1"},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "c"},
                {"op": "test", "path": "/metadata/labels", "value": null},
                {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "1"}},
                {"op": "replace", "path": "/metadata/labels/a~0b~1c", "value": "2"}
            ]),
        )
        .unwrap();
        assert_eq!(
            target,
            json!({"metadata": {"finalizers": ["a", "c"], "labels": {"a~b/c": "2"}}})
        );
        assert!(
            json_patch(
                &mut target,
                &json!([{"op": "test", "path": "/metadata/finalizers", "value": null}])
            )
            .is_err()
        );
    }
}
