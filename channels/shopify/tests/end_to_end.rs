//! The Shopify connector end to end: real nats-server, `adapter_runtime::app::run` with the connector, the
//! Shopify sandbox over HTTP with its cost bucket. Assertions read the sandbox's state.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{
    AcknowledgementOutcome, InventoryPosition, LineQuantity, Money, OrderAcknowledgement, Price,
    Record, Shipment,
};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use async_nats::jetstream;
use channel_shopify::ShopifyConnector;
use chrono::Utc;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_shopify::{NewOrder, Settings};
use test_support::{NatsServer, eventually};

const NS: &str = "shopify-test";
const MARKETPLACE: &str = "shopify-ca";
const ERP: &str = "erp";
const TOKEN: &str = "shpat_0123456789abcdef";

/// The store's plan, and the policy saying the same (points, restored per second).
#[derive(Clone, Copy)]
struct Plan {
    maximum: u64,
    restore: u64,
}

fn config(
    base_url: &str,
    nats_url: &str,
    credentials: &std::path::Path,
    plan: Plan,
    flows: &str,
) -> AdapterConfig {
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MARKETPLACE}
spec:
  channel: shopify
  endpoint: {{baseUrl: "{base_url}", sellerId: tradewind-test.myshopify.com}}
  credentialsSecretRef: {{name: shopify}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: shopify}}
  rateLimitPolicyRef: {{name: shopify}}
  currency: CAD
  flows:
{flows}
rateLimits:
  name: shopify
  spec:
    channel: shopify
    operations:
      - {{name: graphql, tokenBucket: {{requests: {restore}, per: 1s, burst: {maximum}, unit: CostPoints}}, concurrency: 4}}
    defaults:
      retry: {{maxAttempts: 6, initialBackoff: 100ms, maxBackoff: 2s}}
      followServerHints: true
nats: {{url: "{nats_url}"}}
credentialsDir: {credentials}
ackWait: 30s
"#,
        restore = plan.restore,
        maximum = plan.maximum,
        credentials = credentials.display()
    );
    AdapterConfig::parse("test", &yaml).unwrap()
}

fn event(id: String, record: Record) -> Event {
    Event {
        id,
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: Utc::now(),
        traceparent: None,
        record,
    }
}

fn inventory(sku: &str, available: i64) -> Event {
    let id = format!("erp:inventory:{sku}:{available}");
    event(
        id.clone(),
        Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: Utc::now(),
        }),
    )
}

fn price(sku: &str, cents: i64) -> Event {
    price_of(sku, Decimal::new(cents, 2))
}

fn price_of(sku: &str, amount: Decimal) -> Event {
    let id = format!("erp:price:{sku}:{amount}");
    event(
        id.clone(),
        Record::Price(Price {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            price: Money::new(amount, "CAD".parse().unwrap()),
            sale: None,
            as_of: Utc::now(),
        }),
    )
}

struct Running {
    _nats: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    _sandbox: sandbox::Running,
    shop: Arc<sandbox_shopify::Sandbox>,
    shutdown: Shutdown,
    adapter: tokio::task::JoinHandle<Result<(), String>>,
    _credentials: tempfile::TempDir,
}

async fn start(plan: Plan, flows: &str, seed: impl FnOnce(&sandbox_shopify::Sandbox)) -> Running {
    let nats = NatsServer::start().await.unwrap();
    let (sandbox, shop) =
        sandbox_shopify::start(Settings::new(TOKEN).plan(plan.maximum, plan.restore))
            .await
            .unwrap();
    seed(&shop);
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(
        credentials.path().join("access_token"),
        format!("{TOKEN}\n"),
    )
    .unwrap();
    let config = config(&sandbox.url(), &nats.url(), credentials.path(), plan, flows);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(ShopifyConnector::from_config(&config, resilience.clone()).unwrap());
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
    eventually(Duration::from_secs(20), "the adapter is ready", || {
        let readiness = readiness.clone();
        async move { readiness.reason().is_none() }
    })
    .await;
    let js = nats.jetstream().await.unwrap();
    Running {
        _nats: nats,
        js,
        ns: Namespace::new(NS),
        _sandbox: sandbox,
        shop,
        shutdown,
        adapter,
        _credentials: credentials,
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.trigger();
        self.adapter.await.unwrap().unwrap();
    }
}

const OUTBOUND_FLOWS: &str =
    "    inventory: {coalesceWindow: 200ms}\n    price: {coalesceWindow: 200ms}";

