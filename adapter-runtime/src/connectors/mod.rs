//! Channel connectors. Each one speaks one channel's real API; the flows reach them through
//! [`crate::connector::Connector`].

pub mod rest;

/// HTTP clients are built without a default TLS crypto provider (to avoid a second one); the process uses
/// ring, as the NATS client does. Installing it again is a no-op.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
