//! Cost points per second the Shopify connector achieves under an inventory backlog, against the store's restore
//! rate, and how many THROTTLED answers it took to get there. Four concurrent deliveries of 250 SKUs each (a
//! lookup of 252 points and a mutation of 10) through one `graphql` guard and the Shopify sandbox over HTTP.
//! The ratio counts the points spent beyond the initial full bucket, over the time after it was spent.
//!
//! `cargo bench -p channel-shopify --bench cost_backlog`

#![allow(clippy::unwrap_used)] // a harness that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::MarketplaceName;
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::{Connector, OutboundItem};
use adapter_runtime::resilience::Resilience;
use channel_shopify::ShopifyConnector;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_shopify::Settings;
use serde_json::json;

const MAXIMUM: u64 = 1_000;
const RESTORE: u64 = 500;
const BATCHES: usize = 24;
const TOKEN: &str = "bench-token";

fn policy(base_url: &str, credentials: &std::path::Path) -> AdapterConfig {
    AdapterConfig::parse(
        "bench",
        &format!(
            r#"
namespace: bench
marketplace: shopify
spec:
  channel: shopify
  endpoint: {{baseUrl: "{base_url}"}}
  credentialsSecretRef: {{name: shopify}}
  erpConnectionRef: {{name: erp}}
  channelMappingRef: {{name: shopify}}
  rateLimitPolicyRef: {{name: shopify}}
  currency: CAD
  flows: {{inventory: {{}}}}
rateLimits:
  name: shopify
  spec:
    channel: shopify
    operations:
      - {{name: graphql, tokenBucket: {{requests: {RESTORE}, per: 1s, burst: {MAXIMUM}, unit: CostPoints}}, concurrency: 4}}
    defaults:
      followServerHints: true
nats: {{url: "nats://127.0.0.1:1"}}
credentialsDir: {}
"#,
            credentials.display()
        ),
    )
    .unwrap()
}

#[tokio::main]
async fn main() {
    let (running, shop) = sandbox_shopify::start(Settings::new(TOKEN).plan(MAXIMUM, RESTORE))
        .await
        .unwrap();
    let skus: Vec<String> = (0..BATCHES * 250).map(|i| format!("SKU-{i:05}")).collect();
    for sku in &skus {
        shop.add_variant(sku, 0, Decimal::ONE);
    }
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("access_token"), TOKEN).unwrap();
    let config = policy(&running.url(), credentials.path());
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(
        ShopifyConnector::new(
            &running.url(),
            credentials.path(),
            MarketplaceName::try_from("shopify").unwrap(),
            resilience,
            Duration::from_secs(30),
        )
        .unwrap(),
    );
    let batches: Vec<Vec<OutboundItem>> = skus
        .chunks(250)
        .map(|chunk| {
            chunk
                .iter()
                .map(|sku| OutboundItem {
                    key: sku.clone(),
                    correlation_id: format!("bench:{sku}").as_str().try_into().unwrap(),
                    fields: json!({"sku": sku, "available": 7}),
                    record: json!({"sku": sku, "available": 7}),
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..4 {
        let connector = connector.clone();
        let mine: Vec<Vec<OutboundItem>> = batches.iter().skip(lane).step_by(4).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for batch in mine {
                let results = connector.deliver(Flow::Inventory, &batch).await;
                assert!(
                    results.iter().all(Result::is_ok),
                    "{:?}",
                    results.iter().find(|r| r.is_err())
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let charged = shop.points_charged();
    let rate = (charged.saturating_sub(MAXIMUM)) as f64 / elapsed;
    assert!(
        skus.iter()
            .all(|s| shop.variant(s).is_some_and(|v| v.available == 7))
    );
    println!(
        "plan: {MAXIMUM} points, {RESTORE}/s restore; {} SKUs in {BATCHES} batches",
        skus.len()
    );
    println!("points charged: {charged} in {elapsed:.1} s");
    println!(
        "achieved after the initial bucket: {rate:.0} points/s = {:.2} of the restore rate",
        rate / RESTORE as f64
    );
    println!("THROTTLED answers: {}", shop.throttled_answers());
}
