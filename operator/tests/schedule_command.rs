#![allow(clippy::unwrap_used)]
//! A due time fired twice (two operator replicas, or a retry after a crash) makes one command message.

use adapter_runtime::jetstream::ensure_stream;
use adapter_runtime::topology::Namespace;
use crds::channel::Flow;
use crds::v1alpha1::SyncMode;
use operator::schedule::command::{Fired, SyncCommand, publish, run_id};
use test_support::NatsServer;

#[tokio::test]
async fn two_fires_of_one_due_time_make_one_message() {
    let nats = NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new("shop");
    ensure_stream(&js, &ns.command_stream()).await.unwrap();
    let due = "2026-01-05T10:00:00Z".parse().unwrap();
    let command = SyncCommand {
        id: run_id("shop", "hourly", due),
        schedule: "hourly".into(),
        marketplace: "amazon-us".into(),
        flow: Flow::Inventory,
        mode: SyncMode::Full,
        due_time: "2026-01-05T10:00:00Z".into(),
    };
    assert_eq!(publish(&js, "shop", &command).await.unwrap(), Fired::New);
    assert_eq!(
        publish(&js, "shop", &command).await.unwrap(),
        Fired::Duplicate
    );
    let next = SyncCommand {
        id: run_id("shop", "hourly", "2026-01-05T11:00:00Z".parse().unwrap()),
        ..command.clone()
    };
    assert_eq!(publish(&js, "shop", &next).await.unwrap(), Fired::New);
    let mut stream = js.get_stream(ns.command_stream().name).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
}

/// Forty schedules of one marketplace flow firing while its adapter is not fetching (busy with 16 runs, or
/// down): every command is still there when it fetches. The command stream's per-subject limit used to be 16,
/// which discarded the oldest 24 before they were ever delivered.
#[tokio::test]
async fn many_schedules_of_one_flow_firing_at_once_are_all_delivered() {
    use adapter_runtime::jetstream::ensure_consumer;
    let nats = NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new("shop");
    ensure_stream(&js, &ns.command_stream()).await.unwrap();
    let consumer = ensure_consumer(&js, &ns.command_consumer("amazon-us"))
        .await
        .unwrap();
    let due = "2026-01-05T10:00:00Z".parse().unwrap();
    for i in 0..40 {
        let schedule = format!("schedule-{i}");
        let command = SyncCommand {
            id: run_id("shop", &schedule, due),
            schedule,
            marketplace: "amazon-us".into(),
            flow: Flow::Inventory,
            mode: SyncMode::Full,
            due_time: "2026-01-05T10:00:00Z".into(),
        };
        assert_eq!(publish(&js, "shop", &command).await.unwrap(), Fired::New);
    }
    let mut received = std::collections::BTreeSet::new();
    loop {
        use futures::StreamExt;
        let mut batch = consumer
            .fetch()
            .max_messages(16)
            .expires(std::time::Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        let mut any = false;
        while let Some(message) = batch.next().await {
            let message = message.unwrap();
            let command: SyncCommand = serde_json::from_slice(&message.payload).unwrap();
            received.insert(command.schedule);
            message.ack().await.unwrap();
            any = true;
        }
        if !any {
            break;
        }
    }
    assert_eq!(received.len(), 40, "every schedule's command is delivered");
}
