//! Every implemented Amazon flow end to end: ERP events through real NATS and the adapter's flows, the
//! connector's real HTTP calls to the sandbox, and what the sandbox holds afterwards. Request bodies are
//! validated against the official SP-API models in ../shared/specs/amazon/.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{InventoryPosition, Price, Record, Shipment};
use adapter_runtime::config::{AdapterConfig, NatsSettings, resolve_from_items};
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use channel_amazon::AmazonConnector;
use chrono::Utc;
use crds::channel::Flow;
use sandbox::{Fault, FaultPlan};
use sandbox_amazon::{AmazonSandbox, Credentials};
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "tradewind-demo";
const MP: &str = "amazon-us";
const ERP: &str = "demo-erp";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The schema of `definition` in an SP-API model, as a validator.
fn validator(model: &str, definition: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(workspace().join("specs/amazon").join(model)).unwrap();
    let spec: Value = serde_json::from_str(&text).unwrap();
    let schema = json!({ "$ref": format!("#/definitions/{definition}"), "definitions": spec["definitions"] });
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(
        !validator.is_valid(&json!({})),
        "the {definition} schema rejects an empty body"
    );
    validator
}

struct Harness {
    /// Fails the test when the sandbox recorded a deviation from the SP-API models.
    _strict: sandbox::Strict,
    nats: NatsServer,
    sandbox: AmazonSandbox,
    shutdown: Shutdown,
    _credentials: tempfile::TempDir,
}

/// NATS and the sandbox, before the adapter runs (so that a test can publish a backlog first).
async fn prepare() -> Harness {
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
    Harness {
        _strict: sandbox::Strict::over([sandbox.controls()]),
        nats,
        sandbox,
        shutdown: Shutdown::new(),
        _credentials: credentials,
    }
}

/// The quickstart's amazon-us Marketplace, pointed at the sandbox, running in-process.
async fn start() -> Harness {
    let h = prepare().await;
    run(&h, None, |_| {});
    h
}

/// Runs the adapter for the quickstart's amazon-us Marketplace against the harness's sandbox; `turnaround`
/// is the feed processing time the connector starts from, `adjust` changes the configuration first.
fn run(h: &Harness, turnaround: Option<Duration>, adjust: impl FnOnce(&mut AdapterConfig)) {
    let schemas = crds::schema::SchemaSet::generated().unwrap();
    let (documents, errors) =
        crds::manifest::load_paths(&[workspace().join("examples/quickstart")]);
    assert!(errors.is_empty());
    let report = crds::validation::validate(documents, &schemas);
    let mut config = resolve_from_items(
        &report.items,
        NS,
        MP,
        NatsSettings {
            url: h.nats.url(),
            credentials_file: None,
            tls_ca_file: None,
        },
        h._credentials.path().to_path_buf(),
    )
    .unwrap();
    config.spec.endpoint.base_url = Some(h.sandbox.url());
    config.spec.endpoint.token_url = Some(h.sandbox.token_url());
    if let Some(orders) = config.spec.flows.orders.as_mut() {
        orders.poll_interval = Duration::from_millis(500).into();
    }
    config.ack_wait = Duration::from_secs(5);
    adjust(&mut config);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let mut connector = AmazonConnector::from_config(&config, resilience.clone()).unwrap();
    if let Some(turnaround) = turnaround {
        connector = connector.with_feed_turnaround(turnaround);
    }
    let stop = h.shutdown.clone();
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
}

fn event(id: String, record: Record) -> Event {
    Event {
        id,
        source: "/tradewind/test/erp/demo-erp".into(),
        time: Utc::now(),
        traceparent: None,
        record,
    }
}

