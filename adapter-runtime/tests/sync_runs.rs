//! Sync runs fired by a schedule's command, on a real nats-server: a full outbound run resends the newest value
//! of every SKU through the running flow; inbound runs poll now (incremental) or from the start (full); each
//! run's outcome and counts land in the sync-runs bucket.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, Order, Record};
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::{
    InboundFlow, InboundSettings, OutboundFlow, OutboundSettings, Shutdown, SyncRunner,
};
use adapter_runtime::jetstream::{
    CursorStore, DeadLetterStore, SyncRuns, ensure_consumer, ensure_kv, ensure_stream,
    publish_event,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::sync::{SyncCommand, SyncRunReport, run_id};
use adapter_runtime::topology::{ConsumerDef, Namespace};
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use crds::v1alpha1::{RunOutcome, SyncMode};
use serde_json::json;
use test_support::{NatsServer, eventually};

/// Records deliveries; serves a fixed list of orders, two per page, the cursor being the next index.
#[derive(Default)]
struct Channel {
    delivered: Mutex<Vec<String>>,
    orders: Vec<Order>,
    polls: Mutex<Vec<Option<String>>>,
}

impl Connector for Channel {
    fn max_batch(&self, _: Flow) -> usize {
        10
    }

    async fn deliver(&self, _: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        let mut delivered = self.delivered.lock().unwrap();
        items
            .iter()
            .map(|item| {
                delivered.push(item.key.clone());
                Ok(())
            })
            .collect()
    }

    async fn poll(&self, _: Flow, cursor: Option<&str>) -> Result<PollPage, ConnectorError> {
        self.polls.lock().unwrap().push(cursor.map(String::from));
        let start: usize = cursor.map(|c| c.parse().unwrap()).unwrap_or(0);
        let end = (start + 2).min(self.orders.len());
        Ok(PollPage {
            records: self.orders[start..end]
                .iter()
                .cloned()
                .map(|o| Record::Order(Box::new(o)))
                .collect(),
            next_cursor: Some(end.to_string()),
            more: end < self.orders.len(),
        })
    }
}

impl Channel {
    fn deliveries_of(&self, sku: &str) -> usize {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == sku)
            .count()
    }
}

fn order(id: &str) -> Order {
    let mut order: Order = serde_json::from_str(include_str!("fixtures/order.json")).unwrap();
    order.order_id = id.try_into().unwrap();
    order.correlation_id = format!("shop:{id}").as_str().try_into().unwrap();
    order
}

fn inventory(sku: &str, available: i64) -> Event {
    let id = format!("erp:inventory:{sku}:{available}");
    Event {
        id: id.clone(),
        source: "/tradewind/test/erp/erp".into(),
        time: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        }),
    }
}

struct Setup {
    _server: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    channel: Arc<Channel>,
    runs: Arc<SyncRuns>,
    cursors: Arc<CursorStore>,
    shutdown: Shutdown,
    consumer_def: ConsumerDef,
    inbound: Arc<InboundFlow<Channel>>,
    /// The inventory flow, until it is started.
    outbound: Option<OutboundFlow<Channel>>,
}

/// An adapter for marketplace `shop` with an inventory flow and an orders flow whose own poll loop is not
/// started (so that only sync runs poll), and its sync runner.
async fn start(orders: Vec<Order>) -> Setup {
    let mut setup = prepare(orders).await;
    setup.start_outbound();
    setup.spawn_runner().await;
    setup
}

