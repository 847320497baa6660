use axum::http::{HeaderMap, HeaderValue};
use serde_json::json;

use super::*;

const FEEDS: &str = r#"
openapi: 3.0.1
servers:
  - url: https://marketplace.example.com
paths:
  "/v3/feeds/{feedId}":
    get:
      operationId: getFeedItemStatus
      parameters:
        - name: feedId
          in: path
          required: true
          schema: {type: string}
        - name: limit
          in: query
          description: The number of entities to be returned. It cannot be more than 50 entities.
          schema: {type: string, default: '50'}
        - name: since
          in: query
          schema: {type: string, format: date-time}
        - name: WM_QOS.CORRELATION_ID
          in: header
          required: true
          schema: {type: string}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Status'
  "/v3/report/dates":
    get:
      operationId: legacyDates
      responses: {'200': {description: ok}}
  "/v3/report/dates?reportVersion=v1":
    get:
      operationId: v1Dates
      responses: {'200': {description: ok}}
  "/v3/price":
    put:
      operationId: updatePrice
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [sku]
              properties:
                sku: {type: string, maxLength: 5}
                note: {type: string, nullable: true}
      responses:
        '200': {description: ok}
components:
  schemas:
    Status:
      type: object
      required: [feedId]
      properties:
        feedId: {type: string}
        itemsReceived: {type: integer, minimum: 0}
"#;

const ORDERS: &str = r##"{
  "swagger": "2.0",
  "basePath": "/",
  "paths": {
    "/orders/v0/orders": {
      "get": {
        "operationId": "getOrders",
        "parameters": [
          {"name": "MarketplaceIds", "in": "query", "required": true, "type": "array",
           "items": {"type": "string"}, "maxItems": 2, "collectionFormat": "csv"},
          {"name": "MaxResultsPerPage", "in": "query", "type": "integer", "maximum": 100}
        ],
        "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/List"}}}
      }
    },
    "/orders/v0/orders/{orderId}/shipment": {
      "post": {
        "operationId": "updateShipment",
        "parameters": [
          {"name": "orderId", "in": "path", "required": true, "type": "string"},
          {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Shipment"}}
        ],
        "responses": {"204": {"description": "done"}}
      }
    }
  },
  "definitions": {
    "List": {"type": "object", "properties": {"orders": {"type": "array"}}, "required": ["orders"]},
    "Shipment": {"type": "object", "properties": {"shipDate": {"type": "string", "format": "date-time"},
      "status": {"type": "string", "enum": ["Shipped"]}}, "required": ["status"]}
  }
}"##;

fn spec(rules: Vec<ProseRule>) -> ApiSpec {
    ApiSpec::load(
        &[
            SpecFile {
                path: "test/feeds.yml",
                text: FEEDS,
            },
            SpecFile {
                path: "test/orders.json",
                text: ORDERS,
            },
        ],
        rules,
        &[],
    )
    .unwrap()
}

