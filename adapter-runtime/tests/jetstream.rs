//! The JetStream edge against a real, current nats-server started for each test.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use adapter_runtime::canonical::{CorrelationId, InventoryPosition, Order, Record};
use adapter_runtime::envelope::{Event, H_MSG_ID, decode};
use adapter_runtime::jetstream::{
    CursorStore, DeadLetter, DeadLetterStore, ErrorClass, ReplayOutcome, Step, Timeline,
    TimelineEntry, ensure_consumer, ensure_kv, ensure_stream, from_header_map, publish_event,
};
use adapter_runtime::topology::{Namespace, order_message_id};
use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use futures::StreamExt;
use test_support::NatsServer;

fn inventory(sku: &str, available: i64, version: u32) -> Event {
    let id = format!("demo-erp:inventory:{sku}:{version}");
    Event {
        id: id.clone(),
        source: "/tradewind/demo/erp/demo-erp".into(),
        time: Utc
            .timestamp_opt(1_800_000_000 + i64::from(version), 0)
            .unwrap(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc
                .timestamp_opt(1_800_000_000 + i64::from(version), 0)
                .unwrap(),
        }),
    }
}

fn order(revision: u32) -> Event {
    let mut order: Order = serde_json::from_str(include_str!("fixtures/order.json")).unwrap();
    order.revision = revision;
    Event {
        id: order_message_id("amazon-us", order.order_id.as_str(), revision),
        source: "/tradewind/demo/marketplace/amazon-us".into(),
        time: order.updated_at,
        traceparent: None,
        record: Record::Order(Box::new(order)),
    }
}

async fn jetstream(server: &NatsServer) -> jetstream::Context {
    jetstream::new(server.client().await.unwrap())
}

#[tokio::test]
async fn provisioning_is_idempotent_and_last_value_streams_keep_the_newest_per_sku() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server).await;
    let ns = Namespace::new("demo");
    let def = ns.erp_stream("demo-erp", Flow::Inventory);
    ensure_stream(&js, &def).await.unwrap();
    ensure_stream(&js, &def).await.unwrap();
    let consumer_def = ns.erp_flow_consumer("demo-erp", "amazon-us", Flow::Inventory, 64);
    ensure_consumer(&js, &consumer_def).await.unwrap();
    let consumer = ensure_consumer(&js, &consumer_def).await.unwrap();

    for (sku, available, version) in [
        ("A.1", 5, 1),
        ("B", 9, 2),
        ("A.1", 4, 3),
        ("A.1", 3, 4),
        ("B", 8, 5),
    ] {
        let subject = ns.erp_subject("demo-erp", Flow::Inventory, sku);
        publish_event(
            &js,
            &subject,
            &inventory(sku, available, version),
            Some(sku),
        )
        .await
        .unwrap();
    }

    let mut stream = js.get_stream(&def.name).await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        2,
        "one message per SKU"
    );

    let batch = consumer
        .fetch()
        .max_messages(10)
        .expires(std::time::Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let messages: Vec<_> = batch.collect().await;
    let mut seen = Vec::new();
    for message in messages {
        let message = message.unwrap();
        let headers = from_header_map(message.headers.as_ref().unwrap());
        let event = decode(&headers, &message.payload).unwrap();
        if let Record::Inventory(position) = event.record {
            seen.push((position.sku.to_string(), position.available));
        }
        message.ack().await.unwrap();
    }
    seen.sort();
    assert_eq!(seen, vec![("A.1".to_string(), 3), ("B".to_string(), 8)]);
}

