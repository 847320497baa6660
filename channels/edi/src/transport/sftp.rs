//! SFTP (`sftp://host:port/dir`) with russh and russh-sftp, pure Rust: public-key authentication with the
//! Secret's `ssh_private_key`, and the server's host key checked against the Secret's `known_hosts` line(s)
//! before anything is sent. The session is kept between calls and opened again when the server closed it
//! (partners' servers close idle sessions) or a call failed on it.

use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;

use channel_api::connector::ConnectorError;

use super::{safe_name, temporary};

/// Where and as whom.
#[derive(Clone)]
pub struct SftpSettings {
    pub host: String,
    pub port: u16,
    /// The base path on the server, every folder being under it.
    pub base: String,
    pub username: String,
    pub key: Arc<PrivateKey>,
    /// The host keys accepted for this server.
    pub known_hosts: Vec<PublicKey>,
    pub timeout: Duration,
}

impl std::fmt::Debug for SftpSettings {
    // The private key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("base", &self.base)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The host keys of `known_hosts` text that apply to `host`:`port`: lines whose host list names the host
/// (`host`, `[host]:port`, or `*`), or lines holding only a key type and key.
pub fn host_keys(text: &str, host: &str, port: u16) -> Result<Vec<PublicKey>, String> {
    let bracketed = format!("[{host}]:{port}");
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (hosts, key) = match parts.as_slice() {
            [kind, key, ..] if kind.starts_with("ssh-") || kind.starts_with("ecdsa-") => {
                (None, *key)
            }
            [hosts, _kind, key, ..] => (Some(*hosts), *key),
            _ => {
                return Err(format!(
                    "known_hosts line {} is not `host keytype key`",
                    i + 1
                ));
            }
        };
        let applies = hosts.is_none_or(|hosts| {
            hosts
                .split(',')
                .any(|h| h == "*" || h == bracketed || (port == 22 && h == host))
                || hosts.split(',').any(|h| h == host)
        });
        if applies {
            keys.push(
                russh::keys::parse_public_key_base64(key)
                    .map_err(|e| format!("known_hosts line {}: {e}", i + 1))?,
            );
        }
    }
    if keys.is_empty() {
        return Err(format!("known_hosts has no key for {host} port {port}"));
    }
    Ok(keys)
}

struct Verifier {
    accepted: Vec<PublicKey>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    /// Only a plain host key listed in known_hosts is trusted; a host certificate is refused, since known_hosts
    /// `@cert-authority` lines are not supported.
    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_key else {
            return Ok(false);
        };
        Ok(self.accepted.iter().any(|k| k.key_data() == key.key_data()))
    }
}

pub struct Sftp {
    settings: SftpSettings,
    open: tokio::sync::Mutex<Option<Connected>>,
}

/// An authenticated SSH connection with its SFTP session, kept between calls.
struct Connected {
    sftp: SftpSession,
    handle: client::Handle<Verifier>,
}

fn retryable(action: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::retryable(format!("SFTP {action}: {e}"))
}

impl Sftp {
    pub fn new(settings: SftpSettings) -> Self {
        Self {
            settings,
            open: tokio::sync::Mutex::new(None),
        }
    }

    fn path(&self, dir: &str, name: &str) -> String {
        let base = self.settings.base.trim_end_matches('/');
        match (dir.is_empty(), name.is_empty()) {
            (true, true) => base.to_string(),
            (true, false) => format!("{base}/{name}"),
            (false, true) => format!("{base}/{dir}"),
            (false, false) => format!("{base}/{dir}/{name}"),
        }
    }