fn limit_rule() -> ProseRule {
    ProseRule {
        id: "test.limit",
        operation: "getFeedItemStatus",
        target: Target::Query("limit", Scalar::Integer),
        schema: json!({"maximum": 50}),
        file: "test/feeds.yml",
        quote: "It cannot be more than 50 entities.",
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn check<'s>(
    spec: &'s ApiSpec,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Checked<'s> {
    spec.check_request(&RequestParts {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn locations(checked: &Checked<'_>) -> Vec<String> {
    checked
        .violations
        .iter()
        .map(|v| v.location.clone())
        .collect()
}

#[test]
fn a_request_as_specified_passes() {
    let spec = spec(vec![limit_rule()]);
    let h = headers(&[("WM_QOS.CORRELATION_ID", "b5b2")]);
    let checked = check(
        &spec,
        "GET",
        "/v3/feeds/F1",
        Some("limit=50&since=2026-01-01T00:00:00Z"),
        &h,
        b"",
    );
    assert_eq!(
        checked.operation.map(|o| o.id.as_str()),
        Some("getFeedItemStatus")
    );
    assert!(checked.violations.is_empty(), "{:?}", checked.violations);
}

#[test]
fn parameters_are_checked_against_their_schemas_and_prose_rules() {
    let spec = spec(vec![limit_rule()]);
    let checked = check(
        &spec,
        "GET",
        "/v3/feeds/F1",
        Some("limit=1000&since=yesterday&offset=3"),
        &HeaderMap::new(),
        b"",
    );
    let found = locations(&checked);
    assert!(found.contains(&"query.limit".to_string()), "{found:?}");
    assert!(found.contains(&"query.since".to_string()), "{found:?}");
    assert!(
        found.contains(&"query.offset".to_string()),
        "unknown parameter: {found:?}"
    );
    assert!(
        found.contains(&"header.WM_QOS.CORRELATION_ID".to_string()),
        "required header: {found:?}"
    );
    let limit = checked
        .violations
        .iter()
        .find(|v| v.location == "query.limit")
        .unwrap();
    assert_eq!(limit.rule, "test.limit");
    assert!(
        limit
            .message
            .contains("It cannot be more than 50 entities."),
        "{}",
        limit.message
    );
    assert_eq!(checked.status, 400);
}

#[test]
fn a_prose_rule_must_quote_its_file() {
    let mut rule = limit_rule();
    rule.quote = "It cannot be more than 500 entities.";
    let error = ApiSpec::load(
        &[SpecFile {
            path: "test/feeds.yml",
            text: FEEDS,
        }],
        vec![rule],
        &[],
    )
    .unwrap_err();
    assert!(error.contains("is not in test/feeds.yml"), "{error}");
}

#[test]
fn query_keys_in_paths_tell_operations_apart() {
    let spec = spec(vec![]);
    let h = HeaderMap::new();
    let legacy = check(&spec, "GET", "/v3/report/dates", None, &h, b"");
    assert_eq!(legacy.operation.map(|o| o.id.as_str()), Some("legacyDates"));
    let v1 = check(
        &spec,
        "GET",
        "/v3/report/dates",
        Some("reportVersion=v1"),
        &h,
        b"",
    );
    assert_eq!(v1.operation.map(|o| o.id.as_str()), Some("v1Dates"));
    assert!(v1.violations.is_empty(), "{:?}", v1.violations);
}

#[test]
fn unknown_paths_and_methods_are_refused() {
    let spec = spec(vec![]);
    let h = HeaderMap::new();
    assert_eq!(
        check(&spec, "GET", "/v3/nothing", None, &h, b"").status,
        404
    );
    let wrong = check(&spec, "DELETE", "/v3/price", None, &h, b"");
    assert_eq!(wrong.status, 405);
    assert!(
        wrong.violations[0].message.contains("PUT"),
        "{:?}",
        wrong.violations
    );
}

#[test]
fn bodies_are_checked_against_their_media_type_and_schema() {
    let spec = spec(vec![]);
    let json_headers = headers(&[("content-type", "application/json; charset=utf-8")]);
    let ok = check(
        &spec,
        "PUT",
        "/v3/price",
        None,
        &json_headers,
        br#"{"sku": "A1", "note": null}"#,
    );
    assert!(ok.violations.is_empty(), "nullable: {:?}", ok.violations);
    let long = check(
        &spec,
        "PUT",
        "/v3/price",
        None,
        &json_headers,
        br#"{"sku": "A123456"}"#,
    );
    assert_eq!(locations(&long), vec!["body/sku"]);
    let missing = check(&spec, "PUT", "/v3/price", None, &json_headers, b"");
    assert_eq!(locations(&missing), vec!["body"]);
    let xml = headers(&[("content-type", "application/xml")]);
    let wrong_media = check(&spec, "PUT", "/v3/price", None, &xml, b"<sku/>");
    assert_eq!(wrong_media.status, 415);
}

#[test]
fn swagger_arrays_base_paths_and_bodies() {
    let spec = spec(vec![]);
    let h = HeaderMap::new();
    let ok = check(
        &spec,
        "GET",
        "/orders/v0/orders",
        Some("MarketplaceIds=A,B&MaxResultsPerPage=100"),
        &h,
        b"",
    );
    assert!(ok.violations.is_empty(), "{:?}", ok.violations);
    let bad = check(
        &spec,
        "GET",
        "/orders/v0/orders",
        Some("MarketplaceIds=A,B,C&MaxResultsPerPage=x"),
        &h,
        b"",
    );
    assert_eq!(
        locations(&bad),
        vec!["query.MarketplaceIds", "query.MaxResultsPerPage"]
    );
    let json_headers = headers(&[("content-type", "application/json")]);
    let shipment = check(
        &spec,
        "POST",
        "/orders/v0/orders/1/shipment",
        None,
        &json_headers,
        br#"{"status": "Shipped", "shipDate": "2026-12-07T21:27:02.048366"}"#,
    );
    assert_eq!(locations(&shipment), vec!["body/shipDate"]);
}

#[test]
fn responses_are_checked_against_the_documented_schema() {
    let spec = spec(vec![]);
    let op = spec.operation("getFeedItemStatus").unwrap();
    assert!(
        spec.check_response(
            op,
            200,
            Some("application/json"),
            br#"{"feedId": "F1", "itemsReceived": 3}"#
        )
        .is_empty()
    );
    let wrong = spec.check_response(
        op,
        200,
        Some("application/json"),
        br#"{"itemsReceived": -1}"#,
    );
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    let undocumented = spec.check_response(
        spec.operation("updateShipment").unwrap(),
        200,
        Some("application/json"),
        b"{}",
    );
    assert_eq!(undocumented[0].location, "status");
    let list = spec.operation("getOrders").unwrap();
    assert!(
        !spec
            .check_response(list, 200, Some("application/json"), b"{}")
            .is_empty()
    );
}

#[test]
fn every_schema_of_the_test_documents_compiles() {
    assert!(spec(vec![limit_rule()]).compile_all().is_empty());
}

#[test]
fn errata_replace_what_they_say_and_only_that() {
    let files = [SpecFile {
        path: "test/feeds.yml",
        text: FEEDS,
    }];
    let erratum = Erratum {
        file: "test/feeds.yml",
        pointer: "/components/schemas/Status/properties/itemsReceived",
        was: r#"{"type": "integer", "minimum": 0}"#,
        now: r#"{"type": "string"}"#,
        why: "test",
    };
    let spec = ApiSpec::load(&files, vec![], &[erratum]).unwrap();
    let op = spec.operation("getFeedItemStatus").unwrap();
    let body = br#"{"feedId": "F", "itemsReceived": "3"}"#;
    assert!(
        spec.check_response(op, 200, Some("application/json"), body)
            .is_empty()
    );
    let stale = Erratum {
        was: r#"{"type": "integer"}"#,
        ..erratum
    };
    let error = ApiSpec::load(&files, vec![], &[stale]).unwrap_err();
    assert!(error.contains("remove the erratum"), "{error}");
}
