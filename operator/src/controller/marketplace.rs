//! `Marketplace`: render the adapter from the Marketplace and what it references, apply it, provision its
//! JetStream topology, and report Synced (applied) apart from Ready (pods available, credentials found).

use std::sync::Arc;

use crds::v1alpha1::{
    ChannelMapping, CommonStatus, DeletionPolicy, Marketplace, MarketplaceStatus, RateLimitPolicy,
    SyncSchedule, condition,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, ResourceExt};

use super::channel_mapping::jiff_now;
use super::jetstream_status::read_counts;
use super::{
    Context, Error, FIELD_MANAGER, FINALIZER, Workload, apply_workload, get_opt, record,
    secret_versions,
};
use crate::render::adapter::referenced_secrets;
use crate::render::jetstream::marketplace_topology;
use crate::render::{MarketplaceInputs, RenderError, render_marketplace};
use crate::status::conditions::{Observed, merge};
use crate::status::flows::{FlowSlo, summarize};

/// Entry point for the controller: the finalizer wraps apply and cleanup.
pub async fn reconcile(mp: Arc<Marketplace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = mp.namespace().unwrap_or_default();
    let api: Api<Marketplace> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, mp, |event| async {
        match event {
            Finalizer::Apply(mp) => apply_marketplace(mp, ctx.clone()).await,
            Finalizer::Cleanup(mp) => cleanup(mp, ctx.clone()).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Serialize(other.to_string()),
    })
}

