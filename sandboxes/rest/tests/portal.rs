//! The sandbox over HTTP: configured endpoints, the credential header, batch rules, paged orders, rate limit.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use crds::v1alpha1::RestPortal;
use sandbox_rest::{Portal, start};
use serde_json::{Value, json};

fn portal() -> Portal {
    let rest: RestPortal = serde_json::from_value(json!({
        "inventory": {"path": "/api/v2/stock", "method": "PUT"},
        "batchSize": 2,
        "auth": {"header": "X-Api-Key", "secretKey": "api_key"},
        "orders": {"poll": {"path": "/api/v2/orders", "cursorParam": "after"}}
    }))
    .unwrap();
    Portal::from_rest(&rest, Some("k-1"), None)
}

fn client() -> reqwest::Client {
    adapter_runtime::connectors::http_client(std::time::Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn batches_go_to_the_configured_endpoint_with_the_credential() {
    let sandbox = start("127.0.0.1:0", portal()).await.unwrap();
    let url = format!("{}/api/v2/stock", sandbox.url());
    let http = client();
    let body = json!({"items": [
        {"key": "A", "correlationId": "c-A", "fields": {"articleNumber": "A", "quantityAvailable": 3}},
        {"key": "B", "correlationId": "c-B", "fields": {"articleNumber": "B", "quantityAvailable": -1}}
    ]});
    let unauthorised = http.put(&url).json(&body).send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    let wrong_method = http
        .post(&url)
        .header("x-api-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let answer: Value = http
        .put(&url)
        .header("x-api-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"accepted": 1, "rejected": [{"index": 1, "status": 422, "message": "quantityAvailable must not be negative (value: -1)"}]})
    );
    let too_many = json!({"items": [
        {"key": "A", "fields": {}}, {"key": "B", "fields": {}}, {"key": "C", "fields": {}}
    ]});
    let response = http
        .put(&url)
        .header("x-api-key", "k-1")
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let response = http
        .put(&url)
        .header("x-api-key", "k-1")
        .body("[1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let state = sandbox.snapshot();
    assert_eq!(state.items["inventory"]["A"]["quantityAvailable"], 3);
    assert_eq!(state.batches["inventory"], 1);
    assert_eq!(
        sandbox.controls().recorder.calls(Some("inventory")).len(),
        4,
        "the call with the wrong method is recorded as unknown"
    );
}

#[tokio::test]
async fn orders_are_paged_by_the_cursor_parameter() {
    let mut portal = portal();
    portal.page_size = 2;
    let sandbox = start("127.0.0.1:0", portal).await.unwrap();
    for _ in 0..3 {
        sandbox.place_order(&[("TW-1001", 2, "9.90")]);
    }
    let http = client();
    let url = format!("{}/api/v2/orders", sandbox.url());
    let get = |query: Option<&'static str>| {
        let mut request = http.get(&url).header("x-api-key", "k-1");
        if let Some(q) = query {
            request = request.query(&[("after", q)]);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let first = get(None).await;
    assert_eq!(first["orders"].as_array().unwrap().len(), 2);
    assert_eq!(first["nextCursor"], "2");
    assert_eq!(first["more"], true);
    let second = get(Some("2")).await;
    assert_eq!(second["orders"][0]["orderId"], "PO-100003");
    assert_eq!(second["more"], false);
    let empty = get(Some("3")).await;
    assert_eq!(empty["orders"], json!([]));
    assert_eq!(empty["nextCursor"], "3");
}

#[tokio::test]
async fn a_rate_limited_endpoint_answers_429_with_retry_after() {
    let portal = Portal {
        limit: Some(crds::channel::PublishedLimit {
            requests: 1,
            per_millis: 2_000,
            burst: 1,
            unit: crds::channel::LimitUnit::Requests,
            source: "test",
        }),
        ..Portal::default()
    };
    let sandbox = start("127.0.0.1:0", portal).await.unwrap();
    let http = client();
    let url = format!("{}/price", sandbox.url());
    let body = json!({"items": [{"key": "A", "fields": {"price": {"amount": "1.00"}}}]});
    assert_eq!(
        http.post(&url).json(&body).send().await.unwrap().status(),
        200
    );
    let throttled = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "2");
}

#[tokio::test]
async fn generated_orders_are_paged_and_add_up() {
    let sandbox = start("127.0.0.1:0", Portal::default()).await.unwrap();
    let http = client();
    let generated: Value = http
        .post(format!("{}/_sandbox/orders/generate", sandbox.url()))
        .json(&json!({"count": 60, "skus": ["TW-1001", "TW-1002"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(generated["orderIds"].as_array().unwrap().len(), 60);
    let page: Value = http
        .get(format!("{}/orders", sandbox.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["orders"].as_array().unwrap().len(), 50);
    assert_eq!(page["more"], true);
    for order in page["orders"].as_array().unwrap() {
        let amount = |v: &Value| {
            v.as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        };
        let totals = &order["totals"];
        assert_eq!(
            amount(&totals["net"]) + amount(&totals["vat"]),
            amount(&totals["gross"])
        );
    }
}