#[tokio::test]
async fn a_re_polled_order_is_stored_once_and_a_new_revision_again() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server).await;
    let ns = Namespace::new("demo");
    ensure_stream(&js, &ns.marketplace_stream("amazon-us"))
        .await
        .unwrap();
    let subject = ns.marketplace_subject("amazon-us", Flow::Orders, "113-5512345-1234567");

    let first = publish_event(&js, &subject, &order(1), None).await.unwrap();
    let again = publish_event(&js, &subject, &order(1), None).await.unwrap();
    let revised = publish_event(&js, &subject, &order(2), None).await.unwrap();
    assert!(!first.duplicate);
    assert!(
        again.duplicate,
        "same <marketplace>:<order>:<revision> within the window"
    );
    assert_eq!(again.sequence, first.sequence);
    assert!(!revised.duplicate);
    assert!(revised.sequence > first.sequence);
}

#[tokio::test]
async fn dead_letters_keep_subject_headers_and_reason_and_replay_once() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server).await;
    let ns = Namespace::new("demo");
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    ensure_stream(&js, &ns.marketplace_stream("amazon-us"))
        .await
        .unwrap();
    let store = DeadLetterStore::new(js.clone(), ns.clone());

    let subject = ns.marketplace_subject("amazon-us", Flow::Orders, "113-5512345-1234567");
    let (headers, payload) = adapter_runtime::envelope::encode(&order(1), None).unwrap();
    let letter = DeadLetter {
        marketplace: "amazon-us".into(),
        flow: Flow::Orders,
        original_subject: subject.clone(),
        headers: headers.clone(),
        payload: payload.clone(),
        reason: "lines[0].sku: SKU TW-1001 is unknown to the ERP".into(),
        class: ErrorClass::Business,
        attempts: 1,
        at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    };
    store.put(&letter).await.unwrap();
    let other = DeadLetter {
        marketplace: "walmart-us".into(),
        ..letter.clone()
    };
    store.put(&other).await.unwrap();

    let listed = store
        .list(Some("amazon-us"), Some(Flow::Orders))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].letter, letter,
        "subject, headers, payload, reason, class, attempts and time survive"
    );

    let sequence = listed[0].sequence;
    let replayed = store.replay(sequence).await.unwrap();
    let ReplayOutcome::Republished(outcome) = replayed else {
        panic!("replayed")
    };
    assert!(!outcome.duplicate);
    let message = js
        .get_stream(ns.marketplace_stream("amazon-us").name)
        .await
        .unwrap()
        .get_raw_message(outcome.sequence)
        .await
        .unwrap();
    assert_eq!(message.subject.as_str(), subject);
    let replayed_headers = from_header_map(&message.headers);
    assert_eq!(
        replayed_headers[H_MSG_ID],
        format!("{}:replay:{sequence}", headers[H_MSG_ID])
    );
    assert_eq!(
        decode(&replayed_headers, &message.payload).unwrap(),
        decode(&headers, &payload).unwrap()
    );

    assert_eq!(
        store.replay(sequence).await.unwrap(),
        ReplayOutcome::NotFound,
        "replay is idempotent"
    );
    assert_eq!(store.list(Some("amazon-us"), None).await.unwrap().len(), 0);
    assert_eq!(
        store.list(None, None).await.unwrap().len(),
        1,
        "the other marketplace's dead letter stays"
    );
}

#[tokio::test]
async fn cursors_survive_a_server_restart_and_refuse_a_stale_writer() {
    let mut server = NatsServer::start().await.unwrap();
    let ns = Namespace::new("demo");
    {
        let js = jetstream(&server).await;
        let cursors = CursorStore::new(ensure_kv(&js, &ns.cursor_bucket()).await.unwrap());
        assert_eq!(cursors.get("amazon-us", Flow::Orders).await.unwrap(), None);
        let first = cursors
            .advance("amazon-us", Flow::Orders, None, "2026-11-28T10:00:00Z")
            .await
            .unwrap();
        let second = cursors
            .advance(
                "amazon-us",
                Flow::Orders,
                Some(&first),
                "2026-11-28T10:05:00Z",
            )
            .await
            .unwrap();
        let stale = cursors
            .advance(
                "amazon-us",
                Flow::Orders,
                Some(&first),
                "2026-11-28T09:00:00Z",
            )
            .await;
        assert!(
            stale.is_err(),
            "a writer holding an old revision must not move the cursor back"
        );
        assert_eq!(
            cursors.get("amazon-us", Flow::Orders).await.unwrap(),
            Some(second)
        );
    }
    server.kill().unwrap();
    server.restart().await.unwrap();
    let js = jetstream(&server).await;
    let cursors = CursorStore::new(ensure_kv(&js, &ns.cursor_bucket()).await.unwrap());
    let resumed = cursors
        .get("amazon-us", Flow::Orders)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.value, "2026-11-28T10:05:00Z");
}

