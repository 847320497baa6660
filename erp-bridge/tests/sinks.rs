//! The three sinks against real servers: orders, their updates and cancellations, returns and settlements reach
//! the ERP once in effect, as the ERP contract says, even when the bridge is killed and every message is
//! delivered again (the durable consumers reset).
//! - PostgreSQL: rows keyed by idempotency key, one order row per channel order and an update row per change,
//!   duplicates ignored across a bridge restart, money exact;
//! - REST (the demo ERP): returns and settlements posted with their keys, an update and a cancellation on the
//!   sales order's own paths;
//! - NATS: records published once under the prefix, on a subject of their operation's kind, a redelivery
//!   dropped by de-duplication.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{Order, OrderStatus, Record};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::{Shutdown, identity};
use adapter_runtime::jetstream::{ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::{Namespace, order_message_id};
use chrono::Utc;
use crds::channel::Flow;
use demo_erp::{DemoErp, Options};
use erp_bridge::BridgeConfig;
use erp_bridge::sink::{SINK_FLOWS, consumer_def};
use rust_decimal::Decimal;
use serde_json::json;
use test_support::{NatsServer, TestDatabase, eventually};

const NS: &str = "sinks";
const ERP: &str = "erp";
const MP: &str = "mirakl-fr";
const ORDERS: usize = 25;
/// Order changes the ERP is sent besides the creations: one update (a changed line), one cancellation.
const CHANGES: usize = 2;

fn canonical_order(id: &str, revision: u32) -> Order {
    let mut order: Order = serde_json::from_str(include_str!(
        "../../adapter-runtime/tests/fixtures/order.json"
    ))
    .unwrap();
    order.marketplace = MP.try_into().unwrap();
    order.order_id = id.try_into().unwrap();
    order.revision = revision;
    order.correlation_id = format!("{MP}:{id}").as_str().try_into().unwrap();
    order
}

fn a_return(id: &str, order_id: &str) -> Record {
    serde_json::from_value(json!({"type": "return", "data": {
        "correlationId": format!("{MP}:{order_id}"), "marketplace": MP, "orderId": order_id,
        "returnId": id, "status": "Requested",
        "lines": [{"lineId": "1", "sku": "TW-1001", "quantity": 1, "reason": "damaged"}],
        "refund": {"amount": "19.99", "currency": "EUR"},
        "createdAt": "2026-11-27T09:00:00Z"}}))
    .unwrap()
}

fn settlement(id: &str) -> Record {
    serde_json::from_value(json!({"type": "settlement", "data": {
        "correlationId": format!("{MP}:settlement:{id}"), "marketplace": MP, "settlementId": id,
        "periodStart": "2026-11-01T00:00:00Z", "periodEnd": "2026-11-15T00:00:00Z", "currency": "EUR",
        "total": {"amount": "1234.57", "currency": "EUR"},
        "lines": [
            {"kind": "Sale", "orderId": "o-1", "amount": {"amount": "1300.07", "currency": "EUR"},
             "description": "sales", "postedAt": "2026-11-14T00:00:00Z"},
            {"kind": "Fee", "amount": {"amount": "-65.50", "currency": "EUR"},
             "description": "commission", "postedAt": "2026-11-14T00:00:00Z"}]}}))
    .unwrap()
}

/// Publishes what a marketplace's adapter would: orders that passed the order process, returns and a
/// settlement, each with the message id the adapter gives it.
async fn publish_channel_records(nats: &NatsServer) -> usize {
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.marketplace_stream(MP))
        .await
        .unwrap();
    let event = |id: String, record: Record| Event {
        id,
        source: format!("/tradewind/{NS}/marketplace/{MP}"),
        time: Utc::now(),
        traceparent: None,
        record,
    };
    for i in 0..ORDERS {
        let id = format!("FR-{i:03}");
        let subject = ns.erp_order_subject(MP, &id);
        let e = event(
            order_message_id(MP, &id, 1),
            Record::Order(Box::new(canonical_order(&id, 1))),
        );
        publish_event(&js, &subject, &e, Some(&id)).await.unwrap();
    }
    // FR-000 shipped (nothing for the ERP), then a line changed (one update); FR-001 cancelled by the buyer.
    let mut shipped = canonical_order("FR-000", 2);
    shipped.status = OrderStatus::Shipped;
    let mut changed = canonical_order("FR-000", 3);
    changed.lines[0].quantity = 5;
    let cancelled = erp_bridge::contract::cancellation_of(&canonical_order("FR-001", 2));
    for (revision, record) in [
        (2, Record::Order(Box::new(shipped))),
        (3, Record::Order(Box::new(changed))),
        (2, Record::OrderCancellation(cancelled)),
    ] {
        let id = match &record {
            Record::Order(o) => o.order_id.to_string(),
            Record::OrderCancellation(c) => c.order_id.to_string(),
            _ => unreachable!(),
        };
        let e = event(order_message_id(MP, &id, revision), record);
        publish_event(&js, &ns.erp_order_subject(MP, &id), &e, Some(&id))
            .await
            .unwrap();
    }
    let mut others = vec![
        a_return("R-1", "FR-001"),
        a_return("R-2", "FR-002"),
        settlement("S-2026-11-15"),
    ];
    let count = others.len();
    for record in others.drain(..) {
        let (id, key) = identity(MP, &record);
        let flow = match record {
            Record::Return(_) => Flow::Returns,
            _ => Flow::Settlements,
        };
        let subject = ns.marketplace_subject(MP, flow, &key);
        publish_event(&js, &subject, &event(id, record), Some(&key))
            .await
            .unwrap();
    }
    count
}

