//! Leader election with a `coordination.k8s.io/v1` Lease, so that several operator replicas can run and only
//! one reconciles (the others wait, ready to take over).
//!
//! As client-go does it: a candidate takes the Lease when it does not exist, when it has no holder, or when
//! its record (holder and renew time) has not changed for `leaseDurationSeconds` as measured on the
//! candidate's own clock since it first saw that record, so clocks that disagree between nodes do not matter.
//! Every write is a create or a replace carrying the `resourceVersion` that was read: of two candidates racing,
//! the API server accepts one and answers the other 409 Conflict. The holder renews every `retry_period`; if it
//! could not renew within `renew_deadline` it stops leading (the process exits and restarts as a candidate).
//! On a graceful stop the holder releases the Lease, so a standby takes over at once.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

/// How the Lease is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    /// This candidate (the pod's name).
    pub identity: String,
    /// How long a record must stay unchanged before another candidate may take the Lease.
    pub lease_duration: Duration,
    /// How long the holder keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// How often candidates try and the holder renews.
    pub retry_period: Duration,
}

/// What a candidate does with the Lease it read, at `now`. Pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// No Lease: create it, holding it.
    Create,
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it over.
    TakeOver,
    /// Someone else holds it and it has not expired.
    Wait,
}

/// The candidate's view of the record it last saw: (holder, renew time) and when, on its own clock, it saw
/// that record first.
#[derive(Clone, Debug, Default)]
struct Observed {
    record: Option<(Option<String>, Option<Timestamp>)>,
    since: Option<Timestamp>,
}

/// Decides the step from the Lease read (`None`: not found), this candidate's identity, when it first saw
/// the current record and the time now.
pub fn decide(
    lease: Option<&LeaseSpec>,
    identity: &str,
    record_seen_since: Timestamp,
    now: Timestamp,
    lease_duration: Duration,
) -> Step {
    let Some(spec) = lease else {
        return Step::Create;
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Step::Renew,
        None | Some("") => Step::TakeOver,
        Some(_) => {
            let duration = spec
                .lease_duration_seconds
                .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
                .unwrap_or(lease_duration);
            let expires = record_seen_since
                .checked_add(SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX))
                .unwrap_or(Timestamp::MAX);
            if now > expires {
                Step::TakeOver
            } else {
                Step::Wait
            }
        }
    }
}

/// One candidate.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observed: Mutex<Observed>,
}

impl LeaderElector {
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: Mutex::new(Observed::default()),
        }
    }

    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// When this candidate first saw the record of `lease` (now, if it differs from the last one seen).
    fn seen_since(&self, lease: Option<&LeaseSpec>, now: Timestamp) -> Timestamp {
        let record = lease.map(|s| {
            (
                s.holder_identity.clone(),
                s.renew_time.as_ref().map(|t| t.0),
            )
        });
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if observed.record != record || observed.since.is_none() {
            observed.record = record;
            observed.since = Some(now);
        }
        observed.since.unwrap_or(now)
    }

    fn spec(&self, now: Timestamp, acquire: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(MicroTime(acquire)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// One attempt at `now` to acquire or renew the Lease. `Ok(true)`: this candidate holds it now. A lost race
    /// (409) is `Ok(false)`, not an error.
    pub async fn try_acquire_or_renew(&self, now: Timestamp) -> Result<bool, kube::Error> {
        let current = self.api.get_opt(&self.settings.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let since = self.seen_since(spec, now);
        let step = decide(
            spec,
            &self.settings.identity,
            since,
            now,
            self.settings.lease_duration,
        );
        let written = match (step, current) {
            (Step::Wait, _) => return Ok(false),
            (Step::Create, _) | (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.name.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(self.spec(now, now, 0)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (Step::Renew, Some(mut lease)) => {
                let old = lease.spec.clone().unwrap_or_default();
                let acquire = old.acquire_time.map(|t| t.0).unwrap_or(now);
                lease.spec = Some(self.spec(now, acquire, old.lease_transitions.unwrap_or(0)));
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &lease)
                    .await
            }
            (Step::TakeOver, Some(mut lease)) => {
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                lease.spec = Some(self.spec(now, now, transitions.saturating_add(1)));
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                self.seen_since(lease.spec.as_ref(), now);
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this candidate holds it (graceful stop), so a standby need not wait for expiry.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until this candidate holds the Lease; `false` if `stop` resolved first.
    pub async fn acquire(&self, stop: &adapter_runtime::flow::Shutdown) -> bool {
        loop {
            match self.try_acquire_or_renew(Timestamp::now()).await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease not read or written; retrying"),
            }
            tokio::select! {
                _ = stop.triggered() => return false,
                _ = tokio::time::sleep(self.settings.retry_period) => {}
            }
        }
    }

    /// Renews the Lease every `retry_period` until `stop` resolves (returns `true`; the caller releases the
    /// Lease once its work has stopped, so no standby starts while a reconcile is still finishing) or until no
    /// renewal succeeded for `renew_deadline` (returns `false`: leadership is lost).
    pub async fn hold(&self, stop: &adapter_runtime::flow::Shutdown) -> bool {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.triggered() => return true,
                _ = tokio::time::sleep(self.settings.retry_period) => {}
            }
            match self.try_acquire_or_renew(Timestamp::now()).await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!("another replica holds the lease");
                    return false;
                }
                Err(e) => tracing::warn!(error = %e, "lease not renewed"),
            }
            if last_renewed.elapsed() > self.settings.renew_deadline {
                tracing::error!("lease not renewed within the renew deadline");
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn held_by(holder: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(t("2026-01-05T10:00:00Z"))),
            ..Default::default()
        }
    }

    #[test]
    fn steps_follow_the_holder_and_the_expiry_on_our_own_clock() {
        let d = Duration::from_secs(15);
        let seen = t("2026-01-05T10:00:00Z");
        assert_eq!(decide(None, "a", seen, seen, d), Step::Create);
        assert_eq!(decide(Some(&held_by("a")), "a", seen, seen, d), Step::Renew);
        assert_eq!(
            decide(Some(&held_by("a")), "b", seen, t("2026-01-05T10:00:15Z"), d),
            Step::Wait
        );
        assert_eq!(
            decide(Some(&held_by("a")), "b", seen, t("2026-01-05T10:00:16Z"), d),
            Step::TakeOver
        );
        let released = LeaseSpec {
            holder_identity: None,
            ..held_by("a")
        };
        assert_eq!(decide(Some(&released), "b", seen, seen, d), Step::TakeOver);
    }
}
