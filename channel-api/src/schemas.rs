//! The JSON Schemas of the canonical records, published in `docs/schemas/` for ERP teams and partners who
//! produce or consume Tradewind events.

use schemars::{JsonSchema, Schema, generate::SchemaSettings};

use crate::canonical::{
    InventoryPosition, Invoice, MODEL_VERSION, Order, OrderAcknowledgement, OrderCancellation,
    Price, Product, Record, Return, Settlement, Shipment,
};

fn schema_for<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// (file name, schema) for every record and for the tagged union of all of them.
pub fn all() -> Vec<(String, Schema)> {
    let named = [
        ("inventory-position", schema_for::<InventoryPosition>()),
        ("price", schema_for::<Price>()),
        ("product", schema_for::<Product>()),
        ("order", schema_for::<Order>()),
        (
            "order-acknowledgement",
            schema_for::<OrderAcknowledgement>(),
        ),
        ("order-cancellation", schema_for::<OrderCancellation>()),
        ("shipment", schema_for::<Shipment>()),
        ("return", schema_for::<Return>()),
        ("settlement", schema_for::<Settlement>()),
        ("invoice", schema_for::<Invoice>()),
        ("record", schema_for::<Record>()),
    ];
    named
        .into_iter()
        .map(|(name, schema)| (format!("{name}.{MODEL_VERSION}.schema.json"), schema))
        .collect()
}

/// The text written for a schema.
pub fn to_json(schema: &Schema) -> serde_json::Result<String> {
    serde_json::to_string_pretty(schema).map(|mut text| {
        text.push('\n');
        text
    })
}
