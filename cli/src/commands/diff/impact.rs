//! Which marketplaces and flows a change reaches through references: a `RateLimitPolicy` used by three
//! marketplaces changes all three. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crds::channel::{Direction, Flow};
use crds::validation::{Item, Resource};

use super::changes::{Change, Key};

/// A marketplace a pull request affects, with the flows and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Impact {
    pub flows: BTreeSet<Flow>,
    /// `Kind/name` of each changed resource that reaches it.
    pub because: BTreeSet<String>,
}

/// Affected marketplaces by `(namespace, name)`.
pub fn impacts(
    before: &[Item],
    after: &[Item],
    changes: &BTreeMap<Key, Change>,
) -> BTreeMap<(String, String), Impact> {
    let mut out: BTreeMap<(String, String), Impact> = BTreeMap::new();
    let marketplaces: Vec<&Item> = before
        .iter()
        .chain(after.iter())
        .filter(|i| matches!(i.resource, Resource::Marketplace(_)))
        .collect();
    for (key, change) in changes {
        let changed_paths: Vec<&str> = match change {
            Change::Modified(fields) => fields.iter().map(|f| f.path.as_str()).collect(),
            _ => Vec::new(),
        };
        for m in &marketplaces {
            let Resource::Marketplace(marketplace) = &m.resource else {
                continue;
            };
            if m.namespace != key.namespace {
                continue;
            }
            let spec = &marketplace.spec;
            let enabled = spec.flows.enabled();
            let flows: Option<Vec<Flow>> = match key.kind {
                "Marketplace" if m.name == key.name => {
                    Some(flows_named(&changed_paths, "spec.flows.", &enabled))
                }
                "ChannelMapping" if spec.channel_mapping_ref.name == key.name => {
                    Some(flows_named(&changed_paths, "spec.flows[flow=", &enabled))
                }
                "RateLimitPolicy" if spec.rate_limit_policy_ref.name == key.name => {
                    Some(enabled.clone())
                }
                "ErpConnection" if spec.erp_connection_ref.name == key.name => {
                    Some(erp_flows(&changed_paths, &enabled))
                }
                "SyncSchedule" => schedule_flow(before, after, key, &m.name),
                _ => None,
            };
            if let Some(flows) = flows {
                let entry = out
                    .entry((m.namespace.clone(), m.name.clone()))
                    .or_default();
                entry.flows.extend(flows);
                entry.because.insert(format!("{}/{}", key.kind, key.name));
            }
        }
    }
    out
}

/// The flows named by changed paths under `prefix` (`spec.flows.inventory...`, `spec.flows[flow=price]...`);
/// every enabled flow when a change is elsewhere (endpoint, credentials, value maps) or the resource is new or
/// gone.
fn flows_named(paths: &[&str], prefix: &str, enabled: &[Flow]) -> Vec<Flow> {
    if paths.is_empty() {
        return enabled.to_vec();
    }
    let mut flows = BTreeSet::new();
    for path in paths {
        let named = path.strip_prefix(prefix).and_then(|rest| {
            Flow::ALL.into_iter().find(|f| {
                rest.starts_with(f.as_str())
                    && !rest[f.as_str().len()..].starts_with(char::is_alphanumeric)
            })
        });
        match named {
            Some(flow) => {
                flows.insert(flow);
            }
            None => return enabled.to_vec(),
        }
    }
    flows.into_iter().collect()
}

/// An ERP connection's source feeds the outbound flows, its sink takes the inbound ones.
fn erp_flows(paths: &[&str], enabled: &[Flow]) -> Vec<Flow> {
    let source = paths.iter().all(|p| p.starts_with("spec.source"));
    let sink = paths.iter().all(|p| p.starts_with("spec.sink"));
    enabled
        .iter()
        .copied()
        .filter(|f| match (paths.is_empty(), source, sink) {
            (false, true, _) => f.direction() == Direction::Outbound,
            (false, _, true) => f.direction() == Direction::Inbound,
            _ => true,
        })
        .collect()
}

fn schedule_flow(
    before: &[Item],
    after: &[Item],
    key: &Key,
    marketplace: &str,
) -> Option<Vec<Flow>> {
    before
        .iter()
        .chain(after.iter())
        .find_map(|i| match &i.resource {
            Resource::SyncSchedule(s)
                if i.name == key.name
                    && i.namespace == key.namespace
                    && s.spec.marketplace_ref.name == marketplace =>
            {
                Some(vec![s.spec.flow])
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_flows_and_anything_else_means_all() {
        let enabled = [Flow::Inventory, Flow::Price, Flow::Orders];
        assert_eq!(
            flows_named(
                &["spec.flows.price.coalesceWindow"],
                "spec.flows.",
                &enabled
            ),
            [Flow::Price]
        );
        assert_eq!(
            flows_named(
                &["spec.flows[flow=inventory].fields[target=a]"],
                "spec.flows[flow=",
                &enabled
            ),
            [Flow::Inventory]
        );
        assert_eq!(
            flows_named(&["spec.endpoint.baseUrl"], "spec.flows.", &enabled),
            enabled
        );
        assert_eq!(
            erp_flows(&["spec.sink.rest.baseUrl"], &enabled),
            [Flow::Orders]
        );
        assert_eq!(
            erp_flows(&["spec.source.postgresOutbox.table"], &enabled),
            [Flow::Inventory, Flow::Price]
        );
    }
}
