//! A real OpenSSH `sshd` for tests: a free port on 127.0.0.1, a temporary ed25519 host key and user key in a
//! temporary folder, public-key login for the current user only, SFTP through `internal-sftp`. No chroot
//! (that needs a root-owned tree), so paths are the real ones under the temporary folder.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("no sshd found (set TRADEWIND_SSHD, or install openssh-server: scripts/setup.sh does)")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

pub struct SshServer {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    host_public_key: String,
}

/// The sshd binary: `TRADEWIND_SSHD`, else `/usr/sbin/sshd`, else `sshd` on the PATH.
pub fn sshd_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRADEWIND_SSHD").map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    let system = PathBuf::from("/usr/sbin/sshd");
    if system.is_file() {
        return Some(system);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("sshd"))
            .find(|p| p.is_file())
    })
}

fn keygen(path: &Path) -> Result<(), SshError> {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "tradewind-test",
            "-f",
        ])
        .arg(path)
        .output()
        .map_err(|e| SshError::Failed(format!("ssh-keygen: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SshError::Failed(format!(
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn current_user() -> Result<String, SshError> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| SshError::Failed(format!("id -un: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl SshServer {
    /// Starts sshd and waits until it accepts connections.
    pub async fn start() -> Result<Self, SshError> {
        let binary = sshd_binary().ok_or(SshError::NotFound)?;
        let dir = tempfile::tempdir().map_err(|e| SshError::Failed(e.to_string()))?;
        let host_key = dir.path().join("host_key");
        let user_key = dir.path().join("user_key");
        keygen(&host_key)?;
        keygen(&user_key)?;
        let read = |p: PathBuf| {
            std::fs::read_to_string(&p)
                .map_err(|e| SshError::Failed(format!("{}: {e}", p.display())))
        };
        std::fs::write(
            dir.path().join("authorized_keys"),
            read(dir.path().join("user_key.pub"))?,
        )
        .map_err(|e| SshError::Failed(e.to_string()))?;
        let host_public_key = read(dir.path().join("host_key.pub"))?;
        let user = current_user()?;
        // sshd started as root wants its privilege separation folder.
        if user == "root" {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| SshError::Failed(format!("no free port: {e}")))?;
        let config = dir.path().join("sshd_config");
        let text = format!(
            "ListenAddress 127.0.0.1\n\
             HostKey {host}\n\
             PidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\n\
             StrictModes no\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             AllowUsers {user}\n\
             Subsystem sftp internal-sftp\n\
             ForceCommand internal-sftp\n",
            host = host_key.display(),
            dir = dir.path().display(),
        );
        std::fs::write(&config, text).map_err(|e| SshError::Failed(e.to_string()))?;
        let log = std::fs::File::create(dir.path().join("sshd.log"))
            .map_err(|e| SshError::Failed(e.to_string()))?;
        let child = Command::new(binary)
            .arg("-f")
            .arg(&config)
            .args(["-D", "-e", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| SshError::Failed(format!("starting sshd: {e}")))?;
        let mut server = Self {
            child,
            dir,
            port,
            user,
            host_public_key: host_public_key.trim().to_string(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(SshError::Failed(format!(
                    "sshd exited ({status}): {}",
                    server.log()
                )));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(SshError::Failed(format!(
                    "sshd did not listen within 10 s: {}",
                    server.log()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// A folder under the server's temporary folder, to serve as a partner's root.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private key the server accepts, in OpenSSH format.
    pub fn user_private_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("user_key")).unwrap_or_default()
    }

    /// A `known_hosts` line for this server.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_public_key)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
