#![allow(clippy::unwrap_used)]
//! The Marketplace controller's reconcile through the real `kube::Client`, against a small in-memory
//! Kubernetes API (objects by resource and name; get, apply/merge/JSON patch, status subresource, delete with
//! finalizers), and real NATS for the JetStream topology.

use std::sync::Arc;

use crds::v1alpha1::{ChannelMapping, Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use operator::controller::{Context, channel_mapping, marketplace};
use operator::render::hash::CONFIG_HASH_ANNOTATION;
use operator::settings::{NatsConnection, RenderSettings};
use serde_json::{Value, json};
use test_support::NatsServer;

#[path = "support/fake_api.rs"]
mod fake_api;
use fake_api::FakeApi;

const NS: &str = "shop";

fn docs() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "portal-creds", "namespace": NS}, "data": {"api_key": "c2VjcmV0"}}),
        json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": "portal", "namespace": NS}, "spec": {"channel": "rest"}}),
        json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": "portal", "namespace": NS}, "spec": {
            "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "portal-creds"},
            "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "portal"}, "rateLimitPolicyRef": {"name": "portal"},
            "currency": "USD", "flows": {"inventory": {}}, "deletionPolicy": "Delete"}}),
    ]
}

struct Harness {
    client: Client,
    ctx: Arc<Context>,
    _nats: NatsServer,
}

async fn harness() -> Harness {
    let nats = NatsServer::start().await.unwrap();
    let client = FakeApi::default().client();
    for doc in docs() {
        match doc["kind"].as_str().unwrap() {
            "Secret" => {
                let s: Secret = serde_json::from_value(doc).unwrap();
                Api::<Secret>::namespaced(client.clone(), NS)
                    .create(&PostParams::default(), &s)
                    .await
                    .unwrap();
            }
            "RateLimitPolicy" => {
                let p: RateLimitPolicy = serde_json::from_value(doc).unwrap();
                Api::<RateLimitPolicy>::namespaced(client.clone(), NS)
                    .create(&PostParams::default(), &p)
                    .await
                    .unwrap();
            }
            _ => {
                let m: Marketplace = serde_json::from_value(doc).unwrap();
                Api::<Marketplace>::namespaced(client.clone(), NS)
                    .create(&PostParams::default(), &m)
                    .await
                    .unwrap();
            }
        }
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings {
            nats: NatsConnection {
                url: nats.url(),
                credentials_secret: None,
                tls_ca_secret: None,
            },
            ..RenderSettings::example()
        },
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
    Harness {
        client,
        ctx,
        _nats: nats,
    }
}

impl Harness {
    async fn marketplace(&self) -> Option<Marketplace> {
        Api::<Marketplace>::namespaced(self.client.clone(), NS)
            .get_opt("portal")
            .await
            .unwrap()
    }
    async fn reconcile(&self) {
        let mp = self.marketplace().await.unwrap();
        marketplace::reconcile(Arc::new(mp), self.ctx.clone())
            .await
            .unwrap();
    }
    async fn deployment(&self) -> Option<Deployment> {
        Api::<Deployment>::namespaced(self.client.clone(), NS)
            .get_opt("portal-adapter")
            .await
            .unwrap()
    }
    async fn hash(&self) -> String {
        let d = self.deployment().await.unwrap();
        d.spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()[CONFIG_HASH_ANNOTATION]
            .clone()
    }
    async fn condition(&self, type_: &str) -> (String, String) {
        let mp = self.marketplace().await.unwrap();
        let c = mp
            .status
            .unwrap()
            .common
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_)
            .unwrap();
        (c.status, c.message)
    }
}

#[tokio::test]
async fn create_applies_the_adapter_and_provisions_jetstream() {
    let h = harness().await;
    h.reconcile().await; // adds the finalizer
    h.reconcile().await;
    let mp = h.marketplace().await.unwrap();
    assert!(
        mp.metadata
            .finalizers
            .unwrap()
            .contains(&operator::controller::FINALIZER.to_string())
    );
    let deployment = h.deployment().await.unwrap();
    assert_eq!(
        deployment.metadata.owner_references.unwrap()[0].name,
        "portal"
    );
    assert_eq!(h.condition("Synced").await.0, "True");
    assert_eq!(h.condition("StreamsReady").await.0, "True");
    assert_eq!(
        mp.status.unwrap().common.observed_generation,
        mp.metadata.generation
    );
    let js = h.ctx.jetstream.clone().unwrap();
    let stream = js.get_stream("TW_SHOP_ERP_ERP_INVENTORY").await.unwrap();
    stream.consumer_info("portal-inventory").await.unwrap();
}

