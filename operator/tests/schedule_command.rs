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
