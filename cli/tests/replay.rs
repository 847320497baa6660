//! `twctl dlq replay` for every class of dead letter, on a real nats-server (and PostgreSQL where the ERP is in
//! it), each dead letter made by the component that makes it in production, and replayed by the binary:
//!
//! | dead letter | made by | a replay |
//! | --- | --- | --- |
//! | an ERP event a channel refused | the outbound flow | reaches that marketplace only, once; superseded by a newer value, is not sent |
//! | a channel order the order process refused | the order process | is processed again and goes to the ERP once |
//! | a raw record the connector could not read | the inbound flow | is read again by the connector (or dead-lettered again, still raw) and published once |
//! | a settlement exception | the inbound flow | sends its settlement again, which the ERP's key makes one |
//! | an order the ERP refused | the bridge's sink | is posted again and makes one sales order |
//! | an outbox row that was not a record | the bridge's outbox source | is rebuilt by the bridge's code and published once |
//! | an event from the ERP's NATS subject | the bridge's NATS source | goes back to the ERP's subject, for the bridge to read |

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, LocationStock, Order, Record, Settlement};
use adapter_runtime::connector::{Connector, ConnectorError, OutboundItem, PollPage, Rejected};
use adapter_runtime::envelope::{Event, decode};
use adapter_runtime::flow::{
    InboundFlow, InboundSettings, OrderProcess, OutboundFlow, OutboundSettings, RereadFlow,
    Shutdown,
};
use adapter_runtime::jetstream::{
    CursorStore, DeadLetter, DeadLetterStore, ErrorClass, H_REPLAY_FOR, StoredDeadLetter,
    ensure_consumer, ensure_kv, ensure_stream, from_header_map, publish_event,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "replay";
const ERP: &str = "erp";

fn twctl_replay(nats: &NatsServer, sequence: u64) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args(["dlq", "replay", &sequence.to_string()])
        .args(["--nats-url", &nats.url(), "-n", NS])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

async fn letters(js: &jetstream::Context, marketplace: &str) -> Vec<StoredDeadLetter> {
    DeadLetterStore::new(js.clone(), Namespace::new(NS))
        .list(Some(marketplace), None)
        .await
        .unwrap()
}

/// Waits for `marketplace`'s one dead letter, and gives it.
async fn the_dead_letter(js: &jetstream::Context, marketplace: &str) -> StoredDeadLetter {
    eventually(
        Duration::from_secs(20),
        "a dead letter is stored",
        || async { letters(js, marketplace).await.len() == 1 },
    )
    .await;
    letters(js, marketplace).await.remove(0)
}

/// Messages stored on `subject` (of `stream`).
async fn on_subject(js: &jetstream::Context, stream: &str, subject: &str) -> Vec<Event> {
    let stream = js.get_stream(stream).await.unwrap();
    let mut info = stream.clone();
    let last = info.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for sequence in 1..=last {
        if let Ok(message) = stream.get_raw_message(sequence).await
            && message.subject.as_str() == subject
        {
            let headers = from_header_map(&message.headers);
            out.push(decode(&headers, &message.payload).unwrap());
        }
    }
    out
}

/// A channel standing in for a real one: it records what it receives, refuses deliveries while `refuse` is
/// set, serves one page (records and rejected items) once, and reads a raw order `{"orderId": ...}` again once
/// `fixed`.
#[derive(Default)]
struct Channel {
    refuse: AtomicBool,
    fixed: AtomicBool,
    received: Mutex<Vec<(String, Value)>>,
    page: Mutex<Option<(Vec<Record>, Vec<Rejected>)>>,
}

impl Connector for Channel {
    fn max_batch(&self, _: Flow) -> usize {
        10
    }

    async fn deliver(&self, _: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        items
            .iter()
            .map(|item| {
                if self.refuse.load(Ordering::SeqCst) {
                    return Err(ConnectorError::permanent(format!(
                        "400: {} is not listed",
                        item.key
                    )));
                }
                self.received
                    .lock()
                    .unwrap()
                    .push((item.key.clone(), item.fields.clone()));
                Ok(())
            })
            .collect()
    }

    async fn poll(&self, _: Flow, _: Option<&str>) -> Result<PollPage, ConnectorError> {
        Ok(PollPage::default())
    }

    async fn poll_checked(
        &self,
        _: Flow,
        _: Option<&str>,
    ) -> Result<(PollPage, Vec<Rejected>), ConnectorError> {
        let (records, rejected) = self.page.lock().unwrap().take().unwrap_or_default();
        Ok((
            PollPage {
                records,
                next_cursor: Some("1".into()),
                more: false,
            },
            rejected,
        ))
    }

    fn reread(&self, _: Flow, raw: &[u8]) -> Result<Vec<Record>, String> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        if !self.fixed.load(Ordering::SeqCst) {
            return Err("lines[0].sku: missing".into());
        }
        let id = value["orderId"].as_str().ok_or("orderId: missing")?;
        Ok(vec![Record::Order(Box::new(order("shop", id, "TW-1")))])
    }
}