#[tokio::test]
async fn a_secret_rotation_or_spec_change_rolls_the_pods_and_a_resync_does_not() {
    let h = harness().await;
    h.reconcile().await;
    h.reconcile().await;
    let first = h.hash().await;
    h.reconcile().await;
    assert_eq!(
        h.hash().await,
        first,
        "a resync with nothing changed keeps the hash"
    );
    let secrets = Api::<Secret>::namespaced(h.client.clone(), NS);
    secrets
        .patch(
            "portal-creds",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"api_key": "cm90YXRlZA=="}})),
        )
        .await
        .unwrap();
    h.reconcile().await;
    let rotated = h.hash().await;
    assert_ne!(rotated, first);
    Api::<Marketplace>::namespaced(h.client.clone(), NS)
        .patch(
            "portal",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"currency": "EUR"}})),
        )
        .await
        .unwrap();
    h.reconcile().await;
    assert_ne!(h.hash().await, rotated);
}

#[tokio::test]
async fn an_object_deleted_out_of_band_is_recreated() {
    let h = harness().await;
    h.reconcile().await;
    h.reconcile().await;
    Api::<Deployment>::namespaced(h.client.clone(), NS)
        .delete("portal-adapter", &DeleteParams::default())
        .await
        .unwrap();
    assert!(h.deployment().await.is_none());
    h.reconcile().await;
    assert!(h.deployment().await.is_some());
}

#[tokio::test]
async fn a_missing_reference_is_reported_and_not_an_error() {
    let h = harness().await;
    Api::<RateLimitPolicy>::namespaced(h.client.clone(), NS)
        .delete("portal", &DeleteParams::default())
        .await
        .unwrap();
    h.reconcile().await;
    h.reconcile().await;
    let (status, message) = h.condition("Synced").await;
    assert_eq!(status, "False");
    assert!(
        message.contains("spec.rateLimitPolicyRef.name"),
        "{message}"
    );
    assert_eq!(h.condition("Ready").await.0, "False");
    assert!(h.deployment().await.is_none());
}

#[tokio::test]
async fn delete_runs_the_finalizer_and_removes_consumers_and_the_owned_stream() {
    let h = harness().await;
    h.reconcile().await;
    h.reconcile().await;
    let js = h.ctx.jetstream.clone().unwrap();
    Api::<Marketplace>::namespaced(h.client.clone(), NS)
        .delete("portal", &DeleteParams::default())
        .await
        .unwrap();
    assert!(h.marketplace().await.is_some(), "held by the finalizer");
    h.reconcile().await;
    assert!(h.marketplace().await.is_none(), "released once cleaned up");
    let stream = js.get_stream("TW_SHOP_ERP_ERP_INVENTORY").await.unwrap();
    assert!(stream.consumer_info("portal-inventory").await.is_err());
    assert!(
        js.get_stream("TW_SHOP_MP_PORTAL").await.is_err(),
        "deletionPolicy Delete removes the owned stream"
    );
}

#[tokio::test]
async fn an_invalid_mapping_reports_each_error_with_its_field_path() {
    let h = harness().await;
    let mapping: ChannelMapping = serde_json::from_value(json!({
        "apiVersion": "tradewind.dev/v1alpha1", "kind": "ChannelMapping",
        "metadata": {"name": "portal", "namespace": NS},
        "spec": {"channel": "rest", "flows": [{"flow": "inventory", "fields": [
            {"target": "sku", "expression": "record.sku"},
            {"target": "qty", "expression": "record.nope +"}
        ]}]}
    }))
    .unwrap();
    let api = Api::<ChannelMapping>::namespaced(h.client.clone(), NS);
    api.create(&PostParams::default(), &mapping).await.unwrap();
    let stored = api.get("portal").await.unwrap();
    channel_mapping::reconcile(Arc::new(stored), h.ctx.clone())
        .await
        .unwrap();
    let status = api.get("portal").await.unwrap().status.unwrap();
    assert_eq!(status.errors.len(), 1, "{:?}", status.errors);
    assert_eq!(
        status.errors[0].field_path,
        "spec.flows[0].fields[1].expression"
    );
    let valid = status
        .common
        .conditions
        .iter()
        .find(|c| c.type_ == "MappingValid")
        .unwrap();
    assert_eq!(valid.status, "False");
}

