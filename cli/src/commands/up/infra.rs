//! What the local mode needs beside Tradewind itself: a NATS server with JetStream, recent enough, and a
//! PostgreSQL for the demo ERP. A reachable one is reused; otherwise a NATS is started in a temp dir, and the
//! missing PostgreSQL is reported with the README's set-up.

use std::time::Duration;

use anyhow::{Context, bail};
use test_support::{MIN_NATS_VERSION, NatsServer, TestDatabase, is_supported_version};
use tokio::io::AsyncBufReadExt;

/// Where the local run's NATS is.
pub enum Nats {
    /// A server that was already running.
    Reused { url: String, version: String },
    /// A server started for this run; stopped with it.
    Started(NatsServer),
}

impl Nats {
    pub fn url(&self) -> String {
        match self {
            Nats::Reused { url, .. } => url.clone(),
            Nats::Started(server) => server.url(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Nats::Reused { url, version } => format!("reusing nats-server {version} at {url}"),
            Nats::Started(server) => format!(
                "started nats-server -js at {} (store {})",
                server.url(),
                server.store_dir().display()
            ),
        }
    }
}

/// The INFO a NATS server sends first on a connection.
#[derive(serde::Deserialize)]
struct ServerInfo {
    version: String,
    #[serde(default)]
    jetstream: bool,
}

/// Reads a server's INFO at `host:port`; `None` when nothing answers like NATS.
async fn probe(address: &str) -> Option<ServerInfo> {
    let connect = tokio::net::TcpStream::connect(address);
    let stream = tokio::time::timeout(Duration::from_secs(2), connect)
        .await
        .ok()?
        .ok()?;
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    serde_json::from_str(line.strip_prefix("INFO ")?.trim()).ok()
}

/// A NATS for the run: `url` when given (it must be usable), else the one on 127.0.0.1:4222 when it is recent
/// enough and has JetStream, else a new `nats-server -js` on a free port.
pub async fn nats(url: Option<&str>) -> anyhow::Result<Nats> {
    if let Some(url) = url {
        let address = url.trim_start_matches("nats://");
        let info = probe(address)
            .await
            .with_context(|| format!("no NATS server answers at {url}"))?;
        if !is_supported_version(&info.version) || !info.jetstream {
            bail!(
                "the NATS server at {url} is {} {}; Tradewind needs {MIN_NATS_VERSION} or newer with JetStream",
                info.version,
                if info.jetstream {
                    "with JetStream"
                } else {
                    "without JetStream"
                }
            );
        }
        return Ok(Nats::Reused {
            url: url.to_string(),
            version: info.version,
        });
    }
    if let Some(info) = probe("127.0.0.1:4222").await
        && is_supported_version(&info.version)
        && info.jetstream
    {
        return Ok(Nats::Reused {
            url: "nats://127.0.0.1:4222".into(),
            version: info.version,
        });
    }
    let server = NatsServer::start()
        .await
        .context("starting nats-server (run ./scripts/setup.sh, or set TRADEWIND_NATS_SERVER)")?;
    Ok(Nats::Started(server))
}

/// A fresh database for the demo ERP on the reachable PostgreSQL, dropped when the run ends.
pub async fn demo_database() -> anyhow::Result<TestDatabase> {
    TestDatabase::create().await.with_context(|| {
        format!(
            "the demo ERP needs PostgreSQL: none at {} accepts the role or lets it create a database; run \
             ./scripts/setup.sh (it installs and starts one, with a `tradewind` role), or set {}",
            test_support::pg_base_url().split('@').next_back().unwrap_or("127.0.0.1:5432"),
            test_support::PG_URL_ENV
        )
    })
}
