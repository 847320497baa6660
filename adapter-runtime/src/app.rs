//! The adapter process for one marketplace: connect, make sure its streams and consumers exist, build its
//! connector and flows from the configuration, run them until shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use crds::channel::{Direction, Flow};
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::{error, info};

use crate::canonical::Record;
use crate::config::AdapterConfig;
use crate::connector::Connector;
use crate::envelope::Event;
use crate::flow::{
    InboundFlow, InboundSettings, MapFn, OrderProcess, OutboundFlow, OutboundSettings, PrepareFn,
    RereadFlow, Shutdown, SyncRunner,
};
use crate::http::Readiness;
use crate::jetstream::{
    CursorStore, DeadLetterStore, Heartbeat, Heartbeats, OperationStats, SyncRuns, Timeline,
    ensure_consumer, ensure_kv, ensure_stream,
};
use crate::mapping::MappingPlan;
use crate::metrics::Metrics;
use crate::process::listed_quantity;
use crate::resilience::Resilience;
use crate::topology::Namespace;

/// Messages in flight per flow, at most: bounds memory and the work redone after a crash.
const MAX_ACK_PENDING: i64 = 1_000;

/// How long a sync run of an outbound flow waits for its backlog to drain before it reports `Failed`.
const SYNC_DRAIN_DEADLINE: Duration = Duration::from_secs(3600);

/// Connects to NATS as configured.
pub async fn connect(config: &AdapterConfig) -> Result<async_nats::Client, String> {
    connect_nats(
        format!(
            "tradewind-adapter/{}/{}",
            config.namespace, config.marketplace
        ),
        &config.nats,
    )
    .await
}

/// Connects to NATS with `settings`, naming the connection `name` (shown by the server's monitoring).
pub async fn connect_nats(
    name: String,
    settings: &crate::config::NatsSettings,
) -> Result<async_nats::Client, String> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect();
    if let Some(file) = &settings.credentials_file {
        options = options
            .credentials_file(file)
            .await
            .map_err(|e| format!("nats.credentialsFile {}: {e}", file.display()))?;
    }
    if let Some(ca) = &settings.tls_ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    options
        .connect(settings.url.as_str())
        .await
        .map_err(|e| format!("connecting to NATS: {e}"))
}

