//! The bridge against a real PostgreSQL (the demo ERP's schema and outbox), a real NATS server and the demo
//! ERP's REST API, which honours the idempotency key and nothing else: outbox events in order, bad rows
//! dead-lettered without blocking, orders posted exactly once in effect across a bridge killed mid-batch,
//! refused orders dead-lettered with the ERP's words, and the ERP contract: a revision that changes nothing the
//! ERP acts on (our own shipment confirmation) sends nothing, a changed line one update, and a killed and
//! restarted bridge neither a second create nor a repeated update.

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
    order.revision = revision;
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
    // What the killed bridge had in flight comes back after the consumer's ack wait (30 s).
    eventually(
        Duration::from_secs(60),
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

/// Waits until the orders sink consumer has delivered and had acknowledged `published` messages.
async fn sink_drained(js: &async_nats::jetstream::Context, ns: &Namespace, published: u64) {
    let sink = erp_bridge::sink::consumer_def(ns, ERP, MP, crds::channel::Flow::Orders, 1);
    eventually(
        Duration::from_secs(60),
        "every order message is handled",
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
                && info.delivered.stream_sequence >= published
        },
    )
    .await;
}

/// NATS, a database, the demo ERP (shipping `ship_after` an order arrives, two SKUs in stock) and the
/// marketplace's stream: what the contract tests start from.
async fn contract_setup(
    ship_after: Duration,
) -> (
    NatsServer,
    TestDatabase,
    DemoErp,
    async_nats::jetstream::Context,
    Namespace,
) {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = demo_erp(&db, ship_after).await;
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.marketplace_stream(MP))
        .await
        .unwrap();
    (nats, db, erp, js, ns)
}

async fn demo_erp(db: &TestDatabase, ship_after: Duration) -> DemoErp {
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    for sku in ["TW-1001", "TW-2002"] {
        erp.add_item(sku, sku, "1.00", "USD", &[("DAL", 10_000)])
            .await
            .unwrap();
    }
    erp
}

async fn publish_order(js: &async_nats::jetstream::Context, ns: &Namespace, event: &Event) {
    let Record::Order(order) = &event.record else {
        panic!("not an order")
    };
    let id = order.order_id.to_string();
    publish_event(js, &ns.erp_order_subject(MP, &id), event, Some(&id))
        .await
        .unwrap();
}

/// `(method, key, outcome's first word)` of every request the demo ERP received.
async fn requests(erp: &DemoErp) -> Vec<(String, String, String)> {
    erp.requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let word = r
                .outcome
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .to_string();
            (r.method, r.idempotency_key.unwrap_or_default(), word)
        })
        .collect()
}

/// Our own shipment confirmation moves the channel's order to `Shipped` and gives it a new revision, which
/// comes back through the orders flow: it changes nothing the ERP acts on, so nothing is sent, and an ERP that
/// honours only the key holds one sales order; the one answer goes back to the channel.
#[tokio::test]
async fn a_revision_made_by_our_own_shipment_sends_nothing() {
    let (nats, db, erp, js, ns) = contract_setup(Duration::from_millis(200)).await;
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));
    publish_order(&js, &ns, &order_revision("115-0001", "TW-1001", 1)).await;
    eventually(
        Duration::from_secs(30),
        "the ERP ships the order",
        || async { erp.shipments().await.unwrap().len() == 1 },
    )
    .await;
    // What the channel says after our confirmation (and a payment status change after that).
    let mut shipped = order_revision("115-0001", "TW-1001", 2);
    let Record::Order(o) = &mut shipped.record else {
        unreachable!()
    };
    o.status = adapter_runtime::canonical::OrderStatus::Shipped;
    o.updated_at = Utc::now();
    o.buyer.email = Some("masked@marketplace.example".into());
    publish_order(&js, &ns, &shipped).await;
    sink_drained(&js, &ns, 2).await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), 1, "one sales order: {orders:?}");
    assert_eq!(orders[0].status, "shipped");
    assert_eq!(
        requests(&erp).await,
        [("POST".into(), format!("{MP}:115-0001"), "created".into())],
        "the shipped revision sent nothing"
    );
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

/// A revision that changes a line is one update, under its own key, applied by the ERP; the same revision
/// delivered again sends nothing more.
#[tokio::test]
async fn a_changed_line_is_sent_as_one_update() {
    let (nats, db, erp, js, ns) = contract_setup(Duration::from_secs(3600)).await;
    publish_order(&js, &ns, &order_revision("116-0001", "TW-1001", 1)).await;
    let mut changed = order_revision("116-0001", "TW-1001", 2);
    let Record::Order(o) = &mut changed.record else {
        unreachable!()
    };
    o.lines[0].quantity = 7;
    publish_order(&js, &ns, &changed).await;
    // The same revision again, as a replay would publish it (another message id, the same record).
    changed.id = format!("{}:replay:9", changed.id);
    publish_order(&js, &ns, &changed).await;
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));
    sink_drained(&js, &ns, 3).await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    assert_eq!(
        requests(&erp).await,
        [
            ("POST".into(), format!("{MP}:116-0001"), "created".into()),
            (
                "PATCH".into(),
                format!("{MP}:116-0001:update:2"),
                "updated".into()
            ),
        ]
    );
    let stock = erp.stock().await.unwrap();
    let reserved: i64 = stock
        .iter()
        .filter(|s| s.sku == "TW-1001")
        .map(|s| s.reserved)
        .sum();
    assert_eq!(
        reserved,
        7 + 1,
        "the ERP holds the new quantity of the first line and the second line's"
    );
}

