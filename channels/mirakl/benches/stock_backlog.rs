//! SKUs per minute the Mirakl connector achieves through STO01 under a backlog, against the most the call
//! frequency allows. Real nats-server, `adapter_runtime::app::run`, the Mirakl sandbox; the sandbox's "once
//! per minute" is scaled to `PERIOD_MS` (the same period in the policy), and figures are reported per period,
//! so they read as "per minute" at Mirakl's real frequency.
//!
//! `TRADEWIND_NATS_SERVER=... cargo bench -p channel-mirakl --bench stock_backlog`

#![allow(clippy::unwrap_used)] // a harness that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::Connector;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::publish_event;
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use channel_mirakl::MiraklConnector;
use chrono::Utc;
use crds::channel::Flow;
use sandbox_mirakl::Settings;
use test_support::NatsServer;

const PERIOD_MS: u64 = 500;
const SKUS: usize = 10_000;
const API_KEY: &str = "bench-key";

fn config(base_url: &str, nats_url: &str, credentials: &std::path::Path) -> AdapterConfig {
    let bucket = format!("{{requests: 1, per: {PERIOD_MS}ms, burst: 1}}");
    AdapterConfig::parse(
        "bench",
        &format!(
            r#"
namespace: bench
marketplace: mirakl
spec:
  channel: mirakl
  endpoint: {{baseUrl: "{base_url}"}}
  credentialsSecretRef: {{name: mirakl}}
  erpConnectionRef: {{name: erp}}
  channelMappingRef: {{name: mirakl}}
  rateLimitPolicyRef: {{name: mirakl}}
  currency: EUR
  flows: {{inventory: {{coalesceWindow: 200ms}}}}
rateLimits:
  name: mirakl
  spec:
    channel: mirakl
    operations:
      - {{name: STO01, tokenBucket: {bucket}}}
      - {{name: STO02, tokenBucket: {bucket}}}
      - {{name: STO03, tokenBucket: {bucket}}}
nats: {{url: "{nats_url}"}}
credentialsDir: {}
"#,
            credentials.display()
        ),
    )
    .unwrap()
}

#[tokio::main]
async fn main() {
    let nats = NatsServer::start().await.unwrap();
    let (sandbox, mirakl) =
        sandbox_mirakl::start(Settings::new(API_KEY).every_limit_once_per(PERIOD_MS))
            .await
            .unwrap();
    let skus: Vec<String> = (0..SKUS).map(|i| format!("SKU-{i:06}")).collect();
    mirakl.add_offers(skus.iter().map(String::as_str));
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("api_key"), API_KEY).unwrap();
    let config = config(&sandbox.url(), &nats.url(), credentials.path());
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(MiraklConnector::from_config(&config, resilience.clone()).unwrap());
    let fetch = connector.fetch_batch(Flow::Inventory);
    let shutdown = Shutdown::new();
    let readiness = Arc::new(Readiness::starting());
    let adapter = tokio::spawn(adapter_runtime::app::run(
        config,
        connector,
        Some(resilience),
        shutdown.clone(),
        readiness.clone(),
        Arc::new(Metrics::new()),
    ));
    while readiness.reason().is_some() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The backlog: every SKU changed, published as fast as JetStream takes it.
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new("bench");
    let started = Instant::now();
    for sku in &skus {
        let id = format!("erp:{sku}");
        let event = Event {
            id: id.clone(),
            source: "/tradewind/bench/erp/erp".into(),
            time: Utc::now(),
            traceparent: None,
            record: Record::Inventory(InventoryPosition {
                correlation_id: id.as_str().try_into().unwrap(),
                sku: sku.as_str().try_into().unwrap(),
                available: 7,
                locations: Vec::new(),
                as_of: Utc::now(),
            }),
        };
        let subject = ns.erp_subject("erp", Flow::Inventory, sku);
        publish_event(&js, &subject, &event, Some(sku))
            .await
            .unwrap();
    }
    let published = started.elapsed();
    loop {
        let done = mirakl
            .shop()
            .offers
            .values()
            .filter(|o| o.quantity == 7)
            .count();
        if done == SKUS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    shutdown.trigger();
    let _ = adapter.await;

    let recorder = &mirakl.controls.recorder;
    let imports = recorder.count("STO01", 201);
    let throttled: usize = ["STO01", "STO02", "STO03"]
        .iter()
        .map(|op| recorder.count(op, 429))
        .sum();
    let periods = elapsed.as_secs_f64() * 1000.0 / PERIOD_MS as f64;
    let per_period = SKUS as f64 / periods;
    let per_call = SKUS as f64 / imports as f64;
    // The most the frequency allows is one STO01 per period; the runtime's outbound flow hands the connector
    // at most one fetch (the connector's `fetch_batch`) per call, so that is the ceiling a call can carry.
    let ceiling = fetch as f64;
    println!(
        "mirakl stock backlog: {SKUS} SKUs, STO01 once per {PERIOD_MS} ms (Mirakl: once per minute)"
    );
    println!(
        "  backlog published in {:.2} s, drained in {:.2} s = {periods:.1} periods",
        published.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  STO01 calls: {imports} ({:.2} per period allowed), mean {per_call:.0} SKUs per call",
        imports as f64 / periods.max(1.0)
    );
    println!("  SKUs per period (= per minute at Mirakl's frequency): {per_period:.0}");
    println!(
        "  ratio to the flow's ceiling of {ceiling:.0} SKUs per call per period: {:.2}",
        per_period / ceiling
    );
    println!("  429 answers: {throttled}");
}
