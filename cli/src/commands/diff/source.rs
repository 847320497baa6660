//! Where the two sides of a diff come from: a folder as it is, or a folder at a git revision (read with
//! `git ls-tree` and `git show`, so the working tree is never touched).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use crds::manifest::load_paths;
use crds::schema::SchemaSet;
use crds::validation::{Report, validate};

/// One side of a diff, loaded and validated.
pub struct Side {
    /// What the user named: the folder, or `<revision>:<folder>`.
    pub label: String,
    pub report: Report,
    /// Holds a revision's files while the report refers to them.
    _checkout: Option<tempfile::TempDir>,
}

/// Loads `spec`: an existing folder or file, else a git revision whose `path` is read from the repository
/// that contains the current directory.
pub fn load(spec: &str, path: &Path, schemas: &SchemaSet) -> anyhow::Result<Side> {
    let as_path = PathBuf::from(spec);
    if as_path.exists() {
        return Ok(Side {
            label: spec.to_string(),
            report: validated(std::slice::from_ref(&as_path), schemas, None),
            _checkout: None,
        });
    }
    let checkout = tempfile::tempdir().context("creating a temporary folder")?;
    let files = git(&[
        "ls-tree",
        "-r",
        "--name-only",
        spec,
        "--",
        &path.to_string_lossy(),
    ])
    .with_context(|| format!("{spec:?} is neither a folder nor a git revision"))?;
    let mut count = 0;
    for file in files
        .lines()
        .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
    {
        let text = git(&["show", &format!("{spec}:{file}")])?;
        let target = checkout.path().join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, text)?;
        count += 1;
    }
    if count == 0 {
        bail!("no YAML files under {} at {spec}", path.display());
    }
    let root = checkout.path().join(path);
    let report = validated(&[root], schemas, Some((checkout.path(), spec)));
    Ok(Side {
        label: format!("{spec}:{}", path.display()),
        report,
        _checkout: Some(checkout),
    })
}

/// Validates files; for a revision, sources are shown as `<revision>:<file>` rather than the temporary path.
fn validated(paths: &[PathBuf], schemas: &SchemaSet, revision: Option<(&Path, &str)>) -> Report {
    let (documents, errors) = load_paths(paths);
    let mut report = validate(documents, schemas);
    report
        .diagnostics
        .extend(errors.into_iter().map(crds::validation::Diagnostic::from));
    if let Some((root, rev)) = revision {
        let relabel = |file: &mut String| {
            if let Ok(relative) = Path::new(file.as_str()).strip_prefix(root) {
                *file = format!("{rev}:{}", relative.display());
            }
        };
        for item in &mut report.items {
            relabel(&mut item.source.file);
        }
        for d in &mut report.diagnostics {
            relabel(&mut d.file);
        }
    }
    report.diagnostics.sort();
    report
}

fn git(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
