//! `metadata.managedFields`: who owns which field, per field manager, operation (`Apply` or `Update`) and
//! subresource; and the two ways a write changes it (after structured-merge-diff's `Updater`):
//!
//! - **apply** (`application/apply-patch+yaml`): the applied configuration is merged into the live object;
//!   what the manager applied last time and no longer applies is removed unless another manager owns it; a
//!   field another manager owns and whose value the apply changes is a conflict (409) unless forced, when the
//!   other manager loses it; the manager's Apply entry becomes exactly the fields it applied.
//! - **update** (create, PUT, merge and JSON patches): the manager's Update entry gains the fields the write
//!   added or changed and loses those it removed; other managers lose what it changed or removed.

use serde_json::{Value, json};

use super::fieldpath::{FieldSet, Path, display};
use super::merge::{Fields, MergeError, field_set, fields_of, merge, remove};
use crate::schema::Node;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who writes: the field manager, with the operation and subresource of its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer {
    pub manager: String,
    pub operation: Operation,
    /// `""` for the main resource, `"status"` for the status subresource.
    pub subresource: String,
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub writer: Writer,
    pub api_version: String,
    pub time: String,
    pub fields: FieldSet,
}

/// Every entry of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedFields(pub Vec<Entry>);

/// A field another manager owns that the write would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub subresource: String,
    pub api_version: String,
    pub path: Path,
}

impl Conflict {
    /// As the API server words a conflict's cause: `conflict with "kubectl" using apps/v1`.
    pub fn message(&self) -> String {
        let subresource = if self.subresource.is_empty() {
            String::new()
        } else {
            format!(" with subresource {:?}", self.subresource)
        };
        format!(
            "conflict with {:?}{subresource} using {}",
            self.manager, self.api_version
        )
    }

    pub fn field(&self) -> String {
        display(&self.path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{} conflict(s)", .0.len())]
    Conflicts(Vec<Conflict>),
    #[error(transparent)]
    Merge(#[from] MergeError),
}

impl ManagedFields {
    /// The entries of `object`'s `metadata.managedFields`.
    pub fn of(object: &Value) -> Self {
        let entries = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let operation = match e.get("operation")?.as_str()? {
                            "Apply" => Operation::Apply,
                            _ => Operation::Update,
                        };
                        Some(Entry {
                            writer: Writer {
                                manager: e.get("manager")?.as_str()?.to_string(),
                                operation,
                                subresource: e
                                    .get("subresource")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string(),
                            },
                            api_version: e
                                .get("apiVersion")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            time: e
                                .get("time")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            fields: FieldSet::from_fields_v1(
                                e.get("fieldsV1").unwrap_or(&Value::Null),
                            ),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        ManagedFields(entries)
    }

    /// Writes the entries into `object` (none: the field is removed).
    pub fn write_to(&self, object: &mut Value) {
        let entries: Vec<Value> = self
            .0
            .iter()
            .map(|e| {
                let mut entry = json!({
                    "manager": e.writer.manager,
                    "operation": e.writer.operation.as_str(),
                    "apiVersion": e.api_version,
                    "time": e.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": e.fields.to_fields_v1(),
                });
                if !e.writer.subresource.is_empty() {
                    entry["subresource"] = json!(e.writer.subresource);
                }
                entry
            })
            .collect();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            if entries.is_empty() {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), Value::Array(entries));
            }
        }
    }

    /// The same entries, ignoring when they were written (a write that changes nothing else is no change).
    pub fn same_owners(&self, other: &ManagedFields) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.writer == b.writer && a.fields == b.fields)
    }

    fn position(&self, writer: &Writer) -> Option<usize> {
        self.0.iter().position(|e| &e.writer == writer)
    }

    /// Sets `writer`'s entry (created at the end if new; removed if `fields` is empty).
    fn set(&mut self, writer: &Writer, api_version: &str, now: &str, fields: FieldSet) {
        match self.position(writer) {
            Some(i) if fields.is_empty() => {
                self.0.remove(i);
            }
            Some(i) => {
                let entry = &mut self.0[i];
                if entry.fields != fields {
                    entry.time = now.to_string();
                }
                entry.fields = fields;
                entry.api_version = api_version.to_string();
            }
            None if fields.is_empty() => {}
            None => self.0.push(Entry {
                writer: writer.clone(),
                api_version: api_version.to_string(),
                time: now.to_string(),
                fields,
            }),
        }
    }

