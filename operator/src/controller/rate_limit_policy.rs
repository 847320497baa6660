//! `RateLimitPolicy`: whether its limits are valid and within the channel's published quota (the same checks
//! as `twctl validate`), and which Marketplaces and ErpConnections reference it.

use std::sync::Arc;

use crds::manifest::Source;
use crds::v1alpha1::{
    CommonStatus, ErpConnection, Marketplace, RateLimitPolicy, RateLimitPolicyStatus, condition,
};
use crds::validation::{Item, Resource, validate_set};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::channel_mapping::jiff_now;
use super::{Context, Error, record, write_status};
use crate::status::conditions::{Observed, merge};

/// `WithinQuota`: every diagnostic of `twctl validate` for this policy, the first named with its field path.
pub fn quota_condition(policy: &RateLimitPolicy) -> Observed {
    let name = policy.name_any();
    let item = Item {
        source: Source {
            file: format!("RateLimitPolicy/{name}"),
            line: 1,
        },
        namespace: policy.namespace().unwrap_or_default(),
        name,
        resource: Resource::RateLimitPolicy(Box::new(policy.clone())),
    };
    let diagnostics = validate_set(std::slice::from_ref(&item));
    match diagnostics.first() {
        None => Observed::new(
            condition::WITHIN_QUOTA,
            true,
            "Valid",
            "every limit is valid and within the channel's published quota",
        ),
        Some(first) => Observed::new(
            condition::WITHIN_QUOTA,
            false,
            "Invalid",
            format!(
                "{} problem(s); first: {}{}: {}",
                diagnostics.len(),
                first.field_path,
                first
                    .value
                    .as_ref()
                    .map(|v| format!(" = {v}"))
                    .unwrap_or_default(),
                first.message
            ),
        ),
    }
}

/// `Kind/name` of every Marketplace and ErpConnection of `namespace` that references the policy `name`.
async fn referenced_by(ctx: &Context, namespace: &str, name: &str) -> Result<Vec<String>, Error> {
    let marketplaces: Api<Marketplace> = Api::namespaced(ctx.client.clone(), namespace);
    let connections: Api<ErpConnection> = Api::namespaced(ctx.client.clone(), namespace);
    let mut out: Vec<String> = marketplaces
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|m| m.spec.rate_limit_policy_ref.name == name)
        .map(|m| format!("Marketplace/{}", m.name_any()))
        .collect();
    out.extend(
        connections
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|e| {
                super::erp_connection::references(e, "RateLimitPolicy", name, &ctx.settings)
            })
            .map(|e| format!("ErpConnection/{}", e.name_any())),
    );
    out.sort();
    Ok(out)
}

pub async fn reconcile(policy: Arc<RateLimitPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = policy.namespace().unwrap_or_default();
    let users = referenced_by(&ctx, &namespace, &policy.name_any()).await?;
    let quota = quota_condition(&policy);
    let ready = Observed::new(
        condition::READY,
        quota.status,
        &quota.reason,
        if quota.status {
            if users.is_empty() {
                "valid; referenced by nothing".to_string()
            } else {
                format!("valid; referenced by {}", users.join(", "))
            }
        } else {
            quota.message.clone()
        },
    );
    let previous = policy.status.clone().unwrap_or_default();
    let generation = policy.metadata.generation;
    let (conditions, transitions) = merge(
        &previous.common.conditions,
        &[ready, quota],
        generation,
        &Time(jiff_now()),
    );
    let status = RateLimitPolicyStatus {
        common: CommonStatus {
            observed_generation: generation,
            conditions,
            last_handled_requested_at: previous.common.last_handled_requested_at.clone(),
        },
        used_by: Some(u32::try_from(users.len()).unwrap_or(u32::MAX)),
    };
    write_status(&ctx.client, &*policy, &previous, &status).await?;
    for t in transitions
        .iter()
        .filter(|t| t.type_ == condition::WITHIN_QUOTA)
    {
        record(&ctx, &*policy, !t.status, &t.reason, t.message.clone()).await;
    }
    Ok(Action::requeue(ctx.resync))
}
