//! The demo ERP against a real PostgreSQL: it honours the idempotency key and nothing else (an order posted
//! twice under one key is one sales order; under another key, a second), updates and cancels as the contract
//! says, records every write request, reserves and ships stock, and every change leaves its outbox row.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::time::Duration;

use demo_erp::{DemoErp, Options};
use serde_json::{Value, json};
use test_support::{TestDatabase, eventually};

fn order(id: &str) -> Value {
    json!({
        "correlationId": format!("amazon-us:{id}"),
        "marketplace": "amazon-us",
        "orderId": id,
        "lines": [{"lineId": "1", "sku": "TW-1", "quantity": 2}],
    })
}

#[tokio::test]
async fn an_order_posted_twice_is_one_sales_order_that_ships() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_millis(100),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    erp.add_item("TW-1", "Bolt", "1.50", "USD", &[("DAL", 10)])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let post = |key: &'static str, body: Value| {
        http.post(format!("{}/sales-orders", erp.url()))
            .bearer_auth("demo-only-token")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = post("amazon-us:A", order("A")).await.unwrap();
    assert_eq!(first.status(), 201);
    let number = first.json::<Value>().await.unwrap()["number"].clone();
    let again = post("amazon-us:A", order("A")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["number"], number);

    let unknown = post(
        "k2",
        json!({"correlationId": "m:B", "marketplace": "m", "orderId": "B",
        "lines": [{"lineId": "1", "sku": "NOPE", "quantity": 1}]}),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 422);
    assert!(unknown.text().await.unwrap().contains("NOPE"));
    let unauthorised = http
        .post(format!("{}/sales-orders", erp.url()))
        .header("Idempotency-Key", "k3")
        .json(&order("C"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);

    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].posts, 2);
    eventually(Duration::from_secs(10), "the order ships", || async {
        erp.shipments().await.unwrap().len() == 1
    })
    .await;
    let stock = erp.stock().await.unwrap();
    assert_eq!((stock[0].on_hand, stock[0].reserved), (8, 0));
    // Initial stock, reservation, shipment's stock change, and the shipment itself (+ the price).
    let client = db.client().await.unwrap();
    let kinds: Vec<String> = client
        .query("SELECT kind FROM tradewind_outbox ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        kinds,
        ["price", "inventory", "inventory", "inventory", "shipment"],
        "{kinds:?}"
    );
    let shipment: Value = client
        .query_one(
            "SELECT payload FROM tradewind_outbox WHERE kind = 'shipment'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shipment["data"]["correlationId"], "amazon-us:A");
    assert_eq!(shipment["data"]["lines"][0]["quantity"], 2);
}

/// An ERP that honours the key and nothing else: the same channel order created under a second key is a second
/// sales order; every write is recorded with what it did.
#[tokio::test]
async fn only_the_key_counts_and_every_request_is_recorded() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(db.url(), "127.0.0.1:0", Options::default())
        .await
        .unwrap();
    erp.add_item("TW-1", "Bolt", "1.50", "USD", &[("DAL", 10)])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for key in ["amazon-us:A", "amazon-us:A", "amazon-us:A:2:accepted"] {
        http.post(format!("{}/sales-orders", erp.url()))
            .bearer_auth("demo-only-token")
            .header("Idempotency-Key", key)
            .json(&order("A"))
            .send()
            .await
            .unwrap();
    }
    let orders = erp.sales_orders().await.unwrap();
    assert_eq!(orders.len(), 2, "a second key made a second sales order");
    assert!(orders.iter().all(|o| o.channel_order_id == "A"));
    let requests = erp.requests().await.unwrap();
    let seen: Vec<(&str, Option<&str>, u16, &str)> = requests
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.idempotency_key.as_deref(),
                r.status,
                r.outcome.split(' ').next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", Some("amazon-us:A"), 201, "created"),
            ("POST", Some("amazon-us:A"), 200, "repeated"),
            ("POST", Some("amazon-us:A:2:accepted"), 201, "created"),
        ]
    );
    assert_eq!(requests[0].body.as_ref().unwrap()["orderId"], "A");
}

/// Updates replace an open order's lines and reservations once per key; cancellations release the stock, a
/// cancellation before the order makes it cancelled on arrival, and a shipped order is neither updated nor
/// cancelled (409, recorded as refused).
#[tokio::test]
async fn updates_and_cancellations_follow_the_contract() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDatabase::create().await.unwrap();
    let erp = DemoErp::start(
        db.url(),
        "127.0.0.1:0",
        Options {
            ship_after: Duration::from_secs(3600),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    erp.add_item("TW-1", "Bolt", "1.50", "USD", &[("DAL", 10)])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, key: &str, body: Value| {
        http.request(method, format!("{}{path}", erp.url()))
            .bearer_auth("demo-only-token")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let reserved = || async { erp.stock().await.unwrap()[0].reserved };
    let created = send(
        reqwest::Method::POST,
        "/sales-orders".into(),
        "amazon-us:A",
        order("A"),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(reserved().await, 2);

    let mut changed = order("A");
    changed["lines"][0]["quantity"] = json!(5);
    let update = json!({"revision": 2, "changed": ["lines"], "order": changed});
    for _ in 0..2 {
        let answer = send(
            reqwest::Method::PATCH,
            "/sales-orders/amazon-us/A".into(),
            "amazon-us:A:update:2",
            update.clone(),
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(reserved().await, 5, "the new quantity is reserved, once");

    let cancel = |id: &str| {
        json!({"correlationId": format!("amazon-us:{id}"), "marketplace": "amazon-us", "orderId": id,
               "requestedBy": "Buyer", "reason": "changed my mind", "at": "2026-11-27T18:00:00Z"})
    };
    let cancelled = send(
        reqwest::Method::POST,
        "/sales-orders/amazon-us/A/cancellation".into(),
        "amazon-us:A:cancel",
        cancel("A"),
    )
    .await
    .unwrap();
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    assert_eq!(
        reserved().await,
        0,
        "the cancelled order's stock is released"
    );
    let late = send(
        reqwest::Method::PATCH,
        "/sales-orders/amazon-us/A".into(),
        "amazon-us:A:update:3",
        json!({"revision": 3, "changed": ["lines"], "order": order("A")}),
    )
    .await
    .unwrap();
    assert_eq!(late.status(), 409, "a cancelled sales order is final");

    // The buyer cancels B before the ERP has it: kept, and B is created cancelled, reserving nothing.
    let pending = send(
        reqwest::Method::POST,
        "/sales-orders/amazon-us/B/cancellation".into(),
        "amazon-us:B:cancel",
        cancel("B"),
    )
    .await
    .unwrap();
    assert_eq!(pending.status(), 202);
    send(
        reqwest::Method::POST,
        "/sales-orders".into(),
        "amazon-us:B",
        order("B"),
    )
    .await
    .unwrap();
    let unknown = send(
        reqwest::Method::PATCH,
        "/sales-orders/amazon-us/Z".into(),
        "amazon-us:Z:update:2",
        json!({"revision": 2, "changed": ["lines"], "order": order("Z")}),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    let statuses: Vec<(String, String)> = erp
        .sales_orders()
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.channel_order_id, o.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("A".into(), "cancelled".into()),
            ("B".into(), "cancelled".into())
        ]
    );
    assert_eq!(reserved().await, 0);
    let outcomes: Vec<String> = erp
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            r.outcome
                .split(':')
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "created",
            "updated",
            "repeated",
            "cancelled",
            "refused",
            "pending",
            "created",
            "refused"
        ]
    );
}
