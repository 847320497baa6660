//! A local folder (`file:///dir`): for partners reached through a mounted share, and for local runs.

use std::path::PathBuf;

use channel_api::connector::ConnectorError;

use super::{safe_name, temporary};

pub struct Folder {
    base: PathBuf,
}

fn io(action: String, e: std::io::Error) -> ConnectorError {
    ConnectorError::retryable(format!("{action}: {e}"))
}

impl Folder {
    pub fn new(base: PathBuf) -> Self {
        Self { base }
    }

    fn dir(&self, dir: &str) -> PathBuf {
        self.base.join(dir)
    }

    pub async fn put(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
        let folder = self.dir(dir);
        tokio::fs::create_dir_all(&folder)
            .await
            .map_err(|e| io(format!("creating {}", folder.display()), e))?;
        let part = folder.join(temporary(name));
        tokio::fs::write(&part, bytes)
            .await
            .map_err(|e| io(format!("writing {}", part.display()), e))?;
        let target = folder.join(name);
        tokio::fs::rename(&part, &target)
            .await
            .map_err(|e| io(format!("renaming to {}", target.display()), e))
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<String>, ConnectorError> {
        let folder = self.dir(dir);
        let mut entries = match tokio::fs::read_dir(&folder).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("listing {}", folder.display()), e)),
        };
        let mut names = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io(format!("listing {}", folder.display()), e))?
        {
            let is_file = entry
                .file_type()
                .await
                .map(|t| t.is_file())
                .unwrap_or(false);
            if let (true, Some(name)) = (is_file, entry.file_name().to_str())
                && safe_name(name)
            {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    pub async fn get(&self, dir: &str, name: &str) -> Result<Vec<u8>, ConnectorError> {
        let path = self.dir(dir).join(name);
        tokio::fs::read(&path)
            .await
            .map_err(|e| io(format!("reading {}", path.display()), e))
    }

    pub async fn move_to(
        &self,
        dir: &str,
        name: &str,
        to: &str,
        new_name: &str,
    ) -> Result<(), ConnectorError> {
        let target_dir = self.dir(dir).join(to);
        tokio::fs::create_dir_all(&target_dir)
            .await
            .map_err(|e| io(format!("creating {}", target_dir.display()), e))?;
        let from = self.dir(dir).join(name);
        match tokio::fs::rename(&from, target_dir.join(new_name)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format!("moving {}", from.display()), e)),
        }
    }
}
