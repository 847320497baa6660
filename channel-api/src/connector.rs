//! The seam between flows and channels. A connector turns mapped records into a channel's API calls and the
//! channel's answers into canonical records; it knows nothing of NATS. Flows know nothing of a channel.
//!
//! A connector paces and protects its own calls (it knows which API operation each call is, and applies the
//! operation's limits from [`crate::resilience`]); it reports each failure with its class so that the flow
//! decides between retrying later and dead-lettering now.

use std::future::Future;

use crds::channel::Flow;
use serde_json::Value;

use crate::canonical::{CorrelationId, Record};

/// One mapped record to deliver.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundItem {
    /// The record's key on the channel (the channel SKU, the order id for shipments).
    pub key: String,
    pub correlation_id: CorrelationId,
    /// The channel's fields, as produced by the mapping (the canonical record when the flow has no mapping).
    pub fields: Value,
    /// The canonical record as prepared for the mapping: what a connector needs beyond the mapped fields
    /// (a shipment's order id and lines, a price's currency), never the channel's field names.
    pub record: Value,
}

pub use crate::error::{ConnectorError, FailureKind, HttpFailure};

/// One page of records read from a channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollPage {
    pub records: Vec<Record>,
    /// Where the next poll starts; stored only after the page's records are safely published.
    pub next_cursor: Option<String>,
    /// More pages are ready now (poll again without waiting for the interval).
    pub more: bool,
}

/// Something an inbound poll read that cannot be accepted as it is (a settlement amount that matches no order):
/// the flow dead-letters it with `reason`, under the subject of the record `key` names, before it moves the
/// cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The key of the record it belongs to (the settlement id), as in the record's subject.
    pub key: String,
    /// Stable across re-polls of the same page, so a re-poll does not store it twice.
    pub id: String,
    pub correlation_id: CorrelationId,
    /// What a person needs to see it (the settlement lines concerned).
    pub payload: Value,
    pub reason: String,
}

/// A channel.
pub trait Connector: Send + Sync + 'static {
    /// Most records one `deliver` call takes for `flow` (1 when the channel has no batch operation).
    fn max_batch(&self, flow: Flow) -> usize;

    /// Most messages an outbound flow fetches at once for `flow` (bounded by the consumer's max ack pending):
    /// a connector that chooses between per-record calls and bulk submissions by backlog sees this many.
    fn fetch_batch(&self, _flow: Flow) -> usize {
        500
    }

    /// Delivers mapped records; one result per item, in order. Batch operations that the channel accepts
    /// partly (a feed whose report rejects some messages) fail only the rejected items.
    fn deliver(
        &self,
        flow: Flow,
        items: &[OutboundItem],
    ) -> impl Future<Output = Vec<Result<(), ConnectorError>>> + Send;

    /// Reads the next page of an inbound flow from `cursor` (`None`: from the start of the channel's
    /// retention, or from now, as the connector documents).
    fn poll(
        &self,
        flow: Flow,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<PollPage, ConnectorError>> + Send;

    /// [`Connector::poll`] with what the page holds that cannot be accepted (for example settlement amounts
    /// that match no order), which the flow dead-letters. By default nothing is rejected.
    fn poll_checked(
        &self,
        flow: Flow,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<(PollPage, Vec<Rejected>), ConnectorError>> + Send {
        async move { self.poll(flow, cursor).await.map(|page| (page, Vec::new())) }
    }

    /// Reads again, from the raw payload its dead letter kept, a record this connector could not read from a
    /// poll or a push ([`Rejected::payload`], a pushed body, a partner's file): `twctl dlq replay` sends such a
    /// dead letter to the marketplace's adapter, which publishes what this returns as a poll would (or
    /// dead-letters it again with the error). Pure, no call to the channel: after a fix of the connector or the
    /// mapping, the same payload reads. By default a channel cannot, and says so.
    fn reread(&self, flow: Flow, raw: &[u8]) -> Result<Vec<Record>, String> {
        let _ = raw;
        Err(format!(
            "this channel's connector cannot read a {flow} record again from its dead letter"
        ))
    }
}
