#![allow(clippy::unwrap_used)]
//! What the strict in-memory API revealed in the operator (each test failed before its fix): object names the
//! API server refuses for a Service, and a rendered object the API server refuses retried forever with no word
//! in status.

use std::sync::Arc;

use crds::v1alpha1::{ErpConnection, Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::PostParams;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client, ResourceExt};
use operator::controller::{Context, erp_connection, marketplace};
use operator::settings::RenderSettings;
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

fn marketplace_doc(name: &str, adapter: Value) -> Value {
    json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": name, "namespace": NS}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "9erp"}, "channelMappingRef": {"name": "map"}, "rateLimitPolicyRef": {"name": "limits"},
        "currency": "USD", "flows": {"inventory": {}}, "adapter": adapter}})
}

async fn setup() -> (Client, Arc<Context>) {
    let client = FakeApi::default().client();
    create::<Secret>(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": NS}, "data": {"k": "eA=="}})).await;
    create::<RateLimitPolicy>(&client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": "limits", "namespace": NS}, "spec": {"channel": "rest"}})).await;
    let ctx = Arc::new(Context {
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
        resync: std::time::Duration::from_secs(300),
    });
    (client, ctx)
}

/// Reconciles the Marketplace `name` twice (finalizer, then apply) and returns it.
async fn reconcile_marketplace(client: &Client, ctx: &Arc<Context>, name: &str) -> Marketplace {
    let api = Api::<Marketplace>::namespaced(client.clone(), NS);
    for _ in 0..2 {
        let mp = api.get(name).await.unwrap();
        marketplace::reconcile(Arc::new(mp), ctx.clone())
            .await
            .unwrap();
    }
    api.get(name).await.unwrap()
}

fn synced(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> (String, String, String) {
    let c = conditions.iter().find(|c| c.type_ == "Synced").unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// A resource name may start with a digit (a DNS subdomain), a Service's may not (an RFC 1035 label): the
/// API server refused `1shop-adapter`, and the reconcile failed at every retry.
#[tokio::test]
async fn a_resource_whose_name_starts_with_a_digit_gets_services_the_api_accepts() {
    let (client, ctx) = setup().await;
    create::<Marketplace>(&client, marketplace_doc("1shop", json!({}))).await;
    let mp = reconcile_marketplace(&client, &ctx, "1shop").await;
    assert_eq!(synced(&mp.status.unwrap().common.conditions).0, "True");
    let services = Api::<Service>::namespaced(client.clone(), NS);
    let service = services.get("tw-1shop-adapter").await.unwrap();
    assert_eq!(service.labels()["tradewind.dev/name"], "1shop");

    create::<Secret>(&client, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "erp-db", "namespace": NS}, "data": {"dsn": "eA=="}})).await;
    create::<ErpConnection>(&client, json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "ErpConnection", "metadata": {"name": "9erp", "namespace": NS}, "spec": {
        "source": {"postgresOutbox": {"dsnSecretRef": {"name": "erp-db", "key": "dsn"}}},
        "sink": {"rest": {"baseUrl": "http://erp:8080"}}}})).await;
    let api = Api::<ErpConnection>::namespaced(client.clone(), NS);
    for _ in 0..2 {
        let erp = api.get("9erp").await.unwrap();
        erp_connection::reconcile(Arc::new(erp), ctx.clone())
            .await
            .unwrap();
    }
    services.get("tw-9erp-erp-bridge").await.unwrap();
}

/// A pod label the API server does not accept (`spec.adapter.podLabels`) made every apply of the Deployment a
/// 422 that the controller retried every 10 s, with nothing in status: now `Synced=False`, reason `Refused`,
/// with the API server's message naming the field, and the reconcile does not fail.
#[tokio::test]
async fn an_object_the_api_refuses_is_reported_in_status() {
    let (client, ctx) = setup().await;
    create::<Marketplace>(
        &client,
        marketplace_doc("shop", json!({"podLabels": {"team": "sales & ops"}})),
    )
    .await;
    let mp = reconcile_marketplace(&client, &ctx, "shop").await;
    let (status, reason, message) = synced(&mp.status.unwrap().common.conditions);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Refused"));
    assert!(
        message.contains("spec.template.metadata.labels.team") && message.contains("sales & ops"),
        "{message}"
    );
    assert!(
        Api::<Deployment>::namespaced(client.clone(), NS)
            .get_opt("shop-adapter")
            .await
            .unwrap()
            .is_none()
    );
}

/// A resync that changes nothing writes nothing: the applies of unchanged objects are no-ops for the API
/// server (no new resourceVersion, so no watch event that would wake the owner's controller again), and the
/// status is not rewritten (the server's defaults in the stored Marketplace do not make it look changed).
#[tokio::test]
async fn a_resync_changes_no_resource_version() {
    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    let (client, ctx) = setup().await;
    create::<Marketplace>(&client, marketplace_doc("shop", json!({}))).await;
    reconcile_marketplace(&client, &ctx, "shop").await;
    async fn versions(client: &Client) -> Vec<Option<String>> {
        let ns = |c: &Client| c.clone();
        vec![
            Api::<Marketplace>::namespaced(ns(client), NS)
                .get("shop")
                .await
                .unwrap()
                .metadata
                .resource_version,
            Api::<Deployment>::namespaced(ns(client), NS)
                .get("shop-adapter")
                .await
                .unwrap()
                .metadata
                .resource_version,
            Api::<ConfigMap>::namespaced(ns(client), NS)
                .get("shop-adapter")
                .await
                .unwrap()
                .metadata
                .resource_version,
            Api::<Service>::namespaced(ns(client), NS)
                .get("shop-adapter")
                .await
                .unwrap()
                .metadata
                .resource_version,
            Api::<ServiceAccount>::namespaced(ns(client), NS)
                .get("shop-adapter")
                .await
                .unwrap()
                .metadata
                .resource_version,
        ]
    }
    let before = versions(&client).await;
    let mp = reconcile_marketplace(&client, &ctx, "shop").await;
    assert_eq!(versions(&client).await, before);
    let managers: Vec<String> = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("shop-adapter")
        .await
        .unwrap()
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| format!("{}/{}", m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(managers, vec!["tradewind-operator/Apply"]);
    assert_eq!(
        mp.spec.deletion_policy,
        crds::v1alpha1::DeletionPolicy::Retain,
        "defaulted by the API"
    );
}
