//! What the connector must remember across restarts, in the namespace's cursor KV bucket under
//! `<marketplace>.edi.*`: the last interchange control number used (so none ever repeats, whichever replica
//! sends), the interchanges still waiting for the partner's 997, and the partner interchanges already
//! acknowledged (so a re-read file is not acknowledged twice). Every update is compare-and-set.

use std::time::Duration;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use channel_api::subject::encode_kv_key;
use crds::channel::Flow;

use crate::x12::MAX_CONTROL_NUMBER;

/// Compare-and-set attempts before a control number allocation gives up (replicas racing for the same key).
const CAS_ATTEMPTS: usize = 200;

/// A random number without a dependency: std's randomly keyed hasher.
fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// One interchange we sent and the partner has not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// ISA13, also our GS06.
    pub control_number: u32,
    /// ST01 of its sets and how many.
    pub set_id: String,
    pub sets: usize,
    pub flow: Flow,
    pub file: String,
    pub sent_at: DateTime<Utc>,
    /// The records' keys (SKUs, order ids), at most [`Pending::KEYS`] of them, for the report.
    pub keys: Vec<String>,
}

impl Pending {
    pub const KEYS: usize = 20;
}

/// The EDI state of one marketplace.
#[derive(Clone)]
pub struct EdiState {
    kv: kv::Store,
    prefix: String,
}

fn nats(action: &str, e: impl std::fmt::Display) -> String {
    format!("{action}: {e}")
}

impl EdiState {
    pub fn new(kv: kv::Store, marketplace: &str) -> Self {
        Self {
            kv,
            prefix: format!("{}.edi", encode_kv_key(marketplace)),
        }
    }

    /// The next interchange control number: one more than the last one used, never reused. Control
    /// numbers do not wrap: at 999999999 the connector stops sending and says so (a partner would take a
    /// wrapped number for a duplicate).
    pub async fn next_control_number(&self) -> Result<u32, String> {
        let key = format!("{}.control", self.prefix);
        for _ in 0..CAS_ATTEMPTS {
            let entry = self
                .kv
                .entry(&key)
                .await
                .map_err(|e| nats("reading the last control number", e))?
                .filter(|e| e.operation == kv::Operation::Put);
            let (last, revision) = match &entry {
                Some(e) => {
                    let text = String::from_utf8_lossy(&e.value);
                    let last = text.trim().parse::<u32>().map_err(|_| {
                        format!("the stored control number {text:?} is not a number")
                    })?;
                    (last, Some(e.revision))
                }
                None => (0, None),
            };
            if last >= MAX_CONTROL_NUMBER {
                return Err(format!(
                    "every interchange control number up to {MAX_CONTROL_NUMBER} is used; agree a new \
                     sender id with the partner"
                ));
            }
            let next = last + 1;
            let value = next.to_string().into();
            let stored = match revision {
                Some(r) => self.kv.update(&key, value, r).await.is_ok(),
                None => self.kv.create(&key, value).await.is_ok(),
            };
            if stored {
                return Ok(next);
            }
            // Another replica took this number: back off a random few milliseconds so racing replicas
            // spread out instead of colliding again.
            tokio::time::sleep(Duration::from_millis(1 + jitter() % 20)).await;
        }
        Err("could not allocate an interchange control number: the KV entry kept changing".into())
    }

    fn pending_key(&self, control_number: u32) -> String {
        format!("{}.pending.{control_number:09}", self.prefix)
    }

    /// Records an interchange as waiting for its 997.
    pub async fn expect_ack(&self, pending: &Pending) -> Result<(), String> {
        let value = serde_json::to_vec(pending).map_err(|e| e.to_string())?;
        self.kv
            .put(self.pending_key(pending.control_number), value.into())
            .await
            .map(|_| ())
            .map_err(|e| nats("recording the interchange awaiting its 997", e))
    }

    /// Forgets an interchange the partner acknowledged; returns it when it was pending.
    pub async fn acknowledged(&self, control_number: u32) -> Result<Option<Pending>, String> {
        let key = self.pending_key(control_number);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| nats("reading a pending interchange", e))?
            .filter(|e| e.operation == kv::Operation::Put);
        let Some(entry) = entry else { return Ok(None) };
        let pending = serde_json::from_slice(&entry.value).ok();
        self.kv
            .delete(&key)
            .await
            .map_err(|e| nats("forgetting an acknowledged interchange", e))?;
        Ok(pending)
    }

    /// Every interchange still waiting for its 997, oldest first.
    pub async fn pending(&self) -> Result<Vec<Pending>, String> {
        let prefix = format!("{}.pending.", self.prefix);
        let keys: Vec<String> = match self.kv.keys().await {
            Ok(keys) => keys
                .try_collect()
                .await
                .map_err(|e| nats("listing pending interchanges", e))?,
            Err(e) => return Err(nats("listing pending interchanges", e)),
        };
        let mut out = Vec::new();
        for key in keys.into_iter().filter(|k| k.starts_with(&prefix)) {
            if let Some(entry) = self
                .kv
                .entry(&key)
                .await
                .map_err(|e| nats("reading a pending interchange", e))?
                .filter(|e| e.operation == kv::Operation::Put)
                && let Ok(pending) = serde_json::from_slice::<Pending>(&entry.value)
            {
                out.push(pending);
            }
        }
        out.sort_by_key(|p| p.control_number);
        Ok(out)
    }

    /// The pending interchanges older than `deadline` at `now`.
    pub async fn overdue(
        &self,
        deadline: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Pending>, String> {
        let deadline = chrono::Duration::from_std(deadline).unwrap_or(chrono::Duration::MAX);
        Ok(self
            .pending()
            .await?
            .into_iter()
            .filter(|p| now.signed_duration_since(p.sent_at) > deadline)
            .collect())
    }

    fn received_key(&self, sender: &str, control_number: u32) -> String {
        format!(
            "{}.received.{}.{control_number:09}",
            self.prefix,
            encode_kv_key(sender)
        )
    }

    /// Has a partner's interchange been acknowledged by us already (a file read again after a restart)?
    pub async fn was_received(&self, sender: &str, control_number: u32) -> Result<bool, String> {
        let key = self.received_key(sender, control_number);
        Ok(self
            .kv
            .entry(&key)
            .await
            .map_err(|e| nats("reading a received interchange", e))?
            .is_some_and(|e| e.operation == kv::Operation::Put))
    }

    /// Marks a partner's interchange as acknowledged by us. False when it already was.
    pub async fn mark_received(&self, sender: &str, control_number: u32) -> Result<bool, String> {
        let key = self.received_key(sender, control_number);
        match self.kv.create(&key, Utc::now().to_rfc3339().into()).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(nats("recording a received interchange", e)),
        }
    }
}
