//! The controllers: fetch inputs, call the pure renderer, apply with server-side apply under one field manager,
//! write status only when it changed.
//!
//! RBAC the operator needs (the chart reads this list):
//!
//! | API group | resources | verbs |
//! | --- | --- | --- |
//! | `tradewind.dev` | marketplaces, channelmappings, ratelimitpolicies, syncschedules, erpconnections | get, list, watch, patch, update |
//! | `tradewind.dev` | */status | get, patch, update |
//! | `tradewind.dev` | */finalizers (marketplaces, erpconnections) | update |
//! | `""` (core) | configmaps, services, serviceaccounts | get, list, watch, create, patch, delete |
//! | `""` (core) | secrets | get, list, watch (never create or patch: values are never read into anything) |
//! | `apps` | deployments | get, list, watch, create, patch, delete |
//! | `events.k8s.io` | events | create, patch |
//! | `coordination.k8s.io` | leases | get, create, update (leader election) |

pub mod channel_mapping;
pub mod erp_connection;
pub mod jetstream_status;
pub mod marketplace;
pub mod rate_limit_policy;
pub mod references;
pub mod run;
pub mod sync_schedule;

use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::settings::{NatsOverrides, RenderSettings};

/// The one field manager of every apply.
pub const FIELD_MANAGER: &str = "tradewind-operator";
/// The finalizer removing JetStream consumers (and owned streams under `deletionPolicy: Delete`).
pub const FINALIZER: &str = "tradewind.dev/jetstream-cleanup";

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    /// Images and the default NATS settings (the operator's flags).
    pub settings: RenderSettings,
    /// NATS settings per namespace (the chart's `nats.namespaceOverrides`); see [`Context::settings_for`].
    pub nats_overrides: NatsOverrides,
    /// JetStream, when the operator provisions streams itself (absent: adapters ensure them at start).
    pub jetstream: Option<async_nats::jetstream::Context>,
    pub recorder: Recorder,
    /// Periodic resync: every resource is reconciled at least this often, repairing drift.
    pub resync: std::time::Duration,
}

impl Context {
    /// The render settings of workloads in `namespace`: the images, and NATS as overridden for it.
    pub fn settings_for(&self, namespace: &str) -> RenderSettings {
        RenderSettings {
            nats: self
                .nats_overrides
                .for_namespace(namespace, &self.settings.nats),
            ..self.settings.clone()
        }
    }
}

/// A reconcile that failed for a reason worth retrying (API or NATS unavailable). Invalid resources are not
/// errors: their status says why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("jetstream: {0}")]
    JetStream(String),
    #[error("{0}")]
    Serialize(String),
}

/// The namespaced object `name`, or `None` when it does not exist.
pub(crate) async fn get_opt<K>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(name).await?)
}

/// The `resourceVersion` of each named Secret (`None`: not found), and the names not found.
pub(crate) async fn secret_versions(
    client: &Client,
    namespace: &str,
    names: Vec<String>,
) -> Result<
    (
        std::collections::BTreeMap<String, Option<String>>,
        Vec<String>,
    ),
    Error,
> {
    let mut versions = std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    for name in names {
        let secret: Option<k8s_openapi::api::core::v1::Secret> =
            get_opt(client, namespace, &name).await?;
        let version = secret.and_then(|s| s.metadata.resource_version);
        if version.is_none() {
            missing.push(name.clone());
        }
        versions.insert(name, version);
    }
    Ok((versions, missing))
}

/// Writes `status` (serialized) to `object`'s status subresource with server-side apply, when it differs from
/// what is stored: a resync that changes nothing writes nothing.
pub(crate) async fn write_status<K, S>(
    client: &Client,
    object: &K,
    previous: &S,
    status: &S,
) -> Result<(), Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if status == previous {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Why a rendered object was not applied.
#[derive(Debug)]
pub(crate) enum ApplyFailure {
    /// The API server refused the object as invalid (422, with the field at fault): applying the same object
    /// again cannot succeed, so the resource's status says why instead of the controller retrying blindly.
    Refused(String),
    Failed(Error),
}

/// Server-side apply of `object` (which carries its apiVersion and kind) under [`FIELD_MANAGER`], taking over
/// fields another manager set (the operator owns what it renders); a refusal of the object is told from a
/// failure worth retrying.
pub(crate) async fn apply_checked<K>(
    client: &Client,
    namespace: &str,
    object: &K,
) -> Result<K, ApplyFailure>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let applied = api
        .patch(
            &object.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await;
    match applied {
        Ok(stored) => Ok(stored),
        Err(kube::Error::Api(status)) if status.code == 422 => {
            Err(ApplyFailure::Refused(status.message))
        }
        Err(e) => Err(ApplyFailure::Failed(e.into())),
    }
}

/// The objects of a workload (an adapter or an ERP bridge), applied in this order.
pub(crate) struct Workload<'a> {
    pub service_account: &'a k8s_openapi::api::core::v1::ServiceAccount,
    pub config_map: &'a k8s_openapi::api::core::v1::ConfigMap,
    pub service: &'a k8s_openapi::api::core::v1::Service,
    pub deployment: &'a k8s_openapi::api::apps::v1::Deployment,
}

/// Applies a workload's objects: the Deployment as stored, or (inner `Err`) the API server's refusal of one
/// of them, for the `Synced` condition.
pub(crate) async fn apply_workload(
    client: &Client,
    namespace: &str,
    workload: Workload<'_>,
) -> Result<Result<k8s_openapi::api::apps::v1::Deployment, String>, Error> {
    let applied = async {
        apply_checked(client, namespace, workload.service_account).await?;
        apply_checked(client, namespace, workload.config_map).await?;
        apply_checked(client, namespace, workload.service).await?;
        apply_checked(client, namespace, workload.deployment).await
    };
    match applied.await {
        Ok(deployment) => Ok(Ok(deployment)),
        Err(ApplyFailure::Refused(message)) => Ok(Err(message)),
        Err(ApplyFailure::Failed(e)) => Err(e),
    }
}

/// Publishes a Kubernetes Event about `object`; failing to record one never fails the reconcile.
pub async fn record<K: Resource<DynamicType = ()>>(
    ctx: &Arc<Context>,
    object: &K,
    warning: bool,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::debug!(error = %e, "event not recorded");
    }
}