/// Runs the adapter with `connector` until `shutdown`, then lets every flow finish its batch. The
/// `tradewind-adapter` binary picks the connector from `spec.channel`; tests and the local mode plug their own.
/// `resilience` is the connector's registry of guards, read for the throttling metrics.
pub async fn run<C: Connector>(
    config: AdapterConfig,
    connector: Arc<C>,
    resilience: Option<Arc<Resilience>>,
    shutdown: Shutdown,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    readiness.not_ready("connecting to NATS");
    let client = connect(&config).await?;
    let js = jetstream::new(client);
    let ns = Namespace::new(&config.namespace);
    let marketplace = config.marketplace.clone();
    let erp = config.spec.erp_connection_ref.name.clone();
    let spec = config.spec.clone();
    let e = |e: crate::jetstream::Error| e.to_string();

    readiness.not_ready("provisioning streams");
    for def in [
        ns.marketplace_stream(&marketplace),
        ns.dead_letter_stream(),
        ns.command_stream(),
    ] {
        ensure_stream(&js, &def).await.map_err(e)?;
    }
    let dead_letters = Arc::new(DeadLetterStore::new(js.clone(), ns.clone()));
    let cursors = Arc::new(CursorStore::new(
        ensure_kv(&js, &ns.cursor_bucket()).await.map_err(e)?,
    ));
    let timeline = Arc::new(Timeline::new(
        ensure_kv(&js, &ns.timeline_bucket()).await.map_err(e)?,
    ));

    // Compiled once: a mapping that does not compile stops the adapter with every error, before any record.
    let plan = match &config.mapping {
        Some(mapping) => Some(Arc::new(
            MappingPlan::compile(&mapping.name, &mapping.spec).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                format!("mapping does not compile:\n{}", lines.join("\n"))
            })?,
        )),
        None => None,
    };

    let mut tasks = JoinSet::new();
    let mut flow_consumers = Vec::new();
    let mut sync_outbound = HashMap::new();
    let mut sync_inbound = HashMap::new();
    let settings = &config.rate_limits.spec.defaults;
    for flow in spec.flows.enabled() {
        if !spec.channel.supports(flow) {
            return Err(format!(
                "spec.flows.{flow}: channel {} has no {flow} flow",
                spec.channel
            ));
        }
        match flow.direction() {
            Direction::Outbound => {
                let stream = match flow {
                    Flow::Shipments => ns.shipment_stream(&erp),
                    _ => ns.erp_stream(&erp, flow),
                };
                ensure_stream(&js, &stream).await.map_err(e)?;
                let mut consumer_def =
                    ns.erp_flow_consumer(&erp, &marketplace, flow, MAX_ACK_PENDING);
                consumer_def.ack_wait = config.ack_wait;
                let consumer = ensure_consumer(&js, &consumer_def).await.map_err(e)?;
                flow_consumers.push((flow, consumer.clone()));
                sync_outbound.insert(flow, consumer_def.clone());
                let coalesce_window = match (flow, &spec.flows.inventory, &spec.flows.price) {
                    (Flow::Inventory, Some(f), _) => f.delivery.coalesce_window,
                    (Flow::Price, _, Some(f)) => f.coalesce_window,
                    _ => std::time::Duration::from_secs(2).into(),
                };
                let outbound = OutboundFlow {
                    settings: OutboundSettings {
                        marketplace: marketplace.clone(),
                        flow,
                        fetch_batch: connector
                            .fetch_batch(flow)
                            .clamp(1, MAX_ACK_PENDING as usize),
                        coalesce_window: coalesce_window.into(),
                        max_attempts: settings.retry.max_attempts,
                        initial_backoff: settings.retry.initial_backoff.into(),
                        max_backoff: settings.retry.max_backoff.into(),
                        ack_wait: config.ack_wait,
                    },
                    consumer,
                    connector: connector.clone(),
                    dead_letters: dead_letters.clone(),
                    prepare: prepare_for(&config, flow),
                    map: map_for(plan.as_ref(), flow),
                    metrics: metrics.clone(),
                };
                let stop = shutdown.clone();
                tasks.spawn(async move { outbound.run(stop).await });
            }
            Direction::Inbound => {
                let poll_interval = match flow {
                    Flow::Orders => spec.flows.orders.as_ref().map(|o| o.poll_interval),
                    Flow::Returns => spec.flows.returns.as_ref().map(|o| o.poll_interval),
                    _ => spec.flows.settlements.as_ref().map(|o| o.poll_interval),
                }
                .map(Into::into)
                .unwrap_or(Duration::from_secs(300));
                let inbound = Arc::new(InboundFlow {
                    settings: InboundSettings {
                        namespace: config.namespace.clone(),
                        marketplace: marketplace.clone(),
                        flow,
                        poll_interval,
                    },
                    js: js.clone(),
                    connector: connector.clone(),
                    cursors: cursors.clone(),
                    timeline: Some(timeline.clone()),
                    metrics: metrics.clone(),
                });
                sync_inbound.insert(flow, inbound.clone());
                let stop = shutdown.clone();
                tasks.spawn(async move { inbound.run(stop).await });
                if let (Flow::Orders, Some(orders)) = (flow, &spec.flows.orders) {
                    ensure_stream(&js, &ns.erp_stream(&erp, Flow::Inventory))
                        .await
                        .map_err(e)?;
                    let mut consumer_def = ns.order_process_consumer(&marketplace, MAX_ACK_PENDING);
                    consumer_def.ack_wait = config.ack_wait;
                    let consumer = ensure_consumer(&js, &consumer_def).await.map_err(e)?;
                    let process = OrderProcess {
                        namespace: ns.clone(),
                        marketplace: marketplace.clone(),
                        erp_connection: erp.clone(),
                        currency: spec
                            .currency
                            .parse()
                            .map_err(|e: String| format!("spec.currency: {e}"))?,
                        settings: orders.clone(),
                        js: js.clone(),
                        consumer,
                        dead_letters: dead_letters.clone(),
                        timeline: Some(timeline.clone()),
                        metrics: metrics.clone(),
                        erp_skus: config
                            .mapping
                            .iter()
                            .flat_map(|m| &m.spec.sku_cross_reference)
                            .map(|x| (x.channel_sku.clone(), x.erp_sku.clone()))
                            .collect(),
                    };
                    let stop = shutdown.clone();
                    tasks.spawn(async move { process.run(stop).await });

                    // The ERP's answers (acknowledgements, seller cancellations) go back to the channel.
                    ensure_stream(&js, &ns.order_update_stream(&erp))
                        .await
                        .map_err(e)?;
                    let mut consumer_def =
                        ns.order_update_consumer(&erp, &marketplace, MAX_ACK_PENDING);
                    consumer_def.ack_wait = config.ack_wait;
                    let consumer = ensure_consumer(&js, &consumer_def).await.map_err(e)?;
                    let updates = OutboundFlow {
                        settings: OutboundSettings {
                            marketplace: marketplace.clone(),
                            flow: Flow::Orders,
                            fetch_batch: 100,
                            coalesce_window: Duration::from_millis(200),
                            max_attempts: settings.retry.max_attempts,
                            initial_backoff: settings.retry.initial_backoff.into(),
                            max_backoff: settings.retry.max_backoff.into(),
                            ack_wait: config.ack_wait,
                        },
                        consumer,
                        connector: connector.clone(),
                        dead_letters: dead_letters.clone(),
                        prepare: prepare_for(&config, Flow::Orders),
                        map: None,
                        metrics: metrics.clone(),
                    };
                    let stop = shutdown.clone();
                    tasks.spawn(async move { updates.run(stop).await });
                }
            }
        }
    }
    if !sync_inbound.is_empty() {
        // Raw records of this channel sent back from the dead-letter stream, read again by the connector.
        let consumer = ensure_consumer(&js, &ns.reread_consumer(&marketplace))
            .await
            .map_err(e)?;
        let reread = RereadFlow {
            namespace: config.namespace.clone(),
            marketplace: marketplace.clone(),
            js: js.clone(),
            consumer,
            connector: connector.clone(),
            dead_letters: dead_letters.clone(),
            timeline: Some(timeline.clone()),
            metrics: metrics.clone(),
        };
        let stop = shutdown.clone();
        tasks.spawn(async move { reread.run(stop).await });
    }
    let commands = ensure_consumer(&js, &ns.command_consumer(&marketplace))
        .await
        .map_err(e)?;
    let runner = Arc::new(SyncRunner {
        namespace: ns.clone(),
        marketplace: marketplace.clone(),
        js: js.clone(),
        commands,
        outbound: sync_outbound,
        inbound: sync_inbound,
        cursors: cursors.clone(),
        runs: Arc::new(SyncRuns::new(
            ensure_kv(&js, &ns.sync_run_bucket()).await.map_err(e)?,
        )),
        drain_deadline: SYNC_DRAIN_DEADLINE,
        progress_every: crate::topology::DEFAULT_ACK_WAIT / 3,
        running: Default::default(),
    });
    let stop = shutdown.clone();
    tasks.spawn(async move { runner.run(stop).await });
    let heartbeats = Heartbeats::new(ensure_kv(&js, &ns.heartbeat_bucket()).await.map_err(e)?);
    let refresher = MetricsRefresher {
        marketplace: marketplace.clone(),
        replica: replica_name(),
        heartbeats,
        readiness: readiness.clone(),
        consumers: flow_consumers,
        dead_letters: dead_letters.clone(),
        resilience,
        metrics: metrics.clone(),
    };
    let stop = shutdown.clone();
    tasks.spawn(async move { refresher.run(stop).await });
    readiness.ready();
    info!(marketplace = %marketplace, flows = tasks.len(), "adapter ready");
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            error!(marketplace = %marketplace, error = %e, "a flow task failed");
        }
    }
    info!(marketplace = %marketplace, "adapter stopped");
    Ok(())
}

