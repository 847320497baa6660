//! `ErpConnection`: render the ERP bridge from the connection, the Marketplaces that use it and its sink's
//! RateLimitPolicy, apply it, and report Synced (applied) apart from Ready (bridge pods available, Secrets
//! found), with the source and sink in use and how many Marketplaces reference it.

use std::sync::Arc;

use crds::v1alpha1::{
    CommonStatus, ErpConnection, ErpConnectionSpec, ErpConnectionStatus, Marketplace,
    RateLimitPolicy, condition,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::channel_mapping::jiff_now;
use super::{Context, Error, apply, get_opt, record, secret_versions, write_status};
use crate::render::bridge::referenced_secrets;
use crate::render::{BridgeInputs, RenderError, render_bridge};
use crate::status::conditions::{Observed, merge, ready_from};

/// Names of the Marketplaces in `namespace` that reference the connection `name`.
pub async fn users(ctx: &Context, namespace: &str, name: &str) -> Result<Vec<String>, Error> {
    let api: Api<Marketplace> = Api::namespaced(ctx.client.clone(), namespace);
    let mut names: Vec<String> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|m| m.spec.erp_connection_ref.name == name)
        .map(|m| m.name_any())
        .collect();
    names.sort();
    Ok(names)
}

/// The source and sink kinds as status shows them (`postgresOutbox`, `rest`, ...).
pub fn kinds(spec: &ErpConnectionSpec) -> (Option<String>, Option<String>) {
    let source = [
        (spec.source.postgres_outbox.is_some(), "postgresOutbox"),
        (spec.source.webhook.is_some(), "webhook"),
        (spec.source.nats.is_some(), "nats"),
    ];
    let sink = [
        (spec.sink.rest.is_some(), "rest"),
        (spec.sink.postgres.is_some(), "postgres"),
        (spec.sink.nats.is_some(), "nats"),
    ];
    let first = |options: &[(bool, &str)]| {
        options
            .iter()
            .find(|(set, _)| *set)
            .map(|(_, k)| (*k).to_string())
    };
    (first(&source), first(&sink))
}

pub async fn reconcile(erp: Arc<ErpConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = erp.namespace().unwrap_or_default();
    let name = erp.name_any();
    let client = &ctx.client;
    let settings = ctx.settings_for(&namespace);
    let marketplaces = users(&ctx, &namespace, &name).await?;
    let policy_name = erp
        .spec
        .sink
        .rest
        .as_ref()
        .and_then(|r| r.rate_limit_policy_ref.as_ref())
        .map(|r| r.name.clone());
    let sink_rate_limits: Option<RateLimitPolicy> = match &policy_name {
        Some(policy) => get_opt(client, &namespace, policy).await?,
        None => None,
    };
    let (versions, missing) =
        secret_versions(client, &namespace, referenced_secrets(&erp, &settings)).await?;
    let inputs = BridgeInputs {
        connection: &erp,
        marketplaces: marketplaces.clone(),
        sink_rate_limits: sink_rate_limits.as_ref(),
        secret_versions: versions,
    };

    let mut observed = Vec::new();
    match render_bridge(&inputs, &settings) {
        Err(RenderError { field, message }) => observed.push(Observed::new(
            condition::SYNCED,
            false,
            "InvalidReference",
            format!("{field}: {message}"),
        )),
        Ok(rendered) => {
            apply(client, &namespace, &rendered.service_account).await?;
            apply(client, &namespace, &rendered.config_map).await?;
            apply(client, &namespace, &rendered.service).await?;
            let deployment: Deployment = apply(client, &namespace, &rendered.deployment).await?;
            observed.push(Observed::new(
                condition::SYNCED,
                true,
                "Applied",
                "bridge objects applied",
            ));
            let wanted = rendered
                .deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(0);
            let have = deployment
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            observed.push(Observed::new(
                condition::ADAPTER_AVAILABLE,
                have >= wanted,
                if erp.spec.suspend {
                    "Suspended"
                } else if have >= wanted {
                    "Available"
                } else {
                    "Progressing"
                },
                format!("{have} of {wanted} bridge replicas available"),
            ));
        }
    }
    observed.push(if missing.is_empty() {
        Observed::new(
            condition::CREDENTIALS_FOUND,
            true,
            "Found",
            "every referenced Secret exists",
        )
    } else {
        Observed::new(
            condition::CREDENTIALS_FOUND,
            false,
            "SecretNotFound",
            format!("Secret(s) not found: {}", missing.join(", ")),
        )
    });
    observed.insert(0, ready_from(&observed, "bridge running"));

    let previous = erp.status.clone().unwrap_or_default();
    let generation = erp.metadata.generation;
    let (conditions, transitions) = merge(
        &previous.common.conditions,
        &observed,
        generation,
        &Time(jiff_now()),
    );
    let (source_kind, sink_kind) = kinds(&erp.spec);
    let pending = match &ctx.jetstream {
        Some(js) => Some(sink_pending(js, &namespace, &name, &marketplaces).await),
        None => previous.pending,
    };
    let status = ErpConnectionStatus {
        common: CommonStatus {
            observed_generation: generation,
            conditions,
            last_handled_requested_at: previous.common.last_handled_requested_at.clone(),
        },
        source_kind,
        sink_kind,
        used_by: Some(u32::try_from(marketplaces.len()).unwrap_or(u32::MAX)),
        pending,
        ..previous.clone()
    };
    write_status(client, &*erp, &previous, &status).await?;
    for t in &transitions {
        record(
            &ctx,
            &*erp,
            !t.status,
            &t.reason,
            format!("{}: {}", t.type_, t.message),
        )
        .await;
    }
    Ok(Action::requeue(ctx.resync))
}

