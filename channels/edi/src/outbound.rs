//! Delivering records: one interchange per delivery, recorded as awaiting its 997.

use chrono::Utc;
use crds::channel::Flow;
use tracing::{info, warn};

use channel_api::connector::{ConnectorError, OutboundItem};

use crate::state::Pending;
use crate::x12::{self, Segment};
use crate::{EdiConnector, documents, envelope};

impl EdiConnector {
    /// Sends one interchange of `set_id` sets and records it as awaiting its 997.
    pub(crate) async fn send(
        &self,
        flow: Flow,
        set_id: &str,
        bodies: Vec<Vec<Segment>>,
        keys: Vec<String>,
    ) -> Result<u32, ConnectorError> {
        let links = self.links().await?;
        let control = links
            .state
            .next_control_number()
            .await
            .map_err(ConnectorError::retryable)?;
        let now = Utc::now();
        let sets = bodies.len();
        let ic = envelope::interchange(&self.partner, control, now, set_id, bodies)
            .map_err(ConnectorError::permanent)?;
        let text =
            x12::write(&ic).map_err(|e| ConnectorError::permanent(format!("{set_id}: {e}")))?;
        let name = envelope::file_name(control, set_id);
        let dir = self.partner.outbound_dir.as_str();
        self.guarded("send", || self.transport.put(dir, &name, text.as_bytes()))
            .await?;
        if set_id != "997" {
            let pending = Pending {
                control_number: control,
                set_id: set_id.to_string(),
                sets,
                flow,
                file: name.clone(),
                sent_at: now,
                keys: keys.into_iter().take(Pending::KEYS).collect(),
            };
            if let Err(e) = links.state.expect_ack(&pending).await {
                // Sent already: retrying would send it twice. The missing 997 entry only loses the reminder.
                warn!(marketplace = %self.marketplace, control, error = %e, "interchange sent, not recorded as awaiting its 997");
            }
        }
        info!(marketplace = %self.marketplace, control, set_id, sets, file = %name, "interchange sent");
        Ok(control)
    }

    /// Delivers items as one interchange: each item's body from `build` (an item it cannot be built for fails
    /// alone), `one_set` puts every body's segments in a single set (the 846).
    pub(crate) async fn deliver_sets(
        &self,
        flow: Flow,
        set_id: &str,
        items: &[OutboundItem],
        build: impl Fn(&OutboundItem) -> Result<Vec<Segment>, String>,
        one_set: bool,
    ) -> Vec<Result<(), ConnectorError>> {
        let built: Vec<Result<Vec<Segment>, String>> = items.iter().map(&build).collect();
        let mut results: Vec<Result<(), ConnectorError>> = built
            .iter()
            .zip(items)
            .map(|(b, item)| match b {
                Ok(_) => Ok(()),
                Err(e) => Err(ConnectorError::permanent(format!(
                    "{set_id} for {}: {e}",
                    item.key
                ))),
            })
            .collect();
        let keys: Vec<String> = built
            .iter()
            .zip(items)
            .filter(|(b, _)| b.is_ok())
            .map(|(_, item)| item.key.clone())
            .collect();
        let good: Vec<Vec<Segment>> = built.into_iter().filter_map(Result::ok).collect();
        if good.is_empty() {
            return results;
        }
        let bodies = if one_set {
            let reference = format!("{}-{}", self.marketplace, Utc::now().format("%Y%m%d%H%M%S"));
            vec![documents::inventory::body(&reference, Utc::now(), good)]
        } else {
            good
        };
        if let Err(e) = self.send(flow, set_id, bodies, keys).await {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.clone());
            }
        }
        results
    }
}
