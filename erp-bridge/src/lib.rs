//! tradewind-bridge: runs one `ErpConnection`. ERP events come in from the PostgreSQL outbox, a signed
//! webhook or the ERP's own NATS subject and are published to JetStream with idempotent ids (`outbox`,
//! `webhook`, `nats_source`, sharing `ingest`); the orders that passed each marketplace's order process, and
//! the channels' returns and settlements, go out to the ERP's REST API, PostgreSQL database or NATS subjects as
//! the ERP contract says (`contract`: a sales order created once per channel order, updates only when something
//! the ERP acts on changed, `order_state` remembering what was sent), exactly once in effect (`sink` with
//! `rest_sink`, `pg_sink`, `nats_sink`), and the ERP's answers go back to the channels. See docs/erp.md.

pub mod config;
pub mod contract;
pub mod ingest;
pub mod nats_sink;
pub mod nats_source;
pub mod order_state;
pub mod outbox;
pub mod pg_sink;
pub mod rest_sink;
pub mod sink;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::{Readiness, serve_with};
use adapter_runtime::jetstream::{
    DeadLetterStore, Timeline, ensure_consumer, ensure_kv, ensure_stream,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use axum::Router;
use crds::channel::Flow;
use crds::v1alpha1::RateLimitPolicySpec;
use tokio::task::JoinSet;
use tracing::{error, info};

pub use config::BridgeConfig;

/// Orders in flight per marketplace at most, whatever the sink's concurrency.
const MAX_ACK_PENDING: i64 = 1_000;

/// Where the bridge serves HTTP: `/metrics`, `/healthz`, `/readyz` and, with a webhook source, the webhook.
pub struct Http {
    pub listener: tokio::net::TcpListener,
    /// Set ready once the streams exist and the sources and sinks are started.
    pub readiness: Arc<Readiness>,
}

/// Runs the bridge until `shutdown`. With a webhook source it serves HTTP on `config.http_address` itself; the
/// binary, which serves `/metrics` too, calls [`run_with`].
pub async fn run(
    config: BridgeConfig,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    run_with(config, shutdown, metrics, None).await
}

/// Runs the bridge until `shutdown`, serving HTTP on `http` when given (else, only for a webhook source, on a
/// listener bound to `config.http_address`).
pub async fn run_with(
    config: BridgeConfig,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
    http: Option<Http>,
) -> Result<(), String> {
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
        ns.erp_stream(&erp, Flow::Invoices),
        ns.shipment_stream(&erp),
        ns.order_update_stream(&erp),
        ns.dead_letter_stream(),
    ] {
        ensure_stream(&js, &def).await.map_err(e)?;
    }
    // The bridge's dead letters are counted for its ErpConnection apart from the adapters'.
    let dead_letters = Arc::new(DeadLetterStore::for_erp_bridge(
        js.clone(),
        ns.clone(),
        &erp,
    ));
    let timeline = Arc::new(Timeline::new(
        ensure_kv(&js, &ns.timeline_bucket()).await.map_err(e)?,
    ));
    let mut tasks = JoinSet::new();
    let mut routes = Router::new();
    if let (Some(hook), false) = (&config.spec.source.webhook, config.spec.suspend) {
        let webhook = webhook::Webhook {
            namespace: ns.clone(),
            namespace_name: config.namespace.clone(),
            erp: erp.clone(),
            key: config
                .secret(&hook.hmac_secret_ref)
                .map_err(|e| format!("spec.source.webhook.hmacSecretRef: {e}"))?
                .into_bytes(),
            tolerance: hook.max_clock_skew.into(),
            path: hook.path.clone(),
            js: js.clone(),
            metrics: metrics.clone(),
        };
        routes = Arc::new(webhook).router();
    } else if let Some(hook) = &config.spec.source.webhook {
        // Suspended: the ERP is told to send again later rather than that the path does not exist.
        routes = webhook::suspended(&hook.path);
    }
    let http = match http {
        Some(http) => Some(http),
        None if config.spec.source.webhook.is_some() => Some(Http {
            listener: tokio::net::TcpListener::bind(&config.http_address)
                .await
                .map_err(|e| format!("httpAddress {}: {e}", config.http_address))?,
            readiness: Arc::new(Readiness::starting()),
        }),
        None => None,
    };
    let mut readiness = None;
    if let Some(http) = http {
        info!(erp = %erp, address = ?http.listener.local_addr().ok(), "serving HTTP");
        readiness = Some(http.readiness.clone());
        let stop = shutdown.clone();
        let metrics = metrics.clone();
        tasks.spawn(async move {
            if let Err(e) = serve_with(http.listener, metrics, http.readiness, routes, stop).await {
                error!(error = %e, "the HTTP server stopped");
            }
        });
    }
    if config.spec.suspend {
        info!(erp = %erp, "suspended: nothing is read or posted until spec.suspend is false");
    } else {
        if let Some(outbox) = &config.spec.source.postgres_outbox {
            let source = outbox::OutboxSource {
                namespace: ns.clone(),
                namespace_name: config.namespace.clone(),
                erp: erp.clone(),
                dsn: config
                    .secret(&outbox.dsn_secret_ref)
                    .map_err(|e| format!("spec.source.postgresOutbox.dsnSecretRef: {e}"))?,
                table: outbox.table.clone(),
                batch_size: outbox.batch_size,
                poll_interval: outbox.poll_interval.into(),
                js: js.clone(),
                dead_letters: dead_letters.clone(),
                metrics: metrics.clone(),
            };
            outbox::quoted_table(&source.table)?;
            let stop = shutdown.clone();
            tasks.spawn(async move { source.run(stop).await });
        }
        if let Some(nats) = &config.spec.source.nats {
            let stream = nats_source::ingest_stream(&ns, &erp, &nats.subject);
            let field = |e: adapter_runtime::jetstream::Error| {
                format!("spec.source.nats.subject {:?}: {e}", nats.subject)
            };
            ensure_stream(&js, &stream).await.map_err(field)?;
            let consumer = ensure_consumer(&js, &nats_source::ingest_consumer(&stream))
                .await
                .map_err(field)?;
            let source = nats_source::NatsSource {
                namespace: ns.clone(),
                namespace_name: config.namespace.clone(),
                erp: erp.clone(),
                js: js.clone(),
                consumer,
                dead_letters: dead_letters.clone(),
                metrics: metrics.clone(),
            };
            let stop = shutdown.clone();
            tasks.spawn(async move { source.run(stop).await });
        }
        let policy = config
            .sink_rate_limits
            .clone()
            .unwrap_or_else(default_policy);
        let resilience = Arc::new(Resilience::new(policy, 1));
        let (target, concurrency) = sink_target(&config, &js, &ns, resilience).await?;
        let target = Arc::new(target);
        let states = Arc::new(order_state::OrderStates::new(
            ensure_kv(&js, &ns.erp_order_state_bucket(&erp))
                .await
                .map_err(e)?,
        ));
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
        for marketplace in &config.marketplaces {
            ensure_stream(&js, &ns.marketplace_stream(marketplace))
                .await
                .map_err(e)?;
            for flow in sink::SINK_FLOWS {
                let consumer = ensure_consumer(
                    &js,
                    &sink::consumer_def(&ns, &erp, marketplace, flow, MAX_ACK_PENDING),
                )
                .await
                .map_err(e)?;
                let sink = sink::Sink {
                    namespace: ns.clone(),
                    namespace_name: config.namespace.clone(),
                    erp: erp.clone(),
                    marketplace: marketplace.clone(),
                    flow,
                    concurrency,
                    permits: permits.clone(),
                    target: target.clone(),
                    js: js.clone(),
                    consumer,
                    dead_letters: dead_letters.clone(),
                    timeline: timeline.clone(),
                    metrics: metrics.clone(),
                    states: states.clone(),
                };
                let stop = shutdown.clone();
                tasks.spawn(async move { sink.run(stop).await });
            }
        }
    }
    if let Some(readiness) = readiness {
        readiness.ready();
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

/// The target of `spec.sink` and the deliveries in flight per consumer at most.
async fn sink_target(
    config: &BridgeConfig,
    js: &jetstream::Context,
    ns: &Namespace,
    resilience: Arc<Resilience>,
) -> Result<(sink::Target, usize), String> {
    let sink = &config.spec.sink;
    let cap = |n: u32| usize::try_from(n).unwrap_or(1).max(1);
    if let Some(rest) = &sink.rest {
        let token = match &rest.token_secret_ref {
            Some(selector) => Some(
                config
                    .secret(selector)
                    .map_err(|e| format!("spec.sink.rest.tokenSecretRef: {e}"))?,
            ),
            None => None,
        };
        let [orders_url, returns_url, settlements_url] = rest_sink::RestTarget::urls(
            &rest.base_url,
            &rest.orders_path,
            &rest.returns_path,
            &rest.settlements_path,
        );
        let target = rest_sink::RestTarget {
            orders_url,
            returns_url,
            settlements_url,
            token,
            idempotency_header: rest.idempotency_header.clone(),
            http: adapter_runtime::connectors::http_client(rest.timeout.into())?,
            resilience,
        };
        return Ok((sink::Target::Rest(target), cap(rest.concurrency)));
    }
    if let Some(pg) = &sink.postgres {
        let dsn = config
            .secret(&pg.dsn_secret_ref)
            .map_err(|e| format!("spec.sink.postgres.dsnSecretRef: {e}"))?;
        let concurrency = cap(pg.concurrency);
        let target = pg_sink::PgTarget::new(dsn, pg.schema.clone(), resilience, concurrency);
        return Ok((sink::Target::Postgres(target), concurrency));
    }
    if let Some(nats) = &sink.nats {
        nats_sink::ensure_capture(js, ns, &config.erp_connection, &nats.subject_prefix).await?;
        let target = nats_sink::NatsTarget {
            prefix: nats.subject_prefix.clone(),
            js: js.clone(),
            resilience,
        };
        return Ok((sink::Target::Nats(target), nats_sink::CONCURRENCY));
    }
    Err("spec.sink: set exactly one of rest, postgres, nats".into())
}

/// The sink's limits when no `RateLimitPolicy` is referenced: the policy defaults (retries with backoff,
/// a breaker), no request rate cap beyond the concurrency.
fn default_policy() -> RateLimitPolicySpec {
    serde_json::from_value(serde_json::json!({ "channel": "rest" }))
        .unwrap_or_else(|_| unreachable!("a policy with only a channel is valid"))
}
