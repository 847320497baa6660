#![allow(clippy::unwrap_used)]
//! The SyncSchedule controller through the real `kube::Client` against the in-memory API, with real NATS: one
//! command per due time (also when two replicas fire it), CronJob-like status, blackout windows and the starting
//! deadline counted as missed once, suspend, manual requests, invalid schedules named by field, and the last
//! run's outcome read from the adapter's reports in the `tw-<ns>-sync-runs` bucket.

use std::sync::Arc;

use adapter_runtime::jetstream::{SyncRuns, ensure_kv};
use adapter_runtime::sync::SyncRunReport;
use adapter_runtime::topology::Namespace;
use chrono::{DateTime, Utc};
use crds::channel::Flow;
use crds::v1alpha1::{
    Marketplace, RunOutcome, SyncMode, SyncRun, SyncSchedule, SyncScheduleStatus,
};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use operator::controller::{Context, sync_schedule};
use operator::settings::RenderSettings;
use serde_json::{Value, json};
use test_support::NatsServer;

#[path = "support/fake_api.rs"]
mod fake_api;
use fake_api::FakeApi;

const NS: &str = "shop";

struct Harness {
    client: Client,
    ctx: Arc<Context>,
    nats: NatsServer,
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn harness(spec: Value) -> Harness {
    let nats = NatsServer::start().await.unwrap();
    let api = FakeApi::default();
    // Created half an hour before the first due time the tests look at.
    api.set_creation_time("2026-01-05T09:30:00Z");
    let client = api.client();
    let mp: Marketplace = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": "portal", "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "portal-creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "portal"}, "rateLimitPolicyRef": {"name": "portal"},
        "currency": "USD", "flows": {"inventory": {}}}}))
    .unwrap();
    Api::<Marketplace>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &mp)
        .await
        .unwrap();
    let mut full = json!({"marketplaceRef": {"name": "portal"}, "flow": "inventory", "mode": "Full", "schedule": "0 * * * *"});
    for (k, v) in spec.as_object().unwrap() {
        full[k] = v.clone();
    }
    let schedule: SyncSchedule = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "SyncSchedule", "metadata": {"name": "hourly", "namespace": NS}, "spec": full})).unwrap();
    Api::<SyncSchedule>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &schedule)
        .await
        .unwrap();
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings::example(),
        nats_overrides: Default::default(),
        jetstream: Some(nats.jetstream().await.unwrap()),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "test".into(),
                instance: None,
            },
        ),
        resync: std::time::Duration::from_secs(300),
    });
    Harness { client, ctx, nats }
}

impl Harness {
    async fn stored(&self) -> SyncSchedule {
        Api::<SyncSchedule>::namespaced(self.client.clone(), NS)
            .get("hourly")
            .await
            .unwrap()
    }
    async fn reconcile(&self, now: &str) -> SyncScheduleStatus {
        let schedule = self.stored().await;
        self.reconcile_object(schedule, now).await
    }
    async fn reconcile_object(&self, schedule: SyncSchedule, now: &str) -> SyncScheduleStatus {
        sync_schedule::reconcile_at(Arc::new(schedule), self.ctx.clone(), at(now))
            .await
            .unwrap();
        self.stored().await.status.unwrap()
    }
    /// The ids of the commands published, in order.
    async fn commands(&self) -> Vec<String> {
        let js = self.nats.jetstream().await.unwrap();
        let Ok(mut stream) = js
            .get_stream(Namespace::new(NS).command_stream().name)
            .await
        else {
            return Vec::new();
        };
        let count = stream.info().await.unwrap().state.messages;
        let mut ids = Vec::new();
        for seq in 1..=count {
            let message = stream.get_raw_message(seq).await.unwrap();
            let command: Value = serde_json::from_slice(&message.payload).unwrap();
            assert_eq!(
                message.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
                command["id"].as_str(),
                "the message id is the run id"
            );
            ids.push(command["id"].as_str().unwrap().to_string());
        }
        ids
    }
}

