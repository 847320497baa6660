//! `twctl status`, `dlq` and `trace` against a real NATS server holding what adapters leave there: a flow's
//! consumer with a backlog, dead letters and a transaction timeline.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::HashMap;
use std::process::{Command, Output};

use adapter_runtime::canonical::{CorrelationId, InventoryPosition, Record};
use adapter_runtime::envelope::{Event, H_CORRELATION_ID, encode};
use adapter_runtime::jetstream::{
    DeadLetter, DeadLetterStore, ErrorClass, Step, Timeline, TimelineEntry, ensure_consumer,
    ensure_kv, ensure_stream, publish_event,
};
use adapter_runtime::topology::Namespace;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use test_support::NatsServer;

const NS: &str = "ops";

fn twctl(nats: &NatsServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args(args)
        .args(["--nats-url", &nats.url(), "-n", NS])
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn inventory(sku: &str, available: i64) -> Event {
    let id = format!("erp:inventory:{sku}");
    Event {
        id: id.clone(),
        source: "/tradewind/test/erp/erp".into(),
        time: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        }),
    }
}

/// A backlog of three SKUs for amazon-us's inventory flow, two dead letters, and one order's timeline.
async fn seed(nats: &NatsServer) -> Namespace {
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream("erp", Flow::Inventory))
        .await
        .unwrap();
    ensure_consumer(
        &js,
        &ns.erp_flow_consumer("erp", "amazon-us", Flow::Inventory, 100),
    )
    .await
    .unwrap();
    for sku in ["A", "B", "C"] {
        let subject = ns.erp_subject("erp", Flow::Inventory, sku);
        publish_event(&js, &subject, &inventory(sku, 5), Some(sku))
            .await
            .unwrap();
    }
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    let store = DeadLetterStore::new(js.clone(), ns.clone());
    for (sku, reason) in [("A", "400 InvalidInput: quantity"), ("B", "exhausted: 503")] {
        let (mut headers, payload) = encode(&inventory(sku, 1), Some(sku)).unwrap();
        headers.insert(H_CORRELATION_ID.into(), format!("amazon-us:order-{sku}"));
        store
            .put(&DeadLetter {
                marketplace: "amazon-us".into(),
                flow: Flow::Inventory,
                original_subject: ns.erp_subject("erp", Flow::Inventory, sku),
                headers,
                payload,
                reason: reason.into(),
                class: ErrorClass::Permanent,
                attempts: 1,
                at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let timeline = Timeline::new(ensure_kv(&js, &ns.timeline_bucket()).await.unwrap());
    let id = CorrelationId::try_from("amazon-us:order-A").unwrap();
    for (step, detail) in [(Step::Received, ""), (Step::PostedToErp, "SO-1001")] {
        timeline
            .append(
                &id,
                TimelineEntry {
                    at: Utc::now(),
                    step,
                    detail: detail.into(),
                    by: "adapter/amazon-us".into(),
                },
            )
            .await
            .unwrap();
    }
    ns
}

#[tokio::test]
async fn status_shows_the_backlog_and_the_dead_letters_per_flow() {
    let nats = NatsServer::start().await.unwrap();
    seed(&nats).await;
    let out = twctl(&nats, &["status"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("amazon-us") && l.contains("inventory"))
        .unwrap_or_else(|| panic!("no inventory line in:\n{text}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    // MARKETPLACE FLOW PENDING IN-FLIGHT REDELIVERED DEAD-LETTERS LAST-SUCCESS
    assert_eq!(
        &cells[..6],
        ["amazon-us", "inventory", "3", "0", "0", "2"],
        "{text}"
    );
}

#[tokio::test]
async fn dlq_lists_filters_shows_and_replays_once() {
    let nats = NatsServer::start().await.unwrap();
    let ns = seed(&nats).await;

    let all = stdout(&twctl(&nats, &["dlq", "list"]));
    assert!(all.contains("2 dead letters"), "{all}");
    let filtered = stdout(&twctl(&nats, &["dlq", "list", "--reason", "invalidinput"]));
    assert!(filtered.contains("1 dead letters"), "{filtered}");
    assert!(filtered.contains("400 InvalidInput"), "{filtered}");
    let other_flow = stdout(&twctl(&nats, &["dlq", "list", "--flow", "orders"]));
    assert!(other_flow.contains("0 dead letters"), "{other_flow}");
    let bad_flow = twctl(&nats, &["dlq", "list", "--flow", "order"]);
    assert!(!bad_flow.status.success());
    assert!(String::from_utf8_lossy(&bad_flow.stderr).contains("unknown flow \"order\""));

    let sequence: u64 = filtered
        .lines()
        .find(|l| l.contains("InvalidInput"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let shown = stdout(&twctl(&nats, &["dlq", "show", &sequence.to_string()]));
    assert!(shown.contains("\"available\": 1"), "{shown}");
    assert!(
        shown.contains("correlation id: amazon-us:order-A"),
        "{shown}"
    );

    // Replay the same dead letter twice: one republished message, one "no such dead letter".
    let js = nats.jetstream().await.unwrap();
    let stream_name = ns.erp_stream("erp", Flow::Inventory).name;
    let before = js
        .get_stream(&stream_name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .last_sequence;
    let first = stdout(&twctl(&nats, &["dlq", "replay", &sequence.to_string()]));
    assert!(first.contains("replayed"), "{first}");
    let second = stdout(&twctl(&nats, &["dlq", "replay", &sequence.to_string()]));
    assert!(second.contains("no such dead letter"), "{second}");
    let after = js
        .get_stream(&stream_name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .last_sequence;
    assert_eq!(after, before + 1, "exactly one message republished");
    let remaining = stdout(&twctl(&nats, &["dlq", "list"]));
    assert!(remaining.contains("1 dead letters"), "{remaining}");
}

#[tokio::test]
async fn trace_shows_the_timeline_and_the_dead_letter() {
    let nats = NatsServer::start().await.unwrap();
    seed(&nats).await;
    let out = twctl(&nats, &["trace", "amazon-us:order-A"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let steps: HashMap<&str, bool> = ["received", "postedToErp", "SO-1001", "dead letter"]
        .into_iter()
        .map(|s| (s, text.contains(s)))
        .collect();
    assert!(steps.values().all(|found| *found), "{steps:?} in:\n{text}");
    let missing = twctl(&nats, &["trace", "amazon-us:nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stdout(&missing).contains("no transaction amazon-us:nope"));
}

#[test]
fn completions_are_generated_for_bash() {
    let out = Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("dlq"));
}
