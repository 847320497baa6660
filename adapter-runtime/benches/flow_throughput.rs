//! Load harness: the outbound inventory flow (decode, coalesce, inventory policy, deliver to a no-op
//! connector, ack) against raw JetStream publish-then-consume of the same messages, on the same server in the
//! same run. Prints both rates and their ratio. Run with
//! `cargo bench -p adapter-runtime --bench flow_throughput` (needs TRADEWIND_NATS_SERVER, see scripts/setup.sh).

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage};
use adapter_runtime::envelope::{Event, encode};
use adapter_runtime::flow::{OutboundFlow, OutboundSettings, Shutdown};
use adapter_runtime::jetstream::{DeadLetterStore, ensure_consumer, ensure_stream, to_header_map};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::{ConsumerDef, Namespace, StreamDef};
use async_nats::jetstream::{self, consumer::pull};
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use futures::StreamExt;
use serde_json::json;
use test_support::NatsServer;

const MESSAGES: usize = 20_000;

struct NoOp;

impl Connector for NoOp {
    fn max_batch(&self, _: Flow) -> usize {
        1_000
    }
    async fn deliver(&self, _: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        items.iter().map(|_| Ok(())).collect()
    }
    async fn poll(&self, _: Flow, _: Option<&str>) -> Result<PollPage, ConnectorError> {
        Ok(PollPage::default())
    }
}

fn event(n: usize) -> Event {
    let sku = format!("SKU-{n:06}");
    let id = format!("erp:{sku}:1");
    Event {
        id: id.clone(),
        source: "/tradewind/bench/erp/erp".into(),
        time: Utc
            .timestamp_opt(1_800_000_000, 0)
            .single()
            .expect("valid time"),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().expect("valid id"),
            sku: sku.as_str().try_into().expect("valid sku"),
            available: (n % 100) as i64,
            locations: Vec::new(),
            as_of: Utc
                .timestamp_opt(1_800_000_000, 0)
                .single()
                .expect("valid time"),
        }),
    }
}

/// Publishes every message, keeping up to 512 acknowledgements outstanding.
async fn publish_all(js: &jetstream::Context, ns: &Namespace, prefix: &str) {
    let mut pending = futures::stream::FuturesUnordered::new();
    for n in 0..MESSAGES {
        let event = event(n);
        let (headers, payload) = encode(&event, None).expect("encodes");
        let subject = ns.erp_subject(prefix, Flow::Inventory, &format!("SKU-{n:06}"));
        let ack = js
            .publish_with_headers(subject, to_header_map(&headers), payload.into())
            .await
            .expect("publish");
        pending.push(ack.into_future());
        if pending.len() >= 512 {
            pending.next().await.expect("an ack").expect("acked");
        }
    }
    while let Some(ack) = pending.next().await {
        ack.expect("acked");
    }
}

async fn stream_and_consumer(
    js: &jetstream::Context,
    ns: &Namespace,
    erp: &str,
) -> (StreamDef, jetstream::consumer::Consumer<pull::Config>) {
    let stream = ns.erp_stream(erp, Flow::Inventory);
    ensure_stream(js, &stream).await.expect("stream");
    let def = ConsumerDef {
        max_ack_pending: 10_000,
        ..ns.erp_flow_consumer(erp, "bench", Flow::Inventory, 10_000)
    };
    (stream, ensure_consumer(js, &def).await.expect("consumer"))
}

async fn raw(js: &jetstream::Context, ns: &Namespace) -> Duration {
    let (_, consumer) = stream_and_consumer(js, ns, "raw").await;
    let start = Instant::now();
    publish_all(js, ns, "raw").await;
    let mut consumed = 0;
    while consumed < MESSAGES {
        let mut batch = consumer
            .fetch()
            .max_messages(1_000)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .expect("fetch");
        while let Some(message) = batch.next().await {
            message.expect("message").ack().await.expect("ack");
            consumed += 1;
        }
    }
    start.elapsed()
}

async fn flow(js: &jetstream::Context, ns: &Namespace) -> Duration {
    ensure_stream(js, &ns.dead_letter_stream())
        .await
        .expect("dlq");
    let (_, consumer) = stream_and_consumer(js, ns, "flow").await;
    let metrics = Arc::new(Metrics::new());
    let policy: crds::v1alpha1::InventoryFlow =
        serde_yaml_ng::from_str("{safetyStock: 2, percentOfStock: 90}").expect("policy");
    let flow = Arc::new(OutboundFlow {
        settings: OutboundSettings {
            marketplace: "bench".into(),
            flow: Flow::Inventory,
            fetch_batch: 1_000,
            coalesce_window: Duration::from_millis(50),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ack_wait: Duration::from_secs(30),
        },
        consumer: consumer.clone(),
        connector: Arc::new(NoOp),
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns.clone())),
        prepare: Arc::new(move |event: &Event| match &event.record {
            Record::Inventory(p) => Ok((
                p.sku.to_string(),
                json!({"sku": p.sku.as_str(), "available": adapter_runtime::process::listed_quantity(p, &policy)}),
            )),
            _ => Err("not inventory".into()),
        }),
        map: None,
        metrics: metrics.clone(),
    });
    // Publish, then consume, as the raw baseline does.
    let start = Instant::now();
    publish_all(js, ns, "flow").await;
    let shutdown = Shutdown::new();
    let runner = {
        let (flow, shutdown) = (flow.clone(), shutdown.clone());
        tokio::spawn(async move { flow.run(shutdown).await })
    };
    let mut consumer = consumer;
    loop {
        let info = consumer.info().await.expect("info");
        if info.num_pending == 0
            && info.num_ack_pending == 0
            && info.delivered.stream_sequence >= MESSAGES as u64
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    shutdown.trigger();
    runner.await.expect("flow stops");
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = NatsServer::start()
            .await
            .expect("nats-server (run scripts/setup.sh)");
        let js = jetstream::new(server.client().await.expect("client"));
        let ns = Namespace::new("bench");
        // Warm up the server's file store once.
        let _ = raw(&js, &Namespace::new("warmup")).await;
        let mut raw_times = Vec::new();
        let mut flow_times = Vec::new();
        for round in 0..3 {
            let ns_raw = Namespace::new(&format!("raw{round}"));
            let ns_flow = Namespace::new(&format!("flow{round}"));
            raw_times.push(raw(&js, &ns_raw).await);
            flow_times.push(flow(&js, &ns_flow).await);
        }
        let _ = ns;
        raw_times.sort();
        flow_times.sort();
        let (raw, flow) = (raw_times[1], flow_times[1]);
        let rate = |d: Duration| MESSAGES as f64 / d.as_secs_f64();
        println!("messages per run: {MESSAGES} (median of 3 runs each)");
        println!(
            "raw JetStream publish+consume: {:>9.0} msg/s ({:?})",
            rate(raw),
            raw
        );
        println!(
            "inventory flow end to end:     {:>9.0} msg/s ({:?})",
            rate(flow),
            flow
        );
        println!("ratio flow / raw: {:.2}", rate(flow) / rate(raw));
    });
}