fn condition(status: &SyncScheduleStatus, type_: &str) -> (String, String, String) {
    let c = status
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test]
async fn a_due_time_fires_one_command_and_the_status_reads_like_a_cronjob() {
    let h = harness(json!({})).await;
    let status = h.reconcile("2026-01-05T10:00:05Z").await;
    assert_eq!(
        h.commands().await,
        vec!["sync:shop/hourly@2026-01-05T10:00:00Z"]
    );
    assert_eq!(
        status.last_schedule_time.as_deref(),
        Some("2026-01-05T10:00:00Z")
    );
    assert_eq!(
        status.next_schedule_time.as_deref(),
        Some("2026-01-05T11:00:00Z")
    );
    assert_eq!(status.missed_runs, 0);
    assert_eq!(condition(&status, "Ready").0, "True");
    let version = h.stored().await.metadata.resource_version;
    let again = h.reconcile("2026-01-05T10:00:30Z").await;
    assert_eq!(h.commands().await.len(), 1, "nothing new is due");
    assert_eq!(again, status);
    assert_eq!(
        h.stored().await.metadata.resource_version,
        version,
        "nothing rewritten"
    );
    h.reconcile("2026-01-05T11:00:01Z").await;
    assert_eq!(
        h.commands().await,
        vec![
            "sync:shop/hourly@2026-01-05T10:00:00Z",
            "sync:shop/hourly@2026-01-05T11:00:00Z"
        ]
    );
}

#[tokio::test]
async fn two_replicas_firing_the_same_due_time_make_one_command() {
    let h = harness(json!({})).await;
    // Both replicas saw the schedule before either fired.
    let seen = h.stored().await;
    h.reconcile_object(seen.clone(), "2026-01-05T10:00:05Z")
        .await;
    let status = h.reconcile_object(seen, "2026-01-05T10:00:06Z").await;
    assert_eq!(h.commands().await.len(), 1);
    assert_eq!(
        status.last_schedule_time.as_deref(),
        Some("2026-01-05T10:00:00Z")
    );
}

#[tokio::test]
async fn a_blackout_skip_is_counted_once_and_next_is_after_the_window() {
    let h = harness(json!({"blackoutWindows": [{"start": "09:45", "end": "10:30"}]})).await;
    let status = h.reconcile("2026-01-05T10:00:05Z").await;
    assert!(h.commands().await.is_empty());
    assert_eq!(status.missed_runs, 1);
    assert_eq!(
        status.next_schedule_time.as_deref(),
        Some("2026-01-05T11:00:00Z")
    );
    let status = h.reconcile("2026-01-05T10:20:00Z").await;
    assert_eq!(
        status.missed_runs, 1,
        "the same skipped due time is not counted again"
    );
    let status = h.reconcile("2026-01-05T11:00:01Z").await;
    assert_eq!(h.commands().await.len(), 1);
    assert_eq!(status.missed_runs, 1);
}

#[tokio::test]
async fn past_the_starting_deadline_nothing_fires_and_the_run_is_missed() {
    let h = harness(json!({"startingDeadlineSeconds": 300})).await;
    let status = h.reconcile("2026-01-05T10:06:00Z").await;
    assert!(h.commands().await.is_empty());
    assert_eq!(status.missed_runs, 1);
    assert_eq!(status.last_schedule_time, None);
}

#[tokio::test]
async fn a_time_zone_moves_the_due_time() {
    // 11:00 in Paris in January is 10:00 UTC.
    let h = harness(json!({"schedule": "0 11 * * *", "timeZone": "Europe/Paris"})).await;
    h.reconcile("2026-01-05T10:00:01Z").await;
    assert_eq!(
        h.commands().await,
        vec!["sync:shop/hourly@2026-01-05T10:00:00Z"]
    );
}

#[tokio::test]
async fn a_suspended_schedule_fires_nothing_and_says_so() {
    let h = harness(json!({"suspend": true})).await;
    let status = h.reconcile("2026-01-05T10:00:05Z").await;
    assert!(h.commands().await.is_empty());
    assert_eq!(status.next_schedule_time, None);
    let (ready, reason, _) = condition(&status, "Ready");
    assert_eq!((ready.as_str(), reason.as_str()), ("True", "Suspended"));
}

