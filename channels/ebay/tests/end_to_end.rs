//! The eBay connector end to end: real nats-server, `adapter_runtime::app::run`, the eBay sandbox over HTTP
//! (OAuth refresh grant, daily quotas). Request bodies are validated against eBay's OpenAPI documents.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::canonical::{
    InventoryPosition, LineQuantity, Money, Price, Record, SettlementLineKind, Shipment,
};
use adapter_runtime::config::AdapterConfig;
use adapter_runtime::envelope::Event;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::jetstream::{DeadLetterStore, publish_event};
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use channel_ebay::EbayConnector;
use chrono::Utc;
use crds::channel::Flow;
use rust_decimal::Decimal;
use sandbox_ebay::{NewOrder, Settings};
use serde_json::{Value, json};
use test_support::{NatsServer, eventually};

const NS: &str = "ebay-test";
const MARKETPLACE: &str = "ebay-us";
const ERP: &str = "erp";
/// The sandbox's daily quota of bulk updates, and the policy's bucket for it.
/// The flow hands over what has arrived, so records published one by one go out in small calls: the quota
/// covers that, and the policy keeps every call under it.
const BULK_QUOTA: u64 = 80;
/// The sandbox's daily quota of offer look-ups, and the policy's bucket for it: the prices test looks up each of
/// its SKUs once and one relisted SKU again, well under it.
const OFFERS_QUOTA: u64 = 60;

fn spec(file: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../specs/ebay/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn assert_valid(spec: &Value, component: &str, body: &Value) {
    let mut root = spec.clone();
    root["$ref"] = json!(format!("#/components/schemas/{component}"));
    let validator = jsonschema::draft4::new(&root).unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{component} does not match the spec: {errors:?}\n{body}"
    );
}

/// The example's ChannelMapping (examples/ebay/30-channel-mapping.yaml) as the configuration's `mapping`.
fn example_mapping() -> String {
    let manifest = include_str!("../../../examples/ebay/30-channel-mapping.yaml");
    let spec = manifest.split_once("\nspec:\n").unwrap().1;
    let indented: Vec<String> = spec.lines().map(|l| format!("  {l}")).collect();
    format!(
        "mapping:\n  name: ebay-uk\n  spec:\n{}\n",
        indented.join("\n")
    )
}

/// The adapter's configuration: the account's currency, and a ChannelMapping (`""`: none, the canonical records
/// as they are).
fn config(
    base_url: &str,
    nats_url: &str,
    credentials: &std::path::Path,
    currency: &str,
    mapping: &str,
) -> AdapterConfig {
    let yaml = format!(
        r#"
namespace: {NS}
marketplace: {MARKETPLACE}
spec:
  channel: ebay
  endpoint: {{baseUrl: "{base_url}"}}
  credentialsSecretRef: {{name: ebay}}
  erpConnectionRef: {{name: {ERP}}}
  channelMappingRef: {{name: ebay}}
  rateLimitPolicyRef: {{name: ebay}}
  currency: {currency}
  flows:
    inventory: {{coalesceWindow: 200ms}}
    price: {{coalesceWindow: 200ms}}
    orders: {{pollInterval: 300ms, validation: {{shipToCountries: [US]}}}}
    shipments: {{}}
    settlements: {{pollInterval: 300ms}}
rateLimits:
  name: ebay
  spec:
    channel: ebay
    operations:
      - {{name: bulkUpdatePriceQuantity, tokenBucket: {{requests: {BULK_QUOTA}, per: 24h, burst: {BULK_QUOTA}}}}}
      - {{name: getOffers, tokenBucket: {{requests: {OFFERS_QUOTA}, per: 24h, burst: {OFFERS_QUOTA}}}}}
    defaults:
      tokenBucket: {{requests: 50, per: 1s, burst: 50}}
      retry: {{maxAttempts: 4, initialBackoff: 100ms, maxBackoff: 1s}}
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

fn price(sku: &str, amount: Decimal, currency: &str) -> Event {
    let id = format!("erp:price:{sku}:{amount}:{currency}");
    event(
        id.clone(),
        Record::Price(Price {
            correlation_id: id.as_str().try_into().unwrap(),
            sku: sku.try_into().unwrap(),
            price: Money::new(amount, currency.parse().unwrap()),
            sale: None,
            as_of: Utc::now(),
        }),
    )
}

struct Running {
    /// Fails the test when the sandbox recorded a deviation from eBay's specifications.
    _strict: sandbox::Strict,
    _nats: NatsServer,
    js: jetstream::Context,
    ns: Namespace,
    _sandbox: sandbox::Running,
    ebay: Arc<sandbox_ebay::Sandbox>,
    shutdown: Shutdown,
    adapter: tokio::task::JoinHandle<Result<(), String>>,
    _credentials: tempfile::TempDir,
}

async fn start(seed: impl FnOnce(&sandbox_ebay::Sandbox)) -> Running {
    start_with(
        Settings::new("client-1", "secret-1", "refresh-1"),
        "USD",
        "",
        seed,
    )
    .await
}

async fn start_with(
    settings: Settings,
    currency: &str,
    mapping: &str,
    seed: impl FnOnce(&sandbox_ebay::Sandbox),
) -> Running {
    let nats = NatsServer::start().await.unwrap();
    let settings = settings
        .daily_quota("bulkUpdatePriceQuantity", BULK_QUOTA)
        .daily_quota("getOffers", OFFERS_QUOTA);
    let (sandbox, ebay) = sandbox_ebay::start(settings).await.unwrap();
    seed(&ebay);
    let credentials = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("client_id", "client-1"),
        ("client_secret", "secret-1"),
        ("refresh_token", "refresh-1"),
    ] {
        std::fs::write(credentials.path().join(key), format!("{value}\n")).unwrap();
    }
    let config = config(
        &sandbox.url(),
        &nats.url(),
        credentials.path(),
        currency,
        mapping,
    );
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), 1));
    let connector = Arc::new(EbayConnector::from_config(&config, resilience.clone()).unwrap());
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
        _strict: sandbox::Strict::over([ebay.controls.as_ref()]),
        _nats: nats,
        js,
        ns: Namespace::new(NS),
        _sandbox: sandbox,
        ebay,
        shutdown,
        adapter,
        _credentials: credentials,
    }
}

