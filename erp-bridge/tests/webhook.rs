//! The signed webhook source against a real NATS server: a signed record is answered 202 once JetStream has it,
//! a retried one is de-duplicated, a wrong signature or a replayed (stale) request is refused with 401, a body
//! that is not a record an ERP sends with 400 naming the field, and without JetStream nothing is accepted.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;

use adapter_runtime::canonical::Record;
use adapter_runtime::envelope::decode;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{ensure_stream, from_header_map};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::signature::sign;
use adapter_runtime::topology::Namespace;
use crds::channel::Flow;
use erp_bridge::BridgeConfig;
use serde_json::{Value, json};
use test_support::NatsServer;

const NS: &str = "hook";
const ERP: &str = "erp";
const KEY: &str = "shared-hmac-key";

struct Bridge {
    url: String,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), String>>,
    _secrets: tempfile::TempDir,
}

async fn start(nats: &NatsServer) -> Bridge {
    start_with(nats, false).await
}

async fn start_with(nats: &NatsServer, suspend: bool) -> Bridge {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(secrets.path().join("erp-hook")).unwrap();
    std::fs::write(secrets.path().join("erp-hook/hmac"), format!("{KEY}\n")).unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
erpConnection: {ERP}
spec:
  suspend: {suspend}
  source:
    webhook:
      hmacSecretRef: {{name: erp-hook, key: hmac}}
      path: /erp/events
      maxClockSkew: 5m
  sink:
    rest: {{baseUrl: "http://127.0.0.1:1"}}
nats: {{url: "{}"}}
secretsDir: "{}"
"#,
        nats.url(),
        secrets.path().display()
    );
    let config = BridgeConfig::parse("test", &yaml).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/erp/events", listener.local_addr().unwrap());
    let http = erp_bridge::Http {
        listener,
        readiness: Arc::new(Readiness::starting()),
    };
    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    let task = tokio::spawn(erp_bridge::run_with(
        config,
        shutdown.clone(),
        metrics.clone(),
        Some(http),
    ));
    Bridge {
        url,
        metrics,
        shutdown,
        task,
        _secrets: secrets,
    }
}

fn inventory(sku: &str, available: Value) -> Value {
    json!({"type": "inventory", "data": {
        "correlationId": format!("erp:inv:{sku}:1"), "sku": sku, "available": available,
        "locations": [], "asOf": "2026-11-28T10:00:00Z"}})
}

fn client() -> reqwest::Client {
    adapter_runtime::connectors::ensure_crypto_provider();
    reqwest::Client::new()
}

