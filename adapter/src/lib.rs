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
            let rejects = dead_letters_of(&parts.0, parts.4.clone());
            let connector = channel_rest::RestConnector::from_config(&parts.0, r)
                .map(|c| c.with_rejects(rejects));
            with(connector, parts).await
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
        ChannelKind::EdiX12 => {
            with(channel_edi::EdiConnector::from_config(&parts.0, r), parts).await
        }
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
    let reject = dead_letters_of(config, metrics.clone());
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
    let accept: channel_rest::webhook::Accept = Arc::new(move |record| {
        let publisher = publisher.clone();
        Box::pin(async move {
            match publisher.get() {
                Some(publisher) => publisher.publish(record).await.map(|_| ()),
                None => Err("not connected to NATS yet".into()),
            }
        })
    });
    Ok(Some(Arc::new(webhook).router(accept, Some(reject))))
}

/// Stores what the rest channel could not read (a polled or pushed order that is not one) in the dead-letter
/// stream, connecting to NATS on first use.
fn dead_letters_of(config: &AdapterConfig, metrics: Arc<Metrics>) -> channel_rest::webhook::Reject {
    use adapter_runtime::flow::PushPublisher;
    let cell: Arc<tokio::sync::OnceCell<PushPublisher>> = Arc::default();
    let config = Arc::new(config.clone());
    Arc::new(move |key, body, reason| {
        let (cell, config, metrics) = (cell.clone(), config.clone(), metrics.clone());
        Box::pin(async move {
            let publisher = cell
                .get_or_try_init(|| {
                    PushPublisher::connect(&config, crds::channel::Flow::Orders, metrics)
                })
                .await?;
            publisher
                .dead_letter(
                    &key,
                    body,
                    reason,
                    adapter_runtime::jetstream::ErrorClass::BadPayload,
                )
                .await
        })
    })
}
