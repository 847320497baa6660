#![allow(clippy::unwrap_used)]
//! Leader election through the real `kube::Client` against the in-memory API (which answers a stale
//! `resourceVersion` or a second create with 409, as the API server does): two candidates, one leader; the
//! standby takes over once the holder stopped renewing for the lease duration; a released Lease is taken at
//! once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::{Api, Client};
use operator::leader::{LeaderElector, LeaseSettings};

#[path = "support/fake_api.rs"]
mod fake_api;
use fake_api::FakeApi;

fn candidate(client: &Client, identity: &str) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        LeaseSettings {
            name: "tradewind-operator".into(),
            namespace: "tradewind-system".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        },
    )
}

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_767_607_200 + seconds).unwrap()
}

async fn holder(client: &Client) -> (Option<String>, Option<i32>) {
    let lease = Api::<Lease>::namespaced(client.clone(), "tradewind-system")
        .get("tradewind-operator")
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    (spec.holder_identity, spec.lease_transitions)
}

#[tokio::test]
async fn two_candidates_one_leader_and_a_takeover_after_expiry() {
    let client = FakeApi::default().client();
    let (a, b) = (candidate(&client, "a"), candidate(&client, "b"));
    assert!(a.try_acquire_or_renew(t(0)).await.unwrap());
    assert!(!b.try_acquire_or_renew(t(1)).await.unwrap());
    assert!(
        a.try_acquire_or_renew(t(10)).await.unwrap(),
        "the holder renews"
    );
    assert!(!b.try_acquire_or_renew(t(20)).await.unwrap());
    // `a` stops renewing. `b` first saw a's last record at t=20: it waits the full lease duration from then.
    assert!(!b.try_acquire_or_renew(t(34)).await.unwrap());
    assert!(b.try_acquire_or_renew(t(36)).await.unwrap());
    assert_eq!(holder(&client).await, (Some("b".into()), Some(1)));
    assert!(
        !a.try_acquire_or_renew(t(37)).await.unwrap(),
        "the old holder does not take it back"
    );
}

#[tokio::test]
async fn of_two_candidates_starting_together_exactly_one_leads() {
    let client = FakeApi::default().client();
    let (a, b) = (candidate(&client, "a"), candidate(&client, "b"));
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(t(0)), b.try_acquire_or_renew(t(0)));
    assert!(ra.unwrap() ^ rb.unwrap(), "exactly one leader");
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let client = FakeApi::default().client();
    let (a, b) = (candidate(&client, "a"), candidate(&client, "b"));
    assert!(a.try_acquire_or_renew(t(0)).await.unwrap());
    assert!(!b.try_acquire_or_renew(t(1)).await.unwrap());
    a.release().await.unwrap();
    assert!(b.try_acquire_or_renew(t(2)).await.unwrap());
    assert_eq!(holder(&client).await.0.as_deref(), Some("b"));
    // Releasing a Lease someone else holds changes nothing.
    a.release().await.unwrap();
    assert_eq!(holder(&client).await.0.as_deref(), Some("b"));
}
