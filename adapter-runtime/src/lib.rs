//! The adapter runtime: runs a channel's connector over NATS JetStream (flows, the JetStream edge, sync runs,
//! metrics and health). Connectors know nothing of NATS: they are built on [`channel_api`], whose modules are
//! re-exported here so that the runtime, the bridge, the operator and `twctl` name them as before.

pub use channel_api::{
    auth, canonical, config, connector, connectors, envelope, error, mapping, resilience, schemas,
    signature, subject, topology,
};

pub mod app;
pub mod bridge_config;
pub mod flow;
pub mod http;
pub mod jetstream;
pub mod metrics;
pub mod process;
pub mod service;
pub mod sync;
