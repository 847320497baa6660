//! The Mirakl connector end to end: real nats-server, `adapter_runtime::app::run` with the connector, the
//! Mirakl sandbox over HTTP. The sandbox enforces every call frequency (scaled from a minute to
//! `SERVER_PERIOD`) and the policy paces at `CLIENT_PERIOD`; assertions read the sandbox's state.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{
    AcknowledgementOutcome, CancelledBy, InventoryPosition, LineQuantity, Money,
    OrderAcknowledgement, OrderCancellation, Price, Record, Shipment,
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
use channel_mirakl::MiraklConnector;
use chrono::Utc;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_mirakl::{NewOrder, OrderState, Settings};
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "mirakl-test";
const MARKETPLACE: &str = "mirakl-fr";
const ERP: &str = "erp";
const API_KEY: &str = "shop-key-0123";
/// The sandbox's "once per minute", scaled down so the test runs in seconds.
const SERVER_PERIOD_MS: u64 = 300;
/// The policy's period: at or under the server's frequency, as a real policy is under Mirakl's.
const CLIENT_PERIOD: &str = "400ms";

fn spec() -> Value {
    serde_json::from_str(include_str!(
        "../../../specs/mirakl/mirakl-mmp-seller-openapi.json"
    ))
    .unwrap()
}

/// A validator of one component schema of the OpenAPI document (refs resolve inside the document).
fn validator(spec: &Value, component: &str) -> jsonschema::Validator {
    let mut root = spec.clone();
    root["$ref"] = json!(format!("#/components/schemas/{component}"));
    jsonschema::draft4::new(&root).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, body: &Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the spec: {errors:?}\n{body}"
    );
}

/// The example's ChannelMapping (examples/mirakl/30-channel-mapping.yaml) as the configuration's `mapping`.
fn example_mapping() -> String {
    let manifest = include_str!("../../../examples/mirakl/30-channel-mapping.yaml");
    let spec = manifest.split_once("\nspec:\n").unwrap().1;
    let indented: Vec<String> = spec.lines().map(|l| format!("  {l}")).collect();
    format!(
        "mapping:\n  name: mirakl-fr\n  spec:\n{}\n",
        indented.join("\n")
    )
}

fn config(base_url: &str, nats_url: &str, credentials: &std::path::Path) -> AdapterConfig {
    config_with(base_url, nats_url, credentials, "")
}

fn config_with(
    base_url: &str,
    nats_url: &str,
    credentials: &std::path::Path,
    mapping: &str,
) -> AdapterConfig {
    let bucket = format!("{{requests: 1, per: {CLIENT_PERIOD}, burst: 1}}");
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MARKETPLACE}
spec:
  channel: mirakl
  endpoint: {{baseUrl: "{base_url}"}}
  credentialsSecretRef: {{name: mirakl}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: mirakl}}
  rateLimitPolicyRef: {{name: mirakl}}
  currency: EUR
  flows:
    inventory: {{coalesceWindow: 200ms}}
    price: {{coalesceWindow: 200ms}}
    orders: {{pollInterval: 200ms, validation: {{shipToCountries: [FR]}}}}
    shipments: {{}}
rateLimits:
  name: mirakl
  spec:
    channel: mirakl
    operations:
      - {{name: STO01, tokenBucket: {bucket}}}
      - {{name: STO02, tokenBucket: {bucket}}}
      - {{name: STO03, tokenBucket: {bucket}}}
      - {{name: OF24, tokenBucket: {bucket}}}
      - {{name: OR11, tokenBucket: {bucket}}}
    defaults:
      retry: {{maxAttempts: 6, initialBackoff: 100ms, maxBackoff: 1s}}
nats: {{url: "{nats_url}"}}
credentialsDir: {credentials}
ackWait: 30s
{mapping}"#,
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
    let id = format!("erp:price:{sku}:{cents}");
    event(
        id.clone(),
        Record::Price(Price {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            price: Money::new(Decimal::new(cents, 2), "EUR".parse().unwrap()),
            sale: None,
            as_of: Utc::now(),
        }),
    )
}

