//! The command a due `SyncSchedule` sends to its marketplace's adapter, and its idempotent publication: the
//! `Nats-Msg-Id` names the schedule and the due time, so that two operator replicas (or a retry after a crash
//! between publish and status update) firing the same due time make one message, dropped by the command
//! stream's de-duplication window.

use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{DateTime, SecondsFormat, Utc};
use crds::channel::Flow;
use crds::v1alpha1::SyncMode;
use serde::{Deserialize, Serialize};

/// The message on `tw.<ns>.cmd.<marketplace>.<flow>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCommand {
    /// Run id: the `Nats-Msg-Id`, echoed by the adapter when it reports the run's outcome.
    pub id: String,
    pub schedule: String,
    pub marketplace: String,
    pub flow: Flow,
    pub mode: SyncMode,
    /// The due time this run is for (RFC 3339, UTC).
    pub due_time: String,
}

/// The id of the run of `schedule` in `namespace` due at `due`.
pub fn run_id(namespace: &str, schedule: &str, due: DateTime<Utc>) -> String {
    format!(
        "sync:{namespace}/{schedule}@{}",
        due.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

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
