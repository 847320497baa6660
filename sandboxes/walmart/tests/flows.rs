//! The Walmart sandbox's order, feed, return and report routes over real HTTP: paths, published limits, errors,
//! and answers validated against Walmart's OpenAPI specifications in `specs/walmart/`.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::Path;
use std::time::Duration;

use sandbox_walmart::{Credentials, OrderSpec, WalmartSandbox};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A validator for the schema at `pointer` (a JSON pointer into the specification): the whole specification
/// is the root, so its `$ref`s to `#/components/...` resolve.
fn spec_validator(file: &str, pointer: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../specs/walmart")
        .join(file);
    let mut spec: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(spec.pointer(pointer).is_some(), "{file} has {pointer}");
    // `{` and `}` of path templates are not allowed in a URI fragment.
    spec["$ref"] = Value::from(format!(
        "#{}",
        pointer.replace('{', "%7B").replace('}', "%7D")
    ));
    jsonschema::validator_for(&spec).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} is invalid: {errors:?}");
}

struct Api {
    /// Fails the test on any deviation from the specification, of these requests or the sandbox's answers.
    _strict: sandbox::Strict,
    sandbox: WalmartSandbox,
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn start(options: sandbox_walmart::Options) -> Self {
        let sandbox = sandbox_walmart::start_with("127.0.0.1:0", options)
            .await
            .unwrap();
        let client = client();
        let defaults = Credentials::default();
        let answer: Value = client
            .post(sandbox.token_url())
            .basic_auth(&defaults.client_id, Some(&defaults.client_secret))
            .header("WM_SVC.NAME", "test")
            .header("WM_QOS.CORRELATION_ID", uuid::Uuid::new_v4().to_string())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = answer["access_token"].as_str().unwrap().to_string();
        Self {
            _strict: sandbox::Strict::over([sandbox.controls()]),
            sandbox,
            client,
            token,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.sandbox.url()))
            .header("WM_SEC.ACCESS_TOKEN", &self.token)
            .header("WM_SVC.NAME", "test")
            .header("WM_QOS.CORRELATION_ID", uuid::Uuid::new_v4().to_string())
    }

    /// The deviations this test sent on purpose, in order, by location; cleared so the guard passes.
    fn expect_deviations(&self, locations: &[&str]) {
        let conformance = &self.sandbox.controls().conformance;
        let found: Vec<String> = conformance
            .deviations()
            .iter()
            .flat_map(|d| d.violations.iter().map(|v| v.location.clone()))
            .collect();
        assert_eq!(found, locations);
        conformance.clear();
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(reqwest::Method::POST, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn shipment(line: &str, carrier: &str) -> Value {
    json!({"orderShipment": {"orderLines": {"orderLine": [{
        "lineNumber": line, "sellerOrderId": "SO-1",
        "orderLineStatuses": {"orderLineStatus": [{
            "status": "Shipped",
            "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
            "trackingInfo": {"shipDateTime": 1_800_000_000_000_i64, "carrierName": {"carrier": carrier},
                "methodCode": "Standard", "trackingNumber": "1Z999"}}]}}]}}})
}

#[tokio::test]
async fn orders_are_paged_by_200_and_must_be_acknowledged_before_shipping() {
    let api = Api::start(Default::default()).await;
    api.sandbox.seed_items(["WM-1", "WM-2"]);
    // Generated over HTTP, like the local mode does.
    let placed: Value = api
        .client
        .post(format!("{}/_sandbox/orders", api.sandbox.url()))
        .json(&json!({"count": 250}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(placed["purchaseOrderIds"].as_array().unwrap().len(), 250);

    let (status, body) = api.get("/v3/orders?limit=201").await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["field"], "limit");

    let list = spec_validator(
        "walmart-marketplace-orders.yml",
        "/paths/~1v3~1orders/get/responses/200/content/application~1json/schema",
    );
    let (status, first) = api
        .get("/v3/orders?limit=200&lastModifiedStartDate=2020-01-01T00:00:00.000Z")
        .await;
    assert_eq!(status, 200);
    assert_valid(&list, &first, "a getAllOrders page");
    assert_eq!(
        first["list"]["elements"]["order"].as_array().unwrap().len(),
        200
    );
    let cursor = first["list"]["meta"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, second) = api.get(&format!("/v3/orders{cursor}")).await;
    assert_eq!(
        second["list"]["elements"]["order"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert!(second["list"]["meta"].get("nextCursor").is_none());

    let id = api.sandbox.place(&OrderSpec {
        lines: vec![("WM-1".into(), 1, "19.99".into())],
        shipping: "4.50".into(),
        ..OrderSpec::default()
    });
    let (status, body) = api
        .post(
            &format!("/v3/orders/{id}/shipping"),
            Some(shipment("1", "UPS")),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("must be acknowledged before it is shipped"),
        "{body}"
    );
    let orders = "walmart-marketplace-orders.yml";
    let (status, answer) = api
        .post(&format!("/v3/orders/{id}/acknowledge"), None)
        .await;
    assert_eq!(status, 200);
    assert_valid(
        &spec_validator(
            orders,
            "/paths/~1v3~1orders~1{purchaseOrderId}~1acknowledge/post/responses/200/content/application~1json/schema",
        ),
        &answer,
        "an acknowledge answer",
    );
    let (status, body) = api
        .post(
            &format!("/v3/orders/{id}/shipping"),
            Some(shipment("1", "LaserShip")),
        )
        .await;
    assert_eq!(status, 400);
    // The specification's carrier enum refuses it before the sandbox reads the order.
    assert_eq!(
        body["errors"][0]["field"],
        "orderShipment/orderLines/orderLine/0/orderLineStatuses/orderLineStatus/0/trackingInfo/carrierName/carrier"
    );
    let (status, answer) = api
        .post(
            &format!("/v3/orders/{id}/shipping"),
            Some(shipment("1", "UPS")),
        )
        .await;
    assert_eq!(status, 200);
    assert_valid(
        &spec_validator(
            orders,
            "/paths/~1v3~1orders~1{purchaseOrderId}~1shipping/post/responses/200/content/application~1json/schema",
        ),
        &answer,
        "a shipping answer",
    );
    let (status, answer) = api.get(&format!("/v3/orders/{id}")).await;
    assert_eq!(status, 200);
    assert_valid(
        &spec_validator(
            orders,
            "/paths/~1v3~1orders~1{purchaseOrderId}/get/responses/200/content/application~1json/schema",
        ),
        &answer,
        "a getAnOrder answer",
    );
    let state: Value = api
        .client
        .get(format!("{}/_sandbox/state", api.sandbox.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["orders"][&id]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"]
            [0]["status"],
        "Shipped"
    );
    let calls = api
        .sandbox
        .controls()
        .recorder
        .calls(Some("shippingUpdates"));
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![400, 400, 200]
    );
    api.expect_deviations(&[
        "query.limit",
        "body/orderShipment/orderLines/orderLine/0/orderLineStatuses/orderLineStatus/0/trackingInfo/carrierName/carrier",
    ]);
}

fn feed_body(file: &Value) -> (String, Vec<u8>) {
    let boundary = "test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.json\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file.to_string().as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn inventory_feeds_keep_the_published_limit_and_report_each_item() {
    let api = Api::start(sandbox_walmart::Options {
        feed_processing: Some(Duration::from_millis(50)),
        ..Default::default()
    })
    .await;
    api.sandbox.seed_items(["WM-1"]);
    let file = json!({"InventoryHeader": {"version": "1.4"}, "Inventory": [
        {"sku": "WM-1", "quantity": {"unit": "EACH", "amount": 4}},
        {"sku": "NOPE", "quantity": {"unit": "EACH", "amount": 1}}]});
    let (content_type, body) = feed_body(&file);
    let mut feed_ids = Vec::new();
    for _ in 0..11 {
        let response = api
            .request(reqwest::Method::POST, "/v3/feeds?feedType=inventory")
            .header("content-type", &content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let answer: Value = response.json().await.unwrap();
        if status == 200 {
            feed_ids.push(answer["feedId"].as_str().unwrap().to_string());
        } else {
            // Walmart's published limit: 10 inventory feeds an hour; the next token is 6 minutes away.
            assert_eq!(status, 429);
            assert_eq!(retry_after.as_deref(), Some("360"));
        }
    }
    assert_eq!(feed_ids.len(), 10);

    let status_schema = spec_validator(
        "walmart-marketplace-feeds.yml",
        "/paths/~1v3~1feeds~1{feedId}/get/responses/200/content/application~1json/schema",
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, answer) = api
        .get(&format!("/v3/feeds/{}?includeDetails=true", feed_ids[0]))
        .await;
    assert_eq!(status, 200);
    assert_valid(&status_schema, &answer, "a feed status");
    assert_eq!(answer["feedStatus"], "PROCESSED");
    assert_eq!(answer["itemsSucceeded"], 1);
    let refused = &answer["itemDetails"]["itemIngestionStatus"][1];
    assert_eq!(refused["ingestionStatus"], "DATA_ERROR");
    assert_eq!(
        refused["ingestionErrors"]["ingestionError"][0]["description"],
        "SKU NOPE is not found in the seller's catalogue"
    );
    assert_eq!(api.sandbox.snapshot().items["WM-1"].quantity, 4);
}

#[tokio::test]
async fn returns_and_reconciliation_reports_answer_in_walmarts_shape() {
    let api = Api::start(Default::default()).await;
    api.sandbox.seed_items(["WM-1"]);
    let id = api.sandbox.place_order("WM-1", 2, "10.00");
    let ret = api.sandbox.add_return(&id, "1", 1, "10.83").unwrap();
    let returns_schema = spec_validator(
        "walmart-marketplace-returns.yml",
        "/paths/~1v3~1returns/get/responses/200/content/application~1json/schema",
    );
    let (status, answer) = api
        .get("/v3/returns?returnLastModifiedStartDate=2020-01-01T00:00:00Z&limit=10")
        .await;
    assert_eq!(status, 200);
    assert_valid(&returns_schema, &answer, "a getReturns page");
    assert_eq!(answer["returnOrders"][0]["returnOrderId"], ret.as_str());

    api.sandbox.generate_recon_report("11272026");
    let (_, dates) = api.get("/v3/report/reconreport/availableReconFiles").await;
    assert_eq!(dates["availableApReportDates"], json!(["11272026"]));
    let recon_schema = spec_validator(
        "walmart-marketplace-reports.yml",
        "/paths/~1v3~1report~1reconreport~1reconFileJson/get/responses/200/content/application~1json/schema",
    );
    // The specification's schema says each column of a row is an object, while its own example (and Walmart)
    // give strings: the sandbox follows the example, so the columns are checked to be strings.
    let (status, page) = api
        .get("/v3/report/reconreport/reconFileJson?reportDate=11272026&offset=0&noOfRecords=2")
        .await;
    assert_eq!(status, 200);
    let mut envelope = page.clone();
    for row in envelope["reportData"].as_array_mut().unwrap() {
        for (column, value) in row.as_object_mut().unwrap().iter_mut() {
            assert!(value.is_string(), "column {column} is a string");
            *value = json!({});
        }
    }
    assert_valid(&recon_schema, &envelope, "a reconFileJson page");
    assert_eq!(page["reportData"].as_array().unwrap().len(), 2);
    let (_, rest) = api
        .get("/v3/report/reconreport/reconFileJson?reportDate=11272026&offset=2&noOfRecords=100")
        .await;
    // Product price, tax, commission, the refund, and the summary: 20.00 + 1.65 - 3.00 - 10.83.
    let rows = rest["reportData"].as_array().unwrap();
    let summary = rows.last().unwrap();
    assert_eq!(summary["Transaction Type"], "PaymentSummary");
    assert_eq!(summary["Total Payable"], "7.82");
    let (status, body) = api
        .get("/v3/report/reconreport/reconFileJson?reportDate=01012020&offset=0&noOfRecords=1")
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["errors"][0]["code"],
        "CONTENT_NOT_FOUND.GMP_REPORT_API"
    );
}
