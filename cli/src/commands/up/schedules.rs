//! The local run's `SyncSchedule`s, fired as the operator's controller fires them: due times from the
//! operator's own evaluation (cron, time zone, blackout windows, suspend, starting deadline), commands
//! published with the operator's idempotent id, outcomes read back from the adapters' run reports.
//!
//! A nightly schedule never comes due in a run of a minute, so the local run also requests every schedule
//! once, as `tradewind.dev/requested-at` does in a cluster; that exercises the same command path.

use adapter_runtime::jetstream::{SyncRuns, ensure_kv, ensure_stream};
use adapter_runtime::sync::{SyncCommand, run_id};
use adapter_runtime::topology::Namespace;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use crds::v1alpha1::{RunOutcome, SyncScheduleSpec};
use crds::validation::{Item, Resource};
use operator::schedule::command::{Fired, publish};
use operator::schedule::due::evaluate;
use serde::Serialize;

/// One schedule of the run.
struct Entry {
    namespace: String,
    name: String,
    spec: SyncScheduleSpec,
    /// The last due time handled (the run's start at first), as the controller's `lastScheduleTime`.
    since: DateTime<Utc>,
    fired: Vec<String>,
}

/// The schedules of the marketplaces that run locally.
pub struct LocalSchedules {
    js: jetstream::Context,
    entries: Vec<Entry>,
}

/// What the summary says about a schedule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSummary {
    pub name: String,
    pub marketplace: String,
    pub flow: String,
    pub mode: String,
    /// Runs fired during the local run (cron due times and the one manual request).
    pub fired: u64,
    /// The last run as the adapter reported it (`None`: nothing reported yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<crds::v1alpha1::SyncRun>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl ScheduleSummary {
    /// Fired and finished without failing: what the consistency check asks of every schedule.
    pub fn completed(&self) -> bool {
        self.fired == 0
            || self.last_run.as_ref().is_some_and(|r| {
                matches!(
                    r.outcome,
                    RunOutcome::Succeeded | RunOutcome::PartiallySucceeded | RunOutcome::Skipped
                )
            })
    }
}

impl LocalSchedules {
    /// The schedules in `items` whose marketplace is one of `running` (namespace, name).
    pub fn new(
        js: jetstream::Context,
        items: &[Item],
        running: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Self {
        let entries = items
            .iter()
            .filter_map(|item| {
                let Resource::SyncSchedule(schedule) = &item.resource else {
                    return None;
                };
                let marketplace = &schedule.spec.marketplace_ref.name;
                running
                    .iter()
                    .any(|(ns, name)| *ns == item.namespace && name == marketplace)
                    .then(|| Entry {
                        namespace: item.namespace.clone(),
                        name: item.name.clone(),
                        spec: schedule.spec.clone(),
                        since: now,
                        fired: Vec::new(),
                    })
            })
            .collect();
        Self { js, entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Fires the schedules that are due at `now`; returns a line per fire for the progress output.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        for i in 0..self.entries.len() {
            let entry = &self.entries[i];
            let decision = match evaluate(&entry.spec, entry.since, now) {
                Ok(decision) => decision,
                Err(e) => {
                    lines.push(format!("! SyncSchedule/{}: {e}", entry.name));
                    continue;
                }
            };
            if let Some(reached) = decision.reached {
                self.entries[i].since = reached;
            }
            if let Some(due) = decision.fire {
                lines.push(self.fire(i, due, "due").await?);
            }
        }
        Ok(lines)
    }

    /// Requests one run of every schedule that is not suspended, now.
    pub async fn request_all(&mut self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        for i in 0..self.entries.len() {
            if !self.entries[i].spec.suspend {
                lines.push(self.fire(i, now, "requested").await?);
            }
        }
        Ok(lines)
    }

    async fn fire(&mut self, i: usize, due: DateTime<Utc>, why: &str) -> anyhow::Result<String> {
        let entry = &self.entries[i];
        let ns = Namespace::new(&entry.namespace);
        ensure_stream(&self.js, &ns.command_stream())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let command = SyncCommand {
            id: run_id(&entry.namespace, &entry.name, due),
            schedule: entry.name.clone(),
            marketplace: entry.spec.marketplace_ref.name.clone(),
            flow: entry.spec.flow,
            mode: entry.spec.mode,
            due_time: adapter_runtime::sync::status_time(due),
        };
        let fired = publish(&self.js, &entry.namespace, &command)
            .await
            .map_err(|e| anyhow::anyhow!("firing SyncSchedule/{}: {e}", entry.name))?;
        let line = format!(
            "⏱ SyncSchedule/{} fired ({why}): {} {:?} sync of Marketplace/{}{}",
            entry.name,
            command.flow,
            command.mode,
            command.marketplace,
            if fired == Fired::Duplicate {
                " (already fired)"
            } else {
                ""
            }
        );
        self.entries[i].fired.push(command.id);
        Ok(line)
    }

    /// Whether every fired run has finished (any outcome).
    pub async fn settled(&self) -> bool {
        for summary in self.summaries().await {
            if summary.fired > 0
                && summary
                    .last_run
                    .as_ref()
                    .is_none_or(|r| r.outcome == RunOutcome::Running)
            {
                return false;
            }
        }
        true
    }

    /// Each schedule with its last reported run.
    pub async fn summaries(&self) -> Vec<ScheduleSummary> {
        let mut out = Vec::new();
        for entry in &self.entries {
            let ns = Namespace::new(&entry.namespace);
            let report = match ensure_kv(&self.js, &ns.sync_run_bucket()).await {
                Ok(kv) => SyncRuns::new(kv).latest(&entry.name).await.ok().flatten(),
                Err(_) => None,
            };
            // Only a report of a run fired here counts: the bucket of a reused server may hold older ones.
            let report = report.filter(|r| entry.fired.contains(&r.run.id));
            out.push(ScheduleSummary {
                name: entry.name.clone(),
                marketplace: entry.spec.marketplace_ref.name.clone(),
                flow: entry.spec.flow.to_string(),
                mode: format!("{:?}", entry.spec.mode),
                fired: entry.fired.len() as u64,
                message: report
                    .as_ref()
                    .map(|r| r.message.clone())
                    .unwrap_or_default(),
                last_run: report.map(|r| r.run),
            });
        }
        out
    }
}
