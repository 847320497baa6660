#![allow(clippy::unwrap_used)]
//! Custom resources are decoded, defaulted and validated as the API server does it, following
//! https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/ and
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation.

mod common;

use common::{api, causes, client, json, object, raw, refused};
use crds::v1alpha1::{Marketplace, RateLimitPolicy};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn marketplace(name: &str) -> Value {
    json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Marketplace", "metadata": {"name": name}, "spec": {
        "channel": "rest", "endpoint": {"baseUrl": "http://erp"}, "credentialsSecretRef": {"name": "creds"},
        "erpConnectionRef": {"name": "erp"}, "channelMappingRef": {"name": "map"},
        "rateLimitPolicyRef": {"name": "limits"}, "currency": "USD", "flows": {"inventory": {}}}})
}

const MARKETPLACES: &str = "/apis/tradewind.dev/v1alpha1/namespaces/shop/marketplaces";

/// #field-pruning: "By default, all unspecified fields for a custom resource, across all versions, are
/// pruned"; api-concepts #field-validation: `Warn` (the default) drops them "and sends a warning via the
/// standard warning response header for each unknown field", `Strict` "will fail the request with a
/// BadRequest error if any unknown fields would be dropped", `Ignore` drops them silently.
#[tokio::test]
async fn unknown_fields_are_pruned_warned_about_or_refused_as_field_validation_says() {
    let client = client();
    let cases = [
        ("", 201, 1),
        ("?fieldValidation=Warn", 201, 1),
        ("?fieldValidation=Ignore", 201, 0),
        ("?fieldValidation=Strict", 400, 0),
    ];
    for (i, (query, code, warnings)) in cases.into_iter().enumerate() {
        let mut mp = marketplace(&format!("mp-{i}"));
        mp["spec"]["safetyStok"] = json!(5);
        let (got, body, headers) = raw(
            &client,
            "POST",
            &format!("{MARKETPLACES}{query}"),
            "application/json",
            &mp,
        )
        .await;
        assert_eq!(got, code, "{query}: {body}");
        assert_eq!(headers.len(), warnings, "{query}: {headers:?}");
        if code == 201 {
            assert!(body["spec"].get("safetyStok").is_none(), "{query}: pruned");
        } else {
            assert_eq!(body["reason"], "BadRequest");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("unknown field \"spec.safetyStok\""),
                "{message}"
            );
        }
    }
}

/// #defaulting: defaults apply to missing fields ("Defaulting happens on the object ... in the request to
/// the API server"), also inside an object that was itself defaulted; #defaulting-and-nullable: "null values
/// for fields that either don't specify the nullable flag, or give it a false value, will be pruned before
/// defaulting happens. If a default is present, it will be applied."
#[tokio::test]
async fn defaults_fill_missing_and_null_fields_including_inside_a_defaulted_object() {
    let client = client();
    let api = api::<Marketplace>(&client);
    let mut mp = marketplace("shop");
    mp["spec"]["suspend"] = Value::Null;
    let stored = json(
        &api.create(&PostParams::default(), &object(mp))
            .await
            .unwrap(),
    );
    let cases = [
        ("/spec/deletionPolicy", json!("Retain")),
        ("/spec/suspend", json!(false)),
        ("/spec/adapter/replicas", json!(1)),
        ("/spec/adapter/logLevel", json!("info")),
        ("/spec/flows/inventory/delivery", json!("Auto")),
        ("/spec/flows/inventory/percentOfStock", json!(100)),
    ];
    for (pointer, expected) in cases {
        assert_eq!(stored.pointer(pointer), Some(&expected), "{pointer}");
    }
}

