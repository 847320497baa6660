//! `SyncSchedule`: at each due time (cron in its time zone, outside blackout windows, within the starting
//! deadline, unless suspended) one `SyncCommand` on `tw.<ns>.cmd.<marketplace>.<flow>` with the idempotent id
//! `sync:<ns>/<schedule>@<due time>`, so two operator replicas, or a retry after a crash between the publish
//! and the status write, make one message. A `tradewind.dev/requested-at` annotation with a new value fires
//! one run now (id `sync:<ns>/<schedule>@requested:<value>`).
//!
//! Status is like a CronJob's: `lastScheduleTime` (the due time last fired), `nextScheduleTime`, `missedRuns`,
//! and `lastRun` / `lastSuccessfulTime` read from the adapter's reports in the `tw-<ns>-sync-runs` KV bucket
//! (key: the schedule's name, value: `adapter_runtime::sync::SyncRunReport`).
//!
//! The due time last evaluated (fired or skipped) is kept in the annotation
//! `tradewind.dev/last-evaluated-due-time`, so a due time skipped by a blackout or the deadline is counted as
//! missed once, not at every reconcile.

use std::sync::Arc;

use adapter_runtime::jetstream::{SyncRuns, ensure_stream};
use adapter_runtime::sync::{SyncCommand, run_id, status_time};
use adapter_runtime::topology::Namespace;
use chrono::{DateTime, Utc};
use crds::v1alpha1::{
    CommonStatus, ConcurrencyPolicy, Marketplace, REQUESTED_AT_ANNOTATION, RunOutcome, SyncRun,
    SyncSchedule, SyncScheduleStatus, condition,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::channel_mapping::jiff_now;
use super::{Context, Error, get_opt, record, write_status};
use crate::schedule::command::{Fired, publish};
use crate::schedule::due::{Decision, evaluate};
use crate::status::conditions::{Observed, merge};

/// Annotation bookmarking the latest due time handled (fired, or skipped and counted as missed).
pub const EVALUATED_ANNOTATION: &str = "tradewind.dev/last-evaluated-due-time";
/// How often a schedule whose run is in progress is looked at again, for the adapter's report.
const RUNNING_POLL: std::time::Duration = std::time::Duration::from_secs(15);

pub async fn reconcile(schedule: Arc<SyncSchedule>, ctx: Arc<Context>) -> Result<Action, Error> {
    reconcile_at(schedule, ctx, Utc::now()).await
}

fn parse_time(value: Option<&str>) -> Option<DateTime<Utc>> {
    value.and_then(|v| {
        DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Why the schedule cannot run, naming the field; `None` when it can.
fn target_problem(schedule: &SyncSchedule, marketplace: Option<&Marketplace>) -> Option<String> {
    let spec = &schedule.spec;
    let Some(mp) = marketplace else {
        return Some(format!(
            "spec.marketplaceRef.name: Marketplace {:?} not found in namespace {}",
            spec.marketplace_ref.name,
            schedule.namespace().unwrap_or_default()
        ));
    };
    if !mp.spec.flows.enabled().contains(&spec.flow) {
        return Some(format!(
            "spec.flow: flow {} is not enabled on Marketplace {:?}",
            spec.flow, spec.marketplace_ref.name
        ));
    }
    None
}

/// The reconcile at the instant `now` (tests pass fixed instants).
pub async fn reconcile_at(
    schedule: Arc<SyncSchedule>,
    ctx: Arc<Context>,
    now: DateTime<Utc>,
) -> Result<Action, Error> {
    let namespace = schedule.namespace().unwrap_or_default();
    let name = schedule.name_any();
    let spec = &schedule.spec;
    let previous = schedule.status.clone().unwrap_or_default();
    let marketplace: Option<Marketplace> =
        get_opt(&ctx.client, &namespace, &spec.marketplace_ref.name).await?;

    let since = [
        parse_time(previous.last_schedule_time.as_deref()),
        parse_time(
            schedule
                .annotations()
                .get(EVALUATED_ANNOTATION)
                .map(String::as_str),
        ),
    ]
    .into_iter()
    .flatten()
    .max()
    .or_else(|| {
        schedule
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| parse_time(Some(&t.0.to_string())))
    })
    .unwrap_or(now);

    let mut status = SyncScheduleStatus {
        common: previous.common.clone(),
        ..previous.clone()
    };
    let mut observed = Vec::new();
    let mut events: Vec<(bool, &str, String)> = Vec::new();
    let decision = evaluate(spec, since, now);
    let problem = match &decision {
        Err(e) => Some(e.to_string()),
        Ok(_) => target_problem(&schedule, marketplace.as_ref()),
    };
    let last_run = read_last_run(&ctx, &namespace, &name).await;
    if let Some(run) = &last_run {
        if run.outcome == RunOutcome::Succeeded || run.outcome == RunOutcome::PartiallySucceeded {
            status.last_successful_time = run.finished_at.clone().or(run.started_at.clone());
        }
        status.last_run = Some(run.clone());
    }
    let running = last_run
        .as_ref()
        .is_some_and(|r| r.outcome == RunOutcome::Running);

    match (problem, decision) {
        (Some(problem), _) => {
            observed.push(Observed::new(
                condition::SCHEDULE_VALID,
                false,
                "Invalid",
                problem,
            ));
            status.next_schedule_time = None;
        }
        (
            None,
            Ok(Decision {
                fire,
                missed,
                reached,
                next,
            }),
        ) => {
            observed.push(Observed::new(
                condition::SCHEDULE_VALID,
                true,
                "Valid",
                "schedule, time zone and target are valid",
            ));
            let mut missed = missed;
            if let Some(due) = fire {
                if running && spec.concurrency_policy == ConcurrencyPolicy::Forbid {
                    // The previous run is still going: this due time is skipped, like a CronJob's Forbid.
                    missed += 1;
                    events.push((
                        true,
                        "RunSkipped",
                        format!(
                            "run due at {} skipped: the previous run is still in progress",
                            status_time(due)
                        ),
                    ));
                } else {
                    let id = run_id(&namespace, &name, due);
                    fire_command(&ctx, &schedule, id.clone(), due).await?;
                    status.last_schedule_time = Some(status_time(due));
                    events.push((false, "RunFired", format!("run {id} fired")));
                }
            }
            if missed > 0 {
                events.push((
                    true,
                    "RunsMissed",
                    format!(
                        "{missed} due time(s) skipped (blackout window, starting deadline or a run in progress)"
                    ),
                ));
            }
            status.missed_runs += missed;
            status.next_schedule_time = if spec.suspend {
                None
            } else {
                next.map(status_time)
            };
            if let Some(reached) = reached {
                bookmark(&ctx, &schedule, reached).await?;
            }
        }
        (None, Err(_)) => {}
    }

    // A manual request: one run now, whatever the cron says (not while suspended).
    let requested = schedule.annotations().get(REQUESTED_AT_ANNOTATION).cloned();
    if let Some(value) = requested
        && previous.common.last_handled_requested_at.as_deref() != Some(value.as_str())
        && observed.first().is_some_and(|o| o.status)
    {
        if !spec.suspend {
            let id = format!("sync:{namespace}/{name}@requested:{value}");
            fire_command(&ctx, &schedule, id.clone(), now).await?;
            events.push((false, "RunFired", format!("requested run {id} fired")));
        }
        status.common.last_handled_requested_at = Some(value);
    }

    let valid = observed.first().is_some_and(|o| o.status);
    observed.insert(
        0,
        Observed::new(
            condition::READY,
            valid,
            if !valid {
                "Invalid"
            } else if spec.suspend {
                "Suspended"
            } else {
                "Scheduled"
            },
            if !valid {
                observed
                    .first()
                    .map(|o| o.message.clone())
                    .unwrap_or_default()
            } else if spec.suspend {
                "suspended: no run starts".to_string()
            } else {
                "runs fire at their due times".to_string()
            },
        ),
    );
    let generation = schedule.metadata.generation;
    let (conditions, transitions) = merge(
        &previous.common.conditions,
        &observed,
        generation,
        &Time(jiff_now()),
    );
    status.common = CommonStatus {
        observed_generation: generation,
        conditions,
        last_handled_requested_at: status.common.last_handled_requested_at.clone(),
    };
    write_status(&ctx.client, &*schedule, &previous, &status).await?;
    for t in &transitions {
        record(
            &ctx,
            &*schedule,
            !t.status,
            &t.reason,
            format!("{}: {}", t.type_, t.message),
        )
        .await;
    }
    for (warning, reason, note) in events {
        record(&ctx, &*schedule, warning, reason, note).await;
    }
    Ok(Action::requeue(requeue_after(
        &status, running, now, ctx.resync,
    )))
}

/// Wake up at the next due time (at the latest after the resync period), and sooner while a run is in
/// progress, to read its outcome.
fn requeue_after(
    status: &SyncScheduleStatus,
    running: bool,
    now: DateTime<Utc>,
    resync: std::time::Duration,
) -> std::time::Duration {
    let mut wait = resync;
    if let Some(next) = parse_time(status.next_schedule_time.as_deref()) {
        let until = (next - now).to_std().unwrap_or_default();
        // A little after the due time, so that the evaluation sees it as reached.
        wait = wait.min(until + std::time::Duration::from_millis(200));
    }
    if running {
        wait = wait.min(RUNNING_POLL);
    }
    wait.max(std::time::Duration::from_millis(200))
}

/// Publishes the command of run `id` (idempotent: a second publish of the same id is dropped by the stream).
async fn fire_command(
    ctx: &Context,
    schedule: &SyncSchedule,
    id: String,
    due: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(js) = &ctx.jetstream else {
        return Err(Error::JetStream(
            "sync schedules need NATS (--provision-jetstream)".into(),
        ));
    };
    let namespace = schedule.namespace().unwrap_or_default();
    ensure_stream(js, &Namespace::new(&namespace).command_stream())
        .await
        .map_err(|e| Error::JetStream(e.to_string()))?;
    let command = SyncCommand {
        id,
        schedule: schedule.name_any(),
        marketplace: schedule.spec.marketplace_ref.name.clone(),
        flow: schedule.spec.flow,
        mode: schedule.spec.mode,
        due_time: status_time(due),
    };
    match publish(js, &namespace, &command).await {
        Ok(Fired::New) => Ok(()),
        Ok(Fired::Duplicate) => {
            tracing::info!(id = %command.id, "run already fired (another replica or a retry)");
            Ok(())
        }
        Err(e) => Err(Error::JetStream(e)),
    }
}

/// Records `reached` as the latest due time handled.
async fn bookmark(
    ctx: &Context,
    schedule: &SyncSchedule,
    reached: DateTime<Utc>,
) -> Result<(), Error> {
    let value = status_time(reached);
    if schedule.annotations().get(EVALUATED_ANNOTATION) == Some(&value) {
        return Ok(());
    }
    let api: Api<SyncSchedule> = Api::namespaced(
        ctx.client.clone(),
        &schedule.namespace().unwrap_or_default(),
    );
    api.patch(
        &schedule.name_any(),
        &PatchParams {
            field_manager: Some(super::FIELD_MANAGER.into()),
            ..Default::default()
        },
        &Patch::Merge(
            serde_json::json!({"metadata": {"annotations": {EVALUATED_ANNOTATION: value}}}),
        ),
    )
    .await?;
    Ok(())
}

/// The adapter's latest report of this schedule's runs, if the bucket and a report exist. A read failure is
/// logged and leaves `lastRun` as it was.
async fn read_last_run(ctx: &Context, namespace: &str, schedule: &str) -> Option<SyncRun> {
    let js = ctx.jetstream.as_ref()?;
    let bucket = Namespace::new(namespace).sync_run_bucket().bucket;
    let kv = js.get_key_value(&bucket).await.ok()?;
    match SyncRuns::new(kv).latest(schedule).await {
        Ok(report) => report.map(|r| r.run),
        Err(e) => {
            tracing::warn!(error = %e, schedule, "sync run report not read");
            None
        }
    }
}
