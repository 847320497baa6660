//! The adapter's channel-independent core. Connectors know nothing of NATS; flows know nothing of a channel.

pub mod subject;
