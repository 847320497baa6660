//! The resources this API serves, each with its schema and the rules the API server's strategy for it
//! follows: whether it has a status subresource, and what moves `metadata.generation`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crds::schema::{SchemaSet, openapi_schema};

use crate::schema::Schema;
use crate::schema::validate::Validator;

/// When `metadata.generation` increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// Never set (ConfigMaps, Secrets, Services, ServiceAccounts, Leases, Events).
    None,
    /// On a change of `spec` (NetworkPolicy, PodDisruptionBudget).
    Spec,
    /// On a change of `spec` or of `metadata.annotations` (Deployment: annotations are copied to its
    /// ReplicaSets).
    SpecOrAnnotations,
    /// On any change outside `metadata` (and outside `status` when it is a subresource): custom resources.
    AllButMetadata,
}

/// One served resource.
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: String,
    pub plural: String,
    /// `status` is written only through `/status`, and ignored there for everything else.
    pub status_subresource: bool,
    pub generation: Generation,
    /// Services' names must be DNS-1035 labels; every other name a DNS-1123 subdomain.
    pub name_is_label: bool,
    /// `spec.template` is a pod template, whose metadata is validated too.
    pub pod_template: bool,
    pub schema: Schema,
    pub validator: Validator,
    /// Custom resources decode with pruning and defaulting from their CRD.
    pub custom: bool,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The built-in kinds served: `(group, version, kind, plural, definition, status subresource, generation)`.
const BUILTIN: &[(&str, &str, &str, &str, &str, bool, Generation)] = &[
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "io.k8s.api.core.v1.ConfigMap",
        false,
        Generation::None,
    ),
    (
        "",
        "v1",
        "Secret",
        "secrets",
        "io.k8s.api.core.v1.Secret",
        false,
        Generation::None,
    ),
    (
        "",
        "v1",
        "Service",
        "services",
        "io.k8s.api.core.v1.Service",
        true,
        Generation::None,
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "io.k8s.api.core.v1.ServiceAccount",
        false,
        Generation::None,
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "io.k8s.api.apps.v1.Deployment",
        true,
        Generation::SpecOrAnnotations,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "io.k8s.api.coordination.v1.Lease",
        false,
        Generation::None,
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "io.k8s.api.events.v1.Event",
        false,
        Generation::None,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "io.k8s.api.networking.v1.NetworkPolicy",
        false,
        Generation::Spec,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "io.k8s.api.policy.v1.PodDisruptionBudget",
        true,
        Generation::Spec,
    ),
];

/// Every served resource, by `(group, version, plural)`.
pub struct Resources(BTreeMap<(String, String, String), Arc<Resource>>);

impl Resources {
    /// The built-in kinds and the Tradewind CRDs (`crds::generated::all()`).
    pub fn served() -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for &(group, version, kind, plural, definition, status, generation) in BUILTIN {
            let schema = Schema::builtin(definition);
            let validator = Validator::builtin(&schema)?;
            out.insert(
                (group.into(), version.into(), plural.into()),
                Arc::new(Resource {
                    group,
                    version,
                    kind: kind.into(),
                    plural: plural.into(),
                    status_subresource: status,
                    generation,
                    name_is_label: kind == "Service",
                    pod_template: kind == "Deployment",
                    schema,
                    validator,
                    custom: false,
                }),
            );
        }
        let set = Arc::new(SchemaSet::generated().map_err(|e| e.to_string())?);
        for crd in crds::generated::all() {
            let open_api = openapi_schema(&crd).map_err(|e| e.to_string())?;
            let version = crd
                .spec
                .versions
                .first()
                .ok_or_else(|| format!("CRD {} has no version", crd.spec.names.kind))?;
            let group: &'static str = crds::v1alpha1::GROUP;
            let version_name: &'static str = if version.name == "v1alpha1" {
                "v1alpha1"
            } else {
                return Err(format!("CRD version {} is not served", version.name));
            };
            let status = version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some());
            out.insert(
                (
                    group.into(),
                    version_name.into(),
                    crd.spec.names.plural.clone(),
                ),
                Arc::new(Resource {
                    group,
                    version: version_name,
                    kind: crd.spec.names.kind.clone(),
                    plural: crd.spec.names.plural.clone(),
                    status_subresource: status,
                    generation: Generation::AllButMetadata,
                    name_is_label: false,
                    pod_template: false,
                    schema: Schema::custom(&open_api),
                    validator: Validator::Custom {
                        kind: crd.spec.names.kind.clone(),
                        set: set.clone(),
                    },
                    custom: true,
                }),
            );
        }
        Ok(Self(out))
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        self.0
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every resource (for garbage collection, which looks at all kinds).
    pub fn all(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.0.values()
    }
}
