//! A small in-memory Kubernetes API for `kube::Client`: objects by (resource, namespace, name); get, create,
//! server-side apply (as a create-or-merge), merge and JSON patch, the status subresource, delete with
//! finalizers, list (no selectors), and replace (PUT) with optimistic concurrency on `resourceVersion` (a stale
//! version is a 409 Conflict, as leader election needs), and watch (`?watch=true`) of a namespaced collection
//! as a long poll: the request waits for changes after its `resourceVersion`, answers them as watch events and
//! ends, and kube's watcher watches again from the last version it saw. Enough for the operator's reconciles
//! and for running its controllers; no field ownership, no label selectors (owners are told apart by owner
//! references anyway).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use kube::Client;
use serde_json::{Value, json};

/// Objects keyed by (plural, namespace, name).
#[derive(Default)]
struct Store {
    objects: BTreeMap<(String, String, String), Value>,
    version: u64,
    /// Every change, when the API was made [`FakeApi::watchable`] (a reconcile-only test or bench keeps none).
    events: Vec<WatchEvent>,
    watched: bool,
}

/// One change, as a watch reports it.
struct WatchEvent {
    version: u64,
    plural: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Clone)]
pub struct FakeApi(
    Arc<Mutex<Store>>,
    Arc<Mutex<Option<String>>>,
    /// The version of the latest change, for watches waiting on one.
    Arc<tokio::sync::watch::Sender<u64>>,
);

impl Default for FakeApi {
    fn default() -> Self {
        Self(
            Arc::default(),
            Arc::default(),
            Arc::new(tokio::sync::watch::Sender::new(0)),
        )
    }
}

/// How long a watch request waits for a change before it ends empty (the watcher then watches again).
const WATCH_POLL: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    fn changed(&mut self, plural: &str, namespace: &str, kind: &'static str, object: &Value) {
        if self.watched {
            self.events.push(WatchEvent {
                version: self.version,
                plural: plural.into(),
                namespace: namespace.into(),
                kind,
                object: object.clone(),
            });
        }
    }
}

/// `(namespace, plural, resourceVersion)` of a watch request (`GET .../namespaces/<ns>/<plural>?watch=true`).
fn watch_request(method: &http::Method, uri: &http::Uri) -> Option<(String, String, u64)> {
    let query = uri.query()?;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    if method != http::Method::GET || !matches!(param("watch"), Some("true" | "1")) {
        return None;
    }
    let parts: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let rest = match parts.first() {
        Some(&"api") => &parts[2..],
        Some(&"apis") => &parts[3..],
        _ => return None,
    };
    let ["namespaces", ns, plural] = rest else {
        return None;
    };
    let version = param("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((ns.to_string(), plural.to_string(), version))
}

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
    /// An API that keeps its changes for watches (to run the real controllers against it).
    #[allow(dead_code)]
    pub fn watchable() -> Self {
        let api = Self::default();
        api.0.lock().unwrap().watched = true;
        api
    }

    /// Sets the `creationTimestamp` of objects created from now on (default: the real time).
    #[allow(dead_code)]
    pub fn set_creation_time(&self, at: &str) {
        *self.1.lock().unwrap() = Some(at.to_string());
    }

    fn created_at(&self) -> String {
        self.1.lock().unwrap().clone().unwrap_or_else(|| {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    }

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
                let key = (plural.to_string(), namespace.to_string(), name.clone());
                // Events are recorded again under the same name; only other kinds must be new.
                if plural != "events" && store.objects.contains_key(&key) {
                    return status(409, "AlreadyExists");
                }
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(version);
                object["metadata"]["uid"] = json!(format!("uid-{plural}-{name}"));
                object["metadata"]["generation"] = json!(1);
                object["metadata"]["creationTimestamp"] = json!(self.created_at());
                store
                    .objects
                    .insert((plural.into(), namespace.into(), name), object.clone());
                store.changed(plural, namespace, "ADDED", &object);
                (201, object)
            }
            ("GET", None) => {
                let items: Vec<Value> = store
                    .objects
                    .iter()
                    .filter(|((p, ns, _), _)| p == plural && ns == namespace)
                    .map(|(_, o)| o.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            ("PUT", Some(name)) => {
                let key = (plural.to_string(), namespace.to_string(), name.to_string());
                let Some(existing) = store.objects.get(&key) else {
                    return status(404, "NotFound");
                };
                if body.pointer("/metadata/resourceVersion")
                    != existing.pointer("/metadata/resourceVersion")
                {
                    return status(409, "Conflict");
                }
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(version);
                store.objects.insert(key, object.clone());
                store.changed(plural, namespace, "MODIFIED", &object);
                (200, object)
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
                let created = existing.is_none();
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
                    store.changed(plural, namespace, "DELETED", &object);
                } else {
                    store.objects.insert(key, object.clone());
                    let kind = if created { "ADDED" } else { "MODIFIED" };
                    store.changed(plural, namespace, kind, &object);
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
                object["metadata"]["resourceVersion"] = json!(version);
                if has_finalizers {
                    object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                    store.objects.insert(key, object.clone());
                    store.changed(plural, namespace, "MODIFIED", &object);
                } else {
                    store.objects.remove(&key);
                    store.changed(plural, namespace, "DELETED", &object);
                }
                (200, object)
            }
            _ => status(405, "MethodNotAllowed"),
        }
    }

    /// The changes of `plural` in `namespace` after `version`, as watch event lines.
    fn events_after(&self, namespace: &str, plural: &str, version: u64) -> Vec<u8> {
        let store = self.0.lock().unwrap();
        let mut out = Vec::new();
        for e in store
            .events
            .iter()
            .filter(|e| e.version > version && e.plural == plural && e.namespace == namespace)
        {
            serde_json::to_writer(&mut out, &json!({"type": e.kind, "object": e.object})).unwrap();
            out.push(b'\n');
        }
        out
    }

    /// Answers a watch: the changes after `version`, waiting up to [`WATCH_POLL`] for one.
    async fn watch(&self, namespace: &str, plural: &str, version: u64) -> Vec<u8> {
        let mut changes = self.2.subscribe();
        let deadline = tokio::time::Instant::now() + WATCH_POLL;
        loop {
            let events = self.events_after(namespace, plural, version);
            if !events.is_empty() {
                return events;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Vec::new(),
            }
        }
    }

    pub fn client(&self) -> Client {
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
                if let Some((ns, plural, version)) = watch_request(&parts.method, &parts.uri) {
                    let body = api.watch(&ns, &plural, version).await;
                    return Ok(http::Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(kube::client::Body::from(body))
                        .unwrap());
                }
                let (code, value) =
                    api.handle(&parts.method, parts.uri.path(), &content_type, &bytes);
                let latest = api.0.lock().unwrap().version;
                api.2.send_replace(latest);
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
