//! The adapter with every channel's connector: picks the connector of a Marketplace's `spec.channel` and runs
//! the flows with it ([`adapter_runtime::app::run`]). The `tradewind-adapter` binary and the local mode
//! (`twctl up`) both start adapters through [`run`].

use std::sync::Arc;

use adapter_runtime::config::AdapterConfig;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::metrics::Metrics;
use adapter_runtime::resilience::Resilience;
use crds::channel::ChannelKind;

/// Runs the adapter of `config` with its channel's connector until `shutdown`.
pub async fn run(
    config: AdapterConfig,
    shutdown: Shutdown,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let replicas = u32::try_from(config.spec.adapter.replicas.max(1)).unwrap_or(1);
    let resilience = Arc::new(Resilience::new(config.rate_limits.spec.clone(), replicas));
    match config.spec.channel {
        ChannelKind::Rest => {
            let connector = channel_rest::RestConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        ChannelKind::Amazon => {
            let connector =
                channel_amazon::AmazonConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        ChannelKind::Walmart => {
            let connector =
                channel_walmart::WalmartConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        ChannelKind::Mirakl => {
            let connector =
                channel_mirakl::MiraklConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        ChannelKind::Shopify => {
            let connector =
                channel_shopify::ShopifyConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        ChannelKind::Ebay => {
            let connector = channel_ebay::EbayConnector::from_config(&config, resilience.clone())?;
            adapter_runtime::app::run(
                config,
                Arc::new(connector),
                Some(resilience),
                shutdown,
                readiness,
                metrics,
            )
            .await
        }
        other => Err(format!(
            "spec.channel: no connector for {other} in this build yet (available: amazon, walmart, mirakl, shopify, ebay, rest)"
        )),
    }
}