#[tokio::test]
async fn timelines_are_ordered_and_ignore_repeated_steps() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server).await;
    let ns = Namespace::new("demo");
    let timeline = Timeline::new(ensure_kv(&js, &ns.timeline_bucket()).await.unwrap());
    let id: CorrelationId = "amazon-us:113-5512345-1234567".try_into().unwrap();
    let entry = |secs: i64, step: Step, detail: &str| TimelineEntry {
        at: Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap(),
        step,
        detail: detail.into(),
        by: "adapter/amazon-us".into(),
    };
    timeline
        .append(&id, entry(0, Step::Received, ""))
        .await
        .unwrap();
    timeline
        .append(&id, entry(5, Step::PostedToErp, "SO-123"))
        .await
        .unwrap();
    timeline
        .append(&id, entry(2, Step::Validated, ""))
        .await
        .unwrap();
    timeline
        .append(&id, entry(6, Step::PostedToErp, "SO-123"))
        .await
        .unwrap();
    let steps: Vec<Step> = timeline
        .get(&id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.step)
        .collect();
    assert_eq!(
        steps,
        vec![Step::Received, Step::Validated, Step::PostedToErp]
    );
    let unknown: CorrelationId = "nothing".try_into().unwrap();
    assert!(timeline.get(&unknown).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_erp_bridges_dead_letters_have_a_subject_of_their_own_and_list_like_any_other() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server).await;
    let ns = Namespace::new("demo");
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    let (headers, payload) = adapter_runtime::envelope::encode(&order(1), None).unwrap();
    let letter = DeadLetter {
        marketplace: "amazon-us".into(),
        flow: Flow::Orders,
        original_subject: ns.marketplace_subject("amazon-us", Flow::Orders, "1"),
        headers,
        payload,
        reason: "the ERP answered 422".into(),
        class: ErrorClass::Permanent,
        attempts: 1,
        at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    };
    DeadLetterStore::new(js.clone(), ns.clone())
        .put(&letter)
        .await
        .unwrap();
    let bridge = DeadLetterStore::for_erp_bridge(js.clone(), ns.clone(), "erp");
    let outcome = bridge
        .put(&DeadLetter {
            attempts: 2,
            ..letter.clone()
        })
        .await
        .unwrap();
    let stream = js.get_stream(ns.dead_letter_stream().name).await.unwrap();
    let stored = stream.get_raw_message(outcome.sequence).await.unwrap();
    assert_eq!(
        stored.subject.as_str(),
        ns.erp_dead_letter_subject("erp", "amazon-us", Flow::Orders)
    );
    assert_eq!(
        from_header_map(&stored.headers)["tw-dlq-by"],
        "erp-bridge/erp"
    );
    let mut counted = stream
        .info_with_subjects(ns.erp_dead_letter_filter("erp"))
        .await
        .unwrap();
    let mut erp_letters = 0;
    while let Some(entry) = counted.next().await {
        erp_letters += entry.unwrap().1;
    }
    assert_eq!(erp_letters, 1, "only the bridge's letter");
    let listed = bridge.list(Some("amazon-us"), None).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1].letter,
        DeadLetter {
            attempts: 2,
            ..letter
        },
        "the origin header is not part of the letter"
    );
}
