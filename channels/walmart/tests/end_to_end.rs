//! The Walmart connector end to end: ERP events published to a real nats-server, `adapter_runtime::app::run`
//! with the connector, the Walmart sandbox over real HTTP. Request bodies are validated against the schemas of
//! Walmart's published OpenAPI specifications.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::app;
use adapter_runtime::canonical::{Currency, InventoryPosition, Money, Price, Record};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, ensure_stream, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use channel_walmart::WalmartConnector;
use chrono::{TimeZone, Utc};
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox::{Fault, FaultPlan};
use sandbox_walmart::{Credentials, Options, WalmartSandbox};
use serde_json::Value;
use test_support::{NatsServer, eventually};

const NS: &str = "wm";
const ERP: &str = "erp";

fn config(nats_url: &str, sandbox: &WalmartSandbox, dir: &Path) -> AdapterConfig {
    let credentials = Credentials::default();
    std::fs::write(dir.join("client_id"), &credentials.client_id).unwrap();
    std::fs::write(dir.join("client_secret"), &credentials.client_secret).unwrap();
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: walmart-us
spec:
  channel: walmart
  endpoint: {{baseUrl: "{base}", tokenUrl: "{token}"}}
  credentialsSecretRef: {{name: walmart}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: walmart}}
  rateLimitPolicyRef: {{name: walmart}}
  currency: USD
  flows:
    inventory: {{coalesceWindow: 50ms}}
    price: {{coalesceWindow: 50ms}}
rateLimits:
  name: walmart
  spec:
    channel: walmart
    defaults: {{retry: {{maxAttempts: 5, initialBackoff: 50ms, maxBackoff: 500ms}}}}
nats: {{url: "{nats_url}"}}
credentialsDir: "{dir}"
httpAddress: "127.0.0.1:0"
ackWait: 10s
"#,
        base = sandbox.url(),
        token = sandbox.token_url(),
        dir = dir.display()
    );
    AdapterConfig::parse("test", &yaml).unwrap()
}

struct Setup {
    /// Fails the test when the sandbox recorded a deviation from Walmart's specification.
    _strict: sandbox::Strict,
    _nats: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    sandbox: WalmartSandbox,
    shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

async fn setup(options: Options) -> Setup {
    let nats = NatsServer::start().await.unwrap();
    let js = jetstream::new(nats.client().await.unwrap());
    let ns = Namespace::new(NS);
    for flow in [Flow::Inventory, Flow::Price] {
        ensure_stream(&js, &ns.erp_stream(ERP, flow)).await.unwrap();
    }
    let sandbox = sandbox_walmart::start_with("127.0.0.1:0", options)
        .await
        .unwrap();
    sandbox.seed_items(["WM-1", "WM-2"]);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&nats.url(), &sandbox, dir.path());
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = WalmartConnector::from_config(&config, resilience.clone()).unwrap();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let result = app::run(
            config,
            Arc::new(connector),
            Some(resilience),
            stop,
            Arc::new(Readiness::starting()),
            Arc::new(Metrics::new()),
        )
        .await;
        if let Err(e) = result {
            panic!("the adapter stopped: {e}");
        }
    });
    Setup {
        _strict: sandbox::Strict::over([sandbox.controls()]),
        _nats: nats,
        js,
        ns,
        sandbox,
        shutdown,
        _dir: dir,
    }
}

fn at(version: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + version, 0).unwrap()
}

async fn publish_inventory(s: &Setup, sku: &str, available: i64, version: i64) -> String {
    let id = format!("erp:inventory:{sku}:{version}");
    let event = Event {
        id: id.clone(),
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: at(version),
        traceparent: None,
        record: Record::Inventory(InventoryPosition {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            available,
            locations: Vec::new(),
            as_of: at(version),
        }),
    };
    let subject = s.ns.erp_subject(ERP, Flow::Inventory, sku);
    publish_event(&s.js, &subject, &event, Some(sku))
        .await
        .unwrap();
    id
}

async fn publish_price(s: &Setup, sku: &str, amount: &str, version: i64) -> String {
    let id = format!("erp:price:{sku}:{version}");
    let event = Event {
        id: id.clone(),
        source: format!("/tradewind/{NS}/erp/{ERP}"),
        time: at(version),
        traceparent: None,
        record: Record::Price(Price {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            price: Money {
                amount: Decimal::from_str(amount).unwrap(),
                currency: Currency::try_from("USD".to_string()).unwrap(),
            },
            sale: None,
            as_of: at(version),
        }),
    };
    let subject = s.ns.erp_subject(ERP, Flow::Price, sku);
    publish_event(&s.js, &subject, &event, Some(sku))
        .await
        .unwrap();
    id
}

