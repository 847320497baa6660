//! The B2B portal of a local run: the REST sandbox laid out as the Marketplace's `spec.rest` describes,
//! checking the Secret's credential header, and the portal's buyers. What the portal holds is the mapping's
//! output, so the snapshot reads it through the mapping: the fields the mapping writes `record.available`,
//! `record.price.amount`, `record.shipmentId` and `record.trackingNumber` to.

use std::collections::BTreeMap;

use adapter_runtime::config::AdapterConfig;
use crds::channel::Flow;
use sandbox::RecordedCall;
use serde_json::Value;

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

pub struct Portal {
    sandbox: sandbox_rest::RestSandbox,
    /// Where an inventory item's quantity is, in its fields.
    quantity_field: String,
    /// Where a shipment's package reference (or else its tracking number) is, in its fields.
    package_field: String,
    /// Where a price item's amount is, in its fields.
    price_field: String,
}

/// Starts the portal and points `config` at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Portal> {
    let rest = config.spec.rest.clone().unwrap_or_default();
    let auth_value = rest
        .auth
        .as_ref()
        .and_then(|auth| credentials.get(&auth.secret_key))
        .map(String::as_str);
    let mut portal = sandbox_rest::Portal::from_rest(&rest, auth_value, None);
    portal.currency = config.spec.currency.clone();
    let sandbox = sandbox_rest::start("127.0.0.1:0", portal).await?;
    config.spec.endpoint.base_url = Some(sandbox.url());
    let quantity_field =
        target_of(config, Flow::Inventory, &["record.available"]).unwrap_or("available".into());
    let package_field = target_of(
        config,
        Flow::Shipments,
        &["record.shipmentId", "record.trackingNumber"],
    )
    .unwrap_or("shipmentId".into());
    let price_field =
        target_of(config, Flow::Price, &["record.price.amount"]).unwrap_or("price.amount".into());
    Ok(Portal {
        sandbox,
        quantity_field,
        package_field,
        price_field,
    })
}

/// The target the mapping of `flow` writes the first of `expressions` it has to (without a mapping of the
/// flow, the connector sends the canonical record's own field names: `None`).
fn target_of(config: &AdapterConfig, flow: Flow, expressions: &[&str]) -> Option<String> {
    let fields = &config
        .mapping
        .as_ref()?
        .spec
        .flows
        .iter()
        .find(|f| f.flow == flow)?
        .fields;
    expressions.iter().find_map(|wanted| {
        fields
            .iter()
            .find(|f| f.expression.trim() == *wanted)
            .map(|f| f.target.clone())
    })
}

/// A price as the portal holds it: a decimal string or a JSON number.
fn decimal(value: &Value) -> Option<rust_decimal::Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// The value at a dotted `path` of `fields`.
fn at<'a>(fields: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(fields, |v, part| v.get(part))
}

impl Portal {
    pub fn url(&self) -> String {
        self.sandbox.url()
    }

    pub fn controls(&self) -> &sandbox::Controls {
        self.sandbox.controls()
    }

    /// A buyer's order (`PO-…`), served on the portal's orders endpoint.
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        Some(self.sandbox.place_order(&[(sku, quantity, unit_price)]))
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] =
        &[("inventory", 200), ("price", 200)];

    /// The keys (channel SKUs) of an accepted inventory or price batch.
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        call.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| Some(i.get("key")?.as_str()?.to_string()))
            .collect()
    }

    /// The portal's orders are cancelled by the portal, not by the scenario.
    pub fn cancel_order(&self, _order_id: &str) -> bool {
        false
    }

    pub fn progress(&self) -> Progress {
        let updates = Self::UPDATE_OPERATIONS
            .iter()
            .map(|(op, status)| self.controls().recorder.count(op, *status) as u64)
            .sum();
        self.sandbox.read(|state| Progress {
            updates,
            orders: state.orders.len() as u64,
            shipments: state.items.get("shipments").map_or(0, |s| s.len() as u64),
        })
    }

    /// What the mapping wrote: each inventory item's quantity and each price item's amount at the fields the
    /// mapping targets, orders (`CANCELLED`), shipment callbacks by order; read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        self.sandbox.read(|state| {
            let empty = BTreeMap::new();
            let endpoint = |name: &str| state.items.get(name).unwrap_or(&empty);
            let prices = endpoint("price");
            ChannelSnapshot {
                listings: endpoint("inventory")
                    .iter()
                    .map(|(sku, fields)| Listing {
                        sku: sku.clone(),
                        quantity: at(fields, &self.quantity_field).and_then(Value::as_i64),
                        price: prices
                            .get(sku)
                            .and_then(|fields| at(fields, &self.price_field))
                            .and_then(decimal),
                    })
                    .collect(),
                orders: state
                    .orders
                    .iter()
                    .filter_map(|o| {
                        Some(ChannelOrder {
                            id: o.get("orderId")?.as_str()?.to_string(),
                            cancelled: o.get("status").and_then(Value::as_str) == Some("CANCELLED"),
                        })
                    })
                    .collect(),
                // Shipment callbacks are keyed by order id.
                shipments: endpoint("shipments")
                    .iter()
                    .filter_map(|(order, fields)| {
                        let package = at(fields, &self.package_field)?.as_str()?.to_string();
                        Some((order.clone(), package))
                    })
                    .collect(),
                ..ChannelSnapshot::default()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::at;

    #[test]
    fn a_dotted_target_is_read_from_nested_fields() {
        let fields = json!({"quantityAvailable": 7, "netPrice": {"amount": "9.50"}});
        assert_eq!(at(&fields, "quantityAvailable"), Some(&json!(7)));
        assert_eq!(at(&fields, "netPrice.amount"), Some(&json!("9.50")));
        assert_eq!(at(&fields, "netPrice.currency"), None);
    }
}