impl Channel {
    fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }
}

fn order(marketplace: &str, id: &str, sku: &str) -> Order {
    let mut order: Order = serde_json::from_str(include_str!(
        "../../adapter-runtime/tests/fixtures/order.json"
    ))
    .unwrap();
    order.marketplace = marketplace.try_into().unwrap();
    order.order_id = id.try_into().unwrap();
    order.correlation_id = format!("{marketplace}:{id}").as_str().try_into().unwrap();
    for line in &mut order.lines {
        line.sku = sku.try_into().unwrap();
    }
    order
}

fn inventory(sku: &str, available: i64, version: i64) -> Event {
    let id = format!("erp:outbox:{sku}-{version}");
    Event {
        id: id.clone(),
        source: "/tradewind/replay/erp/erp".into(),
        time: Utc.timestamp_opt(1_800_000_000 + version, 0).unwrap(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: vec![LocationStock {
                location: "DAL".into(),
                available,
            }],
            as_of: Utc.timestamp_opt(1_800_000_000 + version, 0).unwrap(),
        }),
    }
}

/// The outbound inventory flow of `marketplace` on the ERP's (last-value) inventory stream.
async fn outbound(
    js: &jetstream::Context,
    marketplace: &str,
    channel: Arc<Channel>,
) -> Arc<OutboundFlow<Channel>> {
    let ns = Namespace::new(NS);
    let consumer = ensure_consumer(
        js,
        &ns.erp_flow_consumer(ERP, marketplace, Flow::Inventory, 100),
    )
    .await
    .unwrap();
    Arc::new(OutboundFlow {
        settings: OutboundSettings {
            marketplace: marketplace.into(),
            flow: Flow::Inventory,
            fetch_batch: 100,
            coalesce_window: Duration::from_millis(50),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ack_wait: Duration::from_secs(30),
        },
        consumer,
        connector: channel,
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns)),
        prepare: Arc::new(|event: &Event| match &event.record {
            Record::Inventory(p) => Ok((p.sku.to_string(), json!({"qty": p.available}))),
            other => Err(format!("unexpected {}", other.event_type())),
        }),
        map: None,
        metrics: Arc::new(Metrics::new()),
    })
}

fn run<F: std::future::Future<Output = ()> + Send + 'static>(
    shutdown: &Shutdown,
    task: impl FnOnce(Shutdown) -> F,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(task(shutdown.clone()))
}

async fn lab() -> (NatsServer, jetstream::Context, Namespace) {
    let nats = NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    (nats, js, ns)
}