struct Running {
    /// Fails the test when the sandbox recorded a deviation from the Mirakl seller API that is not a known
    /// one (the price update's missing fields are: issue 19).
    _strict: sandbox::Strict,
    _nats: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    _sandbox: sandbox::Running,
    mirakl: Arc<sandbox_mirakl::Sandbox>,
    shutdown: Shutdown,
    adapter: tokio::task::JoinHandle<Result<(), String>>,
    _credentials: tempfile::TempDir,
}

async fn start(seed: impl FnOnce(&sandbox_mirakl::Sandbox)) -> Running {
    start_with("", seed).await
}

async fn start_with(mapping: &str, seed: impl FnOnce(&sandbox_mirakl::Sandbox)) -> Running {
    start_on(Settings::new(API_KEY), mapping, seed).await
}

async fn start_on(
    settings: Settings,
    mapping: &str,
    seed: impl FnOnce(&sandbox_mirakl::Sandbox),
) -> Running {
    let nats = NatsServer::start().await.unwrap();
    let settings = settings.every_limit_once_per(SERVER_PERIOD_MS);
    let (sandbox, mirakl) = sandbox_mirakl::start(settings).await.unwrap();
    seed(&mirakl);
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("api_key"), format!("{API_KEY}\n")).unwrap();
    let config = config_with(&sandbox.url(), &nats.url(), credentials.path(), mapping);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(MiraklConnector::from_config(&config, resilience.clone()).unwrap());
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
        _strict: sandbox::Strict::over([mirakl.controls.as_ref()]),
        _nats: nats,
        js,
        ns: Namespace::new(NS),
        _sandbox: sandbox,
        mirakl,
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

    fn no_throttling(&self) {
        let calls = self.mirakl.controls.recorder.calls(None);
        let throttled: Vec<_> = calls.iter().filter(|c| c.status == 429).collect();
        assert!(
            throttled.is_empty(),
            "the sandbox answered 429: {throttled:?}"
        );
    }
}

#[tokio::test]
async fn stock_and_prices_go_out_in_few_calls_and_rejected_lines_are_dead_lettered() {
    let skus: Vec<String> = (0..1200).map(|i| format!("SKU-{i:04}")).collect();
    let run = start(|m| m.add_offers(skus.iter().map(String::as_str))).await;
    for (i, sku) in skus.iter().enumerate() {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(
            &run.js,
            &subject,
            &inventory(sku, i as i64 % 50 + 1),
            Some(sku),
        )
        .await
        .unwrap();
    }
    let subject = run.ns.erp_subject(ERP, Flow::Inventory, "GHOST");
    publish_event(&run.js, &subject, &inventory("GHOST", 5), Some("GHOST"))
        .await
        .unwrap();
    for sku in skus.iter().take(20) {
        let subject = run.ns.erp_subject(ERP, Flow::Price, sku);
        publish_event(&run.js, &subject, &price(sku, 1990), Some(sku))
            .await
            .unwrap();
    }

    let mirakl = run.mirakl.clone();
    eventually(
        Duration::from_secs(60),
        "every stock line is imported",
        || {
            let mirakl = mirakl.clone();
            let skus = skus.clone();
            async move {
                skus.iter().enumerate().all(|(i, sku)| {
                    mirakl.offer(sku).map(|o| o.quantity) == Some(i as i64 % 50 + 1)
                })
            }
        },
    )
    .await;
    eventually(Duration::from_secs(30), "every price is set", || {
        let mirakl = mirakl.clone();
        let skus = skus.clone();
        async move {
            skus.iter()
                .take(20)
                .all(|sku| mirakl.offer(sku).and_then(|o| o.price) == Some(Decimal::new(1990, 2)))
        }
    })
    .await;

    let dead_letters = Arc::new(DeadLetterStore::new(run.js.clone(), run.ns.clone()));
    let store = dead_letters.clone();
    eventually(Duration::from_secs(20), "GHOST is dead-lettered", || {
        let store = store.clone();
        async move {
            let found = store.list(Some(MARKETPLACE), Some(Flow::Inventory)).await;
            found.is_ok_and(|l| !l.is_empty())
        }
    })
    .await;
    let letters = dead_letters
        .list(Some(MARKETPLACE), Some(Flow::Inventory))
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "only the rejected line is dead-lettered");
    assert!(
        letters[0]
            .letter
            .reason
            .contains("The offer with sku 'GHOST' does not exist"),
        "the dead letter carries Mirakl's message: {}",
        letters[0].letter.reason
    );
    assert!(letters[0].letter.original_subject.ends_with(".GHOST"));

    // The backlog went out in a few imports (the flow hands over at most one fetch per call), never throttled.
    let recorder = &run.mirakl.controls.recorder;
    let imports = recorder.count("STO01", 201);
    assert!(
        (1..=24).contains(&imports),
        "{imports} STO01 calls for 1,201 lines"
    );
    let lines: usize = recorder
        .calls(Some("STO01"))
        .iter()
        .filter_map(|c| c.body.as_str().map(|b| b.lines().count() - 1))
        .sum();
    assert!(lines >= 1201, "every line sent at least once ({lines})");
    run.no_throttling();

    let spec = spec();
    let of24 = validator(&spec, "OF24_Request");
    for call in recorder.calls(Some("OF24")) {
        assert_valid(&of24, "OF24 body", &call.body);
    }
    run.stop().await;
}

