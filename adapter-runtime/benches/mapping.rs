//! Mapping evaluation throughput over a realistic `InventoryPosition`, in records per second (goal: at least
//! 200,000 records/s on one core for a six-field inventory mapping):
//!
//! - `inventory-6-fields`: shaped like the shipped examples' inventory flows (`sku()`, `record.available`, a
//!   constant, a string concatenation, safety stock `record.available - 2`, the timestamp). Plain reads and
//!   constants take the engine's shortcut; the concatenation and the subtraction go through the interpreter.
//! - `inventory-6-fields-with-locations`: the same with the concatenation replaced by the b2b-rest example's
//!   per-location list (`record.locations.map(l, {...maps.warehouse[l.location]...})`), the costliest kind of
//!   expression an inventory mapping has.
//!
//! Also measured: what a record's CEL context costs when it is a child scope of the flow's prebuilt context (what
//! the engine does) against building a fresh root context with the standard functions per record.
//!
//! `cargo bench -p adapter-runtime --bench mapping -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;

use adapter_runtime::canonical::InventoryPosition;
use adapter_runtime::mapping::MappingPlan;
use crds::channel::Flow;
use crds::v1alpha1::ChannelMappingSpec;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn inventory_mapping(fields: Value) -> MappingPlan {
    let spec: ChannelMappingSpec = serde_json::from_value(json!({
        "channel": "rest",
        "flows": [{"flow": "inventory", "fields": fields}],
        "valueMaps": [{"name": "warehouse", "entries": {"DAL": "US-SOUTH", "RNO": "US-WEST", "HAM": "DE-NORTH"}, "onMissing": "Fail"}],
        "skuCrossReference": [
            {"erpSku": "TW-1001", "channelSku": "ART-1001"},
            {"erpSku": "TW-2040-BLK", "channelSku": "ART-2040-BLK"}
        ]
    }))
    .expect("a ChannelMapping spec");
    MappingPlan::compile("bench", &spec).expect("compiles")
}

fn typical_fields() -> Value {
    json!([
        {"target": "articleNumber", "expression": "sku(record.sku)"},
        {"target": "stock.quantity", "expression": "record.available"},
        {"target": "stock.sellable", "expression": "record.available - 2"},
        {"target": "stock.unit", "expression": "'EA'"},
        {"target": "referenceDocumentUri", "expression": "'gid://tradewind/InventoryPosition/' + record.correlationId"},
        {"target": "asOf", "expression": "record.asOf"}
    ])
}

fn fields_with_locations() -> Value {
    json!([
        {"target": "articleNumber", "expression": "sku(record.sku)"},
        {"target": "stock.quantity", "expression": "record.available"},
        {"target": "stock.sellable", "expression": "record.available - 2"},
        {"target": "stock.unit", "expression": "'EA'"},
        {"target": "stock.byWarehouse", "expression": "record.locations.map(l, {'warehouse': maps.warehouse[l.location], 'quantity': l.available})", "default": "[]"},
        {"target": "asOf", "expression": "record.asOf"}
    ])
}

fn inventory_position() -> Value {
    let position: InventoryPosition = serde_json::from_value(json!({
        "correlationId": "erp:inventory:TW-1001:2026-11-27T03:00:00Z",
        "sku": "TW-1001",
        "available": 42,
        "locations": [{"location": "DAL", "available": 30}, {"location": "RNO", "available": 12}],
        "asOf": "2026-11-27T03:00:00Z"
    }))
    .expect("an inventory position");
    serde_json::to_value(position).expect("serializes")
}

fn apply(c: &mut Criterion) {
    let record = inventory_position();
    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(1));
    for (name, fields) in [
        ("inventory-6-fields", typical_fields()),
        ("inventory-6-fields-with-locations", fields_with_locations()),
    ] {
        let plan = inventory_mapping(fields);
        let flow = plan.flow(Flow::Inventory).expect("inventory is mapped");
        assert!(flow.apply(&record).is_ok());
        group.bench_function(name, |b| b.iter(|| flow.apply(black_box(&record))));
    }
    group.finish();
}

fn context(c: &mut Criterion) {
    let record = cel::Value::Int(42);
    let base = cel::Context::default();
    let mut group = c.benchmark_group("context-per-record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("child-scope-of-prebuilt", |b| {
        b.iter(|| {
            let mut scope = base.new_inner_scope();
            scope.add_variable_from_value("record", black_box(record.clone()));
            black_box(scope.get_variable("record").is_some())
        })
    });
    group.bench_function("fresh-root", |b| {
        b.iter(|| {
            let mut root = cel::Context::default();
            root.add_variable_from_value("record", black_box(record.clone()));
            black_box(root.get_variable("record").is_some())
        })
    });
    group.finish();
}

criterion_group!(benches, apply, context);
criterion_main!(benches);