    /// Every other entry loses `lost`; entries left empty go.
    fn take_from_others(&mut self, writer: &Writer, lost: &FieldSet) {
        for entry in self.0.iter_mut().filter(|e| &e.writer != writer) {
            entry.fields = entry.fields.difference(lost);
        }
        self.0.retain(|e| !e.fields.is_empty());
    }
}

/// What changed between two objects' fields: added or modified paths, and removed ones.
fn changes(before: &Fields, after: &Fields) -> (FieldSet, FieldSet) {
    let changed = after
        .iter()
        .filter(|(path, value)| match before.get(*path) {
            None => true,
            Some(old) => old != *value,
        })
        .map(|(path, _)| path.clone())
        .collect();
    let removed = before
        .keys()
        .filter(|path| !after.contains_key(*path))
        .cloned()
        .collect();
    (changed, removed)
}

/// The context of one write: the kind's schema, the fields no manager owns (`ignored`: system metadata, and
/// status or everything but status depending on the subresource), and the time.
pub struct Context<'a> {
    pub node: Node<'a>,
    pub api_version: &'a str,
    pub now: &'a str,
    pub ignored: &'a dyn Fn(&Path) -> bool,
}

impl Context<'_> {
    fn owned(&self, fields: &Fields) -> FieldSet {
        field_set(fields).filter(|p| !(self.ignored)(p))
    }
}