/// An inventory position Amazon refused, on the subject every marketplace reads: the replay reaches Amazon once
/// and Walmart, which had it, not again; replaying it twice sends nothing more. A position that a newer one
/// replaced and that went out after it is not sent at all.
#[tokio::test]
async fn an_erp_event_a_channel_refused_reaches_that_marketplace_only_once() {
    let (nats, js, ns) = lab().await;
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    let amazon = Arc::new(Channel::default());
    let walmart = Arc::new(Channel::default());
    amazon.refuse.store(true, Ordering::SeqCst);
    let shutdown = Shutdown::new();
    for (name, channel) in [("amazon-us", &amazon), ("walmart-us", &walmart)] {
        let flow = outbound(&js, name, channel.clone()).await;
        run(&shutdown, |stop| async move { flow.run(stop).await });
    }
    let subject = ns.erp_subject(ERP, Flow::Inventory, "A");
    publish_event(&js, &subject, &inventory("A", 5, 1), Some("A"))
        .await
        .unwrap();
    let letter = the_dead_letter(&js, "amazon-us").await;
    eventually(Duration::from_secs(10), "walmart has A", || async {
        walmart.received().len() == 1
    })
    .await;

    amazon.refuse.store(false, Ordering::SeqCst); // the listing is fixed on Amazon
    let first = twctl_replay(&nats, letter.sequence);
    assert!(first.contains("replayed"), "{first}");
    eventually(Duration::from_secs(10), "amazon has A", || async {
        amazon.received().len() == 1
    })
    .await;
    let second = twctl_replay(&nats, letter.sequence);
    assert!(second.contains("no such dead letter"), "{second}");
    // The replayed copy is on the shared subject, marked for Amazon: Walmart's flow took it and sent nothing.
    let stored = js
        .get_stream(ns.erp_stream(ERP, Flow::Inventory).name)
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    assert_eq!(
        from_header_map(&stored.headers)
            .get(H_REPLAY_FOR)
            .map(String::as_str),
        Some("amazon-us")
    );
    tokio::time::sleep(Duration::from_millis(500)).await; // both flows have fetched it (50 ms windows)
    assert_eq!(amazon.received(), [("A".to_string(), json!({"qty": 5}))]);
    assert_eq!(walmart.received().len(), 1, "{:?}", walmart.received());

    // B at 3 refused; then B at 4, delivered: replaying B at 3 would send an older value, so nothing is sent.
    amazon.refuse.store(true, Ordering::SeqCst);
    publish_event(
        &js,
        &ns.erp_subject(ERP, Flow::Inventory, "B"),
        &inventory("B", 3, 2),
        Some("B"),
    )
    .await
    .unwrap();
    let stale = the_dead_letter(&js, "amazon-us").await;
    amazon.refuse.store(false, Ordering::SeqCst);
    publish_event(
        &js,
        &ns.erp_subject(ERP, Flow::Inventory, "B"),
        &inventory("B", 4, 3),
        Some("B"),
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(10), "amazon has B at 4", || async {
        amazon
            .received()
            .iter()
            .any(|(k, f)| k == "B" && f["qty"] == 4)
    })
    .await;
    let superseded = twctl_replay(&nats, stale.sequence);
    assert!(
        superseded.contains("not sent: a newer record"),
        "{superseded}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !amazon
            .received()
            .iter()
            .any(|(k, f)| k == "B" && f["qty"] == 3),
        "the older value never reached Amazon: {:?}",
        amazon.received()
    );
    assert!(letters(&js, "amazon-us").await.is_empty());
    shutdown.trigger();
}