/// #validation: an object that breaks the schema (types, enums, patterns, required fields) is refused with
/// 422 `Invalid`, each problem a cause naming its field; #validation-rules: "x-kubernetes-validations" CEL
/// rules are evaluated, and (api-concepts) list-type map keys are unique.
#[tokio::test]
async fn invalid_objects_are_refused_with_a_cause_per_field() {
    let client = client();
    let marketplaces = api::<Marketplace>(&client);
    let cases: [(&str, Value, &str, &str); 6] = [
        (
            "/spec/currency",
            json!("usd"),
            "FieldValueInvalid",
            "spec.currency",
        ),
        (
            "/spec/channel",
            json!("ebey"),
            "FieldValueNotSupported",
            "spec.channel",
        ),
        (
            "/spec/adapter",
            json!({"replicas": "two"}),
            "FieldValueTypeInvalid",
            "spec.adapter.replicas",
        ),
        (
            "/spec/adapter",
            json!({"replicas": 33}),
            "FieldValueInvalid",
            "spec.adapter.replicas",
        ),
        (
            "/spec/currency",
            Value::Null,
            "FieldValueRequired",
            "spec.currency",
        ),
        ("/spec/flows", json!({}), "FieldValueInvalid", "spec.flows"),
    ];
    for (pointer, value, reason, field) in cases {
        let mut mp = marketplace("shop");
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let parent = mp.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        if value.is_null() {
            parent.remove(last);
        } else {
            parent.insert(last.to_string(), value.clone());
        }
        let status = refused(
            marketplaces
                .create(&PostParams::default(), &object(mp))
                .await,
        );
        assert_eq!(
            (status.code, status.reason.as_str()),
            (422, "Invalid"),
            "{pointer}"
        );
        assert!(
            causes(&status).contains(&(reason.to_string(), field.to_string())),
            "{pointer} = {value}: {:?} ({})",
            causes(&status),
            status.message
        );
        assert!(
            status
                .message
                .starts_with("Marketplace.tradewind.dev \"shop\" is invalid: "),
            "{}",
            status.message
        );
    }
    // A RateLimitPolicy naming one operation twice in its map list, and breaking a CEL rule.
    let policies = api::<RateLimitPolicy>(&client);
    let policy = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy",
        "metadata": {"name": "limits"}, "spec": {"channel": "rest", "operations": [
            {"name": "getOrders", "concurrency": 1}, {"name": "getOrders", "concurrency": 2}]}});
    let status = refused(
        policies
            .create(&PostParams::default(), &object(policy))
            .await,
    );
    assert_eq!(
        causes(&status),
        vec![(
            "FieldValueDuplicate".to_string(),
            "spec.operations[1]".to_string()
        )]
    );
    let policy = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "RateLimitPolicy",
        "metadata": {"name": "limits"}, "spec": {"channel": "rest", "operations": [
            {"name": "getOrders", "tokenBucket": {"requests": 5, "burst": 1}}]}});
    let status = refused(
        policies
            .create(&PostParams::default(), &object(policy))
            .await,
    );
    assert!(
        status
            .message
            .contains("tokenBucket.burst must be at least tokenBucket.requests"),
        "{}",
        status.message
    );
}

/// #status-subresource: "PUT/POST/PATCH requests to the custom resource ignore changes to the status stanza"
/// and "PUT requests to the /status subresource take a custom resource object and ignore changes to anything
/// except the status stanza"; "The .metadata.generation value is incremented for all changes, except for
/// changes to .metadata or .status."
#[tokio::test]
async fn status_is_written_only_through_its_subresource_and_generation_follows_the_spec() {
    let client = client();
    let api = api::<Marketplace>(&client);
    let mut mp = marketplace("shop");
    mp["status"] = json!({"configHash": "from-create"});
    let created = json(
        &api.create(&PostParams::default(), &object(mp))
            .await
            .unwrap(),
    );
    assert!(
        created.get("status").is_none(),
        "a create does not set status"
    );
    assert_eq!(created["metadata"]["generation"], 1);

    let main = PatchParams::default();
    // (what is patched, through /status?, status.configHash after, generation after)
    let cases: [(Value, bool, Option<&str>, i64); 5] = [
        (json!({"status": {"configHash": "main"}}), false, None, 1),
        (
            json!({"status": {"configHash": "status"}, "spec": {"currency": "EUR"}}),
            true,
            Some("status"),
            1,
        ),
        (
            json!({"metadata": {"labels": {"team": "a"}}}),
            false,
            Some("status"),
            1,
        ),
        (
            json!({"spec": {"currency": "EUR"}}),
            false,
            Some("status"),
            2,
        ),
        (
            json!({"spec": {"currency": "EUR"}}),
            false,
            Some("status"),
            2,
        ),
    ];
    for (i, (patch, through_status, hash, generation)) in cases.into_iter().enumerate() {
        let written = if through_status {
            api.patch_status("shop", &main, &Patch::Merge(&patch)).await
        } else {
            api.patch("shop", &main, &Patch::Merge(&patch)).await
        };
        let stored = json(&written.unwrap());
        assert_eq!(
            stored.pointer("/status/configHash").and_then(Value::as_str),
            hash,
            "case {i}"
        );
        assert_eq!(stored["metadata"]["generation"], generation, "case {i}");
        if through_status {
            assert_eq!(
                stored["spec"]["currency"], "USD",
                "/status ignores the spec"
            );
        }
    }
    // Status is stored valid too: /status writes are validated against the status schema.
    let status = refused(
        api.patch_status(
            "shop",
            &main,
            &Patch::Merge(json!({"status": {"pending": -1}})),
        )
        .await,
    );
    assert_eq!(causes(&status)[0].1, "status.pending");
}
