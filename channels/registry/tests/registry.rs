//! The registry lists every channel of `ChannelKind` exactly once, and every descriptor is consistent.

use channel_registry::{CHANNELS, REGISTRY};
use crds::channel::{Catalogue, ChannelKind};

#[test]
fn every_channel_kind_is_registered_exactly_once() {
    for kind in ChannelKind::ALL {
        let count = CHANNELS
            .iter()
            .filter(|c| c.descriptor.kind == kind)
            .count();
        assert_eq!(count, 1, "{kind} is registered {count} times");
        assert!(REGISTRY.descriptor(kind).is_some(), "{kind}");
    }
    assert_eq!(CHANNELS.len(), ChannelKind::ALL.len());
}

#[test]
fn every_descriptor_is_consistent() {
    let problems: Vec<String> = CHANNELS
        .iter()
        .flat_map(|c| c.descriptor.inconsistencies())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_channel_has_flows_operations_and_an_endpoint_rule() {
    for channel in CHANNELS {
        let d = channel.descriptor;
        assert!(!d.flows.is_empty(), "{} has no flows", d.kind);
        assert!(!d.operations.is_empty(), "{} has no operations", d.kind);
        assert!(!d.endpoint.base_url.schemes.is_empty(), "{}", d.kind);
    }
}

#[test]
fn published_buckets_never_exceed_the_published_rate() {
    for channel in CHANNELS {
        let kind = channel.descriptor.kind;
        for op in channel.descriptor.operations {
            let Some(limit) = op.published else { continue };
            let (requests, per) = limit.as_bucket();
            assert!(!limit.is_exceeded_by(requests, per), "{kind} {}", op.name);
            assert!(requests <= limit.burst, "{kind} {}", op.name);
            // Within 0.01% of the published rate.
            assert!(
                limit.is_exceeded_by(requests * 10_001, per * 10_000),
                "{kind} {} too slow",
                op.name
            );
        }
    }
}

/// The move of the catalogue out of crds kept every flow, operation, limit, source and batch size.
#[test]
fn the_descriptors_equal_the_former_crds_catalogue() {
    for kind in ChannelKind::ALL {
        let Some(d) = REGISTRY.descriptor(kind) else {
            panic!("{kind}")
        };
        let flows: Vec<_> = d.flows.iter().map(|f| f.flow).collect();
        assert_eq!(flows, kind.supported_flows(), "{kind}");
        assert_eq!(d.operations, kind.operations(), "{kind}");
    }
}
