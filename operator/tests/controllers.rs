#![allow(clippy::unwrap_used)]
//! The controllers as `run::run_namespaces` wires them (watches, owned objects, mappers), running against the
//! in-memory API with watch support through the real `kube::Client`: a Marketplace gets its Deployment, a
//! Deployment deleted out of band comes back, and a moved reference updates the old target's status at once
//! (the resync is five minutes; the waits are seconds), and deletions pass the finalizers.

use std::sync::Arc;
use std::time::Duration;

use crds::v1alpha1::{ErpConnection, Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use operator::controller::{Context, run::run_namespaces};
use operator::metrics::Metrics;
use operator::settings::RenderSettings;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use test_support::eventually;

#[path = "support/fake_api.rs"]
mod fake_api;
use fake_api::FakeApi;

const NS: &str = "shop";
const WAIT: Duration = Duration::from_secs(20);

async fn create<K>(client: &Client, doc: Value)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(doc).unwrap();
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
}

async fn setup(client: &Client) {
    create::<Secret>(client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "portal-creds", "namespace": NS}, "data": {"api_key": "c2VjcmV0"}})).await;
    create::<Secret>(client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "erp-db", "namespace": NS}, "data": {"dsn": "cG9zdGdyZXM6Ly94"}})).await;
    for policy in ["limits-a", "limits-b"] {
        create::<RateLimitPolicy>(client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": policy, "namespace": NS}, "spec": {"channel": "rest"}})).await;
    }
    for erp in ["erp", "erp2"] {
        create::<ErpConnection>(client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "ErpConnection", "metadata": {"name": erp, "namespace": NS}, "spec": {
            "source": {"postgresOutbox": {"dsnSecretRef": {"name": "erp-db", "key": "dsn"}}},
            "sink": {"rest": {"baseUrl": "http://erp:8080"}}}})).await;
    }
    create::<Marketplace>(client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": "portal", "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "portal-creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "portal"}, "rateLimitPolicyRef": {"name": "limits-a"},
        "currency": "USD", "flows": {"inventory": {}}}})).await;
}

fn context(client: &Client) -> Arc<Context> {
    Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings::example(),
        nats_overrides: Default::default(),
        jetstream: None,
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "test".into(),
                instance: None,
            },
        ),
        // Longer than any wait below: what happens, happens through the watches.
        resync: Duration::from_secs(300),
    })
}

async fn deployment(client: &Client, name: &str) -> Option<Deployment> {
    Api::<Deployment>::namespaced(client.clone(), NS)
        .get_opt(name)
        .await
        .unwrap()
}

async fn policy_used_by(client: &Client, name: &str) -> Option<u32> {
    Api::<RateLimitPolicy>::namespaced(client.clone(), NS)
        .get(name)
        .await
        .unwrap()
        .status
        .and_then(|s| s.used_by)
}

async fn erp_used_by(client: &Client, name: &str) -> Option<u32> {
    Api::<ErpConnection>::namespaced(client.clone(), NS)
        .get(name)
        .await
        .unwrap()
        .status
        .and_then(|s| s.used_by)
}

#[tokio::test]
async fn the_running_controllers_create_repair_and_follow_moved_references() {
    let client = FakeApi::watchable().client();
    setup(&client).await;
    let shutdown = adapter_runtime::flow::Shutdown::new();
    let controllers = tokio::spawn({
        let (ctx, stop) = (context(&client), shutdown.clone());
        async move { run_namespaces(ctx, Arc::new(Metrics::default()), stop, &[NS.to_string()]).await }
    });

    eventually(WAIT, "the adapter Deployment exists", || async {
        deployment(&client, "portal-adapter").await.is_some()
    })
    .await;
    eventually(WAIT, "the bridge Deployment exists", || async {
        deployment(&client, "erp-erp-bridge").await.is_some()
    })
    .await;

    // Deleted out of band: the owner's controller sees it through the owned-objects watch and applies it again.
    Api::<Deployment>::namespaced(client.clone(), NS)
        .delete("portal-adapter", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "the adapter Deployment is recreated", || async {
        deployment(&client, "portal-adapter").await.is_some()
    })
    .await;

    eventually(
        WAIT,
        "limits-a and erp are used by the marketplace",
        || async {
            policy_used_by(&client, "limits-a").await == Some(1)
                && erp_used_by(&client, "erp").await == Some(1)
        },
    )
    .await;
    assert_eq!(policy_used_by(&client, "limits-b").await, Some(0));

    // Both references move: the old targets drop the marketplace now, not at the next resync.
    Api::<Marketplace>::namespaced(client.clone(), NS)
        .patch(
            "portal",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "rateLimitPolicyRef": {"name": "limits-b"},
                "erpConnectionRef": {"name": "erp2"}}})),
        )
        .await
        .unwrap();
    eventually(WAIT, "the old targets are no longer used", || async {
        policy_used_by(&client, "limits-a").await == Some(0)
            && erp_used_by(&client, "erp").await == Some(0)
    })
    .await;
    eventually(WAIT, "the new targets are used", || async {
        policy_used_by(&client, "limits-b").await == Some(1)
            && erp_used_by(&client, "erp2").await == Some(1)
    })
    .await;

    // Deletion goes through the finalizers the controllers added; the marketplace's targets drop it.
    Api::<ErpConnection>::namespaced(client.clone(), NS)
        .delete("erp", &DeleteParams::default())
        .await
        .unwrap();
    Api::<Marketplace>::namespaced(client.clone(), NS)
        .delete("portal", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "both are deleted and erp2 is unused", || async {
        Api::<ErpConnection>::namespaced(client.clone(), NS)
            .get_opt("erp")
            .await
            .unwrap()
            .is_none()
            && Api::<Marketplace>::namespaced(client.clone(), NS)
                .get_opt("portal")
                .await
                .unwrap()
                .is_none()
            && erp_used_by(&client, "erp2").await == Some(0)
            && policy_used_by(&client, "limits-b").await == Some(0)
    })
    .await;

    shutdown.trigger();
    tokio::time::timeout(WAIT, controllers)
        .await
        .expect("the controllers stop on shutdown")
        .unwrap();
}
