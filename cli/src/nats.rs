//! How twctl reaches a NATS server: the same settings locally and in a cluster (port-forwarded or from a pod).

use std::path::PathBuf;

use anyhow::Context;

/// NATS connection options shared by `status`, `dlq` and `trace`.
#[derive(Clone, Debug, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated.
    #[arg(
        long,
        env = "TRADEWIND_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// A NATS credentials file (JWT and seed).
    #[arg(long, env = "TRADEWIND_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// A CA certificate to verify the server with (TLS is then required).
    #[arg(long, env = "TRADEWIND_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
    /// The Kubernetes namespace of the resources (every subject and stream carries it).
    #[arg(
        long,
        short = 'n',
        env = "TRADEWIND_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
}

impl NatsArgs {
    pub async fn connect(&self) -> anyhow::Result<async_nats::jetstream::Context> {
        let mut options = async_nats::ConnectOptions::new().name("twctl");
        if let Some(file) = &self.nats_creds {
            options = options
                .credentials_file(file)
                .await
                .with_context(|| format!("--nats-creds {}", file.display()))?;
        }
        if let Some(ca) = &self.nats_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options
            .connect(self.nats_url.as_str())
            .await
            .with_context(|| format!("connecting to NATS at {}", self.nats_url))?;
        Ok(async_nats::jetstream::new(client))
    }
}
