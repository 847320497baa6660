#![allow(clippy::unwrap_used)]
//! The Helm chart (charts/tradewind): its CRDs are the generated ones, its values match its strict schema, its
//! templates render with Helm's own Go SDK (scripts/setup.sh installs it) into objects that deserialize into the
//! Kubernetes API types without losing a field, with a hardened operator and RBAC without wildcards; its alerts
//! and dashboard use only metrics the adapter exports; and the Argo CD health check (Lua) reads conditions right.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn chart_dir() -> PathBuf {
    repo().join("charts/tradewind")
}

fn yaml_files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// Deserializes `value` into `T` and back: a field the type does not know (a typo, a wrong level) is lost on the
/// way and the comparison fails, which plain deserialization would not notice.
fn strict<T: DeserializeOwned + serde::Serialize>(value: &Value, what: &str) -> T {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not deserialize: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, value, "{what} has fields its type does not know");
    typed
}

// ---------------------------------------------------------------------------------------------------------------
// CRDs and values

#[test]
fn chart_crds_are_the_generated_crds() {
    let generated = yaml_files(&repo().join("crds/generated"));
    let chart = yaml_files(&chart_dir().join("crds"));
    assert_eq!(
        generated.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "charts/tradewind/crds must hold exactly crds/generated/*.yaml: cp crds/generated/*.yaml charts/tradewind/crds/"
    );
    for (name, text) in &generated {
        assert!(
            chart[name] == *text,
            "charts/tradewind/crds/{name} differs from crds/generated/{name}: cp crds/generated/*.yaml charts/tradewind/crds/"
        );
    }
}

/// Every node of a structural schema says its type (or is an int-or-string / preserved-unknown node).
fn assert_structural(schema: &JSONSchemaProps, path: &str) {
    let typed = schema.type_.is_some()
        || schema.x_kubernetes_int_or_string == Some(true)
        || schema.x_kubernetes_preserve_unknown_fields == Some(true);
    assert!(typed, "{path}: no type (the schema is not structural)");
    for (name, child) in schema.properties.iter().flatten() {
        assert_structural(child, &format!("{path}.{name}"));
    }
    if let Some(items) = &schema.items {
        match items {
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(s) => {
                assert_structural(s, &format!("{path}[]"))
            }
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schemas(all) => {
                for s in all {
                    assert_structural(s, &format!("{path}[]"));
                }
            }
        }
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrBool::Schema(s)) =
        &schema.additional_properties
    {
        assert_structural(s, &format!("{path}{{}}"));
    }
}

#[test]
fn chart_crds_are_structural_apiextensions_v1() {
    let mut kinds = BTreeSet::new();
    for (name, text) in yaml_files(&chart_dir().join("crds")) {
        let value: Value = serde_yaml_ng::from_str(&text).unwrap();
        let crd: CustomResourceDefinition = strict(&value, &name);
        assert_eq!(crd.spec.group, "tradewind.dev", "{name}");
        assert_eq!(crd.spec.scope, "Namespaced", "{name}");
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{}.tradewind.dev", crd.spec.names.plural).as_str()),
            "{name}"
        );
        assert_eq!(
            crd.spec.versions.iter().filter(|v| v.storage).count(),
            1,
            "{name}"
        );
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap_or_else(|| panic!("{name} {}: no openAPIV3Schema", version.name));
            assert_structural(schema, &format!("{name} {}", version.name));
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{name}: the status subresource is what the operator's RBAC grants"
            );
        }
        kinds.insert(crd.spec.names.kind.clone());
    }
    assert_eq!(
        kinds,
        BTreeSet::from(
            [
                "ChannelMapping",
                "ErpConnection",
                "Marketplace",
                "RateLimitPolicy",
                "SyncSchedule"
            ]
            .map(String::from)
        )
    );
}

fn values_schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap())
        .unwrap()
}

fn default_values() -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
        .unwrap()
}