fn config(nats: &NatsServer, secrets: &std::path::Path, sink: &str) -> BridgeConfig {
    let yaml = format!(
        r#"
namespace: {NS}
erpConnection: {ERP}
marketplaces: [{MP}]
spec:
  source:
    nats: {{subject: "acme.erp.events.>"}}
  sink:
    {sink}
nats: {{url: "{}"}}
secretsDir: "{}"
"#,
        nats.url(),
        secrets.display()
    );
    BridgeConfig::parse("test", &yaml).unwrap()
}

fn start(config: BridgeConfig) -> (Shutdown, tokio::task::JoinHandle<Result<(), String>>) {
    let shutdown = Shutdown::new();
    let task = tokio::spawn(erp_bridge::run(
        config,
        shutdown.clone(),
        Arc::new(Metrics::new()),
    ));
    (shutdown, task)
}

/// Deletes the sink's durable consumers, so that a bridge started next receives every record again: the
/// harshest redelivery there is.
async fn reset_consumers(nats: &NatsServer) {
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    for flow in SINK_FLOWS {
        let def = consumer_def(&ns, ERP, MP, flow, 1);
        let stream = js.get_stream(&def.stream).await.unwrap();
        stream.delete_consumer(&def.durable_name).await.unwrap();
    }
}

/// True once every sink consumer has delivered and had acknowledged everything.
async fn drained(nats: &NatsServer) -> bool {
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    for flow in SINK_FLOWS {
        let def = consumer_def(&ns, ERP, MP, flow, 1);
        let Ok(stream) = js.get_stream(&def.stream).await else {
            return false;
        };
        let Ok(mut consumer) = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&def.durable_name)
            .await
        else {
            return false;
        };
        match consumer.info().await {
            Ok(info) if info.num_pending == 0 && info.num_ack_pending == 0 => {}
            _ => return false,
        }
    }
    true
}

async fn pg_count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM erp.{table}"), &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