/// What a flow sends to the mapping: the canonical record's JSON, after the process layer (the inventory
/// policy sets `available` to the quantity this channel may list).
fn prepare_for(config: &AdapterConfig, flow: Flow) -> PrepareFn {
    let inventory_policy = config.spec.flows.inventory.clone();
    Arc::new(move |event: &Event| {
        let (key, mut json) = match &event.record {
            Record::Inventory(p) => (p.sku.to_string(), to_json(p)?),
            Record::Price(p) => (p.sku.to_string(), to_json(p)?),
            Record::Product(p) => (p.sku.to_string(), to_json(p)?),
            Record::Shipment(s) => (s.order_id.to_string(), to_json(s)?),
            Record::Invoice(i) => (i.invoice_number.clone(), to_json(i)?),
            Record::OrderAcknowledgement(a) => {
                let mut json = to_json(a)?;
                json["kind"] = Value::from(order_update_kind(&event.record));
                (a.order_id.to_string(), json)
            }
            Record::OrderCancellation(c) => {
                let mut json = to_json(c)?;
                json["kind"] = Value::from(order_update_kind(&event.record));
                (c.order_id.to_string(), json)
            }
            other => {
                return Err(format!(
                    "a {} event cannot go out on the {flow} flow",
                    other.event_type()
                ));
            }
        };
        if let (Record::Inventory(position), Some(policy)) = (&event.record, &inventory_policy) {
            json["available"] = Value::from(listed_quantity(position, policy));
        }
        Ok((key, json))
    })
}

