//! The adapter's channel-independent core. Connectors know nothing of NATS; flows know nothing of a channel.

pub mod canonical;
pub mod envelope;
pub mod jetstream;
pub mod schemas;
pub mod subject;
pub mod topology;
