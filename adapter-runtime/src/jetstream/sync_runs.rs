//! The reports of sync runs, in a KV bucket keyed by schedule: the adapter writes one when a run starts and
//! when it ends; the operator (and `twctl up`) read the newest into the schedule's status.

use async_nats::jetstream::kv;

use super::Error;
use crate::subject::encode_kv_key;
use crate::sync::SyncRunReport;

/// The run reports of one namespace.
pub struct SyncRuns {
    kv: kv::Store,
}

impl SyncRuns {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    pub async fn put(&self, report: &SyncRunReport) -> Result<(), Error> {
        let key = encode_kv_key(&report.schedule);
        let value = serde_json::to_vec(report)
            .map_err(|e| Error::data(format!("encoding sync run {key}"), e))?;
        self.kv
            .put(&key, value.into())
            .await
            .map(|_| ())
            .map_err(|e| Error::nats(format!("writing sync run {key}"), e))
    }

    /// The newest report of `schedule`, if any run was reported.
    pub async fn latest(&self, schedule: &str) -> Result<Option<SyncRunReport>, Error> {
        let key = encode_kv_key(schedule);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| Error::nats(format!("reading sync run {key}"), e))?;
        match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(entry) => serde_json::from_slice(&entry.value)
                .map(Some)
                .map_err(|e| Error::data(format!("decoding sync run {key}"), e)),
            None => Ok(None),
        }
    }
}
