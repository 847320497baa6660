//! The `tradewind-adapter` binary serves the rest channel's signed order webhook on its health and metrics
//! port when `spec.rest.orders.webhook` is set: a signed order is answered 202 once it is in JetStream, a
//! wrongly signed one 401.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::process::{Command, Stdio};
use std::time::Duration;

use adapter_runtime::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use crds::channel::Flow;
use serde_json::json;
use test_support::{NatsServer, eventually};

const KEY: &str = "sandbox-only-webhook-key";

fn config(nats_url: &str, dir: &std::path::Path, http: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("order_hmac"), KEY).unwrap();
    let yaml = format!(
        r#"
namespace: hooks
marketplace: partner
spec:
  channel: rest
  endpoint: {{baseUrl: "http://127.0.0.1:9"}}
  credentialsSecretRef: {{name: partner}}
  erpConnectionRef: {{name: erp}}
  channelMappingRef: {{name: partner}}
  rateLimitPolicyRef: {{name: partner}}
  currency: EUR
  rest:
    orders:
      webhook: {{hmacSecretKey: order_hmac, maxSkewSeconds: 60}}
  flows:
    orders: {{pollInterval: 1h}}
rateLimits:
  name: partner
  spec:
    channel: rest
nats: {{url: "{nats_url}"}}
credentialsDir: "{dir}"
httpAddress: "{http}"
"#,
        dir = dir.display()
    );
    let path = dir.join("adapter.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn order() -> serde_json::Value {
    json!({
        "orderId": "PO-77",
        "status": "Pending",
        "placedAt": "2026-11-28T10:00:00Z",
        "updatedAt": "2026-11-28T10:00:00Z",
        "buyer": {"name": "Acme GmbH"},
        "shipTo": {"name": "Acme", "line1": "Hafenstr. 1", "city": "Hamburg", "postalCode": "20457", "country": "DE"},
        "lines": [{"lineId": "1", "sku": "TW-1001", "quantity": 1,
                   "unitPrice": {"amount": "10.00", "currency": "EUR"},
                   "tax": {"amount": "1.90", "currency": "EUR"}}],
        "totals": {"subtotal": {"amount": "10.00", "currency": "EUR"},
                   "shipping": {"amount": "0.00", "currency": "EUR"},
                   "tax": {"amount": "1.90", "currency": "EUR"},
                   "discount": {"amount": "0.00", "currency": "EUR"},
                   "total": {"amount": "11.90", "currency": "EUR"}},
        "fulfilment": {"by": "Merchant"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_serves_the_signed_order_webhook() {
    adapter_runtime::connectors::ensure_crypto_provider();
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let config = config(&nats.url(), dir.path(), &http);
    let mut adapter = Command::new(env!("CARGO_BIN_EXE_tradewind-adapter"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = adapter_runtime::connectors::http_client(Duration::from_secs(5)).unwrap();
    let url = format!("http://{http}/hooks/orders");
    let body = order().to_string();
    let post = |key: &'static str| {
        let timestamp = chrono::Utc::now().timestamp();
        client
            .post(&url)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(key.as_bytes(), timestamp, body.as_bytes()),
            )
            .body(body.clone())
            .send()
    };
    // 503 until the adapter has reached NATS, then 202.
    eventually(
        Duration::from_secs(30),
        "the webhook accepts the signed order",
        || async { post(KEY).await.is_ok_and(|r| r.status() == 202) },
    )
    .await;
    let refused = post("another-key").await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("does not match"));
    let health = client
        .get(format!("http://{http}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the health server is the same one");

    let js = jetstream::new(nats.client().await.unwrap());
    let ns = Namespace::new("hooks");
    let stream = js
        .get_stream(ns.marketplace_stream("partner").name)
        .await
        .unwrap();
    let message = stream
        .get_last_raw_message_by_subject(&ns.marketplace_subject("partner", Flow::Orders, "PO-77"))
        .await
        .unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(stored["totals"]["total"]["amount"], "11.90", "{stored}");
    adapter.kill().unwrap();
    adapter.wait().unwrap();
}