#[tokio::test]
async fn a_backlog_of_quantities_and_prices_is_paced_under_the_cost_bucket_and_user_errors_are_dead_lettered()
 {
    // 300 SKUs, 30 variants per product; a bucket of 400 points restoring 100/s, well under the backlog's cost.
    let plan = Plan {
        maximum: 400,
        restore: 100,
    };
    let skus: Vec<String> = (0..300).map(|i| format!("SKU-{i:04}")).collect();
    let run = start(plan, OUTBOUND_FLOWS, |shop| {
        for (i, sku) in skus.iter().enumerate() {
            shop.add_variant_of(
                &format!("gid://shopify/Product/{}", 9000 + i / 30),
                sku,
                0,
                Decimal::new(100, 2),
            );
        }
    })
    .await;
    for (i, sku) in skus.iter().enumerate() {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(
            &run.js,
            &subject,
            &inventory(sku, i as i64 % 40 + 1),
            Some(sku),
        )
        .await
        .unwrap();
        let subject = run.ns.erp_subject(ERP, Flow::Price, sku);
        publish_event(&run.js, &subject, &price(sku, 1000 + i as i64), Some(sku))
            .await
            .unwrap();
    }
    // A price beyond Shopify's largest: its userError, dead-lettered with its message, the others unaffected.
    let subject = run.ns.erp_subject(ERP, Flow::Price, "SKU-0007");
    let huge = Decimal::from(10_i64.pow(18));
    publish_event(
        &run.js,
        &subject,
        &price_of("SKU-0007", huge),
        Some("SKU-0007"),
    )
    .await
    .unwrap();

    let shop = run.shop.clone();
    eventually(
        Duration::from_secs(90),
        "every quantity and price is set",
        || {
            let shop = shop.clone();
            let skus = skus.clone();
            async move {
                skus.iter().enumerate().all(|(i, sku)| {
                    shop.variant(sku).is_some_and(|v| {
                        v.available == i as i64 % 40 + 1
                            && v.price == Decimal::new(1000 + i as i64, 2)
                    })
                })
            }
        },
    )
    .await;
    let variant = run.shop.variant("SKU-0001").unwrap();
    assert_eq!(
        variant.last_change,
        Some(("available".into(), "correction".into()))
    );

    let dead_letters = Arc::new(DeadLetterStore::new(run.js.clone(), run.ns.clone()));
    let store = dead_letters.clone();
    eventually(
        Duration::from_secs(30),
        "the negative price is dead-lettered",
        || {
            let store = store.clone();
            async move {
                store
                    .list(Some(MARKETPLACE), Some(Flow::Price))
                    .await
                    .is_ok_and(|l| !l.is_empty())
            }
        },
    )
    .await;
    let letters = dead_letters
        .list(Some(MARKETPLACE), Some(Flow::Price))
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "only the bad price is dead-lettered");
    assert!(
        letters[0]
            .letter
            .reason
            .contains("Price must be less than 1000000000000000000"),
        "the dead letter carries Shopify's message: {}",
        letters[0].letter.reason
    );
    assert_eq!(
        run.shop.variant("SKU-0007").unwrap().price,
        Decimal::new(1007, 2)
    );

    // Pacing from throttleStatus: more points than the bucket holds were spent, never a THROTTLED answer.
    assert!(
        run.shop.points_charged() > plan.maximum,
        "{} points",
        run.shop.points_charged()
    );
    assert_eq!(
        run.shop.throttled_answers(),
        0,
        "the sandbox answered THROTTLED"
    );
    // Prices go out per product, at most 250 variants per call.
    for call in run
        .shop
        .controls
        .recorder
        .calls(Some("productVariantsBulkUpdate"))
    {
        let variants = call.body["variables"]["variants"].as_array().unwrap();
        assert!(!variants.is_empty() && variants.len() <= 250);
        assert!(
            call.body["query"]
                .as_str()
                .unwrap()
                .contains("productVariantsBulkUpdate(")
        );
    }
    for call in run
        .shop
        .controls
        .recorder
        .calls(Some("inventorySetQuantities"))
    {
        let input = &call.body["variables"]["input"];
        assert_eq!(input["name"], "available");
        assert!(
            input["quantities"]
                .as_array()
                .unwrap()
                .iter()
                .all(|q| q["compareQuantity"].is_i64())
        );
    }
    run.stop().await;
}

