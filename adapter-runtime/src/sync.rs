//! Sync runs fired by a `SyncSchedule`: the command the operator publishes on
//! `tw.<ns>.cmd.<marketplace>.<flow>` and the report the adapter writes back when the run ends.
//!
//! The command's id is its `Nats-Msg-Id` and names the schedule and the due time, so that two operator
//! replicas firing the same due time make one message. The adapter writes the run's report to the
//! `tw-<ns>-sync-runs` KV bucket under the schedule's name, where the operator reads it into
//! `SyncSchedule.status.lastRun`.

use chrono::{DateTime, SecondsFormat, Utc};
use crds::channel::Flow;
use crds::v1alpha1::{SyncMode, SyncRun};
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

/// What the adapter reports about one run: the schedule it belongs to, and the run as the schedule's status
/// shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRunReport {
    pub schedule: String,
    pub marketplace: String,
    pub flow: Flow,
    pub mode: SyncMode,
    pub run: SyncRun,
    /// Why the run failed or what it left undone; empty when it succeeded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// RFC 3339 in UTC, to the second, as status fields carry times.
pub fn status_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
