//! The Walmart sandbox over real HTTP: the token endpoint, required headers, per-SKU updates, throttling.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::collections::HashMap;

use crds::channel::{LimitUnit, PublishedLimit};
use sandbox_walmart::{Credentials, Options, WalmartSandbox};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn token(
    sandbox: &WalmartSandbox,
    client: &reqwest::Client,
    secret: &str,
) -> reqwest::Response {
    client
        .post(sandbox.token_url())
        .basic_auth(&Credentials::default().client_id, Some(secret))
        .header("WM_SVC.NAME", "test")
        .header("WM_QOS.CORRELATION_ID", guid())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// A fresh `WM_QOS.CORRELATION_ID`, as Walmart asks for each call.
fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn put_inventory(
    sandbox: &WalmartSandbox,
    client: &reqwest::Client,
    token: &str,
    sku: &str,
    amount: i64,
    correlation_id: &str,
) -> reqwest::Response {
    client
        .put(format!("{}/v3/inventory", sandbox.url()))
        .query(&[("sku", sku)])
        .header("WM_SEC.ACCESS_TOKEN", token)
        .header("WM_SVC.NAME", "test")
        .header("WM_QOS.CORRELATION_ID", correlation_id)
        .json(&json!({"sku": sku, "quantity": {"unit": "EACH", "amount": amount}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_endpoint_checks_client_credentials_and_headers() {
    let sandbox = sandbox_walmart::start("127.0.0.1:0").await.unwrap();
    let client = client();
    let refused = token(&sandbox, &client, "wrong").await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "INVALID_CLIENT.GMP_GATEWAY_API");

    let no_service = client
        .post(sandbox.token_url())
        .basic_auth(
            &Credentials::default().client_id,
            Some(&Credentials::default().client_secret),
        )
        .header("WM_QOS.CORRELATION_ID", guid())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_service.status(), 400);
    let body: Value = no_service.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "WM_SVC.NAME");

    let granted = token(&sandbox, &client, &Credentials::default().client_secret).await;
    assert_eq!(granted.status(), 200);
    let body: Value = granted.json().await.unwrap();
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(sandbox.snapshot().tokens_issued, 1);
}

#[tokio::test]
async fn inventory_needs_a_token_and_a_known_sku_and_is_throttled_with_retry_after() {
    let limit = PublishedLimit {
        requests: 1,
        per_millis: 5_000,
        burst: 2,
        unit: LimitUnit::Requests,
        source: "test",
    };
    let sandbox = sandbox_walmart::start_with(
        "127.0.0.1:0",
        Options {
            limits: HashMap::from([("updateInventoryForAnItem".to_string(), limit)]),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    sandbox.seed_items(["A-1"]);
    let client = client();

    let anonymous = put_inventory(&sandbox, &client, "forged", "A-1", 3, &guid()).await;
    assert_eq!(anonymous.status(), 401);

    let granted: Value = token(&sandbox, &client, &Credentials::default().client_secret)
        .await
        .json()
        .await
        .unwrap();
    let access = granted["access_token"].as_str().unwrap().to_string();

    let correlation = guid();
    let ok = put_inventory(&sandbox, &client, &access, "A-1", 3, &correlation).await;
    assert_eq!(ok.status(), 200);
    let unknown = put_inventory(&sandbox, &client, &access, "B-9", 3, &guid()).await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["description"],
        "Item not found for sku B-9"
    );

    // Burst 2 is spent: the third call is throttled as Walmart does.
    let throttled = put_inventory(&sandbox, &client, &access, "A-1", 4, &guid()).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "5");
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["code"],
        "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"
    );

    let state: Value = client
        .get(format!("{}/_sandbox/state", sandbox.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["items"]["A-1"]["quantity"], 3);
    assert_eq!(
        state["items"]["A-1"]["inventoryCorrelationId"],
        correlation.as_str()
    );
    assert_eq!(
        sandbox
            .controls()
            .recorder
            .count("updateInventoryForAnItem", 429),
        1
    );
}
