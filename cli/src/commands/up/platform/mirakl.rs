//! The Mirakl shop of a local run: the seller API sandbox with the scenario's SKUs as offers, accepting the
//! Secret's API key, and the shop's buyers.
//!
//! Mirakl publishes once-a-minute frequencies for stock imports (STO01), offer updates (OF24) and the order
//! list (OR11). A local run lasts a minute or two, in which that allows one or two calls: the local mode runs
//! every published frequency at once per [`SERVER_PERIOD`] on the sandbox and paces the adapter at once per
//! [`CLIENT_PERIOD`] (a little slower, as the policy in a cluster paces at the published figure), just as
//! it polls orders every 2 s whatever `pollInterval` says. The manifests keep Mirakl's published figures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::config::AdapterConfig;
use rust_decimal::Decimal;
use sandbox::RecordedCall;
use sandbox_mirakl::{NewOrder, OrderState, Settings};
use serde_json::Value;

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

/// How often the sandbox allows each operation Mirakl publishes a frequency for, in a local run.
pub const SERVER_PERIOD: Duration = Duration::from_secs(3);
/// How often the adapter calls each of them, in a local run.
pub const CLIENT_PERIOD: Duration = Duration::from_secs(4);

pub struct Shop {
    running: sandbox::Running,
    mirakl: Arc<sandbox_mirakl::Sandbox>,
}

/// Starts the shop with every SKU as an offer, shortens the published frequencies (on the sandbox and in the
/// adapter's policy alike), and points `config` at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Shop> {
    let key = credentials
        .get("api_key")
        .map_or("local-api-key", String::as_str);
    let server_ms = u64::try_from(SERVER_PERIOD.as_millis()).unwrap_or(u64::MAX);
    let settings = Settings::new(key).every_limit_once_per(server_ms);
    for operation in &mut config.rate_limits.spec.operations {
        if settings.limits.contains_key(&operation.name)
            && let Some(bucket) = operation.token_bucket.as_mut()
        {
            bucket.per = CLIENT_PERIOD.into();
        }
    }
    let (running, mirakl) = sandbox_mirakl::start(settings).await?;
    mirakl.add_offers(super::super::scenario::SKUS);
    config.spec.endpoint.base_url = Some(running.url());
    Ok(Shop { running, mirakl })
}

impl Shop {
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn controls(&self) -> &sandbox::Controls {
        &self.mirakl.controls
    }

    /// A buyer's order, waiting for the shop's acceptance (OR21, once the ERP has taken it).
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        let price: Decimal = unit_price.parse().ok()?;
        let n = self.mirakl.shop().orders.len() + 1;
        let id = format!("LOCAL-{n:06}-A");
        let mut order = NewOrder::new(&id).line(sku, quantity, price);
        order.currency = "USD".into();
        self.mirakl.add_order(order);
        Some(id)
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] = &[("STO01", 201), ("OF24", 201)];

    /// The SKUs of an accepted stock import (the lines of its CSV file, recorded as text) or offer update
    /// (its `offers`).
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        match (call.operation.as_str(), &call.body) {
            ("STO01", Value::String(file)) => sandbox_mirakl::stock_csv::parse(file)
                .map(|lines| lines.into_iter().map(|l| l.offer_sku).collect())
                .unwrap_or_default(),
            ("OF24", body) => body["offers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| Some(o.get("shop_sku")?.as_str()?.to_string()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Buyers do not cancel Mirakl orders in the sandbox (the shop refuses or cancels them itself).
    pub fn cancel_order(&self, _order_id: &str) -> bool {
        false
    }

    pub fn progress(&self) -> Progress {
        let updates = Self::UPDATE_OPERATIONS
            .iter()
            .map(|(op, status)| self.mirakl.controls.recorder.count(op, *status) as u64)
            .sum();
        let shop = self.mirakl.shop();
        Progress {
            updates,
            orders: shop.orders.len() as u64,
            shipments: shipped(&shop).count() as u64,
        }
    }

    /// Offers (quantity and price), orders (refused or cancelled ones stand no more), shipped orders by
    /// tracking number; read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        let shop = self.mirakl.shop();
        ChannelSnapshot {
            listings: shop
                .offers
                .iter()
                .map(|(sku, offer)| Listing {
                    sku: sku.clone(),
                    quantity: Some(offer.quantity),
                    price: offer.price,
                })
                .collect(),
            orders: shop
                .orders
                .iter()
                .map(|o| ChannelOrder {
                    id: o.order_id.clone(),
                    cancelled: matches!(o.state, OrderState::Refused | OrderState::Canceled),
                })
                .collect(),
            // OR23/OR24 name no package of the ERP: a shipped order is matched by its tracking number.
            shipments: shipped(&shop).collect(),
            ..ChannelSnapshot::default()
        }
    }
}

/// Shipped orders with their tracking number.
fn shipped(shop: &sandbox_mirakl::Shop) -> impl Iterator<Item = (String, String)> + '_ {
    shop.orders
        .iter()
        .filter(|o| o.state == OrderState::Shipped)
        .filter_map(|o| {
            let tracking = o.tracking.as_ref()?.tracking_number.clone()?;
            Some((o.order_id.clone(), tracking))
        })
}
