//! The mapping engine: every shipped example compiles; bad mappings are refused with every problem located; records
//! map as the resource says, and a record that cannot be mapped is an error value, not a panic.

use std::path::PathBuf;

use channel_api::canonical::{InventoryPosition, Price, Shipment};
use channel_api::mapping::{CompileError, FlowPlan, MappingPlan, RecordErrorKind};
use crds::channel::Flow;
use crds::manifest::load_paths;
use crds::schema::SchemaSet;
use crds::v1alpha1::ChannelMappingSpec;
use crds::validation::{Resource, validate};
use serde_json::{Value, json};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// (name, spec) of every `ChannelMapping` in `examples/`, each folder validated on its own as a user would.
fn example_mappings() -> Vec<(String, String, ChannelMappingSpec)> {
    let schemas = SchemaSet::generated().expect("schemas compile");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(examples())
        .expect("examples/ exists")
        .map(|entry| entry.expect("readable").path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let mut mappings = Vec::new();
    for folder in folders {
        let (documents, errors) = load_paths(std::slice::from_ref(&folder));
        assert!(errors.is_empty(), "{errors:?}");
        let report = validate(documents, &schemas);
        assert!(report.is_valid(), "{:?}", report.diagnostics);
        for item in report.items {
            if let Resource::ChannelMapping(mapping) = item.resource {
                mappings.push((folder.display().to_string(), item.name, mapping.spec));
            }
        }
    }
    mappings
}

fn spec(value: Value) -> ChannelMappingSpec {
    serde_json::from_value(value).expect("a ChannelMapping spec")
}

fn compile(value: Value) -> MappingPlan {
    match MappingPlan::compile("test", &spec(value)) {
        Ok(plan) => plan,
        Err(errors) => panic!("{}", lines(&errors)),
    }
}

fn lines(errors: &[CompileError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn flow(plan: &MappingPlan, flow: Flow) -> &FlowPlan {
    plan.flow(flow).expect("flow is mapped")
}

/// A canonical record's JSON as the flows carry it: through the type, so the field names are the real ones.
fn inventory_position() -> Value {
    let position: InventoryPosition = serde_json::from_value(json!({
        "correlationId": "erp:inv:TW-1001:2026-11-27T03:00:00Z",
        "sku": "TW-1001",
        "available": 42,
        "locations": [{"location": "DAL", "available": 30}, {"location": "RNO", "available": 12}],
        "asOf": "2026-11-27T03:00:00Z"
    }))
    .expect("an inventory position");
    serde_json::to_value(position).expect("serializes")
}

fn price(sale: bool) -> Value {
    let mut json = json!({
        "correlationId": "erp:price:TW-1001",
        "sku": "TW-1001",
        "price": {"amount": "19.99", "currency": "USD"},
        "asOf": "2026-11-27T03:00:00Z"
    });
    if sale {
        json["sale"] = json!({
            "price": {"amount": "14.90", "currency": "USD"},
            "startsAt": "2026-11-28T00:00:00Z",
            "endsAt": "2026-12-01T00:00:00Z"
        });
    }
    let price: Price = serde_json::from_value(json).expect("a price");
    serde_json::to_value(price).expect("serializes")
}

fn shipment(carrier: &str, service: Option<&str>) -> Value {
    let mut json = json!({
        "correlationId": "amazon-us:113-5512345-1234567",
        "marketplace": "amazon-us",
        "orderId": "113-5512345-1234567",
        "shipmentId": "SHP-1",
        "carrier": carrier,
        "trackingNumber": "1Z999",
        "shippedAt": "2026-11-28T16:30:00Z",
        "lines": [{"lineId": "10001", "sku": "TW-1001", "quantity": 2}]
    });
    if let Some(service) = service {
        json["service"] = json!(service);
    }
    let shipment: Shipment = serde_json::from_value(json).expect("a shipment");
    serde_json::to_value(shipment).expect("serializes")
}

#[test]
fn every_example_mapping_compiles() {
    let mappings = example_mappings();
    // Seven channel examples and the quickstart's two.
    assert!(
        mappings.len() >= 9,
        "only {} mappings found",
        mappings.len()
    );
    let mut failures = Vec::new();
    for (folder, name, spec) in &mappings {
        if let Err(errors) = MappingPlan::compile(name, spec) {
            failures.push(format!("{folder}:\n{}", lines(&errors)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_amazon_example_maps_real_records() {
    let (_, name, spec) = example_mappings()
        .into_iter()
        .find(|(folder, name, _)| folder.ends_with("amazon") && name == "amazon-us")
        .expect("the amazon example");
    let plan = MappingPlan::compile(&name, &spec).expect("compiles");

    let inventory = flow(&plan, Flow::Inventory).apply(&inventory_position());
    assert_eq!(
        inventory,
        Ok(json!({
            "fulfillment_availability": {"fulfillment_channel_code": "DEFAULT", "quantity": 42}
        }))
    );

    let shipments = flow(&plan, Flow::Shipments)
        .apply(&shipment("ontrac", None))
        .expect("maps");
    assert_eq!(shipments["packageDetail"]["carrierCode"], json!("OnTrac"));
    // No service: the default; no ship-from location: the default null (the value map is never consulted).
    assert_eq!(
        shipments["packageDetail"]["shippingMethod"],
        json!("Standard")
    );
    assert_eq!(
        shipments["packageDetail"]["shipFromSupplySourceId"],
        Value::Null
    );
    assert_eq!(
        shipments["packageDetail"]["orderItems"],
        json!([{"orderItemId": "10001", "quantity": 2}])
    );
    // A carrier the map does not know: UseFallback.
    let other = flow(&plan, Flow::Shipments)
        .apply(&shipment("lasership", Some("Ground")))
        .expect("maps");
    assert_eq!(other["packageDetail"]["carrierCode"], json!("Other"));
    assert_eq!(other["packageDetail"]["shippingMethod"], json!("Ground"));
}

#[test]
fn compile_errors_are_all_reported_at_once() {
    let errors = MappingPlan::compile(
        "broken",
        &spec(json!({
            "channel": "amazon",
            "flows": [
                {"flow": "inventory", "fields": [
                    {"target": "ok", "expression": "record.available"},
                    {"target": "syntax", "expression": "record.available +"},
                    {"target": "quantity", "expression": "record.availabel - 2"}
                ]},
                {"flow": "shipments", "fields": [
                    {"target": "carrierCode", "expression": "maps.carriers[record.carrier]"}
                ]}
            ],
            "valueMaps": [{"name": "carrier", "entries": {"ups": "UPS"}}]
        })),
    )
    .expect_err("does not compile");
    assert_eq!(errors.len(), 3, "{}", lines(&errors));

    let syntax = &errors[0];
    assert_eq!(syntax.field_path, "spec.flows[0].fields[1].expression");
    assert_eq!(syntax.flow, Some(Flow::Inventory));
    assert_eq!(syntax.target.as_deref(), Some("syntax"));
    assert!(syntax.message.starts_with("CEL syntax error: "), "{syntax}");

    let unknown = &errors[1];
    assert_eq!(
        unknown.to_string(),
        "ChannelMapping/broken: spec.flows[0].fields[2].expression (inventory -> quantity): unknown field \
         `record.availabel`: InventoryPosition has no field `availabel` (did you mean `available`?)"
    );
    let status = unknown.to_status().expect("a field's error");
    assert_eq!(status.field_path, "spec.flows[0].fields[2].expression");

    let undefined = &errors[2];
    assert_eq!(undefined.field_path, "spec.flows[1].fields[0].expression");
    assert_eq!(undefined.flow, Some(Flow::Shipments));
    assert_eq!(
        undefined.message,
        "value map `carriers` is not defined in spec.valueMaps (did you mean `carrier`?)"
    );
}

#[test]
fn resource_level_problems_are_located_too() {
    let errors = MappingPlan::compile(
        "broken",
        &spec(json!({
            "channel": "walmart",
            "flows": [
                {"flow": "orders", "fields": [
                    {"target": "shipTo.line3", "expression": "payload.address"},
                    {"target": "orderId", "expression": "payload.id", "default": "not json"},
                    {"target": "buyer", "expression": "record.buyer"},
                    {"target": "buyer.name", "expression": "payload.name"}
                ]},
                {"flow": "orders", "fields": [{"target": "orderId", "expression": "payload.id"}]}
            ],
            "valueMaps": [{"name": "carrier", "entries": {}, "onMissing": "UseFallback"}],
            "skuCrossReference": [
                {"erpSku": "A", "channelSku": "X"},
                {"erpSku": "B", "channelSku": "X"}
            ]
        })),
    )
    .expect_err("does not compile");
    let paths: Vec<&str> = errors.iter().map(|e| e.field_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.valueMaps[0].fallback",
            "spec.skuCrossReference[1].channelSku",
            "spec.flows[0].fields[0].target",
            "spec.flows[0].fields[1].default",
            "spec.flows[0].fields[2].expression",
            "spec.flows[0].fields[3].target",
            "spec.flows[1].flow",
        ],
        "{}",
        lines(&errors)
    );
    assert!(
        errors[2]
            .message
            .contains("(did you mean `line1` or `line2`?)"),
        "{}",
        errors[2]
    );
    assert!(
        errors[4].message.contains("its input is `payload`"),
        "{}",
        errors[4]
    );
    assert!(
        errors[5].message.contains("clashes with `buyer`"),
        "{}",
        errors[5]
    );
    assert_eq!(
        errors[0].to_string(),
        "ChannelMapping/broken: spec.valueMaps[0].fallback: onMissing: UseFallback needs a fallback value"
    );
}

#[test]
fn inventory_maps_with_sku_cross_reference_nested_targets_and_defaults() {
    let plan = compile(json!({
        "channel": "rest",
        "flows": [{"flow": "inventory", "fields": [
            {"target": "article.number", "expression": "sku(record.sku)"},
            {"target": "article.erpNumber", "expression": "record.sku"},
            {"target": "stock.available", "expression": "record.available - 2"},
            {"target": "stock.byWarehouse", "expression": "record.locations.map(l, {'warehouse': maps.warehouse[l.location], 'quantity': l.available})", "default": "[]"},
            {"target": "stock.unit", "expression": "'EA'"},
            {"target": "asOf", "expression": "record.asOf"}
        ]}],
        "valueMaps": [{"name": "warehouse", "entries": {"DAL": "US-SOUTH"}, "onMissing": "PassThrough"}],
        "skuCrossReference": [{"erpSku": "TW-1001", "channelSku": "ART-1001"}]
    }));
    let inventory = flow(&plan, Flow::Inventory);
    assert_eq!(
        inventory.apply(&inventory_position()),
        Ok(json!({
            "article": {"number": "ART-1001", "erpNumber": "TW-1001"},
            "stock": {
                "available": 40,
                "byWarehouse": [
                    {"warehouse": "US-SOUTH", "quantity": 30},
                    {"warehouse": "RNO", "quantity": 12}
                ],
                "unit": "EA"
            },
            "asOf": "2026-11-27T03:00:00Z"
        }))
    );
    // Integers stay integers.
    let out = inventory.apply(&inventory_position()).expect("maps");
    assert!(out["stock"]["available"].is_i64());

    // Unlisted SKU: unchanged. No locations (omitted from the JSON when empty): the default.
    let mut bare = inventory_position();
    bare["sku"] = json!("TW-9999");
    bare.as_object_mut().expect("object").remove("locations");
    let out = inventory.apply(&bare).expect("maps");
    assert_eq!(out["article"]["number"], json!("TW-9999"));
    assert_eq!(out["stock"]["byWarehouse"], json!([]));
}

#[test]
fn money_stays_a_decimal_string() {
    let plan = compile(json!({
        "channel": "shopify",
        "flows": [{"flow": "price", "fields": [
            {"target": "variants.price", "expression": "has(record.sale) ? record.sale.price.amount : record.price.amount"},
            {"target": "variants.compareAtPrice", "expression": "has(record.sale) ? record.price.amount : null"},
            {"target": "variants.currency", "expression": "record.price.currency"},
            {"target": "saleEnds", "expression": "record.sale.endsAt", "default": "null"}
        ]}]
    }));
    let price_flow = flow(&plan, Flow::Price);
    assert_eq!(
        price_flow.apply(&price(false)),
        Ok(json!({
            "variants": {"price": "19.99", "compareAtPrice": null, "currency": "USD"},
            "saleEnds": null
        }))
    );
    assert_eq!(
        price_flow.apply(&price(true)),
        Ok(json!({
            "variants": {"price": "14.90", "compareAtPrice": "19.99", "currency": "USD"},
            "saleEnds": "2026-12-01T00:00:00Z"
        }))
    );
}

fn shipments_plan() -> MappingPlan {
    compile(json!({
        "channel": "walmart",
        "flows": [{"flow": "shipments", "fields": [
            {"target": "tracking.carrier", "expression": "maps.carrier[record.carrier]"},
            {"target": "tracking.method", "expression": "maps.method[record.service]", "default": "\"Standard\""},
            {"target": "tracking.site", "expression": "maps.site[record.marketplace]"},
            {"target": "tracking.number", "expression": "record.trackingNumber"},
            {"target": "lines", "expression": "record.lines.map(l, {'sku': sku(l.sku), 'quantity': l.quantity})"}
        ]}],
        "valueMaps": [
            {"name": "carrier", "entries": {"ups": "UPS", "fedex": "FedEx"}, "onMissing": "Fail"},
            {"name": "method", "entries": {"STD": "Standard", "EXP": "Express"}, "onMissing": "UseFallback", "fallback": "Value"},
            {"name": "site", "entries": {"walmart-ca": "CA"}, "onMissing": "PassThrough"}
        ],
        "skuCrossReference": [{"erpSku": "TW-1001", "channelSku": "WM-TW-1001"}]
    }))
}

#[test]
fn value_maps_honour_each_on_missing_mode() {
    let plan = shipments_plan();
    let shipments = flow(&plan, Flow::Shipments);
    assert_eq!(
        shipments.apply(&shipment("ups", Some("EXP"))),
        Ok(json!({
            "tracking": {"carrier": "UPS", "method": "Express", "site": "amazon-us", "number": "1Z999"},
            "lines": [{"sku": "WM-TW-1001", "quantity": 2}]
        }))
    );
    // UseFallback for an unknown service; the default when there is no service at all.
    let out = shipments
        .apply(&shipment("fedex", Some("SAMEDAY")))
        .expect("maps");
    assert_eq!(out["tracking"]["method"], json!("Value"));
    let out = shipments.apply(&shipment("fedex", None)).expect("maps");
    assert_eq!(out["tracking"]["method"], json!("Standard"));

    // Fail: the record is an error naming the map and the value.
    let error = shipments
        .apply(&shipment("dhl", None))
        .expect_err("dhl is not mapped");
    assert_eq!(error.target, "tracking.carrier");
    assert_eq!(
        error.kind,
        RecordErrorKind::UnmappedValue {
            map: "carrier".into(),
            value: "\"dhl\"".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "ChannelMapping/test: shipments -> tracking.carrier: value map carrier has no entry for \"dhl\" \
         (onMissing: Fail)"
    );
}

#[test]
fn a_missing_field_without_default_is_a_record_error() {
    let plan = compile(json!({
        "channel": "amazon",
        "flows": [{"flow": "shipments", "fields": [
            {"target": "packageDetail.shippingMethod", "expression": "record.service"},
            {"target": "packageDetail.firstLine", "expression": "record.lines[1].lineId"}
        ]}]
    }));
    let shipments = flow(&plan, Flow::Shipments);
    let error = shipments
        .apply(&shipment("ups", None))
        .expect_err("no service");
    assert_eq!(error.flow, Flow::Shipments);
    assert_eq!(error.target, "packageDetail.shippingMethod");
    assert_eq!(
        error.kind,
        RecordErrorKind::MissingField {
            field: "record.service".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "ChannelMapping/test: shipments -> packageDetail.shippingMethod: the record has no field \
         record.service and the mapping gives no default"
    );
    let error = shipments
        .apply(&shipment("ups", Some("STD")))
        .expect_err("one line only");
    assert_eq!(
        error.kind,
        RecordErrorKind::MissingField {
            field: "record.lines[1]".into()
        }
    );
}

#[test]
fn failed_conversions_are_record_errors() {
    let plan = compile(json!({
        "channel": "rest",
        "flows": [{"flow": "orders", "fields": [
            {"target": "lines", "expression": "payload.positions.map(p, {'quantity': int(p.quantity)})"},
            {"target": "orderId", "expression": "payload.id / 0"}
        ]}]
    }));
    let orders = flow(&plan, Flow::Orders);
    let error = orders
        .apply(&json!({"positions": [{"quantity": "two"}], "id": 1}))
        .expect_err("not a number");
    assert_eq!(error.target, "lines");
    assert!(
        matches!(error.kind, RecordErrorKind::Evaluation { .. }),
        "{error}"
    );
    let error = orders
        .apply(&json!({"positions": [], "id": 1}))
        .expect_err("division by zero");
    assert_eq!(error.target, "orderId");
}

#[test]
fn inbound_flows_read_the_payload_and_translate_skus_back() {
    let plan = compile(json!({
        "channel": "walmart",
        "flows": [{"flow": "orders", "fields": [
            {"target": "orderId", "expression": "payload.purchaseOrderId"},
            {"target": "status", "expression": "maps.status[payload.status]"},
            {"target": "buyer.email", "expression": "payload.customerEmailId", "default": "null"},
            {"target": "lines", "expression": "payload.orderLines.map(l, {'lineId': l.lineNumber, 'sku': sku(l.item.sku), 'quantity': int(l.qty)})"}
        ]}],
        "valueMaps": [{"name": "status", "entries": {"Created": "Unshipped"}}],
        "skuCrossReference": [{"erpSku": "TW-1001", "channelSku": "WM-TW-1001"}]
    }));
    let orders = flow(&plan, Flow::Orders);
    let payload = json!({
        "purchaseOrderId": "1234567890",
        "status": "Created",
        "orderLines": [
            {"lineNumber": "1", "item": {"sku": "WM-TW-1001"}, "qty": "2"},
            {"lineNumber": "2", "item": {"sku": "TW-2002"}, "qty": "1"}
        ]
    });
    assert_eq!(
        orders.apply(&payload),
        Ok(json!({
            "orderId": "1234567890",
            "status": "Unshipped",
            "buyer": {"email": null},
            "lines": [
                {"lineId": "1", "sku": "TW-1001", "quantity": 2},
                {"lineId": "2", "sku": "TW-2002", "quantity": 1}
            ]
        }))
    );
}

#[test]
fn flows_without_a_mapping_are_left_to_the_connector() {
    let plan = shipments_plan();
    assert!(plan.flow(Flow::Inventory).is_none());
    assert!(plan.flow(Flow::Shipments).is_some());
    assert_eq!(plan.flows().count(), 1);
    assert_eq!(plan.name(), "test");
}

#[test]
fn plans_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<MappingPlan>();
    let plan = std::sync::Arc::new(shipments_plan());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let plan = std::sync::Arc::clone(&plan);
            std::thread::spawn(move || {
                flow(&plan, Flow::Shipments)
                    .apply(&shipment("ups", None))
                    .is_ok()
            })
        })
        .collect();
    for handle in handles {
        assert!(handle.join().expect("thread ends"));
    }
}

/// cel 0.13 reads a field of `null` (or of a string) as `false` instead of failing; the shortcut for plain reads
/// leaves such records to the interpreter, so the result is the same either way. Payloads with nullable objects
/// guard them with `has()`. This test pins the behaviour: when it fails after a cel upgrade, update docs/mapping.md.
#[test]
fn reading_through_null_follows_the_interpreter() {
    let plan = compile(json!({
        "channel": "shopify",
        "flows": [{"flow": "orders", "fields": [
            {"target": "buyer.name", "expression": "payload.customer.displayName", "default": "\"Shopify customer\""},
            {"target": "buyer.email", "expression": "has(payload.customer.email) ? payload.customer.email : null"}
        ]}]
    }));
    let orders = flow(&plan, Flow::Orders);
    assert_eq!(
        orders.apply(&json!({"customer": null})),
        Ok(json!({"buyer": {"name": false, "email": null}}))
    );
    assert_eq!(
        orders.apply(&json!({})),
        Err(channel_api::mapping::RecordError {
            mapping: "test".into(),
            flow: Flow::Orders,
            target: "buyer.email".into(),
            kind: RecordErrorKind::MissingField {
                field: "payload.customer".into()
            },
        })
    );
}