/// Every object node of the schema closes its properties, so a misspelt key is an error, not a silent default.
fn assert_closed(schema: &Value, path: &str) {
    if schema.get("type") == Some(&json!("object")) && schema.get("properties").is_some() {
        assert_eq!(
            schema.get("additionalProperties"),
            Some(&json!(false)),
            "{path}: object with properties must set additionalProperties: false"
        );
    }
    for key in ["properties"] {
        if let Some(Value::Object(children)) = schema.get(key) {
            for (name, child) in children {
                assert_closed(child, &format!("{path}.{name}"));
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = schema.get(key).filter(|c| c.is_object()) {
            assert_closed(child, &format!("{path}.{key}"));
        }
    }
}

#[test]
fn values_match_the_strict_schema() {
    let schema = values_schema();
    assert_closed(&schema, "values");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let values = default_values();
    let errors: Vec<String> = validator
        .iter_errors(&values)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "values.yaml: {errors:?}");

    let mut misspelt = values.clone();
    misspelt["nats"]["credentialSecret"] = json!("tradewind-nats");
    assert!(
        !validator.is_valid(&misspelt),
        "a misspelt key must be rejected"
    );
    let mut wrong_url = values.clone();
    wrong_url["nats"]["url"] = json!("http://nats:4222");
    assert!(
        !validator.is_valid(&wrong_url),
        "a non-NATS URL must be rejected"
    );
    let mut bad_namespace = values;
    bad_namespace["watchNamespaces"] = json!(["Shop_EU"]);
    assert!(
        !validator.is_valid(&bad_namespace),
        "an invalid namespace name must be rejected"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering with Helm

struct Rendered {
    lint: Value,
    schema_error: Option<String>,
    render_error: Option<String>,
    objects: Vec<Value>,
}

fn helm_python() -> PathBuf {
    std::env::var_os("TRADEWIND_HELM_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/tradewind/venv/bin/python"))
        })
        .filter(|p| p.exists())
        .expect("no python with helm-python-sdk: run scripts/setup.sh (sets TRADEWIND_HELM_PYTHON)")
}

fn render(values: Value) -> Rendered {
    let output = Command::new(helm_python())
        .arg(repo().join("charts/tests/render.py"))
        .arg(chart_dir())
        .args(["tw", "tradewind-system"])
        .arg(values.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "render.py failed (run scripts/setup.sh to install helm-python-sdk): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut objects = Vec::new();
    for (template, text) in report["manifests"].as_object().unwrap() {
        if template.ends_with("NOTES.txt") {
            assert!(
                text.as_str().unwrap().contains("tradewind-system"),
                "NOTES.txt: {text}"
            );
            continue;
        }
        for document in serde_yaml_ng::Deserializer::from_str(text.as_str().unwrap()) {
            let value: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{template}: not YAML: {e}\n{text}"));
            if !value.is_null() {
                objects.push(value);
            }
        }
    }
    Rendered {
        lint: report["lint"].clone(),
        schema_error: report["schemaError"].as_str().map(String::from),
        render_error: report["renderError"].as_str().map(String::from),
        objects,
    }
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one<T: DeserializeOwned + serde::Serialize>(&self, kind: &str) -> T {
        let all = self.of_kind(kind);
        assert_eq!(all.len(), 1, "one {kind} expected");
        strict(all[0], kind)
    }

    fn assert_lint_clean(&self) {
        let findings: Vec<&Value> = self.lint["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["severity"].as_i64().unwrap() >= 2)
            .collect();
        assert!(findings.is_empty(), "helm lint --strict: {findings:?}");
    }

    /// Every object deserializes strictly into its API type; returns the kinds seen.
    fn assert_objects_valid(&self) -> BTreeSet<String> {
        let mut kinds = BTreeSet::new();
        for object in &self.objects {
            let kind = object["kind"].as_str().unwrap().to_string();
            let name = format!("{kind}/{}", object["metadata"]["name"].as_str().unwrap());
            match kind.as_str() {
                "Deployment" => drop(strict::<Deployment>(object, &name)),
                "Service" => drop(strict::<Service>(object, &name)),
                "ServiceAccount" => drop(strict::<ServiceAccount>(object, &name)),
                "ConfigMap" => drop(strict::<ConfigMap>(object, &name)),
                "ClusterRole" => drop(strict::<ClusterRole>(object, &name)),
                "ClusterRoleBinding" => drop(strict::<ClusterRoleBinding>(object, &name)),
                "Role" => drop(strict::<Role>(object, &name)),
                "RoleBinding" => drop(strict::<RoleBinding>(object, &name)),
                "ServiceMonitor" | "PrometheusRule" => {
                    assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1", "{name}");
                }
                other => panic!("{name}: the chart renders an unexpected kind {other}"),
            }
            if kind != "ClusterRole" && kind != "ClusterRoleBinding" {
                assert!(
                    object["metadata"]["namespace"].is_string(),
                    "{name}: no namespace"
                );
            }
            assert_eq!(
                object["metadata"]["labels"]["app.kubernetes.io/name"], "tradewind",
                "{name}"
            );
            kinds.insert(kind);
        }
        kinds
    }
}

fn assert_no_wildcards(rules: &[PolicyRule], what: &str) {
    for rule in rules {
        let all = rule
            .verbs
            .iter()
            .chain(rule.resources.iter().flatten())
            .chain(rule.api_groups.iter().flatten());
        for item in all {
            assert!(!item.contains('*'), "{what}: wildcard in {rule:?}");
        }
        if rule.resources.iter().flatten().any(|r| r == "secrets") {
            assert_eq!(
                rule.verbs,
                ["get", "list", "watch"],
                "{what}: Secrets are only read"
            );
        }
    }
}

fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.api_groups.iter().flatten().any(|g| g == group)
            && r.resources.iter().flatten().any(|x| x == resource)
            && r.verbs.iter().any(|v| v == verb)
    })
}

