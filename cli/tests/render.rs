//! `twctl render` as a user runs it on every example: the resources with defaults, then for each Marketplace
//! its adapter's objects and for each ErpConnection its bridge's, as the operator renders them.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `(kind, name)` of every object in the YAML stream.
fn objects(stream: &str) -> Vec<(String, String, Value)> {
    serde_yaml_ng::Deserializer::from_str(stream)
        .filter_map(|doc| {
            let value = Value::deserialize(doc).unwrap();
            let kind = value.get("kind")?.as_str()?.to_string();
            let name = value.pointer("/metadata/name")?.as_str()?.to_string();
            Some((kind, name, value))
        })
        .collect()
}

#[test]
fn every_example_renders_its_adapters_and_bridges() {
    let examples = workspace().join("examples");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    assert!(folders.len() >= 8, "{folders:?}");
    for folder in folders {
        let out = Command::new(env!("CARGO_BIN_EXE_twctl"))
            .arg("render")
            .arg(&folder)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            folder.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let objects = objects(&stdout);
        let named = |kind: &str| -> Vec<&(String, String, Value)> {
            objects.iter().filter(|(k, _, _)| k == kind).collect()
        };
        let deployments = named("Deployment");
        // The Deployment the operator derives from a resource: labelled with its kind and name, running the
        // binary of its component.
        let derived = |kind: &str, name: &str, binary: &str| {
            deployments.iter().any(|(_, _, d)| {
                let label = |key: &str| {
                    d.pointer(&format!("/metadata/labels/tradewind.dev~1{key}"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                label("kind").as_deref() == Some(kind)
                    && label("name").as_deref() == Some(name)
                    && d.pointer("/spec/template/spec/containers/0/command/0")
                        .and_then(Value::as_str)
                        .is_some_and(|c| c.ends_with(binary))
            })
        };
        for (_, marketplace, _) in named("Marketplace") {
            assert!(
                derived("Marketplace", marketplace, "tradewind-adapter"),
                "{}: no adapter Deployment for Marketplace {marketplace}",
                folder.display()
            );
        }
        for (_, erp, _) in named("ErpConnection") {
            assert!(
                derived("ErpConnection", erp, "tradewind-bridge"),
                "{}: no bridge Deployment for ErpConnection {erp}",
                folder.display()
            );
        }
    }
}
