//! The bridge against a real PostgreSQL (the demo ERP's schema and outbox), a real NATS server and the demo
//! ERP's REST API: outbox events in order, bad rows dead-lettered without blocking, orders posted exactly once
//! in effect across a bridge killed mid-batch, refused orders dead-lettered with the ERP's words.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{Order, Record};
use adapter_runtime::envelope::{Event, decode};
use adapter_runtime::flow::Shutdown;
use adapter_runtime::jetstream::{DeadLetterStore, ensure_stream, from_header_map, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::{Namespace, order_message_id};
use chrono::Utc;
use demo_erp::{DemoErp, Options};
use erp_bridge::BridgeConfig;
use futures::StreamExt;
use test_support::{NatsServer, TestDatabase, eventually};

const NS: &str = "bridge";
const ERP: &str = "demo-erp";
const MP: &str = "amazon-us";

fn config(
    nats: &NatsServer,
    db: &TestDatabase,
    erp: &DemoErp,
    secrets: &std::path::Path,
) -> BridgeConfig {
    config_polling(nats, db, erp, secrets, "100ms")
}

fn config_polling(
    nats: &NatsServer,
    db: &TestDatabase,
    erp: &DemoErp,
    secrets: &std::path::Path,
    poll_interval: &str,
) -> BridgeConfig {
    std::fs::create_dir_all(secrets.join("demo-erp")).unwrap();
    std::fs::write(secrets.join("demo-erp/dsn"), db.url()).unwrap();
    std::fs::write(secrets.join("demo-erp/api-token"), "demo-only-token").unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
erpConnection: {ERP}
marketplaces: [{MP}]
spec:
  source:
    postgresOutbox:
      dsnSecretRef: {{name: demo-erp, key: dsn}}
      batchSize: 50
      pollInterval: {poll_interval}
  sink:
    rest:
      baseUrl: "{}"
      tokenSecretRef: {{name: demo-erp, key: api-token}}
      concurrency: 4
nats: {{url: "{}"}}
secretsDir: "{}"
httpAddress: "127.0.0.1:0"
"#,
        erp.url(),
        nats.url(),
        secrets.display()
    );
    let path = secrets.join("bridge.yaml");
    std::fs::write(&path, yaml).unwrap();
    BridgeConfig::load(&path).unwrap()
}

fn order(id: &str, sku: &str) -> Event {
    order_revision(id, sku, 1)
}

/// Revision `revision` of channel order `id`, as the order process publishes it for the sink.
fn order_revision(id: &str, sku: &str, revision: u32) -> Event {
    let mut order: Order = serde_json::from_str(include_str!(
        "../../adapter-runtime/tests/fixtures/order.json"
    ))
    .unwrap();
    order.order_id = id.try_into().unwrap();
    order.correlation_id = format!("{MP}:{id}").as_str().try_into().unwrap();
    for line in &mut order.lines {
        line.sku = sku.try_into().unwrap();
    }
    Event {
        id: format!("{}:accepted", order_message_id(MP, id, revision)),
        source: "/tradewind/bridge/marketplace/amazon-us".into(),
        time: Utc::now(),
        traceparent: None,
        record: Record::Order(Box::new(order)),
    }
}

fn start(config: BridgeConfig) -> (Shutdown, tokio::task::JoinHandle<Result<(), String>>) {
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(erp_bridge::run(config, stop, Arc::new(Metrics::new())));
    (shutdown, task)
}

