//! The outbound flow against a real nats-server, with a test connector standing in for a channel.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::connector::{Connector, ConnectorError, HttpFailure, OutboundItem, PollPage};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::{OutboundFlow, OutboundSettings, PrepareFn, Shutdown};
use adapter_runtime::jetstream::{
    DeadLetterStore, ErrorClass, ensure_consumer, ensure_stream, publish_event, publish_raw,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::{ConsumerDef, Namespace, StreamDef};
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use serde_json::json;
use test_support::{NatsServer, eventually};

/// A channel that records what it receives. SKUs starting with `POISON` are refused for good; `FLAKY-n` fails
/// n times before it succeeds; `DOWN` always fails retryably; `BUSY` is answered 503 with `Retry-After: 1` once.
#[derive(Default)]
struct TestChannel {
    max_batch: usize,
    received: Mutex<Vec<OutboundItem>>,
    failures: Mutex<HashMap<String, u32>>,
    /// When each delivery of `BUSY` was attempted.
    busy_attempts: Mutex<Vec<std::time::Instant>>,
}

impl Connector for TestChannel {
    fn max_batch(&self, _: Flow) -> usize {
        self.max_batch
    }

    async fn deliver(&self, _: Flow, items: &[OutboundItem]) -> Vec<Result<(), ConnectorError>> {
        items
            .iter()
            .map(|item| {
                if item.key.starts_with("POISON") {
                    return Err(ConnectorError::permanent(format!(
                        "400 Bad Request: SKU {} is not listed",
                        item.key
                    )));
                }
                if item.key == "BUSY" {
                    let mut attempts = self.busy_attempts.lock().unwrap();
                    attempts.push(std::time::Instant::now());
                    if attempts.len() == 1 {
                        let answer = HttpFailure::new(
                            adapter_runtime::error::StatusCode::SERVICE_UNAVAILABLE,
                            [("Retry-After", "1")],
                            "busy",
                            std::time::SystemTime::now(),
                        );
                        return Err(ConnectorError::retryable("503 busy").with_http(answer));
                    }
                }
                if item.key == "DOWN" {
                    return Err(ConnectorError::retryable("503 Service Unavailable"));
                }
                if let Some(n) = item
                    .key
                    .strip_prefix("FLAKY-")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    let mut failures = self.failures.lock().unwrap();
                    let seen = failures.entry(item.key.clone()).or_default();
                    if *seen < n {
                        *seen += 1;
                        return Err(ConnectorError::retryable("timeout"));
                    }
                }
                self.received.lock().unwrap().push(item.clone());
                Ok(())
            })
            .collect()
    }

    async fn poll(&self, _: Flow, _: Option<&str>) -> Result<PollPage, ConnectorError> {
        Ok(PollPage::default())
    }
}

impl TestChannel {
    fn received(&self) -> Vec<(String, i64)> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|i| (i.key.clone(), i.fields["qty"].as_i64().unwrap_or(-1)))
            .collect()
    }
}

