//! The command a due `SyncSchedule` sends to its marketplace's adapter, and its idempotent publication: the
//! `Nats-Msg-Id` names the schedule and the due time, so that two operator replicas (or a retry after a crash
//! between publish and status update) firing the same due time make one message, dropped by the command
//! stream's de-duplication window.

use adapter_runtime::topology::Namespace;
use async_nats::jetstream;

pub use adapter_runtime::sync::{SyncCommand, run_id};

/// Whether the publication made a new message or was a duplicate of an earlier fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fired {
    New,
    Duplicate,
}

/// Publishes `command` with its id as `Nats-Msg-Id` and waits for the stream's acknowledgement.
pub async fn publish(
    js: &jetstream::Context,
    namespace: &str,
    command: &SyncCommand,
) -> Result<Fired, String> {
    let subject = Namespace::new(namespace).command_subject(&command.marketplace, command.flow);
    let payload = serde_json::to_vec(command).map_err(|e| e.to_string())?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", command.id.as_str());
    let ack = js
        .publish_with_headers(subject.clone(), headers, payload.into())
        .await
        .map_err(|e| format!("publish to {subject}: {e}"))?
        .await
        .map_err(|e| format!("publish to {subject}: {e}"))?;
    Ok(if ack.duplicate {
        Fired::Duplicate
    } else {
        Fired::New
    })
}
