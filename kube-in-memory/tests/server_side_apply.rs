#![allow(clippy::unwrap_used)]
//! Server-side apply as https://kubernetes.io/docs/reference/using-api/server-side-apply/ specifies it: field
//! ownership in `metadata.managedFields`, conflicts, merge strategies by list type, and removal of what a
//! manager stops applying.

mod common;

use common::{api, causes, client, json, refused};
use crds::v1alpha1::Marketplace;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

async fn applied(api: &Api<DynamicObject>, manager: &str, force: bool, config: Value) -> Value {
    let params = if force {
        apply(manager).force()
    } else {
        apply(manager)
    };
    json(
        &api.patch("web", &params, &Patch::Apply(&config))
            .await
            .unwrap(),
    )
}

/// The managers recorded for `object`, with their operation, subresource and owned fields.
fn managers(object: &Value) -> Vec<(String, String, String, Value)> {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_string(),
                e["operation"].as_str().unwrap().to_string(),
                e["subresource"].as_str().unwrap_or_default().to_string(),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

fn config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": data})
}

/// #field-management: "The Kubernetes API server tracks managed fields for all newly created objects" in
/// `managedFields`, per manager and operation (Apply, or Update for create, PUT and non-apply PATCH).
#[tokio::test]
async fn every_write_records_who_owns_which_fields() {
    let client = client();
    let api = api::<ConfigMap>(&client);
    applied(&api, "deployer", false, config_map(json!({"a": "1"}))).await;
    let object = json(
        &api.patch(
            "web",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        managers(&object),
        vec![
            (
                "deployer".into(),
                "Apply".into(),
                String::new(),
                json!({"f:data": {"f:a": {}}})
            ),
            (
                "kubectl-edit".into(),
                "Update".into(),
                String::new(),
                json!({"f:data": {"f:b": {}}})
            ),
        ]
    );
}

/// #conflicts: "fields that have a different value and are owned by another manager will result in a
/// conflict" (409, each field a cause); "If two or more appliers set a field to the same value, they share
/// ownership of that field"; with force "the value of any conflicted field will be overridden, and the
/// ownership will be transferred".
#[tokio::test]
async fn a_changed_value_another_manager_owns_conflicts_unless_forced() {
    let client = client();
    let api = api::<ConfigMap>(&client);
    applied(&api, "one", false, config_map(json!({"a": "1", "b": "1"}))).await;
    // (manager, config, force, Ok(data after) or Err(conflicting fields))
    type Case = (&'static str, Value, bool, Result<Value, Vec<&'static str>>);
    let cases: [Case; 3] = [
        (
            "two",
            json!({"a": "1"}),
            false,
            Ok(json!({"a": "1", "b": "1"})),
        ),
        (
            "two",
            json!({"a": "2", "b": "2"}),
            false,
            Err(vec![".data.a", ".data.b"]),
        ),
        (
            "two",
            json!({"a": "2"}),
            true,
            Ok(json!({"a": "2", "b": "1"})),
        ),
    ];
    for (manager, data, force, expected) in cases {
        let params = if force {
            apply(manager).force()
        } else {
            apply(manager)
        };
        let result = api
            .patch("web", &params, &Patch::Apply(&config_map(data.clone())))
            .await;
        match expected {
            Ok(after) => assert_eq!(json(&result.unwrap())["data"], after, "{data}"),
            Err(fields) => {
                let status = refused(result);
                assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
                let got: Vec<(String, String)> = causes(&status);
                let want: Vec<(String, String)> = fields
                    .iter()
                    .map(|f| ("FieldManagerConflict".to_string(), f.to_string()))
                    .collect();
                assert_eq!(got, want, "{}", status.message);
                assert!(
                    status.message.contains("conflict with \"one\""),
                    "{}",
                    status.message
                );
            }
        }
    }
    let object = json(&api.get("web").await.unwrap());
    let owners = managers(&object);
    assert_eq!(
        owners[0].3,
        json!({"f:data": {"f:b": {}}}),
        "one lost .data.a to the forced apply"
    );
    assert_eq!(owners[1].3, json!({"f:data": {"f:a": {}}}));
}

fn deployment(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}})
}

fn containers(object: &Value) -> Value {
    object["spec"]["template"]["spec"]["containers"].clone()
}

