//! Every flow of the generic REST connector end to end: ERP events through real NATS and the adapter's flows,
//! the connector's real HTTP calls to the portal sandbox set up from the same `spec.rest`, orders polled with
//! the cursor or pushed to the signed webhook served by the adapter's HTTP server. The configuration is
//! examples/b2b-rest, pointed at the sandbox.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::Record;
use adapter_runtime::config::{AdapterConfig, NatsSettings, resolve_from_items};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::{PushPublisher, Shutdown};
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{
    DeadLetterStore, ErrorClass, StoredDeadLetter, ensure_stream, publish_event,
};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::{Namespace, OrderUpdateKind};
use channel_rest::webhook::{Accept, Reject};
use channel_rest::{RestConnector, Webhook};
use chrono::Utc;
use crds::channel::Flow;
use crds::v1alpha1::{RestOrderWebhook, RestOrders};
use sandbox::{Fault, FaultPlan};
use sandbox_rest::{Portal, PushRequest, RestSandbox, Signing};
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "tradewind-b2b";
const MP: &str = "b2b-portal";
const ERP: &str = "b2b-erp";
const TOKEN: &str = "sandbox-only-portal-token";
const HMAC_KEY: &str = "sandbox-only-webhook-key";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Orders {
    Poll,
    Webhook,
}

struct Harness {
    nats: NatsServer,
    sandbox: RestSandbox,
    shutdown: Shutdown,
    /// The adapter's order webhook, in push mode.
    webhook_url: Option<String>,
    _credentials: tempfile::TempDir,
}

/// examples/b2b-rest's Marketplace with its orders polled or pushed, pointed at a sandbox set up from the same
/// `spec.rest`, running in-process; `adjust` changes the configuration first.
async fn start(orders: Orders, adjust: impl FnOnce(&mut AdapterConfig)) -> Harness {
    adapter_runtime::connectors::ensure_crypto_provider();
    let nats = NatsServer::start().await.unwrap();
    let credentials = tempfile::tempdir().unwrap();
    std::fs::write(credentials.path().join("bearer_token"), TOKEN).unwrap();
    std::fs::write(credentials.path().join("webhook_hmac"), HMAC_KEY).unwrap();
    let schemas = crds::schema::SchemaSet::generated().unwrap();
    let (documents, errors) = crds::manifest::load_paths(&[workspace().join("examples/b2b-rest")]);
    assert!(errors.is_empty(), "{errors:?}");
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
    if orders == Orders::Webhook {
        config.spec.rest.as_mut().unwrap().orders = Some(RestOrders {
            poll: None,
            webhook: Some(RestOrderWebhook {
                hmac_secret_key: "webhook_hmac".into(),
                max_skew_seconds: 300,
            }),
        });
    }
    let fast = Duration::from_millis(200);
    if let Some(inventory) = config.spec.flows.inventory.as_mut() {
        inventory.delivery.coalesce_window = fast.into();
    }
    if let Some(price) = config.spec.flows.price.as_mut() {
        price.coalesce_window = fast.into();
    }
    if let Some(orders) = config.spec.flows.orders.as_mut() {
        orders.poll_interval = Duration::from_millis(300).into();
    }
    config.ack_wait = Duration::from_secs(5);
    adjust(&mut config);

    let portal = Portal::from_rest(
        config.spec.rest.as_ref().unwrap(),
        Some(TOKEN),
        Some(HMAC_KEY),
    );
    let sandbox = sandbox_rest::start("127.0.0.1:0", portal).await.unwrap();
    config.spec.endpoint.base_url = Some(sandbox.url());

    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::starting());
    // The adapter binary's wiring: what the portal sent that is not an order is dead-lettered, pushed orders
    // are published, both through PushPublisher; the webhook is on the health and metrics server.
    let publisher = Arc::new(
        PushPublisher::connect(&config, Flow::Orders, metrics.clone())
            .await
            .unwrap(),
    );
    let cell = publisher.clone();
    let reject: Reject = Arc::new(move |key, body, reason| {
        let publisher = cell.clone();
        Box::pin(async move {
            publisher
                .dead_letter(&key, body, reason, ErrorClass::BadPayload)
                .await
        })
    });
    let webhook_url = match Webhook::from_config(&config).unwrap() {
        Some(webhook) => {
            let accept: Accept = Arc::new(move |record| {
                let publisher = publisher.clone();
                Box::pin(async move { publisher.publish(record).await.map(|_| ()) })
            });
            let path = webhook.path();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}{path}", listener.local_addr().unwrap());
            tokio::spawn(adapter_runtime::http::serve_with(
                listener,
                metrics.clone(),
                readiness.clone(),
                Arc::new(webhook).router(accept, Some(reject.clone())),
                shutdown.clone(),
            ));
            Some(url)
        }
        None => None,
    };

    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = RestConnector::from_config(&config, resilience.clone())
        .unwrap()
        .with_rejects(reject);
    let stop = shutdown.clone();
    tokio::spawn(async move {
        adapter_runtime::app::run(
            config,
            Arc::new(connector),
            Some(resilience),
            stop,
            readiness,
            metrics,
        )
        .await
    });
    Harness {
        nats,
        sandbox,
        shutdown,
        webhook_url,
        _credentials: credentials,
    }
}

