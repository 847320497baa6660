//! Adapter heartbeats: every few seconds each adapter replica writes what only it knows — that it is alive,
//! and how its channel calls fared per operation (throttled, retried, refused by the breaker) — to a KV bucket
//! keyed by marketplace and replica. `twctl status` and the operator read it; nothing depends on it for
//! correctness.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Error;
use crate::subject::encode_kv_key;

/// One adapter replica's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub marketplace: String,
    /// Host name of the replica (the pod's name in a cluster).
    pub replica: String,
    pub at: DateTime<Utc>,
    pub ready: bool,
    pub operations: Vec<OperationStats>,
}

/// Counters of one channel operation since the replica started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStats {
    pub operation: String,
    pub calls: u64,
    pub successes: u64,
    pub throttled: u64,
    pub retries: u64,
    pub failed: u64,
    /// `closed`, `open` or `half-open`.
    pub breaker: String,
}

/// The heartbeats of one namespace.
pub struct Heartbeats {
    kv: kv::Store,
}

impl Heartbeats {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    fn key(marketplace: &str, replica: &str) -> String {
        format!("{}.{}", encode_kv_key(marketplace), encode_kv_key(replica))
    }

    pub async fn put(&self, heartbeat: &Heartbeat) -> Result<(), Error> {
        let key = Self::key(&heartbeat.marketplace, &heartbeat.replica);
        let value = serde_json::to_vec(heartbeat)
            .map_err(|e| Error::data(format!("encoding heartbeat {key}"), e.to_string()))?;
        self.kv
            .put(&key, value.into())
            .await
            .map_err(|e| Error::nats(format!("writing heartbeat {key}"), e))?;
        Ok(())
    }

    /// Every replica's latest heartbeat (entries that do not decode are skipped).
    pub async fn all(&self) -> Result<Vec<Heartbeat>, Error> {
        let mut keys = self
            .kv
            .keys()
            .await
            .map_err(|e| Error::nats("listing heartbeats", e))?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            let Ok(key) = key else { continue };
            if let Ok(Some(bytes)) = self.kv.get(&key).await
                && let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&bytes)
            {
                out.push(heartbeat);
            }
        }
        out.sort_by(|a, b| (&a.marketplace, &a.replica).cmp(&(&b.marketplace, &b.replica)));
        Ok(out)
    }
}
