//! What every rule test needs: an API per kind as `DynamicObject`s (objects written as JSON, as a manifest
//! would be) and raw requests, for the answers `kube::Api` does not show (status codes, `Warning` headers).

#![allow(dead_code, clippy::unwrap_used)]

use kube::api::{Api, ApiResource, DynamicObject};
use kube::{Client, Resource};
use kube_in_memory::FakeApi;
use serde_json::Value;

pub const NS: &str = "shop";

pub fn client() -> Client {
    FakeApi::watchable().client()
}

/// The objects of kind `K` in [`NS`], read and written as JSON.
pub fn api<K: Resource<DynamicType = ()>>(client: &Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), NS, &ApiResource::erase::<K>(&()))
}

pub fn object(value: Value) -> DynamicObject {
    serde_json::from_value(value).unwrap()
}

pub fn json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap()
}

/// The Status of a refused request.
pub fn refused(result: Result<DynamicObject, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected the API to refuse, got {other:?}"),
    }
}

/// `(reason, field)` of each cause of a refusal.
pub fn causes(status: &kube::core::Status) -> Vec<(String, String)> {
    status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.reason.clone(), c.field.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// A raw request: `(status code, body, Warning headers)`.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value, Vec<String>) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let code = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    (
        code,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        warnings,
    )
}
