#![allow(clippy::unwrap_used)]
//! The ErpConnection and RateLimitPolicy controllers' reconciles through the real `kube::Client` against the
//! in-memory API: the bridge applied and rolled by a Secret rotation, a missing sink policy reported, a
//! suspended connection, the policy's validity and who references it, per-namespace NATS settings.

use std::sync::Arc;

use crds::v1alpha1::{ErpConnection, Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client};
use operator::controller::{Context, FINALIZER, erp_connection, rate_limit_policy};
use operator::render::hash::CONFIG_HASH_ANNOTATION;
use operator::settings::{NatsOverrides, RenderSettings};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[path = "support/fake_api.rs"]
mod fake_api;
use fake_api::FakeApi;

const NS: &str = "shop";

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

fn marketplace(name: &str, policy: &str) -> Value {
    json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": name, "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "portal-creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "portal"}, "rateLimitPolicyRef": {"name": policy},
        "currency": "USD", "flows": {"inventory": {}}}})
}

fn context(client: &Client, overrides: NatsOverrides) -> Arc<Context> {
    context_with(client, overrides, None)
}

fn context_with(
    client: &Client,
    overrides: NatsOverrides,
    jetstream: Option<async_nats::jetstream::Context>,
) -> Arc<Context> {
    Arc::new(Context {
        client: client.clone(),
        settings: RenderSettings::example(),
        nats_overrides: overrides,
        jetstream,
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "test".into(),
                instance: None,
            },
        ),
        resync: std::time::Duration::from_secs(300),
    })
}

async fn setup(sink_policy: bool) -> (Client, Arc<Context>) {
    let client = FakeApi::default().client();
    create::<Secret>(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "erp-db", "namespace": NS}, "data": {"dsn": "cG9zdGdyZXM6Ly94"}})).await;
    create::<Secret>(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tradewind-nats", "namespace": NS}, "data": {"nats.creds": "eA=="}})).await;
    create::<RateLimitPolicy>(&client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": "erp-limits", "namespace": NS}, "spec": {"channel": "rest"}})).await;
    let mut sink = json!({"baseUrl": "http://erp:8080"});
    if sink_policy {
        sink["rateLimitPolicyRef"] = json!({"name": "erp-limits"});
    }
    create::<ErpConnection>(&client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "ErpConnection", "metadata": {"name": "erp", "namespace": NS}, "spec": {
        "source": {"postgresOutbox": {"dsnSecretRef": {"name": "erp-db", "key": "dsn"}}},
        "sink": {"rest": sink}}})).await;
    create::<Marketplace>(&client, marketplace("portal-a", "erp-limits")).await;
    create::<Marketplace>(&client, marketplace("portal-b", "other")).await;
    let ctx = context(&client, NatsOverrides::default());
    (client, ctx)
}

async fn reconcile_erp(client: &Client, ctx: &Arc<Context>) -> ErpConnection {
    let api = Api::<ErpConnection>::namespaced(client.clone(), NS);
    let mut erp = api.get("erp").await.unwrap();
    if !erp.finalizers().iter().any(|f| f == FINALIZER) {
        // The first reconcile only adds the finalizer (the controller then sees the change).
        erp_connection::reconcile(Arc::new(erp), ctx.clone())
            .await
            .unwrap();
        erp = api.get("erp").await.unwrap();
    }
    erp_connection::reconcile(Arc::new(erp), ctx.clone())
        .await
        .unwrap();
    api.get("erp").await.unwrap()
}

