//! The canonical model's published schemas match the types, accept what the types produce, and the records'
//! own checks catch what a schema cannot.

use std::path::PathBuf;

use channel_api::canonical::{Order, Record, Validate};
use channel_api::schemas::{all, to_json};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas")
}

fn order_fixture() -> serde_json::Value {
    let text = include_str!("../../adapter-runtime/tests/fixtures/order.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn order_validator() -> jsonschema::Validator {
    let (_, schema) = all()
        .into_iter()
        .find(|(name, _)| name.starts_with("order."))
        .expect("order schema");
    jsonschema::validator_for(&serde_json::to_value(schema).expect("schema is JSON"))
        .expect("schema compiles")
}

#[test]
fn published_schemas_match_the_types() {
    let mut stale = Vec::new();
    for (name, schema) in all() {
        let committed = std::fs::read_to_string(schemas_dir().join(&name)).unwrap_or_default();
        if committed != to_json(&schema).expect("schema serializes") {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas, run `cargo run -p adapter-runtime --bin schemagen`: {stale:?}"
    );
}

#[test]
fn an_order_round_trips_and_validates_against_its_schema() {
    let json = order_fixture();
    let order: Order = serde_json::from_value(json.clone()).expect("fixture is an order");
    assert!(order.problems().is_empty(), "{:?}", order.problems());
    assert_eq!(order.totals_mismatch(), None);
    let back = serde_json::to_value(&order).expect("serializes");
    assert_eq!(back, json);

    let validator = order_validator();
    let errors: Vec<String> = validator
        .iter_errors(&back)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_schema_refuses_a_float_amount_and_a_missing_field() {
    let validator = order_validator();

    let mut float_amount = order_fixture();
    float_amount["totals"]["total"]["amount"] = serde_json::json!(53.68);
    assert!(!validator.is_valid(&float_amount));

    let mut missing = order_fixture();
    missing.as_object_mut().expect("object").remove("shipTo");
    assert!(!validator.is_valid(&missing));
    let error = serde_json::from_value::<Order>(missing).expect_err("shipTo is required");
    assert!(error.to_string().contains("shipTo"), "{error}");
}

#[test]
fn negative_quantity_wrong_currency_and_bad_totals_are_named() {
    let mut json = order_fixture();
    json["lines"][1]["quantity"] = serde_json::json!(-1);
    json["lines"][0]["tax"]["currency"] = serde_json::json!("EUR");
    let order: Order = serde_json::from_value(json).expect("still an order");
    let problems: Vec<String> = order.problems().iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("lines[1].quantity: quantity must be positive")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("lines[0].tax.currency")),
        "{problems:?}"
    );

    let mut json = order_fixture();
    json["totals"]["total"]["amount"] = serde_json::json!("53.69");
    let order: Order = serde_json::from_value(json).expect("still an order");
    let mismatch = order.totals_mismatch().expect("total is off by a cent");
    assert_eq!(mismatch.field, "totals.total");
}

#[test]
fn records_carry_type_and_correlation_id() {
    let order: Order = serde_json::from_value(order_fixture()).expect("order");
    let record = Record::Order(Box::new(order));
    assert_eq!(record.event_type(), "dev.tradewind.order.v1");
    assert_eq!(
        record.correlation_id().as_str(),
        "amazon-us:113-5512345-1234567"
    );
    let json = serde_json::to_value(&record).expect("serializes");
    assert_eq!(json["type"], "order");
    let back: Record = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, record);
}
