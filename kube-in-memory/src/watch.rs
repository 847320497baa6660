//! Watch events of a collection after a `resourceVersion`, filtered by label and field selectors as the API
//! server filters them: an object that starts matching arrives as `ADDED`, one that stops matching as
//! `DELETED`.

use serde_json::{Value, json};

use crate::selector::{FieldSelector, Selector};
use crate::store::{ChangeKind, Store};

/// What one watch request follows.
pub struct Watch {
    pub group: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub labels: Selector,
    pub fields: FieldSelector,
    pub after: u64,
}

impl Watch {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches_object(object)
    }

    /// The events after `self.after`, one JSON object per line, and the version of the last change seen.
    pub fn events(&self, store: &Store) -> (Vec<u8>, u64) {
        let mut out = Vec::new();
        let mut last = self.after;
        for change in store.changes_after(self.after) {
            last = change.version;
            let key = &change.key;
            if key.group != self.group
                || key.plural != self.plural
                || self
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| *ns != key.namespace)
            {
                continue;
            }
            let now = self.selects(&change.object);
            let before = change.before.as_ref().map(|b| self.selects(b));
            let kind = match (change.kind, before, now) {
                (ChangeKind::Deleted, _, true) => ChangeKind::Deleted,
                (ChangeKind::Deleted, _, false) => continue,
                (_, Some(true), true) => ChangeKind::Modified,
                (_, Some(true), false) => ChangeKind::Deleted,
                (_, _, true) => ChangeKind::Added,
                (_, _, false) => continue,
            };
            if let Ok(line) =
                serde_json::to_vec(&json!({"type": kind.as_str(), "object": change.object}))
            {
                out.extend(line);
                out.push(b'\n');
            }
        }
        (out, last)
    }
}
