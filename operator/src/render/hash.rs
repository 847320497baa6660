//! `tradewind.dev/config-hash`: what a workload runs with, reduced to one value, so that a change to it (a
//! mapping, a limit, a rotated credential) rolls the pods and nothing else does (an operator upgrade alone
//! leaves it unchanged, because neither the operator's version nor the image is part of it).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The annotation on the Deployment's pod template (and the Deployment itself).
pub const CONFIG_HASH_ANNOTATION: &str = "tradewind.dev/config-hash";

/// SHA-256 over the rendered configuration text and each referenced Secret's `resourceVersion` (a Secret that
/// does not exist yet counts as absent, so its creation rolls the pods too). Hex, first 32 characters.
pub fn config_hash(
    rendered_config: &str,
    secret_versions: &BTreeMap<String, Option<String>>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"config\0");
    hasher.update(rendered_config.as_bytes());
    for (name, version) in secret_versions {
        hasher.update(b"\0secret\0");
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(version.as_deref().unwrap_or("<absent>").as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    digest[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn a_rotated_secret_changes_the_hash() {
        let before = config_hash("a: 1", &versions(&[("creds", Some("10"))]));
        let after = config_hash("a: 1", &versions(&[("creds", Some("11"))]));
        assert_ne!(before, after);
    }

    #[test]
    fn a_config_change_changes_the_hash_and_the_same_input_does_not() {
        let v = versions(&[("creds", Some("10"))]);
        assert_eq!(config_hash("a: 1", &v), config_hash("a: 1", &v));
        assert_ne!(config_hash("a: 1", &v), config_hash("a: 2", &v));
    }

    #[test]
    fn a_secret_appearing_changes_the_hash() {
        let absent = config_hash("a: 1", &versions(&[("creds", None)]));
        let present = config_hash("a: 1", &versions(&[("creds", Some("1"))]));
        assert_ne!(absent, present);
    }
}
