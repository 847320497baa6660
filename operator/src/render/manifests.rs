//! Rendering a validated set of manifests without a cluster, for `twctl render` and the golden tests: each
//! Marketplace with the resources it references, Secrets present in the set counted as version "1".

use crds::validation::{Report, Resource};

use super::adapter::referenced_secrets;
use super::bridge::{BridgeInputs, RenderedBridge, render_bridge};
use super::jetstream::TopologyView;
use super::{MarketplaceInputs, RenderError, RenderedMarketplace, render_marketplace};
use crate::settings::RenderSettings;

/// `(namespace, name)` of every Secret in the set.
fn secrets_in(report: &Report) -> Vec<(String, String)> {
    report
        .others
        .iter()
        .filter(|d| d.kind() == "Secret")
        .map(|d| {
            let namespace = d
                .value
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .unwrap_or(crds::validation::DEFAULT_NAMESPACE)
                .to_string();
            (namespace, d.name().to_string())
        })
        .collect()
}

/// A fixed uid: owner references are stable in golden files and diffs.
const FIXED_UID: &str = "00000000-0000-4000-8000-000000000001";

/// Every ErpConnection of `report` rendered as its bridge, by `(namespace, name)`, in the set's order; its
/// marketplaces are the set's Marketplaces that reference it.
pub fn render_bridges(
    report: &Report,
    settings: &RenderSettings,
) -> Vec<((String, String), Result<RenderedBridge, RenderError>)> {
    let secrets = secrets_in(report);
    let mut out = Vec::new();
    for item in &report.items {
        let Resource::ErpConnection(connection) = &item.resource else {
            continue;
        };
        let mut connection = (**connection).clone();
        connection.metadata.namespace = Some(item.namespace.clone());
        connection.metadata.uid = Some(FIXED_UID.into());
        let marketplaces = report
            .items
            .iter()
            .filter(|i| i.namespace == item.namespace)
            .filter_map(|i| match &i.resource {
                Resource::Marketplace(m) if m.spec.erp_connection_ref.name == item.name => {
                    Some(i.name.clone())
                }
                _ => None,
            })
            .collect();
        let policy_name = connection
            .spec
            .sink
            .rest
            .as_ref()
            .and_then(|r| r.rate_limit_policy_ref.as_ref())
            .map(|r| r.name.clone());
        let sink_rate_limits = policy_name.and_then(|name| {
            report.items.iter().find_map(|i| match &i.resource {
                Resource::RateLimitPolicy(p) if i.namespace == item.namespace && i.name == name => {
                    Some((**p).clone())
                }
                _ => None,
            })
        });
        let secret_versions = super::bridge::referenced_secrets(&connection, settings)
            .into_iter()
            .map(|name| {
                let present = secrets.contains(&(item.namespace.clone(), name.clone()));
                (name, present.then(|| "1".to_string()))
            })
            .collect();
        let inputs = BridgeInputs {
            connection: &connection,
            marketplaces,
            sink_rate_limits: sink_rate_limits.as_ref(),
            secret_versions,
        };
        out.push((
            (item.namespace.clone(), item.name.clone()),
            render_bridge(&inputs, settings),
        ));
    }
    out
}

/// Every Marketplace of `report` rendered, by `(namespace, name)`, in the set's order.
pub fn render_report(
    report: &Report,
    settings: &RenderSettings,
) -> Vec<((String, String), Result<RenderedMarketplace, RenderError>)> {
    let secrets = secrets_in(report);
    let mut out = Vec::new();
    for item in &report.items {
        let Resource::Marketplace(marketplace) = &item.resource else {
            continue;
        };
        let mut marketplace = (**marketplace).clone();
        marketplace.metadata.namespace = Some(item.namespace.clone());
        marketplace.metadata.uid = Some(FIXED_UID.into());
        let find = |kind: &str, name: &str| {
            report
                .items
                .iter()
                .find(|i| {
                    i.namespace == item.namespace && i.name == name && i.resource.kind() == kind
                })
                .map(|i| &i.resource)
        };
        let mapping = match find("ChannelMapping", &marketplace.spec.channel_mapping_ref.name) {
            Some(Resource::ChannelMapping(m)) => Some((**m).clone()),
            _ => None,
        };
        let rate_limits = match find(
            "RateLimitPolicy",
            &marketplace.spec.rate_limit_policy_ref.name,
        ) {
            Some(Resource::RateLimitPolicy(p)) => Some((**p).clone()),
            _ => None,
        };
        let secret_versions = referenced_secrets(&marketplace, settings)
            .into_iter()
            .map(|name| {
                let present = secrets.contains(&(item.namespace.clone(), name.clone()));
                (name, present.then(|| "1".to_string()))
            })
            .collect();
        let inputs = MarketplaceInputs {
            marketplace: &marketplace,
            mapping: mapping.as_ref(),
            rate_limits: rate_limits.as_ref(),
            secret_versions,
        };
        out.push((
            (item.namespace.clone(), item.name.clone()),
            render_marketplace(&inputs, settings),
        ));
    }
    out
}

/// The objects of one rendered Marketplace as a YAML stream: ConfigMap, ServiceAccount, Deployment, Service,
/// then the JetStream streams and consumers.
pub fn to_yaml(rendered: &RenderedMarketplace) -> Result<String, serde_yaml_ng::Error> {
    let documents = [
        serde_yaml_ng::to_string(&rendered.config_map)?,
        serde_yaml_ng::to_string(&rendered.service_account)?,
        serde_yaml_ng::to_string(&rendered.deployment)?,
        serde_yaml_ng::to_string(&rendered.service)?,
        serde_yaml_ng::to_string(&TopologyView::from(&rendered.topology))?,
    ];
    Ok(documents.join("---\n"))
}
