#![allow(clippy::unwrap_used)]
//! Built-in kinds are checked against the Kubernetes OpenAPI definitions (`schemas/kubernetes-1.33.json`, the
//! upstream 1.33 swagger k8s-openapi's `v1_33` was generated from): required fields, types, unknown fields
//! (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation,
//! https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/).

mod common;

use common::{api, causes, client, object, raw, refused};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use serde_json::{Value, json};

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "a:1"}]}}}})
}

/// DeploymentSpec requires `selector` and `template`, a Container its `name`; `replicas` is an integer;
/// every problem is a cause of one 422 naming the field.
#[tokio::test]
async fn required_fields_and_types_follow_the_openapi_definitions() {
    let client = client();
    let deployments = api::<Deployment>(&client);
    let cases: [(&str, Option<Value>, &str, &str); 4] = [
        (
            "/spec/selector",
            None,
            "FieldValueRequired",
            "spec.selector",
        ),
        (
            "/spec/template/spec/containers/0/name",
            None,
            "FieldValueRequired",
            "spec.template.spec.containers[0].name",
        ),
        (
            "/spec/replicas",
            Some(json!("two")),
            "FieldValueTypeInvalid",
            "spec.replicas",
        ),
        (
            "/spec/template/spec/containers/0/ports",
            Some(json!([{"name": "http"}])),
            "FieldValueRequired",
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
    ];
    for (pointer, value, reason, field) in cases {
        let mut d = deployment();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let parent = d.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => parent.insert(last.to_string(), v),
            None => parent.remove(last),
        };
        let status = refused(deployments.create(&PostParams::default(), &object(d)).await);
        assert_eq!(status.code, 422, "{pointer}");
        assert_eq!(
            causes(&status),
            vec![(reason.to_string(), field.to_string())],
            "{pointer}: {}",
            status.message
        );
        assert!(
            status
                .message
                .starts_with("Deployment.apps \"web\" is invalid: "),
            "{}",
            status.message
        );
    }
}

/// An unknown field of a built-in kind is dropped with a warning, or refused with `fieldValidation=Strict`.
#[tokio::test]
async fn unknown_fields_are_dropped_or_refused() {
    let client = client();
    let mut d = deployment();
    d["spec"]["replicaz"] = json!(3);
    let path = "/apis/apps/v1/namespaces/shop/deployments";
    let (code, body, warnings) = raw(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        &d,
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    let (code, body, warnings_default) = raw(&client, "POST", path, "application/json", &d).await;
    assert_eq!(code, 201, "{body}");
    assert!(body["spec"].get("replicaz").is_none());
    assert!(warnings.is_empty());
    assert_eq!(
        warnings_default,
        vec![format!("299 - \"unknown field \\\"spec.replicaz\\\"\"")]
    );
}