/// What the operator does, namespace by namespace: the rules must allow each of it.
fn assert_operator_can_work(rules: &[PolicyRule], what: &str) {
    for plural in [
        "marketplaces",
        "channelmappings",
        "ratelimitpolicies",
        "syncschedules",
        "erpconnections",
    ] {
        for verb in ["get", "list", "watch", "patch"] {
            assert!(
                grants(rules, "tradewind.dev", plural, verb),
                "{what}: {verb} {plural}"
            );
        }
        assert!(
            grants(rules, "tradewind.dev", &format!("{plural}/status"), "patch"),
            "{what}: {plural}/status"
        );
    }
    for (group, resource) in [
        ("apps", "deployments"),
        ("", "configmaps"),
        ("", "services"),
        ("", "serviceaccounts"),
    ] {
        for verb in ["get", "list", "watch", "create", "patch", "delete"] {
            assert!(
                grants(rules, group, resource, verb),
                "{what}: {verb} {resource}"
            );
        }
    }
    assert!(
        grants(rules, "", "secrets", "watch"),
        "{what}: watch secrets"
    );
    assert!(
        grants(rules, "events.k8s.io", "events", "create"),
        "{what}: create events"
    );
}

/// The RBAC the controllers document in operator/src/controller/mod.rs: (group, resource) -> verbs.
fn documented_rbac() -> BTreeMap<(String, String), BTreeSet<String>> {
    const PLURALS: [&str; 5] = [
        "marketplaces",
        "channelmappings",
        "ratelimitpolicies",
        "syncschedules",
        "erpconnections",
    ];
    let source = std::fs::read_to_string(repo().join("operator/src/controller/mod.rs")).unwrap();
    let mut table = BTreeMap::new();
    for line in source.lines().filter_map(|l| l.strip_prefix("//! |")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || !cells[0].starts_with('`') {
            continue;
        }
        // The core group is written `""`.
        let group = cells[0]
            .split('`')
            .nth(1)
            .unwrap()
            .trim_matches('"')
            .to_string();
        let verbs: BTreeSet<String> = cells[2]
            .split('(')
            .next()
            .unwrap()
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        let resources: Vec<String> = if let Some(sub) = cells[1].strip_prefix("*/") {
            // `*/status` is every kind's; `*/finalizers (a, b)` only the kinds named.
            let (sub, kinds) = match sub.split_once('(') {
                Some((sub, kinds)) => (
                    sub.trim(),
                    kinds
                        .trim_end_matches(')')
                        .split(',')
                        .map(str::trim)
                        .collect::<Vec<_>>(),
                ),
                None => (sub.trim(), PLURALS.to_vec()),
            };
            kinds.iter().map(|k| format!("{k}/{sub}")).collect()
        } else {
            cells[1].split(',').map(|r| r.trim().to_string()).collect()
        };
        for resource in resources {
            table.insert((group.clone(), resource), verbs.clone());
        }
    }
    assert!(
        table.len() >= 10,
        "the RBAC table of controller/mod.rs: {table:?}"
    );
    table
}

