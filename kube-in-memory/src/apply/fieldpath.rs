//! Field paths and sets of them, as `metadata.managedFields` records them (`fieldsType: FieldsV1`): each step
//! is `f:<field>`, `k:<the keys of a list-map entry as JSON>` or `v:<a set member as JSON>`; a path that is
//! owned and also has owned children carries `".": {}`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One path: its steps in FieldsV1 form.
pub type Path = Vec<String>;

/// The step of the field `name`.
pub fn field(name: &str) -> String {
    format!("f:{name}")
}

/// The step of a set member.
pub fn member(value: &Value) -> String {
    format!("v:{value}")
}

/// The step of a list-map entry with these key values (keys sorted by name, as JSON).
pub fn entry(keys: &BTreeMap<String, Value>) -> String {
    let object: Map<String, Value> = keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    format!("k:{}", Value::Object(object))
}

/// A path as conflict messages show it: `.spec.containers[name="app"].image`.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for step in path {
        if let Some(name) = step.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(keys) = step.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let shown: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", shown.join(",")));
        } else if let Some(value) = step.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else {
            out.push_str(&format!("[{step}]"));
        }
    }
    out
}

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub fn contains(&self, path: &[String]) -> bool {
        self.0.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// The paths for which `keep` holds.
    pub fn filter(&self, keep: impl Fn(&Path) -> bool) -> FieldSet {
        FieldSet(self.0.iter().filter(|p| keep(p)).cloned().collect())
    }

    /// Whether some path of the set lies strictly below `path`.
    pub fn has_below(&self, path: &[String]) -> bool {
        self.0
            .range(path.to_vec()..)
            .take_while(|p| p.starts_with(path))
            .any(|p| p.len() > path.len())
    }

    /// The FieldsV1 form.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for step in path {
                let child = node
                    .entry(step.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(child) = child else {
                    unreachable!("every node is an object")
                };
                node = child;
            }
            node.insert(".".into(), Value::Object(Map::new()));
        }
        fn collapse(node: &mut Map<String, Value>) {
            for child in node.values_mut() {
                if let Value::Object(map) = child {
                    if map.len() == 1 && map.contains_key(".") {
                        map.clear();
                    } else {
                        collapse(map);
                    }
                }
            }
        }
        collapse(&mut root);
        Value::Object(root)
    }

    /// Reads the FieldsV1 form.
    pub fn from_fields_v1(fields: &Value) -> FieldSet {
        fn walk(node: &Value, path: &mut Path, out: &mut FieldSet) {
            let Value::Object(map) = node else { return };
            for (key, child) in map {
                if key == "." {
                    out.insert(path.clone());
                    continue;
                }
                path.push(key.clone());
                if child.as_object().is_some_and(Map::is_empty) {
                    out.insert(path.clone());
                } else {
                    walk(child, path, out);
                }
                path.pop();
            }
        }
        let mut out = FieldSet::default();
        walk(fields, &mut Vec::new(), &mut out);
        out
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(iter: I) -> Self {
        FieldSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(steps: &[&str]) -> Path {
        steps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_v1_marks_an_owned_entry_that_has_owned_children_with_a_dot() {
        let set: FieldSet = [
            path(&["f:metadata", "f:labels", "f:app"]),
            path(&["f:spec", "f:containers", r#"k:{"name":"app"}"#]),
            path(&["f:spec", "f:containers", r#"k:{"name":"app"}"#, "f:image"]),
        ]
        .into_iter()
        .collect();
        let fields = set.to_fields_v1();
        assert_eq!(
            fields,
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                   "f:spec": {"f:containers": {r#"k:{"name":"app"}"#: {".": {}, "f:image": {}}}}})
        );
        assert_eq!(FieldSet::from_fields_v1(&fields), set);
    }

    #[test]
    fn paths_display_as_in_conflict_messages() {
        let keys = BTreeMap::from([
            ("protocol".to_string(), json!("TCP")),
            ("containerPort".to_string(), json!(9090)),
        ]);
        assert_eq!(
            display(&["f:spec".into(), "f:ports".into(), entry(&keys)]),
            r#".spec.ports[containerPort=9090,protocol="TCP"]"#
        );
        assert!(FieldSet::from_iter([path(&["f:a", "f:b"])]).has_below(&path(&["f:a"])));
        assert!(!FieldSet::from_iter([path(&["f:a"])]).has_below(&path(&["f:a"])));
    }
}