/// Server-side apply of `config` by `writer` to `live` (an empty object when creating): the new object and
/// managed fields, or the conflicts.
pub fn apply(
    live: &Value,
    config: &Value,
    managed: &ManagedFields,
    writer: &Writer,
    force: bool,
    cx: &Context<'_>,
) -> Result<(Value, ManagedFields), ApplyError> {
    let live_fields = fields_of(live, cx.node)?;
    let applied = cx.owned(&fields_of(config, cx.node)?);
    let mut merged = merge(live, config, cx.node)?;

    // What this manager applied last time and no longer applies goes, unless another manager owns it (or
    // something below it).
    let last = managed
        .position(writer)
        .map(|i| managed.0[i].fields.clone())
        .unwrap_or_default();
    let others = managed
        .0
        .iter()
        .filter(|e| &e.writer != writer)
        .fold(FieldSet::default(), |all, e| all.union(&e.fields));
    let stale = last
        .difference(&applied)
        .filter(|p| !others.contains(p) && !others.has_below(p) && !applied.has_below(p));
    remove(&mut merged, &stale, cx.node);

    let (changed, removed) = changes(&live_fields, &fields_of(&merged, cx.node)?);
    let conflicts: Vec<Conflict> = managed
        .0
        .iter()
        .filter(|e| &e.writer != writer)
        .flat_map(|e| {
            e.fields
                .intersection(&changed)
                .iter()
                .map(|path| Conflict {
                    manager: e.writer.manager.clone(),
                    subresource: e.writer.subresource.clone(),
                    api_version: e.api_version.clone(),
                    path: path.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    let mut managed = managed.clone();
    managed.take_from_others(writer, &changed.union(&removed));
    managed.set(writer, cx.api_version, cx.now, applied);
    Ok((merged, managed))
}

/// The managed fields after `writer` changed `live` into `new` with a create, update or patch.
pub fn update(
    live: &Value,
    new: &Value,
    managed: &ManagedFields,
    writer: &Writer,
    cx: &Context<'_>,
) -> Result<ManagedFields, MergeError> {
    let (changed, removed) = changes(&fields_of(live, cx.node)?, &fields_of(new, cx.node)?);
    let changed = changed.filter(|p| !(cx.ignored)(p));
    let removed = removed.filter(|p| !(cx.ignored)(p));
    let mut managed = managed.clone();
    let mine = managed
        .position(writer)
        .map(|i| managed.0[i].fields.clone())
        .unwrap_or_default()
        .difference(&removed)
        .union(&changed);
    managed.take_from_others(writer, &changed.union(&removed));
    managed.set(writer, cx.api_version, cx.now, mine);
    Ok(managed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Schema;

    fn writer(manager: &str, operation: Operation) -> Writer {
        Writer {
            manager: manager.into(),
            operation,
            subresource: String::new(),
        }
    }

    fn not_metadata(path: &Path) -> bool {
        path.first()
            .is_some_and(|s| s == "f:apiVersion" || s == "f:kind")
            || path.len() < 2 && path.first().is_some_and(|s| s == "f:metadata")
    }

    fn paths(managed: &ManagedFields, manager: &str) -> Vec<String> {
        managed
            .0
            .iter()
            .filter(|e| e.writer.manager == manager)
            .flat_map(|e| e.fields.iter().map(|p| display(p)).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn an_apply_removes_what_its_manager_alone_stopped_applying() {
        let schema = Schema::builtin("io.k8s.api.core.v1.ConfigMap");
        let cx = Context {
            node: schema.root(),
            api_version: "v1",
            now: "2026-01-01T00:00:00Z",
            ignored: &not_metadata,
        };
        let op = writer("op", Operation::Apply);
        let (live, managed) = apply(
            &json!({}),
            &json!({"data": {"a": "1", "b": "2"}}),
            &ManagedFields::default(),
            &op,
            false,
            &cx,
        )
        .unwrap();
        // Another manager sets `c` and also takes `b` with an update of its value.
        let mut edited = live.clone();
        edited["data"]["b"] = json!("20");
        edited["data"]["c"] = json!("3");
        let managed = update(
            &live,
            &edited,
            &managed,
            &writer("kubectl", Operation::Update),
            &cx,
        )
        .unwrap();
        assert_eq!(paths(&managed, "op"), vec![".data.a"]);
        assert_eq!(paths(&managed, "kubectl"), vec![".data.b", ".data.c"]);
        // The applier stops applying `a` and `b`: `a` (its own) goes, `b` (now kubectl's) stays.
        let (after, managed) = apply(&edited, &json!({}), &managed, &op, false, &cx).unwrap();
        assert_eq!(after["data"], json!({"b": "20", "c": "3"}));
        assert!(paths(&managed, "op").is_empty());
    }

    #[test]
    fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
        let schema = Schema::builtin("io.k8s.api.core.v1.ConfigMap");
        let cx = Context {
            node: schema.root(),
            api_version: "v1",
            now: "2026-01-01T00:00:00Z",
            ignored: &not_metadata,
        };
        let (live, managed) = apply(
            &json!({}),
            &json!({"data": {"a": "1"}}),
            &ManagedFields::default(),
            &writer("one", Operation::Apply),
            false,
            &cx,
        )
        .unwrap();
        let two = writer("two", Operation::Apply);
        // The same value: shared, no conflict.
        let (_, shared) = apply(
            &live,
            &json!({"data": {"a": "1"}}),
            &managed,
            &two,
            false,
            &cx,
        )
        .unwrap();
        assert_eq!(paths(&shared, "one"), vec![".data.a"]);
        assert_eq!(paths(&shared, "two"), vec![".data.a"]);
        // Another value: a conflict naming the owner and the field.
        let Err(ApplyError::Conflicts(conflicts)) = apply(
            &live,
            &json!({"data": {"a": "2"}}),
            &managed,
            &two,
            false,
            &cx,
        ) else {
            panic!("expected a conflict")
        };
        assert_eq!(conflicts[0].message(), "conflict with \"one\" using v1");
        assert_eq!(conflicts[0].field(), ".data.a");
        // Forced: the value changes and the ownership moves.
        let (forced, managed) = apply(
            &live,
            &json!({"data": {"a": "2"}}),
            &managed,
            &two,
            true,
            &cx,
        )
        .unwrap();
        assert_eq!(forced["data"]["a"], "2");
        assert!(paths(&managed, "one").is_empty());
        assert_eq!(paths(&managed, "two"), vec![".data.a"]);
    }
}