/// Issue 19 (the connector's price update leaves out `quantity`) as the strict sandbox sees it when no known
/// deviation is excused: the update is recorded as a deviation of OF24's "You must send all offer fields" and
/// Mirakl's reset applies, so the offer's stock drops to 0. The default sandbox of the other tests lists this
/// as a known deviation (issue 19) and keeps the stock. When issue 19 is fixed this test fails: turn it into
/// the proof that a price update leaves the quantity unchanged, and remove the known deviation.
#[tokio::test]
async fn issue_19_a_price_update_without_quantity_is_caught_and_zeroes_the_stock() {
    let run = start_on(Settings::new(API_KEY).strict(), "", |m| {
        m.add_offers(["SKU-1"])
    })
    .await;
    let stock = run.ns.erp_subject(ERP, Flow::Inventory, "SKU-1");
    publish_event(&run.js, &stock, &inventory("SKU-1", 7), Some("SKU-1"))
        .await
        .unwrap();
    let mirakl = run.mirakl.clone();
    eventually(Duration::from_secs(30), "the stock is imported", || {
        let mirakl = mirakl.clone();
        async move { mirakl.offer("SKU-1").map(|o| o.quantity) == Some(7) }
    })
    .await;
    let subject = run.ns.erp_subject(ERP, Flow::Price, "SKU-1");
    publish_event(&run.js, &subject, &price("SKU-1", 1990), Some("SKU-1"))
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the price is set", || {
        let mirakl = mirakl.clone();
        async move { mirakl.offer("SKU-1").and_then(|o| o.price) == Some(Decimal::new(1990, 2)) }
    })
    .await;
    assert_eq!(
        run.mirakl.offer("SKU-1").map(|o| o.quantity),
        Some(0),
        "Mirakl reset the quantity the price update did not send"
    );
    let conformance = &run.mirakl.controls.conformance;
    let rules: Vec<String> = conformance
        .deviations()
        .iter()
        .flat_map(|d| d.violations.iter().map(|v| v.rule.clone()))
        .collect();
    assert_eq!(rules, vec![sandbox_mirakl::conformance::OF24_ALL_FIELDS]);
    // Caught as it should be; cleared so that the guard passes this test.
    conformance.clear();
    run.stop().await;
}