/// #merge-strategy: lists merge by `x-kubernetes-list-type` (`atomic`: replaced; `set`: united; `map`:
/// merged entry by entry on `x-kubernetes-list-map-keys`), built-in ones by the same metadata of the
/// Kubernetes OpenAPI (containers by `name`, ports by `containerPort` and `protocol`, env by `name`);
/// #field-management: "If you remove a field from a manifest and apply that manifest, Server-Side Apply
/// checks for any other field managers that also own the field. If the field is not owned by any other field
/// managers, it is either deleted from the live object or reset to its default value ... The same rule
/// applies to associative list or map items."
#[tokio::test]
async fn lists_merge_by_their_type_and_entries_a_manager_stops_applying_go() {
    let client = client();
    let api = api::<Deployment>(&client);
    let app = |image: &str, ports: Value, env: Value| json!({"name": "app", "image": image, "args": ["--a", "--b"], "ports": ports, "env": env});
    applied(
        &api,
        "operator",
        true,
        deployment(json!([
            app("app:1", json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 9090, "protocol": "TCP"}]),
                json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            {"name": "sidecar", "image": "sidecar:1"}])),
    )
    .await;
    // Another manager adds a container and an env var of its own to `app`.
    api.patch(
        "web",
        &apply("injector"),
        &Patch::Apply(deployment(json!([
            {"name": "app", "env": [{"name": "INJECTED", "value": "x"}]},
            {"name": "proxy", "image": "proxy:1"}]))),
    )
    .await
    .unwrap();
    // The operator applies again without the sidecar, without port 9090 and env B, with other args.
    let mut next = app(
        "app:2",
        json!([{"containerPort": 80, "protocol": "TCP"}]),
        json!([{"name": "A", "value": "1"}]),
    );
    next["args"] = json!(["--c"]);
    let object = applied(&api, "operator", true, deployment(json!([next]))).await;
    let containers = containers(&object);
    let names: Vec<&str> = containers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["app", "proxy"],
        "the sidecar went, the injector's proxy stayed"
    );
    let app = &containers[0];
    assert_eq!(app["image"], "app:2");
    assert_eq!(app["args"], json!(["--c"]), "an atomic list is replaced");
    assert_eq!(
        app["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(
        app["env"],
        json!([{"name": "A", "value": "1"}, {"name": "INJECTED", "value": "x"}]),
        "B went; the injector's entry stayed"
    );
}

/// #conflicts and set lists: `metadata.finalizers` is a set (`x-kubernetes-list-type: set`), each value owned
/// on its own: two managers' finalizers are united, and one removing its own leaves the other's.
#[tokio::test]
async fn set_members_are_owned_one_by_one() {
    let client = client();
    let api = api::<ConfigMap>(&client);
    let with_finalizers = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "finalizers": finalizers}});
    applied(&api, "a", false, with_finalizers(json!(["a.example/x"]))).await;
    let both = applied(&api, "b", false, with_finalizers(json!(["b.example/y"]))).await;
    assert_eq!(
        both["metadata"]["finalizers"],
        json!(["a.example/x", "b.example/y"])
    );
    let after = applied(&api, "a", false, with_finalizers(json!([]))).await;
    assert_eq!(after["metadata"]["finalizers"], json!(["b.example/y"]));
}

/// #status-subresource of server-side apply (and the custom resource rules): an apply to the main resource
/// ignores `status`, an apply to `/status` ignores everything else; their managed fields are apart.
#[tokio::test]
async fn main_resource_and_status_applies_are_apart() {
    let client = client();
    let api = api::<Marketplace>(&client);
    let mp = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": "web"}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://erp"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "map"},
        "rateLimitPolicyRef": {"name": "limits"}, "currency": "USD", "flows": {"inventory": {}}},
        "status": {"configHash": "ignored"}});
    let created = applied(&api, "user", false, mp).await;
    assert!(created.get("status").is_none());
    let status = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace",
        "spec": {"currency": "EUR"}, "status": {"configHash": "abc", "pending": 3}});
    let written = json(
        &api.patch_status("web", &apply("operator").force(), &Patch::Apply(&status))
            .await
            .unwrap(),
    );
    assert_eq!(written["spec"]["currency"], "USD");
    assert_eq!(
        written["status"],
        json!({"configHash": "abc", "pending": 3})
    );
    assert_eq!(written["metadata"]["generation"], 1);
    let owners = managers(&written);
    assert_eq!(owners[1].0, "operator");
    assert_eq!(owners[1].2, "status");
    assert_eq!(
        owners[1].3,
        json!({"f:status": {"f:configHash": {}, "f:pending": {}}})
    );
    // The operator stops reporting `pending`: the field it alone owned goes.
    let status = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace",
        "status": {"configHash": "abc"}});
    let written = json(
        &api.patch_status("web", &apply("operator").force(), &Patch::Apply(&status))
            .await
            .unwrap(),
    );
    assert_eq!(written["status"], json!({"configHash": "abc"}));
}

/// An apply configuration must name its kind and the fields of its schema: "failed to create typed patch
/// object ... field not declared in schema" (400); the field manager is required.
#[tokio::test]
async fn an_apply_with_an_undeclared_field_or_no_manager_is_refused() {
    let client = client();
    let api = api::<ConfigMap>(&client);
    let mut config = config_map(json!({"a": "1"}));
    config["dataa"] = json!({"b": "2"});
    let status = refused(api.patch("web", &apply("m"), &Patch::Apply(&config)).await);
    assert_eq!(status.code, 400);
    assert!(
        status
            .message
            .contains(".dataa: field not declared in schema"),
        "{}",
        status.message
    );
    let (code, body, _) = common::raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/shop/configmaps/web",
        "application/apply-patch+yaml",
        &config_map(json!({})),
    )
    .await;
    assert_eq!(code, 400, "{body}");
}
