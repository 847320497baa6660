//! The stored objects, the cluster's `resourceVersion` counter, and the log of changes watches read.

use std::collections::BTreeMap;

use serde_json::Value;

/// Where an object is stored: `(group, plural, namespace, name)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it (with the object before, so a selector can tell one leaving its set).
#[derive(Clone, Debug)]
pub struct Change {
    pub version: u64,
    pub key: Key,
    pub kind: ChangeKind,
    pub before: Option<Value>,
    pub object: Value,
}

#[derive(Default)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    version: u64,
    /// Every change, when kept for watches.
    log: Vec<Change>,
    pub keep_log: bool,
}

impl Store {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of `(group, plural)`, in `namespace` or all.
    pub fn list<'s>(
        &'s self,
        group: &'s str,
        plural: &'s str,
        namespace: Option<&'s str>,
    ) -> impl Iterator<Item = (&'s Key, &'s Value)> {
        self.objects.iter().filter(move |(k, _)| {
            k.group == group && k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns)
        })
    }

    /// Every object of a namespace (garbage collection looks across kinds).
    pub fn in_namespace<'s>(
        &'s self,
        namespace: &'s str,
    ) -> impl Iterator<Item = (&'s Key, &'s Value)> {
        self.objects
            .iter()
            .filter(move |(k, _)| k.namespace == namespace)
    }

    /// Stores `object` at a new resourceVersion (set into it), and logs the change.
    pub fn put(&mut self, key: Key, mut object: Value) -> Value {
        self.version += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.version.to_string());
        let before = self.objects.insert(key.clone(), object.clone());
        let kind = if before.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        self.record(key, kind, before, object.clone());
        object
    }

    /// Removes the object at `key` (at a new resourceVersion, as its deletion is seen), as `last` if given.
    pub fn remove(&mut self, key: &Key, last: Option<Value>) -> Option<Value> {
        let stored = self.objects.remove(key)?;
        let mut object = last.unwrap_or(stored);
        self.version += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.version.to_string());
        self.record(key.clone(), ChangeKind::Deleted, None, object.clone());
        Some(object)
    }

    fn record(&mut self, key: Key, kind: ChangeKind, before: Option<Value>, object: Value) {
        if self.keep_log {
            self.log.push(Change {
                version: self.version,
                key,
                kind,
                before,
                object,
            });
        }
    }

    /// The changes after `version`.
    pub fn changes_after(&self, version: u64) -> impl Iterator<Item = &Change> {
        let start = self.log.partition_point(|c| c.version <= version);
        self.log[start..].iter()
    }
}
