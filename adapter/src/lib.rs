//! The adapter with every channel's connector: picks the connector of a Marketplace's `spec.channel` and runs
//! the flows with it ([`adapter_runtime::app::run`]). The `tradewind-adapter` binary and the local mode
//! (`twctl up`) both start adapters through [`run`].

use std::sync::Arc;

use adapter_runtime::config::AdapterConfig;
use adapter_runtime::connector::Connector;
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
    let r = resilience.clone();
    let parts = (config, resilience, shutdown, readiness, metrics);
    match parts.0.spec.channel {
        ChannelKind::Rest => {
            with(channel_rest::RestConnector::from_config(&parts.0, r), parts).await
        }
        ChannelKind::Amazon => {
            with(
                channel_amazon::AmazonConnector::from_config(&parts.0, r),
                parts,
            )
            .await
        }
        ChannelKind::Walmart => {
            with(
                channel_walmart::WalmartConnector::from_config(&parts.0, r),
                parts,
            )
            .await
        }
        ChannelKind::Mirakl => {
            with(
                channel_mirakl::MiraklConnector::from_config(&parts.0, r),
                parts,
            )
            .await
        }
        ChannelKind::Shopify => {
            with(
                channel_shopify::ShopifyConnector::from_config(&parts.0, r),
                parts,
            )
            .await
        }
        ChannelKind::Ebay => {
            with(channel_ebay::EbayConnector::from_config(&parts.0, r), parts).await
        }
        other => Err(format!(
            "spec.channel: no connector for {other} in this build yet (available: amazon, walmart, mirakl, shopify, ebay, rest)"
        )),
    }
}

/// Runs the flows with a connector that was built, or returns why it could not be.
async fn with<C: Connector>(
    connector: Result<C, String>,
    (config, resilience, shutdown, readiness, metrics): (
        AdapterConfig,
        Arc<Resilience>,
        Shutdown,
        Arc<Readiness>,
        Arc<Metrics>,
    ),
) -> Result<(), String> {
    adapter_runtime::app::run(
        config,
        Arc::new(connector?),
        Some(resilience),
        shutdown,
        readiness,
        metrics,
    )
    .await
}

/// The channel's own HTTP routes for the adapter's server, if it has any: the `rest` channel's signed order
/// webhook when `spec.rest.orders.webhook` is set: orders published, signed requests that are not orders
/// dead-lettered. The route exists from the start and answers 503 until NATS is reached (the publisher
/// connects in the background, so `/healthz` is served meanwhile).
pub fn channel_routes(
    config: &AdapterConfig,
    metrics: Arc<Metrics>,
) -> Result<Option<channel_rest::webhook::Router>, String> {
    let Some(webhook) = channel_rest::Webhook::from_config(config)? else {
        return Ok(None);
    };
    let publisher: Arc<std::sync::OnceLock<adapter_runtime::flow::PushPublisher>> = Arc::default();
    let cell = publisher.clone();
    let settings = config.clone();
    tokio::spawn(async move {
        match adapter_runtime::flow::PushPublisher::connect(
            &settings,
            crds::channel::Flow::Orders,
            metrics,
        )
        .await
        {
            Ok(connected) => {
                let _ = cell.set(connected);
            }
            Err(e) => tracing::error!(error = %e, "the order webhook cannot publish"),
        }
    });
    let cell = publisher.clone();
    let accept: channel_rest::webhook::Accept = Arc::new(move |record| {
        let publisher = cell.clone();
        Box::pin(async move {
            match publisher.get() {
                Some(publisher) => publisher.publish(record).await.map(|_| ()),
                None => Err("not connected to NATS yet".into()),
            }
        })
    });
    let reject: channel_rest::webhook::Reject = Arc::new(move |key, body, reason| {
        let publisher = publisher.clone();
        Box::pin(async move {
            match publisher.get() {
                Some(publisher) => {
                    publisher
                        .dead_letter(
                            &key,
                            body,
                            reason,
                            adapter_runtime::jetstream::ErrorClass::BadPayload,
                        )
                        .await
                }
                None => Err("not connected to NATS yet".into()),
            }
        })
    });
    Ok(Some(Arc::new(webhook).router(accept, Some(reject))))
}
