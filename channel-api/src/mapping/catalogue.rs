//! The field catalogue of the canonical records: which fields `record.a.b` can name, derived from the JSON Schemas
//! the canonical types publish (`crate::schemas::all()`), so that it can never drift from the types.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crds::channel::Flow;
use serde_json::Value;

use crate::schemas;

/// What a value in a record looks like, as far as field references are concerned.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Nothing is known: any field may be selected (channel payloads, records without a canonical type).
    Any,
    /// A string, number, integer or boolean (named for messages).
    Scalar(&'static str),
    /// A list whose elements have this shape.
    List(Box<Shape>),
    /// An object with named fields (a struct; selecting another field is an error), or with arbitrary keys whose
    /// values have the shape `values` (a map such as `Product.attributes`), or both.
    Object {
        name: String,
        fields: BTreeMap<String, Shape>,
        values: Option<Box<Shape>>,
    },
}

pub static ANY: Shape = Shape::Any;

/// How deep `$ref`s are followed. The canonical model is not recursive; the limit only guards against a schema
/// that would be.
const MAX_DEPTH: usize = 24;

/// The shape of the canonical record a flow carries.
pub fn record_shape(flow: Flow) -> Option<&'static Shape> {
    let file = match flow {
        Flow::Inventory => "inventory-position",
        Flow::Price => "price",
        Flow::Catalog => "product",
        Flow::Shipments => "shipment",
        Flow::Orders => "order",
        Flow::Returns => "return",
        Flow::Settlements => "settlement",
        Flow::Invoices => "invoice",
    };
    catalogue().get(file)
}

/// Every canonical record's shape by schema file stem, built once: generating the schemas is not free, and every
/// mapping compiled by the process shares the result.
fn catalogue() -> &'static BTreeMap<String, Shape> {
    static CATALOGUE: OnceLock<BTreeMap<String, Shape>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        schemas::all()
            .into_iter()
            .filter_map(|(file, schema)| {
                let stem = file.split('.').next()?.to_string();
                let root = schema.as_value();
                Some((stem, shape_of(root, root, 0)))
            })
            .collect()
    })
}

/// The shape described by `schema`, resolving `$ref`s against `root`'s `$defs`.
pub fn shape_of(schema: &Value, root: &Value, depth: usize) -> Shape {
    if depth > MAX_DEPTH {
        return Shape::Any;
    }
    let Some(object) = schema.as_object() else {
        // `true` (anything) or `false` (nothing): neither constrains field names usefully.
        return Shape::Any;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return match root.pointer(&reference.replacen('#', "", 1)) {
            Some(target) => named(shape_of(target, root, depth + 1), name),
            None => Shape::Any,
        };
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(alternatives) = object.get(combinator).and_then(Value::as_array) {
            return merge(
                alternatives
                    .iter()
                    .filter(|a| !is_null_schema(a))
                    .map(|a| shape_of(a, root, depth + 1))
                    .collect(),
            );
        }
    }
    if object.contains_key("enum") || object.contains_key("const") {
        return Shape::Scalar("string");
    }
    match type_of(object) {
        Some("object") => object_shape(object, root, depth),
        Some("array") => Shape::List(Box::new(
            object
                .get("items")
                .map_or(Shape::Any, |items| shape_of(items, root, depth + 1)),
        )),
        Some("string") => Shape::Scalar("string"),
        Some("integer") => Shape::Scalar("integer"),
        Some("number") => Shape::Scalar("number"),
        Some("boolean") => Shape::Scalar("boolean"),
        _ if object.contains_key("properties") => object_shape(object, root, depth),
        _ => Shape::Any,
    }
}

fn object_shape(object: &serde_json::Map<String, Value>, root: &Value, depth: usize) -> Shape {
    let fields: BTreeMap<String, Shape> = object
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, schema)| (name.clone(), shape_of(schema, root, depth + 1)))
                .collect()
        })
        .unwrap_or_default();
    // A record is produced by serialising its type, so a struct never has fields beyond its properties, even
    // when its schema does not say `additionalProperties: false` (Money). Only a schema-valued
    // `additionalProperties` (a map type) opens the object to other keys.
    let values = match object.get("additionalProperties") {
        Some(schema @ Value::Object(_)) => Some(Box::new(shape_of(schema, root, depth + 1))),
        Some(Value::Bool(false)) => None,
        _ if fields.is_empty() => Some(Box::new(Shape::Any)),
        _ => None,
    };
    let name = object
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_string();
    Shape::Object {
        name,
        fields,
        values,
    }
}