async fn apply_marketplace(mp: Arc<Marketplace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = mp.namespace().unwrap_or_default();
    let client = &ctx.client;
    let mapping: Option<ChannelMapping> =
        get_opt(client, &namespace, &mp.spec.channel_mapping_ref.name).await?;
    let rate_limits: Option<RateLimitPolicy> =
        get_opt(client, &namespace, &mp.spec.rate_limit_policy_ref.name).await?;
    let settings = ctx.settings_for(&namespace);
    let (secret_versions, missing_secrets) =
        secret_versions(client, &namespace, referenced_secrets(&mp, &settings)).await?;
    let inputs = MarketplaceInputs {
        marketplace: &mp,
        mapping: mapping.as_ref(),
        rate_limits: rate_limits.as_ref(),
        secret_versions,
    };

    let mut observed = Vec::new();
    let mut config_hash = None;
    let mut available = None;
    let mut flow_status = None;
    let mut has_slos = false;
    match render_marketplace(&inputs, &settings) {
        Err(RenderError { field, message }) => {
            observed.push(Observed::new(
                condition::SYNCED,
                false,
                "InvalidReference",
                format!("{field}: {message}"),
            ));
        }
        Ok(rendered) => {
            let workload = Workload {
                service_account: &rendered.service_account,
                config_map: &rendered.config_map,
                service: &rendered.service,
                deployment: &rendered.deployment,
            };
            match apply_workload(client, &namespace, workload).await? {
                // The API server refused a rendered object (a pod label it does not accept, say): reported, not
                // retried, since the same object would be refused again.
                Err(refusal) => {
                    observed.push(Observed::new(condition::SYNCED, false, "Refused", refusal))
                }
                Ok(deployment) => {
                    observed.push(Observed::new(
                        condition::SYNCED,
                        true,
                        "Applied",
                        "adapter objects applied",
                    ));
                    config_hash = Some(rendered.config_hash.clone());
                    let wanted = mp.spec.adapter.replicas;
                    let have = deployment
                        .status
                        .as_ref()
                        .and_then(|s| s.available_replicas)
                        .unwrap_or(0);
                    available = Some(have);
                    observed.push(Observed::new(
                        condition::ADAPTER_AVAILABLE,
                        have >= wanted,
                        if have >= wanted {
                            "Available"
                        } else {
                            "Progressing"
                        },
                        format!("{have} of {wanted} adapter replicas available"),
                    ));
                    if let Some(js) = &ctx.jetstream {
                        let provisioned = provision(js, &rendered.topology).await;
                        observed.push(match provisioned {
                            Ok(()) => Observed::new(
                                condition::STREAMS_READY,
                                true,
                                "Provisioned",
                                "streams and consumers exist",
                            ),
                            Err(e) => {
                                Observed::new(condition::STREAMS_READY, false, "JetStreamError", e)
                            }
                        });
                        let flows = mp.spec.flows.enabled();
                        match read_counts(
                            js,
                            &namespace,
                            &mp.name_any(),
                            &flows,
                            &rendered.topology,
                        )
                        .await
                        {
                            Ok(counts) => {
                                let slos = flow_slos(&ctx, &namespace, &mp.name_any()).await?;
                                has_slos = !slos.is_empty();
                                flow_status = Some(summarize(&counts, &slos, chrono::Utc::now()));
                            }
                            Err(e) => tracing::warn!(error = %e, "flow counts not read"),
                        }
                    }
                }
            }
        }
    }
    observed.push(if missing_secrets.is_empty() {
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
            format!("Secret(s) not found: {}", missing_secrets.join(", ")),
        )
    });
    // Degraded is reported beside Ready, it does not make the marketplace not ready.
    let blocking: Vec<&Observed> = observed.iter().filter(|o| !o.status).collect();
    let ready = match blocking.first() {
        None => Observed::new(
            condition::READY,
            true,
            "Ready",
            "adapter running with every flow",
        ),
        Some(o) => Observed::new(condition::READY, false, &o.reason, o.message.clone()),
    };
    observed.insert(0, ready);
    let (flows, pending, dead_letters) = match flow_status {
        Some((flows, pending, dead_letters, degraded)) => {
            observed.push(degraded);
            (flows, Some(pending), Some(dead_letters))
        }
        None => (Vec::new(), None, None),
    };
    // RFC 3339 in UTC to the second sorts as time does.
    let last_sync_time = flows
        .iter()
        .filter_map(|f| f.last_success_time.clone())
        .max()
        .or(previous_last_sync(&mp));

    let previous = mp.status.clone().unwrap_or_default();
    let generation = mp.metadata.generation;
    let (conditions, transitions) = merge(
        &previous.common.conditions,
        &observed,
        generation,
        &Time(jiff_now()),
    );
    let status = MarketplaceStatus {
        common: CommonStatus {
            observed_generation: generation,
            conditions,
            last_handled_requested_at: previous.common.last_handled_requested_at.clone(),
        },
        available_replicas: available,
        config_hash,
        flows,
        pending,
        dead_letters,
        last_sync_time,
    };
    if status != previous {
        let api: Api<Marketplace> = Api::namespaced(client.clone(), &namespace);
        let body = serde_json::json!({
            "apiVersion": crds::v1alpha1::API_VERSION,
            "kind": "Marketplace",
            "status": status,
        });
        api.patch_status(
            &mp.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await?;
    }
    for t in &transitions {
        record(
            &ctx,
            &*mp,
            !t.status,
            &t.reason,
            format!("{}: {}", t.type_, t.message),
        )
        .await;
    }
    // Lag changes without any object changing: with an SLO to watch, look again within a minute.
    Ok(Action::requeue(if has_slos {
        ctx.resync.min(SLO_CHECK)
    } else {
        ctx.resync
    }))
}

/// The last sync time already reported (kept while JetStream is not read).
fn previous_last_sync(mp: &Marketplace) -> Option<String> {
    mp.status.as_ref().and_then(|s| s.last_sync_time.clone())
}

/// How often a marketplace with an SLO is checked at least.
const SLO_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// The SLOs set on this marketplace's flows by its SyncSchedules.
async fn flow_slos(
    ctx: &Context,
    namespace: &str,
    marketplace: &str,
) -> Result<Vec<FlowSlo>, Error> {
    let api: Api<SyncSchedule> = Api::namespaced(ctx.client.clone(), namespace);
    let mut out: Vec<FlowSlo> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|s| s.spec.marketplace_ref.name == marketplace)
        .filter_map(|s| {
            let slo = s.spec.slo.clone()?;
            Some(FlowSlo {
                flow: s.spec.flow,
                schedule: s.name_any(),
                max_pending: slo.max_pending,
                max_latency: slo.max_latency.map(Into::into),
            })
        })
        .collect();
    out.sort_by(|a, b| a.schedule.cmp(&b.schedule));
    Ok(out)
}