#[tokio::test]
async fn outbox_events_arrive_in_order_and_a_bad_row_does_not_block_the_rest() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(db.url(), "127.0.0.1:0", Options::default())
        .await
        .unwrap();
    erp.add_item("A", "a", "1.00", "USD", &[("DAL", 1)])
        .await
        .unwrap();
    erp.add_item("B", "b", "2.00", "USD", &[("DAL", 100)])
        .await
        .unwrap();
    for quantity in 2..=20 {
        erp.set_stock("A", "DAL", quantity).await.unwrap();
    }
    let client = db.client().await.unwrap();
    client
        .execute(
            "INSERT INTO tradewind_outbox (kind, key, payload) VALUES ('inventory', 'X', '{\"type\": \"inventory\", \"data\": {\"sku\": \"X\"}}')",
            &[],
        )
        .await
        .unwrap();
    erp.set_stock("B", "DAL", 99).await.unwrap();

    let subscriber_client = nats.client().await.unwrap();
    let mut events = subscriber_client
        .subscribe(format!("tw.{NS}.erp.{ERP}.inventory.>"))
        .await
        .unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));

    let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.get("B").is_none_or(|b| b.last() != Some(&99)) {
        let message = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap()
            .unwrap();
        let headers = from_header_map(message.headers.as_ref().unwrap());
        let event = decode(&headers, &message.payload).unwrap();
        if let Record::Inventory(p) = event.record {
            seen.entry(p.sku.to_string()).or_default().push(p.available);
        }
    }
    assert_eq!(
        seen["A"],
        (1..=20).collect::<Vec<i64>>(),
        "every change of A, in order"
    );
    assert_eq!(seen["B"], [100, 99]);

    eventually(
        Duration::from_secs(10),
        "every outbox row is marked sent",
        || async { erp.unsent_outbox_rows().await.unwrap() == 0 },
    )
    .await;
    let js = nats.jetstream().await.unwrap();
    let letters = DeadLetterStore::new(js, Namespace::new(NS))
        .list(None, None)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].letter.reason.contains("not a canonical record"),
        "{}",
        letters[0].letter.reason
    );
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn orders_are_posted_exactly_once_across_a_killed_bridge() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_secs(3600),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    erp.add_item("TW-1001", "bolt", "1.00", "USD", &[("DAL", 10_000)])
        .await
        .unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.marketplace_stream(MP))
        .await
        .unwrap();
    const ORDERS: usize = 60;
    for i in 0..ORDERS {
        let id = format!("113-{i:04}");
        publish_event(
            &js,
            &ns.erp_order_subject(MP, &id),
            &order(&id, "TW-1001"),
            Some(&id),
        )
        .await
        .unwrap();
    }
    publish_event(
        &js,
        &ns.erp_order_subject(MP, "113-BAD"),
        &order("113-BAD", "NO-SUCH-SKU"),
        Some("113-BAD"),
    )
    .await
    .unwrap();

    let secrets = tempfile::tempdir().unwrap();
    let bridge_config = config(&nats, &db, &erp, secrets.path());
    let (_, first) = start(bridge_config.clone());
    eventually(
        Duration::from_secs(20),
        "some orders are posted",
        || async { erp.sales_orders().await.unwrap().len() >= ORDERS / 4 },
    )
    .await;
    first.abort(); // killed mid-batch: whatever was in flight is redelivered to the next bridge
    let _ = first.await;
    let (shutdown, second) = start(bridge_config);
    eventually(
        Duration::from_secs(60),
        "every order is in the ERP",
        || async { erp.sales_orders().await.unwrap().len() == ORDERS },
    )
    .await;

    let orders = erp.sales_orders().await.unwrap();
    let ids: HashSet<&str> = orders.iter().map(|o| o.channel_order_id.as_str()).collect();
    assert_eq!(ids.len(), ORDERS, "one sales order per channel order");
    let numbers: HashSet<&str> = orders.iter().map(|o| o.number.as_str()).collect();
    assert_eq!(numbers.len(), ORDERS);

    // Every order's acceptance goes back for the channel flow, with the ERP's number; the bad one is refused.
    let updates_stream = ns.order_update_stream(ERP).name;
    eventually(
        Duration::from_secs(20),
        "every answer is published",
        || async {
            let mut stream = js.get_stream(&updates_stream).await.unwrap();
            stream.info().await.unwrap().state.messages >= (ORDERS + 1) as u64
        },
    )
    .await;
    let letters = DeadLetterStore::new(js.clone(), ns.clone())
        .list(Some(MP), None)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].letter.reason.contains("NO-SUCH-SKU"),
        "{}",
        letters[0].letter.reason
    );
    shutdown.trigger();
    second.await.unwrap().unwrap();
}

