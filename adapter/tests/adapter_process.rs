//! The `tradewind-adapter` binary as a process: SIGKILL in the middle of a backlog loses nothing, SIGTERM
//! stops it cleanly. The channel is a REST portal served by the test over real HTTP.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::envelope::Event;
use adapter_runtime::jetstream::{ensure_stream, publish_event};
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use axum::Json;
use axum::extract::State;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use serde_json::Value;
use test_support::{NatsServer, eventually};

#[derive(Default)]
struct Portal {
    /// SKU -> quantities received, in order.
    received: Mutex<HashMap<String, Vec<i64>>>,
    /// Correlation ids received, with how many times.
    deliveries: Mutex<HashMap<String, u32>>,
    /// Items that did not carry the fields the ChannelMapping produces.
    unmapped: Mutex<u32>,
}

async fn accept(State(portal): State<Arc<Portal>>, Json(body): Json<Value>) -> &'static str {
    // Slow enough that a kill lands while batches are in flight.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for item in body["items"].as_array().cloned().unwrap_or_default() {
        let sku = item["key"].as_str().unwrap_or_default().to_string();
        let quantity = item["fields"]["available"].as_i64().unwrap_or(-1);
        let id = item["correlationId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        portal
            .received
            .lock()
            .unwrap()
            .entry(sku)
            .or_default()
            .push(quantity);
        *portal.deliveries.lock().unwrap().entry(id).or_default() += 1;
    }
    "ok"
}

async fn start_portal() -> (Arc<Portal>, String) {
    let portal = Arc::new(Portal::default());
    let app = axum::Router::new()
        .route("/inventory", axum::routing::post(accept))
        .with_state(portal.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (portal, url)
}

fn config(
    nats_url: &str,
    portal_url: &str,
    dir: &std::path::Path,
    http: &str,
) -> std::path::PathBuf {
    let yaml = format!(
        r#"
namespace: kill
marketplace: portal
spec:
  channel: rest
  endpoint: {{baseUrl: "{portal_url}"}}
  credentialsSecretRef: {{name: portal}}
  erpConnectionRef: {{name: erp}}
  channelMappingRef: {{name: portal}}
  rateLimitPolicyRef: {{name: portal}}
  currency: USD
  flows:
    inventory: {{coalesceWindow: 50ms}}
mapping:
  name: portal
  spec:
    channel: rest
    flows:
      - flow: inventory
        fields:
          - {{target: available, expression: record.available}}
          - {{target: unit, expression: "'EA'"}}
rateLimits:
  name: portal
  spec:
    channel: rest
    defaults: {{retry: {{maxAttempts: 5, initialBackoff: 50ms, maxBackoff: 500ms}}}}
nats: {{url: "{nats_url}"}}
credentialsDir: "{dir}"
httpAddress: "{http}"
# A killed adapter's unacknowledged messages go to the next one after this long.
ackWait: 2s
"#,
        dir = dir.display()
    );
    let path = dir.join("adapter.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn spawn_adapter(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tradewind-adapter"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn event(sku: &str, available: i64, version: i64) -> Event {
    let id = format!("erp:{sku}:{version}");
    Event {
        id: id.clone(),
        source: "/tradewind/kill/erp/erp".into(),
        time: Utc.timestamp_opt(1_800_000_000 + version, 0).unwrap(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc.timestamp_opt(1_800_000_000 + version, 0).unwrap(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_backlog_loses_nothing_and_sigterm_exits_cleanly() {
    let nats = NatsServer::start().await.unwrap();
    let js = jetstream::new(nats.client().await.unwrap());
    let ns = Namespace::new("kill");
    ensure_stream(&js, &ns.erp_stream("erp", Flow::Inventory))
        .await
        .unwrap();
    let (portal, portal_url) = start_portal().await;
    let dir = tempfile::tempdir().unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let config = config(&nats.url(), &portal_url, dir.path(), &http);

    // 400 SKUs, the last value of each is what the portal must end with.
    let skus = 400;
    let mut last = HashMap::new();
    for version in 0..2 {
        for n in 0..skus {
            let sku = format!("SKU-{n:04}");
            let quantity = (n * 7 + version * 13) % 100;
            let subject = ns.erp_subject("erp", Flow::Inventory, &sku);
            publish_event(&js, &subject, &event(&sku, quantity, version), Some(&sku))
                .await
                .unwrap();
            last.insert(sku, quantity);
        }
    }

    let mut adapter = spawn_adapter(&config);
    eventually(
        Duration::from_secs(30),
        "the portal has received some records",
        || async { portal.received.lock().unwrap().len() >= 20 },
    )
    .await;
    adapter.kill().unwrap(); // SIGKILL
    adapter.wait().unwrap();
    let seen_at_kill = portal.received.lock().unwrap().len();
    assert!(
        seen_at_kill < skus as usize,
        "the kill must land before the backlog is done ({seen_at_kill})"
    );

    let mut adapter = spawn_adapter(&config);
    eventually(
        Duration::from_secs(60),
        "every SKU has its last value on the portal",
        || async {
            let received = portal.received.lock().unwrap();
            last.iter()
                .all(|(sku, q)| received.get(sku).and_then(|v| v.last()) == Some(q))
        },
    )
    .await;

    // Nothing lost; what was sent twice is at most what was in flight at the kill, and every repeat carries
    // the same correlation id, so the receiver can tell.
    let repeats: u32 = portal
        .deliveries
        .lock()
        .unwrap()
        .values()
        .map(|n| n - 1)
        .sum();
    assert!(
        repeats <= 1_000,
        "{repeats} repeats exceed the in-flight bound (max ack pending)"
    );

    assert_eq!(
        *portal.unmapped.lock().unwrap(),
        0,
        "every item went through the ChannelMapping"
    );

    // The second adapter reports what it did and that it is ready.
    adapter_runtime::connectors::ensure_crypto_provider();
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("http://{http}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = client
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"tradewind_adapter_events_total{marketplace="portal",flow="inventory",outcome="Out"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("tradewind_adapter_consumer_pending_messages{"),
        "{metrics}"
    );

    // SIGTERM: the adapter finishes its batch and exits with success.
    let pid = adapter.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = adapter.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the adapter did not stop within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