async fn publish_stock(h: &Harness, sku: &str, available: i64) {
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Inventory))
        .await
        .unwrap();
    let id = format!("erp:inventory:{sku}:{available}");
    let record = Record::Inventory(InventoryPosition {
        correlation_id: id.as_str().try_into().unwrap(),
        sku: sku.try_into().unwrap(),
        available,
        locations: Vec::new(),
        as_of: Utc::now(),
    });
    publish_event(
        &js,
        &ns.erp_subject(ERP, Flow::Inventory, sku),
        &event(id, record),
        Some(sku),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn inventory_and_price_reach_amazon_as_listings_patches() {
    let h = start().await;
    for (sku, available) in [("TW-1001", 40), ("TW-2002", 1), ("TW-3003", 12)] {
        publish_stock(&h, sku, available).await;
    }
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Price))
        .await
        .unwrap();
    let price = Record::Price(Price {
        correlation_id: "erp:price:TW-1001:1".try_into().unwrap(),
        sku: "TW-1001".try_into().unwrap(),
        price: serde_json::from_value(json!({"amount": "19.99", "currency": "USD"})).unwrap(),
        sale: None,
        as_of: Utc::now(),
    });
    publish_event(
        &js,
        &ns.erp_subject(ERP, Flow::Price, "TW-1001"),
        &event("erp:price:TW-1001:1".into(), price),
        Some("TW-1001"),
    )
    .await
    .unwrap();

    eventually(
        Duration::from_secs(20),
        "every SKU is listed with its price",
        || async {
            let state = h.sandbox.snapshot();
            state.listings.len() == 3 && state.listings["TW-1001"].price.as_deref() == Some("19.99")
        },
    )
    .await;
    let state = h.sandbox.snapshot();
    // The quickstart keeps a safety stock of 2: 40 -> 38, 1 -> 0, 12 -> 10.
    assert_eq!(state.listings["TW-1001"].quantity, Some(38));
    assert_eq!(state.listings["TW-2002"].quantity, Some(0));
    assert_eq!(state.listings["TW-3003"].quantity, Some(10));
    assert_eq!(
        state.tokens_issued, 1,
        "the LWA token is cached across calls"
    );

    let schema = validator("listingsItems_2021-08-01.json", "ListingsItemPatchRequest");
    let calls = h
        .sandbox
        .controls()
        .recorder
        .calls(Some("patchListingsItem"));
    assert!(calls.len() >= 4);
    for call in calls {
        let errors: Vec<String> = schema
            .iter_errors(&call.body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", call.body);
    }
    h.shutdown.trigger();
}

#[tokio::test]
async fn a_refused_sku_is_dead_lettered_with_amazons_words_and_does_not_block_others() {
    let h = start().await;
    h.sandbox.controls().faults.plan(FaultPlan {
        operation: Some("patchListingsItem".into()),
        fault: Fault::Status {
            status: 400,
            body: json!({"errors": [{"code": "InvalidInput", "message": "Invalid SKU 'TW-BAD'", "details": ""}]}).to_string(),
            headers: vec![],
        },
        count: 1,
    });
    publish_stock(&h, "TW-BAD", 5).await;
    eventually(
        Duration::from_secs(10),
        "the refused SKU is dead-lettered",
        || async {
            let js = h.nats.jetstream().await.unwrap();
            let store = DeadLetterStore::new(js, Namespace::new(NS));
            store
                .list(Some(MP), Some(Flow::Inventory))
                .await
                .is_ok_and(|l| l.len() == 1)
        },
    )
    .await;
    publish_stock(&h, "TW-GOOD", 5).await;
    eventually(
        Duration::from_secs(10),
        "the next SKU is listed",
        || async { h.sandbox.snapshot().listings.contains_key("TW-GOOD") },
    )
    .await;
    let js = h.nats.jetstream().await.unwrap();
    let letters = DeadLetterStore::new(js, Namespace::new(NS))
        .list(Some(MP), None)
        .await
        .unwrap();
    assert!(
        letters[0]
            .letter
            .reason
            .contains("InvalidInput: Invalid SKU 'TW-BAD'"),
        "{}",
        letters[0].letter.reason
    );
    h.shutdown.trigger();
}