#[tokio::test]
async fn a_manual_request_fires_one_run_now() {
    let h = harness(json!({})).await;
    h.reconcile("2026-01-05T09:40:00Z").await;
    Api::<SyncSchedule>::namespaced(h.client.clone(), NS)
        .patch(
            "hourly",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"tradewind.dev/requested-at": "2026-01-05T09:41:00Z"}}})),
        )
        .await
        .unwrap();
    let status = h.reconcile("2026-01-05T09:41:02Z").await;
    let status_again = h.reconcile("2026-01-05T09:41:05Z").await;
    assert_eq!(
        h.commands().await,
        vec!["sync:shop/hourly@requested:2026-01-05T09:41:00Z"]
    );
    assert_eq!(
        status.common.last_handled_requested_at.as_deref(),
        Some("2026-01-05T09:41:00Z")
    );
    assert_eq!(status_again, status);
}

#[tokio::test]
async fn an_invalid_schedule_names_the_field_and_fires_nothing() {
    let h = harness(json!({"timeZone": "Mars/Olympus_Mons"})).await;
    let status = h.reconcile("2026-01-05T10:00:05Z").await;
    let (valid, _, message) = condition(&status, "ScheduleValid");
    assert_eq!(valid, "False");
    assert!(message.contains("spec.timeZone"), "{message}");
    assert_eq!(condition(&status, "Ready").0, "False");
    assert!(h.commands().await.is_empty());

    let h = harness(json!({"flow": "orders"})).await;
    let status = h.reconcile("2026-01-05T10:00:05Z").await;
    let (_, _, message) = condition(&status, "ScheduleValid");
    assert!(message.contains("spec.flow"), "{message}");
    assert!(h.commands().await.is_empty());
}

async fn report(h: &Harness, outcome: RunOutcome, id: &str) {
    let js = h.nats.jetstream().await.unwrap();
    let kv = ensure_kv(&js, &Namespace::new(NS).sync_run_bucket())
        .await
        .unwrap();
    SyncRuns::new(kv)
        .put(&SyncRunReport {
            schedule: "hourly".into(),
            marketplace: "portal".into(),
            flow: Flow::Inventory,
            mode: SyncMode::Full,
            run: SyncRun {
                id: id.into(),
                outcome,
                started_at: Some("2026-01-05T10:00:06Z".into()),
                finished_at: (outcome != RunOutcome::Running)
                    .then(|| "2026-01-05T10:02:00Z".into()),
                succeeded: 120,
                dead_lettered: 0,
            },
            message: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_adapters_report_becomes_the_last_run_and_a_running_run_forbids_the_next() {
    let h = harness(json!({})).await;
    h.reconcile("2026-01-05T10:00:05Z").await;
    report(
        &h,
        RunOutcome::Running,
        "sync:shop/hourly@2026-01-05T10:00:00Z",
    )
    .await;
    let status = h.reconcile("2026-01-05T10:30:00Z").await;
    let run = status.last_run.clone().unwrap();
    assert_eq!(run.outcome, RunOutcome::Running);
    // Still running at the next due time: skipped (concurrencyPolicy Forbid, the default).
    let status = h.reconcile("2026-01-05T11:00:02Z").await;
    assert_eq!(h.commands().await.len(), 1);
    assert_eq!(status.missed_runs, 1);
    report(
        &h,
        RunOutcome::Succeeded,
        "sync:shop/hourly@2026-01-05T10:00:00Z",
    )
    .await;
    let status = h.reconcile("2026-01-05T11:10:00Z").await;
    let run = status.last_run.unwrap();
    assert_eq!((run.outcome, run.succeeded), (RunOutcome::Succeeded, 120));
    assert_eq!(
        status.last_successful_time.as_deref(),
        Some("2026-01-05T10:02:00Z")
    );
    h.reconcile("2026-01-05T12:00:01Z").await;
    assert_eq!(h.commands().await.len(), 2);
}