#[tokio::test]
async fn quantities_go_out_25_per_call_within_the_daily_quota_and_unknown_skus_are_dead_lettered() {
    let skus: Vec<String> = (0..120).map(|i| format!("SKU-{i:03}")).collect();
    let run = start(|e| skus.iter().for_each(|s| e.add_sku(s, 0))).await;
    for (i, sku) in skus.iter().enumerate() {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(
            &run.js,
            &subject,
            &inventory(sku, i as i64 % 9 + 1),
            Some(sku),
        )
        .await
        .unwrap();
    }
    let subject = run.ns.erp_subject(ERP, Flow::Inventory, "GHOST");
    publish_event(&run.js, &subject, &inventory("GHOST", 4), Some("GHOST"))
        .await
        .unwrap();
    let ebay = run.ebay.clone();
    eventually(Duration::from_secs(30), "every quantity is set", || {
        let (ebay, skus) = (ebay.clone(), skus.clone());
        async move {
            skus.iter().enumerate().all(|(i, s)| {
                ebay.listing(s)
                    .is_some_and(|l| l.quantity == i as i64 % 9 + 1)
            })
        }
    })
    .await;
    let dead_letters = Arc::new(DeadLetterStore::new(run.js.clone(), run.ns.clone()));
    let store = dead_letters.clone();
    eventually(Duration::from_secs(20), "GHOST is dead-lettered", || {
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
            .contains("SKU GHOST is not available"),
        "{}",
        letters[0].letter.reason
    );

    let recorder = &run.ebay.controls.recorder;
    let calls = recorder.calls(Some("bulkUpdatePriceQuantity"));
    assert!(calls.len() as u64 <= BULK_QUOTA, "{} calls", calls.len());
    assert!(
        calls.iter().all(|c| c.status != 429),
        "the daily quota was exceeded"
    );
    let inventory_spec = spec("ebay-inventory.yml");
    for call in &calls {
        assert!(call.body["requests"].as_array().unwrap().len() <= 25);
        assert_valid(&inventory_spec, "BulkPriceQuantity", &call.body);
    }
    // One token for everything, and no secret recorded.
    assert_eq!(run.ebay.account().tokens_issued, 1);
    let recorded = serde_json::to_string(&recorder.calls(None)).unwrap();
    assert!(!recorded.contains("secret-1") && !recorded.contains("refresh-1"));
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}

#[tokio::test]
async fn orders_are_read_by_modification_date_page_by_page_and_shipped_per_package() {
    let run = start(|e| {
        e.add_sku("A-1", 5);
        for n in 0..130 {
            e.add_order(NewOrder::new(&format!("12-{n:05}-00001")).line(
                "A-1",
                2,
                Decimal::new(1999, 2),
            ));
        }
    })
    .await;
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .unwrap();
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Orders, "12-00129-00001");
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
        panic!("not an order")
    };
    assert_eq!(order.lines[0].unit_price.amount, Decimal::new(1999, 2));
    assert_eq!(order.totals.total.amount, Decimal::new(3998 + 599, 2));
    assert_eq!(order.ship_to.country, "US");
    let ebay = run.ebay.clone();
    eventually(
        Duration::from_secs(20),
        "a later poll filters on lastmodifieddate",
        || {
            let ebay = ebay.clone();
            async move {
                let calls = ebay.controls.recorder.calls(Some("getOrders"));
                calls
                    .iter()
                    .any(|c| c.query.as_deref().is_some_and(|q| q.contains("offset=100")))
                    && calls.iter().any(|c| {
                        c.query
                            .as_deref()
                            .is_some_and(|q| q.contains("lastmodifieddate"))
                    })
            }
        },
    )
    .await;

    let line_id = run.ebay.order("12-00003-00001").unwrap().lines[0]
        .line_item_id
        .clone();
    let shipment = Shipment {
        correlation_id: format!("{MARKETPLACE}:12-00003-00001")
            .as_str()
            .try_into()
            .unwrap(),
        marketplace: MARKETPLACE.try_into().unwrap(),
        order_id: "12-00003-00001".try_into().unwrap(),
        shipment_id: "PKG-1".into(),
        carrier: "USPS".into(),
        service: None,
        tracking_number: "9400111899223100000000".into(),
        shipped_at: Utc::now(),
        ship_from_location: None,
        lines: vec![LineQuantity {
            line_id,
            sku: "A-1".try_into().unwrap(),
            quantity: 2,
        }],
    };
    let subject = run
        .ns
        .shipment_subject(ERP, MARKETPLACE, "12-00003-00001", "PKG-1");
    publish_event(
        &run.js,
        &subject,
        &event("ship:1".into(), Record::Shipment(shipment)),
        None,
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "the package is fulfilled", || {
        let ebay = ebay.clone();
        async move { ebay.order("12-00003-00001").is_some_and(|o| o.fulfilled) }
    })
    .await;
    let fulfillment = run.ebay.account().fulfillments[0].clone();
    assert_eq!(fulfillment.carrier, "USPS");
    assert_eq!(fulfillment.tracking_number, "9400111899223100000000");
    let fulfillment_spec = spec("ebay-fulfillment.yml");
    for call in run
        .ebay
        .controls
        .recorder
        .calls(Some("createShippingFulfillment"))
    {
        assert_valid(&fulfillment_spec, "ShippingFulfillmentDetails", &call.body);
    }
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}