#[tokio::test]
async fn a_quantity_changed_meanwhile_is_read_again_and_unknown_skus_are_dead_lettered() {
    let plan = Plan {
        maximum: 1000,
        restore: 100,
    };
    let run = start(plan, OUTBOUND_FLOWS, |shop| {
        shop.add_variant("A-1", 5, Decimal::new(100, 2))
    })
    .await;
    // A stale compare: the quantity moves between the connector's read and its write, answered by the
    // sandbox's fault on the next mutation (COMPARE_QUANTITY_STALE as Shopify words it).
    run.shop.controls.faults.plan(sandbox::FaultPlan {
        operation: Some("inventorySetQuantities".into()),
        fault: sandbox::Fault::Status {
            status: 200,
            body: serde_json::json!({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": null,
                "userErrors": [{"field": ["input", "quantities", "0", "compareQuantity"],
                    "message": "The specified compare quantity does not match the current quantity.",
                    "code": "COMPARE_QUANTITY_STALE"}]}}}).to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
        },
        count: 1,
    });
    for (sku, quantity) in [("A-1", 12), ("GHOST", 3)] {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(&run.js, &subject, &inventory(sku, quantity), Some(sku))
            .await
            .unwrap();
    }
    let shop = run.shop.clone();
    eventually(
        Duration::from_secs(30),
        "A-1 is set after the retry",
        || {
            let shop = shop.clone();
            async move { shop.variant("A-1").is_some_and(|v| v.available == 12) }
        },
    )
    .await;
    assert!(
        run.shop
            .controls
            .recorder
            .calls(Some("inventorySetQuantities"))
            .len()
            >= 2
    );
    let dead_letters = Arc::new(DeadLetterStore::new(run.js.clone(), run.ns.clone()));
    let store = dead_letters.clone();
    eventually(Duration::from_secs(30), "GHOST is dead-lettered", || {
        let store = store.clone();
        async move {
            store
                .list(Some(MARKETPLACE), Some(Flow::Inventory))
                .await
                .is_ok_and(|l| !l.is_empty())
        }
    })
    .await;
    let letters = dead_letters
        .list(Some(MARKETPLACE), Some(Flow::Inventory))
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0]
            .letter
            .reason
            .contains("no variant with this SKU"),
        "{}",
        letters[0].letter.reason
    );
    run.stop().await;
}