/// The durable consumers of the bridge's sink for `marketplace`: orders (`erp_sink_consumer`), then returns
/// and settlements (`<orders consumer>-<flow>`), as `erp_bridge::sink::consumer_def` names them (the test
/// checks the two agree).
pub fn sink_consumers(
    ns: &adapter_runtime::topology::Namespace,
    erp: &str,
    marketplace: &str,
) -> Vec<adapter_runtime::topology::ConsumerDef> {
    let orders = ns.erp_sink_consumer(erp, marketplace, 1);
    let mut out = vec![orders.clone()];
    for flow in [
        crds::channel::Flow::Returns,
        crds::channel::Flow::Settlements,
    ] {
        out.push(adapter_runtime::topology::ConsumerDef {
            durable_name: format!("{}-{}", orders.durable_name, flow.as_str()),
            ..orders.clone()
        });
    }
    out
}

/// Orders, returns and settlements waiting for the ERP: pending and unacknowledged in the bridge's sink
/// consumers of each marketplace. A consumer not there yet (the bridge has not started) counts as zero.
pub async fn sink_pending(
    js: &async_nats::jetstream::Context,
    namespace: &str,
    erp: &str,
    marketplaces: &[String],
) -> u64 {
    let ns = adapter_runtime::topology::Namespace::new(namespace);
    let mut total = 0;
    for marketplace in marketplaces {
        let Ok(stream) = js.get_stream(ns.marketplace_stream(marketplace).name).await else {
            continue;
        };
        for def in sink_consumers(&ns, erp, marketplace) {
            if let Ok(info) = stream.consumer_info(&def.durable_name).await {
                total += info.num_pending + info.num_ack_pending as u64;
            }
        }
    }
    total
}

/// Whether `erp` references the object `kind`/`name` (for the watches that re-reconcile it).
pub fn references(
    erp: &ErpConnection,
    kind: &str,
    name: &str,
    settings: &crate::settings::RenderSettings,
) -> bool {
    match kind {
        "RateLimitPolicy" => erp
            .spec
            .sink
            .rest
            .as_ref()
            .and_then(|r| r.rate_limit_policy_ref.as_ref())
            .is_some_and(|r| r.name == name),
        "Secret" => referenced_secrets(erp, settings).iter().any(|s| s == name),
        _ => false,
    }
}
