#![allow(clippy::unwrap_used)]
//! Reconcile throughput for 1,000 Marketplaces against the in-memory API, and the process's memory.
//! `cargo bench -p operator --bench reconcile`. Prints reconciles per second, the pure rendering's rate for
//! comparison (the ratio is the cost of the API round trips), and the peak resident memory.

use std::sync::Arc;
use std::time::Instant;

use crds::v1alpha1::{Marketplace, RateLimitPolicy};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::events::{Recorder, Reporter};
use operator::controller::{Context, marketplace};
use operator::render::{MarketplaceInputs, render_marketplace};
use operator::settings::RenderSettings;
use serde_json::json;

#[path = "../tests/support/fake_api.rs"]
mod fake_api;

const COUNT: usize = 1_000;
const NS: &str = "bench";

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn marketplace_doc(i: usize) -> Marketplace {
    serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace",
        "metadata": {"name": format!("mp-{i:04}"), "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "none"}, "rateLimitPolicyRef": {"name": "rl"},
        "currency": "USD", "flows": {"inventory": {}, "price": {}, "orders": {}}}}))
    .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let client = fake_api::FakeApi::default().client();
    let secret: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": NS}})).unwrap();
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let policy: RateLimitPolicy = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": "rl", "namespace": NS}, "spec": {"channel": "rest"}})).unwrap();
    let rl = Api::<RateLimitPolicy>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    let api = Api::<Marketplace>::namespaced(client.clone(), NS);
    for i in 0..COUNT {
        api.create(&PostParams::default(), &marketplace_doc(i))
            .await
            .unwrap();
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings::example(),
        nats_overrides: Default::default(),
        jetstream: None,
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "bench".into(),
                instance: None,
            },
        ),
        resync: std::time::Duration::from_secs(300),
    });
    let rss_before = peak_rss_kib();

    // Pure rendering alone.
    let started = Instant::now();
    for i in 0..COUNT {
        let mp = api.get(&format!("mp-{i:04}")).await.unwrap();
        let inputs = MarketplaceInputs {
            marketplace: &mp,
            mapping: None,
            rate_limits: Some(&rl),
            secret_versions: Default::default(),
        };
        std::hint::black_box(render_marketplace(&inputs, &ctx.settings).unwrap());
    }
    let render_rate = COUNT as f64 / started.elapsed().as_secs_f64();

    // Full reconciles: the first adds the finalizer, the second applies four objects and the status.
    let started = Instant::now();
    for pass in 0..2 {
        for i in 0..COUNT {
            let mp = api.get(&format!("mp-{i:04}")).await.unwrap();
            marketplace::reconcile(Arc::new(mp), ctx.clone())
                .await
                .unwrap();
        }
        if pass == 0 {
            continue;
        }
    }
    let reconcile_rate = (2 * COUNT) as f64 / started.elapsed().as_secs_f64();
    // A resync: everything already applied.
    let started = Instant::now();
    for i in 0..COUNT {
        let mp = api.get(&format!("mp-{i:04}")).await.unwrap();
        marketplace::reconcile(Arc::new(mp), ctx.clone())
            .await
            .unwrap();
    }
    let resync_rate = COUNT as f64 / started.elapsed().as_secs_f64();
    println!("marketplaces: {COUNT}");
    println!("get+render per second: {render_rate:.0}");
    println!("reconciles per second (create: finalizer then apply): {reconcile_rate:.0}");
    println!("reconciles per second (resync, nothing changed): {resync_rate:.0}");
    println!(
        "ratio resync reconcile / get+render: {:.2}",
        resync_rate / render_rate
    );
    println!(
        "peak RSS: {} MiB before, {} MiB after (operator and in-memory API in one process)",
        rss_before / 1024,
        peak_rss_kib() / 1024
    );
}