/// An order with a SKU the ERP did not know is refused by the order process; once the ERP publishes the SKU, the
/// replay sends it to the ERP's sink once, and a second replay nothing.
#[tokio::test]
async fn an_order_the_order_process_refused_goes_to_the_erp_once() {
    let (nats, js, ns) = lab().await;
    let mp = "shop";
    ensure_stream(&js, &ns.marketplace_stream(mp))
        .await
        .unwrap();
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    let consumer = ensure_consumer(&js, &ns.order_process_consumer(mp, 100))
        .await
        .unwrap();
    let process = Arc::new(OrderProcess {
        namespace: ns.clone(),
        marketplace: mp.into(),
        erp_connection: ERP.into(),
        currency: "USD".parse().unwrap(),
        settings: Default::default(),
        js: js.clone(),
        consumer,
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns.clone())),
        timeline: None,
        metrics: Arc::new(Metrics::new()),
        erp_skus: Default::default(),
    });
    let shutdown = Shutdown::new();
    let p = process.clone();
    run(&shutdown, |stop| async move { p.run(stop).await });
    let record = Record::Order(Box::new(order(mp, "O-1", "NEW-1")));
    let event = Event {
        id: format!("{mp}:O-1:1"),
        source: "/tradewind/replay/marketplace/shop".into(),
        time: Utc::now(),
        traceparent: None,
        record,
    };
    publish_event(
        &js,
        &ns.marketplace_subject(mp, Flow::Orders, "O-1"),
        &event,
        Some("O-1"),
    )
    .await
    .unwrap();
    let letter = the_dead_letter(&js, mp).await;
    assert_eq!(letter.letter.class, ErrorClass::Business);
    // The ERP publishes the new SKU; the order can pass now.
    publish_event(
        &js,
        &ns.erp_subject(ERP, Flow::Inventory, "NEW-1"),
        &inventory("NEW-1", 10, 1),
        Some("NEW-1"),
    )
    .await
    .unwrap();
    assert!(twctl_replay(&nats, letter.sequence).contains("replayed"));
    assert!(twctl_replay(&nats, letter.sequence).contains("no such dead letter"));
    let stream = ns.marketplace_stream(mp).name;
    let for_erp = ns.erp_order_subject(mp, "O-1");
    eventually(
        Duration::from_secs(10),
        "the order goes to the ERP",
        || async { on_subject(&js, &stream, &for_erp).await.len() == 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(on_subject(&js, &stream, &for_erp).await.len(), 1);
    assert!(letters(&js, mp).await.is_empty());
    shutdown.trigger();
}

/// An order the connector could not read is kept raw; its replay goes to the adapter, where the connector reads
/// it again: still unreadable, it is dead-lettered again (raw, replayable); after the fix, it is published
/// once as a poll would publish it.
#[tokio::test]
async fn a_raw_record_is_read_again_by_the_connector_and_published_once() {
    let (nats, js, ns) = lab().await;
    let mp = "shop";
    ensure_stream(&js, &ns.marketplace_stream(mp))
        .await
        .unwrap();
    let channel = Arc::new(Channel::default());
    *channel.page.lock().unwrap() = Some((
        Vec::new(),
        vec![Rejected {
            key: "R-1".into(),
            id: format!("{mp}:order-invalid:R-1:1"),
            correlation_id: format!("{mp}:R-1").as_str().try_into().unwrap(),
            payload: json!({"orderId": "R-1", "lines": [{"quantity": 1}]}),
            reason: "lines[0].sku: missing".into(),
        }],
    ));
    let inbound = InboundFlow {
        settings: InboundSettings {
            namespace: NS.into(),
            marketplace: mp.into(),
            flow: Flow::Orders,
            poll_interval: Duration::from_secs(3600),
        },
        js: js.clone(),
        connector: channel.clone(),
        cursors: Arc::new(CursorStore::new(
            ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(),
        )),
        timeline: None,
        metrics: Arc::new(Metrics::new()),
    };
    inbound.poll_once().await.unwrap();
    let letter = the_dead_letter(&js, mp).await;
    assert_eq!(
        letter.letter.payload,
        br#"{"lines":[{"quantity":1}],"orderId":"R-1"}"#
    );

    let reread = RereadFlow {
        namespace: NS.into(),
        marketplace: mp.into(),
        js: js.clone(),
        consumer: ensure_consumer(&js, &ns.reread_consumer(mp)).await.unwrap(),
        connector: channel.clone(),
        dead_letters: Arc::new(DeadLetterStore::new(js.clone(), ns.clone())),
        timeline: None,
        metrics: Arc::new(Metrics::new()),
    };
    let shutdown = Shutdown::new();
    run(&shutdown, |stop| async move { reread.run(stop).await });

    // Not fixed yet: read again, refused again, kept raw with the new reason.
    let out = twctl_replay(&nats, letter.sequence);
    assert!(out.contains("whose connector reads it again"), "{out}");
    let again = the_dead_letter(&js, mp).await;
    assert_ne!(again.sequence, letter.sequence);
    assert!(
        again
            .letter
            .reason
            .starts_with("read again from its dead letter: lines[0].sku"),
        "{}",
        again.letter.reason
    );
    assert_eq!(again.letter.payload, letter.letter.payload);
    assert_eq!(
        again.letter.original_subject,
        ns.marketplace_subject(mp, Flow::Orders, "R-1")
    );

    channel.fixed.store(true, Ordering::SeqCst);
    assert!(twctl_replay(&nats, again.sequence).contains("reads it again"));
    assert!(twctl_replay(&nats, again.sequence).contains("no such dead letter"));
    let stream = ns.marketplace_stream(mp).name;
    let subject = ns.marketplace_subject(mp, Flow::Orders, "R-1");
    eventually(
        Duration::from_secs(10),
        "the order is published",
        || async { on_subject(&js, &stream, &subject).await.len() == 1 },
    )
    .await;
    let published = on_subject(&js, &stream, &subject).await;
    assert_eq!(
        published[0].id,
        format!("{mp}:R-1:1"),
        "the id a poll gives it"
    );
    assert!(letters(&js, mp).await.is_empty());
    shutdown.trigger();
}

/// A settlement whose amounts do not reconcile is published, and the exception dead-lettered holding the
/// settlement: its replay sends the settlement again, for the ERP's sink, whose key makes it one document.
#[tokio::test]
async fn a_settlement_exception_replays_its_settlement() {
    let (nats, js, ns) = lab().await;
    let mp = "shop";
    ensure_stream(&js, &ns.marketplace_stream(mp))
        .await
        .unwrap();
    let settlement: Settlement = serde_json::from_value(json!({
        "correlationId": "shop:settlement:S-1", "marketplace": mp, "settlementId": "S-1",
        "periodStart": "2026-11-01T00:00:00Z", "periodEnd": "2026-11-15T00:00:00Z", "currency": "USD",
        "total": {"amount": "10.00", "currency": "USD"},
        "lines": [{"kind": "Sale", "orderId": "O-9", "amount": {"amount": "10.00", "currency": "USD"},
                   "description": "sale", "postedAt": "2026-11-14T00:00:00Z"}]}))
    .unwrap();
    let channel = Arc::new(Channel::default());
    *channel.page.lock().unwrap() = Some((
        vec![Record::Settlement(settlement)],
        vec![Rejected {
            key: "S-1".into(),
            id: format!("{mp}:settlement:S-1:O-9:unknown"),
            correlation_id: "shop:settlement:S-1".try_into().unwrap(),
            payload: json!({"settlementId": "S-1", "orderId": "O-9", "what": "unknown"}),
            reason: "settlement exception: O-9 is no order of this marketplace".into(),
        }],
    ));
    let inbound = InboundFlow {
        settings: InboundSettings {
            namespace: NS.into(),
            marketplace: mp.into(),
            flow: Flow::Settlements,
            poll_interval: Duration::from_secs(3600),
        },
        js: js.clone(),
        connector: channel,
        cursors: Arc::new(CursorStore::new(
            ensure_kv(&js, &ns.cursor_bucket()).await.unwrap(),
        )),
        timeline: None,
        metrics: Arc::new(Metrics::new()),
    };
    inbound.poll_once().await.unwrap();
    let letter = the_dead_letter(&js, mp).await;
    assert!(letter.letter.has_envelope());
    assert!(letter.letter.headers["tw-dlq-detail"].contains("O-9"));

    assert!(twctl_replay(&nats, letter.sequence).contains("replayed"));
    assert!(twctl_replay(&nats, letter.sequence).contains("no such dead letter"));
    let stream = ns.marketplace_stream(mp).name;
    let subject = ns.marketplace_subject(mp, Flow::Settlements, "S-1");
    let stored = on_subject(&js, &stream, &subject).await;
    assert_eq!(stored.len(), 2, "the poll's settlement and the replay's");
    assert!(
        stored
            .iter()
            .all(|e| matches!(&e.record, Record::Settlement(s) if s.settlement_id == "S-1"))
    );
}

/// An order the ERP refused (an item it did not have) is dead-lettered by the bridge; once the ERP has the
/// item, the replay posts it again, under the same key, and the ERP makes one sales order.
#[tokio::test]
async fn an_order_the_erp_refused_makes_one_sales_order() {
    let (nats, js, ns) = lab().await;
    let mp = "shop";
    let db = test_support::TestDatabase::create().await.unwrap();
    let erp = demo_erp::DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        demo_erp::Options {
            ship_after: Duration::from_secs(3600),
            ..demo_erp::Options::default()
        },
    )
    .await
    .unwrap();
    ensure_stream(&js, &ns.marketplace_stream(mp))
        .await
        .unwrap();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(secrets.path().join("erp")).unwrap();
    std::fs::write(secrets.path().join("erp/token"), "demo-only-token").unwrap();
    let config = erp_bridge::BridgeConfig::parse(
        "test",
        &format!(
            r#"
namespace: {NS}
erpConnection: {ERP}
marketplaces: [{mp}]
spec:
  source:
    nats: {{subject: "acme.erp.events.>"}}
  sink:
    rest: {{baseUrl: "{}", tokenSecretRef: {{name: erp, key: token}}}}
nats: {{url: "{}"}}
secretsDir: "{}"
"#,
            erp.url(),
            nats.url(),
            secrets.path().display()
        ),
    )
    .unwrap();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let bridge = tokio::spawn(erp_bridge::run(config, stop, Arc::new(Metrics::new())));
    let event = Event {
        id: format!("{mp}:O-2:1:accepted"),
        source: "/tradewind/replay/marketplace/shop".into(),
        time: Utc::now(),
        traceparent: None,
        record: Record::Order(Box::new(order(mp, "O-2", "NEW-2"))),
    };
    publish_event(&js, &ns.erp_order_subject(mp, "O-2"), &event, Some("O-2"))
        .await
        .unwrap();
    let letter = the_dead_letter(&js, mp).await;
    assert!(
        letter.letter.reason.contains("NEW-2"),
        "{}",
        letter.letter.reason
    );

    erp.add_item("NEW-2", "new", "1.00", "USD", &[("DAL", 10)])
        .await
        .unwrap();
    assert!(twctl_replay(&nats, letter.sequence).contains("replayed"));
    assert!(twctl_replay(&nats, letter.sequence).contains("no such dead letter"));
    eventually(Duration::from_secs(20), "the ERP has the order", || async {
        erp.sales_orders().await.unwrap().len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(erp.sales_orders().await.unwrap().len(), 1);
    let outcomes: Vec<String> = erp
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.idempotency_key.unwrap_or_default(), r.outcome))
        .collect();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        outcomes[0].starts_with(&format!("{mp}:O-2 refused")),
        "{outcomes:?}"
    );
    assert!(
        outcomes[1].starts_with(&format!("{mp}:O-2 created")),
        "{outcomes:?}"
    );
    shutdown.trigger();
    let _ = bridge.await;
}