/// The flow's mapping, when the `ChannelMapping` has one for it; otherwise the connector maps the canonical
/// record itself.
fn map_for(plan: Option<&Arc<MappingPlan>>, flow: Flow) -> Option<MapFn> {
    let plan = plan?.clone();
    plan.flow(flow)?;
    Some(Arc::new(move |record: &Value| match plan.flow(flow) {
        Some(flow_plan) => flow_plan.apply(record).map_err(|e| e.to_string()),
        None => Ok(record.clone()),
    }))
}

/// The `kind` field connectors read on the orders flow's outbound items: `accepted`, `rejected` or
/// `cancelled`, as in the order-update subjects.
fn order_update_kind(record: &Record) -> &'static str {
    use crate::canonical::AcknowledgementOutcome;
    use crate::topology::OrderUpdateKind;
    match record {
        Record::OrderAcknowledgement(a) => match a.outcome {
            AcknowledgementOutcome::Accepted { .. } => OrderUpdateKind::Accepted.as_str(),
            AcknowledgementOutcome::Rejected { .. } => OrderUpdateKind::Rejected.as_str(),
        },
        _ => OrderUpdateKind::Cancelled.as_str(),
    }
}

/// This replica's name: the pod's host name in a cluster, the process id elsewhere.
fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("pid-{}", std::process::id()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// Refreshes the gauges that are read from elsewhere: consumer backlogs, circuit breakers, rate-limit waits and
/// throttling (from the connector's guards), and the revenue at risk in the dead-letter stream.
struct MetricsRefresher {
    marketplace: String,
    replica: String,
    heartbeats: Heartbeats,
    readiness: Arc<Readiness>,
    consumers: Vec<(
        Flow,
        jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    )>,
    dead_letters: Arc<DeadLetterStore>,
    resilience: Option<Arc<Resilience>>,
    metrics: Arc<Metrics>,
}

impl MetricsRefresher {
    const EVERY: Duration = Duration::from_secs(5);

    /// Writes this replica's heartbeat; a failure is logged and retried at the next refresh.
    async fn beat(&self) {
        let operations = self
            .resilience
            .iter()
            .flat_map(|r| r.guards())
            .map(|guard| {
                let stats = guard.stats();
                OperationStats {
                    operation: guard.operation().to_string(),
                    calls: stats.calls,
                    successes: stats.successes,
                    throttled: stats.throttled,
                    retries: stats.retries,
                    failed: stats.permanent + stats.exhausted + stats.rejected,
                    breaker: guard.breaker_state().as_str().to_string(),
                }
            })
            .collect();
        let heartbeat = Heartbeat {
            marketplace: self.marketplace.clone(),
            replica: self.replica.clone(),
            at: chrono::Utc::now(),
            ready: self.readiness.reason().is_none(),
            operations,
        };
        if let Err(e) = self.heartbeats.put(&heartbeat).await {
            tracing::warn!(marketplace = %self.marketplace, error = %e, "heartbeat not written");
        }
    }

    async fn run(mut self, shutdown: Shutdown) {
        let mut seen: std::collections::HashMap<String, crate::resilience::GuardStats> =
            Default::default();
        loop {
            self.refresh(&mut seen).await;
            tokio::select! {
                () = tokio::time::sleep(Self::EVERY) => {},
                () = shutdown.triggered() => return,
            }
        }
    }

    async fn refresh(
        &mut self,
        seen: &mut std::collections::HashMap<String, crate::resilience::GuardStats>,
    ) {
        use crate::metrics::{CurrencyLabels, FlowLabels, OperationLabels};
        for (flow, consumer) in &mut self.consumers {
            if let Ok(info) = consumer.info().await {
                let labels = FlowLabels {
                    marketplace: self.marketplace.clone(),
                    flow: flow.as_str().into(),
                };
                let pending = i64::try_from(info.num_pending).unwrap_or(i64::MAX);
                self.metrics
                    .consumer_pending
                    .get_or_create(&labels)
                    .set(pending);
            }
        }
        if let Some(resilience) = &self.resilience {
            for guard in resilience.guards() {
                let stats = guard.stats();
                let previous = seen
                    .insert(guard.operation().to_string(), stats)
                    .unwrap_or_default();
                let labels = OperationLabels {
                    marketplace: self.marketplace.clone(),
                    operation: guard.operation().into(),
                };
                self.metrics
                    .breaker_state
                    .get_or_create(&labels)
                    .set(guard.breaker_state().gauge());
                self.metrics
                    .throttled_responses
                    .get_or_create(&labels)
                    .inc_by(stats.throttled - previous.throttled);
                let waited = stats.waited.saturating_sub(previous.waited).as_secs_f64();
                self.metrics
                    .rate_limit_wait
                    .get_or_create(&labels)
                    .inc_by(waited);
            }
        }
        self.beat().await;
        if let Ok(letters) = self
            .dead_letters
            .list(Some(&self.marketplace), Some(Flow::Orders))
            .await
        {
            let mut at_risk: std::collections::BTreeMap<String, rust_decimal::Decimal> =
                Default::default();
            for stored in letters {
                let Ok(event) =
                    crate::envelope::decode(&stored.letter.headers, &stored.letter.payload)
                else {
                    continue;
                };
                if let Record::Order(order) = event.record {
                    *at_risk
                        .entry(order.totals.total.currency.to_string())
                        .or_default() += order.totals.total.amount;
                }
            }
            for (currency, amount) in at_risk {
                use rust_decimal::prelude::ToPrimitive;
                let labels = CurrencyLabels {
                    marketplace: self.marketplace.clone(),
                    currency,
                };
                self.metrics
                    .revenue_at_risk
                    .get_or_create(&labels)
                    .set(amount.to_f64().unwrap_or(0.0));
            }
        }
    }
}