/// Posts `body` signed with `key` at `timestamp`; answers status and JSON body.
async fn post(url: &str, body: &Value, key: &str, timestamp: i64) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let response = client()
        .post(url)
        .header("X-Tradewind-Timestamp", timestamp.to_string())
        .header(
            "X-Tradewind-Signature",
            sign(key.as_bytes(), timestamp, &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts until the bridge serves (it binds before the streams are ready): the first answer that is not 503.
async fn post_ready(url: &str, body: &Value) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let answer = post(url, body, KEY, chrono::Utc::now().timestamp()).await;
        if answer.0 != 503 || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn stored(nats: &NatsServer, flow: Flow) -> u64 {
    let js = nats.jetstream().await.unwrap();
    let name = Namespace::new(NS).erp_stream(ERP, flow).name;
    let mut stream = js.get_stream(&name).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn a_signed_record_is_accepted_once_jetstream_has_it_and_a_retry_is_a_duplicate() {
    let nats = NatsServer::start().await.unwrap();
    let bridge = start(&nats).await;
    let (status, answer) = post_ready(&bridge.url, &inventory("TW-1", json!(7))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["duplicate"], false);
    let id = answer["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("erp:webhook:sha256:"), "{id}");

    // In the stream already when the 202 came back.
    let js = nats.jetstream().await.unwrap();
    let name = Namespace::new(NS).erp_stream(ERP, Flow::Inventory).name;
    let stream = js.get_stream(&name).await.unwrap();
    let message = stream
        .get_last_raw_message_by_subject("tw.hook.erp.erp.inventory.TW-1")
        .await
        .unwrap();
    let event = decode(&from_header_map(&message.headers), &message.payload).unwrap();
    assert_eq!(event.id, id);
    let Record::Inventory(position) = event.record else {
        panic!("not inventory")
    };
    assert_eq!(position.available, 7);

    // The ERP retries (its answer was lost): a new timestamp and signature, the same body.
    let later = chrono::Utc::now().timestamp() + 1;
    let (status, answer) = post(&bridge.url, &inventory("TW-1", json!(7)), KEY, later).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["duplicate"], true);
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(stored(&nats, Flow::Inventory).await, 1);
    let metrics = bridge.metrics.encode();
    for outcome in ["Out", "Coalesced"] {
        let line = format!(
            r#"tradewind_adapter_events_total{{marketplace="erp:erp",flow="inventory",outcome="{outcome}"}} 1"#
        );
        assert!(metrics.contains(&line), "{line} not in {metrics}");
    }

    bridge.shutdown.trigger();
    bridge.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn bad_signatures_replays_and_bad_records_are_refused_naming_why() {
    let nats = NatsServer::start().await.unwrap();
    let bridge = start(&nats).await;
    let now = chrono::Utc::now().timestamp();
    let (status, _) = post_ready(&bridge.url, &inventory("TW-0", json!(1))).await;
    assert_eq!(status, 202);

    let (status, answer) = post(&bridge.url, &inventory("TW-2", json!(1)), "wrong-key", now).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("does not match"),
        "{answer}"
    );

    // A captured request replayed ten minutes later: correctly signed, but stale.
    let (status, answer) = post(&bridge.url, &inventory("TW-2", json!(1)), KEY, now - 600).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("away from now"),
        "{answer}"
    );

    let unsigned = client().post(&bridge.url).body("{}").send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    let (status, answer) = post(&bridge.url, &inventory("TW-2", json!("five")), KEY, now).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("data.available"),
        "{answer}"
    );

    let (status, answer) = post(&bridge.url, &inventory("TW-2", json!(-4)), KEY, now).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("data.available"),
        "{answer}"
    );

    let (status, answer) = post(&bridge.url, &json!({"type": "stock", "data": {}}), KEY, now).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("type"),
        "{answer}"
    );

    let order: Value = serde_json::from_str(include_str!(
        "../../adapter-runtime/tests/fixtures/order.json"
    ))
    .unwrap();
    let (status, answer) = post(
        &bridge.url,
        &json!({"type": "order", "data": order}),
        KEY,
        now,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().starts_with("type:"),
        "{answer}"
    );

    assert_eq!(
        stored(&nats, Flow::Inventory).await,
        1,
        "only the first, valid record is stored"
    );
    bridge.shutdown.trigger();
    bridge.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn nothing_is_accepted_while_jetstream_cannot_store_it() {
    let nats = NatsServer::start().await.unwrap();
    let bridge = start(&nats).await;
    let (status, _) = post_ready(&bridge.url, &inventory("TW-0", json!(1))).await;
    assert_eq!(status, 202);
    let js = nats.jetstream().await.unwrap();
    let def = Namespace::new(NS).erp_stream(ERP, Flow::Price);
    js.delete_stream(&def.name).await.unwrap();
    let price = json!({"type": "price", "data": {
        "correlationId": "erp:price:TW-3:1", "sku": "TW-3",
        "price": {"amount": "9.99", "currency": "USD"}, "asOf": "2026-11-28T10:00:00Z"}});
    let now = chrono::Utc::now().timestamp();
    let (status, answer) = post(&bridge.url, &price, KEY, now).await;
    assert_eq!(status, 503, "{answer}");

    ensure_stream(&js, &def).await.unwrap();
    let (status, answer) = post(&bridge.url, &price, KEY, now).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(stored(&nats, Flow::Price).await, 1);
    bridge.shutdown.trigger();
    bridge.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_suspended_connection_asks_the_erp_to_send_again_later() {
    let nats = NatsServer::start().await.unwrap();
    let bridge = start_with(&nats, true).await;
    // The listener is bound already: the request waits until the bridge serves.
    let now = chrono::Utc::now().timestamp();
    let (status, answer) = post(&bridge.url, &inventory("TW-1", json!(1)), KEY, now).await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("suspended"),
        "{answer}"
    );
    bridge.shutdown.trigger();
    bridge.task.await.unwrap().unwrap();
}
