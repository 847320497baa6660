//! Amazon under a backlog: the same SKU updates drained by `patchListingsItem` and by one JSON_LISTINGS_FEED,
//! through a real nats-server, `adapter_runtime::app::run` with the Amazon connector and the Amazon sandbox
//! over HTTP (whose buckets are Amazon's published limits). Reports the achieved patch rate over the published
//! 5/s (counted beyond the initial burst of 5), the sandbox's 429 answers, and the drain time of each route.
//!
//! `TRADEWIND_NATS_SERVER=... cargo bench -p channel-amazon --bench rate_accuracy`

#![allow(clippy::unwrap_used)] // a harness that cannot set up fails, which is what unwrap does

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::config::{NatsSettings, resolve_from_items};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use channel_amazon::AmazonConnector;
use chrono::Utc;
use crds::channel::Flow;
use sandbox_amazon::Credentials;
use test_support::NatsServer;

const NS: &str = "tradewind-demo";
const MP: &str = "amazon-us";
const ERP: &str = "demo-erp";
/// SKUs in the backlog: about a minute of patches at 5/s, well under one feed's 25,000 messages.
const BACKLOG: i64 = 300;
/// patchListingsItem's published limit.
const RATE: f64 = 5.0;
const BURST: usize = 5;

struct Run {
    drain: Duration,
    patches: usize,
    throttled: usize,
    feeds: usize,
    /// Seconds from the first to the last patch call.
    patch_span: f64,
}

/// Drains the backlog; `latency` delays every patch answer by that much (Amazon's own latency).
async fn drain(feed_turnaround: Option<Duration>, latency: Duration) -> Run {
    adapter_runtime::connectors::ensure_crypto_provider();
    let nats = NatsServer::start().await.unwrap();
    let sandbox = sandbox_amazon::start("127.0.0.1:0", Credentials::default())
        .await
        .unwrap();
    let credentials = tempfile::tempdir().unwrap();
    let defaults = Credentials::default();
    for (key, value) in [
        ("client_id", &defaults.client_id),
        ("client_secret", &defaults.client_secret),
        ("refresh_token", &defaults.refresh_token),
    ] {
        std::fs::write(credentials.path().join(key), value).unwrap();
    }
    if !latency.is_zero() {
        sandbox.controls().faults.plan(sandbox::FaultPlan {
            operation: Some("patchListingsItem".into()),
            fault: sandbox::Fault::Delay {
                millis: u64::try_from(latency.as_millis()).unwrap(),
            },
            count: u32::try_from(BACKLOG).unwrap() * 2,
        });
    }
    // The backlog waits before the adapter starts.
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    for n in 0..BACKLOG {
        let sku = format!("TW-B-{n:04}");
        let id = format!("erp:inventory:{sku}");
        let record = Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.as_str().try_into().unwrap(),
            available: 100,
            locations: Vec::new(),
            as_of: Utc::now(),
        });
        let event = Event {
            id,
            source: "/tradewind/bench/erp/demo-erp".into(),
            time: Utc::now(),
            traceparent: None,
            record,
        };
        publish_event(
            &js,
            &ns.erp_subject(ERP, Flow::Inventory, &sku),
            &event,
            Some(&sku),
        )
        .await
        .unwrap();
    }

    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schemas = crds::schema::SchemaSet::generated().unwrap();
    let (documents, errors) = crds::manifest::load_paths(&[workspace.join("examples/quickstart")]);
    assert!(errors.is_empty());
    let report = crds::validation::validate(documents, &schemas);
    let mut config = resolve_from_items(
        &report.items,
        NS,
        MP,
        NatsSettings {
            url: nats.url(),
            credentials_file: None,
            tls_ca_file: None,
        },
        credentials.path().to_path_buf(),
    )
    .unwrap();
    config.spec.endpoint.base_url = Some(sandbox.url());
    config.spec.endpoint.token_url = Some(sandbox.token_url());
    config.spec.flows.orders = None;
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let mut connector = AmazonConnector::from_config(&config, resilience.clone()).unwrap();
    if let Some(turnaround) = feed_turnaround {
        connector = connector.with_feed_turnaround(turnaround);
    }
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        adapter_runtime::app::run(
            config,
            Arc::new(connector),
            Some(resilience),
            stop,
            Arc::new(Readiness::starting()),
            Arc::new(Metrics::new()),
        )
        .await
    });
    let expected = usize::try_from(BACKLOG).unwrap();
    loop {
        let state = sandbox.snapshot();
        if state.listings.len() == expected {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the backlog drains"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain = started.elapsed();
    shutdown.trigger();
    let recorder = &sandbox.controls().recorder;
    let calls = recorder.calls(Some("patchListingsItem"));
    let accepted: Vec<_> = calls.iter().filter(|c| c.status == 200).collect();
    let patch_span = match (accepted.first(), accepted.last()) {
        (Some(first), Some(last)) => {
            (last.at - first.at).num_microseconds().unwrap_or(0) as f64 / 1e6
        }
        _ => 0.0,
    };
    Run {
        drain,
        patches: accepted.len(),
        throttled: calls.iter().filter(|c| c.status == 429).count()
            + recorder.count("createFeed", 429)
            + recorder.count("getFeed", 429),
        feeds: sandbox.snapshot().feeds.len(),
        patch_span,
    }
}

#[tokio::main]
async fn main() {
    let patches = drain(None, Duration::ZERO).await;
    // Every patch answered 300 ms late, as a distant Amazon region might: patches in flight keep the rate.
    let distant = drain(None, Duration::from_millis(300)).await;
    // A sandbox feed takes about a second, so from that turnaround the connector chooses the feed.
    let feed = drain(Some(Duration::from_secs(1)), Duration::ZERO).await;
    let ideal = (BACKLOG as f64 - BURST as f64) / RATE;
    println!("backlog: {BACKLOG} SKUs, one fetch, quickstart policy (= Amazon's published limits)");
    println!(
        "| route | calls | 429 answers | drain time | SKUs/s | patch rate beyond the burst / 5/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, run) in [("patches", &patches), ("patches, 300 ms latency", &distant)] {
        let achieved = (run.patches - BURST) as f64 / run.patch_span;
        println!(
            "| {name} | {} patchListingsItem | {} | {:.1} s (ideal {ideal:.1} s) | {:.2} | {:.3} ({achieved:.3}/s over {:.1} s) |",
            run.patches,
            run.throttled,
            run.drain.as_secs_f64(),
            BACKLOG as f64 / run.drain.as_secs_f64(),
            achieved / RATE,
            run.patch_span,
        );
    }
    println!(
        "| feed | {} JSON_LISTINGS_FEED | {} | {:.1} s | {:.1} | - |",
        feed.feeds,
        feed.throttled,
        feed.drain.as_secs_f64(),
        BACKLOG as f64 / feed.drain.as_secs_f64()
    );
}