#[tokio::test]
async fn orders_are_read_by_cursor_then_cancelled_and_fulfilled_with_tracking() {
    let plan = Plan {
        maximum: 1000,
        restore: 100,
    };
    let flows =
        "    orders: {pollInterval: 300ms, validation: {shipToCountries: [CA]}}\n    shipments: {}";
    let mut ids = Vec::new();
    let run = start(plan, flows, |shop| {
        shop.add_variant("A-1", 10, Decimal::new(1250, 2));
        for _ in 0..120 {
            ids.push(shop.add_order(NewOrder::new().line("A-1", 2, Decimal::new(1250, 2))));
        }
    })
    .await;
    let numeric = |gid: &str| gid.rsplit('/').next().unwrap().to_string();
    let last = numeric(ids.last().unwrap());
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .unwrap();
    let subject = run.ns.marketplace_subject(MARKETPLACE, Flow::Orders, &last);
    eventually(
        Duration::from_secs(60),
        "the last order is published",
        || {
            let (stream, subject) = (stream.clone(), subject.clone());
            async move {
                stream
                    .get_last_raw_message_by_subject(&subject)
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    let message = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    let headers = adapter_runtime::jetstream::from_header_map(&message.headers);
    let published = adapter_runtime::envelope::decode(&headers, &message.payload).unwrap();
    let Record::Order(order) = published.record else {
        panic!("not an order: {:?}", published.record)
    };
    assert_eq!(order.lines[0].sku.as_str(), "A-1");
    assert_eq!(order.totals.subtotal.amount, Decimal::new(2500, 2));
    assert_eq!(order.totals.total.amount, Decimal::new(2500 + 995 + 325, 2));
    assert_eq!(order.ship_to.country, "CA");
    let pages: Vec<_> = run.shop.controls.recorder.calls(Some("orders"));
    assert!(
        pages
            .iter()
            .any(|c| c.body["variables"]["after"].is_string()),
        "a second page was read by cursor"
    );
    let shop = run.shop.clone();
    eventually(
        Duration::from_secs(30),
        "a later poll filters on updated_at",
        || {
            let shop = shop.clone();
            async move {
                shop.controls
                    .recorder
                    .calls(Some("orders"))
                    .iter()
                    .any(|c| {
                        c.body["variables"]["query"]
                            .as_str()
                            .is_some_and(|q| q.starts_with("updated_at:>="))
                    })
            }
        },
    )
    .await;

    // The ERP rejects one order (cancelled on Shopify) and ships another.
    let rejected = numeric(&ids[1]);
    let ack = event(
        format!("ack:{rejected}"),
        Record::OrderAcknowledgement(OrderAcknowledgement {
            correlation_id: format!("{MARKETPLACE}:{rejected}")
                .as_str()
                .try_into()
                .unwrap(),
            marketplace: MARKETPLACE.try_into().unwrap(),
            order_id: rejected.as_str().try_into().unwrap(),
            outcome: AcknowledgementOutcome::Rejected {
                reason: "no stock".into(),
            },
            at: Utc::now(),
        }),
    );
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, &rejected, OrderUpdateKind::Rejected);
    publish_event(&run.js, &subject, &ack, None).await.unwrap();
    let shipped = numeric(&ids[0]);
    let shipment = Shipment {
        correlation_id: format!("{MARKETPLACE}:{shipped}")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: shipped.as_str().try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "Canada Post".into(),
        service: None,
        tracking_number: "7023210039414604".into(),
        shipped_at: Utc::now(),
        ship_from_location: None,
        lines: vec![LineQuantity {
            line_id: "1".into(),
            sku: "A-1".try_into().unwrap(),
            quantity: 2,
        }],
    };
    let subject = run.ns.shipment_subject(ERP, MARKETPLACE, &shipped, "PKG-1");
    publish_event(
        &run.js,
        &subject,
        &event(format!("ship:{shipped}"), Record::Shipment(shipment)),
        None,
    )
    .await
    .unwrap();
    let shop = run.shop.clone();
    let (cancelled_id, shipped_id) = (ids[1].clone(), ids[0].clone());
    eventually(
        Duration::from_secs(30),
        "one order cancelled, one fulfilled",
        || {
            let shop = shop.clone();
            let (c, s) = (cancelled_id.clone(), shipped_id.clone());
            async move {
                shop.order(&c).is_some_and(|o| o.cancelled_at.is_some())
                    && shop.order(&s).is_some_and(|o| o.fulfilled)
            }
        },
    )
    .await;
    let fulfillment = run.shop.store().fulfillments[0].clone();
    assert_eq!(fulfillment.order_id, ids[0]);
    assert_eq!(fulfillment.number.as_deref(), Some("7023210039414604"));
    assert_eq!(fulfillment.company.as_deref(), Some("Canada Post"));
    assert_eq!(run.shop.throttled_answers(), 0);
    run.stop().await;
}

#[tokio::test]
async fn the_shop_is_required_and_the_token_checked() {
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("access_token"), "t").unwrap();
    let plan = Plan {
        maximum: 1000,
        restore: 50,
    };
    let mut config = config(
        "http://127.0.0.1:1",
        "nats://127.0.0.1:1",
        credentials.path(),
        plan,
        OUTBOUND_FLOWS,
    );
    config.spec.endpoint.base_url = None;
    config.spec.endpoint.seller_id = None;
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let Err(error) = ShopifyConnector::from_config(&config, resilience.clone()) else {
        panic!("a Shopify marketplace without a shop must be refused");
    };
    assert!(error.contains("spec.endpoint.sellerId"), "{error}");
    let empty = tempfile::tempdir().unwrap();
    config.spec.endpoint.seller_id = Some("acme".into());
    config.credentials_dir = empty.path().to_path_buf();
    let Err(error) = ShopifyConnector::from_config(&config, resilience) else {
        panic!("a missing access_token must be refused");
    };
    assert!(error.contains("access_token"), "{error}");

    let (sandbox, shop) = sandbox_shopify::start(Settings::new(TOKEN)).await.unwrap();
    let status = reqwest::Client::new()
        .post(format!(
            "{}/admin/api/{}/graphql.json",
            sandbox.url(),
            channel_shopify::graphql::API_VERSION
        ))
        .header("X-Shopify-Access-Token", "wrong")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    assert!(
        shop.controls
            .recorder
            .calls(None)
            .iter()
            .all(|c| !c.body.to_string().contains("wrong"))
    );
}