fn event(id: String, record: Record) -> Event {
    Event {
        id,
        source: "/tradewind/test/erp/b2b-erp".into(),
        time: Utc::now(),
        traceparent: None,
        record,
    }
}

/// Publishes an ERP record of `flow` keyed by `key`, from its canonical JSON.
async fn publish(h: &Harness, flow: Flow, key: &str, record: Value) {
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, flow)).await.unwrap();
    let id = record["correlationId"].as_str().unwrap().to_string();
    let record: Record =
        serde_json::from_value(json!({"type": type_of(flow), "data": record})).unwrap();
    publish_event(
        &js,
        &ns.erp_subject(ERP, flow, key),
        &event(id, record),
        Some(key),
    )
    .await
    .unwrap();
}

fn type_of(flow: Flow) -> &'static str {
    match flow {
        Flow::Inventory => "inventory",
        Flow::Price => "price",
        _ => "product",
    }
}

async fn publish_stock(h: &Harness, sku: &str, available: i64) {
    let record = json!({
        "correlationId": format!("erp:inventory:{sku}:{available}"),
        "sku": sku,
        "available": available,
        "locations": [{"location": "HAM", "available": available}],
        "asOf": Utc::now(),
    });
    publish(h, Flow::Inventory, sku, record).await;
}

async fn publish_price(h: &Harness, sku: &str, amount: &str) {
    let record = json!({
        "correlationId": format!("erp:price:{sku}:{amount}"),
        "sku": sku,
        "price": {"amount": amount, "currency": "EUR"},
        "asOf": Utc::now(),
    });
    publish(h, Flow::Price, sku, record).await;
}

