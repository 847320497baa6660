//! The architecture's boundary, as Cargo resolves it: no channel crate (`channels/*`) reaches NATS or the
//! adapter runtime through its normal dependencies, directly or through another crate, and neither does this
//! crate. Dev-dependencies are free (end-to-end tests run the real runtime).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// Crates a connector must not link.
const FORBIDDEN: [&str; 2] = ["async-nats", "adapter-runtime"];

/// Channel crates still allowed to link a forbidden crate, each with the reason. Empty is the goal.
const NOT_YET: [(&str, &str); 2] = [
    (
        "channel-edi",
        "opens NATS for its control numbers and dead letters until the connector context lands",
    ),
    ("channel-registry", "links channel-edi"),
];

/// Every path by which a package under `channels/` (or channel-api itself) reaches a forbidden crate through
/// normal dependencies, following workspace crates transitively (`cargo metadata --no-deps` output: each
/// workspace package with its declared dependencies and their kinds).
fn violations(metadata: &Value) -> Vec<String> {
    let empty = Vec::new();
    let packages = metadata["packages"].as_array().unwrap_or(&empty);
    // Normal dependencies (kind null) of every workspace package, by name.
    let normal: HashMap<&str, Vec<&str>> = packages
        .iter()
        .filter_map(|p| {
            let deps = p["dependencies"]
                .as_array()?
                .iter()
                .filter(|dep| dep["kind"].is_null())
                .filter_map(|dep| dep["name"].as_str())
                .collect();
            Some((p["name"].as_str()?, deps))
        })
        .collect();
    let guarded = packages.iter().filter(|p| {
        let manifest = p["manifest_path"].as_str().unwrap_or_default();
        let in_channels = Path::new(manifest)
            .parent()
            .and_then(Path::parent)
            .is_some_and(|dir| dir.file_name().is_some_and(|n| n == "channels"));
        in_channels || p["name"] == "channel-api"
    });
    let mut found = Vec::new();
    for root in guarded.filter_map(|p| p["name"].as_str()) {
        // Breadth first, remembering how each package was reached, to name the path.
        let mut via: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([root]);
        let mut seen = BTreeSet::from([root]);
        while let Some(name) = queue.pop_front() {
            for &dep in normal.get(name).map(Vec::as_slice).unwrap_or_default() {
                if !seen.insert(dep) {
                    continue;
                }
                via.insert(dep, name);
                if FORBIDDEN.contains(&dep) {
                    let mut path = vec![dep];
                    let mut at = dep;
                    while let Some(&parent) = via.get(at) {
                        path.push(parent);
                        at = parent;
                    }
                    path.reverse();
                    found.push(format!("{root} -> {dep} ({})", path.join(" -> ")));
                } else {
                    queue.push_back(dep);
                }
            }
        }
    }
    found
}

fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn no_channel_crate_links_nats_or_the_adapter_runtime() {
    let metadata = workspace_metadata();
    let channels = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| m.contains("/channels/"))
        })
        .count();
    assert!(channels >= 7, "only {channels} channel crates found");
    let unexpected: Vec<String> = violations(&metadata)
        .into_iter()
        .filter(|v| {
            !NOT_YET
                .iter()
                .any(|(name, _)| v.starts_with(&format!("{name} ")))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "connectors must be built on channel-api only:\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn the_exceptions_still_need_to_be_exceptions() {
    // An exception that no longer links a forbidden crate is removed from NOT_YET, so it cannot come back.
    let found = violations(&workspace_metadata());
    for (name, reason) in NOT_YET {
        assert!(
            found.iter().any(|v| v.starts_with(&format!("{name} "))),
            "{name} no longer links NATS ({reason}): remove it from NOT_YET"
        );
    }
}

/// A small workspace: `channel-x` under `channels/`, with the given normal and dev dependencies.
fn graph(normal: &[(&str, &str)], dev: &[(&str, &str)]) -> Value {
    let names = ["channel-x", "channel-api", "helper", "adapter-runtime"];
    let packages: Vec<Value> = names
        .iter()
        .map(|name| {
            let manifest = if *name == "channel-x" {
                "/ws/channels/x/Cargo.toml".to_string()
            } else {
                format!("/ws/{name}/Cargo.toml")
            };
            let edges = |list: &[(&str, &str)], kind: Value| {
                list.iter()
                    .filter(|(from, _)| from == name)
                    .map(|(_, to)| json!({"name": to, "kind": kind.clone()}))
                    .collect::<Vec<_>>()
            };
            let mut dependencies = edges(normal, Value::Null);
            dependencies.extend(edges(dev, json!("dev")));
            json!({"name": name, "manifest_path": manifest, "dependencies": dependencies})
        })
        .collect();
    json!({"packages": packages})
}

#[test]
fn a_channel_reaching_nats_through_another_crate_is_caught_with_its_path() {
    let found = violations(&graph(
        &[
            ("channel-x", "channel-api"),
            ("channel-x", "helper"),
            ("helper", "async-nats"),
        ],
        &[],
    ));
    assert_eq!(
        found,
        ["channel-x -> async-nats (channel-x -> helper -> async-nats)"]
    );
}

#[test]
fn the_channel_api_itself_is_guarded() {
    let found = violations(&graph(&[("channel-api", "adapter-runtime")], &[]));
    assert_eq!(
        found,
        ["channel-api -> adapter-runtime (channel-api -> adapter-runtime)"]
    );
}

#[test]
fn dev_dependencies_are_allowed() {
    let found = violations(&graph(
        &[("channel-x", "channel-api")],
        &[
            ("channel-x", "adapter-runtime"),
            ("channel-x", "async-nats"),
        ],
    ));
    assert!(found.is_empty(), "{found:?}");
}