/// Orders and their changed revisions, with the bridge killed mid-way and started again: each channel order is
/// one sales order, each update applied once (a request repeated after the kill carries the same key and is
/// answered as a repeat), and a full redelivery afterwards sends the ERP nothing at all.
#[tokio::test]
async fn a_killed_bridge_sends_no_second_create_and_no_repeated_update() {
    let (nats, db, erp, js, ns) = contract_setup(Duration::from_secs(3600)).await;
    const ORDERS: usize = 40;
    for i in 0..ORDERS {
        let id = format!("117-{i:04}");
        publish_order(&js, &ns, &order_revision(&id, "TW-1001", 1)).await;
        let mut changed = order_revision(&id, "TW-1001", 2);
        let Record::Order(o) = &mut changed.record else {
            unreachable!()
        };
        o.lines[1].quantity = 3;
        publish_order(&js, &ns, &changed).await;
    }
    let secrets = tempfile::tempdir().unwrap();
    let bridge_config = config(&nats, &db, &erp, secrets.path());
    let (_, first) = start(bridge_config.clone());
    eventually(Duration::from_secs(30), "some orders are sent", || async {
        erp.requests().await.unwrap().len() >= ORDERS / 2
    })
    .await;
    first.abort(); // killed mid-batch
    let _ = first.await;
    let (shutdown, second) = start(bridge_config.clone());
    sink_drained(&js, &ns, (2 * ORDERS) as u64).await;
    shutdown.trigger();
    second.await.unwrap().unwrap();

    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), ORDERS, "one sales order per channel order");
    let sent = requests(&erp).await;
    for (kind, key_of) in [
        (
            "create",
            Box::new(|id: &str| format!("{MP}:{id}")) as Box<dyn Fn(&str) -> String>,
        ),
        ("update", Box::new(|id: &str| format!("{MP}:{id}:update:2"))),
    ] {
        for i in 0..ORDERS {
            let key = key_of(&format!("117-{i:04}"));
            let outcomes: Vec<&str> = sent
                .iter()
                .filter(|(_, k, _)| *k == key)
                .map(|(_, _, outcome)| outcome.as_str())
                .collect();
            let applied = outcomes
                .iter()
                .filter(|o| matches!(**o, "created" | "updated"))
                .count();
            assert_eq!(applied, 1, "{kind} {key} applied once: {outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(*o, "created" | "updated" | "repeated")),
                "{kind} {key}: {outcomes:?}"
            );
        }
    }
    let repeats = sent.iter().filter(|(_, _, o)| o == "repeated").count();
    assert_eq!(
        sent.len(),
        2 * ORDERS + repeats,
        "nothing but the creates, the updates and repeats of what was in flight at the kill"
    );

    // Everything delivered again to a restarted bridge: it remembers what it sent, and sends nothing.
    let sink = erp_bridge::sink::consumer_def(&ns, ERP, MP, crds::channel::Flow::Orders, 1);
    js.get_stream(&sink.stream)
        .await
        .unwrap()
        .delete_consumer(&sink.durable_name)
        .await
        .unwrap();
    let (shutdown, third) = start(bridge_config);
    sink_drained(&js, &ns, (2 * ORDERS) as u64).await;
    shutdown.trigger();
    third.await.unwrap().unwrap();
    assert_eq!(
        erp.requests().await.unwrap().len(),
        sent.len(),
        "a full redelivery sent the ERP nothing"
    );
}

/// A buyer's cancellation reaches the ERP under its key and releases the order's stock; one read again (a
/// re-poll, a cancelled revision) sends nothing more.
#[tokio::test]
async fn a_cancellation_is_sent_once_and_applied() {
    let (nats, db, erp, js, ns) = contract_setup(Duration::from_secs(3600)).await;
    let created = order_revision("118-0001", "TW-1001", 1);
    publish_order(&js, &ns, &created).await;
    let Record::Order(order) = &created.record else {
        unreachable!()
    };
    let mut cancellation = erp_bridge::contract::cancellation_of(order);
    cancellation.requested_by = adapter_runtime::canonical::CancelledBy::Buyer;
    let event = Event {
        id: format!("{MP}:118-0001:cancel:1:accepted"),
        record: Record::OrderCancellation(cancellation),
        ..created.clone()
    };
    publish_event(
        &js,
        &ns.erp_order_subject(MP, "118-0001"),
        &event,
        Some("118-0001"),
    )
    .await
    .unwrap();
    let mut cancelled = order_revision("118-0001", "TW-1001", 2);
    let Record::Order(o) = &mut cancelled.record else {
        unreachable!()
    };
    o.status = adapter_runtime::canonical::OrderStatus::Cancelled;
    publish_order(&js, &ns, &cancelled).await;
    let secrets = tempfile::tempdir().unwrap();
    let (shutdown, task) = start(config(&nats, &db, &erp, secrets.path()));
    sink_drained(&js, &ns, 3).await;
    shutdown.trigger();
    task.await.unwrap().unwrap();
    assert_eq!(
        requests(&erp).await,
        [
            ("POST".into(), format!("{MP}:118-0001"), "created".into()),
            (
                "POST".into(),
                format!("{MP}:118-0001:cancel"),
                "cancelled".into()
            ),
        ]
    );
    assert_eq!(erp.sales_orders().await.unwrap()[0].status, "cancelled");
    let reserved: i64 = erp.stock().await.unwrap().iter().map(|s| s.reserved).sum();
    assert_eq!(reserved, 0);
}
