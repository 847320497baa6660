//! Polling cursors (last updated time, next-page token) in a KV bucket, so that a restarted adapter resumes
//! exactly where the last one stopped. Updates are compare-and-set: two replicas never overwrite each other.

use async_nats::jetstream::kv;
use crds::channel::Flow;

use super::Error;
use crate::subject::encode_kv_key;

/// A cursor value with the KV revision it was read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub value: String,
    pub revision: u64,
}

/// The cursors of one namespace's marketplaces.
pub struct CursorStore {
    kv: kv::Store,
}

impl CursorStore {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    fn key(marketplace: &str, flow: Flow) -> String {
        format!("{}.{}", encode_kv_key(marketplace), flow)
    }

    /// The current cursor, if any.
    pub async fn get(&self, marketplace: &str, flow: Flow) -> Result<Option<Cursor>, Error> {
        let key = Self::key(marketplace, flow);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| Error::nats(format!("reading cursor {key}"), e))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| Cursor {
                value: String::from_utf8_lossy(&e.value).into_owned(),
                revision: e.revision,
            }))
    }

    /// Forgets the cursor, so that the next poll reads the channel from the start of its retention (a full
    /// sync run). A poll in progress that read the old cursor fails its compare-and-set and polls again.
    pub async fn reset(&self, marketplace: &str, flow: Flow) -> Result<(), Error> {
        let key = Self::key(marketplace, flow);
        self.kv
            .delete(&key)
            .await
            .map_err(|e| Error::nats(format!("resetting cursor {key}"), e))
    }

    /// Moves the cursor from `previous` (as read) to `value`. Fails if another writer moved it meanwhile.
    pub async fn advance(
        &self,
        marketplace: &str,
        flow: Flow,
        previous: Option<&Cursor>,
        value: &str,
    ) -> Result<Cursor, Error> {
        let key = Self::key(marketplace, flow);
        let action = || format!("advancing cursor {key}");
        let revision = match previous {
            Some(previous) => self
                .kv
                .update(&key, value.to_string().into(), previous.revision)
                .await
                .map_err(|e| Error::nats(action(), e))?,
            None => self
                .kv
                .create(&key, value.to_string().into())
                .await
                .map_err(|e| Error::nats(action(), e))?,
        };
        Ok(Cursor {
            value: value.to_string(),
            revision,
        })
    }
}
