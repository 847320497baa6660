//! What every HTTP connector shares. The connectors themselves are crates of their own under `channels/`;
//! the flows reach them through [`crate::connector::Connector`].

pub mod http;

/// HTTP clients are built without a default TLS crypto provider (to avoid a second one); the process uses
/// ring, as the NATS client does. Installing it again is a no-op.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client with `timeout` per request, rustls over ring.
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, String> {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A credential from the mounted Secret: the file `key` in `credentials_dir`, trimmed. The error names the
/// Secret key and never the value.
pub fn read_credential(credentials_dir: &std::path::Path, key: &str) -> Result<String, String> {
    let path = credentials_dir.join(key);
    match std::fs::read_to_string(&path) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
        Ok(_) => Err(format!(
            "credentials Secret key {key:?} is empty (file {})",
            path.display()
        )),
        Err(e) => Err(format!(
            "credentials Secret key {key:?} is missing (file {}: {e})",
            path.display()
        )),
    }
}

/// An optional credential: `None` when the key is absent or empty.
pub fn read_optional_credential(credentials_dir: &std::path::Path, key: &str) -> Option<String> {
    read_credential(credentials_dir, key).ok()
}
