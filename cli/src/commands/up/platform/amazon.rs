//! The Amazon seller account of a local run: the SP-API sandbox, accepting the Secret's LWA client and
//! refresh token, and its buyers. Listings appear as the adapter patches them.
//!
//! Amazon publishes `searchOrders` at 0.0056 requests per second with a burst of 20: polled every 2 s, a
//! local run spends the burst in 40 s and then waits three minutes a poll, so the orders of a one-minute run
//! would not arrive. The local mode allows one poll per [`SERVER_ORDERS_PERIOD`] on the sandbox and paces the
//! adapter at one per [`CLIENT_ORDERS_PERIOD`] (a little slower, as a policy in a cluster paces at the
//! published figure), as it polls every 2 s whatever `pollInterval` says. The manifests keep the published
//! figures.

use std::collections::BTreeMap;
use std::time::Duration;

use adapter_runtime::config::AdapterConfig;
use sandbox_amazon::{AmazonSandbox, Credentials};
use serde_json::Value;

use sandbox::RecordedCall;

use super::Progress;
use crate::commands::up::check::{ChannelOrder, ChannelSnapshot, Listing};

/// How often the sandbox allows `searchOrders` in a local run.
pub const SERVER_ORDERS_PERIOD: Duration = Duration::from_secs(2);
/// How often the adapter calls it in a local run.
pub const CLIENT_ORDERS_PERIOD: Duration = Duration::from_millis(2_500);
const SEARCH_ORDERS: &str = "searchOrders";

pub struct Seller(pub(super) AmazonSandbox);

/// Starts the account and points `config` (and its token URL) at it.
pub async fn start(
    credentials: &BTreeMap<String, String>,
    config: &mut AdapterConfig,
) -> anyhow::Result<Seller> {
    let get = |key: &str, default: String| credentials.get(key).cloned().unwrap_or(default);
    let defaults = Credentials::default();
    let sandbox = sandbox_amazon::start(
        "127.0.0.1:0",
        Credentials {
            client_id: get("client_id", defaults.client_id),
            client_secret: get("client_secret", defaults.client_secret),
            refresh_token: get("refresh_token", defaults.refresh_token),
        },
    )
    .await?;
    if let Some(published) = crds::channel::ChannelKind::Amazon
        .operation(SEARCH_ORDERS)
        .and_then(|o| o.published)
    {
        sandbox.override_limit(
            SEARCH_ORDERS,
            crds::channel::PublishedLimit {
                requests: 1,
                per_millis: u64::try_from(SERVER_ORDERS_PERIOD.as_millis()).unwrap_or(u64::MAX),
                ..published
            },
        );
    }
    for operation in &mut config.rate_limits.spec.operations {
        if operation.name == SEARCH_ORDERS
            && let Some(bucket) = operation.token_bucket.as_mut()
        {
            bucket.requests = 1;
            bucket.per = CLIENT_ORDERS_PERIOD.into();
        }
    }
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
        Some(self.0.place_order(sku, quantity, unit_price))
    }

    pub const UPDATE_OPERATIONS: &'static [(&'static str, u16)] = &[("patchListingsItem", 200)];

    /// The SKU an accepted update call was for.
    pub fn updated_skus(&self, call: &RecordedCall) -> Vec<String> {
        super::super::updated_sku(call).into_iter().collect()
    }

    pub fn cancel_order(&self, order_id: &str) -> bool {
        self.0.cancel_order(order_id)
    }

    pub fn progress(&self) -> Progress {
        let state = self.0.state.lock();
        Progress {
            updates: state.listings.values().map(|l| l.patches).sum(),
            orders: state.orders.len() as u64,
            shipments: state.shipments.len() as u64,
        }
    }

    /// Listings (quantity and price, `our_price` as a decimal), orders (a buyer's cancellation request counts
    /// as cancelled), confirmed packages by package reference; read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        let state = self.0.state.lock();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        ChannelSnapshot {
            listings: state
                .listings
                .iter()
                .map(|(sku, l)| Listing {
                    sku: sku.clone(),
                    quantity: l.quantity,
                    price: l.price.as_deref().and_then(|p| p.parse().ok()),
                })
                .collect(),
            orders: state
                .orders
                .iter()
                .map(|o| ChannelOrder {
                    id: o.order_id.clone(),
                    cancelled: o.cancel_requested,
                })
                .collect(),
            shipments: state
                .shipments
                .iter()
                .map(|c| {
                    (
                        text(&c["orderId"]),
                        text(&c["packageDetail"]["packageReferenceId"]),
                    )
                })
                .collect(),
            ..ChannelSnapshot::default()
        }
    }
}
