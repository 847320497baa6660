#![allow(clippy::unwrap_used)]
//! What the API server decides about an object's metadata: `generation` and `resourceVersion`, finalizers,
//! garbage collection by owner references, label selectors on list and watch, names and labels.

mod common;

use common::{api, causes, client, json, object, raw, refused};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

fn config_map(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "a:1"}]}}}})
}

fn version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// api-concepts #resource-versions: the resourceVersion "changes every time the object is modified" (and a
/// write that modifies nothing is not a modification); API conventions (#metadata): `generation` is "a
/// sequence number representing a specific generation of the desired state" — a Deployment's moves with its
/// spec (and annotations, which it copies to its ReplicaSets), not with labels or status; a ConfigMap has none.
#[tokio::test]
async fn generation_follows_the_desired_state_and_resource_version_every_change() {
    let client = client();
    let deployments = api::<Deployment>(&client);
    let created = json(
        &deployments
            .create(&PostParams::default(), &object(deployment("web")))
            .await
            .unwrap(),
    );
    assert_eq!(created["metadata"]["generation"], 1);
    let merge = PatchParams::default();
    // (patch, through /status, generation after, resourceVersion moves)
    let cases: [(Value, bool, i64, bool); 6] = [
        (json!({"spec": {"replicas": 3}}), false, 2, true),
        (json!({"spec": {"replicas": 3}}), false, 2, false),
        (
            json!({"metadata": {"labels": {"team": "a"}}}),
            false,
            2,
            true,
        ),
        (
            json!({"metadata": {"annotations": {"note": "x"}}}),
            false,
            3,
            true,
        ),
        (json!({"status": {"availableReplicas": 3}}), true, 3, true),
        (json!({"status": {"availableReplicas": 9}}), false, 3, false),
    ];
    let mut last = version(&created);
    for (i, (patch, status, generation, moves)) in cases.into_iter().enumerate() {
        let written = if status {
            deployments
                .patch_status("web", &merge, &Patch::Merge(&patch))
                .await
        } else {
            deployments
                .patch("web", &merge, &Patch::Merge(&patch))
                .await
        };
        let written = json(&written.unwrap());
        assert_eq!(written["metadata"]["generation"], generation, "case {i}");
        assert_eq!(version(&written) != last, moves, "case {i}");
        last = version(&written);
    }
    let maps = api::<ConfigMap>(&client);
    let map = json(
        &maps
            .create(&PostParams::default(), &object(config_map("c", json!({}))))
            .await
            .unwrap(),
    );
    assert!(map["metadata"].get("generation").is_none());
}

/// api-concepts #resource-versions and optimistic concurrency: a write naming a resourceVersion that is no
/// longer current is a 409 Conflict.
#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let client = client();
    let maps = api::<ConfigMap>(&client);
    let first = maps
        .create(&PostParams::default(), &object(config_map("c", json!({}))))
        .await
        .unwrap();
    let mut newer = first.clone();
    newer.data["data"]["k"] = json!("w");
    maps.replace("c", &PostParams::default(), &newer)
        .await
        .unwrap();
    let mut stale = first;
    stale.data["data"]["k"] = json!("stale");
    let status = refused(maps.replace("c", &PostParams::default(), &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
}

/// https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/: "When you tell Kubernetes
/// to delete an object that has finalizers specified for it, the Kubernetes API marks the object for deletion
/// by populating .metadata.deletionTimestamp, and returns a 202 status code"; the object stays until the
/// finalizers are removed; ObjectMeta: "If the deletionTimestamp of the object is non-nil, entries in this
/// list can only be removed."
#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_the_last_goes() {
    let client = client();
    let maps = api::<ConfigMap>(&client);
    let mut map = config_map("c", json!({}));
    map["metadata"]["finalizers"] = json!(["a.example/one", "a.example/two"]);
    maps.create(&PostParams::default(), &object(map))
        .await
        .unwrap();
    let (code, body, _) = raw(
        &client,
        "DELETE",
        "/api/v1/namespaces/shop/configmaps/c",
        "application/json",
        &json!({}),
    )
    .await;
    assert_eq!(code, 202);
    assert!(body["metadata"]["deletionTimestamp"].is_string());
    let merge = PatchParams::default();
    let add =
        json!({"metadata": {"finalizers": ["a.example/one", "a.example/two", "a.example/three"]}});
    let status = refused(maps.patch("c", &merge, &Patch::Merge(&add)).await);
    assert_eq!(
        causes(&status),
        vec![(
            "FieldValueForbidden".to_string(),
            "metadata.finalizers".to_string()
        )]
    );
    let one_left = json!({"metadata": {"finalizers": ["a.example/two"]}});
    maps.patch("c", &merge, &Patch::Merge(&one_left))
        .await
        .unwrap();
    assert!(
        maps.get_opt("c").await.unwrap().is_some(),
        "one finalizer still holds it"
    );
    let none_left = json!({"metadata": {"finalizers": null}});
    maps.patch("c", &merge, &Patch::Merge(&none_left))
        .await
        .unwrap();
    assert!(
        maps.get_opt("c").await.unwrap().is_none(),
        "removed with its last finalizer"
    );
}

fn owned_by(name: &str, owners: &[&Value]) -> Value {
    let mut map = config_map(name, json!({}));
    map["metadata"]["ownerReferences"] = owners
        .iter()
        .map(|o| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": o["metadata"]["name"],
                         "uid": o["metadata"]["uid"], "controller": false})
        })
        .collect();
    map
}