/// The rules grant exactly what the controllers document: nothing missing, nothing more.
fn assert_rules_as_documented(rules: &[PolicyRule], leases: bool, what: &str) {
    let mut granted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                granted
                    .entry((group.clone(), resource.clone()))
                    .or_default()
                    .extend(rule.verbs.iter().cloned());
            }
        }
    }
    let expected: BTreeMap<_, _> = documented_rbac()
        .into_iter()
        .filter(|((group, _), _)| (group == "coordination.k8s.io") == leases)
        .collect();
    assert_eq!(
        granted, expected,
        "{what} differs from operator/src/controller/mod.rs"
    );
}

fn env_of(deployment: &Deployment) -> BTreeMap<String, Option<String>> {
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

fn assert_hardened(deployment: &Deployment) {
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert!(pod_security.run_as_user.unwrap() > 0);
    assert_eq!(
        pod_security.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(pod.containers.len(), 1);
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.run_as_non_root, Some(true));
    assert_ne!(security.privileged, Some(true));
    assert_eq!(
        security.capabilities.as_ref().unwrap().drop,
        Some(vec!["ALL".to_string()])
    );
    assert!(security.capabilities.as_ref().unwrap().add.is_none());
    assert_ne!(pod.host_network, Some(true));

    let port_names: Vec<&str> = container
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.as_deref())
        .collect();
    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        match &get.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name) => {
                assert!(
                    port_names.contains(&name.as_str()),
                    "probe port {name} not declared"
                )
            }
            other => panic!("probe port by number {other:?}"),
        }
    }
    assert!(container.resources.as_ref().unwrap().requests.is_some());
}

fn chart_app_version() -> String {
    let chart: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap())
            .unwrap();
    chart["appVersion"].as_str().unwrap().to_string()
}

