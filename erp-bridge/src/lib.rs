//! tradewind-bridge: runs one `ErpConnection`. ERP events come in from the PostgreSQL outbox and are
//! published to JetStream; orders that passed each marketplace's order process go out to the ERP's REST API,
//! exactly once in effect, and the ERP's answers go back to the channels.
//!
//! Implemented: the `postgresOutbox` source and the `rest` sink. The `webhook` and `nats` sources and the
//! `postgres` and `nats` sinks are refused at start with the field named (see docs/erp.md).

pub mod config;
pub mod outbox;
pub mod rest_sink;

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::flow::Shutdown;
use adapter_runtime::jetstream::{
    DeadLetterStore, Timeline, ensure_consumer, ensure_kv, ensure_stream,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use crds::channel::Flow;
use crds::v1alpha1::RateLimitPolicySpec;
use tokio::task::JoinSet;
use tracing::{error, info};

pub use config::BridgeConfig;

/// Orders in flight per marketplace at most, whatever the sink's concurrency.
const MAX_ACK_PENDING: i64 = 1_000;

/// The parts of the `ErpConnection` this build cannot run yet, by field path.
pub fn unsupported(config: &BridgeConfig) -> Vec<&'static str> {
    let spec = &config.spec;
    let mut out = Vec::new();
    if spec.source.webhook.is_some() {
        out.push("spec.source.webhook");
    }
    if spec.source.nats.is_some() {
        out.push("spec.source.nats");
    }
    if spec.sink.postgres.is_some() {
        out.push("spec.sink.postgres");
    }
    if spec.sink.nats.is_some() {
        out.push("spec.sink.nats");
    }
    out
}

/// Runs the bridge until `shutdown`.
pub async fn run(
    config: BridgeConfig,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let missing = unsupported(&config);
    if !missing.is_empty() {
        return Err(format!(
            "{}: not implemented in this build (supported: spec.source.postgresOutbox, spec.sink.rest)",
            missing.join(", ")
        ));
    }
    let client = adapter_runtime::app::connect_nats(
        format!(
            "tradewind-bridge/{}/{}",
            config.namespace, config.erp_connection
        ),
        &config.nats,
    )
    .await?;
    let js = jetstream::new(client);
    let ns = Namespace::new(&config.namespace);
    let erp = config.erp_connection.clone();
    let e = |e: adapter_runtime::jetstream::Error| e.to_string();
    for def in [
        ns.erp_stream(&erp, Flow::Inventory),
        ns.erp_stream(&erp, Flow::Price),
        ns.erp_stream(&erp, Flow::Catalog),
        ns.shipment_stream(&erp),
        ns.order_update_stream(&erp),
        ns.dead_letter_stream(),
    ] {
        ensure_stream(&js, &def).await.map_err(e)?;
    }
    let dead_letters = Arc::new(DeadLetterStore::new(js.clone(), ns.clone()));
    let timeline = Arc::new(Timeline::new(
        ensure_kv(&js, &ns.timeline_bucket()).await.map_err(e)?,
    ));
    let mut tasks = JoinSet::new();
    if config.spec.suspend {
        info!(erp = %erp, "suspended: nothing is read or posted until spec.suspend is false");
    } else {
        if let Some(outbox) = &config.spec.source.postgres_outbox {
            let source = outbox::OutboxSource {
                namespace: ns.clone(),
                namespace_name: config.namespace.clone(),
                erp: erp.clone(),
                dsn: config.secret(&outbox.dsn_secret_ref)?,
                table: outbox.table.clone(),
                batch_size: outbox.batch_size,
                poll_interval: outbox.poll_interval.into(),
                js: js.clone(),
                dead_letters: dead_letters.clone(),
            };
            outbox::quoted_table(&source.table)?;
            let stop = shutdown.clone();
            tasks.spawn(async move { source.run(stop).await });
        }
        if let Some(rest) = &config.spec.sink.rest {
            let token = match &rest.token_secret_ref {
                Some(selector) => Some(config.secret(selector)?),
                None => None,
            };
            let policy = config
                .sink_rate_limits
                .clone()
                .unwrap_or_else(default_policy);
            let resilience = Arc::new(Resilience::new(policy, 1));
            let http = adapter_runtime::connectors::http_client(rest.timeout.into())?;
            for marketplace in &config.marketplaces {
                ensure_stream(&js, &ns.marketplace_stream(marketplace))
                    .await
                    .map_err(e)?;
                let consumer = ensure_consumer(
                    &js,
                    &ns.erp_sink_consumer(&erp, marketplace, MAX_ACK_PENDING),
                )
                .await
                .map_err(e)?;
                let sink = rest_sink::RestSink {
                    namespace: ns.clone(),
                    namespace_name: config.namespace.clone(),
                    erp: erp.clone(),
                    marketplace: marketplace.clone(),
                    orders_url: format!(
                        "{}{}",
                        rest.base_url.trim_end_matches('/'),
                        rest.orders_path
                    ),
                    token: token.clone(),
                    idempotency_header: rest.idempotency_header.clone(),
                    concurrency: usize::try_from(rest.concurrency).unwrap_or(1).max(1),
                    http: http.clone(),
                    resilience: resilience.clone(),
                    js: js.clone(),
                    consumer,
                    dead_letters: dead_letters.clone(),
                    timeline: timeline.clone(),
                    metrics: metrics.clone(),
                };
                let stop = shutdown.clone();
                tasks.spawn(async move { sink.run(stop).await });
            }
        }
    }
    info!(erp = %erp, tasks = tasks.len(), "bridge ready");
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            error!(erp = %erp, error = %e, "a bridge task failed");
        }
    }
    // Let in-flight acknowledgements reach the server before the connection is dropped.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

/// The sink's limits when no `RateLimitPolicy` is referenced: the policy defaults (retries with backoff,
/// a breaker), no request rate cap beyond the concurrency.
fn default_policy() -> RateLimitPolicySpec {
    serde_json::from_value(serde_json::json!({ "channel": "rest" }))
        .unwrap_or_else(|_| unreachable!("a policy with only a channel is valid"))
}
