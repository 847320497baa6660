#![allow(clippy::unwrap_used)]
//! End to end against a real cluster where the chart is installed (operator running, CRDs served). Runs only when
//! `TRADEWIND_E2E_KUBECONFIG` names a kubeconfig; otherwise each test says so and passes. On kind:
//!
//! ```sh
//! kind create cluster --name tradewind
//! kind get kubeconfig --name tradewind > /tmp/tradewind-kind.yaml
//! # build the image, `kind load docker-image`, `helm install tradewind charts/tradewind` (see the chart's README)
//! TRADEWIND_E2E_KUBECONFIG=/tmp/tradewind-kind.yaml cargo test -p operator --test e2e -- --nocapture
//! ```

use std::time::Duration;

use crds::v1alpha1::{Marketplace, RateLimitPolicy};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use operator::render::hash::CONFIG_HASH_ANNOTATION;
use serde_json::json;
use test_support::eventually;

async fn cluster() -> Option<Client> {
    let Some(path) = std::env::var_os("TRADEWIND_E2E_KUBECONFIG") else {
        eprintln!(
            "skipped: set TRADEWIND_E2E_KUBECONFIG to a kubeconfig of a cluster with the chart installed"
        );
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Some(Client::try_from(config).unwrap())
}

fn hash(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH_ANNOTATION)
        .cloned()
}

#[tokio::test]
async fn a_marketplace_runs_an_adapter_and_a_secret_rotation_rolls_it() {
    let Some(client) = cluster().await else {
        return;
    };
    let ns = format!("tw-e2e-{}", std::process::id());
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "creds"}, "stringData": {"api_key": "e2e"}}),
    )
    .unwrap();
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns);
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let policy: RateLimitPolicy = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy", "metadata": {"name": "rl"}, "spec": {"channel": "rest"}})).unwrap();
    Api::<RateLimitPolicy>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    let mp: Marketplace = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": "portal"}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://127.0.0.1:1"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "none"}, "rateLimitPolicyRef": {"name": "rl"},
        "currency": "USD", "flows": {"inventory": {}}}})).unwrap();
    let marketplaces = Api::<Marketplace>::namespaced(client.clone(), &ns);
    marketplaces
        .create(&PostParams::default(), &mp)
        .await
        .unwrap();

    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    eventually(Duration::from_secs(60), "adapter Deployment", || async {
        deployments
            .get_opt("portal-adapter")
            .await
            .ok()
            .flatten()
            .and_then(|d| hash(&d))
            .is_some()
    })
    .await;
    let first = hash(&deployments.get("portal-adapter").await.unwrap()).unwrap();
    secrets
        .patch(
            "creds",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"api_key": "rotated"}})),
        )
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "config hash after rotation",
        || async {
            deployments
                .get("portal-adapter")
                .await
                .ok()
                .and_then(|d| hash(&d))
                .is_some_and(|h| h != first)
        },
    )
    .await;
    marketplaces
        .delete("portal", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "marketplace deleted through its finalizer",
        || async {
            marketplaces
                .get_opt("portal")
                .await
                .ok()
                .flatten()
                .is_none()
        },
    )
    .await;
    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_erp_connection_runs_its_bridge_and_reports_it() {
    use crds::v1alpha1::ErpConnection;
    let Some(client) = cluster().await else {
        return;
    };
    let ns = format!("tw-e2e-erp-{}", std::process::id());
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "erp-db"}, "stringData": {"dsn": "postgres://e2e@127.0.0.1:1/erp"}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let erp: ErpConnection = serde_json::from_value(json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "ErpConnection", "metadata": {"name": "erp"}, "spec": {
        "source": {"postgresOutbox": {"dsnSecretRef": {"name": "erp-db", "key": "dsn"}}},
        "sink": {"rest": {"baseUrl": "http://127.0.0.1:1"}}}}))
    .unwrap();
    let connections = Api::<ErpConnection>::namespaced(client.clone(), &ns);
    connections
        .create(&PostParams::default(), &erp)
        .await
        .unwrap();
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    eventually(Duration::from_secs(60), "bridge Deployment", || async {
        deployments
            .get_opt("erp-erp-bridge")
            .await
            .ok()
            .flatten()
            .and_then(|d| hash(&d))
            .is_some()
    })
    .await;
    eventually(Duration::from_secs(60), "ErpConnection Synced", || async {
        connections
            .get("erp")
            .await
            .ok()
            .and_then(|e| e.status)
            .is_some_and(|s| {
                s.source_kind.as_deref() == Some("postgresOutbox")
                    && s.common
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Synced" && c.status == "True")
            })
    })
    .await;
    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await
        .unwrap();
}
