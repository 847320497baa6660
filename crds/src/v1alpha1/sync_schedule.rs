//! `SyncSchedule`: when a marketplace flow runs a full or incremental sync.

use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, LocalObjectReference};
use crate::channel::Flow;

/// A schedule for one flow of one marketplace. At each due time the operator publishes one command message (with
/// an idempotent id, so two operator replicas never fire twice); the adapter runs the sync and reports the outcome
/// back into this status, like a CronJob.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "tradewind.dev",
    version = "v1alpha1",
    kind = "SyncSchedule",
    plural = "syncschedules",
    shortname = "twsched",
    category = "tradewind",
    doc = "A cron schedule for a full or incremental sync of one marketplace flow",
    namespaced,
    status = "SyncScheduleStatus",
    printcolumn(
        name = "Marketplace",
        type_ = "string",
        json_path = ".spec.marketplaceRef.name"
    ),
    printcolumn(name = "Flow", type_ = "string", json_path = ".spec.flow"),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "Suspend", type_ = "boolean", json_path = ".spec.suspend"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Last Schedule",
        type_ = "date",
        json_path = ".status.lastScheduleTime"
    ),
    printcolumn(
        name = "Last Outcome",
        type_ = "string",
        json_path = ".status.lastRun.outcome"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.trigger == 'EventOnly' || has(self.schedule)").message("spec.schedule is required unless spec.trigger is EventOnly"))]
#[x_kube(validation = Rule::new("self.trigger != 'EventOnly' || !has(self.schedule)").message("spec.schedule must be empty when spec.trigger is EventOnly"))]
pub struct SyncScheduleSpec {
    /// The marketplace whose flow is synced.
    pub marketplace_ref: LocalObjectReference,
    /// The flow to sync. It must be enabled on the marketplace.
    pub flow: Flow,
    /// `Full` resends (outbound) or refetches (inbound) everything; `Incremental` handles what changed since the
    /// last run.
    #[serde(default)]
    pub mode: SyncMode,
    /// What starts a run.
    #[serde(default)]
    pub trigger: Trigger,
    /// Cron expression (five fields, or six with seconds), evaluated in `timeZone`. Required unless `trigger` is
    /// `EventOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule` and `blackoutWindows`, for example `Europe/Paris`. Default `UTC`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Periods in which no run starts (a due time inside one is skipped, not delayed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blackout_windows: Vec<BlackoutWindow>,
    /// A run that could not start within this long of its due time (operator down, blackout) is skipped and
    /// counted as missed. Absent: a missed run starts as soon as possible, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub starting_deadline_seconds: Option<i64>,
    /// What to do when a run is due while the previous one is still going.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// Stop starting runs. A run in progress finishes.
    #[serde(default)]
    pub suspend: bool,
    /// Service level objective, checked against the flow's metrics; breaking it sets `Degraded` on the
    /// marketplace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SyncSlo>,
}

fn default_time_zone() -> String {
    "UTC".into()
}

/// Full or incremental sync.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum SyncMode {
    /// Only what changed since the last successful run (or, outbound, the current value of every changed SKU).
    #[default]
    Incremental,
    /// Everything: outbound, the latest value of every SKU is resent (a replay of the last-value stream);
    /// inbound, the channel is read from the start of its retention.
    Full,
}

/// What starts a run.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Trigger {
    /// The cron `schedule`, plus manual requests (the `tradewind.dev/requested-at` annotation).
    #[default]
    Cron,
    /// Only manual requests (the `tradewind.dev/requested-at` annotation); no `schedule`.
    EventOnly,
}

/// Overlapping runs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum ConcurrencyPolicy {
    /// Skip the new run while one is in progress.
    #[default]
    Forbid,
    /// Cancel the run in progress and start the new one.
    Replace,
}

/// A recurring period without runs, in the schedule's time zone.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.start != self.end").message("blackoutWindows[].start and end must differ"))]
pub struct BlackoutWindow {
    /// Start time of day, `HH:MM` (24 h).
    #[schemars(regex(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// End time of day, `HH:MM` (24 h). Earlier than `start` means the window crosses midnight.
    #[schemars(regex(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: String,
    /// Days the window starts on. Empty: every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
}

/// Day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Service level objective of a synced flow.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSlo {
    /// Longest acceptable time from an ERP change to its acceptance by the channel (inventory publication
    /// latency), or from a channel order to its acceptance by the ERP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub max_latency: Option<Duration>,
    /// Most records acceptable waiting in the flow's consumer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending: Option<u64>,
}

/// Observed state of a `SyncSchedule`.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncScheduleStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// When the last run was fired (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    /// When the next run is due (UTC, RFC 3339); absent while suspended or event-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<String>,
    /// When a run last succeeded (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<String>,
    /// Runs skipped because they were due in a blackout window or past their starting deadline.
    #[serde(default)]
    pub missed_runs: u64,
    /// The outcome of the last run, reported by the adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<SyncRun>,
}

/// One run of a schedule.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    /// The run's idempotent id (the command message's id).
    pub id: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// When it started (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it finished (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Records handled successfully.
    #[serde(default)]
    pub succeeded: u64,
    /// Records sent to the dead-letter stream.
    #[serde(default)]
    pub dead_lettered: u64,
}

/// The outcome of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum RunOutcome {
    /// Fired, not finished.
    Running,
    /// Finished, every record handled.
    Succeeded,
    /// Finished, some records dead-lettered.
    PartiallySucceeded,
    /// Could not run (channel unreachable, credentials rejected).
    Failed,
    /// Skipped by the concurrency policy.
    Skipped,
}
