#![allow(clippy::unwrap_used)]
//! Golden tests of the pure rendering: every Marketplace of every example folder, rendered with fixed operator
//! settings, must equal `tests/golden/<example>/<marketplace>.yaml`. Regenerate after an intended change with
//! `TRADEWIND_UPDATE_GOLDEN=1 cargo test -p operator --test golden` and review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use operator::render::manifests::{render_bridges, render_report, to_yaml};
use operator::settings::RenderSettings;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Every Marketplace of `folder`, rendered as one multi-document YAML text each.
fn render_folder(folder: &Path) -> BTreeMap<String, String> {
    let (documents, errors) = crds::manifest::load_paths(&[folder.to_path_buf()]);
    assert!(errors.is_empty(), "{folder:?}: {errors:?}");
    let schemas = crds::schema::SchemaSet::generated().unwrap();
    let report = crds::validation::validate(documents, &schemas);
    assert!(report.is_valid(), "{folder:?}: {:?}", report.diagnostics);
    let settings = RenderSettings::example();
    let mut out = BTreeMap::new();
    for ((_, name), rendered) in render_report(&report, &settings) {
        let rendered = rendered.unwrap();
        // The rendered configuration reads back as the adapter reads it.
        let reread =
            adapter_runtime::config::AdapterConfig::parse(&name, &rendered.config_yaml).unwrap();
        assert_eq!(reread, rendered.config, "{name}");
        out.insert(name, to_yaml(&rendered).unwrap());
    }
    out
}

#[test]
fn every_example_renders_as_its_golden_file() {
    let update = std::env::var_os("TRADEWIND_UPDATE_GOLDEN").is_some();
    let golden_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut rendered_any = 0;
    let mut mismatches = Vec::new();
    for folder in folders {
        let example = folder.file_name().unwrap().to_string_lossy().to_string();
        for (marketplace, text) in render_folder(&folder) {
            rendered_any += 1;
            let path = golden_root
                .join(&example)
                .join(format!("{marketplace}.yaml"));
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(_) => mismatches.push(format!("{} differs", path.display())),
                Err(e) => mismatches.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(
        rendered_any >= 8,
        "only {rendered_any} marketplaces rendered"
    );
    assert!(
        mismatches.is_empty(),
        "golden files differ (set TRADEWIND_UPDATE_GOLDEN=1 to regenerate, then review):\n{}",
        mismatches.join("\n")
    );
}

/// Every ErpConnection of `folder`, rendered as its bridge, one YAML text each.
fn render_bridge_folder(folder: &Path) -> BTreeMap<String, String> {
    let (documents, errors) = crds::manifest::load_paths(&[folder.to_path_buf()]);
    assert!(errors.is_empty(), "{folder:?}: {errors:?}");
    let schemas = crds::schema::SchemaSet::generated().unwrap();
    let report = crds::validation::validate(documents, &schemas);
    let mut out = BTreeMap::new();
    for ((_, name), rendered) in render_bridges(&report, &RenderSettings::example()) {
        let rendered = rendered.unwrap();
        // The rendered configuration reads back as the bridge reads it.
        let reread =
            adapter_runtime::bridge_config::BridgeConfig::parse(&name, &rendered.config_yaml)
                .unwrap();
        assert_eq!(reread, rendered.config, "{name}");
        out.insert(name, operator::render::bridge::to_yaml(&rendered).unwrap());
    }
    out
}

/// Every example's ERP bridge equals `tests/golden/<example>/erp-connection-<name>.yaml`.
#[test]
fn every_example_bridge_renders_as_its_golden_file() {
    let update = std::env::var_os("TRADEWIND_UPDATE_GOLDEN").is_some();
    let golden_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut rendered_any = 0;
    let mut mismatches = Vec::new();
    for folder in std::fs::read_dir(examples_dir()).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        let example = folder.file_name().unwrap().to_string_lossy().to_string();
        for (connection, text) in render_bridge_folder(&folder) {
            rendered_any += 1;
            let path = golden_root
                .join(&example)
                .join(format!("erp-connection-{connection}.yaml"));
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(_) => mismatches.push(format!("{} differs", path.display())),
                Err(e) => mismatches.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(rendered_any >= 8, "only {rendered_any} bridges rendered");
    assert!(
        mismatches.is_empty(),
        "golden files differ (set TRADEWIND_UPDATE_GOLDEN=1 to regenerate, then review):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn no_credential_value_reaches_a_configmap() {
    for folder in std::fs::read_dir(examples_dir()).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        let (documents, _) = crds::manifest::load_paths(std::slice::from_ref(&folder));
        let secret_values: Vec<String> = documents
            .iter()
            .filter(|d| d.kind() == "Secret")
            .flat_map(|d| {
                d.value
                    .get("stringData")
                    .and_then(|v| v.as_object())
                    .map(|m| {
                        m.values()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let mut rendered = render_folder(&folder);
        rendered.extend(
            render_bridge_folder(&folder)
                .into_iter()
                .map(|(name, text)| (format!("erp-connection-{name}"), text)),
        );
        for (name, text) in rendered {
            for value in &secret_values {
                assert!(
                    !text.contains(value.as_str()),
                    "{folder:?} {name}: a Secret value is rendered"
                );
            }
        }
    }
}
