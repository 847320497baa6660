//! Every example validates; every broken fixture is rejected with the message it expects; the default rate-limit
//! policies shipped for each channel equal its published limits.

use std::path::{Path, PathBuf};

use crds::channel::ChannelKind;
use crds::manifest::{load_paths, parse_documents};
use crds::schema::SchemaSet;
use crds::validation::{Report, Resource, validate};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn validate_paths(paths: &[PathBuf]) -> Report {
    let schemas = SchemaSet::generated().expect("schemas compile");
    let (documents, errors) = load_paths(paths);
    assert!(errors.is_empty(), "{errors:?}");
    validate(documents, &schemas)
}

fn example_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(workspace().join("examples"))
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
}

#[test]
fn every_example_folder_is_valid_on_its_own() {
    let folders = example_folders();
    assert!(
        folders.iter().any(|f| f.ends_with("quickstart")),
        "examples/quickstart is missing"
    );
    for folder in folders {
        let report = validate_paths(std::slice::from_ref(&folder));
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert!(
            report.is_valid(),
            "{}:\n{}",
            folder.display(),
            lines.join("\n")
        );
        assert!(
            !report.items.is_empty(),
            "{} has no Tradewind resources",
            folder.display()
        );
    }
}

#[test]
fn there_is_an_example_per_channel() {
    let names: Vec<String> = example_folders()
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for folder in [
        "amazon", "walmart", "shopify", "mirakl", "ebay", "edi", "b2b-rest",
    ] {
        assert!(
            names.iter().any(|n| n == folder),
            "examples/{folder} is missing"
        );
    }
}

/// `<channel>-default` policies carry exactly each published limit, in the whole-number form of
/// [`crds::channel::PublishedLimit::as_bucket`].
#[test]
fn default_policies_equal_the_published_limits() {
    let report = validate_paths(&[workspace().join("examples")]);
    for channel in ChannelKind::ALL {
        let name = format!("{channel}-default");
        let policies: Vec<_> = report
            .items
            .iter()
            .filter_map(|item| match &item.resource {
                Resource::RateLimitPolicy(p) if item.name == name => Some(p),
                _ => None,
            })
            .collect();
        assert!(
            !policies.is_empty(),
            "no RateLimitPolicy {name} in examples/"
        );
        for policy in policies {
            for op in channel.operations() {
                let Some(published) = op.published else {
                    continue;
                };
                let listed = policy.spec.operations.iter().find(|o| o.name == op.name);
                let Some(bucket) = listed.and_then(|o| o.token_bucket.as_ref()) else {
                    panic!("{name}: no tokenBucket for {}", op.name);
                };
                let per: std::time::Duration = bucket.per.into();
                let actual = (
                    u64::from(bucket.requests),
                    per.as_millis() as u64,
                    u64::from(bucket.burst),
                );
                let (requests, per_millis) = published.as_bucket();
                assert_eq!(
                    actual,
                    (requests, per_millis, published.burst),
                    "{name}: {}",
                    op.name
                );
                assert_eq!(bucket.unit, published.unit, "{name}: {}", op.name);
            }
        }
    }
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("tests/fixtures/invalid"))
        .expect("tests/fixtures/invalid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn expectation(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let first = text.lines().next().unwrap_or_default();
    match first.strip_prefix("# expect: ") {
        Some(expected) => expected.trim().to_string(),
        None => panic!(
            "{}: first line must be `# expect: <message substring>`",
            path.display()
        ),
    }
}

#[test]
fn every_invalid_fixture_is_rejected_with_its_message() {
    let files = fixtures();
    assert!(files.len() >= 15, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for file in files {
        let expected = expectation(&file);
        let report = validate_paths(std::slice::from_ref(&file));
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        if !lines.iter().any(|l| l.contains(&expected)) {
            failures.push(format!(
                "{}: expected {expected:?}, got {lines:#?}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics_point_at_the_document() {
    let text = "apiVersion: tradewind.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: a}\nspec: {channel: amazon}\n---\napiVersion: tradewind.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: b}\nspec:\n  channel: amazon\n  operations:\n    - name: patchListingsItem\n      tokenBucket: {requests: 50, burst: 5}\n";
    let (documents, errors) = parse_documents("mem.yaml", text);
    assert!(errors.is_empty());
    let report = validate(documents, &SchemaSet::generated().expect("schemas compile"));
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("mem.yaml:6: RateLimitPolicy/b: spec.operations[0].tokenBucket"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("burst must be at least"), "{}", lines[0]);
}

#[test]
fn every_error_of_a_set_is_reported_at_once() {
    let text = "apiVersion: tradewind.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: a}\nspec:\n  channel: amazon\n  operations:\n    - name: patchListingsItem\n      tokenBucket: {requests: 10, burst: 50}\n    - name: noSuchOperation\n";
    let (documents, _) = parse_documents("mem.yaml", text);
    let report = validate(documents, &SchemaSet::generated().expect("schemas compile"));
    let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("rate 10/s is above the published limit of 5/s")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("burst is above the published burst of 5")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("\"noSuchOperation\"")),
        "{lines:#?}"
    );
}
