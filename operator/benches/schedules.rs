#![allow(clippy::unwrap_used)]
//! 1,000 SyncSchedules due at the same minute: how fast the operator fires them (reconcile against the
//! in-memory API + idempotent publish to a real nats-server), compared with raw JetStream publishes with a
//! message id of the same count on the same machine, and how fast a second replica's stale fires are dropped
//! as duplicates. `cargo bench -p operator --bench schedules` (needs TRADEWIND_NATS_SERVER, as the tests).

use std::sync::Arc;
use std::time::Instant;

use adapter_runtime::jetstream::ensure_stream;
use adapter_runtime::topology::Namespace;
use crds::v1alpha1::{Marketplace, SyncSchedule};
use kube::Api;
use kube::api::PostParams;
use kube::runtime::events::{Recorder, Reporter};
use operator::controller::{Context, sync_schedule};
use operator::settings::RenderSettings;
use serde_json::json;
use test_support::NatsServer;

#[path = "../tests/support/fake_api.rs"]
mod fake_api;

const COUNT: usize = 1_000;
const NS: &str = "bench";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let nats = NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let api = fake_api::FakeApi::default();
    api.set_creation_time("2026-01-05T09:30:00Z");
    let client = api.client();
    let mp: Marketplace = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace",
        "metadata": {"name": "portal", "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "none"}, "rateLimitPolicyRef": {"name": "rl"},
        "currency": "USD", "flows": {"inventory": {}}}}))
    .unwrap();
    Api::<Marketplace>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &mp)
        .await
        .unwrap();
    let schedules = Api::<SyncSchedule>::namespaced(client.clone(), NS);
    for i in 0..COUNT {
        let s: SyncSchedule = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "SyncSchedule",
            "metadata": {"name": format!("s-{i:04}"), "namespace": NS},
            "spec": {"marketplaceRef": {"name": "portal"}, "flow": "inventory", "schedule": "0 * * * *"}}))
        .unwrap();
        schedules.create(&PostParams::default(), &s).await.unwrap();
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings::example(),
        nats_overrides: Default::default(),
        jetstream: Some(js.clone()),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "bench".into(),
                instance: None,
            },
        ),
        resync: std::time::Duration::from_secs(300),
    });
    let now = "2026-01-05T10:00:01Z".parse().unwrap();
    let stale: Vec<SyncSchedule> = schedules.list(&Default::default()).await.unwrap().items;

    // Raw JetStream: the same number of publishes with a message id, awaited one by one like the operator.
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.command_stream()).await.unwrap();
    let started = Instant::now();
    for i in 0..COUNT {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("raw-{i}").as_str());
        js.publish_with_headers(
            ns.command_subject("raw", crds::channel::Flow::Inventory),
            headers,
            "{}".into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let raw_rate = COUNT as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    for s in &stale {
        sync_schedule::reconcile_at(Arc::new(s.clone()), ctx.clone(), now)
            .await
            .unwrap();
    }
    let fire_rate = COUNT as f64 / started.elapsed().as_secs_f64();

    // A second replica holding the same stale objects fires the same due times: every publish is a duplicate.
    let started = Instant::now();
    for s in &stale {
        sync_schedule::reconcile_at(Arc::new(s.clone()), ctx.clone(), now)
            .await
            .unwrap();
    }
    let duplicate_rate = COUNT as f64 / started.elapsed().as_secs_f64();
    let mut stream = js.get_stream(ns.command_stream().name).await.unwrap();
    // Sequences count every accepted publish (the stream keeps only the newest few per subject); a duplicate
    // takes none.
    let accepted = stream.info().await.unwrap().state.last_sequence;

    println!("schedules due at once: {COUNT}");
    println!("raw JetStream publishes (with Nats-Msg-Id, acked) per second: {raw_rate:.0}");
    println!("schedules fired per second (reconcile + publish + status): {fire_rate:.0}");
    println!("stale second-replica fires per second (duplicates): {duplicate_rate:.0}");
    println!("ratio fired / raw publish: {:.2}", fire_rate / raw_rate);
    println!(
        "commands accepted by JetStream: {} fired (of {COUNT} schedules, fired twice), besides the {COUNT} raw",
        accepted.saturating_sub(COUNT as u64)
    );
}
