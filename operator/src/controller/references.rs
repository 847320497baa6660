//! Which object each watched object referenced when last seen, so that when a reference moves (a
//! Marketplace's `rateLimitPolicyRef` from `a` to `b`) the old target is reconciled at once with the new one:
//! its status (`usedBy`, `Ready` naming who references it) would otherwise stay stale until the next resync.
//!
//! The memory is the watch's own: after an operator restart it is empty, and the initial list reconciles every
//! object anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Last referenced name per referencing object (`namespace`, `name`).
#[derive(Clone, Default)]
pub struct LastReferences(Arc<Mutex<HashMap<(String, String), String>>>);

impl LastReferences {
    /// The names to re-reconcile now that the object `namespace`/`name` references `current` (none: it references
    /// nothing of this kind): `current`, and the name it referenced before when that differs. `deleting`
    /// forgets the object (its last reference is still returned, so the target drops it from `usedBy`).
    pub fn targets(
        &self,
        namespace: &str,
        name: &str,
        current: Option<String>,
        deleting: bool,
    ) -> Vec<String> {
        let key = (namespace.to_string(), name.to_string());
        // A poisoned lock only means a mapper panicked; the map itself is still usable.
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let previous = match (&current, deleting) {
            (_, true) | (None, _) => seen.remove(&key),
            (Some(c), false) => seen.insert(key, c.clone()),
        };
        let mut out: Vec<String> = current.into_iter().collect();
        if let Some(p) = previous
            && !out.contains(&p)
        {
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_reference_names_the_old_target_once() {
        let refs = LastReferences::default();
        assert_eq!(refs.targets("ns", "mp", Some("a".into()), false), ["a"]);
        assert_eq!(refs.targets("ns", "mp", Some("a".into()), false), ["a"]);
        assert_eq!(
            refs.targets("ns", "mp", Some("b".into()), false),
            ["b", "a"]
        );
        assert_eq!(refs.targets("ns", "mp", Some("b".into()), false), ["b"]);
        assert_eq!(refs.targets("other", "mp", Some("c".into()), false), ["c"]);
    }

    #[test]
    fn a_removed_reference_or_deletion_names_the_last_target_and_forgets_it() {
        let refs = LastReferences::default();
        refs.targets("ns", "erp", Some("limits".into()), false);
        assert_eq!(refs.targets("ns", "erp", None, false), ["limits"]);
        assert!(refs.targets("ns", "erp", None, false).is_empty());
        refs.targets("ns", "mp", Some("a".into()), false);
        assert_eq!(refs.targets("ns", "mp", Some("a".into()), true), ["a"]);
        assert_eq!(refs.targets("ns", "mp", Some("a".into()), false), ["a"]);
    }
}
