//! Transaction timelines: what happened to one business transaction (an order from its receipt to its
//! settlement), keyed by correlation id, for `twctl trace`.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Error;
use crate::canonical::CorrelationId;
use crate::subject::encode_kv_key;

/// A step of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    Received,
    Validated,
    PostedToErp,
    Acknowledged,
    Shipped,
    Confirmed,
    Returned,
    Settled,
    DeadLettered,
    Replayed,
}

/// One step with when it happened and a detail (the ERP's order number, the tracking number, the reason).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub step: Step,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Which component recorded it (`adapter/amazon-us`, `erp-bridge/demo-erp`).
    pub by: String,
}

/// The timelines of one namespace.
pub struct Timeline {
    kv: kv::Store,
}

/// Concurrent appends to one timeline are retried this many times.
const MAX_ATTEMPTS: u32 = 16;

impl Timeline {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    fn key(id: &CorrelationId) -> String {
        encode_kv_key(id.as_str())
    }

    /// The timeline of a transaction, oldest step first.
    pub async fn get(&self, id: &CorrelationId) -> Result<Vec<TimelineEntry>, Error> {
        Ok(self
            .read(id)
            .await?
            .map(|(entries, _)| entries)
            .unwrap_or_default())
    }

    async fn read(&self, id: &CorrelationId) -> Result<Option<(Vec<TimelineEntry>, u64)>, Error> {
        let key = Self::key(id);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| Error::nats(format!("reading timeline {id}"), e))?;
        match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(entry) => {
                let entries = serde_json::from_slice(&entry.value)
                    .map_err(|e| Error::data(format!("reading timeline {id}"), e))?;
                Ok(Some((entries, entry.revision)))
            }
            None => Ok(None),
        }
    }

    /// Appends a step. An identical step (same step and detail) already recorded is not added again, so
    /// a redelivered message does not duplicate its steps.
    pub async fn append(&self, id: &CorrelationId, entry: TimelineEntry) -> Result<(), Error> {
        let key = Self::key(id);
        for _ in 0..MAX_ATTEMPTS {
            let current = self.read(id).await?;
            let (mut entries, revision) = current.clone().unwrap_or_default();
            if entries
                .iter()
                .any(|e| e.step == entry.step && e.detail == entry.detail)
            {
                return Ok(());
            }
            entries.push(entry.clone());
            entries.sort_by_key(|e| e.at);
            let value = serde_json::to_vec(&entries)
                .map_err(|e| Error::data(format!("writing timeline {id}"), e))?;
            let written = match current {
                Some(_) => self.kv.update(&key, value.into(), revision).await.is_ok(),
                None => self.kv.create(&key, value.into()).await.is_ok(),
            };
            if written {
                return Ok(());
            }
        }
        Err(Error::Contended {
            action: format!("appending to timeline {id}"),
            attempts: MAX_ATTEMPTS,
        })
    }
}
