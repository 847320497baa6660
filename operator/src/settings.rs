//! The operator's own settings (flags and environment, set from the chart's values): which images to run and
//! how adapters and bridges reach NATS. Pure data; [`crate::render`] reads it.

use std::path::PathBuf;

/// Where the NATS client credentials (a `.creds` file) and CA bundle are mounted in adapter and bridge pods.
pub const NATS_CREDENTIALS_DIR: &str = "/var/run/secrets/tradewind/nats";
/// Key of the NATS credentials Secret holding the `.creds` file.
pub const NATS_CREDENTIALS_KEY: &str = "nats.creds";
/// Where the CA bundle Secret is mounted.
pub const NATS_TLS_DIR: &str = "/var/run/secrets/tradewind/nats-tls";
/// Key of the CA bundle Secret.
pub const NATS_TLS_CA_KEY: &str = "ca.crt";

/// How adapters and bridges of a namespace reach NATS. Credentials are named Secrets (in the workload's
/// namespace), never values: the rendered ConfigMap only holds the paths they are mounted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConnection {
    /// Server URLs, comma-separated.
    pub url: String,
    /// Secret holding `nats.creds` (JWT and seed), when NATS requires authentication.
    pub credentials_secret: Option<String>,
    /// Secret holding `ca.crt`, when the server's certificate is signed by a private CA.
    pub tls_ca_secret: Option<String>,
}

impl NatsConnection {
    /// The adapter-runtime settings pointing at the mounted files.
    pub fn to_runtime(&self) -> adapter_runtime::config::NatsSettings {
        adapter_runtime::config::NatsSettings {
            url: self.url.clone(),
            credentials_file: self
                .credentials_secret
                .as_ref()
                .map(|_| PathBuf::from(NATS_CREDENTIALS_DIR).join(NATS_CREDENTIALS_KEY)),
            tls_ca_file: self
                .tls_ca_secret
                .as_ref()
                .map(|_| PathBuf::from(NATS_TLS_DIR).join(NATS_TLS_CA_KEY)),
        }
    }
}

/// What the renderer needs from the operator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderSettings {
    /// Image of `tradewind-adapter` (and, until the bridge has its own, of `tradewind-bridge`).
    pub adapter_image: String,
    /// Image of `tradewind-bridge`.
    pub bridge_image: String,
    /// NATS settings for this namespace (the chart's default or the namespace's override).
    pub nats: NatsConnection,
}

impl RenderSettings {
    /// Fixed settings for golden tests and `twctl render`: no cluster-specific value.
    pub fn example() -> Self {
        Self {
            adapter_image: "ghcr.io/tradewind-dev/tradewind:latest".into(),
            bridge_image: "ghcr.io/tradewind-dev/tradewind:latest".into(),
            nats: NatsConnection {
                url: "nats://nats.tradewind-system.svc:4222".into(),
                credentials_secret: Some("tradewind-nats".into()),
                tls_ca_secret: None,
            },
        }
    }
}