async fn provision(
    js: &async_nats::jetstream::Context,
    topology: &crate::render::jetstream::Topology,
) -> Result<(), String> {
    for stream in &topology.streams {
        adapter_runtime::jetstream::ensure_stream(js, stream)
            .await
            .map_err(|e| format!("stream {}: {e}", stream.name))?;
    }
    for consumer in &topology.consumers {
        adapter_runtime::jetstream::ensure_consumer(js, consumer)
            .await
            .map_err(|e| format!("consumer {}: {e}", consumer.durable_name))?;
    }
    Ok(())
}

/// On deletion: remove the marketplace's consumers, and its own stream under `deletionPolicy: Delete`. The
/// Kubernetes objects go with their owner reference.
async fn cleanup(mp: Arc<Marketplace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(js) = &ctx.jetstream else {
        return Ok(Action::await_change());
    };
    let namespace = mp.namespace().unwrap_or_default();
    let topology = marketplace_topology(
        &namespace,
        &mp.name_any(),
        &mp.spec,
        adapter_runtime::topology::DEFAULT_ACK_WAIT,
    );
    for consumer in &topology.consumers {
        if let Ok(stream) = js.get_stream(&consumer.stream).await {
            match stream.delete_consumer(&consumer.durable_name).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("not found") => {}
                Err(e) => {
                    return Err(Error::JetStream(format!(
                        "consumer {}: {e}",
                        consumer.durable_name
                    )));
                }
            }
        }
    }
    // The ERP bridges' sink consumers of this marketplace (any connection it referenced) sit on its own
    // stream: with the marketplace gone no bridge reads them, and a retained stream would show them pending.
    if let Ok(stream) = js
        .get_stream(
            adapter_runtime::topology::Namespace::new(&namespace)
                .marketplace_stream(&mp.name_any())
                .name,
        )
        .await
    {
        let mut names = stream.consumer_names();
        let mut sinks = Vec::new();
        while let Some(Ok(name)) = names.next().await {
            if is_sink_consumer_of(&name, &mp.name_any()) {
                sinks.push(name);
            }
        }
        for name in sinks {
            match stream.delete_consumer(&name).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("not found") => {}
                Err(e) => return Err(Error::JetStream(format!("consumer {name}: {e}"))),
            }
        }
    }
    if mp.spec.deletion_policy == DeletionPolicy::Delete {
        for stream in topology.owned_streams() {
            match js.delete_stream(&stream.name).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("not found") => {}
                Err(e) => return Err(Error::JetStream(format!("stream {}: {e}", stream.name))),
            }
        }
    }
    record(
        &ctx,
        &*mp,
        false,
        "CleanedUp",
        "JetStream consumers removed (the adapter's and the ERP bridge's sink consumers)".into(),
    )
    .await;
    Ok(Action::await_change())
}

/// Whether `consumer` is an ERP bridge's sink consumer of `marketplace` (`<erp>-erp-sink-<marketplace>`, and
/// its `-returns` and `-settlements`, as `erp_connection::sink_consumers` names them).
pub fn is_sink_consumer_of(consumer: &str, marketplace: &str) -> bool {
    let orders = format!(
        "-erp-sink-{}",
        adapter_runtime::subject::encode_token(marketplace)
    );
    ["", "-returns", "-settlements"]
        .iter()
        .any(|suffix| consumer.ends_with(&format!("{orders}{suffix}")))
}

/// Whether `mp` references the object `kind`/`name` (for the watches that re-reconcile dependants).
pub fn references(
    mp: &Marketplace,
    kind: &str,
    name: &str,
    settings: &crate::settings::RenderSettings,
) -> bool {
    match kind {
        "ChannelMapping" => mp.spec.channel_mapping_ref.name == name,
        "RateLimitPolicy" => mp.spec.rate_limit_policy_ref.name == name,
        "ErpConnection" => mp.spec.erp_connection_ref.name == name,
        "Secret" => referenced_secrets(mp, settings).iter().any(|s| s == name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_consumers_of_a_marketplace_are_told_from_another_ones() {
        let ns = adapter_runtime::topology::Namespace::new("shop");
        for def in super::super::erp_connection::sink_consumers(&ns, "erp", "amazon-us") {
            assert!(is_sink_consumer_of(&def.durable_name, "amazon-us"));
            assert!(!is_sink_consumer_of(&def.durable_name, "us"));
        }
        assert!(!is_sink_consumer_of("amazon-us-inventory", "amazon-us"));
    }
}
