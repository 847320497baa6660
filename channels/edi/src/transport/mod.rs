//! Where interchanges travel: the partner's SFTP server or a local folder, both seen as folders of files
//! under a base path. A file is written under a temporary name (starting with `.`) and renamed when complete,
//! so a reader never sees half a file; files starting with `.` are never read.

pub mod folder;
pub mod sftp;

use channel_api::connector::ConnectorError;

/// Interchanges read and processed are moved here, under the inbound folder.
pub const ARCHIVE_DIR: &str = "archive";
/// Interchanges that could not be read are moved here, under the inbound folder.
pub const REJECTED_DIR: &str = "rejected";

/// A transport, chosen by the URL scheme of `spec.endpoint.baseUrl`.
pub enum Transport {
    Folder(folder::Folder),
    Sftp(Box<sftp::Sftp>),
}

impl Transport {
    /// Writes `bytes` as `dir/name`, atomically.
    pub async fn put(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
        match self {
            Transport::Folder(f) => f.put(dir, name, bytes).await,
            Transport::Sftp(s) => s.put(dir, name, bytes).await,
        }
    }

    /// The names of the complete files in `dir`, sorted (an absent folder has none).
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ConnectorError> {
        let mut names = match self {
            Transport::Folder(f) => f.list(dir).await?,
            Transport::Sftp(s) => s.list(dir).await?,
        };
        names.retain(|n| !n.starts_with('.'));
        names.sort();
        Ok(names)
    }

    pub async fn get(&self, dir: &str, name: &str) -> Result<Vec<u8>, ConnectorError> {
        match self {
            Transport::Folder(f) => f.get(dir, name).await,
            Transport::Sftp(s) => s.get(dir, name).await,
        }
    }

    /// Moves `dir/name` into `dir/<to>/<UTC time>-name`, creating `dir/<to>`: the time keeps a partner that
    /// reuses a file name from colliding with what is already archived (an SFTP rename onto an existing file
    /// fails). A file already gone is not an error (another replica moved it).
    pub async fn move_to(&self, dir: &str, name: &str, to: &str) -> Result<(), ConnectorError> {
        let stamped = format!("{}-{name}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
        match self {
            Transport::Folder(f) => f.move_to(dir, name, to, &stamped).await,
            Transport::Sftp(s) => s.move_to(dir, name, to, &stamped).await,
        }
    }
}

/// A file or folder name received from a partner's listing, refused when it could leave its folder.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\\')
}

/// The temporary name a file is written under before its rename.
pub fn temporary(name: &str) -> String {
    format!(".{name}.part")
}
