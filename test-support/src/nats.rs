use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;

/// Environment variable naming the nats-server binary to run; `nats-server` on `PATH` when unset.
pub const NATS_SERVER_ENV: &str = "TRADEWIND_NATS_SERVER";

/// The oldest nats-server Tradewind supports (older servers reject its KV bucket configuration).
pub const MIN_NATS_VERSION: &str = "2.10.0";
const MIN_NATS: (u64, u64, u64) = (2, 10, 0);

/// How long a server may take to answer JetStream requests after it was spawned.
const READY_DEADLINE: Duration = Duration::from_secs(15);
/// Poll interval of the readiness loop (a poll inside a deadline, not a sleep standing in for readiness).
const READY_POLL: Duration = Duration::from_millis(50);
/// Attempts with a new port when another process took the free port between probing and the server's bind.
const PORT_ATTEMPTS: usize = 5;
const LOG_TAIL_BYTES: u64 = 4096;

/// The nats-server to run: `$TRADEWIND_NATS_SERVER`, else the one `scripts/setup.sh` installs
/// (`~/.cache/tradewind/venv/bin/nats-server`), else `nats-server` on `PATH` (Debian's is too old).
pub fn nats_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let installed = std::env::var_os("HOME")
        .map(PathBuf::from)
        .map(|home| home.join(".cache/tradewind/venv/bin/nats-server"));
    match installed {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("nats-server"),
    }
}

