//! The Walmart seller account of a local run: the Marketplace API sandbox with the scenario's SKUs as items,
//! accepting the Secret's client credentials, and its buyers.

use std::collections::BTreeMap;

use adapter_runtime::config::AdapterConfig;
use sandbox_walmart::{Credentials, Options, WalmartSandbox};
use serde_json::Value;

use sandbox::RecordedCall;

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

pub struct Seller(WalmartSandbox);

/// Starts the account, seeds the SKUs, and points `config` (and its token URL) at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Seller> {
    let get = |key: &str, default: String| credentials.get(key).cloned().unwrap_or(default);
    let defaults = Credentials::default();
    let sandbox = sandbox_walmart::start_with(
        "127.0.0.1:0",
        Options {
            credentials: Credentials {
                client_id: get("client_id", defaults.client_id),
                client_secret: get("client_secret", defaults.client_secret),
                token_seconds: defaults.token_seconds,
            },
            ..Options::default()
        },
    )
    .await?;
    sandbox.seed_items(super::super::scenario::SKUS);
    config.spec.endpoint.base_url = Some(sandbox.url());
    config.spec.endpoint.token_url = Some(sandbox.token_url());
    Ok(Seller(sandbox))
}

impl Seller {
    pub fn url(&self) -> String {
        self.0.url()
    }

    pub fn controls(&self) -> &sandbox::Controls {
        self.0.controls()
    }

    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        Some(
            self.0
                .place_order(sku, u32::try_from(quantity).ok()?, unit_price),
        )
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] =
        &[("updateInventoryForAnItem", 200), ("updatePrice", 200)];

    /// The SKU an accepted update call was for.
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        super::super::updated_sku(call).into_iter().collect()
    }

    /// Buyers cancel Walmart orders line by line; the scenario's orders have one line.
    pub fn cancel_order(&self, order_id: &str) -> bool {
        self.0.buyer_cancels(order_id, "1")
    }

    pub fn progress(&self) -> Progress {
        let updates = Self::UPDATE_OPERATIONS
            .iter()
            .map(|(op, status)| self.controls().recorder.count(op, *status) as u64)
            .sum();
        let (orders, shipments) = self.0.read(|state| {
            let shipped = state
                .orders
                .values()
                .flat_map(lines)
                .filter(|l| l.0 == "Shipped")
                .count();
            (state.orders.len() as u64, shipped as u64)
        });
        Progress {
            updates,
            orders,
            shipments,
        }
    }

    /// Items (listed once an inventory update reached them; the BASE price), orders (a cancelled line counts
    /// as cancelled), shipped lines by tracking number; read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        self.0.read(|state| ChannelSnapshot {
            listings: state
                .items
                .iter()
                .map(|(sku, i)| Listing {
                    sku: sku.clone(),
                    quantity: i.inventory_correlation_id.as_ref().map(|_| i.quantity),
                    price: i.price.as_ref().map(|p| p.amount),
                })
                .collect(),
            orders: state
                .orders
                .iter()
                .map(|(id, order)| ChannelOrder {
                    id: id.clone(),
                    cancelled: lines(order).any(|l| l.0 == "Cancelled"),
                })
                .collect(),
            // Walmart's shipping update names no package: a package is confirmed by its tracking number.
            shipments: state
                .orders
                .iter()
                .flat_map(|(id, order)| {
                    lines(order)
                        .filter(|l| l.0 == "Shipped")
                        .filter_map(|l| Some((id.clone(), l.1?)))
                        .collect::<Vec<_>>()
                })
                .collect(),
            ..ChannelSnapshot::default()
        })
    }
}

/// Each line's status and, once shipped, its tracking number, from an order as Walmart's `getAllOrders` serves it.
fn lines(order: &Value) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    order
        .pointer("/orderLines/orderLine")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let status = line.pointer("/orderLineStatuses/orderLineStatus/0")?;
            Some((
                status.get("status")?.as_str()?.to_string(),
                status
                    .pointer("/trackingInfo/trackingNumber")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ))
        })
}