/// The JSON Schema `type`, ignoring `"null"` in a list of types (an optional field).
fn type_of(object: &serde_json::Map<String, Value>) -> Option<&str> {
    match object.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// The shape of a value that is one of `alternatives`: an optional field is its one non-null alternative, a tagged
/// union of structs has the fields of all of them, anything else is unknown.
fn merge(alternatives: Vec<Shape>) -> Shape {
    let mut iter = alternatives.into_iter();
    let Some(first) = iter.next() else {
        return Shape::Any;
    };
    iter.try_fold(first, |merged, next| match (merged, next) {
        (a, b) if a == b => Some(a),
        (Shape::Scalar(a), Shape::Scalar(b)) if a == b => Some(Shape::Scalar(a)),
        (
            Shape::Object {
                name,
                mut fields,
                values,
            },
            Shape::Object {
                fields: more,
                values: more_values,
                ..
            },
        ) => {
            for (field, shape) in more {
                fields.entry(field).or_insert(shape);
            }
            Some(Shape::Object {
                name,
                fields,
                values: values.or(more_values),
            })
        }
        _ => None,
    })
    .unwrap_or(Shape::Any)
}

/// Names an object after the `$defs` entry it came from (`Money`), for messages.
fn named(shape: Shape, name: &str) -> Shape {
    match shape {
        Shape::Object { fields, values, .. } => Shape::Object {
            name: name.to_string(),
            fields,
            values,
        },
        other => other,
    }
}

impl Shape {
    /// The shape of `.field` of a value of this shape (`Any` when nothing is known), or why a value of this
    /// shape cannot have that field.
    pub fn field(&self, field: &str) -> Result<&Shape, FieldError> {
        match self {
            Shape::Any => Ok(&ANY),
            Shape::Object { fields, values, .. } => match (fields.get(field), values) {
                (Some(shape), _) => Ok(shape),
                (None, Some(values)) => Ok(values),
                (None, None) => Err(FieldError::Unknown {
                    known: fields.keys().cloned().collect(),
                }),
            },
            Shape::Scalar(kind) => Err(FieldError::NotAnObject { kind }),
            Shape::List(_) => Err(FieldError::NotAnObject { kind: "list" }),
        }
    }

    /// The shape of an element (a list) or of a value (a map) of a value of this shape.
    pub fn element(&self) -> &Shape {
        match self {
            Shape::List(element) => element,
            Shape::Object {
                values: Some(values),
                ..
            } => values,
            _ => &ANY,
        }
    }

    /// What a comprehension variable iterating over a value of this shape is: list elements, or map keys.
    pub fn iteration_variable(&self) -> &Shape {
        static STRING: Shape = Shape::Scalar("string");
        match self {
            Shape::List(element) => element,
            Shape::Object { .. } => &STRING,
            _ => &ANY,
        }
    }

    /// A short description for messages: `Money`, `string`, `list`.
    pub fn describe(&self) -> &str {
        match self {
            Shape::Any => "value",
            Shape::Scalar(kind) => kind,
            Shape::List(_) => "list",
            Shape::Object { name, .. } => name,
        }
    }
}

/// Why a field cannot be selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The object has no such field; these are the ones it has.
    Unknown { known: Vec<String> },
    /// The value is not an object.
    NotAnObject { kind: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(shape: &Shape) -> Vec<&str> {
        match shape {
            Shape::Object { fields, .. } => fields.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_flow_with_a_canonical_type_has_its_fields() {
        let inventory = record_shape(Flow::Inventory).expect("inventory");
        assert_eq!(
            fields(inventory),
            ["asOf", "available", "correlationId", "locations", "sku"]
        );
        let location = inventory
            .field("locations")
            .map(Shape::element)
            .expect("locations");
        assert_eq!(fields(location), ["available", "location"]);
        for flow in Flow::ALL {
            assert!(record_shape(flow).is_some(), "{flow}");
        }
    }

    #[test]
    fn optional_structs_maps_and_money_are_understood() {
        let price = record_shape(Flow::Price).expect("price");
        let sale = price.field("sale").expect("sale");
        assert_eq!(sale.describe(), "SalePrice");
        let money = sale.field("price").expect("sale.price");
        assert_eq!(fields(money), ["amount", "currency"]);
        assert!(matches!(
            money.field("amont"),
            Err(FieldError::Unknown { .. })
        ));
        assert_eq!(money.field("amount").map(Shape::describe), Ok("string"));
        let product = record_shape(Flow::Catalog).expect("product");
        let attributes = product.field("attributes").expect("attributes");
        assert_eq!(attributes.field("color").map(Shape::describe), Ok("string"));
    }
}