#[test]
fn default_install_watches_every_namespace_with_one_cluster_role() {
    let rendered = render(json!({}));
    assert_eq!(rendered.schema_error, None);
    rendered.assert_lint_clean();
    let kinds = rendered.assert_objects_valid();
    assert!(!kinds.contains("ServiceMonitor") && !kinds.contains("PrometheusRule"));

    let deployment: Deployment = rendered.one("Deployment");
    assert_hardened(&deployment);
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let account: ServiceAccount = rendered.one("ServiceAccount");
    assert_eq!(pod.service_account_name, account.metadata.name);
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some(format!("ghcr.io/tradewind-dev/tradewind:{}", chart_app_version()).as_str())
    );
    let env = env_of(&deployment);
    assert_eq!(env["TRADEWIND_WATCH_NAMESPACES"].as_deref(), Some(""));
    assert_eq!(
        env["TRADEWIND_NATS_URL"].as_deref(),
        Some("nats://nats.nats.svc:4222")
    );
    // No NATS Secret configured: the variables are absent, not empty names.
    assert!(
        !env.contains_key("TRADEWIND_NATS_CREDENTIALS_SECRET"),
        "{env:?}"
    );
    assert!(!env.contains_key("TRADEWIND_NATS_TLS_CA_SECRET"), "{env:?}");

    let cluster_role: ClusterRole = rendered.one("ClusterRole");
    let rules = cluster_role.rules.unwrap();
    assert_no_wildcards(&rules, "ClusterRole");
    assert_operator_can_work(&rules, "ClusterRole");
    assert_rules_as_documented(&rules, false, "ClusterRole");
    assert!(
        !grants(&rules, "coordination.k8s.io", "leases", "update"),
        "Leases are not cluster-wide"
    );
    let binding: ClusterRoleBinding = rendered.one("ClusterRoleBinding");
    assert_eq!(binding.role_ref.name, cluster_role.metadata.name.unwrap());
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(Some(&subject.name), account.metadata.name.as_ref());
    assert_eq!(subject.namespace.as_deref(), Some("tradewind-system"));

    // Leader election: one Role in the release namespace, limited to the Lease the operator is told to use.
    let roles = rendered.of_kind("Role");
    assert_eq!(roles.len(), 1);
    let lease_role: Role = strict(roles[0], "Role");
    assert_eq!(
        lease_role.metadata.namespace.as_deref(),
        Some("tradewind-system")
    );
    let lease_rules = lease_role.rules.unwrap();
    assert_no_wildcards(&lease_rules, "leader election Role");
    assert_rules_as_documented(&lease_rules, true, "leader election Role");
    let update = lease_rules
        .iter()
        .find(|r| r.verbs.iter().any(|v| v == "update"))
        .unwrap();
    assert_eq!(
        update.resource_names.as_deref(),
        Some(&[env["TRADEWIND_LEASE_NAME"].clone().unwrap()][..])
    );

    let dashboard = rendered
        .of_kind("ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1")
        .expect("the Grafana dashboard ConfigMap");
    let json: Value =
        serde_json::from_str(dashboard["data"]["tradewind.json"].as_str().unwrap()).unwrap();
    assert!(!json["panels"].as_array().unwrap().is_empty());
}