/// https://kubernetes.io/docs/concepts/architecture/garbage-collection/: dependents whose owners are all
/// gone are deleted ("In background cascading deletion, the Kubernetes API server deletes the owner object
/// immediately and the garbage collector controller cleans up the dependent objects in the background"), a
/// dependent with another owner left is not, and an `Orphan` deletion leaves the dependents ("the dependents
/// ... are called orphan objects").
#[tokio::test]
async fn owner_references_garbage_collect_dependents() {
    let client = client();
    let deployments = api::<Deployment>(&client);
    let maps = api::<ConfigMap>(&client);
    let mut owners = Vec::new();
    for name in ["a", "b", "c"] {
        owners.push(json(
            &deployments
                .create(&PostParams::default(), &object(deployment(name)))
                .await
                .unwrap(),
        ));
    }
    for (name, of) in [
        ("only-a", vec![&owners[0]]),
        ("a-and-b", vec![&owners[0], &owners[1]]),
        ("only-c", vec![&owners[2]]),
    ] {
        maps.create(&PostParams::default(), &object(owned_by(name, &of)))
            .await
            .unwrap();
    }
    deployments
        .delete("a", &DeleteParams::background())
        .await
        .unwrap();
    assert!(
        maps.get_opt("only-a").await.unwrap().is_none(),
        "its only owner is gone"
    );
    let shared = json(&maps.get("a-and-b").await.unwrap());
    assert_eq!(
        shared["metadata"]["ownerReferences"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "b still owns it"
    );
    deployments
        .delete("b", &DeleteParams::default())
        .await
        .unwrap();
    assert!(maps.get_opt("a-and-b").await.unwrap().is_none());
    deployments
        .delete("c", &DeleteParams::orphan())
        .await
        .unwrap();
    let orphan = json(&maps.get("only-c").await.unwrap());
    assert!(
        orphan["metadata"]
            .get("ownerReferences")
            .is_none_or(|r| r.as_array().unwrap().is_empty())
    );
}

/// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors: "the comma
/// separator acts as a logical AND"; equality-based and set-based requirements, on list and on watch
/// (#list-and-watch-filtering): an object that stops matching leaves a watch's view as DELETED.
#[tokio::test]
async fn label_selectors_filter_list_and_watch() {
    let client = client();
    let maps = api::<ConfigMap>(&client);
    for (name, labels) in [
        ("front-prod", json!({"tier": "frontend", "env": "prod"})),
        ("back-prod", json!({"tier": "backend", "env": "prod"})),
        ("front-qa", json!({"tier": "frontend", "env": "qa"})),
    ] {
        maps.create(&PostParams::default(), &object(config_map(name, labels)))
            .await
            .unwrap();
    }
    let cases = [
        ("tier=frontend", vec!["front-prod", "front-qa"]),
        ("tier=frontend,env=prod", vec!["front-prod"]),
        ("env in (qa, dev)", vec!["front-qa"]),
        ("tier!=frontend", vec!["back-prod"]),
        ("!env", vec![]),
    ];
    for (selector, expected) in cases {
        let names: Vec<String> = maps
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| o.metadata.name.unwrap())
            .collect();
        assert_eq!(names, expected, "{selector}");
    }
    let listed = maps.list(&ListParams::default()).await.unwrap();
    let from = listed.metadata.resource_version.unwrap();
    let merge = PatchParams::default();
    maps.patch(
        "back-prod",
        &merge,
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "frontend"}}})),
    )
    .await
    .unwrap();
    maps.patch(
        "front-qa",
        &merge,
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "backend"}}})),
    )
    .await
    .unwrap();
    maps.patch(
        "front-prod",
        &merge,
        &Patch::Merge(json!({"data": {"k": "w"}})),
    )
    .await
    .unwrap();
    let events: Vec<(String, String)> = maps
        .watch(&WatchParams::default().labels("tier=frontend"), &from)
        .await
        .unwrap()
        .take(3)
        .map_ok(|e| match e {
            WatchEvent::Added(o) => ("ADDED".to_string(), o.metadata.name.unwrap()),
            WatchEvent::Modified(o) => ("MODIFIED".to_string(), o.metadata.name.unwrap()),
            WatchEvent::Deleted(o) => ("DELETED".to_string(), o.metadata.name.unwrap()),
            other => panic!("{other:?}"),
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        events,
        vec![
            ("ADDED".to_string(), "back-prod".to_string()),
            ("DELETED".to_string(), "front-qa".to_string()),
            ("MODIFIED".to_string(), "front-prod".to_string()),
        ]
    );
}

/// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/: most names are DNS subdomains,
/// a Service's an RFC 1035 label ("start with an alphabetic character"); labels/#syntax-and-character-set:
/// "Valid label value: must be 63 characters or less".
#[tokio::test]
async fn names_and_labels_are_checked() {
    let client = client();
    let services = api::<Service>(&client);
    let service = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
    };
    let status = refused(
        services
            .create(&PostParams::default(), &object(service("1shop-adapter")))
            .await,
    );
    assert_eq!(
        causes(&status),
        vec![("FieldValueInvalid".to_string(), "metadata.name".to_string())]
    );
    services
        .create(&PostParams::default(), &object(service("shop-adapter")))
        .await
        .unwrap();
    let maps = api::<ConfigMap>(&client);
    let cases = [
        (json!({"ok": "value"}), None),
        (json!({"ok": "x".repeat(64)}), Some("metadata.labels.ok")),
        (json!({"bad key!": "v"}), Some("metadata.labels")),
        (json!({"ok": "-edge"}), Some("metadata.labels.ok")),
    ];
    for (i, (labels, field)) in cases.into_iter().enumerate() {
        let created = maps
            .create(
                &PostParams::default(),
                &object(config_map(&format!("m{i}"), labels)),
            )
            .await;
        match field {
            None => assert!(created.is_ok(), "case {i}"),
            Some(field) => assert_eq!(causes(&refused(created))[0].1, field, "case {i}"),
        }
    }
}
