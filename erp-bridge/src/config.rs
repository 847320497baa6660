//! The bridge's configuration lives in adapter-runtime (the operator renders it too); re-exported here.

pub use adapter_runtime::bridge_config::BridgeConfig;
