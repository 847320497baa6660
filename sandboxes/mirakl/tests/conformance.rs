//! The Mirakl sandbox holds clients to the seller API: pagination limits, OF24's reset of the offer fields
//! not sent, and the order states OR21 and OR24 act on.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use rust_decimal::Decimal;
use sandbox_mirakl::{NewOrder, Settings};
use serde_json::{Value, json};

const KEY: &str = "the-key";

struct Api {
    base: String,
    client: reqwest::Client,
    sandbox: std::sync::Arc<sandbox_mirakl::Sandbox>,
    _running: sandbox::Running,
}

async fn start(mut settings: Settings) -> Api {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // These tests are not about call frequencies.
    settings.limits.clear();
    let (running, sandbox) = sandbox_mirakl::start(settings).await.unwrap();
    Api {
        base: running.url(),
        client: reqwest::Client::new(),
        sandbox,
        _running: running,
    }
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", KEY);
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

fn offer(price: f64, quantity: Option<i64>) -> Value {
    let mut offer = json!({"shop_sku": "SKU-1", "product_id": "SKU-1", "product_id_type": "SHOP_SKU",
        "state_code": "11", "update_delete": "update", "price": price});
    if let Some(quantity) = quantity {
        offer["quantity"] = json!(quantity);
    }
    json!({"offers": [offer]})
}

#[tokio::test]
async fn an_offer_update_without_quantity_resets_the_stock_and_is_a_deviation() {
    let api = start(Settings::new(KEY).strict()).await;
    api.sandbox.add_offers(["SKU-1"]);
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/api/offers",
            Some(offer(9.99, Some(7))),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(api.sandbox.offer("SKU-1").unwrap().quantity, 7);
    assert!(api.rules().is_empty(), "every field sent");
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/api/offers",
            Some(offer(8.99, None)),
        )
        .await;
    assert_eq!(status, 201, "Mirakl accepts it...");
    assert_eq!(
        api.sandbox.offer("SKU-1").unwrap().quantity,
        0,
        "...and sets the quantity not provided to 0"
    );
    assert_eq!(
        api.rules(),
        vec![sandbox_mirakl::conformance::OF24_ALL_FIELDS]
    );
}

#[tokio::test]
async fn the_known_deviation_of_issue_19_is_recorded_and_excused() {
    let api = start(Settings::new(KEY)).await;
    api.sandbox.add_offers(["SKU-1"]);
    api.send(
        reqwest::Method::POST,
        "/api/offers",
        Some(offer(9.99, Some(7))),
    )
    .await;
    api.send(
        reqwest::Method::POST,
        "/api/offers",
        Some(offer(8.99, None)),
    )
    .await;
    assert_eq!(api.sandbox.offer("SKU-1").unwrap().quantity, 7);
    let deviations = api.sandbox.controls.conformance.deviations();
    assert_eq!(deviations.len(), 1);
    assert_eq!(deviations[0].known.map(|k| k.issue), Some(19));
    assert!(
        sandbox::Strict::over([api.sandbox.controls.as_ref()])
            .check()
            .is_ok()
    );
}

#[tokio::test]
async fn pages_above_100_and_actions_on_orders_in_the_wrong_state_are_refused() {
    let api = start(Settings::new(KEY)).await;
    let (status, body) = api
        .send(reqwest::Method::GET, "/api/orders?max=101&offset=0", None)
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("query.max"),
        "{body}"
    );
    assert_eq!(api.rules(), vec!["mirakl.OR11.max"]);
    api.sandbox.controls.conformance.clear();

    api.sandbox
        .add_order(NewOrder::new("ORDER-1").line("SKU-1", 1, Decimal::new(999, 2)));
    let (status, _) = api
        .send(reqwest::Method::PUT, "/api/orders/ORDER-1/ship", None)
        .await;
    assert_eq!(status, 400, "OR24 needs an order in SHIPPING");
    let line = api.sandbox.order("ORDER-1").unwrap().lines[0]
        .order_line_id
        .clone();
    let accept = json!({"order_lines": [{"accepted": true, "id": line}]});
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/orders/ORDER-1/accept",
            Some(accept.clone()),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "/api/orders/ORDER-1/accept",
            Some(accept),
        )
        .await;
    assert_eq!(status, 400, "OR21 needs an order in WAITING_ACCEPTANCE");
    assert!(api.rules().is_empty(), "refusals, not deviations");
}
