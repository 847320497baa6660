//! The demo ERP against a real PostgreSQL: an order posted twice is one sales order, stock is reserved and
//! shipped, and every change leaves its outbox row.

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
    let first = post("amazon-us:A:1:accepted", order("A")).await.unwrap();
    assert_eq!(first.status(), 201);
    let number = first.json::<Value>().await.unwrap()["number"].clone();
    let again = post("amazon-us:A:1:accepted", order("A")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["number"], number);
    let revision = post("amazon-us:A:2:accepted", order("A")).await.unwrap();
    assert_eq!(revision.json::<Value>().await.unwrap()["number"], number);

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
    assert_eq!(orders[0].posts, 3);
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