fn condition(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> (String, String) {
    let c = conditions.iter().find(|c| c.type_ == type_).unwrap();
    (c.status.clone(), c.message.clone())
}

async fn bridge(client: &Client) -> Option<Deployment> {
    Api::<Deployment>::namespaced(client.clone(), NS)
        .get_opt("erp-erp-bridge")
        .await
        .unwrap()
}

fn hash(d: &Deployment) -> String {
    d.spec
        .clone()
        .unwrap()
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap()[CONFIG_HASH_ANNOTATION]
        .clone()
}

#[tokio::test]
async fn the_bridge_is_applied_and_lists_the_marketplaces_that_use_it() {
    let (client, ctx) = setup(true).await;
    let erp = reconcile_erp(&client, &ctx).await;
    let status = erp.status.unwrap();
    assert_eq!(condition(&status.common.conditions, "Synced").0, "True");
    assert_eq!(
        condition(&status.common.conditions, "CredentialsFound").0,
        "True"
    );
    assert_eq!(status.source_kind.as_deref(), Some("postgresOutbox"));
    assert_eq!(status.sink_kind.as_deref(), Some("rest"));
    assert_eq!(status.used_by, Some(2));
    let deployment = bridge(&client).await.unwrap();
    assert_eq!(deployment.metadata.owner_references.unwrap()[0].name, "erp");
    let config = Api::<ConfigMap>::namespaced(client.clone(), NS)
        .get("erp-erp-bridge")
        .await
        .unwrap();
    let text = &config.data.unwrap()["bridge.yaml"];
    let parsed = adapter_runtime::bridge_config::BridgeConfig::parse("cm", text).unwrap();
    assert_eq!(parsed.marketplaces, vec!["portal-a", "portal-b"]);
    assert!(parsed.sink_rate_limits.is_some());
    assert!(
        !text.contains("cG9zdGdyZXM6Ly94"),
        "no Secret value in the ConfigMap"
    );
}

#[tokio::test]
async fn a_secret_rotation_rolls_the_bridge_and_a_resync_does_not() {
    let (client, ctx) = setup(false).await;
    reconcile_erp(&client, &ctx).await;
    let first = hash(&bridge(&client).await.unwrap());
    let before = Api::<ErpConnection>::namespaced(client.clone(), NS)
        .get("erp")
        .await
        .unwrap();
    reconcile_erp(&client, &ctx).await;
    let after = Api::<ErpConnection>::namespaced(client.clone(), NS)
        .get("erp")
        .await
        .unwrap();
    assert_eq!(hash(&bridge(&client).await.unwrap()), first);
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "an unchanged status is not written again"
    );
    Api::<Secret>::namespaced(client.clone(), NS)
        .patch(
            "erp-db",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"dsn": "cm90YXRlZA=="}})),
        )
        .await
        .unwrap();
    reconcile_erp(&client, &ctx).await;
    assert_ne!(hash(&bridge(&client).await.unwrap()), first);
}

#[tokio::test]
async fn a_missing_sink_policy_or_secret_is_reported_not_an_error() {
    let (client, ctx) = setup(true).await;
    Api::<RateLimitPolicy>::namespaced(client.clone(), NS)
        .delete("erp-limits", &DeleteParams::default())
        .await
        .unwrap();
    Api::<Secret>::namespaced(client.clone(), NS)
        .delete("erp-db", &DeleteParams::default())
        .await
        .unwrap();
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    let (synced, message) = condition(&status.common.conditions, "Synced");
    assert_eq!(synced, "False");
    assert!(
        message.contains("spec.sink.rest.rateLimitPolicyRef.name"),
        "{message}"
    );
    let (found, message) = condition(&status.common.conditions, "CredentialsFound");
    assert_eq!(found, "False");
    assert!(message.contains("erp-db"), "{message}");
    assert_eq!(condition(&status.common.conditions, "Ready").0, "False");
    assert!(bridge(&client).await.is_none());
}