async fn prepare(orders: Vec<Order>) -> Setup {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream::new(server.client().await.unwrap());
    let ns = Namespace::new("test");
    for def in [
        ns.erp_stream("erp", Flow::Inventory),
        ns.marketplace_stream("shop"),
        ns.dead_letter_stream(),
        ns.command_stream(),
    ] {
        ensure_stream(&js, &def).await.unwrap();
    }
    let channel = Arc::new(Channel {
        orders,
        ..Default::default()
    });
    let metrics = Arc::new(Metrics::new());
    let cursors = Arc::new(CursorStore::new(
        ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(),
    ));
    let runs = Arc::new(SyncRuns::new(
        ensure_kv(&js, &ns.sync_run_bucket()).await.unwrap(),
    ));
    let shutdown = Shutdown::new();

    let consumer_def = ns.erp_flow_consumer("erp", "shop", Flow::Inventory, 1000);
    let outbound = OutboundFlow {
        settings: OutboundSettings {
            marketplace: "shop".into(),
            flow: Flow::Inventory,
            fetch_batch: 100,
            coalesce_window: Duration::from_millis(50),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ack_wait: Duration::from_secs(5),
        },
        consumer: ensure_consumer(&js, &consumer_def).await.unwrap(),
        connector: channel.clone(),
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns.clone())),
        prepare: Arc::new(|event: &Event| match &event.record {
            Record::Inventory(p) => Ok((p.sku.to_string(), json!({"qty": p.available}))),
            other => Err(format!("unexpected record {}", other.event_type())),
        }),
        map: None,
        metrics: metrics.clone(),
    };
    let inbound = Arc::new(InboundFlow {
        settings: InboundSettings {
            namespace: "test".into(),
            marketplace: "shop".into(),
            flow: Flow::Orders,
            poll_interval: Duration::from_secs(3600),
        },
        js: js.clone(),
        connector: channel.clone(),
        cursors: cursors.clone(),
        timeline: None,
        metrics,
    });
    Setup {
        _server: server,
        js,
        ns,
        channel,
        runs,
        cursors,
        shutdown,
        consumer_def,
        inbound,
        outbound: Some(outbound),
    }
}

/// The command consumer with a short ack wait, so that a command of a crashed runner comes back quickly.
fn command_consumer(ns: &Namespace) -> ConsumerDef {
    ConsumerDef {
        ack_wait: Duration::from_secs(1),
        ..ns.command_consumer("shop")
    }
}

impl Setup {
    fn start_outbound(&mut self) {
        let outbound = self.outbound.take().unwrap();
        let stop = self.shutdown.clone();
        tokio::spawn(async move { outbound.run(stop).await });
    }

    /// Starts a sync runner, as an adapter replica does.
    async fn spawn_runner(&self) -> tokio::task::JoinHandle<()> {
        let runner = Arc::new(SyncRunner {
            namespace: self.ns.clone(),
            marketplace: "shop".into(),
            js: self.js.clone(),
            commands: ensure_consumer(&self.js, &command_consumer(&self.ns))
                .await
                .unwrap(),
            outbound: HashMap::from([(Flow::Inventory, self.consumer_def.clone())]),
            inbound: HashMap::from([(Flow::Orders, self.inbound.clone())]),
            cursors: self.cursors.clone(),
            runs: self.runs.clone(),
            drain_deadline: Duration::from_secs(30),
            progress_every: Duration::from_millis(300),
            running: Default::default(),
        });
        let stop = self.shutdown.clone();
        tokio::spawn(async move { runner.run(stop).await })
    }