/// An outbox row the bridge could not take is rebuilt by the bridge's code on replay and published as the
/// outbox publishes it (`<erp>:outbox:<row>`); a row that still is not a record stays, with why.
#[tokio::test]
async fn an_outbox_row_is_rebuilt_and_published_once() {
    let (nats, js, ns) = lab().await;
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    let store = DeadLetterStore::for_erp_bridge(js.clone(), ns.clone(), ERP);
    let row = |id: u32, payload: Value| DeadLetter {
        marketplace: format!("erp:{ERP}"),
        flow: Flow::Inventory,
        original_subject: format!("outbox:tradewind_outbox:{id}"),
        headers: Default::default(),
        payload: payload.to_string().into_bytes(),
        reason: "outbox row: refused by an older bridge".into(),
        class: ErrorClass::BadPayload,
        attempts: 1,
        at: Utc::now(),
    };
    let good = json!({"type": "inventory", "data": {"correlationId": "erp:inv:C:1", "sku": "C",
        "available": 7, "asOf": "2026-11-28T10:00:00Z"}});
    store.put(&row(7, good)).await.unwrap();
    store
        .put(&row(8, json!({"type": "inventory", "data": {"sku": "D"}})))
        .await
        .unwrap();
    let all = letters(&js, &format!("erp:{ERP}")).await;
    assert_eq!(all.len(), 2);

    let out = twctl_replay(&nats, all[0].sequence);
    assert!(
        out.contains("replayed as the ERP's inventory record"),
        "{out}"
    );
    assert!(twctl_replay(&nats, all[0].sequence).contains("no such dead letter"));
    let stream = ns.erp_stream(ERP, Flow::Inventory).name;
    let published = on_subject(&js, &stream, &ns.erp_subject(ERP, Flow::Inventory, "C")).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].id, format!("{ERP}:outbox:7"));

    let kept = twctl_replay(&nats, all[1].sequence);
    assert!(
        kept.contains("not replayed, kept: outbox row 8: data"),
        "{kept}"
    );
    assert_eq!(letters(&js, &format!("erp:{ERP}")).await.len(), 1);
}

