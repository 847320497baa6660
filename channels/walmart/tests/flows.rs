//! Every Walmart flow end to end: a real nats-server, `adapter_runtime::app::run` with the connector and the
//! example ChannelMapping (examples/walmart/30-channel-mapping.yaml), the Walmart sandbox over HTTP. Orders
//! come in and are acknowledged, shipped and cancelled; inventory, price and items go by feed with each refused
//! item dead-lettered in Walmart's words; a malformed order is dead-lettered; returns come in with their refunds;
//! the reconciliation report becomes a settlement and its mismatches dead letters naming both amounts. Request
//! bodies are validated against Walmart's OpenAPI specifications in `specs/walmart/`.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{
    AcknowledgementOutcome, CancelledBy, InventoryPosition, LocationStock, Money,
    OrderAcknowledgement, OrderCancellation, Price, Product, Record, ReturnStatus, Shipment,
};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, StoredDeadLetter, ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use async_nats::jetstream;
use channel_walmart::WalmartConnector;
use chrono::Utc;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_walmart::{Credentials, OrderSpec, WalmartSandbox};
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "wm-flows";
const MP: &str = "walmart-us";
const ERP: &str = "erp";

/// The example's ChannelMapping as the configuration's `mapping`.
fn example_mapping() -> String {
    let manifest = include_str!("../../../examples/walmart/30-channel-mapping.yaml");
    let spec = manifest.split_once("\nspec:\n").unwrap().1;
    let indented: Vec<String> = spec.lines().map(|l| format!("  {l}")).collect();
    format!("mapping:\n  name: {MP}\n  spec:\n{}\n", indented.join("\n"))
}

fn config(
    nats_url: &str,
    sandbox: &WalmartSandbox,
    dir: &Path,
    flows: &str,
    operations: &str,
) -> AdapterConfig {
    let credentials = Credentials::default();
    std::fs::write(dir.join("client_id"), &credentials.client_id).unwrap();
    std::fs::write(dir.join("client_secret"), &credentials.client_secret).unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MP}
spec:
  channel: walmart
  endpoint: {{baseUrl: "{base}", tokenUrl: "{token}"}}
  credentialsSecretRef: {{name: walmart}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: {MP}}}
  rateLimitPolicyRef: {{name: walmart}}
  currency: USD
  flows:
{flows}
rateLimits:
  name: walmart
  spec:
    channel: walmart
    operations: [{operations}]
    defaults: {{retry: {{maxAttempts: 5, initialBackoff: 50ms, maxBackoff: 500ms}}}}
nats: {{url: "{nats_url}"}}
credentialsDir: "{dir}"
httpAddress: "127.0.0.1:0"
ackWait: 10s
{mapping}"#,
        base = sandbox.url(),
        token = sandbox.token_url(),
        dir = dir.display(),
        mapping = example_mapping(),
    );
    AdapterConfig::parse("test", &yaml).unwrap()
}

struct Run {
    /// Fails the test when the sandbox recorded a deviation from Walmart's specification.
    _strict: sandbox::Strict,
    _nats: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    sandbox: WalmartSandbox,
    shutdown: Shutdown,
    dead_letters: DeadLetterStore,
    _dir: tempfile::TempDir,
}

