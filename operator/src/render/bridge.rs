//! The ERP bridge Deployment of an `ErpConnection`.
//!
//! TODO(issue 7, item 1): render `adapter_runtime::bridge_config::BridgeConfig` into a ConfigMap and the
//! `tradewind-bridge` Deployment (same workload hardening as the adapter, see [`super::workload`]) once that
//! type exists in adapter-runtime (another engineer is adding it). Until then the operator renders no bridge.