fn inventory(sku: &str, available: i64, version: i64) -> Event {
    let id = format!("erp:inventory:{sku}:{version}");
    Event {
        id: id.clone(),
        source: "/tradewind/test/erp/erp".into(),
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

fn prepare() -> PrepareFn {
    Arc::new(|event: &Event| match &event.record {
        Record::Inventory(p) => Ok((p.sku.to_string(), json!({"qty": p.available}))),
        other => Err(format!("unexpected record {}", other.event_type())),
    })
}

struct Setup {
    server: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    stream: StreamDef,
    channel: Arc<TestChannel>,
    flow: Arc<OutboundFlow<TestChannel>>,
    dead_letters: Arc<DeadLetterStore>,
}

/// A stream without per-subject limits, so that the flow's own coalescing is what is tested.
async fn setup(max_batch: usize, max_attempts: u32) -> Setup {
    setup_with_backoff(max_batch, max_attempts, Duration::from_millis(100)).await
}

async fn setup_with_backoff(max_batch: usize, max_attempts: u32, max_backoff: Duration) -> Setup {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream::new(server.client().await.unwrap());
    let ns = Namespace::new("test");
    let mut stream = ns.erp_stream("erp", Flow::Inventory);
    stream.max_msgs_per_subject = None;
    ensure_stream(&js, &stream).await.unwrap();
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    let consumer_def = ConsumerDef {
        max_ack_pending: 1000,
        ..ns.erp_flow_consumer("erp", "shop", Flow::Inventory, 1000)
    };
    let consumer = ensure_consumer(&js, &consumer_def).await.unwrap();
    let channel = Arc::new(TestChannel {
        max_batch,
        ..Default::default()
    });
    let dead_letters = Arc::new(DeadLetterStore::new(js.clone(), ns.clone()));
    let flow = Arc::new(OutboundFlow {
        settings: OutboundSettings {
            marketplace: "shop".into(),
            flow: Flow::Inventory,
            fetch_batch: 100,
            coalesce_window: Duration::from_millis(200),
            max_attempts,
            initial_backoff: Duration::from_millis(20),
            max_backoff,
            ack_wait: Duration::from_secs(30),
        },
        consumer,
        connector: channel.clone(),
        dead_letters: dead_letters.clone(),
        prepare: prepare(),
        map: None,
        metrics: Arc::new(Metrics::new()),
    });
    Setup {
        server,
        js,
        ns,
        stream,
        channel,
        flow,
        dead_letters,
    }
}

impl Setup {
    async fn publish(&self, sku: &str, available: i64, version: i64) {
        let subject = self.ns.erp_subject("erp", Flow::Inventory, sku);
        publish_event(
            &self.js,
            &subject,
            &inventory(sku, available, version),
            Some(sku),
        )
        .await
        .unwrap();
    }

    fn start(&self) -> (Shutdown, tokio::task::JoinHandle<()>) {
        let shutdown = Shutdown::new();
        let flow = self.flow.clone();
        let stop = shutdown.clone();
        (shutdown, tokio::spawn(async move { flow.run(stop).await }))
    }

    async fn pending(&self) -> u64 {
        let mut consumer = self.flow.consumer.clone();
        let info = consumer.info().await.unwrap();
        info.num_pending + info.num_ack_pending as u64
    }
}

#[tokio::test]
async fn only_the_newest_value_per_sku_is_sent_in_batches_of_the_connector() {
    let s = setup(2, 5).await;
    for (sku, qty, version) in [
        ("A", 5, 1),
        ("B", 7, 2),
        ("A", 4, 3),
        ("C", 1, 4),
        ("A", 3, 5),
        ("B", 6, 6),
    ] {
        s.publish(sku, qty, version).await;
    }
    let (shutdown, task) = s.start();
    eventually(
        Duration::from_secs(10),
        "everything is acknowledged",
        || async { s.pending().await == 0 },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap();
    let mut received = s.channel.received();
    received.sort();
    assert_eq!(
        received,
        vec![("A".into(), 3), ("B".into(), 6), ("C".into(), 1)]
    );
    let text = s.flow.metrics.encode();
    assert!(text.contains(r#"outcome="Coalesced"} 3"#), "{text}");
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_and_never_block_the_rest() {
    let s = setup(10, 5).await;
    s.publish("A", 1, 1).await;
    s.publish("POISON-1", 2, 2).await;
    let subject = s.ns.erp_subject("erp", Flow::Inventory, "GARBAGE");
    let mut headers = adapter_runtime::envelope::encode(&inventory("GARBAGE", 1, 3), None)
        .unwrap()
        .0;
    headers.insert("Nats-Msg-Id".into(), "garbage-1".into());
    publish_raw(&s.js, &subject, &headers, b"{not json".to_vec())
        .await
        .unwrap();
    s.publish("B", 9, 4).await;

    let (shutdown, task) = s.start();
    eventually(
        Duration::from_secs(10),
        "everything is acknowledged",
        || async { s.pending().await == 0 },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap();

    let mut received = s.channel.received();
    received.sort();
    assert_eq!(received, vec![("A".into(), 1), ("B".into(), 9)]);
    let letters = s
        .dead_letters
        .list(Some("shop"), Some(Flow::Inventory))
        .await
        .unwrap();
    let mut reasons: Vec<(ErrorClass, String)> = letters
        .iter()
        .map(|l| (l.letter.class, l.letter.reason.clone()))
        .collect();
    reasons.sort_by_key(|(_, r)| r.clone());
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, ErrorClass::Permanent);
    assert_eq!(reasons[0].1, "400 Bad Request: SKU POISON-1 is not listed");
    assert_eq!(reasons[1].0, ErrorClass::BadPayload);
    assert!(
        reasons[1].1.starts_with("malformed payload"),
        "{}",
        reasons[1].1
    );
}

#[tokio::test]
async fn retryable_failures_are_retried_and_then_exhausted() {
    let s = setup(10, 3).await;
    s.publish("FLAKY-2", 4, 1).await;
    s.publish("DOWN", 5, 2).await;
    s.publish("OK", 6, 3).await;
    let (shutdown, task) = s.start();
    eventually(
        Duration::from_secs(15),
        "everything is acknowledged",
        || async { s.pending().await == 0 },
    )
    .await;
    shutdown.trigger();
    task.await.unwrap();
    let mut received = s.channel.received();
    received.sort();
    assert_eq!(
        received,
        vec![("FLAKY-2".into(), 4), ("OK".into(), 6)],
        "FLAKY-2 succeeds on its third delivery"
    );
    let letters = s.dead_letters.list(Some("shop"), None).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].letter.class, ErrorClass::Exhausted);
    assert_eq!(letters[0].letter.attempts, 3);
    assert!(letters[0].letter.reason.contains("503 Service Unavailable"));
}

#[tokio::test]
async fn a_retry_waits_as_long_as_the_channel_asked() {
    // Backoff 20 ms, longest 5 s; the channel asks for 1 s.
    let s = setup_with_backoff(10, 5, Duration::from_secs(5)).await;
    s.publish("BUSY", 1, 1).await;
    let (shutdown, task) = s.start();
    eventually(Duration::from_secs(10), "BUSY is delivered", || async {
        s.channel.received().len() == 1
    })
    .await;
    shutdown.trigger();
    task.await.unwrap();
    let attempts = s.channel.busy_attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    let waited = attempts[1] - attempts[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

#[tokio::test]
async fn the_flow_survives_a_nats_server_restart() {
    let mut s = setup(10, 5).await;
    let (shutdown, task) = s.start();
    s.publish("A", 1, 1).await;
    eventually(Duration::from_secs(10), "A is delivered", || async {
        s.channel.received().len() == 1
    })
    .await;
    s.server.kill().unwrap();
    s.server.restart().await.unwrap();
    // The client reconnects by itself; publishing may fail until it has.
    let subject = s.ns.erp_subject("erp", Flow::Inventory, "B");
    eventually(
        Duration::from_secs(15),
        "B is published after the restart",
        || async {
            publish_event(&s.js, &subject, &inventory("B", 2, 2), Some("B"))
                .await
                .is_ok()
        },
    )
    .await;
    eventually(Duration::from_secs(15), "B is delivered", || async {
        s.channel.received().len() == 2
    })
    .await;
    shutdown.trigger();
    task.await.unwrap();
    let _ = &s.stream;
}

#[tokio::test]
async fn shutdown_stops_the_loop_promptly() {
    let s = setup(10, 5).await;
    let (shutdown, task) = s.start();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the flow stops within 5 s")
        .unwrap();
}
