//! The channel API: what a connector is built from and against, with no NATS in it.
//!
//! A channel's crate (`channels/<name>`) depends on this crate only; the adapter runtime (`adapter-runtime`)
//! runs connectors over JetStream and implements the ports declared here. Cargo enforces the boundary: a
//! connector cannot reach NATS because nothing here links it (`tests/boundary.rs` fails if a channel crate
//! gains a normal dependency on `async-nats` or `adapter-runtime`).
//!
//! - [`connector`]: the [`connector::Connector`] trait, its items and pages; [`error`]: how a call failed
//!   ([`error::ConnectorError`], with the HTTP status and the server's hints when it was an answer).
//! - [`canonical`]: the canonical model (records, money, ids) and its JSON Schemas ([`schemas`]).
//! - [`mapping`]: the ChannelMapping engine (CEL compiled once, applied per record).
//! - [`resilience`]: rate limits, retries, circuit breakers and server hints, per API operation.
//! - [`connectors`]: what every HTTP connector shares (the guarded call, the client, credentials).
//! - [`config`]: the adapter's resolved configuration.
//! - [`topology`], [`subject`], [`envelope`]: names of subjects, streams and buckets, and the event envelope,
//!   as pure data (the runtime turns them into JetStream objects).
//! - [`signature`]: HMAC request signatures for webhooks; [`auth`]: the one OAuth access-token cache.

pub mod auth;
pub mod canonical;
pub mod config;
pub mod connector;
pub mod connectors;
pub mod envelope;
pub mod error;
pub mod mapping;
pub mod resilience;
pub mod schemas;
pub mod signature;
pub mod subject;
pub mod topology;