#[tokio::test]
async fn throttling_is_followed_not_fatal() {
    let h = start().await;
    h.sandbox.controls().faults.plan(FaultPlan {
        operation: Some("patchListingsItem".into()),
        fault: Fault::Status {
            status: 429,
            body: json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.", "details": ""}]}).to_string(),
            headers: vec![("x-amzn-RateLimit-Limit".into(), "5.0".into())],
        },
        count: 2,
    });
    publish_stock(&h, "TW-1001", 9).await;
    eventually(
        Duration::from_secs(20),
        "the SKU is listed after the throttles",
        || async {
            h.sandbox
                .snapshot()
                .listings
                .get("TW-1001")
                .is_some_and(|l| l.quantity == Some(7))
        },
    )
    .await;
    assert_eq!(
        h.sandbox
            .controls()
            .recorder
            .count("patchListingsItem", 429),
        2
    );
    h.shutdown.trigger();
}

#[tokio::test]
async fn orders_come_in_and_shipments_are_confirmed() {
    let h = start().await;
    // The order process accepts only SKUs the ERP has published.
    publish_stock(&h, "TW-1001", 50).await;
    eventually(Duration::from_secs(10), "the SKU is listed", || async {
        h.sandbox.snapshot().listings.contains_key("TW-1001")
    })
    .await;
    let order_id = h.sandbox.place_order("TW-1001", 2, "19.99");
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let stream_name = ns.marketplace_stream(MP).name;
    let subject = ns.erp_order_subject(MP, &order_id);
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
    let order: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(order["totals"]["total"]["amount"], "39.98", "{order}");
    let line_id = order["lines"][0]["lineId"].as_str().unwrap().to_string();

    // The ERP ships the order.
    ensure_stream(&js, &ns.shipment_stream(ERP)).await.unwrap();
    let shipment = Record::Shipment(Shipment {
        correlation_id: format!("{MP}:{order_id}").as_str().try_into().unwrap(),
        marketplace: MP.try_into().unwrap(),
        order_id: order_id.as_str().try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "ups".into(),
        service: None,
        tracking_number: "1Z999AA10123456784".into(),
        shipped_at: Utc::now(),
        ship_from_location: None,
        lines: vec![
            serde_json::from_value(json!({"lineId": line_id, "sku": "TW-1001", "quantity": 2}))
                .unwrap(),
        ],
    });
    publish_event(
        &js,
        &ns.shipment_subject(ERP, MP, &order_id, "PKG-1"),
        &event("erp:shipment:PKG-1".into(), shipment),
        Some(&order_id),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "the shipment is confirmed on Amazon",
        || async { h.sandbox.snapshot().shipments.len() == 1 },
    )
    .await;
    let confirmed = &h.sandbox.snapshot().shipments[0];
    assert_eq!(
        confirmed["packageDetail"]["carrierCode"], "UPS",
        "the mapping's value map applied"
    );
    let schema = validator("ordersV0.json", "ConfirmShipmentRequest");
    for call in h.sandbox.controls().recorder.calls(Some("confirmShipment")) {
        let errors: Vec<String> = schema
            .iter_errors(&call.body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", call.body);
    }
    let order_status = h.sandbox.snapshot().orders[0].status.clone();
    assert_eq!(order_status, "SHIPPED");
    h.shutdown.trigger();
}

/// The whole of an SP-API model's definitions with `definition` at the root, as a validator.
fn model_validator(model: &str, definition: &str) -> jsonschema::Validator {
    validator(model, definition)
}

/// A JSON Schema document of specs/amazon as a validator.
fn document_validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(workspace().join("specs/amazon").join(file)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, body: &Value) {
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{what}: {errors:?} in {body}");
}

#[tokio::test]
async fn a_backlog_goes_as_one_feed_and_each_rejected_message_is_dead_lettered() {
    let h = prepare().await;
    h.sandbox.refuse_sku(
        "TW-F-07",
        "8541",
        "The SKU 'TW-F-07' does not match any ASIN in this marketplace.",
    );
    // The backlog is waiting before the adapter starts, so that it is fetched as one batch.
    for n in 0..30 {
        publish_stock(&h, &format!("TW-F-{n:02}"), 10 + n).await;
    }
    // Feeds take the sandbox about a second; from that, 30 SKUs drain sooner by feed than by patches (5 s).
    run(&h, Some(Duration::from_secs(1)), |_| {});
    eventually(
        Duration::from_secs(30),
        "29 SKUs are listed and the refused one is dead-lettered",
        || async {
            let js = h.nats.jetstream().await.unwrap();
            let letters = DeadLetterStore::new(js, Namespace::new(NS))
                .list(Some(MP), Some(Flow::Inventory))
                .await
                .unwrap_or_default();
            h.sandbox.snapshot().listings.len() == 29 && letters.len() == 1
        },
    )
    .await;
    let state = h.sandbox.snapshot();
    assert_eq!(
        state.listings["TW-F-03"].quantity,
        Some(11),
        "13 less the safety stock of 2"
    );
    assert!(!state.listings.contains_key("TW-F-07"));
    assert_eq!(state.feeds.len(), 1, "one feed for the whole backlog");
    assert_eq!((state.feeds[0].accepted, state.feeds[0].rejected), (29, 1));
    let recorder = &h.sandbox.controls().recorder;
    assert!(recorder.calls(Some("patchListingsItem")).is_empty());

    let js = h.nats.jetstream().await.unwrap();
    let letters = DeadLetterStore::new(js, Namespace::new(NS))
        .list(Some(MP), Some(Flow::Inventory))
        .await
        .unwrap();
    let reason = &letters[0].letter.reason;
    assert!(
        reason.contains("8541 The SKU 'TW-F-07' does not match any ASIN in this marketplace."),
        "{reason}"
    );
    assert!(letters[0].letter.original_subject.ends_with("TW-F-07"));

    // What the connector sent, against Amazon's schemas.
    let feed_schema = document_validator("listings-feed-schema-v2.json");
    let uploads = recorder.calls(Some("uploadFeedDocument"));
    assert_eq!(uploads.len(), 1);
    assert_valid(&feed_schema, "the feed document", &uploads[0].body);
    let message_schema = document_validator("listings-feed-message-schema-v2.json");
    for message in uploads[0].body["messages"].as_array().unwrap() {
        assert_valid(&message_schema, "a feed message", message);
    }
    let spec = model_validator("feeds_2021-06-30.json", "CreateFeedSpecification");
    for call in recorder.calls(Some("createFeed")) {
        assert_valid(&spec, "createFeed", &call.body);
    }
    let spec = model_validator("feeds_2021-06-30.json", "CreateFeedDocumentSpecification");
    for call in recorder.calls(Some("createFeedDocument")) {
        assert_valid(&spec, "createFeedDocument", &call.body);
    }
    h.shutdown.trigger();
}

#[tokio::test]
async fn sandbox_feed_answers_match_the_response_schemas() {
    let h = prepare().await;
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "amzn1.application-oa2-client.sandbox"),
        ("client_secret", "sandbox-only-secret"),
        ("refresh_token", "Atzr|sandbox-only-token"),
    ];
    let token: Value = http
        .post(h.sandbox.token_url())
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let base = h.sandbox.url();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .header("x-amz-access-token", &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let feeds = "feeds_2021-06-30.json";

    let created = call(
        reqwest::Method::POST,
        "/feeds/2021-06-30/documents".into(),
        Some(json!({"contentType": "application/json; charset=UTF-8"})),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_valid(
        &model_validator(feeds, "CreateFeedDocumentResponse"),
        "createFeedDocument",
        &created,
    );
    let document = json!({"header": {"sellerId": "A1", "version": "2.0"}, "messages": [
        {"messageId": 1, "sku": "S-1", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]},
        {"messageId": 2, "sku": "S-2", "operationType": "PATCH", "productType": "PRODUCT",
         "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -3}]}]}]});
    let uploaded = http
        .put(created["url"].as_str().unwrap())
        .body(document.to_string())
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success());
    let feed = call(
        reqwest::Method::POST,
        "/feeds/2021-06-30/feeds".into(),
        Some(json!({"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": created["feedDocumentId"]})),
    )
    .await
    .unwrap();
    assert_eq!(feed.status(), 202);
    let feed: Value = feed.json().await.unwrap();
    assert_valid(
        &model_validator(feeds, "CreateFeedResponse"),
        "createFeed",
        &feed,
    );
    let feed_id = feed["feedId"].as_str().unwrap().to_string();
    let feed_schema = model_validator(feeds, "Feed");
    let done = std::sync::Mutex::new(Value::Null);
    eventually(Duration::from_secs(10), "the feed is done", || async {
        let answer = call(
            reqwest::Method::GET,
            format!("/feeds/2021-06-30/feeds/{feed_id}"),
            None,
        )
        .await
        .unwrap();
        // getFeed's bucket (2/s, burst 15) answers fast polling with 429.
        if answer.status() == 429 {
            return false;
        }
        let answer: Value = answer.json().await.unwrap();
        assert_valid(&feed_schema, "getFeed", &answer);
        let finished = answer["processingStatus"] == "DONE";
        if finished {
            *done.lock().unwrap() = answer;
        }
        finished
    })
    .await;
    let done = done.into_inner().unwrap();
    let result = done["resultFeedDocumentId"].as_str().unwrap();
    let document: Value = call(
        reqwest::Method::GET,
        format!("/feeds/2021-06-30/documents/{result}"),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_valid(
        &model_validator(feeds, "FeedDocument"),
        "getFeedDocument",
        &document,
    );
    let report: Value = http
        .get(document["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_valid(
        &document_validator("listings-feed-processing-report-schema-v2.json"),
        "the processing report",
        &report,
    );
    assert_eq!(report["issues"][0]["messageId"], 2);
    assert_eq!(report["summary"]["messagesAccepted"], 1);

    // Errors and throttling answer Amazon's ErrorList.
    let refused = call(
        reqwest::Method::POST,
        "/feeds/2021-06-30/feeds".into(),
        Some(json!({})),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert_valid(&model_validator(feeds, "ErrorList"), "an error", &refused);
    // That refusal was a deviation on purpose: recorded, then cleared so the guard passes.
    let conformance = &h.sandbox.controls().conformance;
    let deviations = conformance.unexpected();
    assert_eq!(deviations.len(), 1, "{deviations:?}");
    assert_eq!(deviations[0].operation.as_deref(), Some("createFeed"));
    conformance.clear();
    h.shutdown.trigger();
}

#[tokio::test]
async fn returns_and_settlements_come_in_and_mismatches_are_settlement_exceptions() {
    let h = prepare().await;
    // Two orders, one of them partly returned and refunded, before the adapter starts.
    let a = h.sandbox.place_order("TW-1001", 2, "19.99");
    let b = h.sandbox.place_order("TW-2002", 1, "5.00");
    let rma = h.sandbox.return_order(&a, 1, "DEFECTIVE").unwrap();
    run(&h, None, |config| {
        let every = || crds::v1alpha1::PolledFlow {
            poll_interval: Duration::from_secs(2).into(),
        };
        config.spec.flows.returns = Some(every());
        config.spec.flows.settlements = Some(every());
    });
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let stream_name = ns.marketplace_stream(MP).name;
    let last = |subject: String| {
        let js = js.clone();
        let stream_name = stream_name.clone();
        async move {
            let stream = js.get_stream(&stream_name).await.ok()?;
            let message = stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .ok()?;
            serde_json::from_slice::<Value>(&message.payload).ok()
        }
    };
    eventually(
        Duration::from_secs(20),
        "the return and both orders are in",
        || async {
            last(ns.marketplace_subject(MP, Flow::Returns, &rma))
                .await
                .is_some()
                && last(ns.marketplace_subject(MP, Flow::Orders, &a))
                    .await
                    .is_some()
                && last(ns.marketplace_subject(MP, Flow::Orders, &b))
                    .await
                    .is_some()
        },
    )
    .await;
    let returned = last(ns.marketplace_subject(MP, Flow::Returns, &rma))
        .await
        .unwrap();
    assert_eq!(returned["orderId"], a.as_str(), "{returned}");
    assert_eq!(returned["status"], "Refunded");
    assert_eq!(returned["refund"]["amount"], "19.99");
    assert_eq!(returned["lines"][0]["sku"], "TW-1001");

    // Amazon settles b for less than the buyer paid, and an order Tradewind never saw.
    h.sandbox.tweak_settlement(&b, "4.00");
    h.sandbox.tweak_settlement("113-9999999-9999999", "12.00");
    h.sandbox.close_settlement();
    let letters = || async {
        let js = h.nats.jetstream().await.unwrap();
        DeadLetterStore::new(js, Namespace::new(NS))
            .list(Some(MP), Some(Flow::Settlements))
            .await
            .unwrap_or_default()
    };
    eventually(
        Duration::from_secs(30),
        "two settlement exceptions are dead-lettered",
        || async { letters().await.len() == 2 },
    )
    .await;
    let mut reasons: Vec<String> = letters()
        .await
        .into_iter()
        .map(|l| l.letter.reason)
        .collect();
    reasons.sort();
    let mut expected = vec![
        "settlement exception: order 113-9999999-9999999 is unknown to Tradewind; sales and refunds settled 12.00 USD".to_string(),
        format!("settlement exception: order {b} sales settled 4.00 USD but Tradewind has 5.00 USD"),
    ];
    expected.sort();
    assert_eq!(reasons, expected);
    let letter = &letters().await[0].letter;
    let payload: Value = serde_json::from_slice(&letter.payload).unwrap();
    let settlement_id = payload["settlementId"].as_str().unwrap().to_string();
    let settlement = last(ns.marketplace_subject(MP, Flow::Settlements, &settlement_id))
        .await
        .expect("the settlement is published");
    // 39.98 + 5.00 sold (b settled at 4.00), commissions, 19.99 refunded, 12.00 unknown, subscription fee.
    let lines = settlement["lines"].as_array().unwrap();
    let sum: rust_decimal::Decimal = lines
        .iter()
        .map(|l| {
            l["amount"]["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        settlement["total"]["amount"].as_str().unwrap(),
        sum.to_string()
    );
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "Refund" && l["orderId"] == a.as_str())
    );
    let spec = model_validator("reports_2021-06-30.json", "CreateReportSpecification");
    let requests = h.sandbox.controls().recorder.calls(Some("createReport"));
    assert!(!requests.is_empty());
    for call in requests {
        assert_valid(&spec, "createReport", &call.body);
    }
    h.shutdown.trigger();
}

#[tokio::test]
async fn sandbox_listing_order_and_report_answers_match_the_response_schemas() {
    let h = prepare().await;
    let order = h.sandbox.place_order("TW-1001", 2, "19.99");
    h.sandbox.return_order(&order, 1, "DEFECTIVE").unwrap();
    h.sandbox.publish_returns_report();
    h.sandbox.close_settlement();
    let http = reqwest::Client::new();
    let defaults = Credentials::default();
    let token: Value = http
        .post(h.sandbox.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", defaults.client_id.as_str()),
            ("client_secret", defaults.client_secret.as_str()),
            ("refresh_token", defaults.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let base = h.sandbox.url();
    let get = |path: String| {
        http.get(format!("{base}{path}"))
            .header("x-amz-access-token", &token)
            .send()
    };
    let json = |response: reqwest::Response| async move {
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<Value>().await.unwrap()
    };

    let patched = http
        .patch(format!(
            "{base}/listings/2021-08-01/items/A1/TW-1001?marketplaceIds=ATVPDKIKX0DER"
        ))
        .header("x-amz-access-token", &token)
        .json(&json!({"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}]}))
        .send()
        .await
        .unwrap();
    assert_valid(
        &model_validator(
            "listingsItems_2021-08-01.json",
            "ListingsItemSubmissionResponse",
        ),
        "patchListingsItem",
        &json(patched).await,
    );

    let orders = "orders_2026-01-01.json";
    let found = json(
        get("/orders/2026-01-01/orders?marketplaceIds=ATVPDKIKX0DER&createdAfter=2020-01-01T00:00:00Z".into())
            .await
            .unwrap(),
    )
    .await;
    assert_valid(
        &model_validator(orders, "SearchOrdersResponse"),
        "searchOrders",
        &found,
    );
    let one = json(
        get(format!("/orders/2026-01-01/orders/{order}"))
            .await
            .unwrap(),
    )
    .await;
    assert_valid(
        &model_validator(orders, "GetOrderResponse"),
        "getOrder",
        &one,
    );
    let missing = get("/orders/2026-01-01/orders/113-0000000-0000000".into())
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_valid(
        &model_validator(orders, "ErrorList"),
        "getOrder 404",
        &missing.json().await.unwrap(),
    );

    let reports = "reports_2021-06-30.json";
    let requested = http
        .post(format!("{base}/reports/2021-06-30/reports"))
        .header("x-amz-access-token", &token)
        .json(&json!({"reportType": "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE", "marketplaceIds": ["ATVPDKIKX0DER"], "dataStartTime": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(requested.status(), 202);
    assert_valid(
        &model_validator(reports, "CreateReportResponse"),
        "createReport",
        &requested.json().await.unwrap(),
    );
    for report_type in [
        "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
        "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
    ] {
        let listed = json(
            get(format!(
                "/reports/2021-06-30/reports?reportTypes={report_type}&processingStatuses=DONE"
            ))
            .await
            .unwrap(),
        )
        .await;
        assert_valid(
            &model_validator(reports, "GetReportsResponse"),
            "getReports",
            &listed,
        );
        let id = listed["reports"][0]["reportId"].as_str().unwrap();
        let report = json(
            get(format!("/reports/2021-06-30/reports/{id}"))
                .await
                .unwrap(),
        )
        .await;
        assert_valid(&model_validator(reports, "Report"), "getReport", &report);
        let document_id = report["reportDocumentId"].as_str().unwrap();
        let document = json(
            get(format!("/reports/2021-06-30/documents/{document_id}"))
                .await
                .unwrap(),
        )
        .await;
        assert_valid(
            &model_validator(reports, "ReportDocument"),
            "getReportDocument",
            &document,
        );
        // The document itself reads back into canonical records.
        let text = http
            .get(document["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if report_type.contains("RETURNS") {
            let returns = channel_amazon::returns_report::parse(&text, MP).unwrap();
            assert_eq!(returns[0].order_id.as_str(), order);
        } else {
            let parsed = channel_amazon::settlement_report::parse(&text, MP).unwrap();
            assert_eq!(parsed.reported_total, None);
        }
    }
    let refused = get("/reports/2021-06-30/reports".into()).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_valid(
        &model_validator(reports, "ErrorList"),
        "getReports 400",
        &refused.json().await.unwrap(),
    );
    h.shutdown.trigger();
}

#[tokio::test]
async fn catalog_content_goes_by_feed_when_the_marketplace_asks_for_bulk() {
    let h = prepare().await;
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.erp_stream(ERP, Flow::Catalog))
        .await
        .unwrap();
    for (sku, title) in [
        ("TW-C-1", "Green tea, loose"),
        ("TW-C-2", "Black tea, bags"),
    ] {
        let id = format!("erp:product:{sku}");
        let product = Record::Product(
            serde_json::from_value(json!({
                "correlationId": id, "sku": sku, "title": title, "description": "From the ERP",
                "bulletPoints": ["Organic", "250 g"], "images": [format!("https://img.example/{sku}.jpg")],
                "asOf": Utc::now(),
            }))
            .unwrap(),
        );
        publish_event(
            &js,
            &ns.erp_subject(ERP, Flow::Catalog, sku),
            &event(id, product),
            Some(sku),
        )
        .await
        .unwrap();
    }
    run(&h, None, |config| {
        config.spec.flows.catalog = Some(crds::v1alpha1::OutboundFlow {
            delivery: crds::v1alpha1::DeliveryMode::Bulk,
            ..Default::default()
        });
    });
    eventually(
        Duration::from_secs(20),
        "both products' content is on Amazon",
        || async {
            let state = h.sandbox.snapshot();
            ["TW-C-1", "TW-C-2"].iter().all(|sku| {
                state
                    .listings
                    .get(*sku)
                    .is_some_and(|l| l.attributes.contains_key("item_name"))
            })
        },
    )
    .await;
    let state = h.sandbox.snapshot();
    let listing = &state.listings["TW-C-1"];
    assert_eq!(
        listing.attributes["item_name"][0]["value"],
        "Green tea, loose"
    );
    assert_eq!(listing.attributes["bullet_point"][1]["value"], "250 g");
    assert_eq!(
        listing.attributes["main_product_image_locator"][0]["media_location"],
        "https://img.example/TW-C-1.jpg"
    );
    assert_eq!(state.feeds.len(), 1, "Bulk: a feed even for two products");
    let uploads = h
        .sandbox
        .controls()
        .recorder
        .calls(Some("uploadFeedDocument"));
    assert_valid(
        &document_validator("listings-feed-schema-v2.json"),
        "the catalog feed",
        &uploads[0].body,
    );
    h.shutdown.trigger();
}

#[tokio::test]
async fn a_settlement_finds_refunds_it_has_not_seen_in_a_returns_report() {
    let h = prepare().await;
    // As Amazon serves most reports: both the returns and the settlement report come GZIP-compressed.
    h.sandbox.compress_report_documents();
    // The returns flow is off (or the adapter restarted): the refund is not known from a returns poll.
    let a = h.sandbox.place_order("TW-1001", 2, "19.99");
    h.sandbox.return_order(&a, 1, "DEFECTIVE").unwrap();
    let report = h.sandbox.close_settlement();
    let text = h.sandbox.report_text(&report).unwrap();
    let settlement_id = channel_amazon::settlement_report::parse(&text, MP)
        .unwrap()
        .settlement
        .settlement_id;
    run(&h, None, |config| {
        config.spec.flows.settlements = Some(crds::v1alpha1::PolledFlow {
            poll_interval: Duration::from_secs(2).into(),
        });
    });
    let js = h.nats.jetstream().await.unwrap();
    let ns = Namespace::new(NS);
    let subject = ns.marketplace_subject(MP, Flow::Settlements, &settlement_id);
    let stream_name = ns.marketplace_stream(MP).name;
    eventually(
        Duration::from_secs(20),
        "the settlement is published",
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
    let letters = DeadLetterStore::new(js.clone(), Namespace::new(NS))
        .list(Some(MP), Some(Flow::Settlements))
        .await
        .unwrap();
    assert!(
        letters.is_empty(),
        "{:?}",
        letters.iter().map(|l| &l.letter.reason).collect::<Vec<_>>()
    );
    let recorder = &h.sandbox.controls().recorder;
    assert_eq!(
        recorder.calls(Some("createReport")).len(),
        1,
        "one returns report for the refunds"
    );
    h.shutdown.trigger();
}
