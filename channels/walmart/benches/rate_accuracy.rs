//! Walmart rate accuracy: how close the connector comes to a limit without crossing it, through a real
//! nats-server, `adapter_runtime::app::run` with the Walmart connector and the Walmart sandbox over HTTP, whose
//! server-side buckets are the same limits (429 with Retry-After when crossed).
//!
//! 1. Per-SKU `updateInventoryForAnItem` under the example policy's bucket (5/s, burst 10; Walmart publishes no
//!    fixed per-SKU rate, so the sandbox enforces the same figure): a backlog of 200 SKUs.
//! 2. Bulk inventory feeds under Walmart's published limit of 10 per hour, burst 10, time-compressed 120 times
//!    (10 per 30 s) so the run takes a minute: the ERP keeps changing stock every 200 ms and every fetched
//!    batch becomes one feed.
//!
//! Reported: achieved rate beyond the burst over the limit, and the sandbox's 429 answers.
//!
//! `TRADEWIND_NATS_SERVER=... cargo bench -p channel-walmart --bench rate_accuracy`

#![allow(clippy::unwrap_used)] // a harness that cannot set up fails, which is what unwrap does

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{InventoryPosition, Record};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use channel_walmart::WalmartConnector;
use chrono::Utc;
use crds::channel::{Flow, LimitUnit, PublishedLimit};
use sandbox_walmart::{Credentials, Options, WalmartSandbox};
use test_support::NatsServer;

const NS: &str = "bench";
const MP: &str = "walmart-us";
const ERP: &str = "erp";

struct Case {
    operation: &'static str,
    limit: PublishedLimit,
    delivery: &'static str,
}

struct Outcome {
    accepted: usize,
    throttled: usize,
    /// Calls beyond the burst per second, from the first call to the last.
    achieved_per_second: f64,
    limit_per_second: f64,
    span: Duration,
}

fn config(
    nats_url: &str,
    sandbox: &WalmartSandbox,
    dir: &std::path::Path,
    case: &Case,
) -> AdapterConfig {
    let credentials = Credentials::default();
    std::fs::write(dir.join("client_id"), &credentials.client_id).unwrap();
    std::fs::write(dir.join("client_secret"), &credentials.client_secret).unwrap();
    let l = &case.limit;
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MP}
spec:
  channel: walmart
  endpoint: {{baseUrl: "{base}", tokenUrl: "{token}"}}
  credentialsSecretRef: {{name: walmart}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: walmart}}
  rateLimitPolicyRef: {{name: walmart}}
  currency: USD
  flows:
    inventory: {{coalesceWindow: 50ms, delivery: {delivery}}}
rateLimits:
  name: walmart
  spec:
    channel: walmart
    operations:
      - {{name: {operation}, tokenBucket: {{requests: {requests}, per: {per}ms, burst: {burst}}}}}
    defaults: {{retry: {{maxAttempts: 5, initialBackoff: 100ms, maxBackoff: 1s}}}}
nats: {{url: "{nats_url}"}}
credentialsDir: "{dir}"
httpAddress: "127.0.0.1:0"
ackWait: 30s
"#,
        base = sandbox.url(),
        token = sandbox.token_url(),
        dir = dir.display(),
        delivery = case.delivery,
        operation = case.operation,
        requests = l.requests,
        per = l.per_millis,
        burst = l.burst,
    );
    AdapterConfig::parse("bench", &yaml).unwrap()
}

async fn publish(js: &jetstream::Context, ns: &Namespace, sku: &str, available: i64) {
    let id = format!("erp:inventory:{sku}:{available}");
    let event = Event {
        id: id.clone(),
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: Utc::now(),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc::now(),
        }),
    };
    publish_event(
        js,
        &ns.erp_subject(ERP, Flow::Inventory, sku),
        &event,
        Some(sku),
    )
    .await
    .unwrap();
}

/// Runs one case: `load` publishes the ERP's changes, and the run ends once `calls` calls were accepted.
async fn run(case: Case, skus: usize, calls: usize, steady: bool) -> Outcome {
    adapter_runtime::connectors::ensure_crypto_provider();
    let nats = NatsServer::start().await.unwrap();
    let js = jetstream::new(nats.client().await.unwrap());
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    let sandbox = sandbox_walmart::start_with(
        "127.0.0.1:0",
        Options {
            limits: HashMap::from([(case.operation.to_string(), case.limit)]),
            feed_processing: Some(Duration::from_millis(200)),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let names: Vec<String> = (0..skus).map(|i| format!("WM-{i:04}")).collect();
    sandbox.seed_items(names.iter().map(String::as_str));
    if !steady {
        // The backlog waits before the adapter starts.
        for sku in &names {
            publish(&js, &ns, sku, 5).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config(&nats.url(), &sandbox, dir.path(), &case);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = WalmartConnector::from_config(&config, resilience.clone()).unwrap();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
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
    let started = Instant::now();
    let mut version = 0;
    loop {
        let accepted = sandbox.controls().recorder.count(case.operation, 200);
        if accepted >= calls {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{} calls in time",
            case.operation
        );
        if steady {
            // The ERP changes a few SKUs every 200 ms: there is always more to send than the limit lets out.
            version += 1;
            for sku in names.iter().skip(version % skus).take(3) {
                publish(&js, &ns, sku, version as i64).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    shutdown.trigger();
    let recorded = sandbox.controls().recorder.calls(Some(case.operation));
    let accepted: Vec<_> = recorded
        .iter()
        .filter(|c| c.status == 200)
        .take(calls)
        .collect();
    let span = (accepted[accepted.len() - 1].at - accepted[0].at)
        .to_std()
        .unwrap_or_default();
    let burst = usize::try_from(case.limit.burst).unwrap();
    Outcome {
        accepted: accepted.len(),
        throttled: recorded.iter().filter(|c| c.status == 429).count(),
        achieved_per_second: (accepted.len() - burst) as f64 / span.as_secs_f64(),
        limit_per_second: case.limit.requests as f64 * 1000.0 / case.limit.per_millis as f64,
        span,
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name}: {} accepted over {:.1} s, {} answered 429; beyond the burst {:.3}/s against {:.3}/s: ratio {:.3}",
        o.accepted,
        o.span.as_secs_f64(),
        o.throttled,
        o.achieved_per_second,
        o.limit_per_second,
        o.achieved_per_second / o.limit_per_second
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let per_sku = run(
        Case {
            operation: "updateInventoryForAnItem",
            limit: PublishedLimit {
                requests: 5,
                per_millis: 1_000,
                burst: 10,
                unit: LimitUnit::Requests,
                source: "the example RateLimitPolicy's default bucket",
            },
            delivery: "PerRecord",
        },
        200,
        200,
        false,
    )
    .await;
    report("per SKU (updateInventoryForAnItem, 5/s burst 10)", &per_sku);
    let feeds = run(
        Case {
            operation: "bulkInventoryFeed",
            limit: PublishedLimit {
                requests: 10,
                per_millis: 30_000,
                burst: 10,
                unit: LimitUnit::Requests,
                source: "Walmart's 10 inventory feeds per hour, burst 10, compressed 120 times",
            },
            delivery: "Bulk",
        },
        50,
        25,
        true,
    )
    .await;
    report("bulk inventory feeds (10 per 30 s, burst 10)", &feeds);
}