#[tokio::test]
async fn orders_are_read_page_by_page_accepted_refused_and_shipped() {
    let run = start(|m| {
        m.add_offers(["A-1", "B-2", "C-3"]);
        for n in 0..130 {
            m.add_order(
                NewOrder::new(&format!("ORD-{n:04}-A"))
                    .line("A-1", 2, Decimal::new(1250, 2))
                    .line("B-2", 1, Decimal::new(999, 2)),
            );
        }
    })
    .await;

    // Every order reaches the marketplace stream, through two OR11 pages.
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .unwrap();
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Orders, "ORD-0129-A");
    eventually(
        Duration::from_secs(30),
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
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].sku.as_str(), "A-1");
    assert_eq!(order.lines[0].line_id, "ORD-0129-A-1");
    assert_eq!(order.totals.subtotal.amount, Decimal::new(3499, 2));
    assert_eq!(order.totals.shipping.amount, Decimal::new(990, 2));
    assert_eq!(order.totals.total.amount, Decimal::new(4489, 2));
    assert_eq!(
        order.lines[0].tax.amount,
        Decimal::new(500, 2),
        "the tax included in the line"
    );
    assert_eq!(
        order.totals_mismatch(),
        None,
        "TAX_INCLUDED totals add up canonically"
    );
    assert_eq!(
        order.ship_to.country, "FR",
        "Mirakl's FRA as ISO 3166-1 alpha-2"
    );
    assert_eq!(order.ship_to.city, "Lyon");
    assert!(order.buyer.name.starts_with("Camille"));
    let pages: Vec<String> = run
        .mirakl
        .controls
        .recorder
        .calls(Some("OR11"))
        .iter()
        .filter_map(|c| c.query.clone())
        .collect();
    assert!(pages.iter().any(|q| q.contains("offset=100")), "{pages:?}");
    assert!(pages.iter().all(|q| q.contains("max=100")), "{pages:?}");

    // The ERP accepts one order and refuses another; then ships the first.
    let accept = |order: &str, outcome: AcknowledgementOutcome| {
        let id = format!("ack:{order}");
        event(
            id.clone(),
            Record::OrderAcknowledgement(OrderAcknowledgement {
                correlation_id: format!("{MARKETPLACE}:{order}")
                    .as_str()
                    .try_into()
                    .unwrap(),
                marketplace: MARKETPLACE.try_into().unwrap(),
                order_id: order.try_into().unwrap(),
                outcome,
                at: Utc::now(),
            }),
        )
    };
    for (order, outcome, kind) in [
        (
            "ORD-0001-A",
            AcknowledgementOutcome::Accepted {
                erp_order_number: "SO-1".into(),
            },
            OrderUpdateKind::Accepted,
        ),
        (
            "ORD-0003-A",
            AcknowledgementOutcome::Accepted {
                erp_order_number: "SO-3".into(),
            },
            OrderUpdateKind::Accepted,
        ),
        (
            "ORD-0002-A",
            AcknowledgementOutcome::Rejected {
                reason: "no stock".into(),
            },
            OrderUpdateKind::Rejected,
        ),
    ] {
        let subject = run.ns.order_update_subject(ERP, MARKETPLACE, order, kind);
        publish_event(&run.js, &subject, &accept(order, outcome), None)
            .await
            .unwrap();
    }
    let mirakl = run.mirakl.clone();
    eventually(Duration::from_secs(20), "OR21 accepted and refused", || {
        let mirakl = mirakl.clone();
        async move {
            mirakl.order("ORD-0001-A").map(|o| o.state) == Some(OrderState::Shipping)
                && mirakl.order("ORD-0002-A").map(|o| o.state) == Some(OrderState::Refused)
        }
    })
    .await;

    // The seller cancels an accepted order: OR29.
    eventually(Duration::from_secs(20), "ORD-0003-A accepted", || {
        let mirakl = mirakl.clone();
        async move { mirakl.order("ORD-0003-A").map(|o| o.state) == Some(OrderState::Shipping) }
    })
    .await;
    let cancellation = OrderCancellation {
        correlation_id: format!("{MARKETPLACE}:ORD-0003-A")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "ORD-0003-A".try_into().unwrap(),
        requested_by: CancelledBy::Seller,
        lines: Vec::new(),
        reason: "damaged in the warehouse".into(),
        at: Utc::now(),
    };
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, "ORD-0003-A", OrderUpdateKind::Cancelled);
    publish_event(
        &run.js,
        &subject,
        &event(
            "cancel:ORD-0003-A".into(),
            Record::OrderCancellation(cancellation),
        ),
        None,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "OR29 cancelled ORD-0003-A", || {
        let mirakl = mirakl.clone();
        async move { mirakl.order("ORD-0003-A").map(|o| o.state) == Some(OrderState::Canceled) }
    })
    .await;

    let shipment = Shipment {
        correlation_id: format!("{MARKETPLACE}:ORD-0001-A")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "ORD-0001-A".try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "COLISSIMO".into(),
        service: None,
        tracking_number: "6A123456789".into(),
        shipped_at: Utc::now(),
        ship_from_location: None,
        lines: vec![LineQuantity {
            line_id: "ORD-0001-A-1".into(),
            sku: "A-1".try_into().unwrap(),
            quantity: 2,
        }],
    };
    let subject = run
        .ns
        .shipment_subject(ERP, MARKETPLACE, "ORD-0001-A", "PKG-1");
    publish_event(
        &run.js,
        &subject,
        &event(
            "ship:ORD-0001-A:PKG-1".into(),
            Record::Shipment(shipment.clone()),
        ),
        None,
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "OR23 then OR24 shipped the order",
        || {
            let mirakl = mirakl.clone();
            async move { mirakl.order("ORD-0001-A").map(|o| o.state) == Some(OrderState::Shipped) }
        },
    )
    .await;
    let tracking = run.mirakl.order("ORD-0001-A").unwrap().tracking.unwrap();
    assert_eq!(tracking.carrier_code.as_deref(), Some("COLISSIMO"));
    assert_eq!(tracking.tracking_number.as_deref(), Some("6A123456789"));

    // Shipped by the ERP before its acceptance reached Mirakl (a flash sale): Mirakl refuses tracking for an
    // order awaiting acceptance, so the connector accepts it and the shipment follows on its retry.
    assert_eq!(
        run.mirakl.order("ORD-0010-A").map(|o| o.state),
        Some(OrderState::WaitingAcceptance)
    );
    let early = Shipment {
        correlation_id: format!("{MARKETPLACE}:ORD-0010-A")
            .as_str()
            .try_into()
            .unwrap(),
        order_id: "ORD-0010-A".try_into().unwrap(),
        shipment_id: "PKG-2".into(),
        tracking_number: "6A000000010".into(),
        lines: vec![LineQuantity {
            line_id: "ORD-0010-A-1".into(),
            sku: "A-1".try_into().unwrap(),
            quantity: 2,
        }],
        ..shipment
    };
    let subject = run
        .ns
        .shipment_subject(ERP, MARKETPLACE, "ORD-0010-A", "PKG-2");
    publish_event(
        &run.js,
        &subject,
        &event("ship:ORD-0010-A:PKG-2".into(), Record::Shipment(early)),
        None,
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "the early shipment is accepted, then shipped",
        || {
            let mirakl = mirakl.clone();
            async move { mirakl.order("ORD-0010-A").map(|o| o.state) == Some(OrderState::Shipped) }
        },
    )
    .await;

    // The ERP acknowledges a new version of an order it accepted: the same answer is not sent to Mirakl
    // again (Mirakl would refuse it). A refusal published after it is the sign it was handled.
    let again = OrderAcknowledgement {
        correlation_id: format!("{MARKETPLACE}:ORD-0001-A")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "ORD-0001-A".try_into().unwrap(),
        outcome: AcknowledgementOutcome::Accepted {
            erp_order_number: "SO-1".into(),
        },
        at: Utc::now(),
    };
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, "ORD-0001-A", OrderUpdateKind::Accepted);
    publish_event(
        &run.js,
        &subject,
        &event(
            "ack:ORD-0001-A:2".into(),
            Record::OrderAcknowledgement(again),
        ),
        None,
    )
    .await
    .unwrap();
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, "ORD-0004-A", OrderUpdateKind::Rejected);
    publish_event(
        &run.js,
        &subject,
        &accept(
            "ORD-0004-A",
            AcknowledgementOutcome::Rejected {
                reason: "no stock".into(),
            },
        ),
        None,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "ORD-0004-A refused", || {
        let mirakl = mirakl.clone();
        async move { mirakl.order("ORD-0004-A").map(|o| o.state) == Some(OrderState::Refused) }
    })
    .await;

    let spec = spec();
    let recorder = &run.mirakl.controls.recorder;
    let or21 = validator(&spec, "OR21_Request");
    let or21_calls = recorder.calls(Some("OR21"));
    // Accepted, refused, the cancelled order's acceptance, the early shipment's, and ORD-0004-A's refusal:
    // not the repeated acceptance.
    assert_eq!(or21_calls.len(), 5);
    assert_eq!(
        run.mirakl.controls.recorder.count("OR21", 400),
        0,
        "no OR21 was refused"
    );
    for call in &or21_calls {
        assert_valid(&or21, "OR21 body", &call.body);
    }
    let or23 = validator(&spec, "OR23_Request");
    for call in recorder.calls(Some("OR23")) {
        assert_valid(&or23, "OR23 body", &call.body);
    }
    run.no_throttling();

    // The sandbox's own OR11 answer is what the spec documents. The adapter keeps polling OR11 at its
    // frequency, so this call may find the period used up: it asks again until it is answered.
    let url = format!("{}/api/orders?max=2", run._sandbox.url());
    let or11 = || {
        reqwest::Client::new()
            .get(&url)
            .header("Authorization", API_KEY)
            .send()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let answer: Value = loop {
        let response = or11().await.unwrap();
        if response.status() == reqwest::StatusCode::OK {
            break response.json().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "OR11 still refused: {}",
            response.status()
        );
        // Waiting out the OR11 period the adapter's poll used: the deadline bounds it.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_valid(
        &validator(&spec, "OR11_Response_200"),
        "OR11 answer",
        &answer,
    );

    // The control route shows the same state.
    let state: Value = reqwest::get(format!("{}/_sandbox/state", run._sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shipped = state["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == "ORD-0001-A")
        .unwrap();
    assert_eq!(shipped["state"], "SHIPPED");
    assert_eq!(shipped["tracking"]["tracking_number"], "6A123456789");
    run.stop().await;
}

#[tokio::test]
async fn the_base_url_is_required_and_the_api_key_checked() {
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("api_key"), "k").unwrap();
    let mut config = config(
        "http://127.0.0.1:1",
        "nats://127.0.0.1:1",
        credentials.path(),
    );
    config.spec.endpoint.base_url = None;
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let Err(error) = MiraklConnector::from_config(&config, resilience.clone()) else {
        panic!("a Mirakl marketplace without baseUrl must be refused");
    };
    assert!(
        error.contains("spec.endpoint.baseUrl") && error.contains("operator"),
        "{error}"
    );

    let empty = tempfile::tempdir().unwrap();
    config.spec.endpoint.base_url = Some("http://127.0.0.1:1".into());
    config.credentials_dir = empty.path().to_path_buf();
    let Err(error) = MiraklConnector::from_config(&config, resilience) else {
        panic!("a missing api_key must be refused");
    };
    assert!(error.contains("\"api_key\""), "{error}");

    let (sandbox, _mirakl) = sandbox_mirakl::start(Settings::new(API_KEY)).await.unwrap();
    let status = reqwest::Client::new()
        .get(format!("{}/api/orders", sandbox.url()))
        .header("Authorization", "wrong")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_example_mapping_drives_stock_prices_and_tracking() {
    let run = start_with(&example_mapping(), |m| {
        m.add_offers(["TW1001-FR", "PLAIN-1"]);
        m.add_order(NewOrder::new("ORD-9-A").line("TW1001-FR", 1, Decimal::new(1234, 2)));
    })
    .await;
    for (sku, available) in [("TW-1001", 9), ("PLAIN-1", 4)] {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(&run.js, &subject, &inventory(sku, available), Some(sku))
            .await
            .unwrap();
    }
    let subject = run.ns.erp_subject(ERP, Flow::Price, "TW-1001");
    publish_event(&run.js, &subject, &price("TW-1001", 1234), Some("TW-1001"))
        .await
        .unwrap();
    let mirakl = run.mirakl.clone();
    eventually(
        Duration::from_secs(20),
        "stock and price under the channel SKU",
        || {
            let mirakl = mirakl.clone();
            async move {
                let offer = mirakl.offer("TW1001-FR").unwrap_or_default();
                offer.quantity == 9
                    && offer.price == Some(Decimal::new(1234, 2))
                    && mirakl.offer("PLAIN-1").map(|o| o.quantity) == Some(4)
            }
        },
    )
    .await;
    assert!(
        run.mirakl.offer("TW-1001").is_none(),
        "the ERP SKU never reaches Mirakl"
    );

    // Accept (so the order can ship), then a shipment whose carrier goes through the mapping's value map.
    let subject =
        run.ns
            .order_update_subject(ERP, MARKETPLACE, "ORD-9-A", OrderUpdateKind::Accepted);
    let ack = OrderAcknowledgement {
        correlation_id: format!("{MARKETPLACE}:ORD-9-A")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "ORD-9-A".try_into().unwrap(),
        outcome: AcknowledgementOutcome::Accepted {
            erp_order_number: "SO-9".into(),
        },
        at: Utc::now(),
    };
    publish_event(
        &run.js,
        &subject,
        &event("ack:ORD-9-A".into(), Record::OrderAcknowledgement(ack)),
        None,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "the order is accepted", || {
        let mirakl = mirakl.clone();
        async move { mirakl.order("ORD-9-A").map(|o| o.state) == Some(OrderState::Shipping) }
    })
    .await;
    let shipment = Shipment {
        correlation_id: format!("{MARKETPLACE}:ORD-9-A")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "ORD-9-A".try_into().unwrap(),
        shipment_id: "PKG-9".into(),
        carrier: "colissimo".into(),
        service: None,
        tracking_number: "6A999".into(),
        shipped_at: Utc::now(),
        ship_from_location: None,
        lines: vec![LineQuantity {
            line_id: "ORD-9-A-1".into(),
            sku: "TW-1001".try_into().unwrap(),
            quantity: 1,
        }],
    };
    let subject = run
        .ns
        .shipment_subject(ERP, MARKETPLACE, "ORD-9-A", "PKG-9");
    publish_event(
        &run.js,
        &subject,
        &event("ship:ORD-9-A:PKG-9".into(), Record::Shipment(shipment)),
        None,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "the order is shipped", || {
        let mirakl = mirakl.clone();
        async move { mirakl.order("ORD-9-A").map(|o| o.state) == Some(OrderState::Shipped) }
    })
    .await;
    let tracking = run.mirakl.order("ORD-9-A").unwrap().tracking.unwrap();
    assert_eq!(tracking.carrier_code.as_deref(), Some("COLISSIMO"));

    let spec = spec();
    let of24 = validator(&spec, "OF24_Request");
    for call in run.mirakl.controls.recorder.calls(Some("OF24")) {
        assert_valid(&of24, "OF24 body from the example mapping", &call.body);
    }
    run.no_throttling();
    run.stop().await;
}

#[tokio::test]
async fn a_503_and_a_planned_429_are_retried_without_losing_a_line() {
    let run = start(|m| m.add_offers(["F-1", "F-2"])).await;
    let plan = |operation: &str, status: u16, headers: Vec<(String, String)>| sandbox::FaultPlan {
        operation: Some(operation.into()),
        fault: sandbox::Fault::Status {
            status,
            body: format!("{{\"status\": {status}, \"message\": \"planned\"}}"),
            headers,
        },
        count: 1,
    };
    let faults = &run.mirakl.controls.faults;
    faults.plan(plan("STO01", 503, Vec::new()));
    faults.plan(plan("OF24", 429, vec![("Retry-After".into(), "1".into())]));
    for sku in ["F-1", "F-2"] {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(&run.js, &subject, &inventory(sku, 3), Some(sku))
            .await
            .unwrap();
        let subject = run.ns.erp_subject(ERP, Flow::Price, sku);
        publish_event(&run.js, &subject, &price(sku, 500), Some(sku))
            .await
            .unwrap();
    }
    let mirakl = run.mirakl.clone();
    eventually(
        Duration::from_secs(30),
        "stock and prices after the faults",
        || {
            let mirakl = mirakl.clone();
            async move {
                ["F-1", "F-2"].iter().all(|sku| {
                    mirakl
                        .offer(sku)
                        .is_some_and(|o| o.quantity == 3 && o.price == Some(Decimal::new(500, 2)))
                })
            }
        },
    )
    .await;
    let recorder = &run.mirakl.controls.recorder;
    assert_eq!(recorder.count("STO01", 503), 1);
    assert_eq!(recorder.count("OF24", 429), 1);
    let dead_letters = DeadLetterStore::new(run.js.clone(), run.ns.clone());
    assert!(
        dead_letters
            .list(Some(MARKETPLACE), None)
            .await
            .unwrap()
            .is_empty()
    );
    run.stop().await;
}
