//! Sync runs: the adapter's side of a `SyncSchedule`. Commands arrive on the marketplace's command consumer;
//! each run is reported to the sync-runs bucket when it starts and when it ends.
//!
//! What a run does, per flow direction and mode:
//! - outbound, `Full`: the flow's durable consumer is recreated, which replays the last-value stream from its
//!   start, that is the newest value of every SKU, through the same coalescing, mapping and rate limits as any
//!   change. The run ends when the consumer has nothing pending or unacknowledged.
//! - outbound, `Incremental`: changes flow continuously, so the run waits for what is pending to drain.
//! - inbound, `Incremental`: polls now, page after page, from the stored cursor.
//! - inbound, `Full`: forgets the cursor first, so the channel is read from the start of its retention;
//!   orders already seen are dropped by the marketplace stream's de-duplication.
//!
//! A command is acknowledged when its run ends, with progress acknowledgements meanwhile: when the adapter dies
//! during a run, JetStream redelivers the command once the ack wait has passed and the next replica runs it
//! again (runs are idempotent: a resend of the newest values, a poll from a cursor).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::Consumer, consumer::pull};
use chrono::Utc;
use crds::channel::{Direction, Flow};
use crds::v1alpha1::{RunOutcome, SyncMode, SyncRun};
use futures::StreamExt;
use tracing::{info, warn};

use super::{InboundFlow, Shutdown};
use crate::connector::Connector;
use crate::jetstream::{CursorStore, SyncRuns, ensure_consumer};
use crate::sync::{SyncCommand, SyncRunReport, status_time};
use crate::topology::{ConsumerDef, Namespace};

/// Most pages one inbound run reads, so that a channel that always answers "more" cannot hold a run forever.
const MAX_PAGES: u32 = 10_000;

/// Runs the sync commands of one marketplace.
pub struct SyncRunner<C: Connector> {
    pub namespace: Namespace,
    pub marketplace: String,
    pub js: jetstream::Context,
    pub commands: Consumer<pull::Config>,
    /// The durable consumers of the enabled outbound flows.
    pub outbound: HashMap<Flow, ConsumerDef>,
    /// The enabled inbound flows.
    pub inbound: HashMap<Flow, Arc<InboundFlow<C>>>,
    pub cursors: Arc<CursorStore>,
    pub runs: Arc<SyncRuns>,
    /// How long an outbound run waits for its backlog to drain before it reports `Failed`.
    pub drain_deadline: Duration,
    /// Progress acknowledgements of a running command, more often than the command consumer's ack wait.
    pub progress_every: Duration,
    /// The run in progress per flow: a second command for that flow is reported `Skipped`.
    pub running: Arc<Mutex<HashMap<Flow, String>>>,
}