#[test]
fn watched_namespaces_get_roles_and_nothing_cluster_wide() {
    let rendered = render(json!({
        "watchNamespaces": ["shop-eu", "shop-us"],
        "nats": {
            "url": "tls://nats.nats.svc:4222",
            "credentialsSecret": "tradewind-nats",
            "tlsCaSecret": "nats-ca",
            "namespaceOverrides": {"shop-eu": {"url": "tls://nats.eu.svc:4222", "tlsCaSecret": ""}}
        },
        "serviceMonitor": {"enabled": true},
        "prometheusRule": {"enabled": true}
    }));
    assert_eq!(rendered.schema_error, None);
    rendered.assert_lint_clean();
    let kinds = rendered.assert_objects_valid();
    assert!(
        !kinds.contains("ClusterRole") && !kinds.contains("ClusterRoleBinding"),
        "{kinds:?}"
    );

    let mut watched = BTreeSet::new();
    for role in rendered.of_kind("Role") {
        let role: Role = strict(role, "Role");
        let rules = role.rules.unwrap();
        assert_no_wildcards(&rules, "Role");
        let namespace = role.metadata.namespace.unwrap();
        if namespace != "tradewind-system" {
            assert_operator_can_work(&rules, &namespace);
            assert_rules_as_documented(&rules, false, &namespace);
            watched.insert(namespace);
        }
    }
    assert_eq!(
        watched,
        BTreeSet::from(["shop-eu".to_string(), "shop-us".to_string()])
    );
    let bound: BTreeSet<String> = rendered
        .of_kind("RoleBinding")
        .into_iter()
        .map(|b| strict::<RoleBinding>(b, "RoleBinding"))
        .inspect(|b| {
            assert_eq!(
                b.subjects.as_ref().unwrap()[0].namespace.as_deref(),
                Some("tradewind-system")
            )
        })
        .map(|b| b.metadata.namespace.unwrap())
        .collect();
    assert!(bound.is_superset(&watched));

    let deployment: Deployment = rendered.one("Deployment");
    let env = env_of(&deployment);
    assert_eq!(
        env["TRADEWIND_WATCH_NAMESPACES"].as_deref(),
        Some("shop-eu,shop-us")
    );
    assert_eq!(
        env["TRADEWIND_NATS_CREDENTIALS_SECRET"].as_deref(),
        Some("tradewind-nats")
    );
    assert_eq!(
        env["TRADEWIND_NATS_TLS_CA_SECRET"].as_deref(),
        Some("nats-ca")
    );

    // The NATS settings file: the default, and shop-eu's override inheriting the credentials Secret.
    let settings = rendered
        .of_kind("ConfigMap")
        .into_iter()
        .find(|c| c["data"]["nats.yaml"].is_string())
        .unwrap();
    let nats: Value =
        serde_yaml_ng::from_str(settings["data"]["nats.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(
        nats,
        json!({
            "default": {"url": "tls://nats.nats.svc:4222", "credentialsSecret": "tradewind-nats", "tlsCaSecret": "nats-ca"},
            "namespaces": {"shop-eu": {"url": "tls://nats.eu.svc:4222", "credentialsSecret": "tradewind-nats"}}
        })
    );
    // The operator reads that file as its per-namespace NATS settings.
    let overrides =
        operator::settings::NatsOverrides::parse(settings["data"]["nats.yaml"].as_str().unwrap())
            .unwrap();
    let flags = operator::settings::RenderSettings::example().nats;
    let eu = overrides.for_namespace("shop-eu", &flags);
    assert_eq!(
        (
            eu.url.as_str(),
            eu.credentials_secret.as_deref(),
            eu.tls_ca_secret
        ),
        ("tls://nats.eu.svc:4222", Some("tradewind-nats"), None)
    );
    let other = overrides.for_namespace("shop-us", &flags);
    assert_eq!(other.tls_ca_secret.as_deref(), Some("nats-ca"));

    let workloads = rendered
        .of_kind("ServiceMonitor")
        .into_iter()
        .find(|m| {
            m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/managed-by"]
                == "tradewind-operator"
        })
        .expect("a ServiceMonitor for the operator's adapters and bridges");
    assert_eq!(
        workloads["spec"]["namespaceSelector"]["matchNames"],
        json!(["shop-eu", "shop-us"])
    );
    // The adapters' metrics Services, as the operator renders them, carry the labels it selects.
    let adapter_labels = operator::labels::standard_labels("Marketplace", "amazon-us", "adapter");
    for (key, value) in workloads["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(
            adapter_labels.get(key).map(String::as_str),
            value.as_str(),
            "{key}"
        );
    }
    assert_eq!(
        workloads["spec"]["endpoints"][0]["port"],
        operator::render::workload::METRICS_PORT_NAME
    );
}

/// Every metric name the adapter exports, read from its own exposition with one sample in each family.
fn adapter_metric_names() -> BTreeSet<String> {
    use adapter_runtime::metrics::*;
    let metrics = Metrics::new();
    let flow = FlowLabels {
        marketplace: "m".into(),
        flow: "orders".into(),
    };
    let operation = OperationLabels {
        marketplace: "m".into(),
        operation: "op".into(),
    };
    metrics.count("m", "orders", Outcome::Out, 1);
    metrics.end_to_end_latency.get_or_create(&flow).observe(1.0);
    metrics
        .rate_limit_wait
        .get_or_create(&operation)
        .inc_by(1.0);
    metrics.throttled_responses.get_or_create(&operation).inc();
    metrics.breaker_state.get_or_create(&operation).set(2);
    metrics
        .dead_letters
        .get_or_create(&DeadLetterLabels {
            marketplace: "m".into(),
            flow: "orders".into(),
            class: "c".into(),
        })
        .inc();
    metrics.consumer_pending.get_or_create(&flow).set(1);
    metrics
        .revenue_at_risk
        .get_or_create(&CurrencyLabels {
            marketplace: "m".into(),
            currency: "USD".into(),
        })
        .set(1.0);
    metrics
        .encode()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(String::from)
        .collect()
}