async fn dead_letters(h: &Harness, flow: Flow) -> Vec<StoredDeadLetter> {
    let js = h.nats.jetstream().await.unwrap();
    DeadLetterStore::new(js, Namespace::new(NS))
        .list(Some(MP), Some(flow))
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn inventory_price_and_catalog_reach_the_configured_endpoints_in_batches() {
    let h = start(Orders::Poll, |config| {
        config.spec.rest.as_mut().unwrap().batch_size = Some(2);
    })
    .await;
    for (n, sku) in ["TW-1001", "TW-1002", "TW-1003", "TW-1004", "TW-1005"]
        .iter()
        .enumerate()
    {
        publish_stock(&h, sku, 10 + n as i64).await;
    }
    publish_price(&h, "TW-1001", "12.50").await;
    let product = json!({
        "correlationId": "erp:product:TW-1001:1",
        "sku": "TW-1001",
        "title": "Hex bolt M8x40, zinc plated",
        "brand": "Nordlicht",
        "attributes": {"unit": "box"},
        "asOf": Utc::now(),
    });
    publish(&h, Flow::Catalog, "TW-1001", product).await;
    eventually(
        Duration::from_secs(30),
        "every SKU, the price and the product reach the portal",
        || async {
            let state = h.sandbox.snapshot();
            state.items.get("inventory").map_or(0, |i| i.len()) == 5
                && state
                    .items
                    .get("price")
                    .is_some_and(|p| p.contains_key("TW-1001"))
                && state
                    .items
                    .get("catalog")
                    .is_some_and(|c| c.contains_key("TW-1001"))
        },
    )
    .await;
    let state = h.sandbox.snapshot();
    assert_eq!(
        state.items["inventory"]["TW-1003"],
        json!({"articleNumber": "TW-1003", "quantityAvailable": 12,
               "stockByWarehouse": [{"warehouse": "DE-NORTH", "quantity": 12}],
               "asOf": state.items["inventory"]["TW-1003"]["asOf"]})
    );
    assert_eq!(
        state.items["price"]["TW-1001"]["netPrice"],
        json!({"amount": "12.50", "currency": "EUR"})
    );
    assert_eq!(state.items["price"]["TW-1001"]["priceList"], "B2B-STANDARD");
    assert_eq!(state.items["catalog"]["TW-1001"]["salesUnit"], "BOX");
    let recorder = &h.sandbox.controls().recorder;
    let calls = recorder.calls(Some("inventory"));
    assert!(calls.len() >= 3, "5 SKUs at most 2 per call: {calls:?}");
    for call in &calls {
        assert_eq!(
            (call.method.as_str(), call.path.as_str(), call.status),
            ("PUT", "/inventory", 200)
        );
        assert!(call.body["items"].as_array().unwrap().len() <= 2);
    }
    let prices = recorder.calls(Some("price"));
    assert_eq!(
        (prices[0].method.as_str(), prices[0].path.as_str()),
        ("POST", "/prices")
    );
    assert_eq!(recorder.calls(Some("catalog"))[0].path, "/products");
    assert!(recorder.calls(Some("unknown")).is_empty());
    h.shutdown.trigger();
}

#[tokio::test]
async fn a_refused_item_is_dead_lettered_with_the_portals_text_and_429_is_followed() {
    let h = start(Orders::Poll, |_| {}).await;
    h.sandbox.controls().faults.plan(FaultPlan {
        operation: Some("price".into()),
        fault: Fault::Status {
            status: 429,
            body: json!({"error": "rate limit exceeded, retry later"}).to_string(),
            headers: vec![("Retry-After".into(), "1".into())],
        },
        count: 1,
    });
    publish_price(&h, "TW-ZERO", "0.00").await;
    publish_price(&h, "TW-2002", "7.25").await;
    eventually(
        Duration::from_secs(30),
        "the good price is listed and the zero price dead-lettered",
        || async {
            let listed = h
                .sandbox
                .snapshot()
                .items
                .get("price")
                .is_some_and(|p| p.contains_key("TW-2002"));
            listed && dead_letters(&h, Flow::Price).await.len() == 1
        },
    )
    .await;
    let letters = dead_letters(&h, Flow::Price).await;
    let reason = &letters[0].letter.reason;
    assert!(
        reason.contains("422: netPrice.amount must be greater than 0 (value: \"0.00\")"),
        "{reason}"
    );
    assert!(letters[0].letter.original_subject.ends_with("TW-ZERO"));
    assert!(!h.sandbox.snapshot().items["price"].contains_key("TW-ZERO"));
    let recorder = &h.sandbox.controls().recorder;
    assert_eq!(recorder.count("price", 429), 1);
    let calls = recorder.calls(Some("price"));
    let throttled = calls.iter().position(|c| c.status == 429).unwrap();
    // The retry of the throttled batch (another batch may have gone meanwhile).
    let next = calls[throttled + 1..]
        .iter()
        .find(|c| c.body == calls[throttled].body)
        .unwrap();
    assert!(
        next.at - calls[throttled].at >= chrono::Duration::milliseconds(900),
        "Retry-After: 1 was followed ({} -> {})",
        calls[throttled].at,
        next.at
    );

    // A whole call refused with a 4xx: its records are dead-lettered with the portal's answer.
    h.sandbox.controls().faults.plan(FaultPlan {
        operation: Some("inventory".into()),
        fault: Fault::Status {
            status: 403,
            body: json!({"error": "article TW-BLOCKED is blocked for this supplier"}).to_string(),
            headers: vec![],
        },
        count: 1,
    });
    publish_stock(&h, "TW-BLOCKED", 3).await;
    eventually(
        Duration::from_secs(20),
        "the refused batch is dead-lettered",
        || async { dead_letters(&h, Flow::Inventory).await.len() == 1 },
    )
    .await;
    let letters = dead_letters(&h, Flow::Inventory).await;
    assert!(
        letters[0].letter.reason.contains(
            "403 Forbidden: {\"error\":\"article TW-BLOCKED is blocked for this supplier\"}"
        ),
        "{}",
        letters[0].letter.reason
    );
    h.shutdown.trigger();
}

/// Waits for `order_id` on the marketplace's ERP order subject (after the order process) and returns it.
async fn erp_order(h: &Harness, order_id: &str) -> Value {
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let stream_name = ns.marketplace_stream(MP).name;
    let subject = ns.erp_order_subject(MP, order_id);
    eventually(
        Duration::from_secs(20),
        "the order reaches the ERP subject",
        || async {
            let Ok(stream) = js.get_stream(&stream_name).await else {
                return false;
            };
            stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .is_ok()
        },
    )
    .await;
    let stream = js.get_stream(&stream_name).await.unwrap();
    let message = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    serde_json::from_slice(&message.payload).unwrap()
}

#[tokio::test]
async fn orders_are_polled_with_the_cursor_and_shipments_are_called_back() {
    let h = start(Orders::Poll, |_| {}).await;
    // The order process accepts only SKUs the ERP has published.
    publish_stock(&h, "TW-1001", 50).await;
    eventually(Duration::from_secs(20), "the SKU is listed", || async {
        h.sandbox
            .snapshot()
            .items
            .get("inventory")
            .is_some_and(|i| i.contains_key("TW-1001"))
    })
    .await;
    let first = h.sandbox.place_order(&[("TW-1001", 2, "9.90")]);
    let order = erp_order(&h, &first).await;
    assert_eq!(order["totals"]["total"]["amount"], "23.56", "{order}");
    assert_eq!(order["shipTo"]["country"], "DE");
    assert_eq!(order["lines"][0]["lineId"], "10");
    // An order the mapping cannot read is dead-lettered with the reason; the orders after it come in.
    let mut unreadable = h.sandbox.snapshot().orders[0].clone();
    unreadable["orderId"] = json!("PO-BROKEN");
    unreadable["positions"][0]
        .as_object_mut()
        .unwrap()
        .remove("articleNumber");
    h.sandbox.place_raw_order(unreadable);
    let second = h.sandbox.place_order(&[("TW-1001", 1, "9.90")]);
    erp_order(&h, &second).await;
    let letters = dead_letters(&h, Flow::Orders).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0]
            .letter
            .reason
            .contains("ChannelMapping/b2b-portal: orders -> lines"),
        "{}",
        letters[0].letter.reason
    );
    assert!(letters[0].letter.original_subject.ends_with("PO-BROKEN"));
    let polls = h.sandbox.controls().recorder.calls(Some("orders"));
    assert!(
        polls[0].query.is_none(),
        "the first poll starts from the beginning"
    );
    assert!(
        polls.iter().any(|c| c.query.as_deref() == Some("since=1")),
        "later polls carry the portal's cursor: {:?}",
        polls.iter().map(|c| c.query.clone()).collect::<Vec<_>>()
    );

    // The ERP accepts the first order: the acknowledgement reaches the portal's order updates.
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.order_update_stream(ERP))
        .await
        .unwrap();
    let acknowledgement: Record =
        serde_json::from_value(json!({"type": "orderAcknowledgement", "data": {
            "correlationId": format!("{MP}:{first}"),
            "marketplace": MP,
            "orderId": first,
            "outcome": {"kind": "accepted", "erp_order_number": "SO-88001"},
            "at": Utc::now(),
        }}))
        .unwrap();
    publish_event(
        &js,
        &ns.order_update_subject(ERP, MP, &first, OrderUpdateKind::Accepted),
        &event(format!("erp:ack:{first}"), acknowledgement),
        None,
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "the acknowledgement reaches the portal",
        || async {
            h.sandbox
                .snapshot()
                .items
                .get("orderUpdates")
                .is_some_and(|u| u.contains_key(&first))
        },
    )
    .await;
    let update = &h.sandbox.snapshot().items["orderUpdates"][&first];
    assert_eq!(update["kind"], "accepted");
    assert_eq!(update["outcome"]["erp_order_number"], "SO-88001");
    let calls = h.sandbox.controls().recorder.calls(Some("orderUpdates"));
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", "/orders/updates")
    );

    // The ERP ships the first order: the shipment callback reaches the portal.
    ensure_stream(&js, &ns.shipment_stream(ERP)).await.unwrap();
    let shipment: Record = serde_json::from_value(json!({"type": "shipment", "data": {
        "correlationId": format!("{MP}:{first}"),
        "marketplace": MP,
        "orderId": first,
        "shipmentId": "LS-4711",
        "carrier": "DHL",
        "trackingNumber": "00340434161094042557",
        "shippedAt": Utc::now(),
        "lines": [{"lineId": "10", "sku": "TW-1001", "quantity": 2}],
    }}))
    .unwrap();
    publish_event(
        &js,
        &ns.shipment_subject(ERP, MP, &first, "LS-4711"),
        &event("erp:shipment:LS-4711".into(), shipment),
        Some(&first),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "the shipment callback reaches the portal",
        || async {
            h.sandbox
                .snapshot()
                .items
                .get("shipments")
                .is_some_and(|s| s.contains_key(&first))
        },
    )
    .await;
    let callback = &h.sandbox.snapshot().items["shipments"][&first];
    assert_eq!(callback["deliveryNoteNumber"], "LS-4711");
    assert_eq!(callback["trackingNumber"], "00340434161094042557");
    assert_eq!(
        callback["positions"],
        json!([{"position": 10, "articleNumber": "TW-1001", "quantity": 2}])
    );
    let calls = h.sandbox.controls().recorder.calls(Some("shipments"));
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", "/shipments")
    );
    h.shutdown.trigger();
}

