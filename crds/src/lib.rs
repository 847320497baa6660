//! The Tradewind API (`tradewind.dev/v1alpha1`): custom resource types, the channel catalogue, the generated
//! CustomResourceDefinitions and the validation of manifests.
//!
//! Nothing here talks to a cluster: the operator, the adapter and `twctl` build on these types.

pub mod channel;
pub mod generated;
pub mod manifest;
pub mod schema;
pub mod v1alpha1;
pub mod validation;