fn metric_names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("tradewind_adapter_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn alerts_and_dashboard_use_the_adapter_metrics() {
    let exported = adapter_metric_names();
    assert!(
        exported.contains("tradewind_adapter_dead_letters_total"),
        "{exported:?}"
    );

    let rendered =
        render(json!({"serviceMonitor": {"enabled": true}, "prometheusRule": {"enabled": true}}));
    let rule = rendered.of_kind("PrometheusRule")[0].clone();
    let alerts: BTreeMap<String, String> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for required in [
        "TradewindDeadLetters",
        "TradewindLagOverSlo",
        "TradewindThrottled",
        "TradewindAdapterDown",
    ] {
        assert!(
            alerts.contains_key(required),
            "missing alert {required}: {alerts:?}"
        );
    }
    assert!(
        alerts["TradewindLagOverSlo"].ends_with("> 900"),
        "{}",
        alerts["TradewindLagOverSlo"]
    );
    let mut used = BTreeSet::new();
    for (alert, expr) in &alerts {
        assert!(
            !expr.contains("{{"),
            "{alert}: unrendered template in {expr}"
        );
        used.extend(metric_names_in(expr));
    }
    let dashboard = std::fs::read_to_string(chart_dir().join("files/dashboard.json")).unwrap();
    used.extend(metric_names_in(&dashboard));
    let unknown: Vec<&String> = used.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "metrics the adapter does not export: {unknown:?}"
    );
    assert!(used.len() >= 6, "{used:?}");
}

#[test]
fn invalid_values_are_refused_naming_the_field() {
    for (values, field) in [
        (json!({"natz": {}}), "natz"),
        (json!({"nats": {"url": "http://nats:4222"}}), "/nats/url"),
        (json!({"operator": {"replicas": 0}}), "/operator/replicas"),
        (
            json!({"watchNamespaces": ["Shop_EU"]}),
            "/watchNamespaces/0",
        ),
    ] {
        let rendered = render(values.clone());
        let error = rendered
            .schema_error
            .unwrap_or_else(|| panic!("{values} was accepted"));
        assert!(error.contains(field), "{values}: {error}");
        assert!(rendered.objects.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Argo CD health check

fn lua() -> PathBuf {
    std::env::var_os("TRADEWIND_LUA")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/lua5.1", "/usr/local/bin/lua5.1"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .expect("no Lua 5.1 interpreter: run scripts/setup.sh (sets TRADEWIND_LUA)")
}

/// A JSON value as a Lua table constructor, the shape Argo CD gives the script as `obj`.
fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\{:03}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => {
            format!(
                "{{{}}}",
                items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the health check on `object`: (status, message).
fn health(object: &Value) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let harness = dir.path().join("harness.lua");
    let script = chart_dir().join("argocd/health.lua");
    std::fs::write(
        &harness,
        format!(
            "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
            lua_literal(object),
            lua_literal(&Value::String(script.to_string_lossy().into_owned()))
        ),
    )
    .unwrap();
    let output = Command::new(lua()).arg(&harness).output().unwrap();
    assert!(
        output.status.success(),
        "lua: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let (status, message) = text.split_once('\n').unwrap();
    (status.to_string(), message.to_string())
}

fn resource(kind: &str, spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "tradewind.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "shop", "generation": 3},
        "spec": spec,
        "status": status,
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-11-28T08:00:00Z", "observedGeneration": 3})
}

#[test]
fn health_check_reads_ready_degraded_and_suspend_for_every_kind() {
    for crd in crds::generated::all() {
        let kind = crd.spec.names.kind.as_str();
        let ready = condition("Ready", "True", "Available", "adapter available");
        let healthy = resource(
            kind,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [ready]}),
        );
        assert_eq!(
            health(&healthy),
            ("Healthy".into(), "Available: adapter available".into()),
            "{kind}"
        );

        let degraded = resource(
            kind,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [
                condition("Ready", "True", "Available", ""),
                condition("Degraded", "True", "DeadLetters", "orders: 4 dead letters"),
            ]}),
        );
        assert_eq!(
            health(&degraded),
            (
                "Degraded".into(),
                "DeadLetters: orders: 4 dead letters".into()
            ),
            "{kind}"
        );

        let not_ready = resource(
            kind,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [
                condition("Ready", "False", "CredentialsMissing", "Secret amazon-us not found"),
                condition("Degraded", "False", "AsExpected", ""),
            ]}),
        );
        assert_eq!(
            health(&not_ready),
            (
                "Progressing".into(),
                "CredentialsMissing: Secret amazon-us not found".into()
            ),
            "{kind}"
        );

        let fresh = resource(kind, json!({}), Value::Null);
        assert_eq!(health(&fresh).0, "Progressing", "{kind}");
    }
}

