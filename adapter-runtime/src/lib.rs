//! The adapter's channel-independent core. Connectors know nothing of NATS; flows know nothing of a channel.

pub mod canonical;
pub mod connector;
pub mod envelope;
pub mod flow;
pub mod jetstream;
pub mod metrics;
pub mod process;
pub mod resilience;
pub mod schemas;
pub mod subject;
pub mod topology;
