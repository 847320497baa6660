//! The Shopify store of a local run: the Admin GraphQL sandbox with the scenario's SKUs as variants, on the
//! cost plan the Marketplace's `RateLimitPolicy` states, and the store's buyers.

use std::collections::BTreeMap;
use std::sync::Arc;

use adapter_runtime::config::AdapterConfig;
use rust_decimal::Decimal;
use sandbox::RecordedCall;
use sandbox_shopify::{NewOrder, Settings};
use serde_json::Value;

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

/// The token the sandbox accepts when the Secret has no `access_token`.
const DEFAULT_TOKEN: &str = "shpat_local_sandbox";

pub struct Store {
    running: sandbox::Running,
    shop: Arc<sandbox_shopify::Sandbox>,
}

/// Starts the store, seeds every SKU with nothing available, and points `config` at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Store> {
    let token = credentials
        .get("access_token")
        .map_or(DEFAULT_TOKEN, String::as_str);
    let mut settings = Settings::new(token);
    // The store's plan is the one the policy paces for: a policy stating another plan's bucket would meet
    // THROTTLED answers, which is what a real store of that plan would answer.
    if let Some(bucket) = config
        .rate_limits
        .spec
        .operations
        .iter()
        .find(|o| o.name == "graphql")
        .and_then(|o| o.token_bucket.as_ref())
    {
        let per = std::time::Duration::from(bucket.per).as_millis().max(1);
        let restore = u128::from(bucket.requests) * 1_000 / per;
        settings = settings.plan(
            u64::from(bucket.burst),
            u64::try_from(restore).unwrap_or(u64::MAX),
        );
    }
    let (running, shop) = sandbox_shopify::start(settings).await?;
    for sku in super::super::scenario::SKUS {
        shop.add_variant(sku, 0, Decimal::ONE);
    }
    config.spec.endpoint.base_url = Some(running.url());
    Ok(Store { running, shop })
}

impl Store {
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn controls(&self) -> &sandbox::Controls {
        &self.shop.controls
    }

    /// A buyer's order; the id the connector gives the canonical order (the numeric part of the global id).
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        let price: Decimal = unit_price.parse().ok()?;
        let order = NewOrder {
            currency: "USD".into(),
            country: "US".into(),
            lines: vec![(sku.to_string(), quantity, price)],
        };
        Some(numeric_id(&self.shop.add_order(order)).to_string())
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] = &[
        ("inventorySetQuantities", 200),
        ("productVariantsBulkUpdate", 200),
    ];

    /// The SKUs an accepted update call was for: the variants of the inventory items it set, or the
    /// variants whose price it updated.
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        let variables = &call.body["variables"];
        let store = self.shop.store();
        let ids = |list: &Value, field: &str| -> Vec<String> {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| Some(v.get(field)?.as_str()?.to_string()))
                .collect()
        };
        let sku_where = |id: &str, of: fn(&sandbox_shopify::Variant) -> &str| {
            store
                .variants
                .values()
                .find(|v| of(v) == id)
                .map(|v| v.sku.clone())
        };
        match call.operation.as_str() {
            "inventorySetQuantities" => ids(&variables["input"]["quantities"], "inventoryItemId")
                .iter()
                .filter_map(|id| sku_where(id, |v| &v.inventory_item_id))
                .collect(),
            "productVariantsBulkUpdate" => ids(&variables["variants"], "id")
                .iter()
                .filter_map(|id| sku_where(id, |v| &v.id))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The sandbox has no buyer cancellation.
    pub fn cancel_order(&self, _order_id: &str) -> bool {
        false
    }

    pub fn progress(&self) -> Progress {
        let updates = Self::UPDATE_OPERATIONS
            .iter()
            .map(|(op, status)| self.shop.controls.recorder.count(op, *status) as u64)
            .sum();
        let store = self.shop.store();
        Progress {
            updates,
            orders: store.orders.len() as u64,
            shipments: store.fulfillments.len() as u64,
        }
    }

    /// Variants (available quantity and price), orders (`cancelledAt`), fulfillments by tracking number; read
    /// in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        let store = self.shop.store();
        ChannelSnapshot {
            listings: store
                .variants
                .iter()
                .map(|(sku, v)| Listing {
                    sku: sku.clone(),
                    quantity: Some(v.available),
                    price: Some(v.price),
                })
                .collect(),
            orders: store
                .orders
                .iter()
                .map(|o| ChannelOrder {
                    id: numeric_id(&o.id).to_string(),
                    cancelled: o.cancelled_at.is_some(),
                })
                .collect(),
            // A fulfillment names no package of the ERP: it is matched by its tracking number.
            shipments: store
                .fulfillments
                .iter()
                .filter_map(|f| Some((numeric_id(&f.order_id).to_string(), f.number.clone()?)))
                .collect(),
            ..ChannelSnapshot::default()
        }
    }
}

/// `gid://shopify/Order/7` -> `7`, as the connector names orders.
fn numeric_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}
