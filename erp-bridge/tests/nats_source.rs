//! The NATS source against a real NATS server: the ERP publishes canonical events on its own subject; good ones
//! are republished into the topology in order with idempotent ids (a repeated event is stored once), bad ones are
//! dead-lettered with the reason without blocking the rest.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::envelope::{Event, decode, encode};
use adapter_runtime::flow::Shutdown;
use adapter_runtime::jetstream::{DeadLetterStore, from_header_map, to_header_map};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::Namespace;
use crds::channel::Flow;
use erp_bridge::BridgeConfig;
use erp_bridge::nats_source::ingest_stream;
use serde_json::json;
use test_support::{NatsServer, eventually};

const NS: &str = "natsrc";
const ERP: &str = "erp";
const SUBJECT: &str = "acme.erp.events.>";

fn inventory_event(id: &str, sku: &str, available: i64) -> Event {
    Event {
        id: id.into(),
        source: "/acme/erp".into(),
        time: chrono::Utc::now(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: format!("acme:{id}").as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: chrono::Utc::now(),
        }),
    }
}

async fn publish(
    js: &async_nats::jetstream::Context,
    headers: async_nats::HeaderMap,
    payload: Vec<u8>,
) {
    js.publish_with_headers("acme.erp.events.stock", headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn publish_event(js: &async_nats::jetstream::Context, event: &Event) {
    let (mut headers, payload) = encode(event, None).unwrap();
    // The ERP's own publish carries no de-duplication id: the bridge's republish must de-duplicate.
    headers.remove("Nats-Msg-Id");
    publish(js, to_header_map(&headers), payload).await;
}

#[tokio::test]
async fn good_events_are_republished_once_in_order_and_bad_ones_dead_lettered() {
    let nats = NatsServer::start().await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
erpConnection: {ERP}
spec:
  source:
    nats: {{subject: "{SUBJECT}"}}
  sink:
    rest: {{baseUrl: "http://127.0.0.1:1"}}
nats: {{url: "{}"}}
secretsDir: "{}"
"#,
        nats.url(),
        secrets.path().display()
    );
    let config = BridgeConfig::parse("test", &yaml).unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(erp_bridge::run(
        config,
        shutdown.clone(),
        Arc::new(Metrics::new()),
    ));
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let ingest = ingest_stream(&ns, ERP, SUBJECT).name;
    eventually(
        Duration::from_secs(20),
        "the ingest stream exists",
        || async { js.get_stream(&ingest).await.is_ok() },
    )
    .await;

    publish_event(&js, &inventory_event("stock-1", "A", 1)).await;
    // A channel's record is not something an ERP sends.
    let order: serde_json::Value = serde_json::from_str(include_str!(
        "../../adapter-runtime/tests/fixtures/order.json"
    ))
    .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-type", "dev.tradewind.order.v1"),
        ("ce-id", "order-1"),
        ("ce-source", "/acme/erp"),
        ("ce-time", "2026-11-28T10:00:00Z"),
    ] {
        headers.insert(name, value);
    }
    publish(&js, headers, serde_json::to_vec(&order).unwrap()).await;
    // A record breaking its invariants.
    publish_event(&js, &inventory_event("stock-bad", "B", -5)).await;
    // Not JSON at all.
    publish(&js, async_nats::HeaderMap::new(), b"stock A=3".to_vec()).await;
    // A plain record without CloudEvents headers, with the ERP's own message id.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "price-7");
    let price = json!({"type": "price", "data": {"correlationId": "acme:price-7", "sku": "A",
        "price": {"amount": "12.50", "currency": "EUR"}, "asOf": "2026-11-28T10:00:00Z"}});
    publish(&js, headers, serde_json::to_vec(&price).unwrap()).await;
    publish_event(&js, &inventory_event("stock-2", "A", 2)).await;
    // The ERP publishes stock-2 again (its own retry): stored once.
    publish_event(&js, &inventory_event("stock-2", "A", 2)).await;

    let letters = DeadLetterStore::new(js.clone(), ns.clone());
    eventually(
        Duration::from_secs(20),
        "three events are dead-lettered",
        || async { letters.list(None, None).await.unwrap().len() == 3 },
    )
    .await;
    let reasons: Vec<String> = letters
        .list(None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.letter.reason)
        .collect();
    assert!(
        reasons[0].contains("does not come from an ERP"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("available"), "{reasons:?}");
    assert!(reasons[2].contains("not JSON"), "{reasons:?}");

    let inventory = ns.erp_stream(ERP, Flow::Inventory).name;
    eventually(
        Duration::from_secs(20),
        "the ingest stream is drained",
        || async {
            let mut stream = js.get_stream(&ingest).await.unwrap();
            let mut consumer = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>("bridge")
                .await
                .unwrap();
            let info = consumer.info().await.unwrap();
            info.num_pending == 0 && info.num_ack_pending == 0 && stream.info().await.is_ok()
        },
    )
    .await;
    let mut stream = js.get_stream(&inventory).await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.last_sequence,
        2,
        "stock-1 and stock-2, the repeat de-duplicated"
    );
    let last = stream
        .get_last_raw_message_by_subject(&ns.erp_subject(ERP, Flow::Inventory, "A"))
        .await
        .unwrap();
    let event = decode(&from_header_map(&last.headers), &last.payload).unwrap();
    assert_eq!(event.id, "erp:nats:stock-2");
    let Record::Inventory(position) = event.record else {
        panic!("not inventory")
    };
    assert_eq!(position.available, 2, "the newer event is the last one");

    let prices = js
        .get_stream(&ns.erp_stream(ERP, Flow::Price).name)
        .await
        .unwrap();
    let last = prices
        .get_last_raw_message_by_subject(&ns.erp_subject(ERP, Flow::Price, "A"))
        .await
        .unwrap();
    let event = decode(&from_header_map(&last.headers), &last.payload).unwrap();
    assert_eq!(event.id, "erp:nats:price-7");

    shutdown.trigger();
    task.await.unwrap().unwrap();
}
