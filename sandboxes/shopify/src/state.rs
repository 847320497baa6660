//! The store's state: variants by SKU (with product, inventory item, one location, quantity and price),
//! orders and the fulfillments created. Ids are Shopify global ids (`gid://shopify/<Type>/<n>`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// The store's one location.
pub const LOCATION_ID: &str = "gid://shopify/Location/1";

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub sku: String,
    pub id: String,
    pub product_id: String,
    pub inventory_item_id: String,
    pub available: i64,
    pub price: Decimal,
    /// The `reason` and `referenceDocumentUri`-less `name` of the last quantity change.
    pub last_change: Option<(String, String)>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The global id.
    pub id: String,
    pub name: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub country: String,
    pub lines: Vec<OrderLine>,
    pub fulfillment_order_id: String,
    pub fulfilled: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub id: String,
    pub order_id: String,
    pub fulfillment_order_id: String,
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

/// An order to seed.
#[derive(Clone, Debug, Default)]
pub struct NewOrder {
    pub currency: String,
    pub country: String,
    pub lines: Vec<(String, i64, Decimal)>,
}

impl NewOrder {
    pub fn new() -> Self {
        Self {
            currency: "CAD".into(),
            country: "CA".into(),
            lines: Vec::new(),
        }
    }

    pub fn line(mut self, sku: &str, quantity: i64, unit_price: Decimal) -> Self {
        self.lines.push((sku.to_string(), quantity, unit_price));
        self
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub variants: BTreeMap<String, Variant>,
    pub orders: Vec<Order>,
    pub fulfillments: Vec<Fulfillment>,
    next_id: u64,
}

impl Store {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A variant of its own product.
    pub fn add_variant(&mut self, sku: &str, available: i64, price: Decimal) {
        let product = self.next();
        self.add_variant_of(
            &format!("gid://shopify/Product/{product}"),
            sku,
            available,
            price,
        );
    }

    /// A variant of an existing or new product `product_id`.
    pub fn add_variant_of(&mut self, product_id: &str, sku: &str, available: i64, price: Decimal) {
        let n = self.next();
        self.variants.insert(
            sku.to_string(),
            Variant {
                sku: sku.to_string(),
                id: format!("gid://shopify/ProductVariant/{n}"),
                product_id: product_id.to_string(),
                inventory_item_id: format!("gid://shopify/InventoryItem/{n}"),
                available,
                price,
                last_change: None,
            },
        );
    }

    /// Adds an order created and updated now; returns its global id.
    pub fn add_order(&mut self, order: NewOrder) -> String {
        let n = self.next();
        let now = Utc::now();
        let lines = order
            .lines
            .into_iter()
            .map(|(sku, quantity, unit_price)| {
                let line = self.next();
                OrderLine {
                    id: format!("gid://shopify/LineItem/{line}"),
                    sku,
                    quantity,
                    unit_price,
                }
            })
            .collect();
        let id = format!("gid://shopify/Order/{n}");
        self.orders.push(Order {
            id: id.clone(),
            name: format!("#{}", 1000 + n),
            currency: order.currency,
            created_at: now,
            updated_at: now,
            cancelled_at: None,
            country: order.country,
            lines,
            fulfillment_order_id: format!("gid://shopify/FulfillmentOrder/{n}"),
            fulfilled: false,
        });
        id
    }

    pub fn variant_by_id(&self, id: &str) -> Option<&Variant> {
        self.variants.values().find(|v| v.id == id)
    }

    pub fn variant_by_item(&mut self, inventory_item_id: &str) -> Option<&mut Variant> {
        self.variants
            .values_mut()
            .find(|v| v.inventory_item_id == inventory_item_id)
    }
}