#[test]
fn health_check_waits_for_the_operator_to_observe_a_change() {
    let stale = resource(
        "Marketplace",
        json!({}),
        json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "Available", "")]}),
    );
    let (status, message) = health(&stale);
    assert_eq!(status, "Progressing");
    assert!(message.contains("generation 3"), "{message}");
}

#[test]
fn health_check_reports_suspended_resources() {
    for kind in ["Marketplace", "SyncSchedule", "ErpConnection"] {
        let suspended = resource(
            kind,
            json!({"suspend": true}),
            json!({"observedGeneration": 3, "conditions": [condition("Ready", "True", "Available", "")]}),
        );
        assert_eq!(
            health(&suspended),
            ("Suspended".into(), "spec.suspend is true".into()),
            "{kind}"
        );
        let running = resource(
            kind,
            json!({"suspend": false}),
            json!({"observedGeneration": 3, "conditions": [condition("Ready", "True", "Available", "")]}),
        );
        assert_eq!(health(&running).0, "Healthy", "{kind}");
    }
}

/// `text` with every line of `script` indented by `indent` (blank lines stay empty), as in a YAML block scalar.
fn indented(script: &str, indent: &str) -> String {
    script
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{indent}{l}\n")
            }
        })
        .collect()
}

#[test]
fn documented_health_check_is_the_tested_script() {
    let script = std::fs::read_to_string(chart_dir().join("argocd/health.lua")).unwrap();
    let patch: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(chart_dir().join("argocd/argocd-cm.yaml")).unwrap(),
    )
    .unwrap();
    for crd in crds::generated::all() {
        let key = format!(
            "resource.customizations.health.tradewind.dev_{}",
            crd.spec.names.kind
        );
        assert_eq!(
            patch["data"][&key].as_str(),
            Some(script.as_str()),
            "argocd-cm.yaml {key}"
        );
    }
    let docs = std::fs::read_to_string(repo().join("docs/install.md")).unwrap();
    let block = format!(
        "  resource.customizations.health.tradewind.dev_Marketplace: |\n{}",
        indented(&script, "    ")
    );
    assert!(
        docs.contains(&block),
        "docs/install.md must show charts/tradewind/argocd/health.lua unchanged"
    );
}

#[test]
fn a_nats_override_for_an_unwatched_namespace_is_refused() {
    let rendered = render(json!({
        "watchNamespaces": ["shop-us"],
        "nats": {"namespaceOverrides": {"shop-eu": {"url": "nats://nats.eu.svc:4222"}}}
    }));
    let error = rendered
        .render_error
        .expect("an override nobody reads must be refused");
    assert!(error.contains("nats.namespaceOverrides.shop-eu"), "{error}");
    assert!(rendered.objects.is_empty());
}

#[test]
fn several_replicas_need_leader_election() {
    let rendered =
        render(json!({"operator": {"replicas": 2}, "leaderElection": {"enabled": false}}));
    let error = rendered
        .render_error
        .expect("two replicas without a Lease must be refused");
    assert!(error.contains("operator.replicas"), "{error}");
    let rendered = render(json!({"operator": {"replicas": 2}}));
    assert_eq!(rendered.render_error, None);
    let deployment: Deployment = rendered.one("Deployment");
    assert_eq!(deployment.spec.unwrap().replicas, Some(2));
}
