//! The local platform: what the operator would run in a cluster, as in-process tasks — a demo ERP with its
//! bridge for each `ErpConnection`, a channel sandbox for each `Marketplace` without an explicit endpoint, and
//! an adapter per `Marketplace`, each from the same resolved configuration the operator renders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::config::{AdapterConfig, NatsSettings, resolve_from_items};
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::metrics::Metrics;
use anyhow::{Context, bail};
use crds::channel::ChannelKind;
use crds::manifest::Document;
use crds::validation::{Item, Resource};
use demo_erp::DemoErp;
use erp_bridge::BridgeConfig;
use serde_json::Value;

use super::check::ChannelSnapshot;

mod amazon;
mod ebay;
mod mirakl;
mod rest;
mod shopify;
mod walmart;

/// How often the local mode polls channels for orders, whatever the manifests say: a local run is minutes
/// long, and the sandboxes' buckets allow it.
pub const LOCAL_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Each Secret's `stringData` from the manifests, by namespace (with the run's `suffix`, as the resources'
/// namespaces have) and name.
pub fn secrets(
    others: &[Document],
    suffix: &str,
) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for doc in others.iter().filter(|d| d.kind() == "Secret") {
        let namespace = doc
            .value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(crds::validation::DEFAULT_NAMESPACE);
        let namespace = format!("{namespace}-{suffix}");
        let data: BTreeMap<String, String> = doc
            .value
            .get("stringData")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        out.insert((namespace, doc.name().to_string()), data);
    }
    out
}

/// Writes a Secret's keys as files, the way Kubernetes mounts them.
pub fn mount(dir: &Path, data: &BTreeMap<String, String>) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (key, value) in data {
        std::fs::write(dir.join(key), value)?;
    }
    Ok(dir.to_path_buf())
}

/// What the live progress and the summary count on a channel, cheaply (no copy of its catalogue).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Stock and price updates the channel accepted.
    pub updates: u64,
    /// Orders placed by buyers.
    pub orders: u64,
    /// Packages confirmed.
    pub shipments: u64,
}

/// A channel sandbox of the local run: one module per channel starts it, seeds it, places its buyers' orders and
/// reads it back.
pub enum Sandbox {
    Amazon(amazon::Seller),
    Walmart(walmart::Seller),
    Shopify(shopify::Store),
    Ebay(ebay::Account),
    Mirakl(mirakl::Shop),
    Rest(rest::Portal),
}

/// The same call on whichever sandbox it is.
macro_rules! each {
    ($sandbox:expr, $s:ident => $call:expr) => {
        match $sandbox {
            Sandbox::Amazon($s) => $call,
            Sandbox::Walmart($s) => $call,
            Sandbox::Shopify($s) => $call,
            Sandbox::Ebay($s) => $call,
            Sandbox::Mirakl($s) => $call,
            Sandbox::Rest($s) => $call,
        }
    };
}

impl Sandbox {
    /// An Amazon sandbox started elsewhere (a test's), as the local run drives it.
    #[cfg(test)]
    pub fn amazon(sandbox: sandbox_amazon::AmazonSandbox) -> Sandbox {
        Sandbox::Amazon(amazon::Seller(sandbox))
    }

    pub fn url(&self) -> String {
        each!(self, s => s.url())
    }

    pub fn controls(&self) -> &sandbox::Controls {
        each!(self, s => s.controls())
    }

    /// Places a buyer's order; the id the channel's connector gives it, as the ERP's sales order names it.
    pub fn place_order(&self, sku: &str, quantity: i64, unit_price: &str) -> Option<String> {
        each!(self, s => s.place_order(sku, quantity, unit_price))
    }

    /// The operations whose accepted calls count as stock and price updates, and their success status.
    pub fn update_operations(&self) -> &'static [(&'static str, u16)] {
        match self {
            Sandbox::Amazon(_) => amazon::Seller::UPDATE_OPERATIONS,
            Sandbox::Walmart(_) => walmart::Seller::UPDATE_OPERATIONS,
            Sandbox::Shopify(_) => shopify::Store::UPDATE_OPERATIONS,
            Sandbox::Ebay(_) => ebay::Account::UPDATE_OPERATIONS,
            Sandbox::Mirakl(_) => mirakl::Shop::UPDATE_OPERATIONS,
            Sandbox::Rest(_) => rest::Portal::UPDATE_OPERATIONS,
        }
    }

    /// The SKUs an accepted stock or price update call was for (a batch names several), for the latencies.
    pub fn updated_skus(&self, call: &sandbox::RecordedCall) -> Vec<String> {
        each!(self, s => s.updated_skus(call))
    }

    /// Cancels a buyer's order as its buyer would; false where the sandbox has no buyer cancellations (Shopify,
    /// eBay, Mirakl, the REST portal) or the order is not there.
    pub fn cancel_order(&self, order_id: &str) -> bool {
        each!(self, s => s.cancel_order(order_id))
    }

    /// What the consistency check compares, read in place.
    pub fn snapshot(&self) -> ChannelSnapshot {
        each!(self, s => s.snapshot())
    }

    pub fn progress(&self) -> Progress {
        each!(self, s => s.progress())
    }
}

