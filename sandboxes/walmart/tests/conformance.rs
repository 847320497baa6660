//! The sandbox holds clients to Walmart's specification: a deviating request gets Walmart's error body and is
//! recorded, and the test guard reports it.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use sandbox_walmart::{Credentials, WalmartSandbox};
use serde_json::Value;

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn token(sandbox: &WalmartSandbox, client: &reqwest::Client) -> String {
    let defaults = Credentials::default();
    let answer: Value = client
        .post(sandbox.token_url())
        .basic_auth(&defaults.client_id, Some(&defaults.client_secret))
        .header("WM_SVC.NAME", "test")
        .header("WM_QOS.CORRELATION_ID", guid())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

async fn get(
    sandbox: &WalmartSandbox,
    client: &reqwest::Client,
    token: &str,
    path_and_query: &str,
    correlation: &str,
) -> (u16, Value) {
    let response = client
        .get(format!("{}{path_and_query}", sandbox.url()))
        .header("WM_SEC.ACCESS_TOKEN", token)
        .header("WM_SVC.NAME", "test")
        .header("WM_QOS.CORRELATION_ID", correlation)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn a_feed_status_page_above_50_items_is_refused_quoting_the_specification() {
    let sandbox = sandbox_walmart::start("127.0.0.1:0").await.unwrap();
    let strict = sandbox::Strict::over([sandbox.controls()]);
    let client = client();
    let token = token(&sandbox, &client).await;
    let (status, body) = get(
        &sandbox,
        &client,
        &token,
        "/v3/feeds/F-1?includeDetails=true&offset=0&limit=1000",
        &guid(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["code"],
        "INVALID_REQUEST_PARAM.GMP_GATEWAY_API"
    );
    assert_eq!(body["errors"][0]["field"], "limit");
    let description = body["errors"][0]["description"].as_str().unwrap();
    assert!(
        description.contains("It cannot be more than 50 entities."),
        "{description}"
    );
    let report = strict.check().unwrap_err();
    assert!(
        report.contains("walmart.getFeedItemStatus.limit"),
        "{report}"
    );
    assert!(report.contains("client bug"), "{report}");
    sandbox.controls().conformance.clear();

    let (status, _) = get(
        &sandbox,
        &client,
        &token,
        "/v3/feeds/F-1?includeDetails=true&offset=0&limit=50",
        &guid(),
    )
    .await;
    assert_eq!(
        status, 404,
        "a valid request reaches the sandbox (no such feed)"
    );
    assert!(strict.check().is_ok());
}

#[tokio::test]
async fn a_correlation_id_that_is_not_a_fresh_guid_is_a_deviation() {
    let sandbox = sandbox_walmart::start("127.0.0.1:0").await.unwrap();
    let client = client();
    let token = token(&sandbox, &client).await;

    let (status, body) = get(&sandbox, &client, &token, "/v3/returns", "order-77:ack").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "WM_QOS.CORRELATION_ID");

    let reused = guid();
    let (first, _) = get(&sandbox, &client, &token, "/v3/returns", &reused).await;
    let (second, _) = get(&sandbox, &client, &token, "/v3/returns", &reused).await;
    assert_eq!(
        (first, second),
        (200, 200),
        "a reused id is served, and recorded"
    );
    let rules: Vec<String> = sandbox
        .controls()
        .conformance
        .deviations()
        .iter()
        .flat_map(|d| d.violations.iter().map(|v| v.rule.clone()))
        .collect();
    assert_eq!(
        rules,
        vec![
            "walmart.correlation-id.guid",
            sandbox_walmart::conformance::UNIQUE_CORRELATION_ID
        ]
    );
}

#[tokio::test]
async fn the_json_reconciliation_report_of_a_legacy_only_date_is_a_deviation() {
    let sandbox = sandbox_walmart::start("127.0.0.1:0").await.unwrap();
    sandbox.add_legacy_recon_report("01012026");
    sandbox.add_recon_report("01082026", vec![]);
    let client = client();
    let token = token(&sandbox, &client).await;

    let dates = |body: Value| body["availableApReportDates"].clone();
    let (_, legacy) = get(
        &sandbox,
        &client,
        &token,
        "/v3/report/reconreport/availableReconFiles",
        &guid(),
    )
    .await;
    assert_eq!(dates(legacy), serde_json::json!(["01012026", "01082026"]));
    let (_, v1) = get(
        &sandbox,
        &client,
        &token,
        "/v3/report/reconreport/availableReconFiles?reportVersion=v1",
        &guid(),
    )
    .await;
    assert_eq!(dates(v1), serde_json::json!(["01082026"]));
    assert!(sandbox.controls().conformance.deviations().is_empty());

    let (status, _) = get(
        &sandbox,
        &client,
        &token,
        "/v3/report/reconreport/reconFileJson?reportDate=01012026&offset=0&noOfRecords=1000",
        &guid(),
    )
    .await;
    assert_eq!(status, 404);
    let deviations = sandbox.controls().conformance.deviations();
    assert_eq!(deviations.len(), 1);
    assert_eq!(
        deviations[0].violations[0].rule,
        sandbox_walmart::conformance::RECON_JSON_V1_ONLY
    );
}
