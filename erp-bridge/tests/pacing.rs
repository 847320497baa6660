//! The sink paces itself for the ERP: with two marketplaces (six consumers) and `concurrency: 3`, the demo ERP
//! never answers more than three posts (orders and returns together) at once, and the `RateLimitPolicy`'s token bucket for `postSalesOrder`
//! spreads the orders out (a flash sale waits in JetStream).

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_runtime::canonical::{Order, Record};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::jetstream::{ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::topology::{Namespace, order_message_id};
use chrono::Utc;
use demo_erp::{DemoErp, Options};
use erp_bridge::BridgeConfig;
use test_support::{NatsServer, TestDatabase, eventually};

const NS: &str = "pacing";
const MARKETPLACES: [&str; 2] = ["shop-a", "shop-b"];
const PER_MARKETPLACE: usize = 20;
/// Orders per second the policy allows, with a burst of one.
const RATE: usize = 20;

#[tokio::test]
async fn posts_stay_within_the_concurrency_cap_and_the_rate_limit() {
    let nats = NatsServer::start().await.unwrap();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_secs(3600),
            // Posts take a while, so that the bridge's posts overlap up to its cap.
            answer_delay: Duration::from_millis(40),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    for sku in ["TW-1001", "TW-2002"] {
        erp.add_item(sku, sku, "9.99", "USD", &[("DAL", 10_000)])
            .await
            .unwrap();
    }
    let js = nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    for marketplace in MARKETPLACES {
        ensure_stream(&js, &ns.marketplace_stream(marketplace))
            .await
            .unwrap();
        for i in 0..PER_MARKETPLACE {
            let id = format!("{marketplace}-{i:03}");
            let mut order: Order = serde_json::from_str(include_str!(
                "../../adapter-runtime/tests/fixtures/order.json"
            ))
            .unwrap();
            order.marketplace = marketplace.try_into().unwrap();
            order.order_id = id.as_str().try_into().unwrap();
            order.correlation_id = format!("{marketplace}:{id}").as_str().try_into().unwrap();
            let event = Event {
                id: order_message_id(marketplace, &id, 1),
                source: format!("/tradewind/{NS}/marketplace/{marketplace}"),
                time: Utc::now(),
                traceparent: None,
                record: Record::Order(Box::new(order)),
            };
            publish_event(
                &js,
                &ns.erp_order_subject(marketplace, &id),
                &event,
                Some(&id),
            )
            .await
            .unwrap();
            // A return per order: `postReturn` has no token bucket, so these go as fast as the cap allows.
            let a_return: Record =
                serde_json::from_value(serde_json::json!({"type": "return", "data": {
                "correlationId": format!("{marketplace}:{id}"), "marketplace": marketplace,
                "orderId": id, "returnId": format!("R-{id}"), "status": "Requested",
                "lines": [{"lineId": "1", "sku": "TW-1001", "quantity": 1, "reason": "damaged"}],
                "createdAt": "2026-11-27T09:00:00Z"}}))
                .unwrap();
            let (return_id, key) = adapter_runtime::flow::identity(marketplace, &a_return);
            let event = Event {
                id: return_id,
                source: format!("/tradewind/{NS}/marketplace/{marketplace}"),
                time: Utc::now(),
                traceparent: None,
                record: a_return,
            };
            let subject = ns.marketplace_subject(marketplace, crds::channel::Flow::Returns, &key);
            publish_event(&js, &subject, &event, Some(&key))
                .await
                .unwrap();
        }
    }
    let secrets = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(secrets.path().join("erp-api")).unwrap();
    std::fs::write(secrets.path().join("erp-api/token"), "demo-only-token").unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
erpConnection: erp
marketplaces: [shop-a, shop-b]
spec:
  source:
    nats: {{subject: "acme.erp.events.>"}}
  sink:
    rest:
      baseUrl: "{}"
      tokenSecretRef: {{name: erp-api, key: token}}
      concurrency: 3
      rateLimitPolicyRef: {{name: erp-api}}
sinkRateLimits:
  channel: rest
  operations:
    - name: postSalesOrder
      tokenBucket: {{requests: 1, per: {}ms, burst: 1}}
nats: {{url: "{}"}}
secretsDir: "{}"
"#,
        erp.url(),
        1000 / RATE,
        nats.url(),
        secrets.path().display()
    );
    let config = BridgeConfig::parse("test", &yaml).unwrap();
    let shutdown = Shutdown::new();
    let started = Instant::now();
    let task = tokio::spawn(erp_bridge::run(
        config,
        shutdown.clone(),
        Arc::new(Metrics::new()),
    ));
    let total = MARKETPLACES.len() * PER_MARKETPLACE;
    eventually(
        Duration::from_secs(60),
        "every order and return is posted",
        || async {
            erp.sales_orders().await.unwrap().len() == total
                && erp.documents().await.unwrap().len() == total
        },
    )
    .await;
    let elapsed = started.elapsed();
    shutdown.trigger();
    task.await.unwrap().unwrap();

    eprintln!(
        "at most {} posts at once; {total} orders in {elapsed:?}",
        erp.max_concurrent_posts()
    );
    // One token at start, then one every 1/RATE s: the last order cannot be posted sooner.
    let least = Duration::from_secs_f64((total - 1) as f64 / RATE as f64);
    assert_eq!(
        erp.max_concurrent_posts(),
        3,
        "the cap is reached with returns waiting"
    );
    assert!(
        elapsed >= least,
        "{total} orders in {elapsed:?}, faster than the policy's {RATE}/s"
    );
}
