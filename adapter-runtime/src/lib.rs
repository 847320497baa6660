//! The adapter's channel-independent core. Connectors know nothing of NATS; flows know nothing of a channel.

pub mod app;
pub mod bridge_config;
pub mod canonical;
pub mod config;
pub mod connector;
pub mod connectors;
pub mod envelope;
pub mod flow;
pub mod http;
pub mod jetstream;
pub mod mapping;
pub mod metrics;
pub mod process;
pub mod resilience;
pub mod schemas;
pub mod service;
pub mod signature;
pub mod subject;
pub mod sync;
pub mod topology;
