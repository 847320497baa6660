//! Load harness: resident memory of the `tradewind-adapter` process at idle and while it drains a backlog of
//! inventory changes to a REST portal (served here, answering at once). Run with
//! `cargo bench -p adapter --bench adapter_memory` (needs TRADEWIND_NATS_SERVER, see scripts/setup.sh).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::envelope::{Event, encode};
use adapter_runtime::jetstream::{ensure_stream, to_header_map};
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use futures::StreamExt;
use test_support::NatsServer;

const MESSAGES: usize = 50_000;

/// Resident and peak resident set of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let nats = NatsServer::start().await.expect("nats-server (run scripts/setup.sh)");
        let js = jetstream::new(nats.client().await.expect("client"));
        let ns = Namespace::new("mem");
        ensure_stream(&js, &ns.erp_stream("erp", Flow::Inventory)).await.expect("stream");

        let app = axum::Router::new().route("/inventory", axum::routing::post(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let portal = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let dir = tempfile::tempdir().expect("temp dir");
        let http = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
        let config = dir.path().join("adapter.yaml");
        std::fs::write(
            &config,
            format!(
                "namespace: mem\nmarketplace: portal\nspec:\n  channel: rest\n  endpoint: {{baseUrl: \"{portal}\"}}\n  credentialsSecretRef: {{name: p}}\n  erpConnectionRef: {{name: erp}}\n  channelMappingRef: {{name: p}}\n  rateLimitPolicyRef: {{name: p}}\n  currency: USD\n  adapter: {{logLevel: warn}}\n  flows: {{inventory: {{coalesceWindow: 50ms}}}}\nrateLimits: {{name: p, spec: {{channel: rest}}}}\nnats: {{url: \"{}\"}}\ncredentialsDir: \"{}\"\nhttpAddress: \"{http}\"\n",
                nats.url(),
                dir.path().display()
            ),
        )
        .expect("config");
        let mut adapter = Command::new(env!("CARGO_BIN_EXE_tradewind-adapter"))
            .arg("--config")
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .expect("adapter starts");
        let pid = adapter.id();
        let ready = format!("http://{http}/readyz");
        adapter_runtime::connectors::ensure_crypto_provider();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "adapter not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (idle, _) = memory(pid);

        let start = Instant::now();
        let mut pending = futures::stream::FuturesUnordered::new();
        for n in 0..MESSAGES {
            let sku = format!("SKU-{n:06}");
            let id = format!("erp:{sku}:1");
            let time = Utc.timestamp_opt(1_800_000_000, 0).single().expect("time");
            let event = Event {
                id: id.clone(),
                source: "/bench".into(),
                time,
                traceparent: None,
                record: Record::Inventory(InventoryPosition {
                    correlation_id: id.as_str().try_into().expect("id"),
                    sku: sku.as_str().try_into().expect("sku"),
                    available: 5,
                    locations: Vec::new(),
                    as_of: time,
                }),
            };
            let (headers, payload) = encode(&event, None).expect("encode");
            let subject = ns.erp_subject("erp", Flow::Inventory, &sku);
            let ack = js.publish_with_headers(subject, to_header_map(&headers), payload.into()).await.expect("publish");
            pending.push(ack.into_future());
            if pending.len() >= 512 {
                pending.next().await.expect("ack").expect("acked");
            }
        }
        while let Some(ack) = pending.next().await {
            ack.expect("acked");
        }
        let stream = js.get_stream(ns.erp_stream("erp", Flow::Inventory).name).await.expect("stream");
        let mut consumer: jetstream::consumer::PullConsumer =
            stream.get_consumer("portal-inventory").await.expect("the adapter's consumer");
        let mut peak = 0;
        loop {
            peak = peak.max(memory(pid).0);
            let info = consumer.info().await.expect("info");
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = start.elapsed();
        let (after, hwm) = memory(pid);
        let _ = adapter.kill();
        let _ = adapter.wait();
        println!("adapter RSS at idle:             {idle} KiB");
        println!("adapter RSS peak while draining: {} KiB (VmHWM {hwm} KiB)", peak.max(after));
        println!("backlog of {MESSAGES} drained in {elapsed:?} ({:.0} msg/s)", MESSAGES as f64 / elapsed.as_secs_f64());
    });
}
