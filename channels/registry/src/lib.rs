//! The channels this build of Tradewind has: one line per channel, each naming the descriptor its crate states
//! (`channel_<name>::DESCRIPTOR`). `twctl`, the operator, the adapter binary and the local mode look channels up
//! here and nowhere else; `crds` validation receives [`REGISTRY`] as its [`Catalogue`].
//!
//! Adding a channel: its crates, a variant of `crds::channel::ChannelKind` (the CRD's `spec.channel` enum), and
//! one line in [`CHANNELS`] (see docs/channels/adding-a-channel.md).

use crds::channel::{Catalogue, ChannelDescriptor, ChannelKind};

/// One registered channel.
#[derive(Debug)]
pub struct Channel {
    pub descriptor: &'static ChannelDescriptor,
}

impl Channel {
    pub const fn new(descriptor: &'static ChannelDescriptor) -> Self {
        Self { descriptor }
    }
}

/// Every channel, one line each.
pub static CHANNELS: &[Channel] = &[
    Channel::new(&channel_amazon::DESCRIPTOR),
    Channel::new(&channel_walmart::DESCRIPTOR),
    Channel::new(&channel_shopify::DESCRIPTOR),
    Channel::new(&channel_mirakl::DESCRIPTOR),
    Channel::new(&channel_ebay::DESCRIPTOR),
    Channel::new(&channel_rest::DESCRIPTOR),
    Channel::new(&channel_edi::DESCRIPTOR),
];

/// The registered channels as a [`Catalogue`].
#[derive(Debug)]
pub struct Registry {
    channels: &'static [Channel],
}

/// The registry of this build.
pub static REGISTRY: Registry = Registry { channels: CHANNELS };

impl Registry {
    /// The channel of `kind`, `None` when this build does not register it.
    pub fn channel(&self, kind: ChannelKind) -> Option<&'static Channel> {
        self.channels.iter().find(|c| c.descriptor.kind == kind)
    }

    pub fn channels(&self) -> &'static [Channel] {
        self.channels
    }
}

impl Catalogue for Registry {
    fn descriptor(&self, kind: ChannelKind) -> Option<&'static ChannelDescriptor> {
        self.channel(kind).map(|c| c.descriptor)
    }
}

/// The descriptor of `kind` in [`REGISTRY`].
pub fn descriptor(kind: ChannelKind) -> Option<&'static ChannelDescriptor> {
    REGISTRY.descriptor(kind)
}
