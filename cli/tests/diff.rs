//! `twctl diff`: the change impact of a pull request between two folders and between two git revisions.

#![allow(clippy::unwrap_used)] // a test that cannot set up fails, which is what unwrap does

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn twctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twctl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn copy_quickstart(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(workspace().join("examples/quickstart")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_mapping_change_shows_the_affected_flow_and_the_output_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    copy_quickstart(&dir.path().join("before"));
    copy_quickstart(&dir.path().join("after"));
    edit(
        &dir.path().join("after/10-amazon.yaml"),
        "expression: record.available",
        "expression: \"record.available - 1\"",
    );
    let out = twctl(dir.path(), &["diff", "before", "after"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{md}");
    assert!(md.contains("| ChannelMapping/amazon-us |"), "{md}");
    assert!(
        md.contains("| amazon-us | tradewind-demo | inventory | ChannelMapping/amazon-us |"),
        "{md}"
    );
    // The sample inventory record lists 37 units; the new mapping sends one less.
    assert!(
        md.contains("| `fulfillment_availability.quantity` | `37` | `36` |"),
        "{md}"
    );
    assert!(
        !md.contains("walmart-us |"),
        "walmart is not affected: {md}"
    );
}

#[test]
fn an_erp_connection_change_reaches_every_marketplace_that_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_quickstart(&dir.path().join("before"));
    copy_quickstart(&dir.path().join("after"));
    edit(
        &dir.path().join("after/00-erp.yaml"),
        "concurrency: 4",
        "concurrency: 2",
    );
    let out = twctl(dir.path(), &["diff", "before", "after"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("2 marketplaces affected"), "{md}");
    assert!(
        md.contains("| amazon-us | tradewind-demo | orders |"),
        "only the sink's flows: {md}"
    );
    assert!(md.contains("| walmart-us | tradewind-demo |"), "{md}");
}

#[test]
fn an_invalid_change_fails_with_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    copy_quickstart(&dir.path().join("before"));
    copy_quickstart(&dir.path().join("after"));
    edit(
        &dir.path().join("after/10-amazon.yaml"),
        "currency: USD",
        "currency: usd",
    );
    let out = twctl(dir.path(), &["diff", "before", "after"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{md}");
    assert!(
        md.contains("### Validation problems after the change"),
        "{md}"
    );
    assert!(md.contains("spec.currency"), "{md}");
}

#[test]
fn two_git_revisions_of_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    copy_quickstart(&dir.path().join("manifests"));
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "before"]);
    edit(
        &dir.path().join("manifests/30-rate-limits.yaml"),
        "tokenBucket: {requests: 5, per: 1s, burst: 5}",
        "tokenBucket: {requests: 4, per: 1s, burst: 5}",
    );
    git(&["commit", "-q", "-am", "after"]);
    let out = twctl(
        dir.path(),
        &["diff", "HEAD~1", "HEAD", "--path", "manifests"],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{md}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(md.contains("`HEAD~1:manifests` → `HEAD:manifests`"), "{md}");
    assert!(md.contains("| RateLimitPolicy/amazon-default |"), "{md}");
    assert!(md.contains("| amazon-us | tradewind-demo |"), "{md}");

    let bad = twctl(
        dir.path(),
        &["diff", "no-such-rev", "HEAD", "--path", "manifests"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither a folder nor a git revision"));
}