#[tokio::test]
async fn postgres_sink_stores_each_record_once_across_a_bridge_restart() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let client = db.client().await.unwrap();
    client.batch_execute("CREATE SCHEMA erp").await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(secrets.path().join("erp-db")).unwrap();
    std::fs::write(secrets.path().join("erp-db/dsn"), db.url()).unwrap();
    let others = publish_channel_records(&nats).await;
    let config = config(
        &nats,
        secrets.path(),
        "postgres: {dsnSecretRef: {name: erp-db, key: dsn}, schema: erp, concurrency: 4}",
    );

    let (_, first) = start(config.clone());
    eventually(
        Duration::from_secs(30),
        "some orders are stored",
        || async { pg_count(&client, "tradewind_orders").await >= (ORDERS / 3) as i64 },
    )
    .await;
    first.abort(); // killed mid-way: what was in flight comes again
    let _ = first.await;
    let (shutdown, second) = start(config.clone());
    // What the killed bridge had in flight comes back after the consumers' ack wait (30 s).
    eventually(Duration::from_secs(60), "everything is stored", || async {
        pg_count(&client, "tradewind_orders").await == ORDERS as i64
            && pg_count(&client, "tradewind_order_updates").await == CHANGES as i64
            && pg_count(&client, "tradewind_returns").await
                + pg_count(&client, "tradewind_settlements").await
                == others as i64
            && drained(&nats).await
    })
    .await;
    shutdown.trigger();
    second.await.unwrap().unwrap();

    // Every record delivered again to a restarted bridge: nothing is inserted twice.
    reset_consumers(&nats).await;
    let (shutdown, third) = start(config);
    eventually(
        Duration::from_secs(30),
        "the redelivery is drained",
        || async { drained(&nats).await },
    )
    .await;
    shutdown.trigger();
    third.await.unwrap().unwrap();
    assert_eq!(pg_count(&client, "tradewind_orders").await, ORDERS as i64);
    assert_eq!(
        pg_count(&client, "tradewind_order_updates").await,
        CHANGES as i64
    );
    let changes: Vec<(String, String)> = client
        .query(
            "SELECT message_id, kind FROM erp.tradewind_order_updates ORDER BY message_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        changes,
        [
            (format!("{MP}:FR-000:update:3"), "update".into()),
            (format!("{MP}:FR-001:cancel"), "cancel".into()),
        ]
    );
    assert_eq!(pg_count(&client, "tradewind_returns").await, 2);
    assert_eq!(pg_count(&client, "tradewind_settlements").await, 1);

    let row = client
        .query_one(
            "SELECT message_id, total, record->'total'->>'amount' FROM erp.tradewind_settlements",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        format!("{MP}:settlement:S-2026-11-15")
    );
    let total: String = row.get(2);
    assert_eq!(total.parse::<Decimal>().unwrap(), Decimal::new(123_457, 2));
    let exact = client
        .query_one("SELECT total = 1234.57 FROM erp.tradewind_settlements", &[])
        .await
        .unwrap();
    assert!(
        exact.get::<_, bool>(0),
        "the numeric column holds the exact amount"
    );
    let keys = client
        .query_one(
            "SELECT count(*) FROM erp.tradewind_returns WHERE message_id = $1",
            &[&format!("{MP}:return:R-1:Requested")],
        )
        .await
        .unwrap();
    assert_eq!(keys.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn rest_sink_posts_returns_and_settlements_with_their_message_ids() {
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
    for sku in ["TW-1001", "TW-2002"] {
        erp.add_item(sku, sku, "19.99", "EUR", &[("PAR", 1_000)])
            .await
            .unwrap();
    }
    let secrets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(secrets.path().join("erp-api")).unwrap();
    std::fs::write(secrets.path().join("erp-api/token"), "demo-only-token").unwrap();
    publish_channel_records(&nats).await;
    let config = config(
        &nats,
        secrets.path(),
        &format!(
            "rest: {{baseUrl: \"{}\", tokenSecretRef: {{name: erp-api, key: token}}}}",
            erp.url()
        ),
    );
    let (shutdown, task) = start(config.clone());
    eventually(
        Duration::from_secs(30),
        "returns and settlement are posted",
        || async { erp.documents().await.unwrap().len() == 3 && drained(&nats).await },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    // Posted again after a restart that redelivers everything: the ERP sees the same keys, keeps one of each.
    reset_consumers(&nats).await;
    let (shutdown, task) = start(config);
    eventually(
        Duration::from_secs(30),
        "the redelivery is drained",
        || async { drained(&nats).await },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();
    let documents = erp.documents().await.unwrap();
    let keys: Vec<(&str, &str, i32)> = documents
        .iter()
        .map(|d| (d.kind.as_str(), d.idempotency_key.as_str(), d.posts))
        .collect();
    assert_eq!(documents.len(), 3, "{keys:?}");
    for (kind, key) in [
        ("return", format!("{MP}:return:R-1:Requested")),
        ("return", format!("{MP}:return:R-2:Requested")),
        ("settlement", format!("{MP}:settlement:S-2026-11-15")),
    ] {
        let document = documents
            .iter()
            .find(|d| d.idempotency_key == key)
            .unwrap_or_else(|| panic!("{key} not posted: {keys:?}"));
        assert_eq!(document.kind, kind);
        assert!(
            document.posts >= 2,
            "posted again on the redelivery: {keys:?}"
        );
    }
    // Orders went to the sales-order API, one each, whatever the redeliveries; the update and the cancellation
    // to the sales order's own paths.
    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), ORDERS);
    assert_eq!(
        orders
            .iter()
            .find(|o| o.channel_order_id == "FR-001")
            .unwrap()
            .status,
        "cancelled"
    );
    let changes: Vec<(String, String)> = erp
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.path.starts_with("/sales-orders/"))
        .map(|r| (r.method, r.path))
        .collect();
    assert!(
        changes.contains(&("PATCH".into(), format!("/sales-orders/{MP}/FR-000")))
            && changes.contains(&(
                "POST".into(),
                format!("/sales-orders/{MP}/FR-001/cancellation")
            )),
        "{changes:?}"
    );
}