#[tokio::test]
async fn pushed_orders_are_stored_before_the_answer_and_refused_when_not_signed_right() {
    let h = start(Orders::Webhook, |_| {}).await;
    let url = h.webhook_url.clone().unwrap();
    // The order process accepts only SKUs the ERP has published.
    publish_stock(&h, "TW-1001", 50).await;
    eventually(Duration::from_secs(20), "the SKU is listed", || async {
        h.sandbox
            .snapshot()
            .items
            .get("inventory")
            .is_some_and(|i| i.contains_key("TW-1001"))
    })
    .await;
    let order_id = h.sandbox.place_order(&[("TW-1001", 3, "4.00")]);
    let push = |signing, offset, body: Option<&str>| PushRequest {
        url: url.clone(),
        order_id: Some(order_id.clone()),
        body: body.map(str::to_string),
        signing,
        timestamp_offset_seconds: offset,
    };

    let refused = h.sandbox.push(push(Signing::WrongKey, 0, None)).await;
    assert_eq!(refused.status, 401, "{}", refused.answer);
    assert!(
        refused
            .answer
            .contains("x-tradewind-signature does not match"),
        "{}",
        refused.answer
    );
    let unsigned = h.sandbox.push(push(Signing::Unsigned, 0, None)).await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.answer);
    let stale = h.sandbox.push(push(Signing::Valid, -600, None)).await;
    assert_eq!(stale.status, 401, "{}", stale.answer);
    assert!(
        stale.answer.contains("more than the 300 s allowed"),
        "{}",
        stale.answer
    );
    let not_json = h
        .sandbox
        .push(push(Signing::Valid, 0, Some("{\"orderId\": ")))
        .await;
    assert_eq!(not_json.status, 400, "{}", not_json.answer);
    assert!(
        not_json.answer.contains("body: not JSON"),
        "{}",
        not_json.answer
    );
    let mut malformed: Value = h.sandbox.snapshot().orders[0].clone();
    malformed["deliveryAddress"]["countryCode"] = json!(276);
    let malformed = h
        .sandbox
        .push(push(Signing::Valid, 0, Some(&malformed.to_string())))
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.answer);
    assert!(
        malformed.answer.contains("shipTo.country"),
        "{}",
        malformed.answer
    );
    let mut incomplete: Value = h.sandbox.snapshot().orders[0].clone();
    incomplete["deliveryAddress"]
        .as_object_mut()
        .unwrap()
        .remove("zip");
    let incomplete = h
        .sandbox
        .push(push(Signing::Valid, 0, Some(&incomplete.to_string())))
        .await;
    assert_eq!(incomplete.status, 400, "{}", incomplete.answer);
    assert!(
        incomplete
            .answer
            .contains("shipTo.postalCode: the record has no field payload.deliveryAddress.zip"),
        "{}",
        incomplete.answer
    );
    // The signed but unusable requests are dead-lettered with the reason answered; unsigned ones are not.
    let letters = dead_letters(&h, Flow::Orders).await;
    assert_eq!(letters.len(), 3, "{letters:?}");
    let malformed_letter = letters
        .iter()
        .find(|l| l.letter.reason.contains("shipTo.country: invalid type"))
        .unwrap();
    assert!(
        malformed_letter
            .letter
            .original_subject
            .ends_with(&order_id)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&malformed_letter.letter.payload).unwrap()["deliveryAddress"]
            ["countryCode"],
        276
    );

    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let stream = ns.marketplace_stream(MP).name;
    let subject = ns.marketplace_subject(MP, Flow::Orders, &order_id);
    let stored = |js: async_nats::jetstream::Context, stream: String, subject: String| async move {
        let stream = js.get_stream(&stream).await.unwrap();
        stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .is_ok()
    };
    assert!(
        !stored(js.clone(), stream.clone(), subject.clone()).await,
        "nothing refused was stored"
    );
    let accepted = h.sandbox.push(push(Signing::Valid, 0, None)).await;
    assert_eq!(accepted.status, 202, "{}", accepted.answer);
    assert!(
        stored(js.clone(), stream.clone(), subject.clone()).await,
        "the order is in JetStream when the portal is told 202"
    );
    // Sent again (the portal did not see the answer): accepted, and stored once.
    let again = h.sandbox.push(push(Signing::Valid, 0, None)).await;
    assert_eq!(again.status, 202, "{}", again.answer);
    let mut subjects = js
        .get_stream(&stream)
        .await
        .unwrap()
        .info_with_subjects(&subject)
        .await
        .unwrap();
    let mut copies = 0;
    while let Some((name, count)) = futures::TryStreamExt::try_next(&mut subjects)
        .await
        .unwrap()
    {
        if name == subject {
            copies = count;
        }
    }
    assert_eq!(copies, 1, "the duplicate window dropped the second copy");
    let order = erp_order(&h, &order_id).await;
    assert_eq!(order["totals"]["total"]["amount"], "14.28", "{order}");
    assert_eq!(
        h.sandbox.controls().recorder.calls(Some("orders")).len(),
        0,
        "nothing is polled in push mode"
    );
    h.shutdown.trigger();
}