async fn publish_price(run: &Running, sku: &str, amount: Decimal, currency: &str) {
    let subject = run.ns.erp_subject(ERP, Flow::Price, sku);
    publish_event(&run.js, &subject, &price(sku, amount, currency), Some(sku))
        .await
        .unwrap();
}

async fn priced(ebay: &Arc<sandbox_ebay::Sandbox>, wanted: &[(String, Decimal)], what: &str) {
    eventually(Duration::from_secs(30), what, || {
        let (ebay, wanted) = (ebay.clone(), wanted.to_vec());
        async move {
            wanted
                .iter()
                .all(|(sku, p)| ebay.listing(sku).and_then(|l| l.price()) == Some(*p))
        }
    })
    .await;
}

#[tokio::test]
async fn prices_go_out_by_offer_id_looked_up_once_per_sku_and_unpriceable_skus_are_dead_lettered() {
    let skus: Vec<String> = (0..40).map(|i| format!("P-{i:03}")).collect();
    let run = start(|e| {
        skus.iter().for_each(|s| e.add_sku(s, 1));
        // Sold by auction as well: only the fixed-price offer takes the price.
        e.add_offer("P-000", sandbox_ebay::AUCTION, true).unwrap();
        // Only an auction: no price to set.
        e.add_inventory_item("AUCTION-ONLY", 1);
        e.add_offer("AUCTION-ONLY", sandbox_ebay::AUCTION, true)
            .unwrap();
    })
    .await;
    let first: Vec<(String, Decimal)> = skus
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), Decimal::new(1000 + i as i64 * 25, 2)))
        .collect();
    for (sku, amount) in &first {
        publish_price(&run, sku, *amount, "USD").await;
    }
    publish_price(&run, "AUCTION-ONLY", Decimal::new(500, 2), "USD").await;
    publish_price(&run, "GHOST", Decimal::new(500, 2), "USD").await;
    priced(&run.ebay, &first, "every SKU has its first price").await;
    // A price in another currency than the offer's: eBay refuses it and nothing changes.
    publish_price(&run, "P-039", Decimal::new(700, 2), "EUR").await;
    let auction = &run.ebay.listing("P-000").unwrap().offers[1];
    assert_eq!(
        (auction.format.as_str(), auction.price),
        (sandbox_ebay::AUCTION, None)
    );

    // The same SKUs again: the offer ids come from the cache, not from getOffers.
    let looked_up = run.ebay.controls.recorder.calls(Some("getOffers")).len();
    let second: Vec<(String, Decimal)> = first[..30]
        .iter()
        .map(|(s, p)| (s.clone(), p + Decimal::ONE))
        .collect();
    for (sku, amount) in &second {
        publish_price(&run, sku, *amount, "USD").await;
    }
    priced(&run.ebay, &second, "the second prices are set").await;
    assert_eq!(
        run.ebay.controls.recorder.calls(Some("getOffers")).len(),
        looked_up,
        "no SKU is looked up twice"
    );

    // Relisted under a new offer: eBay answers 404 for the cached one, and the SKU is looked up again.
    let old = run.ebay.listing("P-005").unwrap().offers[0]
        .offer_id
        .clone();
    run.ebay.remove_offer(&old);
    let new = run
        .ebay
        .add_offer("P-005", sandbox_ebay::FIXED_PRICE, true)
        .unwrap();
    publish_price(&run, "P-005", Decimal::new(4242, 2), "USD").await;
    priced(
        &run.ebay,
        &[("P-005".to_string(), Decimal::new(4242, 2))],
        "the relisted SKU is priced on its new offer",
    )
    .await;
    assert_eq!(run.ebay.listing("P-005").unwrap().offers[0].offer_id, new);

    let dead_letters = DeadLetterStore::new(run.js.clone(), run.ns.clone());
    eventually(
        Duration::from_secs(20),
        "the unpriceable SKUs are dead-lettered",
        || {
            let store = &dead_letters;
            async move {
                store
                    .list(Some(MARKETPLACE), Some(Flow::Price))
                    .await
                    .is_ok_and(|l| l.len() >= 3)
            }
        },
    )
    .await;
    let reasons: Vec<String> = dead_letters
        .list(Some(MARKETPLACE), Some(Flow::Price))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.letter.reason)
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("SKU AUCTION-ONLY: no published fixed-price offer"))
            && reasons
                .iter()
                .any(|r| r.contains("SKU GHOST: no published fixed-price offer")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("SKU P-039: offer") && r.contains("price.currency")),
        "{reasons:?}"
    );
    assert_eq!(
        run.ebay.listing("P-039").unwrap().price(),
        Some(first[39].1)
    );

    let recorder = &run.ebay.controls.recorder;
    let lookups = recorder.calls(Some("getOffers"));
    assert!(lookups.len() as u64 <= OFFERS_QUOTA && lookups.iter().all(|c| c.status != 429));
    assert!(lookups.iter().all(|c| {
        c.query
            .as_deref()
            .is_some_and(|q| q.contains("sku=") && q.contains("format=FIXED_PRICE"))
    }));
    // 40 SKUs, AUCTION-ONLY, GHOST, and P-005 once more.
    assert_eq!(lookups.len(), 43);
    let inventory_spec = spec("ebay-inventory.yml");
    let updates = recorder.calls(Some("bulkUpdatePriceQuantity"));
    assert!(updates.len() as u64 <= BULK_QUOTA && updates.iter().all(|c| c.status != 429));
    for call in &updates {
        let offers: usize = call.body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["offers"].as_array().unwrap().len())
            .sum();
        assert!(offers <= 25, "{offers} offers in one call");
        assert_valid(&inventory_spec, "BulkPriceQuantity", &call.body);
    }
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_example_mapping_drives_quantities_and_prices_under_the_channel_sku() {
    let settings = Settings::new("client-1", "secret-1", "refresh-1").marketplace("EBAY_GB", "GBP");
    let run = start_with(settings, "GBP", &example_mapping(), |e| {
        e.add_sku("TW-1001-UK", 0);
        e.add_sku("PLAIN-1", 0);
    })
    .await;
    for (sku, available) in [("TW-1001", 9), ("PLAIN-1", 4)] {
        let subject = run.ns.erp_subject(ERP, Flow::Inventory, sku);
        publish_event(&run.js, &subject, &inventory(sku, available), Some(sku))
            .await
            .unwrap();
    }
    publish_price(&run, "TW-1001", Decimal::new(1234, 2), "GBP").await;
    let ebay = run.ebay.clone();
    eventually(
        Duration::from_secs(20),
        "quantity and price under the channel SKU",
        || {
            let ebay = ebay.clone();
            async move {
                ebay.listing("TW-1001-UK")
                    .is_some_and(|l| l.quantity == 9 && l.price() == Some(Decimal::new(1234, 2)))
                    && ebay.listing("PLAIN-1").is_some_and(|l| l.quantity == 4)
            }
        },
    )
    .await;
    assert!(
        run.ebay.listing("TW-1001").is_none(),
        "the ERP SKU never reaches eBay"
    );
    let recorder = &run.ebay.controls.recorder;
    assert!(recorder.calls(Some("getOffers")).iter().all(|c| {
        c.query
            .as_deref()
            .is_some_and(|q| q.contains("sku=TW-1001-UK"))
    }));
    let inventory_spec = spec("ebay-inventory.yml");
    for call in recorder.calls(Some("bulkUpdatePriceQuantity")) {
        assert_eq!(call.status, 200, "{}", call.body);
        assert_valid(&inventory_spec, "BulkPriceQuantity", &call.body);
    }
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}