#[tokio::test]
async fn nats_sink_publishes_each_record_once() {
    let nats = NatsServer::start().await.unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let others = publish_channel_records(&nats).await;
    let config = config(&nats, secrets.path(), "nats: {subjectPrefix: acme.erp.in}");
    let (shutdown, task) = start(config.clone());
    let js = nats.jetstream().await.unwrap();
    let stream = erp_bridge::nats_sink::sink_stream(&Namespace::new(NS), ERP, "acme.erp.in").name;
    let stored = || async {
        match js.get_stream(&stream).await {
            Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    };
    let total = (ORDERS + CHANGES + others) as u64;
    eventually(
        Duration::from_secs(30),
        "every record is published",
        || async { stored().await == total && drained(&nats).await },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();

    reset_consumers(&nats).await;
    let (shutdown, task) = start(config);
    eventually(
        Duration::from_secs(30),
        "the redelivery is drained",
        || async { drained(&nats).await },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap().unwrap();
    assert_eq!(
        stored().await,
        total,
        "the redelivered records were de-duplicated"
    );

    let s = js.get_stream(&stream).await.unwrap();
    let settlement = s
        .get_last_raw_message_by_subject(&format!("acme.erp.in.settlements.{MP}.S-2026-11-15"))
        .await
        .unwrap();
    let headers = adapter_runtime::jetstream::from_header_map(&settlement.headers);
    assert_eq!(
        headers["Nats-Msg-Id"],
        format!("{MP}:settlement:S-2026-11-15")
    );
    let event = adapter_runtime::envelope::decode(&headers, &settlement.payload).unwrap();
    assert!(matches!(event.record, Record::Settlement(_)));
    let update = s
        .get_last_raw_message_by_subject(&format!("acme.erp.in.order-updates.{MP}.FR-000"))
        .await
        .unwrap();
    let headers = adapter_runtime::jetstream::from_header_map(&update.headers);
    assert_eq!(headers["tw-erp-operation"], "update");
    assert_eq!(headers["tw-erp-changed"], "lines");
    assert_eq!(headers["Nats-Msg-Id"], format!("{MP}:FR-000:update:3"));
    let cancel = s
        .get_last_raw_message_by_subject(&format!("acme.erp.in.cancellations.{MP}.FR-001"))
        .await
        .unwrap();
    let headers = adapter_runtime::jetstream::from_header_map(&cancel.headers);
    let event = adapter_runtime::envelope::decode(&headers, &cancel.payload).unwrap();
    assert!(matches!(event.record, Record::OrderCancellation(_)));
}