#[tokio::test]
async fn a_suspended_connection_scales_the_bridge_to_zero() {
    let (client, ctx) = setup(false).await;
    Api::<ErpConnection>::namespaced(client.clone(), NS)
        .patch(
            "erp",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    assert_eq!(
        bridge(&client).await.unwrap().spec.unwrap().replicas,
        Some(0)
    );
    assert_eq!(condition(&status.common.conditions, "Ready").0, "True");
}

#[tokio::test]
async fn a_namespace_override_changes_the_nats_url_of_the_bridge() {
    let (client, _) = setup(false).await;
    let overrides = NatsOverrides::parse(&format!(
        "namespaces:\n  {NS}:\n    url: \"nats://nats.eu:4222\"\n    credentialsSecret: \"eu-nats\"\n"
    ))
    .unwrap();
    let ctx = context(&client, overrides);
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    let config = Api::<ConfigMap>::namespaced(client.clone(), NS)
        .get("erp-erp-bridge")
        .await
        .unwrap();
    let parsed = adapter_runtime::bridge_config::BridgeConfig::parse(
        "cm",
        &config.data.unwrap()["bridge.yaml"],
    )
    .unwrap();
    assert_eq!(parsed.nats.url, "nats://nats.eu:4222");
    let (found, message) = condition(&status.common.conditions, "CredentialsFound");
    assert_eq!(found, "False", "the namespace's NATS Secret is not there");
    assert!(message.contains("eu-nats"), "{message}");
    let pod = bridge(&client)
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    let secrets: Vec<String> = pod
        .volumes
        .unwrap()
        .into_iter()
        .filter_map(|v| v.secret.and_then(|s| s.secret_name))
        .collect();
    assert!(secrets.contains(&"eu-nats".to_string()), "{secrets:?}");
}

#[tokio::test]
async fn a_policy_reports_validity_and_who_references_it() {
    let (client, ctx) = setup(true).await;
    let api = Api::<RateLimitPolicy>::namespaced(client.clone(), NS);
    let policy = api.get("erp-limits").await.unwrap();
    rate_limit_policy::reconcile(Arc::new(policy), ctx.clone())
        .await
        .unwrap();
    let status = api.get("erp-limits").await.unwrap().status.unwrap();
    assert_eq!(status.used_by, Some(2));
    let (ready, message) = condition(&status.common.conditions, "Ready");
    assert_eq!(ready, "True");
    assert!(
        message.contains("ErpConnection/erp") && message.contains("Marketplace/portal-a"),
        "{message}"
    );
    assert_eq!(
        condition(&status.common.conditions, "WithinQuota").0,
        "True"
    );

    // An operation the channel does not have is named with its field path.
    api.patch(
        "erp-limits",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"operations": [{"name": "noSuchCall", "concurrency": 2}]}})),
    )
    .await
    .unwrap();
    let policy = api.get("erp-limits").await.unwrap();
    rate_limit_policy::reconcile(Arc::new(policy), ctx.clone())
        .await
        .unwrap();
    let status = api.get("erp-limits").await.unwrap().status.unwrap();
    let (quota, message) = condition(&status.common.conditions, "WithinQuota");
    assert_eq!(quota, "False");
    assert!(message.contains("spec.operations[0].name"), "{message}");
    assert_eq!(condition(&status.common.conditions, "Ready").0, "False");
}