impl<C: Connector> SyncRunner<C> {
    /// Receives commands until `shutdown`; each run goes on in its own task.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        info!(marketplace = %self.marketplace, "sync command consumer started");
        let mut runs = tokio::task::JoinSet::new();
        while !shutdown.is_triggered() {
            let fetch = self
                .commands
                .fetch()
                .max_messages(16)
                .expires(Duration::from_secs(1))
                .messages();
            let batch = tokio::select! {
                batch = fetch => batch,
                () = shutdown.triggered() => break,
            };
            let messages: Vec<_> = match batch {
                Ok(stream) => stream.filter_map(|m| async { m.ok() }).collect().await,
                Err(e) => {
                    warn!(marketplace = %self.marketplace, error = %e, "fetching sync commands failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {},
                        () = shutdown.triggered() => break,
                    }
                    continue;
                }
            };
            for message in messages {
                match serde_json::from_slice::<SyncCommand>(&message.payload) {
                    Ok(command) => {
                        let runner = self.clone();
                        let stop = shutdown.clone();
                        runs.spawn(async move {
                            runner.execute_acknowledged(&command, message, &stop).await
                        });
                    }
                    Err(e) => {
                        // A command that is not one never will be: acknowledged so it is not redelivered.
                        if let Err(e) = message.ack().await {
                            warn!(marketplace = %self.marketplace, error = %e, "sync command not acknowledged");
                        }
                        warn!(
                        marketplace = %self.marketplace,
                        subject = %message.subject,
                        error = %e,
                        "sync command is not valid JSON of a SyncCommand; ignored"
                        )
                    }
                }
            }
            while runs.try_join_next().is_some() {}
        }
        runs.shutdown().await;
        info!(marketplace = %self.marketplace, "sync command consumer stopped");
    }

    /// Runs one command, keeping its message from redelivery while it runs, and acknowledges it at the end
    /// unless the adapter is stopping (then the next replica runs it).
    async fn execute_acknowledged(
        &self,
        command: &SyncCommand,
        message: jetstream::Message,
        shutdown: &Shutdown,
    ) {
        let work = self.execute(command, shutdown);
        tokio::pin!(work);
        let mut keepalive = tokio::time::interval(self.progress_every);
        keepalive.tick().await;
        let report = loop {
            tokio::select! {
                report = &mut work => break report,
                _ = keepalive.tick() => {
                    let _ = message.ack_with(jetstream::AckKind::Progress).await;
                }
            }
        };
        if shutdown.is_triggered() && report.run.outcome == RunOutcome::Failed {
            let _ = message.ack_with(jetstream::AckKind::Nak(None)).await;
        } else if let Err(e) = message.ack().await {
            warn!(marketplace = %self.marketplace, error = %e, "sync command not acknowledged");
        }
    }

    /// Runs one command to its end and reports it.
    pub async fn execute(&self, command: &SyncCommand, shutdown: &Shutdown) -> SyncRunReport {
        let started = Utc::now();
        let mut report = SyncRunReport {
            schedule: command.schedule.clone(),
            marketplace: self.marketplace.clone(),
            flow: command.flow,
            mode: command.mode,
            run: SyncRun {
                id: command.id.clone(),
                outcome: RunOutcome::Running,
                started_at: Some(status_time(started)),
                finished_at: None,
                succeeded: 0,
                dead_lettered: 0,
            },
            message: String::new(),
        };
        let in_progress = self.claim(command);
        if in_progress.as_deref() == Some(command.id.as_str()) {
            // The same run delivered again while it goes on: nothing to add.
            report.message = "already running".into();
            return report;
        }
        if in_progress.is_some() {
            report.run.outcome = RunOutcome::Skipped;
            report.run.finished_at = Some(status_time(Utc::now()));
            report.message = format!("a {} run is already in progress", command.flow);
            self.report(&report).await;
            return report;
        }
        self.report(&report).await;
        info!(marketplace = %self.marketplace, flow = %command.flow, run = %command.id, "sync run started");

        let dead_before = self.dead_letter_count(command.flow).await;
        let result = match command.flow.direction() {
            Direction::Outbound => self.outbound(command, shutdown).await,
            Direction::Inbound => self.inbound(command).await,
        };
        let dead_after = self.dead_letter_count(command.flow).await;
        if let Ok(mut running) = self.running.lock() {
            running.remove(&command.flow);
        }

        report.run.finished_at = Some(status_time(Utc::now()));
        report.run.dead_lettered = dead_after.saturating_sub(dead_before);
        match result {
            Ok(records) => {
                report.run.succeeded = records.saturating_sub(report.run.dead_lettered);
                report.run.outcome = if report.run.dead_lettered == 0 {
                    RunOutcome::Succeeded
                } else {
                    RunOutcome::PartiallySucceeded
                };
            }
            Err(message) => {
                report.run.outcome = RunOutcome::Failed;
                report.message = message;
            }
        }
        info!(
            marketplace = %self.marketplace,
            flow = %command.flow,
            run = %command.id,
            outcome = ?report.run.outcome,
            succeeded = report.run.succeeded,
            dead_lettered = report.run.dead_lettered,
            "sync run finished"
        );
        self.report(&report).await;
        report
    }

    /// Marks `command` as the run in progress of its flow, unless one is: then returns that run's id.
    fn claim(&self, command: &SyncCommand) -> Option<String> {
        let Ok(mut running) = self.running.lock() else {
            return Some("unknown (the run table was poisoned)".into());
        };
        let current = running.get(&command.flow).cloned();
        if current.is_none() {
            running.insert(command.flow, command.id.clone());
        }
        current
    }

    async fn report(&self, report: &SyncRunReport) {
        if let Err(e) = self.runs.put(report).await {
            warn!(schedule = %report.schedule, error = %e, "sync run not reported");
        }
    }

    /// Returns how many records the run covered.
    async fn outbound(&self, command: &SyncCommand, shutdown: &Shutdown) -> Result<u64, String> {
        let def = self.outbound.get(&command.flow).ok_or_else(|| {
            format!(
                "flow {}: not enabled on Marketplace {}",
                command.flow, self.marketplace
            )
        })?;
        let stream = self
            .js
            .get_stream(&def.stream)
            .await
            .map_err(|e| format!("opening stream {}: {e}", def.stream))?;
        if command.mode == SyncMode::Full {
            // The running flow fetches by the consumer's name, so it carries on with the new consumer.
            stream
                .delete_consumer(&def.durable_name)
                .await
                .map_err(|e| format!("restarting consumer {}: {e}", def.durable_name))?;
            ensure_consumer(&self.js, def)
                .await
                .map_err(|e| e.to_string())?;
        }
        let pending = |stream: &jetstream::stream::Stream| {
            let name = def.durable_name.clone();
            let stream = stream.clone();
            async move {
                let mut consumer: Consumer<pull::Config> = stream
                    .get_consumer(&name)
                    .await
                    .map_err(|e| format!("reading consumer {name}: {e}"))?;
                let info = consumer
                    .info()
                    .await
                    .map_err(|e| format!("reading consumer {name}: {e}"))?;
                Ok::<_, String>((info.num_pending, info.num_ack_pending as u64))
            }
        };
        let (waiting, in_flight) = pending(&stream).await?;
        let records = waiting + in_flight;
        let deadline = tokio::time::Instant::now() + self.drain_deadline;
        loop {
            let (waiting, in_flight) = pending(&stream).await?;
            if waiting == 0 && in_flight == 0 {
                return Ok(records);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "{} records still pending after {:?}",
                    waiting + in_flight,
                    self.drain_deadline
                ));
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {},
                () = shutdown.triggered() => return Err("the adapter stopped during the run".into()),
            }
        }
    }

    async fn inbound(&self, command: &SyncCommand) -> Result<u64, String> {
        let flow = self.inbound.get(&command.flow).ok_or_else(|| {
            format!(
                "flow {}: not enabled on Marketplace {}",
                command.flow, self.marketplace
            )
        })?;
        if command.mode == SyncMode::Full {
            self.cursors
                .reset(&self.marketplace, command.flow)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut records = 0;
        for _ in 0..MAX_PAGES {
            // The flow's own loop polls too; when both read the same cursor, one loses the compare-and-set and
            // polls again from where the other left it.
            let mut polled = flow.poll_page().await;
            for _ in 0..3 {
                if polled.is_ok() {
                    break;
                }
                polled = flow.poll_page().await;
            }
            let polled = polled?;
            records += polled.published;
            if !polled.more {
                return Ok(records);
            }
        }
        Err(format!(
            "the channel still had pages after {MAX_PAGES}; the next run goes on"
        ))
    }

    /// Dead letters stored for this marketplace's `flow`, to count those a run adds.
    async fn dead_letter_count(&self, flow: Flow) -> u64 {
        let subject = self.namespace.dead_letter_subject(&self.marketplace, flow);
        let Ok(stream) = self
            .js
            .get_stream(self.namespace.dead_letter_stream().name)
            .await
        else {
            return 0;
        };
        let Ok(mut subjects) = stream.info_with_subjects(&subject).await else {
            return 0;
        };
        let mut total = 0;
        while let Some(Ok((_, count))) = subjects.next().await {
            total += count as u64;
        }
        total
    }
}
