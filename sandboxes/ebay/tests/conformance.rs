//! The eBay sandbox holds clients to the Sell API files and their prose: limits, the `shippedDate` format,
//! carrier and tracking together, and 250 revisions of a listing per calendar day.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use rust_decimal::Decimal;
use sandbox_ebay::{NewOrder, Settings};
use serde_json::{Value, json};

struct Api {
    base: String,
    client: reqwest::Client,
    token: String,
    sandbox: std::sync::Arc<sandbox_ebay::Sandbox>,
    _running: sandbox::Running,
}

async fn start() -> Api {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (running, sandbox) =
        sandbox_ebay::start(Settings::new("client-1", "secret-1", "refresh-1"))
            .await
            .unwrap();
    let base = running.url();
    let client = reqwest::Client::new();
    let answer: Value = client
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
    Api {
        base,
        client,
        token: answer["access_token"].as_str().unwrap().to_string(),
        sandbox,
        _running: running,
    }
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn rules(&self) -> Vec<String> {
        self.sandbox
            .controls
            .conformance
            .deviations()
            .iter()
            .flat_map(|d| d.violations.iter().map(|v| v.rule.clone()))
            .collect()
    }
}

#[tokio::test]
async fn prose_limits_and_the_shipped_date_format_are_enforced() {
    let api = start().await;
    let (status, body) = api
        .send(
            reqwest::Method::GET,
            "/sell/fulfillment/v1/order?limit=201",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["errorId"], 2004);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("more than 200, the call fails"),
        "{body}"
    );
    api.sandbox
        .add_order(NewOrder::new("12-00001-00001").line("SKU-1", 1, Decimal::new(999, 2)));
    let line = api.sandbox.account().orders[0].lines[0]
        .line_item_id
        .clone();
    let shipment = |date: &str| {
        json!({"lineItems": [{"lineItemId": line, "quantity": 1}], "shippingCarrierCode": "USPS",
            "trackingNumber": "9400", "shippedDate": date})
    };
    let path = "/sell/fulfillment/v1/order/12-00001-00001/shipping_fulfillment";
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            path,
            Some(shipment("2026-12-07T21:27:02.048366Z")),
        )
        .await;
    assert_eq!(status, 400, "six fractional digits are not [ss].[sss]");
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            path,
            Some(shipment("2026-12-07T21:27:02.048Z")),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        api.rules(),
        vec![
            "ebay.getOrders.limit",
            "ebay.createShippingFulfillment.shippedDate"
        ]
    );
}

#[tokio::test]
async fn a_tracking_number_without_its_carrier_is_a_deviation() {
    let api = start().await;
    api.sandbox
        .add_order(NewOrder::new("12-00002-00001").line("SKU-1", 1, Decimal::new(999, 2)));
    let line = api.sandbox.account().orders[0].lines[0]
        .line_item_id
        .clone();
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/sell/fulfillment/v1/order/12-00002-00001/shipping_fulfillment",
            Some(json!({"lineItems": [{"lineItemId": line, "quantity": 1}], "trackingNumber": "9400"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        api.rules(),
        vec![sandbox_ebay::conformance::CARRIER_WITH_TRACKING]
    );
}

#[tokio::test]
async fn a_listing_takes_250_revisions_a_day_then_is_refused() {
    let api = start().await;
    api.sandbox.add_sku("SKU-1", 0);
    let update = |quantity: i64| json!({"requests": [{"sku": "SKU-1", "shipToLocationAvailability": {"quantity": quantity}}]});
    let path = "/sell/inventory/v1/bulk_update_price_quantity";
    for quantity in 1..=250 {
        let (status, body) = api
            .send(reqwest::Method::POST, path, Some(update(quantity)))
            .await;
        assert_eq!(status, 200, "revision {quantity}: {body}");
    }
    let (status, body) = api
        .send(reqwest::Method::POST, path, Some(update(251)))
        .await;
    assert_eq!(status, 207);
    assert_eq!(body["responses"][0]["errors"][0]["errorId"], 25002);
    assert_eq!(
        api.sandbox.listing("SKU-1").unwrap().quantity,
        250,
        "the 251st revision of the day is not applied"
    );
    assert!(api.rules().is_empty(), "a refusal, not a deviation");
}
