//! `ChannelMapping`: compiled as the adapter would; each expression error reported with its field path.

use std::sync::Arc;

use crds::v1alpha1::{ChannelMapping, ChannelMappingStatus, CommonStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::{Context, Error, FIELD_MANAGER, record};
use crate::status::conditions::{Observed, merge};
use crate::status::mapping::mapping_validity;
use crds::v1alpha1::condition;

pub async fn reconcile(mapping: Arc<ChannelMapping>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = mapping.name_any();
    let namespace = mapping.namespace().unwrap_or_default();
    let (errors, valid) = mapping_validity(&name, &mapping.spec);
    let ready = Observed::new(
        condition::READY,
        valid.status,
        &valid.reason,
        valid.message.clone(),
    );
    let previous = mapping.status.clone().unwrap_or_default();
    let generation = mapping.metadata.generation;
    let (conditions, transitions) = merge(
        &previous.common.conditions,
        &[ready, valid],
        generation,
        &Time(jiff_now()),
    );
    let status = ChannelMappingStatus {
        common: CommonStatus {
            observed_generation: generation,
            conditions,
            last_handled_requested_at: previous.common.last_handled_requested_at.clone(),
        },
        errors,
    };
    if status != previous {
        let api: Api<ChannelMapping> = Api::namespaced(ctx.client.clone(), &namespace);
        let body = serde_json::json!({
            "apiVersion": crds::v1alpha1::API_VERSION,
            "kind": "ChannelMapping",
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await?;
    }
    for t in transitions
        .iter()
        .filter(|t| t.type_ == condition::MAPPING_VALID)
    {
        record(&ctx, &*mapping, !t.status, &t.reason, t.message.clone()).await;
    }
    Ok(Action::requeue(ctx.resync))
}

/// The current time in the type conditions carry.
pub(crate) fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}