/// The JSON request-body schema of `method path` in one of Walmart's specification files.
fn request_schema(file: &str, path: &str, method: &str) -> jsonschema::Validator {
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/walmart");
    let text = std::fs::read_to_string(spec_dir.join(file)).unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    let schema =
        &spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{file} documents {method} {path}");
    jsonschema::validator_for(schema).unwrap()
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
async fn inventory_and_price_per_sku_reach_walmart() {
    let s = setup(Options::default()).await;
    let inventory_id = publish_inventory(&s, "WM-1", 5, 1).await;
    publish_inventory(&s, "WM-2", 7, 1).await;
    publish_inventory(&s, "NOT-LISTED", 3, 1).await;
    let price_id = publish_price(&s, "WM-2", "12.99", 2).await;

    eventually(
        Duration::from_secs(20),
        "stock and price on Walmart",
        || async {
            let state = s.sandbox.snapshot();
            state.items.get("WM-1").map(|i| i.quantity) == Some(5)
                && state.items.get("WM-2").map(|i| i.quantity) == Some(7)
                && state
                    .items
                    .get("WM-2")
                    .and_then(|i| i.price.clone())
                    .map(|p| p.amount)
                    == Some(Decimal::from_str("12.99").unwrap())
        },
    )
    .await;
    let state = s.sandbox.snapshot();
    // WM_QOS.CORRELATION_ID is a fresh GUID per call (the strict sandbox refuses anything else and records a
    // reuse), not the record's correlation id, which stays in our logs.
    let call_ids = [
        state.items["WM-1"].inventory_correlation_id.clone(),
        state.items["WM-2"].inventory_correlation_id.clone(),
        state.items["WM-2"].price_correlation_id.clone(),
    ]
    .map(|id| id.unwrap());
    for id in &call_ids {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is a GUID");
        assert_ne!(id.as_str(), inventory_id.as_str());
        assert_ne!(id.as_str(), price_id.as_str());
    }
    assert_ne!(call_ids[0], call_ids[1]);
    assert_ne!(call_ids[1], call_ids[2]);
    assert_eq!(state.items["WM-2"].price.as_ref().unwrap().currency, "USD");

    // A SKU Walmart does not know is dead-lettered with Walmart's own words; the others went through.
    let dead_letters = DeadLetterStore::new(s.js.clone(), s.ns.clone());
    eventually(
        Duration::from_secs(20),
        "the unknown SKU is dead-lettered",
        || async {
            !dead_letters
                .list(None, Some(Flow::Inventory))
                .await
                .unwrap()
                .is_empty()
        },
    )
    .await;
    let letters = dead_letters
        .list(None, Some(Flow::Inventory))
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0]
            .letter
            .reason
            .contains("CONTENT_NOT_FOUND.GMP_INVENTORY_API")
            && letters[0]
                .letter
                .reason
                .contains("Item not found for sku NOT-LISTED")
            && letters[0].letter.reason.contains("[WM_QOS.CORRELATION_ID "),
        "{}",
        letters[0].letter.reason
    );

    // One token for every call; bodies as Walmart's specifications define them.
    let recorder = &s.sandbox.controls().recorder;
    assert_eq!(recorder.count("getToken", 200), 1);
    assert_eq!(s.sandbox.snapshot().tokens_issued, 1);
    assert_bodies_valid(
        &s.sandbox,
        "updateInventoryForAnItem",
        &request_schema("walmart-marketplace-inventory.yml", "/v3/inventory", "put"),
    );
    assert_bodies_valid(
        &s.sandbox,
        "updatePrice",
        &request_schema("walmart-marketplace-prices.yml", "/v3/price", "put"),
    );
    // The token call's body is the grant type alone: the secret travels in the Authorization header, which
    // is not recorded.
    let token_call = &recorder.calls(Some("getToken"))[0];
    assert!(
        !token_call
            .body
            .to_string()
            .contains(&Credentials::default().client_secret)
    );
    s.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    let options = Options {
        credentials: Credentials {
            token_seconds: 2,
            ..Credentials::default()
        },
        ..Options::default()
    };
    let s = setup(options).await;
    publish_inventory(&s, "WM-1", 1, 1).await;
    eventually(Duration::from_secs(20), "the first update", || async {
        s.sandbox.snapshot().items["WM-1"].quantity == 1
    })
    .await;
    // The token lives 2 s and is renewed 0.4 s before that: waiting its lifetime is the point of the test.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    publish_inventory(&s, "WM-1", 2, 2).await;
    eventually(Duration::from_secs(20), "the second update", || async {
        s.sandbox.snapshot().items["WM-1"].quantity == 2
    })
    .await;
    let recorder = &s.sandbox.controls().recorder;
    assert_eq!(
        recorder.count("getToken", 200),
        2,
        "a new token for the second call"
    );
    assert_eq!(
        recorder.count("updateInventoryForAnItem", 401),
        0,
        "no call carried an expired token"
    );
    s.shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_holds_the_operation_back() {
    let s = setup(Options::default()).await;
    s.sandbox.controls().faults.plan(FaultPlan {
        operation: Some("updateInventoryForAnItem".into()),
        fault: Fault::Status {
            status: 429,
            body: r#"{"errors":[{"code":"REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API","description":"Request threshold violated","severity":"ERROR","category":"APPLICATION"}]}"#.into(),
            headers: vec![("Retry-After".into(), "2".into())],
        },
        count: 1,
    });
    publish_inventory(&s, "WM-1", 9, 1).await;
    eventually(
        Duration::from_secs(20),
        "the update after the 429",
        || async { s.sandbox.snapshot().items["WM-1"].quantity == 9 },
    )
    .await;
    let calls = s
        .sandbox
        .controls()
        .recorder
        .calls(Some("updateInventoryForAnItem"));
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![429, 200]);
    // The retry waited for Retry-After (2 s) rather than the policy's 50 ms backoff.
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= chrono::Duration::milliseconds(1_900),
        "retried after {waited} despite Retry-After: 2"
    );
    s.shutdown.trigger();
}
