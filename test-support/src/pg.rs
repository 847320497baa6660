use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

use crate::Error;

/// Environment variable with the PostgreSQL URL whose role may create databases.
pub const PG_URL_ENV: &str = "TRADEWIND_PG_URL";
/// The URL `scripts/setup.sh` exports, used when `TRADEWIND_PG_URL` is unset.
pub const DEFAULT_PG_URL: &str = "postgres://tradewind:tradewind@127.0.0.1:5432/postgres";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The base URL test databases are created from: `$TRADEWIND_PG_URL`, else [`DEFAULT_PG_URL`].
pub fn pg_base_url() -> String {
    match std::env::var(PG_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => DEFAULT_PG_URL.to_string(),
    }
}

/// A fresh PostgreSQL database (`tw_test_…`) for one test, dropped `WITH (FORCE)` when the value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    base_url: String,
    dropped: bool,
}

impl TestDatabase {
    /// Connects to [`pg_base_url`] and creates a new, empty database.
    pub async fn create() -> Result<TestDatabase, Error> {
        let base_url = pg_base_url();
        let name = unique_name();
        let url = with_database(&base_url, &name)?;
        let base = connect(&base_url).await?;
        base.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
            .map_err(|source| Error::Postgres {
                context: format!(
                    "cannot create the test database {name} (may the role create databases?)"
                ),
                source,
            })?;
        Ok(TestDatabase {
            name,
            url,
            base_url,
            dropped: false,
        })
    }

    /// The database's name, `tw_test_…`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL of the new database (the base URL with its database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL the database was created from.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A new connection to the database; its connection task runs on the current tokio runtime.
    pub async fn client(&self) -> Result<tokio_postgres::Client, Error> {
        connect(&self.url).await
    }

    /// Drops the database now (closing other sessions on it) and reports failures, unlike `Drop`.
    pub async fn close(mut self) -> Result<(), Error> {
        self.dropped = true;
        drop_database(&self.base_url, &self.name).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // `Drop` cannot await, and blocking on the test's own runtime would deadlock it: drop the database from
        // a thread with its own runtime and wait for it, so the database is gone when `drop` returns.
        let base_url = self.base_url.clone();
        let name = self.name.clone();
        let worker = std::thread::Builder::new()
            .name(format!("drop-{name}"))
            .spawn(move || -> Result<(), Error> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(Error::io(
                        "cannot build a runtime to drop the test database",
                    ))?;
                runtime.block_on(drop_database(&base_url, &name))
            });
        let outcome = match worker {
            Ok(handle) => match handle.join() {
                Ok(result) => result.map_err(|err| err.to_string()),
                Err(_) => Err("the thread dropping it panicked".to_string()),
            },
            Err(err) => Err(format!("cannot spawn a thread to drop it: {err}")),
        };
        if let Err(err) = outcome {
            eprintln!(
                "test-support: cannot drop the test database {}: {err}",
                self.name
            );
        }
    }
}

async fn drop_database(base_url: &str, name: &str) -> Result<(), Error> {
    let base = connect(base_url).await?;
    base.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .await
    .map_err(|source| Error::Postgres {
        context: format!("cannot drop the test database {name}"),
        source,
    })
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, Error> {
    let connect_error = |source| Error::PgConnect {
        url: redact(url),
        source,
    };
    let mut config: tokio_postgres::Config = url.parse().map_err(connect_error)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let (client, connection) = config.connect(NoTls).await.map_err(connect_error)?;
    // The connection ends with an error when its database is dropped WITH (FORCE): expected, not reported.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `tw_test_<pid>_<nanos>_<counter>` in hex: unique across the tests of one process and across processes.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or_default();
    format!("tw_test_{:x}_{nanos:x}_{count:x}", std::process::id())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Replaces the database (the URL path) of a `postgres://` or `postgresql://` URL, keeping its query.
fn with_database(base_url: &str, database: &str) -> Result<String, Error> {
    let invalid = || Error::PgUrl {
        url: redact(base_url),
    };
    let scheme_end = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| base_url.starts_with(scheme).then_some(scheme.len()))
        .ok_or_else(invalid)?;
    let (before_query, query) = match base_url.find('?') {
        Some(at) => base_url.split_at(at),
        None => (base_url, ""),
    };
    // The authority ends at the first '/' after the user info (whose password could hold a '/').
    let authority_start = before_query[scheme_end..]
        .rfind('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    let authority_end = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |at| authority_start + at);
    if authority_end == authority_start && !before_query[authority_start..].starts_with('/') {
        return Err(invalid());
    }
    Ok(format!(
        "{}/{database}{query}",
        &before_query[..authority_end]
    ))
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_string();
    };
    let Some(at) = url[scheme_end..].rfind('@').map(|at| scheme_end + at) else {
        return url.to_string();
    };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, unique_name, with_database};

    #[test]
    fn replaces_the_database_of_a_url() {
        let url = |base| with_database(base, "tw_test_1").expect("a valid URL");
        assert_eq!(
            url("postgres://tradewind:tradewind@127.0.0.1:5432/postgres"),
            "postgres://tradewind:tradewind@127.0.0.1:5432/tw_test_1"
        );
        assert_eq!(
            url("postgresql://u:p@localhost/postgres?sslmode=disable"),
            "postgresql://u:p@localhost/tw_test_1?sslmode=disable"
        );
        assert_eq!(
            url("postgres://u:p@localhost:5433"),
            "postgres://u:p@localhost:5433/tw_test_1"
        );
        assert_eq!(
            url("postgres://u:a/b@host/db"),
            "postgres://u:a/b@host/tw_test_1"
        );
        assert!(with_database("host=localhost user=u", "x").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.starts_with("tw_test_") && a.len() < 63, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
}
