//! Pure rendering: a Tradewind resource and the resources it references in, the desired Kubernetes objects
//! and JetStream topology out. No I/O: the controllers fetch inputs and apply outputs; `twctl render` and the
//! golden tests call the same functions.

pub mod adapter;
pub mod bridge;
pub mod hash;
pub mod jetstream;
pub mod manifests;
pub mod workload;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

pub use adapter::{MarketplaceInputs, RenderedMarketplace, render_marketplace};
pub use bridge::{BridgeInputs, RenderedBridge, render_bridge};

/// Why a resource cannot be rendered; `field` is the path in the resource at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RenderError {
    pub field: String,
    pub message: String,
}

impl RenderError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Name of an object rendered for resource `name` with `suffix`: an RFC 1035 label, as a Service's name must
/// be (at most 63 characters, starting with a letter; a resource name may start with a digit, which then gets
/// the prefix `tw-`), distinct for distinct inputs.
pub fn object_name(name: &str, suffix: &str) -> String {
    let base = format!("{}-{suffix}", name.replace('.', "-"));
    let base = if base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base
    } else {
        format!("tw-{base}")
    };
    crate::labels::label_value(&base)
}

/// The controller owner reference to `owner`, when it has been stored (an object read from a file has no uid:
/// `twctl render` output carries none).
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    owner.controller_owner_ref(&())
}

/// Metadata of an object rendered for `owner`.
pub(crate) fn child_meta<K: Resource<DynamicType = ()>>(
    owner: &K,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: owner.meta().namespace.clone(),
        labels: Some(labels),
        owner_references: owner_reference(owner).map(|r| vec![r]),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_rfc_1035_labels() {
        assert_eq!(object_name("amazon-us", "adapter"), "amazon-us-adapter");
        assert_eq!(object_name("1shop", "adapter"), "tw-1shop-adapter");
        assert_eq!(object_name("eu.shop", "erp-bridge"), "eu-shop-erp-bridge");
        let long = object_name(&"9".repeat(200), "adapter");
        assert!(long.len() <= 63 && long.starts_with("tw-99"), "{long}");
    }
}
