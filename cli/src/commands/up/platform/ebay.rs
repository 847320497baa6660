//! The eBay seller account of a local run: the Sell APIs sandbox with the scenario's SKUs as inventory items,
//! accepting the Secret's OAuth client and refresh token, and the account's buyers.

use std::collections::BTreeMap;
use std::sync::Arc;

use adapter_runtime::config::AdapterConfig;
use rust_decimal::Decimal;
use sandbox::RecordedCall;
use sandbox_ebay::{NewOrder, Settings};

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

pub struct Account {
    running: sandbox::Running,
    ebay: Arc<sandbox_ebay::Sandbox>,
}

/// Starts the account, seeds every SKU with nothing available, and points `config` at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Account> {
    let get = |key: &str, default: &str| {
        credentials
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let settings = Settings::new(
        &get("client_id", "local-client"),
        &get("client_secret", "local-secret"),
        &get("refresh_token", "local-refresh-token"),
    );
    let (running, ebay) = sandbox_ebay::start(settings).await?;
    for sku in super::super::scenario::SKUS {
        ebay.add_sku(sku, 0);
    }
    config.spec.endpoint.base_url = Some(running.url());
    config.spec.endpoint.token_url = Some(format!("{}/identity/v1/oauth2/token", running.url()));
    Ok(Account { running, ebay })
}

impl Account {
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn controls(&self) -> &sandbox::Controls {
        &self.ebay.controls
    }

    /// A buyer's order, with an id in eBay's `12-34567-89012` form (the connector keeps it as it is).
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        let price: Decimal = unit_price.parse().ok()?;
        let n = self.ebay.account().orders.len() + 1;
        let id = format!("12-{n:05}-00001");
        self.ebay
            .add_order(NewOrder::new(&id).line(sku, quantity, price));
        Some(id)
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] =
        &[("bulkUpdatePriceQuantity", 200)];

    /// The SKUs of an accepted `bulkUpdatePriceQuantity` call (its `requests`).
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        call.body["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some(r.get("sku")?.as_str()?.to_string()))
            .collect()
    }

    /// The sandbox has no buyer cancellation.
    pub fn cancel_order(&self, _order_id: &str) -> bool {
        false
    }

    pub fn progress(&self) -> Progress {
        let updates = Self::UPDATE_OPERATIONS
            .iter()
            .map(|(op, status)| self.ebay.controls.recorder.count(op, *status) as u64)
            .sum();
        let account = self.ebay.account();
        Progress {
            updates,
            orders: account.orders.len() as u64,
            shipments: account.fulfillments.len() as u64,
        }
    }

    /// Inventory items (quantity, the published fixed-price offer's price), orders, shipping fulfillments by
    /// tracking number; read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        let account = self.ebay.account();
        ChannelSnapshot {
            listings: account
                .listings
                .iter()
                .map(|(sku, l)| Listing {
                    sku: sku.clone(),
                    quantity: Some(l.quantity),
                    price: l.price(),
                })
                .collect(),
            orders: account
                .orders
                .iter()
                .map(|o| ChannelOrder {
                    id: o.order_id.clone(),
                    cancelled: false,
                })
                .collect(),
            // A shipping fulfillment names no package of the ERP: it is matched by its tracking number.
            shipments: account
                .fulfillments
                .iter()
                .map(|f| (f.order_id.clone(), f.tracking_number.clone()))
                .collect(),
            ..ChannelSnapshot::default()
        }
    }
}