#[tokio::test]
async fn orders_and_returns_waiting_in_the_sink_consumers_are_pending() {
    use adapter_runtime::jetstream::{ensure_consumer, ensure_stream};
    use adapter_runtime::topology::Namespace;
    let nats = test_support::NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let (client, _) = setup(false).await;
    let ctx = context_with(&client, NatsOverrides::default(), Some(js.clone()));
    let ns = Namespace::new(NS);
    for marketplace in ["portal-a", "portal-b"] {
        ensure_stream(&js, &ns.marketplace_stream(marketplace))
            .await
            .unwrap();
        // The consumers as the bridge itself defines them, and as the operator reads them.
        let ours = erp_connection::sink_consumers(&ns, "erp", marketplace);
        for (i, flow) in erp_bridge::sink::SINK_FLOWS.into_iter().enumerate() {
            let theirs = erp_bridge::sink::consumer_def(&ns, "erp", marketplace, flow, 100);
            assert_eq!(ours[i].durable_name, theirs.durable_name);
            assert_eq!(ours[i].stream, theirs.stream);
            ensure_consumer(&js, &theirs).await.unwrap();
        }
    }
    for (marketplace, order) in [("portal-a", "1"), ("portal-b", "3")] {
        js.publish(ns.erp_order_subject(marketplace, order), "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    js.publish(
        ns.marketplace_subject("portal-a", crds::channel::Flow::Returns, "r-1"),
        "{}".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    assert_eq!(status.pending, Some(3));
}

#[tokio::test]
async fn a_bridge_deleted_out_of_band_is_recreated_and_a_spec_change_rolls_it() {
    let (client, ctx) = setup(false).await;
    reconcile_erp(&client, &ctx).await;
    let first = hash(&bridge(&client).await.unwrap());
    Api::<Deployment>::namespaced(client.clone(), NS)
        .delete("erp-erp-bridge", &DeleteParams::default())
        .await
        .unwrap();
    assert!(bridge(&client).await.is_none());
    reconcile_erp(&client, &ctx).await;
    assert_eq!(hash(&bridge(&client).await.unwrap()), first);
    Api::<ErpConnection>::namespaced(client.clone(), NS)
        .patch(
            "erp",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sink": {"rest": {"concurrency": 8}}}})),
        )
        .await
        .unwrap();
    let erp = reconcile_erp(&client, &ctx).await;
    assert_ne!(hash(&bridge(&client).await.unwrap()), first);
    let status = erp.status.unwrap();
    assert_eq!(status.common.observed_generation, erp.metadata.generation);
}

#[tokio::test]
async fn the_bridges_dead_letters_and_last_activity_are_reported_and_deletion_removes_its_consumers()
 {
    use adapter_runtime::jetstream::{
        DeadLetter, DeadLetterStore, ErrorClass, ensure_consumer, ensure_stream,
    };
    use adapter_runtime::topology::Namespace;
    use crds::channel::Flow;
    let nats = test_support::NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let (client, _) = setup(false).await;
    let ctx = context_with(&client, NatsOverrides::default(), Some(js.clone()));
    let ns = Namespace::new(NS);
    ensure_stream(&js, &ns.dead_letter_stream()).await.unwrap();
    ensure_stream(&js, &ns.erp_stream("erp", Flow::Inventory))
        .await
        .unwrap();
    for marketplace in ["portal-a", "portal-b"] {
        ensure_stream(&js, &ns.marketplace_stream(marketplace))
            .await
            .unwrap();
        for flow in erp_bridge::sink::SINK_FLOWS {
            for erp in ["erp", "other"] {
                let def = erp_bridge::sink::consumer_def(&ns, erp, marketplace, flow, 100);
                ensure_consumer(&js, &def).await.unwrap();
            }
        }
    }
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    assert_eq!(status.dead_letters, Some(0));
    assert_eq!(status.last_activity_time, None, "nothing happened yet");

    // An ERP event published; two orders the ERP refused (dead-lettered by the bridge) and one the order
    // process refused (dead-lettered by the adapter, not the bridge's).
    js.publish(
        ns.erp_subject("erp", Flow::Inventory, "TW-1001"),
        "{}".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let letter = |marketplace: &str, attempts| DeadLetter {
        marketplace: marketplace.into(),
        flow: Flow::Orders,
        original_subject: ns.marketplace_subject(marketplace, Flow::Orders, "1"),
        headers: Default::default(),
        payload: b"{}".to_vec(),
        reason: "refused".into(),
        class: ErrorClass::Permanent,
        attempts,
        at: chrono::Utc::now(),
    };
    let bridge_letters = DeadLetterStore::for_erp_bridge(js.clone(), ns.clone(), "erp");
    bridge_letters.put(&letter("portal-a", 1)).await.unwrap();
    bridge_letters.put(&letter("portal-b", 1)).await.unwrap();
    DeadLetterStore::new(js.clone(), ns.clone())
        .put(&letter("portal-a", 2))
        .await
        .unwrap();
    let status = reconcile_erp(&client, &ctx).await.status.unwrap();
    assert_eq!(status.dead_letters, Some(2), "only the bridge's");
    let at = status
        .last_activity_time
        .expect("the ERP event is activity");
    let at = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    assert!(chrono::Utc::now().signed_duration_since(at).num_seconds() < 60);

    // Deletion: the finalizer removes the bridge's consumers (not another connection's) and keeps the streams.
    let api = Api::<ErpConnection>::namespaced(client.clone(), NS);
    api.delete("erp", &DeleteParams::default()).await.unwrap();
    let erp = api.get("erp").await.unwrap();
    assert!(
        erp.metadata.deletion_timestamp.is_some(),
        "held by the finalizer"
    );
    erp_connection::reconcile(Arc::new(erp), ctx.clone())
        .await
        .unwrap();
    assert!(
        api.get_opt("erp").await.unwrap().is_none(),
        "finalizer removed"
    );
    for marketplace in ["portal-a", "portal-b"] {
        let stream = js
            .get_stream(ns.marketplace_stream(marketplace).name)
            .await
            .unwrap();
        for flow in erp_bridge::sink::SINK_FLOWS {
            let ours = erp_bridge::sink::consumer_def(&ns, "erp", marketplace, flow, 100);
            assert!(stream.consumer_info(&ours.durable_name).await.is_err());
            let theirs = erp_bridge::sink::consumer_def(&ns, "other", marketplace, flow, 100);
            assert!(stream.consumer_info(&theirs.durable_name).await.is_ok());
        }
    }
    assert!(
        js.get_stream(ns.erp_stream("erp", Flow::Inventory).name)
            .await
            .is_ok(),
        "streams are retained"
    );
}

#[test]
fn the_ingest_stream_is_named_as_the_bridge_names_it() {
    let ns = adapter_runtime::topology::Namespace::new(NS);
    assert_eq!(
        erp_connection::ingest_stream_name(&ns, "erp"),
        erp_bridge::nats_source::ingest_stream(&ns, "erp", "erp.events.>").name
    );
}

#[tokio::test]
async fn deleting_a_marketplace_removes_the_bridges_sink_consumers_on_its_retained_stream() {
    use adapter_runtime::jetstream::ensure_consumer;
    use adapter_runtime::topology::Namespace;
    use operator::controller::marketplace;
    let nats = test_support::NatsServer::start().await.unwrap();
    let js = nats.jetstream().await.unwrap();
    let (client, _) = setup(false).await;
    let ctx = context_with(&client, NatsOverrides::default(), Some(js.clone()));
    let api = Api::<Marketplace>::namespaced(client.clone(), NS);
    // Finalizer, then apply (which provisions the marketplace's stream).
    for _ in 0..2 {
        let mp = api.get("portal-a").await.unwrap();
        marketplace::reconcile(Arc::new(mp), ctx.clone())
            .await
            .unwrap();
    }
    let ns = Namespace::new(NS);
    for flow in erp_bridge::sink::SINK_FLOWS {
        ensure_consumer(
            &js,
            &erp_bridge::sink::consumer_def(&ns, "erp", "portal-a", flow, 100),
        )
        .await
        .unwrap();
    }
    api.delete("portal-a", &DeleteParams::default())
        .await
        .unwrap();
    let mp = api.get("portal-a").await.unwrap();
    marketplace::reconcile(Arc::new(mp), ctx.clone())
        .await
        .unwrap();
    assert!(api.get_opt("portal-a").await.unwrap().is_none());
    let stream = js
        .get_stream(ns.marketplace_stream("portal-a").name)
        .await
        .expect("deletionPolicy Retain keeps the stream");
    for flow in erp_bridge::sink::SINK_FLOWS {
        let def = erp_bridge::sink::consumer_def(&ns, "erp", "portal-a", flow, 100);
        assert!(stream.consumer_info(&def.durable_name).await.is_err());
    }
}