/// A real `nats-server -js` for one test: a free loopback port, its JetStream store in a fresh temp dir.
///
/// The process is killed (SIGKILL) when the value is dropped; the temp dir is removed after it.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server from [`nats_binary`] and waits until it serves JetStream. Fails when the binary is older
    /// than [`MIN_NATS_VERSION`].
    pub async fn start() -> Result<NatsServer, Error> {
        NatsServer::start_with_binary(nats_binary()).await
    }

    /// Like [`NatsServer::start`] with an explicit binary.
    pub async fn start_with_binary(binary: impl Into<PathBuf>) -> Result<NatsServer, Error> {
        let binary = binary.into();
        check_version(&binary).await?;
        let dir = tempfile::Builder::new()
            .prefix("tradewind-nats-")
            .tempdir()
            .map_err(Error::io("cannot create a temp dir for nats-server"))?;
        let store_dir = dir.path().join("store");
        let log_path = dir.path().join("nats-server.log");
        let mut server = NatsServer {
            binary,
            port: 0,
            store_dir,
            log_path,
            child: None,
            dir,
        };
        let mut attempt = 1;
        loop {
            server.port = free_port()?;
            match server.spawn_and_wait().await {
                Ok(()) => return Ok(server),
                Err(err) if attempt < PORT_ATTEMPTS && server.lost_port_race(&err) => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port; the same across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`-sd`); the same across [`NatsServer::restart`].
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The file that receives the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of the server log, for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    /// Whether the process is running (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// A new client connected to this server (default options: it reconnects after a restart).
    pub async fn client(&self) -> Result<async_nats::Client, Error> {
        let url = self.url();
        async_nats::connect(url.as_str())
            .await
            .map_err(|source| Error::NatsConnect { url, source })
    }

    /// A JetStream context on a new client.
    pub async fn jetstream(&self) -> Result<async_nats::jetstream::Context, Error> {
        Ok(async_nats::jetstream::new(self.client().await?))
    }

    /// Kills the server with SIGKILL and waits for it to exit. Does nothing when it is not running.
    pub fn kill(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // `kill` fails only when the process already exited (and was not yet reaped): `wait` reaps it.
        let killed = child.kill();
        child.wait().map_err(Error::io(format!(
            "cannot wait for nats-server (pid {})",
            child.id()
        )))?;
        match killed {
            Err(err) if err.kind() != std::io::ErrorKind::InvalidInput => Err(Error::Io {
                context: format!("cannot kill nats-server (pid {})", child.id()),
                source: err,
            }),
            _ => Ok(()),
        }
    }

    /// Starts the server again (killing it first if it runs) on the same port with the same JetStream store,
    /// and waits until it serves JetStream. Streams, messages and KV buckets written before survive.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.kill()?;
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            match self.spawn_and_wait().await {
                // The port is briefly taken by someone else: retry it until the deadline.
                Err(err) if Instant::now() < deadline && self.lost_port_race(&err) => {
                    tokio::time::sleep(READY_POLL).await;
                }
                result => return result,
            }
        }
    }

    fn spawn(&mut self) -> Result<(), Error> {
        std::fs::create_dir_all(&self.store_dir).map_err(Error::io(format!(
            "cannot create the JetStream store dir {}",
            self.store_dir.display()
        )))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(Error::io(format!(
                "cannot open {}",
                self.log_path.display()
            )))?;
        let log_err = log.try_clone().map_err(Error::io(format!(
            "cannot open {}",
            self.log_path.display()
        )))?;
        let child = Command::new(&self.binary)
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(&self.store_dir)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|source| Error::NatsBinary {
                binary: self.binary.clone(),
                source,
            })?;
        self.child = Some(child);
        Ok(())
    }

    async fn spawn_and_wait(&mut self) -> Result<(), Error> {
        self.spawn()?;
        let result = self.wait_ready().await;
        if result.is_err() {
            // Never leave a half-started server behind; the readiness error is the one to report.
            let _ = self.kill();
        }
        result
    }

    /// Waits until a fresh client gets JetStream account info, the process exits, or the deadline passes.
    async fn wait_ready(&mut self) -> Result<(), Error> {
        let url = self.url();
        let started = Instant::now();
        let deadline = started + READY_DEADLINE;
        let mut last_error = String::from("no attempt finished");
        loop {
            if let Some(child) = self.child.as_mut() {
                let exited = child
                    .try_wait()
                    .map_err(Error::io("cannot poll the nats-server process"))?;
                if let Some(status) = exited {
                    self.child = None;
                    return Err(Error::NatsExited {
                        port: self.port,
                        status,
                        log_tail: self.log_tail(),
                    });
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, probe_jetstream(&url)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(err)) => last_error = err,
                Err(_) => {
                    last_error = format!("attempt cut off by the deadline (previous: {last_error})")
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::NatsNotReady {
                    url,
                    waited: started.elapsed(),
                    last_error,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    fn lost_port_race(&self, err: &Error) -> bool {
        matches!(err, Error::NatsExited { log_tail, .. } if log_tail.contains("address already in use"))
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Err(err) = self.kill() {
            eprintln!("test-support: {err}");
        }
    }
}

/// One readiness attempt: connect and ask JetStream for the account info.
async fn probe_jetstream(url: &str) -> Result<(), String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let jetstream = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    jetstream
        .query_account()
        .await
        .map(drop)
        .map_err(|err| format!("JetStream account info: {err}"))
}

/// A port that was free a moment ago: bind 127.0.0.1:0 and release it.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(Error::io("cannot bind 127.0.0.1:0 to find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(Error::io("cannot read the address of a bound socket"))?
        .port();
    Ok(port)
}

async fn check_version(binary: &Path) -> Result<(), Error> {
    let run = tokio::process::Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(result) => result.map_err(|source| Error::NatsBinary {
            binary: binary.to_path_buf(),
            source,
        })?,
        Err(_) => {
            return Err(Error::NatsBinary {
                binary: binary.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "`--version` ran for over 10 s",
                ),
            });
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let unknown = || Error::NatsVersionUnknown {
        binary: binary.to_path_buf(),
        output: text.trim().to_string(),
        minimum: MIN_NATS_VERSION,
    };
    let (found, version) = parse_version(&text).ok_or_else(unknown)?;
    if version < MIN_NATS {
        return Err(Error::NatsTooOld {
            binary: binary.to_path_buf(),
            found,
            minimum: MIN_NATS_VERSION,
        });
    }
    Ok(())
}

/// Finds `vMAJOR.MINOR.PATCH` in `nats-server --version` output (`nats-server: v2.10.22`).
/// Whether a server reporting `version` (`2.10.4`, `v2.9.10`) is recent enough for Tradewind.
pub fn is_supported_version(version: &str) -> bool {
    let word = format!("v{}", version.trim_start_matches('v'));
    parse_version(&word).is_some_and(|(_, v)| v >= MIN_NATS)
}

fn parse_version(text: &str) -> Option<(String, (u64, u64, u64))> {
    text.split_whitespace().find_map(|word| {
        let rest = word.strip_prefix('v')?;
        let core: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = core.split('.').map(str::parse::<u64>);
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some((rest.to_string(), (major, minor, patch)))
    })
}

fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => "(log is empty)".to_string(),
        Ok(text) => text,
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_supported_version, parse_version};

    #[test]
    fn supported_versions_start_at_the_minimum() {
        assert!(is_supported_version("2.10.0"));
        assert!(is_supported_version("v2.15.1"));
        assert!(!is_supported_version("2.9.10"));
        assert!(!is_supported_version("garbage"));
    }

    #[test]
    fn parses_nats_server_version_output() {
        assert_eq!(
            parse_version("nats-server: v2.15.1\n"),
            Some(("2.15.1".to_string(), (2, 15, 1)))
        );
        assert_eq!(
            parse_version("nats-server: v2.9.10"),
            Some(("2.9.10".to_string(), (2, 9, 10)))
        );
        assert_eq!(
            parse_version("nats-server: v2.11.0-RC.1"),
            Some(("2.11.0-RC.1".to_string(), (2, 11, 0)))
        );
        assert_eq!(parse_version("command not found"), None);
        assert!(parse_version("nats-server: v2.9.10").map(|(_, v)| v) < Some(super::MIN_NATS));
    }
}