    async fn fire(&self, schedule: &str, flow: Flow, mode: SyncMode, due_second: i64) -> String {
        let due = Utc.timestamp_opt(1_800_000_000 + due_second, 0).unwrap();
        let command = SyncCommand {
            id: run_id("test", schedule, due),
            schedule: schedule.into(),
            marketplace: "shop".into(),
            flow,
            mode,
            due_time: due.to_rfc3339(),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", command.id.as_str());
        self.js
            .publish_with_headers(
                self.ns.command_subject("shop", flow),
                headers,
                serde_json::to_vec(&command).unwrap().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        command.id
    }

    /// The report of run `id` once it has finished.
    async fn finished(&self, schedule: &str, id: &str) -> SyncRunReport {
        let done = |r: &SyncRunReport| r.run.id == id && r.run.outcome != RunOutcome::Running;
        eventually(
            Duration::from_secs(30),
            "the sync run to finish",
            || async {
                let latest = self.runs.latest(schedule).await.unwrap();
                latest.as_ref().is_some_and(done)
            },
        )
        .await;
        self.runs.latest(schedule).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn a_full_outbound_run_resends_the_newest_value_of_every_sku() {
    let setup = start(Vec::new()).await;
    let skus = ["TW-1", "TW-2", "TW-3", "TW-4"];
    for (i, sku) in skus.iter().enumerate() {
        let subject = setup.ns.erp_subject("erp", Flow::Inventory, sku);
        publish_event(&setup.js, &subject, &inventory(sku, i as i64), Some(sku))
            .await
            .unwrap();
    }
    eventually(
        Duration::from_secs(20),
        "every SKU delivered once",
        || async { skus.iter().all(|s| setup.channel.deliveries_of(s) == 1) },
    )
    .await;

    // An incremental run has nothing pending: it succeeds without resending anything.
    let id = setup
        .fire("stock-hourly", Flow::Inventory, SyncMode::Incremental, 0)
        .await;
    let report = setup.finished("stock-hourly", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Succeeded, "{report:?}");
    assert_eq!(report.run.succeeded, 0);
    assert!(skus.iter().all(|s| setup.channel.deliveries_of(s) == 1));

    let id = setup
        .fire("stock-nightly", Flow::Inventory, SyncMode::Full, 60)
        .await;
    let report = setup.finished("stock-nightly", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Succeeded, "{report:?}");
    assert_eq!(report.run.succeeded, skus.len() as u64);
    assert_eq!(report.run.dead_lettered, 0);
    assert!(report.run.started_at.is_some() && report.run.finished_at.is_some());
    for sku in skus {
        assert_eq!(setup.channel.deliveries_of(sku), 2, "{sku} resent once");
    }

    // The flow carries on with the recreated consumer: a new change is delivered.
    let subject = setup.ns.erp_subject("erp", Flow::Inventory, "TW-5");
    publish_event(&setup.js, &subject, &inventory("TW-5", 9), Some("TW-5"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "a change after the run",
        || async { setup.channel.deliveries_of("TW-5") == 1 },
    )
    .await;
    setup.shutdown.trigger();
}

#[tokio::test]
async fn inbound_runs_poll_now_and_a_full_run_reads_from_the_start() {
    let setup = start(vec![order("O-1"), order("O-2"), order("O-3")]).await;

    let id = setup
        .fire("orders-now", Flow::Orders, SyncMode::Incremental, 0)
        .await;
    let report = setup.finished("orders-now", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Succeeded, "{report:?}");
    assert_eq!(report.run.succeeded, 3, "three new orders published");
    let cursor = setup.cursors.get("shop", Flow::Orders).await.unwrap();
    assert_eq!(cursor.map(|c| c.value).as_deref(), Some("3"));

    let id = setup
        .fire("orders-full", Flow::Orders, SyncMode::Full, 60)
        .await;
    let report = setup.finished("orders-full", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Succeeded, "{report:?}");
    assert_eq!(
        report.run.succeeded, 0,
        "orders already published are de-duplicated"
    );
    let polls = setup.channel.polls.lock().unwrap().clone();
    assert_eq!(
        polls,
        vec![None, Some("2".into()), None, Some("2".into())],
        "the full run started again from the beginning"
    );
    setup.shutdown.trigger();
}

#[tokio::test]
async fn a_run_for_a_flow_the_marketplace_does_not_have_fails_and_says_why() {
    let setup = start(Vec::new()).await;
    let id = setup.fire("prices", Flow::Price, SyncMode::Full, 0).await;
    let report = setup.finished("prices", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Failed);
    assert!(
        report.message.contains("flow price") && report.message.contains("shop"),
        "{}",
        report.message
    );
    setup.shutdown.trigger();
}

#[tokio::test]
async fn a_run_cut_short_by_a_crash_is_run_again_by_the_next_replica() {
    let mut setup = prepare(Vec::new()).await;
    for (i, sku) in ["TW-1", "TW-2", "TW-3"].iter().enumerate() {
        let subject = setup.ns.erp_subject("erp", Flow::Inventory, sku);
        publish_event(&setup.js, &subject, &inventory(sku, i as i64), Some(sku))
            .await
            .unwrap();
    }
    // The flow is not running, so the full run cannot drain: it stays running until its replica dies.
    let first = setup.spawn_runner().await;
    let id = setup
        .fire("stock-nightly", Flow::Inventory, SyncMode::Full, 0)
        .await;
    eventually(Duration::from_secs(20), "the run to start", || async {
        let latest = setup.runs.latest("stock-nightly").await.unwrap();
        latest.is_some_and(|r| r.run.id == id && r.run.outcome == RunOutcome::Running)
    })
    .await;
    first.abort();

    setup.start_outbound();
    setup.spawn_runner().await;
    let report = setup.finished("stock-nightly", &id).await;
    assert_eq!(report.run.outcome, RunOutcome::Succeeded, "{report:?}");
    assert_eq!(report.run.succeeded, 3);
    for sku in ["TW-1", "TW-2", "TW-3"] {
        assert!(setup.channel.deliveries_of(sku) >= 1, "{sku} delivered");
    }
    setup.shutdown.trigger();
}