    /// Connects, checks the host key, authenticates and opens the SFTP subsystem.
    async fn session(&self) -> Result<(SftpSession, client::Handle<Verifier>), ConnectorError> {
        let s = &self.settings;
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(s.timeout),
            ..Default::default()
        });
        let verifier = Verifier {
            accepted: s.known_hosts.clone(),
        };
        let connect = client::connect(config, (s.host.as_str(), s.port), verifier);
        let mut handle = tokio::time::timeout(s.timeout, connect)
            .await
            .map_err(|_| {
                retryable(
                    "connect",
                    format!(
                        "no answer from {}:{} within {:?}",
                        s.host, s.port, s.timeout
                    ),
                )
            })?
            .map_err(|e| match e {
                // A host key that is not the known one is a configuration problem, or an attack: no retry.
                russh::Error::UnknownKey => ConnectorError::permanent(format!(
                    "SFTP server {}:{} presented a host key that is not in known_hosts",
                    s.host, s.port
                )),
                other => retryable("connect", other),
            })?;
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| retryable("negotiate", e))?
            .flatten();
        let auth = handle
            .authenticate_publickey(&s.username, PrivateKeyWithHashAlg::new(s.key.clone(), hash))
            .await
            .map_err(|e| retryable("authenticate", e))?;
        if !matches!(auth, russh::client::AuthResult::Success) {
            return Err(ConnectorError::permanent(format!(
                "SFTP server {}:{} refused the key of user {:?}",
                s.host, s.port, s.username
            )));
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| retryable("open a channel", e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| retryable("start the sftp subsystem", e))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| retryable("start the sftp session", e))?;
        Ok((sftp, handle))
    }

    async fn ensure_dir(sftp: &SftpSession, path: &str) -> Result<(), ConnectorError> {
        if !sftp
            .try_exists(path)
            .await
            .map_err(|e| retryable("stat", e))?
        {
            sftp.create_dir(path)
                .await
                .map_err(|e| retryable(&format!("mkdir {path}"), e))?;
        }
        Ok(())
    }

    /// The open session, connecting first when there is none or the last one was closed (by the server after
    /// idling, or by a failed call). The lock makes this connector's transfers one at a time, as the policy's
    /// concurrency of 1 does anyway.
    async fn connected(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<Connected>>, ConnectorError> {
        let mut guard = self.open.lock().await;
        if guard.as_ref().is_none_or(|c| c.handle.is_closed()) {
            *guard = None;
            let (sftp, handle) = self.session().await?;
            *guard = Some(Connected { sftp, handle });
        }
        Ok(guard)
    }

    /// Runs one operation on the session; a failure drops the session, so a retry starts on a fresh one.
    async fn with<T>(
        &self,
        operation: impl AsyncFnOnce(&SftpSession) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let mut guard = self.connected().await?;
        let result = match guard.as_ref() {
            Some(c) => operation(&c.sftp).await,
            None => Err(retryable("connect", "no session")),
        };
        if result.is_err()
            && let Some(c) = guard.take()
        {
            let _ = c.sftp.close().await;
            let _ = c
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
        result
    }

    pub async fn put(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
        let folder = self.path(dir, "");
        let part = self.path(dir, &temporary(name));
        let target = self.path(dir, name);
        self.with(async |sftp| {
            Self::ensure_dir(sftp, &folder).await?;
            let mut file = sftp
                .create(&part)
                .await
                .map_err(|e| retryable(&format!("create {part}"), e))?;
            use tokio::io::AsyncWriteExt;
            file.write_all(bytes)
                .await
                .map_err(|e| retryable(&format!("write {part}"), e))?;
            file.shutdown()
                .await
                .map_err(|e| retryable(&format!("close {part}"), e))?;
            sftp.rename(&part, &target)
                .await
                .map_err(|e| retryable(&format!("rename to {target}"), e))
        })
        .await
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ConnectorError> {
        let path = self.path(dir, "");
        self.with(async |sftp| {
            if !sftp
                .try_exists(&path)
                .await
                .map_err(|e| retryable("stat", e))?
            {
                return Ok(Vec::new());
            }
            let entries = sftp
                .read_dir(&path)
                .await
                .map_err(|e| retryable(&format!("list {path}"), e))?;
            Ok(entries
                .filter(|e| e.file_type().is_file())
                .map(|e| e.file_name())
                .filter(|n| safe_name(n))
                .collect())
        })
        .await
    }

    pub async fn get(&self, dir: &str, name: &str) -> Result<Vec<u8>, ConnectorError> {
        let path = self.path(dir, name);
        self.with(async |sftp| {
            sftp.read(&path)
                .await
                .map_err(|e| retryable(&format!("read {path}"), e))
        })
        .await
    }

    pub async fn move_to(
        &self,
        dir: &str,
        name: &str,
        to: &str,
        new_name: &str,
    ) -> Result<(), ConnectorError> {
        let folder = self.path(dir, to);
        let from = self.path(dir, name);
        let target = self.path(dir, &format!("{to}/{new_name}"));
        self.with(async |sftp| {
            Self::ensure_dir(sftp, &folder).await?;
            if !sftp
                .try_exists(&from)
                .await
                .map_err(|e| retryable("stat", e))?
            {
                return Ok(());
            }
            sftp.rename(&from, &target)
                .await
                .map_err(|e| retryable(&format!("move {from}"), e))
        })
        .await
    }
}