/// The last message on the marketplace stream under `subject`, decoded.
async fn published(run: &Running, subject: &str) -> Option<Record> {
    let stream = run
        .js
        .get_stream(run.ns.marketplace_stream(MARKETPLACE).name)
        .await
        .ok()?;
    let message = stream.get_last_raw_message_by_subject(subject).await.ok()?;
    let headers = adapter_runtime::jetstream::from_header_map(&message.headers);
    adapter_runtime::envelope::decode(&headers, &message.payload)
        .ok()
        .map(|e| e.record)
}

async fn settlement_of(run: &Running, payout_id: &str) -> adapter_runtime::canonical::Settlement {
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Settlements, payout_id);
    eventually(
        Duration::from_secs(20),
        &format!("payout {payout_id} is published as a settlement"),
        || {
            let subject = subject.clone();
            async move { published(run, &subject).await.is_some() }
        },
    )
    .await;
    match published(run, &subject).await {
        Some(Record::Settlement(s)) => s,
        other => panic!("not a settlement: {other:?}"),
    }
}

/// A user token from the sandbox, to read its Finances answers as the connector does.
async fn token(base: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/identity/v1/oauth2/token"))
        .basic_auth("client-1", Some("secret-1"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "refresh-1"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_payout_becomes_one_settlement_and_an_unreadable_payout_is_dead_lettered() {
    let run = start(|e| {
        e.add_sku("A-1", 5);
        e.add_order(NewOrder::new("12-00001-00001").line("A-1", 2, Decimal::new(1999, 2)));
        e.add_order(NewOrder::new("12-00002-00001").line("A-1", 1, Decimal::new(4550, 2)));
    })
    .await;
    // Closed while the adapter polls: the first payout is read, then the broken one, then the next.
    let first = run.ebay.close_payout().unwrap();
    let settlement = settlement_of(&run, &first).await;
    let payout = run.ebay.payout(&first).unwrap();
    assert_eq!(settlement.settlement_id, first);
    // Each order's sale at what the buyer paid, and its fees.
    assert_eq!(settlement.lines.len(), 4);
    assert_eq!(settlement.total.amount, payout.amount);
    assert_eq!(settlement.period_end, payout.payout_date);
    let of_order: Vec<_> = settlement
        .lines
        .iter()
        .filter(|l| {
            l.order_id
                .as_ref()
                .is_some_and(|o| o.as_str() == "12-00001-00001")
        })
        .map(|l| (l.kind, l.amount.amount))
        .collect();
    // 39.98 + 5.99 delivery paid, 13.25 % of 39.98 (5.30) in fees.
    assert_eq!(
        of_order,
        vec![
            (SettlementLineKind::Sale, Decimal::new(4597, 2)),
            (SettlementLineKind::Fee, Decimal::new(-530, 2))
        ]
    );

    run.ebay
        .add_order(NewOrder::new("12-00003-00001").line("A-1", 1, Decimal::new(1000, 2)));
    let broken = run.ebay.close_payout().unwrap();
    run.ebay.break_payout(&broken, "/amount/value");
    run.ebay
        .add_order(NewOrder::new("12-00004-00001").line("A-1", 3, Decimal::new(500, 2)));
    let base = run._sandbox.url();
    let closed: Value = reqwest::Client::new()
        .post(format!("{base}/_sandbox/payouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = closed["payoutId"].as_str().unwrap().to_string();
    let after = settlement_of(&run, &last).await;
    assert_eq!(after.lines.len(), 2);
    assert_eq!(
        after.lines[0].order_id.as_ref().unwrap().as_str(),
        "12-00004-00001"
    );

    // An order read at one total (25.99) and paid out at another (23.99): the settlement is published and the
    // order's mismatch dead-lettered with both amounts.
    run.ebay
        .add_order(NewOrder::new("12-00005-00001").line("A-1", 1, Decimal::new(2000, 2)));
    let order_subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Orders, "12-00005-00001");
    eventually(
        Duration::from_secs(20),
        "order 12-00005-00001 is read",
        || {
            let subject = order_subject.clone();
            let run = &run;
            async move { published(run, &subject).await.is_some() }
        },
    )
    .await;
    let misstated = run
        .ebay
        .close_payout_with(|p| p.misstate_sale("12-00005-00001", Decimal::new(2399, 2)))
        .unwrap();
    let paid = settlement_of(&run, &misstated).await;
    assert_eq!(paid.lines[0].amount.amount, Decimal::new(2399, 2));

    let dead_letters = DeadLetterStore::new(run.js.clone(), run.ns.clone());
    eventually(
        Duration::from_secs(20),
        "the broken payout and the mismatched order are dead-lettered",
        || {
            let store = &dead_letters;
            async move {
                store
                    .list(Some(MARKETPLACE), Some(Flow::Settlements))
                    .await
                    .is_ok_and(|l| l.len() >= 2)
            }
        },
    )
    .await;
    let letters = dead_letters
        .list(Some(MARKETPLACE), Some(Flow::Settlements))
        .await
        .unwrap();
    let reasons: Vec<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("payout {broken}")) && r.contains("amount.value")),
        "{reasons:?}"
    );
    // 23.99 paid out, 20.00 + 5.99 read; the other orders reconcile.
    assert!(
        reasons.iter().any(|r| r.contains("order 12-00005-00001")
            && r.contains("23.99 USD")
            && r.contains("25.99 USD")),
        "{reasons:?}"
    );
    let broken_subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Settlements, &broken);
    assert!(published(&run, &broken_subject).await.is_none());

    // The calls: payouts oldest first from the last one handled, transactions by payout.
    let recorder = &run.ebay.controls.recorder;
    let payouts = recorder.calls(Some("getPayouts"));
    assert!(payouts.iter().all(|c| c.status == 200), "{payouts:?}");
    assert!(payouts.iter().all(|c| {
        c.query
            .as_deref()
            .is_some_and(|q| q.contains("sort=payoutDate"))
    }));
    assert!(
        payouts.iter().any(|c| c
            .query
            .as_deref()
            .is_some_and(|q| q.contains("payoutDate%3A%5B"))),
        "{payouts:?}"
    );
    let transactions = recorder.calls(Some("getTransactions"));
    for id in [&first, &broken, &last] {
        assert!(
            transactions.iter().any(|c| c
                .query
                .as_deref()
                .is_some_and(|q| q.contains(&format!("payoutId%3A%7B{id}%7D")))),
            "no getTransactions of {id}: {transactions:?}"
        );
    }

    // The sandbox answers in the spec's shapes.
    let finances = spec("ebay-finances.yml");
    let token = token(&base).await;
    let get = |path: String| {
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .get(path)
                .bearer_auth(token)
                .header("X-EBAY-C-MARKETPLACE-ID", "EBAY_US")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let answer = get(format!(
        "{base}/sell/finances/v1/payout?sort=payoutDate&limit=2"
    ))
    .await;
    assert_eq!(answer["total"], 4);
    assert!(answer["next"].is_string());
    assert_valid(&finances, "Payouts", &answer);
    let answer = get(format!(
        "{base}/sell/finances/v1/transaction?filter=payoutId:%7B{first}%7D"
    ))
    .await;
    assert_eq!(answer["transactions"].as_array().unwrap().len(), 2);
    assert_valid(&finances, "Transactions", &answer);
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_payout_in_progress_waits_an_unpaid_one_is_dead_lettered_and_transactions_are_paged() {
    let run = start(|e| {
        e.add_sku("A-1", 5);
        for n in 0..230 {
            e.add_order(NewOrder::new(&format!("12-{n:05}-00002")).line(
                "A-1",
                1,
                Decimal::new(1000, 2),
            ));
        }
    })
    .await;
    // 230 orders in one payout: getTransactions pages of 200; it waits while eBay is still paying it.
    let big = run
        .ebay
        .close_payout_with(|p| p.status = "INITIATED".into())
        .unwrap();
    let ebay = run.ebay.clone();
    let polled = |n: usize| {
        let ebay = ebay.clone();
        async move { ebay.controls.recorder.calls(Some("getPayouts")).len() >= n }
    };
    let seen = run.ebay.controls.recorder.calls(Some("getPayouts")).len();
    eventually(
        Duration::from_secs(20),
        "the payout in progress is polled again",
        || polled(seen + 3),
    )
    .await;
    assert!(
        run.ebay
            .controls
            .recorder
            .calls(Some("getTransactions"))
            .is_empty()
    );
    let subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Settlements, &big);
    assert!(published(&run, &subject).await.is_none());
    run.ebay.set_payout_status(&big, "SUCCEEDED");
    let settlement = settlement_of(&run, &big).await;
    assert_eq!(settlement.lines.len(), 460, "a sale and its fees per order");
    assert_eq!(
        settlement.total.amount,
        run.ebay.payout(&big).unwrap().amount
    );
    let pages: Vec<String> = run
        .ebay
        .controls
        .recorder
        .calls(Some("getTransactions"))
        .into_iter()
        .filter_map(|c| c.query)
        .collect();
    assert!(pages.iter().any(|q| q.contains("offset=0")), "{pages:?}");
    assert!(pages.iter().any(|q| q.contains("offset=200")), "{pages:?}");

    // A payout eBay failed to pay settles nothing: dead-lettered, and the next payout still follows.
    run.ebay
        .add_order(NewOrder::new("12-99998-00002").line("A-1", 1, Decimal::ONE));
    let failed = run
        .ebay
        .close_payout_with(|p| p.status = "FAILED".into())
        .unwrap();
    run.ebay
        .add_order(NewOrder::new("12-99999-00002").line("A-1", 1, Decimal::ONE));
    let next = run.ebay.close_payout().unwrap();
    settlement_of(&run, &next).await;
    let failed_subject = run
        .ns
        .marketplace_subject(MARKETPLACE, Flow::Settlements, &failed);
    assert!(published(&run, &failed_subject).await.is_none());
    let store = DeadLetterStore::new(run.js.clone(), run.ns.clone());
    // Stored in the poll that published the next settlement, after it.
    eventually(
        Duration::from_secs(20),
        "the failed payout is dead-lettered",
        || {
            let store = &store;
            async move {
                store
                    .list(Some(MARKETPLACE), Some(Flow::Settlements))
                    .await
                    .is_ok_and(|l| !l.is_empty())
            }
        },
    )
    .await;
    let letters = store
        .list(Some(MARKETPLACE), Some(Flow::Settlements))
        .await
        .unwrap();
    let reasons: Vec<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains(&format!("payout {failed}"))
            && reasons[0].contains("payoutStatus FAILED"),
        "{reasons:?}"
    );
    run.shutdown.trigger();
    run.adapter.await.unwrap().unwrap();
}
