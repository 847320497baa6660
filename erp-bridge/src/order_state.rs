//! What the bridge last sent the ERP about each channel order ([`SentOrder`]), in the bridge's order-state KV
//! bucket (`Namespace::erp_order_state_bucket`), so that a restarted bridge, a redelivered message or a replay
//! sends no second create and no repeated update. Writes are compare-and-set on the entry's revision: a
//! concurrent writer makes the write fail and the record is delivered again, deciding afresh.

use adapter_runtime::subject::encode_kv_key;
use async_nats::jetstream::kv;

use crate::contract::SentOrder;

/// One order's state as read, with the KV revision to write it back at (`None`: no entry yet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub sent: Option<SentOrder>,
    pub revision: Option<u64>,
}

pub struct OrderStates {
    kv: kv::Store,
}

impl OrderStates {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    fn key(marketplace: &str, order_id: &str) -> String {
        format!("{}.{}", encode_kv_key(marketplace), encode_kv_key(order_id))
    }

    pub async fn get(&self, marketplace: &str, order_id: &str) -> Result<Read, String> {
        let key = Self::key(marketplace, order_id);
        let entry = self
            .kv
            .entry(&key)
            .await
            .map_err(|e| format!("reading the order state {key}: {e}"))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(Read::default());
        };
        // An entry the bridge cannot read (written by a newer version) counts as nothing sent: the create key
        // is the same, so the ERP answers it like the first time.
        Ok(Read {
            sent: serde_json::from_slice(&entry.value).ok(),
            revision: Some(entry.revision),
        })
    }

    /// Writes `sent` over the entry read at `read`; fails if another writer changed it since.
    pub async fn put(
        &self,
        marketplace: &str,
        order_id: &str,
        read: &Read,
        sent: &SentOrder,
    ) -> Result<(), String> {
        let key = Self::key(marketplace, order_id);
        let value = serde_json::to_vec(sent).map_err(|e| format!("encoding {key}: {e}"))?;
        match read.revision {
            Some(revision) => self
                .kv
                .update(&key, value.into(), revision)
                .await
                .map(|_| ())
                .map_err(|e| format!("writing the order state {key}: {e}")),
            None => self
                .kv
                .create(&key, value.into())
                .await
                .map(|_| ())
                .map_err(|e| format!("writing the order state {key}: {e}")),
        }
    }
}