#[tokio::test]
async fn dead_letters_and_backlog_are_reported_per_flow() {
    use adapter_runtime::topology::Namespace;
    use crds::channel::Flow;
    let h = harness().await;
    h.reconcile().await;
    h.reconcile().await;
    let js = h.ctx.jetstream.clone().unwrap();
    let ns = Namespace::new(NS);
    for sku in ["a", "b", "c"] {
        js.publish(ns.erp_subject("erp", Flow::Inventory, sku), "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    js.publish(
        ns.dead_letter_subject("portal", Flow::Inventory),
        "{}".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    h.reconcile().await;
    let status = h.marketplace().await.unwrap().status.unwrap();
    let inventory = status
        .flows
        .iter()
        .find(|f| f.flow == Flow::Inventory)
        .unwrap();
    assert_eq!((inventory.pending, inventory.dead_letters), (3, 1));
    assert_eq!(status.dead_letters, Some(1));
    let (degraded, message) = h.condition("Degraded").await;
    assert_eq!(degraded, "True");
    assert!(message.contains("inventory (1)"), "{message}");
    assert_eq!(h.condition("Synced").await.0, "True");
}

#[tokio::test]
async fn lag_over_a_schedules_slo_degrades_the_marketplace_with_the_reason() {
    use adapter_runtime::topology::Namespace;
    use crds::channel::Flow;
    use crds::v1alpha1::SyncSchedule;
    let h = harness().await;
    let schedule: SyncSchedule = serde_json::from_value(json!({
        "apiVersion": "tradewind.dev/v1alpha1", "kind": "SyncSchedule",
        "metadata": {"name": "inventory-hourly", "namespace": NS},
        "spec": {"marketplaceRef": {"name": "portal"}, "flow": "inventory", "schedule": "0 * * * *",
                 "slo": {"maxPending": 2, "maxLatency": "1ms"}}
    }))
    .unwrap();
    Api::<SyncSchedule>::namespaced(h.client.clone(), NS)
        .create(&PostParams::default(), &schedule)
        .await
        .unwrap();
    h.reconcile().await;
    h.reconcile().await;
    assert_eq!(
        h.condition("Degraded").await.0,
        "False",
        "nothing waits yet"
    );
    let js = h.ctx.jetstream.clone().unwrap();
    let ns = Namespace::new(NS);
    for sku in ["a", "b", "c"] {
        js.publish(ns.erp_subject("erp", Flow::Inventory, sku), "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    h.reconcile().await;
    let mp = h.marketplace().await.unwrap();
    let degraded = mp
        .status
        .unwrap()
        .common
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "LagOverSlo")
    );
    assert!(
        degraded
            .message
            .contains("inventory: 3 pending, SLO maxPending 2 (SyncSchedule inventory-hourly)"),
        "{}",
        degraded.message
    );
    assert!(
        degraded.message.contains("oldest record waiting"),
        "{}",
        degraded.message
    );
    assert_eq!(h.condition("Synced").await.0, "True");
}

#[tokio::test]
async fn the_last_acknowledgement_is_the_flows_last_success_time() {
    use adapter_runtime::topology::Namespace;
    use async_nats::jetstream::consumer::pull;
    use crds::channel::Flow;
    use futures::StreamExt;
    let h = harness().await;
    h.reconcile().await;
    h.reconcile().await;
    let status = h.marketplace().await.unwrap().status.unwrap();
    assert_eq!(status.last_sync_time, None, "nothing acknowledged yet");
    let js = h.ctx.jetstream.clone().unwrap();
    let ns = Namespace::new(NS);
    for sku in ["a", "b"] {
        js.publish(ns.erp_subject("erp", Flow::Inventory, sku), "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // The adapter's part: take one record and acknowledge it.
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = js
        .get_stream("TW_SHOP_ERP_ERP_INVENTORY")
        .await
        .unwrap()
        .get_consumer("portal-inventory")
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = batch.next().await.unwrap().unwrap();
    message.double_ack().await.unwrap();
    h.reconcile().await;
    let status = h.marketplace().await.unwrap().status.unwrap();
    let inventory = status
        .flows
        .iter()
        .find(|f| f.flow == Flow::Inventory)
        .unwrap();
    assert_eq!(inventory.pending, 1);
    let at = inventory.last_success_time.clone().unwrap();
    assert!(at.ends_with('Z'), "{at}");
    assert_eq!(status.last_sync_time, Some(at));
}