/// An event the bridge's NATS source refused goes back to the ERP's own subject, where the bridge reads it
/// again.
#[tokio::test]
async fn an_event_from_the_erps_subject_goes_back_to_it() {
    let (nats, js, ns) = lab().await;
    let ingest = erp_bridge::nats_source::ingest_stream(&ns, ERP, "acme.erp.events.>");
    ensure_stream(&js, &ingest).await.unwrap();
    let store = DeadLetterStore::for_erp_bridge(js.clone(), ns.clone(), ERP);
    store
        .put(&DeadLetter {
            marketplace: format!("erp:{ERP}"),
            flow: Flow::Price,
            original_subject: "acme.erp.events.price".into(),
            headers: [("Nats-Msg-Id".to_string(), "ev-1".to_string())].into(),
            payload: br#"{"type": "price", "data": {"sku": "E"}}"#.to_vec(),
            reason: "data.price: missing".into(),
            class: ErrorClass::BadPayload,
            attempts: 1,
            at: Utc::now(),
        })
        .await
        .unwrap();
    let letter = the_dead_letter(&js, &format!("erp:{ERP}")).await;
    assert!(twctl_replay(&nats, letter.sequence).contains("replayed"));
    let stream = js.get_stream(&ingest.name).await.unwrap();
    let message = stream
        .get_last_raw_message_by_subject("acme.erp.events.price")
        .await
        .unwrap();
    assert_eq!(message.payload.as_ref(), letter.letter.payload.as_slice());
    assert!(twctl_replay(&nats, letter.sequence).contains("no such dead letter"));
}
