//! The Amazon seller account of a local run: the SP-API sandbox, accepting the Secret's LWA client and
//! refresh token, and its buyers. Listings appear as the adapter patches them.

use std::collections::BTreeMap;

use adapter_runtime::config::AdapterConfig;
use sandbox_amazon::{AmazonSandbox, Credentials};
use serde_json::Value;

use sandbox::RecordedCall;

use super::ChannelView;

pub struct Seller(AmazonSandbox);

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

    pub fn view(&self) -> ChannelView {
        let state = self.0.snapshot();
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        ChannelView {
            updates: state.listings.values().map(|l| l.patches).sum(),
            listings: state
                .listings
                .iter()
                .map(|(k, l)| (k.clone(), l.quantity))
                .collect(),
            orders: state
                .orders
                .iter()
                .map(|o| (o.order_id.clone(), o.cancel_requested))
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
        }
    }
}
