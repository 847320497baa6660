#![allow(clippy::unwrap_used)]
//! The Marketplace controller's reconcile through the real `kube::Client`, against a small in-memory
//! Kubernetes API (objects by resource and name; get, apply/merge/JSON patch, status subresource, delete with
//! finalizers), and real NATS for the JetStream topology.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

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

/// Objects keyed by (plural, namespace, name).
#[derive(Default)]
struct Store {
    objects: BTreeMap<(String, String, String), Value>,
    version: u64,
}

#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<Store>>);

fn status(code: u16, reason: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": reason, "code": code}),
    )
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn json_patch(target: &mut Value, ops: &[Value]) -> Result<(), ()> {
    for op in ops {
        let path = op["path"].as_str().ok_or(())?;
        match op["op"].as_str().ok_or(())? {
            "test" => {
                let current = target.pointer(path).cloned().unwrap_or(Value::Null);
                if current != op["value"] {
                    return Err(());
                }
            }
            "add" | "replace" => {
                let (parent, last) = path.rsplit_once('/').ok_or(())?;
                let parent = if parent.is_empty() {
                    &mut *target
                } else {
                    target.pointer_mut(parent).ok_or(())?
                };
                match parent {
                    Value::Array(items) if last == "-" => items.push(op["value"].clone()),
                    Value::Object(map) => {
                        map.insert(last.to_string(), op["value"].clone());
                    }
                    _ => return Err(()),
                }
            }
            "remove" => {
                let (parent, last) = path.rsplit_once('/').ok_or(())?;
                match target.pointer_mut(parent).ok_or(())? {
                    Value::Array(items) => {
                        items.remove(last.parse::<usize>().map_err(|_| ())?);
                    }
                    Value::Object(map) => {
                        map.remove(last);
                    }
                    _ => return Err(()),
                }
            }
            _ => return Err(()),
        }
    }
    Ok(())
}

impl FakeApi {
    fn handle(
        &self,
        method: &http::Method,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let rest = match parts.first() {
            Some(&"api") => &parts[2..],
            Some(&"apis") => &parts[3..],
            _ => return status(404, "NotFound"),
        };
        let (namespace, plural, name, sub) = match rest {
            ["namespaces", ns, plural] => (*ns, *plural, None, None),
            ["namespaces", ns, plural, name] => (*ns, *plural, Some(*name), None),
            ["namespaces", ns, plural, name, sub] => (*ns, *plural, Some(*name), Some(*sub)),
            _ => return status(404, "NotFound"),
        };
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap()
        };
        let mut store = self.0.lock().unwrap();
        store.version += 1;
        let version = store.version.to_string();
        match (method.as_str(), name) {
            ("POST", _) => {
                let name = body
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("generated")
                    .to_string();
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(version);
                object["metadata"]["uid"] = json!(format!("uid-{plural}-{name}"));
                object["metadata"]["generation"] = json!(1);
                store
                    .objects
                    .insert((plural.into(), namespace.into(), name), object.clone());
                (201, object)
            }
            ("GET", Some(name)) => {
                match store
                    .objects
                    .get(&(plural.into(), namespace.into(), name.into()))
                {
                    Some(object) => (200, object.clone()),
                    None => status(404, "NotFound"),
                }
            }
            ("PATCH", Some(name)) => {
                let key = (plural.to_string(), namespace.to_string(), name.to_string());
                let existing = store.objects.get(&key).cloned();
                let mut object = match (existing, sub) {
                    (Some(o), _) => o,
                    (None, Some(_)) => return status(404, "NotFound"),
                    (None, None) if content_type.starts_with("application/apply-patch") => {
                        json!({"metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{plural}-{name}"), "generation": 0}})
                    }
                    (None, None) => return status(404, "NotFound"),
                };
                let spec_before = object.get("spec").cloned();
                if content_type.starts_with("application/json-patch") {
                    if json_patch(&mut object, body.as_array().unwrap()).is_err() {
                        return status(422, "Invalid");
                    }
                } else if sub == Some("status") {
                    object["status"] = body["status"].clone();
                } else {
                    let mut body = body;
                    if let Some(map) = body.as_object_mut() {
                        map.remove("status");
                    }
                    merge(&mut object, &body);
                }
                if sub.is_none() && object.get("spec").cloned() != spec_before {
                    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    object["metadata"]["generation"] = json!(generation);
                }
                object["metadata"]["resourceVersion"] = json!(version);
                let finalizers_empty = object
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
                if object.pointer("/metadata/deletionTimestamp").is_some() && finalizers_empty {
                    store.objects.remove(&key);
                } else {
                    store.objects.insert(key, object.clone());
                }
                (200, object)
            }
            ("DELETE", Some(name)) => {
                let key = (plural.to_string(), namespace.to_string(), name.to_string());
                let Some(mut object) = store.objects.get(&key).cloned() else {
                    return status(404, "NotFound");
                };
                let has_finalizers = object
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| !f.is_empty());
                if has_finalizers {
                    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                    object["metadata"]["resourceVersion"] = json!(version);
                    store.objects.insert(key, object.clone());
                } else {
                    store.objects.remove(&key);
                }
                (200, object)
            }
            _ => status(405, "MethodNotAllowed"),
        }
    }

    fn client(&self) -> Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let (code, value) =
                    api.handle(&parts.method, parts.uri.path(), &content_type, &bytes);
                let response = http::Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(
                        serde_json::to_vec(&value).unwrap(),
                    ))
                    .unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        Client::new(service, "default")
    }
}

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