/// A marketplace the local run drives.
pub struct LocalMarketplace {
    pub namespace: String,
    pub name: String,
    pub channel: ChannelKind,
    pub config: AdapterConfig,
    pub sandbox: Option<Sandbox>,
    pub adapter: Option<tokio::task::JoinHandle<Result<(), String>>>,
    pub shutdown: Shutdown,
    pub metrics: Arc<Metrics>,
}

impl LocalMarketplace {
    /// Starts (or restarts, after [`LocalMarketplace::kill`]) its adapter.
    pub fn start_adapter(&mut self) {
        self.shutdown = Shutdown::new();
        let config = self.config.clone();
        let stop = self.shutdown.clone();
        let metrics = self.metrics.clone();
        self.adapter = Some(tokio::spawn(async move {
            adapter::run(config, stop, Arc::new(Readiness::starting()), metrics).await
        }));
    }

    /// Kills the adapter at once, as a crashed pod: nothing is finished or handed back.
    pub fn kill(&mut self) {
        if let Some(task) = self.adapter.take() {
            task.abort();
        }
    }

    /// Stops the adapter gracefully.
    pub async fn stop(&mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.adapter.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// The ERP side of one `ErpConnection`: the demo ERP and its bridge.
pub struct LocalErp {
    pub name: String,
    pub erp: DemoErp,
    pub bridge: tokio::task::JoinHandle<Result<(), String>>,
    pub shutdown: Shutdown,
}

/// Starts the demo ERP and the bridge of every `ErpConnection` in `items`.
pub async fn start_erps(
    items: &[Item],
    secrets: &BTreeMap<(String, String), BTreeMap<String, String>>,
    pg_url: &str,
    nats: &NatsSettings,
    work: &Path,
) -> anyhow::Result<Vec<LocalErp>> {
    let mut out = Vec::new();
    for item in items {
        let Resource::ErpConnection(erp) = &item.resource else {
            continue;
        };
        let Some(rest) = &erp.spec.sink.rest else {
            bail!(
                "ErpConnection/{}: the local mode runs the demo ERP behind a `rest` sink; this one has none",
                item.name
            );
        };
        let token_secret = rest.token_secret_ref.as_ref();
        let token = token_secret
            .and_then(|s| {
                secrets
                    .get(&(item.namespace.clone(), s.name.clone()))?
                    .get(&s.key)
                    .cloned()
            })
            .unwrap_or_else(|| demo_erp::Options::default().api_token);
        let demo = DemoErp::start(
            pg_url,
            "127.0.0.1:0",
            demo_erp::Options {
                api_token: token.clone(),
                ..demo_erp::Options::default()
            },
        )
        .await
        .with_context(|| format!("starting the demo ERP for ErpConnection/{}", item.name))?;
        let mut spec = erp.spec.clone();
        let secrets_dir = work.join("bridge-secrets").join(&item.name);
        if let Some(outbox) = spec.source.postgres_outbox.as_mut() {
            outbox.dsn_secret_ref.name = "local-demo-erp".into();
            outbox.dsn_secret_ref.key = "dsn".into();
            outbox.poll_interval = Duration::from_millis(200).into();
        }
        if let Some(rest) = spec.sink.rest.as_mut() {
            rest.base_url = demo.url();
            rest.token_secret_ref = Some(crds::v1alpha1::SecretKeySelector {
                name: "local-demo-erp".into(),
                key: "api-token".into(),
            });
        }
        mount(
            &secrets_dir.join("local-demo-erp"),
            &BTreeMap::from([
                ("dsn".to_string(), pg_url.to_string()),
                ("api-token".to_string(), token),
            ]),
        )?;
        let marketplaces = items
            .iter()
            .filter_map(|i| match &i.resource {
                Resource::Marketplace(m)
                    if i.namespace == item.namespace
                        && m.spec.erp_connection_ref.name == item.name =>
                {
                    Some(i.name.clone())
                }
                _ => None,
            })
            .collect();
        let config = BridgeConfig {
            namespace: item.namespace.clone(),
            erp_connection: item.name.clone(),
            spec,
            marketplaces,
            sink_rate_limits: None,
            nats: nats.clone(),
            secrets_dir,
            http_address: "127.0.0.1:0".into(),
        };
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let bridge = tokio::spawn(erp_bridge::run(config, stop, Arc::new(Metrics::new())));
        out.push(LocalErp {
            name: item.name.clone(),
            erp: demo,
            bridge,
            shutdown,
        });
    }
    if out.is_empty() {
        bail!("no ErpConnection in the manifests: the local mode needs one for the demo ERP");
    }
    Ok(out)
}

/// Whether `url` is a placeholder, not an endpoint: its host is under a name reserved for documentation and
/// tests (RFC 2606 and 6761: `.example`, `.test`, `.invalid`, `example.com|net|org`), so it can never be a
/// real marketplace. A REST portal's `spec.endpoint.baseUrl` is required, so a folder meant for the local
/// mode names one of these, and gets the portal's sandbox like an unset endpoint.
pub fn placeholder(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    [
        "example",
        "test",
        "invalid",
        "example.com",
        "example.net",
        "example.org",
    ]
    .into_iter()
    .any(under)
}

/// Prepares every `Marketplace`: its sandbox when it has no explicit endpoint, its credentials, its adapter
/// configuration. Marketplaces of channels without a sandbox in this build are returned as skipped, with why.
pub async fn prepare_marketplaces(
    items: &[Item],
    secrets: &BTreeMap<(String, String), BTreeMap<String, String>>,
    nats: &NatsSettings,
    work: &Path,
) -> anyhow::Result<(Vec<LocalMarketplace>, Vec<String>)> {
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for item in items {
        let Resource::Marketplace(marketplace) = &item.resource else {
            continue;
        };
        let spec = &marketplace.spec;
        let credentials = secrets
            .get(&(
                item.namespace.clone(),
                spec.credentials_secret_ref.name.clone(),
            ))
            .cloned()
            .unwrap_or_default();
        let credentials_dir = mount(&work.join("credentials").join(&item.name), &credentials)?;
        let mut config = resolve_from_items(
            items,
            &item.namespace,
            &item.name,
            nats.clone(),
            credentials_dir,
        )
        .map_err(anyhow::Error::msg)?;
        if let Some(orders) = config.spec.flows.orders.as_mut() {
            orders.poll_interval = LOCAL_POLL_INTERVAL.into();
        }
        config.ack_wait = Duration::from_secs(5);
        let explicit = spec
            .endpoint
            .base_url
            .as_deref()
            .is_some_and(|url| !placeholder(url));
        let sandbox = match (spec.channel, explicit) {
            (_, true) => None,
            (ChannelKind::Amazon, false) => Some(Sandbox::Amazon(
                amazon::start(&credentials, &mut config).await?,
            )),
            (ChannelKind::Walmart, false) => Some(Sandbox::Walmart(
                walmart::start(&credentials, &mut config).await?,
            )),
            (ChannelKind::Shopify, false) => Some(Sandbox::Shopify(
                shopify::start(&credentials, &mut config).await?,
            )),
            (ChannelKind::Ebay, false) => {
                Some(Sandbox::Ebay(ebay::start(&credentials, &mut config).await?))
            }
            (ChannelKind::Mirakl, false) => Some(Sandbox::Mirakl(
                mirakl::start(&credentials, &mut config).await?,
            )),
            (ChannelKind::Rest, false) => {
                Some(Sandbox::Rest(rest::start(&credentials, &mut config).await?))
            }
            (other, false) => {
                skipped.push(format!(
                    "Marketplace/{}: no {other} sandbox in this build yet; give spec.endpoint.baseUrl to run it against a real endpoint",
                    item.name
                ));
                continue;
            }
        };
        ready.push(LocalMarketplace {
            namespace: item.namespace.clone(),
            name: item.name.clone(),
            channel: spec.channel,
            config,
            sandbox,
            adapter: None,
            shutdown: Shutdown::new(),
            metrics: Arc::new(Metrics::new()),
        });
    }
    Ok((ready, skipped))
}

#[cfg(test)]
mod tests {
    use super::placeholder;

    #[test]
    fn only_hosts_under_reserved_names_are_placeholders() {
        for url in [
            "https://portal.b2b.example/api/v2",
            "https://example.com",
            "http://shop.example.org:8443/x",
            "https://user@portal.test/",
            "https://nowhere.invalid",
            "https://PORTAL.EXAMPLE./api",
        ] {
            assert!(placeholder(url), "{url}");
        }
        for url in [
            "https://portal.b2b-sandbox.com/api",
            "https://example.company.com",
            "https://tradewind-sandbox.mirakl.net",
            "http://127.0.0.1:8080",
            "https://myexample.com",
            "https://api.example.io?next=x.example",
        ] {
            assert!(!placeholder(url), "{url}");
        }
    }
}
