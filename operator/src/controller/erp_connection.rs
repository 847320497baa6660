//! `ErpConnection`: render the ERP bridge from the connection, the Marketplaces that use it and its sink's
//! RateLimitPolicy, apply it, and report Synced (applied) apart from Ready (bridge pods available, Secrets
//! found), with the source and sink in use and how many Marketplaces reference it.

use std::sync::Arc;

use crds::v1alpha1::{
    CommonStatus, ErpConnection, ErpConnectionSpec, ErpConnectionStatus, Marketplace,
    RateLimitPolicy, condition,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, ResourceExt};

use super::channel_mapping::jiff_now;
use super::{
    Context, Error, FINALIZER, Workload, apply_workload, get_opt, record, secret_versions,
    write_status,
};
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

/// Entry point for the controller: the finalizer wraps apply and cleanup (as for Marketplaces).
pub async fn reconcile(erp: Arc<ErpConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = erp.namespace().unwrap_or_default();
    let api: Api<ErpConnection> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, erp, |event| async {
        match event {
            Finalizer::Apply(erp) => apply_connection(erp, ctx.clone()).await,
            Finalizer::Cleanup(erp) => cleanup(erp, ctx.clone()).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Serialize(other.to_string()),
    })
}

async fn apply_connection(erp: Arc<ErpConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
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
    let (pending, dead_letters, last_activity_time) = match &ctx.jetstream {
        Some(js) => (
            Some(sink_pending(js, &namespace, &name, &marketplaces).await),
            Some(bridge_dead_letters(js, &namespace, &name).await),
            last_activity(js, &namespace, &name, &marketplaces)
                .await
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .or(previous.last_activity_time.clone()),
        ),
        None => (
            previous.pending,
            previous.dead_letters,
            previous.last_activity_time.clone(),
        ),
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
        dead_letters,
        last_activity_time,
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

/// Records the bridge of `erp` dead-lettered (the ERP refused them, or posting them was given up), counted on
/// its own dead-letter subjects (`Namespace::erp_dead_letter_filter`) apart from the adapters'.
pub async fn bridge_dead_letters(
    js: &async_nats::jetstream::Context,
    namespace: &str,
    erp: &str,
) -> u64 {
    let ns = adapter_runtime::topology::Namespace::new(namespace);
    let Ok(stream) = js.get_stream(ns.dead_letter_stream().name).await else {
        return 0;
    };
    let Ok(mut subjects) = stream
        .info_with_subjects(ns.erp_dead_letter_filter(erp))
        .await
    else {
        return 0;
    };
    let mut total = 0;
    while let Some(Ok((_, count))) = subjects.next().await {
        total += count as u64;
    }
    total
}

/// The streams the bridge of `erp` publishes to: the ERP's events per flow, shipments and the ERP's answers
/// to orders.
fn bridge_streams(ns: &adapter_runtime::topology::Namespace, erp: &str) -> Vec<String> {
    use crds::channel::Flow;
    let mut out: Vec<String> = [Flow::Inventory, Flow::Price, Flow::Catalog, Flow::Invoices]
        .into_iter()
        .map(|f| ns.erp_stream(erp, f).name)
        .collect();
    out.push(ns.shipment_stream(erp).name);
    out.push(ns.order_update_stream(erp).name);
    out
}

/// When the bridge last did something: the newest message in a stream it publishes to, or the last
/// acknowledgement of one of its sink consumers (a record posted to the ERP, or given up). `None` before any.
pub async fn last_activity(
    js: &async_nats::jetstream::Context,
    namespace: &str,
    erp: &str,
    marketplaces: &[String],
) -> Option<chrono::DateTime<chrono::Utc>> {
    let ns = adapter_runtime::topology::Namespace::new(namespace);
    let mut latest = None;
    for name in bridge_streams(&ns, erp) {
        if let Ok(mut stream) = js.get_stream(&name).await
            && let Ok(info) = stream.info().await
            && info.state.messages > 0
        {
            let t = info.state.last_timestamp;
            latest = latest.max(chrono::DateTime::from_timestamp(
                t.unix_timestamp(),
                t.nanosecond(),
            ));
        }
    }
    for marketplace in marketplaces {
        let Ok(stream) = js.get_stream(ns.marketplace_stream(marketplace).name).await else {
            continue;
        };
        for def in sink_consumers(&ns, erp, marketplace) {
            if let Ok(info) = stream.consumer_info(&def.durable_name).await {
                let acked = info.ack_floor.last_active.and_then(|t| {
                    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())
                });
                latest = latest.max(acked);
            }
        }
    }
    latest
}

/// The name of the ingest stream the bridge creates for a `spec.source.nats` subject (as
/// `erp_bridge::nats_source::ingest_stream` names it; the test checks the two agree).
pub fn ingest_stream_name(ns: &adapter_runtime::topology::Namespace, erp: &str) -> String {
    let shipments = ns.shipment_stream(erp).name;
    let base = shipments
        .strip_suffix("_SHIPMENTS")
        .unwrap_or(&shipments)
        .to_string();
    format!("{base}_INGEST")
}

/// On deletion: remove the bridge's durable consumers, its sink consumers on every marketplace stream of the
/// namespace (also those of marketplaces that no longer reference it) and the ingest consumer of a NATS
/// source. ErpConnection has no `deletionPolicy`: its streams are kept, as a Marketplace's are under the
/// default `Retain` (they hold the ERP's events and answers that other tools and a re-created connection read).
/// The Kubernetes objects go with their owner reference.
async fn cleanup(erp: Arc<ErpConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(js) = &ctx.jetstream else {
        return Ok(Action::await_change());
    };
    let namespace = erp.namespace().unwrap_or_default();
    let name = erp.name_any();
    let ns = adapter_runtime::topology::Namespace::new(&namespace);
    let prefix = format!(
        "{}-erp-sink-",
        adapter_runtime::subject::encode_token(&name)
    );
    let mut removed = 0;
    // Marketplace streams are named `TW_<ns>_MP_<marketplace>`.
    let marketplace_streams = ns
        .marketplace_stream("x")
        .name
        .strip_suffix('X')
        .map(str::to_string)
        .unwrap_or_default();
    let mut streams = js.stream_names();
    let mut names = Vec::new();
    while let Some(stream) = streams.next().await {
        let stream = stream.map_err(|e| Error::JetStream(format!("listing streams: {e}")))?;
        if stream.starts_with(&marketplace_streams) {
            names.push(stream);
        }
    }
    for stream_name in names {
        let Ok(stream) = js.get_stream(&stream_name).await else {
            continue;
        };
        // Names of two namespaces can share a prefix; the subjects cannot.
        let subjects_prefix = format!(
            "tw.{}.mp.",
            adapter_runtime::subject::encode_token(&namespace)
        );
        if !stream
            .cached_info()
            .config
            .subjects
            .iter()
            .all(|s| s.starts_with(&subjects_prefix))
        {
            continue;
        }
        let mut consumers = stream.consumer_names();
        let mut ours = Vec::new();
        while let Some(consumer) = consumers.next().await {
            let consumer =
                consumer.map_err(|e| Error::JetStream(format!("listing {stream_name}: {e}")))?;
            if consumer.starts_with(&prefix) {
                ours.push(consumer);
            }
        }
        for consumer in ours {
            delete_consumer(&stream, &consumer).await?;
            removed += 1;
        }
    }
    if erp.spec.source.nats.is_some()
        && let Ok(stream) = js.get_stream(ingest_stream_name(&ns, &name)).await
    {
        delete_consumer(&stream, "bridge").await?;
        removed += 1;
    }
    record(
        &ctx,
        &*erp,
        false,
        "CleanedUp",
        format!("{removed} JetStream consumer(s) of the bridge removed; streams kept"),
    )
    .await;
    Ok(Action::await_change())
}

/// Deletes a durable consumer; one already gone is fine.
async fn delete_consumer(
    stream: &async_nats::jetstream::stream::Stream,
    name: &str,
) -> Result<(), Error> {
    match stream.delete_consumer(name).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("not found") => Ok(()),
        Err(e) => Err(Error::JetStream(format!("consumer {name}: {e}"))),
    }
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
