//! Publishing events with JetStream acknowledgement and de-duplication.

use async_nats::jetstream;
use bytes::Bytes;

use super::{Error, to_header_map};
use crate::envelope::{Event, Headers, encode};

/// What JetStream did with a published message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishOutcome {
    pub stream: String,
    pub sequence: u64,
    /// JetStream had seen this message id within the stream's duplicate window and dropped the message.
    pub duplicate: bool,
}

/// Publishes an event on `subject` and waits for JetStream's acknowledgement. The event id is the message id,
/// so publishing the same event twice stores it once.
pub async fn publish_event(
    js: &jetstream::Context,
    subject: &str,
    event: &Event,
    subject_key: Option<&str>,
) -> Result<PublishOutcome, Error> {
    let (headers, payload) =
        encode(event, subject_key).map_err(|e| Error::data("encoding event", e))?;
    publish_raw(js, subject, &headers, payload).await
}

/// Publishes headers and payload as they are (replays, dead letters) and waits for the acknowledgement.
pub async fn publish_raw(
    js: &jetstream::Context,
    subject: &str,
    headers: &Headers,
    payload: impl Into<Bytes>,
) -> Result<PublishOutcome, Error> {
    let action = || format!("publishing to {subject}");
    let ack = js
        .publish_with_headers(subject.to_string(), to_header_map(headers), payload.into())
        .await
        .map_err(|e| Error::nats(action(), e))?
        .await
        .map_err(|e| Error::nats(action(), e))?;
    Ok(PublishOutcome {
        stream: ack.stream,
        sequence: ack.sequence,
        duplicate: ack.duplicate,
    })
}