async fn start(flows: &str, operations: &str, seed: impl FnOnce(&WalmartSandbox)) -> Run {
    adapter_runtime::connectors::ensure_crypto_provider();
    let nats = NatsServer::start().await.unwrap();
    let js = jetstream::new(nats.client().await.unwrap());
    let ns = Namespace::new(NS);
    for flow in [Flow::Inventory, Flow::Price, Flow::Catalog] {
        ensure_stream(&js, &ns.erp_stream(ERP, flow)).await.unwrap();
    }
    ensure_stream(&js, &ns.shipment_stream(ERP)).await.unwrap();
    let sandbox = sandbox_walmart::start_with(
        "127.0.0.1:0",
        sandbox_walmart::Options {
            feed_processing: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    seed(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&nats.url(), &sandbox, dir.path(), flows, operations);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = WalmartConnector::from_config(&config, resilience.clone()).unwrap();
    let shutdown = Shutdown::new();
    let readiness = Arc::new(Readiness::starting());
    let stop = shutdown.clone();
    let ready = readiness.clone();
    tokio::spawn(async move {
        let result = adapter_runtime::app::run(
            config,
            Arc::new(connector),
            Some(resilience),
            stop,
            ready,
            Arc::new(Metrics::new()),
        )
        .await;
        if let Err(e) = result {
            panic!("the adapter stopped: {e}");
        }
    });
    eventually(Duration::from_secs(20), "the adapter is ready", || {
        let readiness = readiness.clone();
        async move { readiness.reason().is_none() }
    })
    .await;
    Run {
        _strict: sandbox::Strict::over([sandbox.controls()]),
        _nats: nats,
        dead_letters: DeadLetterStore::new(js.clone(), ns.clone()),
        js,
        ns,
        sandbox,
        shutdown,
        _dir: dir,
    }
}

fn event(id: &str, record: Record) -> Event {
    Event {
        id: id.to_string(),
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: Utc::now(),
        traceparent: None,
        record,
    }
}

fn usd(text: &str) -> Money {
    Money::new(text.parse().unwrap(), "USD".parse().unwrap())
}

impl Run {
    async fn publish(&self, subject: String, event: Event, key: Option<&str>) {
        publish_event(&self.js, &subject, &event, key)
            .await
            .unwrap();
    }

    async fn inventory(&self, sku: &str, available: i64) {
        let id = format!("erp:inventory:{sku}:{available}");
        let record = Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: vec![LocationStock {
                location: "DAL".into(),
                available,
            }],
            as_of: Utc::now(),
        });
        self.publish(
            self.ns.erp_subject(ERP, Flow::Inventory, sku),
            event(&id, record),
            Some(sku),
        )
        .await;
    }

    async fn price(&self, sku: &str, amount: &str) {
        let id = format!("erp:price:{sku}:{amount}");
        let record = Record::Price(Price {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            price: usd(amount),
            sale: None,
            as_of: Utc::now(),
        });
        self.publish(
            self.ns.erp_subject(ERP, Flow::Price, sku),
            event(&id, record),
            Some(sku),
        )
        .await;
    }

    async fn order_update(&self, order_id: &str, outcome: AcknowledgementOutcome) {
        let kind = match outcome {
            AcknowledgementOutcome::Accepted { .. } => OrderUpdateKind::Accepted,
            AcknowledgementOutcome::Rejected { .. } => OrderUpdateKind::Rejected,
        };
        let record = Record::OrderAcknowledgement(OrderAcknowledgement {
            correlation_id: format!("{MP}:{order_id}").as_str().try_into().unwrap(),
            marketplace: MP.try_into().unwrap(),
            order_id: order_id.try_into().unwrap(),
            outcome,
            at: Utc::now(),
        });
        self.publish(
            self.ns.order_update_subject(ERP, MP, order_id, kind),
            event(&format!("erp:ack:{order_id}"), record),
            None,
        )
        .await;
    }

    /// The last record published on the marketplace stream under `key` of `flow`.
    async fn last_record(&self, flow: Flow, key: &str) -> Option<Record> {
        let stream = self
            .js
            .get_stream(self.ns.marketplace_stream(MP).name)
            .await
            .ok()?;
        let message = stream
            .get_last_raw_message_by_subject(&self.ns.marketplace_subject(MP, flow, key))
            .await
            .ok()?;
        let headers = adapter_runtime::jetstream::from_header_map(&message.headers);
        adapter_runtime::envelope::decode(&headers, &message.payload)
            .ok()
            .map(|e| e.record)
    }

    async fn wait_record(
        &self,
        flow: Flow,
        key: &str,
        what: &str,
        accept: impl Fn(&Record) -> bool,
    ) -> Record {
        eventually(Duration::from_secs(30), what, || async {
            self.last_record(flow, key)
                .await
                .is_some_and(|r| accept(&r))
        })
        .await;
        self.last_record(flow, key).await.unwrap()
    }

    async fn wait_dead_letters(
        &self,
        flow: Flow,
        count: usize,
        what: &str,
    ) -> Vec<StoredDeadLetter> {
        eventually(Duration::from_secs(30), what, || async {
            self.dead_letters
                .list(Some(MP), Some(flow))
                .await
                .is_ok_and(|l| l.len() >= count)
        })
        .await;
        self.dead_letters.list(Some(MP), Some(flow)).await.unwrap()
    }

    fn line_status(&self, order: &str, line: usize) -> String {
        self.sandbox.snapshot().orders[order]["orderLines"]["orderLine"][line]["orderLineStatuses"]
            ["orderLineStatus"][0]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A validator for the schema at `pointer` in a Walmart specification (the whole document is the root, so
/// its `$ref`s resolve).
fn spec_validator(file: &str, pointer: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../specs/walmart")
        .join(file);
    let mut spec: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(spec.pointer(pointer).is_some(), "{file} has {pointer}");
    spec["$ref"] = Value::from(format!(
        "#{}",
        pointer.replace('{', "%7B").replace('}', "%7D")
    ));
    jsonschema::validator_for(&spec).unwrap()
}

fn assert_bodies_valid(
    sandbox: &WalmartSandbox,
    operation: &str,
    validator: &jsonschema::Validator,
) {
    let calls = sandbox.controls().recorder.calls(Some(operation));
    assert!(!calls.is_empty(), "{operation} was called");
    for call in calls {
        let errors: Vec<String> = validator
            .iter_errors(&call.body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{operation} body {} is invalid: {errors:?}",
            call.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_read_acknowledged_shipped_and_cancelled_both_ways() {
    let flows = "    orders: {pollInterval: 200ms, acknowledge: true, validation: {requireKnownSku: false, shipToCountries: [US]}}\n    shipments: {}";
    let mut ids = Vec::new();
    let run = start(flows, "", |sandbox| {
        sandbox.seed_items(["WM-1", "WM-2"]);
        ids.push(sandbox.place(&OrderSpec {
            lines: vec![("WM-1".into(), 2, "12.99".into())],
            shipping: "4.50".into(),
            ..OrderSpec::default()
        }));
        ids.push(sandbox.place_order("WM-2", 1, "5.00"));
        ids.push(sandbox.place_order("WM-2", 3, "5.00"));
        ids.push(sandbox.place(&OrderSpec {
            lines: vec![("WM-1".into(), 1, "12.99".into()), ("WM-2".into(), 2, "5.00".into())],
            ..OrderSpec::default()
        }));
        ids.push(sandbox.place_order("WM-1", 1, "12.99"));
        // A malformed order: its line has no charges.
        sandbox.put_raw_order(json!({
            "purchaseOrderId": "BAD-1", "customerOrderId": "5BAD", "customerEmailId": "x@relay.walmart.com",
            "orderDate": Utc::now().timestamp_millis(),
            "shippingInfo": {"phone": "1", "estimatedDeliveryDate": 1, "estimatedShipDate": 1, "methodCode": "Standard",
                "postalAddress": {"name": "A", "address1": "B", "city": "C", "state": "TX", "postalCode": "75040", "country": "USA"}},
            "orderLines": {"orderLine": [{"lineNumber": "1", "item": {"productName": "P", "sku": "WM-1"},
                "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": "1"}, "statusDate": Utc::now().timestamp_millis(),
                "orderLineStatuses": {"orderLineStatus": [{"status": "Created", "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"}}]}}]}
        }));
    })
    .await;
    let (shipped, refused, buyer, partly) = (
        ids[0].clone(),
        ids[1].clone(),
        ids[2].clone(),
        ids[3].clone(),
    );

    // The order reaches the stream with its lines, buyer, ship-to and totals.
    let record = run
        .wait_record(
            Flow::Orders,
            &shipped,
            "the first order is published",
            |r| matches!(r, Record::Order(_)),
        )
        .await;
    let Record::Order(order) = record else {
        unreachable!()
    };
    assert_eq!(order.correlation_id.as_str(), format!("{MP}:{shipped}"));
    assert_eq!(order.lines[0].unit_price, usd("12.99"));
    assert_eq!(order.totals.shipping, usd("4.5"));
    // 8.25 % of 25.98, to the cent.
    assert_eq!(order.totals.tax, usd("2.14"));
    assert_eq!(order.totals.total.amount, Decimal::new(3262, 2));
    assert_eq!(order.ship_to.country, "US");
    assert!(order.buyer.email.is_some());

    // The malformed order is dead-lettered with what is wrong, and the others are not held back by it.
    let letters = run
        .wait_dead_letters(Flow::Orders, 1, "the malformed order is dead-lettered")
        .await;
    assert_eq!(letters.len(), 1);
    let reason = &letters[0].letter.reason;
    assert!(
        reason.contains("order BAD-1: orderLines.orderLine[0].charges.charge: missing"),
        "{reason}"
    );
    assert!(
        letters[0].letter.original_subject.ends_with(".BAD-1"),
        "{}",
        letters[0].letter.original_subject
    );

    // Accepted by the ERP: acknowledged on Walmart, then shipped with the carrier from the value map.
    run.order_update(
        &shipped,
        AcknowledgementOutcome::Accepted {
            erp_order_number: "SO-1".into(),
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the order is acknowledged",
        || async { run.line_status(&shipped, 0) == "Acknowledged" },
    )
    .await;
    let shipment = Record::Shipment(Shipment {
        correlation_id: format!("{MP}:{shipped}").as_str().try_into().unwrap(),
        marketplace: MP.try_into().unwrap(),
        order_id: shipped.as_str().try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "ups".into(),
        service: Some("STD".into()),
        tracking_number: "1Z999AA10123456784".into(),
        shipped_at: Utc::now(),
        ship_from_location: Some("DAL".into()),
        lines: vec![
            serde_json::from_value(json!({"lineId": "1", "sku": "WM-1", "quantity": 2})).unwrap(),
        ],
    });
    run.publish(
        run.ns.shipment_subject(ERP, MP, &shipped, "PKG-1"),
        event("erp:shipment:PKG-1", shipment),
        Some(&shipped),
    )
    .await;
    eventually(Duration::from_secs(20), "the order is shipped", || async {
        run.line_status(&shipped, 0) == "Shipped"
    })
    .await;
    let tracking =
        run.sandbox.snapshot().orders[&shipped]["orderLines"]["orderLine"][0]["orderLineStatuses"]
            ["orderLineStatus"][0]["trackingInfo"]
            .clone();
    assert_eq!(
        tracking["carrierName"]["carrier"], "UPS",
        "the mapping's value map applied"
    );
    assert_eq!(tracking["trackingNumber"], "1Z999AA10123456784");

    // Shipped by the ERP before its acknowledgement reached Walmart (a flash sale): Walmart refuses to ship an
    // unacknowledged line, so the order is acknowledged and the shipment sent again.
    let early = ids[4].clone();
    assert_eq!(run.line_status(&early, 0), "Created");
    let shipment = Record::Shipment(Shipment {
        correlation_id: format!("{MP}:{early}").as_str().try_into().unwrap(),
        marketplace: MP.try_into().unwrap(),
        order_id: early.as_str().try_into().unwrap(),
        shipment_id: "PKG-2".into(),
        carrier: "ups".into(),
        service: Some("STD".into()),
        tracking_number: "1Z999AA10123456785".into(),
        shipped_at: Utc::now(),
        ship_from_location: Some("DAL".into()),
        lines: vec![
            serde_json::from_value(json!({"lineId": "1", "sku": "WM-1", "quantity": 1})).unwrap(),
        ],
    });
    run.publish(
        run.ns.shipment_subject(ERP, MP, &early, "PKG-2"),
        event("erp:shipment:PKG-2", shipment),
        Some(&early),
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the early shipment is confirmed",
        || async { run.line_status(&early, 0) == "Shipped" },
    )
    .await;

    // Refused by the ERP: every line cancelled on Walmart with a seller reason.
    run.order_update(
        &refused,
        AcknowledgementOutcome::Rejected {
            reason: "no stock in DAL".into(),
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the refused order is cancelled",
        || async { run.line_status(&refused, 0) == "Cancelled" },
    )
    .await;
    assert_eq!(
        run.sandbox.snapshot().orders[&refused]["orderLines"]["orderLine"][0]["orderLineStatuses"]
            ["orderLineStatus"][0]["cancellationReason"],
        "SELLER_CANCEL_OUT_OF_STOCK"
    );

    // The buyer cancels on Walmart: a cancellation record follows the order.
    run.wait_record(Flow::Orders, &buyer, "the third order is published", |r| {
        matches!(r, Record::Order(_))
    })
    .await;
    assert!(run.sandbox.buyer_cancels(&buyer, "1"));
    let record = run
        .wait_record(
            Flow::Orders,
            &buyer,
            "the buyer's cancellation is published",
            |r| matches!(r, Record::OrderCancellation(_)),
        )
        .await;
    let Record::OrderCancellation(cancellation) = record else {
        unreachable!()
    };
    assert_eq!(cancellation.requested_by, CancelledBy::Buyer);

    // The ERP cancels one line of an accepted order: only that line is cancelled, for the ERP's reason.
    run.wait_record(
        Flow::Orders,
        &partly,
        "the fourth order is published",
        |r| matches!(r, Record::Order(_)),
    )
    .await;
    run.order_update(
        &partly,
        AcknowledgementOutcome::Accepted {
            erp_order_number: "SO-4".into(),
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the fourth order is acknowledged",
        || async { run.line_status(&partly, 1) == "Acknowledged" },
    )
    .await;
    let cancellation = Record::OrderCancellation(OrderCancellation {
        correlation_id: format!("{MP}:{partly}").as_str().try_into().unwrap(),
        marketplace: MP.try_into().unwrap(),
        order_id: partly.as_str().try_into().unwrap(),
        requested_by: CancelledBy::Seller,
        lines: vec![
            serde_json::from_value(json!({"lineId": "2", "sku": "WM-2", "quantity": 2})).unwrap(),
        ],
        reason: "pricing error on WM-2".into(),
        at: Utc::now(),
    });
    run.publish(
        run.ns
            .order_update_subject(ERP, MP, &partly, OrderUpdateKind::Cancelled),
        event(&format!("erp:cancel:{partly}"), cancellation),
        None,
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the second line is cancelled",
        || async { run.line_status(&partly, 1) == "Cancelled" },
    )
    .await;
    assert_eq!(
        run.line_status(&partly, 0),
        "Acknowledged",
        "the first line stays"
    );
    assert_eq!(
        run.sandbox.snapshot().orders[&partly]["orderLines"]["orderLine"][1]["orderLineStatuses"]["orderLineStatus"]
            [0]["cancellationReason"],
        "SELLER_CANCEL_PRICING_ERROR"
    );

    // Bodies as Walmart's specifications define them.
    let orders = "walmart-marketplace-orders.yml";
    assert_bodies_valid(
        &run.sandbox,
        "shippingUpdates",
        &spec_validator(
            orders,
            "/paths/~1v3~1orders~1{purchaseOrderId}~1shipping/post/requestBody/content/application~1json/schema",
        ),
    );
    assert_bodies_valid(
        &run.sandbox,
        "cancelOrderLines",
        &spec_validator(
            orders,
            "/paths/~1v3~1orders~1{purchaseOrderId}~1cancel/post/requestBody/content/application~1json/schema",
        ),
    );
    let recorder = &run.sandbox.controls().recorder;
    assert_eq!(
        recorder.count("shippingUpdates", 400),
        1,
        "only the early shipment was refused, once, before its order was acknowledged"
    );
    // The two orders the ERP accepted, and the one acknowledged for its early shipment.
    assert_eq!(recorder.count("acknowledgeOrders", 200), 3);
    run.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_price_and_items_go_by_feed_and_refused_items_are_dead_lettered_in_walmarts_words()
 {
    let flows = "    inventory: {coalesceWindow: 300ms, delivery: Bulk}\n    price: {coalesceWindow: 300ms, delivery: Bulk}\n    catalog: {coalesceWindow: 300ms, delivery: Bulk}";
    let skus: Vec<String> = (0..40).map(|i| format!("WM-{i:03}")).collect();
    let run = start(flows, "", |sandbox| {
        sandbox.seed_items(skus.iter().map(String::as_str))
    })
    .await;
    for (i, sku) in skus.iter().enumerate() {
        run.inventory(sku, i as i64 + 1).await;
    }
    run.inventory("GHOST", 3).await;
    for sku in skus.iter().take(5) {
        run.price(sku, "19.99").await;
    }
    for (sku, product_type) in [("WM-NEW", Some("Bag Clips")), ("WM-UNTYPED", None)] {
        let id = format!("erp:product:{sku}");
        let record = Record::Product(Product {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            title: format!("Clip {sku}"),
            description: Some("A clip".into()),
            brand: Some("Tradewind".into()),
            gtin: Some("00012345678905".into()),
            bullet_points: vec!["Strong".into()],
            images: vec!["https://example.com/clip.jpg".into()],
            attributes: product_type
                .map(|t| BTreeMap::from([("productType".to_string(), t.to_string())]))
                .unwrap_or_default(),
            as_of: Utc::now(),
        });
        run.publish(
            run.ns.erp_subject(ERP, Flow::Catalog, sku),
            event(&id, record),
            Some(sku),
        )
        .await;
    }
    eventually(
        Duration::from_secs(30),
        "every quantity, price and item is on Walmart",
        || async {
            let state = run.sandbox.snapshot();
            skus.iter()
                .enumerate()
                .all(|(i, sku)| state.items[sku].quantity == i as i64 + 1)
                && skus.iter().take(5).all(|sku| {
                    state.items[sku].price.as_ref().map(|p| p.amount) == Some(Decimal::new(1999, 2))
                })
                && state.items.contains_key("WM-NEW")
        },
    )
    .await;

    // The SKU Walmart does not know: dead-lettered with the feed's DATA_ERROR text.
    let letters = run
        .wait_dead_letters(Flow::Inventory, 1, "GHOST is dead-lettered")
        .await;
    assert_eq!(letters.len(), 1);
    let reason = &letters[0].letter.reason;
    assert!(
        reason.contains(
            "DATA_ERROR ERR_EXT_DATA_0101002: SKU GHOST is not found in the seller's catalogue"
        ),
        "{reason}"
    );
    assert!(letters[0].letter.original_subject.ends_with(".GHOST"));
    let letters = run
        .wait_dead_letters(Flow::Catalog, 1, "the untyped item is dead-lettered")
        .await;
    assert!(
        letters[0].letter.reason.contains("productType is missing"),
        "{}",
        letters[0].letter.reason
    );

    let recorder = &run.sandbox.controls().recorder;
    assert_eq!(
        recorder.count("updateInventoryForAnItem", 200),
        0,
        "no per-SKU calls"
    );
    let feeds = recorder.count("bulkInventoryFeed", 200);
    assert!(
        (1..=5).contains(&feeds),
        "{feeds} inventory feeds for 41 SKUs"
    );
    assert!(recorder.count("priceBulkUploads", 200) >= 1);
    assert!(recorder.count("itemFeed", 200) >= 1);
    // The item feed's file nests the visible fields under the product type.
    let item_file = &recorder.calls(Some("itemFeed"))[0].body;
    assert_eq!(item_file["MPItem"][0]["Orderable"]["sku"], "WM-NEW");
    assert_eq!(
        item_file["MPItem"][0]["Visible"]["Bag Clips"]["shortDescription"],
        "A clip"
    );
    run.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backlog_goes_by_feed_and_a_trickle_per_sku() {
    // Per-SKU calls paced at 2 per second: 600 SKUs would take five minutes, one feed far less.
    let flows = "    inventory: {coalesceWindow: 1s, delivery: Auto}";
    let operations =
        "{name: updateInventoryForAnItem, tokenBucket: {requests: 2, per: 1s, burst: 2}}";
    let skus: Vec<String> = (0..600).map(|i| format!("WM-{i:03}")).collect();
    let run = start(flows, operations, |sandbox| {
        sandbox.seed_items(skus.iter().map(String::as_str))
    })
    .await;
    for sku in &skus {
        run.inventory(sku, 7).await;
    }
    eventually(
        Duration::from_secs(60),
        "the backlog is on Walmart",
        || async {
            let state = run.sandbox.snapshot();
            skus.iter().all(|sku| state.items[sku].quantity == 7)
        },
    )
    .await;
    let recorder = &run.sandbox.controls().recorder;
    assert!(
        recorder.count("bulkInventoryFeed", 200) >= 1,
        "the backlog went by feed"
    );
    // Walmart's feed status pages hold at most 50 items: a larger feed's outcomes are read page by page.
    let feeds = run.sandbox.snapshot().feeds;
    let (feed_id, feed) = feeds.iter().max_by_key(|(_, f)| f.elements.len()).unwrap();
    assert!(
        feed.elements.len() > 50,
        "one feed holds {}",
        feed.elements.len()
    );
    let expected: Vec<usize> = (0..feed.elements.len()).step_by(50).collect();
    let offsets_read = || {
        let mut offsets: Vec<usize> = recorder
            .calls(Some("getFeedItemStatus"))
            .iter()
            .filter(|c| c.path.ends_with(feed_id.as_str()) && c.status == 200)
            .filter_map(|c| c.query.clone())
            .filter(|q| q.contains("limit=50"))
            .filter_map(|q| sandbox::query::first(&q, "offset")?.parse().ok())
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        offsets
    };
    eventually(
        Duration::from_secs(20),
        "every page of the feed's item statuses is read, 50 at a time",
        || async { offsets_read() == expected },
    )
    .await;
    run.inventory("WM-001", 9).await;
    eventually(
        Duration::from_secs(20),
        "the trickle is on Walmart",
        || async { run.sandbox.snapshot().items["WM-001"].quantity == 9 },
    )
    .await;
    let calls = recorder.calls(Some("updateInventoryForAnItem"));
    assert!(
        calls
            .iter()
            .any(|c| c.query.as_deref() == Some("sku=WM-001") && c.status == 200),
        "the single update went per SKU: {calls:?}"
    );
    assert_bodies_valid(
        &run.sandbox,
        "updateInventoryForAnItem",
        &spec_validator(
            "walmart-marketplace-inventory.yml",
            "/paths/~1v3~1inventory/put/requestBody/content/application~1json/schema",
        ),
    );
    run.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_come_in_with_refunds_and_the_report_is_settled_against_the_orders() {
    let flows = "    orders: {pollInterval: 200ms, validation: {requireKnownSku: false}}\n    returns: {pollInterval: 200ms}\n    settlements: {pollInterval: 200ms}";
    let mut ids = Vec::new();
    let run = start(flows, "", |sandbox| {
        sandbox.seed_items(["WM-1", "WM-2"]);
        ids.push(sandbox.place_order("WM-1", 2, "10.00"));
        ids.push(sandbox.place_order("WM-2", 1, "5.00"));
        // A report from before the seller's v1 reports: the legacy date listing has it, reconFileJson
        // ("available only for v1 reports") does not; the connector reads v1 dates and never asks for it.
        sandbox.add_legacy_recon_report("11132026");
    })
    .await;
    let (returned, other) = (ids[0].clone(), ids[1].clone());
    for id in [&returned, &other] {
        run.wait_record(Flow::Orders, id, "the order is published", |r| {
            matches!(r, Record::Order(_))
        })
        .await;
    }
    let return_id = run.sandbox.add_return(&returned, "1", 1, "10.83").unwrap();
    let record = run
        .wait_record(Flow::Returns, &return_id, "the return is published", |r| {
            matches!(r, Record::Return(_))
        })
        .await;
    let Record::Return(ret) = record else {
        unreachable!()
    };
    assert_eq!(ret.order_id.as_str(), returned);
    assert_eq!(ret.status, ReturnStatus::Refunded);
    assert_eq!(ret.refund, Some(usd("10.83")));
    assert_eq!(ret.lines[0].sku.as_str(), "WM-1");

    // Walmart's report: the first order and its refund as Tradewind has them, the second settled a dollar
    // higher than it was charged (5.00 + 0.41 tax), a commission, and an order nobody knows.
    let row = |kind: &str, amount_type: &str, amount: &str, order: &str| {
        json!({"Transaction Type": kind, "Amount Type": amount_type, "Amount": amount, "Purchase Order #": order,
            "Partner Item Id": "WM-1", "Transaction Posted Timestamp": "11/21/2026", "Transaction Description": "Purchase"})
    };
    run.sandbox.add_recon_report(
        "11272026",
        vec![
            json!({"Period Start Date": "11/20/2026", "Period End Date": "11/27/2026", "Currency": "USD",
                "Transaction Type": "PaymentSummary", "Total Payable": "15.23"}),
            row("Sale", "Product Price", "20.00", &returned),
            row("Sale", "Product tax", "1.65", &returned),
            row("Sale", "Commission on Product", "-3.00", &returned),
            row("Refund", "Product Price", "-10.83", &returned),
            row("Sale", "Product Price", "6.00", &other),
            row("Sale", "Product tax", "0.41", &other),
            // An order Walmart does not know either (getAnOrder answers 404).
            row("Sale", "Product Price", "1.00", "999"),
        ],
    );
    let record = run
        .wait_record(
            Flow::Settlements,
            "recon-11272026",
            "the settlement is published",
            |r| matches!(r, Record::Settlement(_)),
        )
        .await;
    let Record::Settlement(settlement) = record else {
        unreachable!()
    };
    assert_eq!(settlement.lines.len(), 7);
    assert_eq!(settlement.total, usd("15.23"));
    let letters = run
        .wait_dead_letters(Flow::Settlements, 2, "the mismatches are dead-lettered")
        .await;
    let reasons: Vec<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            format!(
                "settlement exception: order {other} sales settled 6.41 USD by Walmart but Tradewind has 5.41 USD"
            ),
            "settlement exception: order 999 is unknown to Tradewind; Walmart settled sales and refunds 1.00 USD"
                .to_string(),
        ],
        "the first order matches; the second differs; the third is unknown"
    );
    assert!(
        run.sandbox.controls().recorder.count("getAnOrder", 404) >= 1,
        "the unknown order was looked up on Walmart"
    );
    run.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_feed_waits_for_retry_after_and_a_failing_status_read_is_retried() {
    let flows = "    inventory: {coalesceWindow: 300ms, delivery: Bulk}";
    let run = start(flows, "", |sandbox| {
        sandbox.seed_items(["WM-1", "WM-2", "WM-3"]);
        let controls = sandbox.controls();
        controls.faults.plan(sandbox::FaultPlan {
            operation: Some("bulkInventoryFeed".into()),
            fault: sandbox::Fault::Status {
                status: 429,
                body: r#"{"errors":[{"code":"REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API","description":"Request threshold violated","severity":"ERROR","category":"APPLICATION"}]}"#.into(),
                headers: vec![("Retry-After".into(), "2".into())],
            },
            count: 1,
        });
        controls.faults.plan(sandbox::FaultPlan {
            operation: Some("getFeedItemStatus".into()),
            fault: sandbox::Fault::Status {
                status: 503,
                body: r#"{"errors":[{"code":"SYSTEM_ERROR.GMP_GATEWAY_API","description":"Service unavailable"}]}"#.into(),
                headers: Vec::new(),
            },
            count: 1,
        });
    })
    .await;
    for (i, sku) in ["WM-1", "WM-2", "WM-3"].iter().enumerate() {
        run.inventory(sku, i as i64 + 4).await;
    }
    eventually(Duration::from_secs(30), "the feed is applied", || async {
        let state = run.sandbox.snapshot();
        ["WM-1", "WM-2", "WM-3"]
            .iter()
            .enumerate()
            .all(|(i, sku)| state.items[*sku].quantity == i as i64 + 4)
    })
    .await;
    let recorder = &run.sandbox.controls().recorder;
    let submissions = recorder.calls(Some("bulkInventoryFeed"));
    assert_eq!(submissions[0].status, 429);
    let accepted = submissions.iter().find(|c| c.status == 200).unwrap();
    let waited = accepted.at - submissions[0].at;
    assert!(
        waited >= chrono::Duration::milliseconds(1_900),
        "resubmitted after {waited} despite Retry-After: 2"
    );
    assert_eq!(recorder.count("getFeedItemStatus", 503), 1);
    assert!(recorder.count("getFeedItemStatus", 200) >= 1);
    assert!(
        run.dead_letters
            .list(Some(MP), Some(Flow::Inventory))
            .await
            .unwrap()
            .is_empty(),
        "nothing dead-lettered"
    );
    run.shutdown.trigger();
}
