//! The labels every object the operator creates carries, so that `kubectl get -l` and the operator's own watches
//! find them.

use std::collections::BTreeMap;

/// The operator's name as written in `app.kubernetes.io/managed-by`.
pub const MANAGER: &str = "tradewind-operator";
/// Label naming the Tradewind resource an object was rendered from.
pub const INSTANCE_KIND: &str = "tradewind.dev/kind";
/// Label naming the Tradewind resource's name.
pub const INSTANCE_NAME: &str = "tradewind.dev/name";

/// Longest label value Kubernetes accepts.
const MAX_LABEL_VALUE: usize = 63;

/// The standard labels of an object rendered for the resource `kind`/`name` with the component `component`
/// (`adapter`, `erp-bridge`).
pub fn standard_labels(kind: &str, name: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "tradewind".to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            label_value(component),
        ),
        ("app.kubernetes.io/instance".to_string(), label_value(name)),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        ),
        (INSTANCE_KIND.to_string(), label_value(kind)),
        (INSTANCE_NAME.to_string(), label_value(name)),
    ])
}

/// `value` if it is a valid label value; otherwise a valid one derived from it. Resource names may be up to 253
/// characters and contain dots, label values only 63: a long name keeps a readable prefix and ends with a hash
/// of the whole name, so two long names never share a label.
pub fn label_value(value: &str) -> String {
    if value.len() <= MAX_LABEL_VALUE {
        return value.to_string();
    }
    let hash = fnv1a(value.as_bytes());
    let suffix = format!("-{hash:016x}");
    let keep = MAX_LABEL_VALUE - suffix.len();
    let prefix = value[..keep].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{prefix}{suffix}")
}

/// FNV-1a: stable across releases and platforms, unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept() {
        assert_eq!(label_value("amazon-us"), "amazon-us");
    }

    #[test]
    fn long_values_are_shortened_and_stay_distinct() {
        let a = label_value(&format!("{}-a", "x".repeat(100)));
        let b = label_value(&format!("{}-b", "x".repeat(100)));
        assert!(a.len() <= MAX_LABEL_VALUE && b.len() <= MAX_LABEL_VALUE);
        assert_ne!(a, b);
        assert!(a.starts_with("xxxx"));
    }

    #[test]
    fn standard_labels_name_the_resource() {
        let labels = standard_labels("Marketplace", "amazon-us", "adapter");
        assert_eq!(
            labels.get(INSTANCE_NAME).map(String::as_str),
            Some("amazon-us")
        );
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some(MANAGER)
        );
    }
}
