//! Every changed mapping run on sample records, before and after the change, so that a reviewer sees what the
//! channel will receive instead of reading CEL. Outbound flows use the canonical samples in `cli/samples/`;
//! inbound flows use a channel payload from `--samples <dir>/<channel>/<flow>.json` when there is one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use adapter_runtime::mapping::MappingPlan;
use crds::channel::{ChannelKind, Direction, Flow};
use crds::validation::{Item, Resource};
use serde_json::Value;

use super::changes::{Change, Key};

/// The canonical record (as a mapping sees it) of each outbound flow that has one.
pub fn canonical_sample(flow: Flow) -> Option<&'static str> {
    match flow {
        Flow::Inventory => Some(include_str!("../../../samples/inventory.json")),
        Flow::Price => Some(include_str!("../../../samples/price.json")),
        Flow::Catalog => Some(include_str!("../../../samples/catalog.json")),
        Flow::Shipments => Some(include_str!("../../../samples/shipments.json")),
        _ => None,
    }
}

/// One flow of one changed mapping on its sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRun {
    pub mapping: String,
    pub flow: Flow,
    pub input: Option<Value>,
    /// `None` when the flow is not mapped on that side (or there is no sample).
    pub before: Option<Result<Value, String>>,
    pub after: Option<Result<Value, String>>,
}

impl SampleRun {
    pub fn differs(&self) -> bool {
        self.before != self.after
    }
}

pub fn mapping_samples(
    before: &[Item],
    after: &[Item],
    changes: &BTreeMap<Key, Change>,
    samples_dir: Option<&Path>,
) -> Vec<SampleRun> {
    let mut out = Vec::new();
    for key in changes.keys().filter(|k| k.kind == "ChannelMapping") {
        let old = find_mapping(before, key);
        let new = find_mapping(after, key);
        let channel = match new.as_ref().or(old.as_ref()) {
            Some((channel, _)) => *channel,
            None => continue,
        };
        let flows: BTreeSet<Flow> = [&old, &new]
            .into_iter()
            .flatten()
            .flat_map(|(_, plan)| match plan {
                Ok(plan) => plan.flows().map(|f| f.flow()).collect::<Vec<_>>(),
                Err(_) => Vec::new(),
            })
            .collect();
        for flow in flows {
            let input = sample(channel, flow, samples_dir);
            let run = |side: &Option<(ChannelKind, Result<MappingPlan, String>)>| {
                let (_, plan) = side.as_ref()?;
                let input = input.as_ref()?;
                Some(match plan {
                    Ok(plan) => plan.flow(flow)?.apply(input).map_err(|e| e.to_string()),
                    Err(e) => Err(e.clone()),
                })
            };
            out.push(SampleRun {
                mapping: key.name.clone(),
                flow,
                before: run(&old),
                after: run(&new),
                input: input.clone(),
            });
        }
    }
    out
}

fn find_mapping(items: &[Item], key: &Key) -> Option<(ChannelKind, Result<MappingPlan, String>)> {
    items.iter().find_map(|i| match &i.resource {
        Resource::ChannelMapping(m) if i.name == key.name && i.namespace == key.namespace => {
            let plan = MappingPlan::compile(&i.name, &m.spec).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            Some((m.spec.channel, plan))
        }
        _ => None,
    })
}

fn sample(channel: ChannelKind, flow: Flow, dir: Option<&Path>) -> Option<Value> {
    if let Some(dir) = dir {
        let path = dir.join(channel.as_str()).join(format!("{flow}.json"));
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).ok();
        }
        if flow.direction() == Direction::Outbound
            && let Ok(text) = std::fs::read_to_string(dir.join(format!("{flow}.json")))
        {
            return serde_json::from_str(&text).ok();
        }
    }
    serde_json::from_str(canonical_sample(flow)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_runtime::canonical::{InventoryPosition, Price, Product, Shipment};

    #[test]
    fn samples_are_canonical_records() {
        let parse = |flow| canonical_sample(flow).unwrap();
        serde_json::from_str::<InventoryPosition>(parse(Flow::Inventory)).unwrap();
        serde_json::from_str::<Price>(parse(Flow::Price)).unwrap();
        serde_json::from_str::<Product>(parse(Flow::Catalog)).unwrap();
        serde_json::from_str::<Shipment>(parse(Flow::Shipments)).unwrap();
    }
}
