//! `twctl validate` as a user runs it: the examples pass, every broken fixture fails with exit status 1 and
//! the message it expects, and the JSON output carries the same diagnostics.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn twctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap()
}

fn fixtures(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The `# expect: ...` first line of a fixture.
fn expectation(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} lacks an `# expect:` first line", file.display()))
        .to_string()
}

#[test]
fn the_examples_are_valid() {
    let out = twctl(&["validate", "examples/"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Tradewind resources valid"), "{stdout}");
}

#[test]
fn every_broken_fixture_fails_with_its_message() {
    let mut files = fixtures("tests/fixtures/invalid");
    files.extend(fixtures("tests/fixtures/invalid-mapping"));
    assert!(files.len() > 40);
    for file in files {
        let path = file.to_string_lossy().into_owned();
        let out = twctl(&["validate", &path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{path}: {stdout}");
        let expected = expectation(&file);
        assert!(
            stdout.contains(&expected),
            "{path}: expected {expected:?} in:\n{stdout}"
        );
        // Like a compiler: file:line: Kind/name: ...
        assert!(stdout.starts_with(&format!("{path}:")), "{path}: {stdout}");
    }
}

#[test]
fn mapping_compilation_runs_without_a_cluster() {
    let out = twctl(&[
        "validate",
        "tests/fixtures/invalid-mapping/mapping-unknown-record-field.yaml",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("did you mean `available`?"),
        "the compiler's suggestion is shown: {stdout}"
    );
}

#[test]
fn json_output_lists_every_diagnostic() {
    let out = twctl(&[
        "validate",
        "--output",
        "json",
        "tests/fixtures/invalid-mapping",
        "examples/quickstart",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let diagnostics = json["diagnostics"].as_array().unwrap();
    let files = fixtures("tests/fixtures/invalid-mapping");
    assert_eq!(diagnostics.len(), files.len(), "{diagnostics:#?}");
    for d in diagnostics {
        assert!(
            d["resource"]
                .as_str()
                .unwrap()
                .starts_with("ChannelMapping/")
        );
        assert_eq!(d["field_path"], "spec.flows[0].fields[0].expression");
    }
}
