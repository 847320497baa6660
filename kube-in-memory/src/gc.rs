//! Garbage collection by owner references, in the background mode of a delete: once an owner is gone, a
//! dependent none of whose other owners exists is deleted (through its own finalizers, and collecting its own
//! dependents in turn); a dependent with another owner still there only loses the reference. An `Orphan`
//! delete leaves dependents, without the reference.

use std::collections::BTreeSet;

use crate::metadata::{get_str, owner_uids};
use crate::store::{Key, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Delete(Key),
    DropOwnerReference { key: Key, uid: String },
}

/// What follows the removal of the object `uid` from `namespace`.
pub fn after_removal(store: &Store, namespace: &str, uid: &str, orphan: bool) -> Vec<Step> {
    let present: BTreeSet<&str> = store
        .in_namespace(namespace)
        .filter_map(|(_, o)| get_str(o, "uid"))
        .collect();
    store
        .in_namespace(namespace)
        .filter_map(|(key, object)| {
            let owners = owner_uids(object);
            if !owners.iter().any(|o| o == uid) {
                return None;
            }
            let another_owner = owners
                .iter()
                .any(|o| o != uid && present.contains(o.as_str()));
            Some(if orphan || another_owner {
                Step::DropOwnerReference {
                    key: key.clone(),
                    uid: uid.to_string(),
                }
            } else {
                Step::Delete(key.clone())
            })
        })
        .collect()
}