#[tokio::test]
async fn lost_answers_are_retried_into_the_same_sales_order() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    const ORDERS: usize = 12;
    const LOST: usize = 8;
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_secs(3600),
            lose_answers: LOST,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    erp.add_item("TW-1001", "bolt", "1.00", "USD", &[("DAL", 10_000)])
        .await
        .unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.marketplace_stream(MP))
        .await
        .unwrap();
    for i in 0..ORDERS {
        let id = format!("114-{i:04}");
        publish_event(
            &js,
            &ns.erp_order_subject(MP, &id),
            &order(&id, "TW-1001"),
            Some(&id),
        )
        .await
        .unwrap();
    }
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));
    let updates = ns.order_update_stream(ERP).name;
    eventually(
        Duration::from_secs(60),
        "every order is accepted",
        || async {
            match js.get_stream(&updates).await {
                Ok(mut stream) => stream.info().await.unwrap().state.messages == ORDERS as u64,
                Err(_) => false,
            }
        },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), ORDERS, "one sales order per order");
    let posts: i32 = orders.iter().map(|o| o.posts).sum();
    assert!(
        posts >= (ORDERS + LOST) as i32,
        "each lost answer was followed by a retry ({posts} posts)"
    );
    // Each acceptance carries the number of the one sales order the ERP made.
    let numbers: BTreeMap<String, String> = orders
        .iter()
        .map(|o| (o.channel_order_id.clone(), o.number.clone()))
        .collect();
    let stream = js.get_stream(&updates).await.unwrap();
    for sequence in 1..=ORDERS as u64 {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let event = decode(&from_header_map(&message.headers), &message.payload).unwrap();
        let Record::OrderAcknowledgement(ack) = event.record else {
            panic!("not an acknowledgement")
        };
        let adapter_runtime::canonical::AcknowledgementOutcome::Accepted { erp_order_number } =
            ack.outcome
        else {
            panic!("{} was not accepted", ack.order_id)
        };
        assert_eq!(numbers[ack.order_id.as_str()], erp_order_number);
    }
}

#[tokio::test]
async fn a_notify_wakes_the_outbox_long_before_its_poll_interval() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(db.url(), "127.0.0.1:0", Options::default())
        .await
        .unwrap();
    erp.add_item("N-1", "nut", "1.00", "USD", &[("DAL", 5)])
        .await
        .unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config_polling(&nats, &db, &erp, secrets.path(), "1h"));
    eventually(
        Duration::from_secs(20),
        "the rows there at start are published",
        || async { erp.unsent_outbox_rows().await.unwrap() == 0 },
    )
    .await;
    let subscriber = nats.client().await.unwrap();
    let mut events = subscriber
        .subscribe(format!("tw.{NS}.erp.{ERP}.inventory.>"))
        .await
        .unwrap();
    erp.set_stock("N-1", "DAL", 4).await.unwrap();
    // The poll interval is an hour: only the trigger's NOTIFY can bring the change this soon.
    let message = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the change arrives without waiting for the poll")
        .unwrap();
    let event = decode(
        &from_header_map(message.headers.as_ref().unwrap()),
        &message.payload,
    )
    .unwrap();
    let Record::Inventory(position) = event.record else {
        panic!("not inventory")
    };
    assert_eq!(position.available, 4);
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_new_revision_of_an_accepted_order_is_not_answered_twice() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_secs(3600),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    erp.add_item("TW-1001", "bolt", "1.00", "USD", &[("DAL", 100)])
        .await
        .unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.marketplace_stream(MP))
        .await
        .unwrap();
    for revision in [1, 2] {
        publish_event(
            &js,
            &ns.erp_order_subject(MP, "115-0001"),
            &order_revision("115-0001", "TW-1001", revision),
            Some("115-0001"),
        )
        .await
        .unwrap();
    }
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));
    let sink = erp_bridge::sink::consumer_def(&ns, ERP, MP, crds::channel::Flow::Orders, 1);
    eventually(
        Duration::from_secs(30),
        "both revisions are posted and answered",
        || async {
            let Ok(mut consumer) = js
                .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                    &sink.durable_name,
                    &sink.stream,
                )
                .await
            else {
                return false;
            };
            let info = consumer.info().await.unwrap();
            info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence == 2
        },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), 1, "one sales order for the order");
    assert_eq!(orders[0].posts, 2, "both revisions were posted");
    let mut updates = js
        .get_stream(ns.order_update_stream(ERP).name)
        .await
        .unwrap();
    assert_eq!(
        updates.info().await.unwrap().state.messages,
        1,
        "one acceptance for the channel"
    );
}
