//! `twctl diff <before> <after>`: the change impact of a pull request, as Markdown for a PR comment: which
//! resources change and how, which marketplaces and flows are affected through references, and what every
//! changed mapping produces on sample records before and after.

mod changes;
mod impact;
mod samples;
mod source;

use std::fmt::Write as _;
use std::path::Path;

use crds::schema::SchemaSet;
use serde_json::Value;

pub use changes::{Change, FieldChange, Key, compare, field_changes};
pub use impact::{Impact, impacts};
pub use samples::{SampleRun, canonical_sample, mapping_samples};

/// The outcome: the Markdown, and whether the "after" side is valid (the exit status).
pub struct DiffReport {
    pub markdown: String,
    pub after_valid: bool,
}

pub fn run(
    before: &str,
    after: &str,
    path: &Path,
    samples_dir: Option<&Path>,
) -> anyhow::Result<DiffReport> {
    let schemas = SchemaSet::generated()?;
    let old = source::load(before, path, &schemas)?;
    let new = source::load(after, path, &schemas)?;
    let changes = compare(&old.report.items, &new.report.items);
    let affected = impacts(&old.report.items, &new.report.items, &changes);
    let runs = mapping_samples(&old.report.items, &new.report.items, &changes, samples_dir);
    let mut md = String::new();
    let _ = writeln!(md, "## Tradewind change impact\n");
    let _ = writeln!(md, "`{}` → `{}`\n", old.label, new.label);
    let verdict = if new.report.is_valid() {
        "valid".to_string()
    } else {
        format!("**{} problems**", new.report.diagnostics.len())
    };
    let _ = writeln!(
        md,
        "{} resources changed · {} marketplaces affected · after the change: {verdict}\n",
        changes.len(),
        affected.len()
    );
    render_changes(&mut md, &changes);
    render_impacts(&mut md, &affected);
    render_samples(&mut md, &runs);
    if !new.report.is_valid() {
        let _ = writeln!(md, "### Validation problems after the change\n\n```");
        for d in &new.report.diagnostics {
            let _ = writeln!(md, "{d}");
        }
        let _ = writeln!(md, "```\n");
    }
    Ok(DiffReport {
        markdown: md,
        after_valid: new.report.is_valid(),
    })
}

fn render_changes(md: &mut String, changes: &std::collections::BTreeMap<Key, Change>) {
    if changes.is_empty() {
        let _ = writeln!(md, "No Tradewind resource changes.\n");
        return;
    }
    let _ = writeln!(
        md,
        "### Resources\n\n| resource | namespace | change |\n| --- | --- | --- |"
    );
    for (key, change) in changes {
        let what = match change {
            Change::Added => "added".to_string(),
            Change::Removed => "removed".to_string(),
            Change::Modified(fields) => fields
                .iter()
                .map(|f| format!("`{}`: {} → {}", f.path, short(&f.before), short(&f.after)))
                .collect::<Vec<_>>()
                .join("<br>"),
        };
        let _ = writeln!(
            md,
            "| {}/{} | {} | {} |",
            key.kind, key.name, key.namespace, what
        );
    }
    md.push('\n');
}

fn render_impacts(
    md: &mut String,
    affected: &std::collections::BTreeMap<(String, String), Impact>,
) {
    if affected.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### Affected marketplaces\n\n| marketplace | namespace | flows | through |\n| --- | --- | --- | --- |"
    );
    for ((namespace, name), impact) in affected {
        let flows: Vec<&str> = impact.flows.iter().map(|f| f.as_str()).collect();
        let through: Vec<&str> = impact.because.iter().map(String::as_str).collect();
        let _ = writeln!(
            md,
            "| {name} | {namespace} | {} | {} |",
            flows.join(", "),
            through.join(", ")
        );
    }
    md.push('\n');
}

fn render_samples(md: &mut String, runs: &[SampleRun]) {
    let differing: Vec<&SampleRun> = runs.iter().filter(|r| r.differs()).collect();
    if differing.is_empty() {
        if !runs.is_empty() {
            let _ = writeln!(
                md,
                "Changed mappings produce the same output on the sample records.\n"
            );
        }
        return;
    }
    let _ = writeln!(md, "### Mapping output on sample records\n");
    for run in differing {
        let _ = writeln!(md, "**ChannelMapping/{} · {}**\n", run.mapping, run.flow);
        let mut fields = Vec::new();
        let before = outcome_json(&run.before);
        let after = outcome_json(&run.after);
        field_changes("", &before, &after, &mut fields);
        let _ = writeln!(md, "| field | before | after |\n| --- | --- | --- |");
        for f in fields {
            let path = f.path.trim_start_matches('.');
            let _ = writeln!(
                md,
                "| `{path}` | {} | {} |",
                short(&f.before),
                short(&f.after)
            );
        }
        md.push('\n');
    }
}

/// A mapping's outcome as JSON for comparison: the output, `{"error": ...}`, or null when not mapped.
fn outcome_json(outcome: &Option<Result<Value, String>>) -> Value {
    match outcome {
        Some(Ok(v)) => v.clone(),
        Some(Err(e)) => serde_json::json!({ "error": e }),
        None => Value::Null,
    }
}

/// A value in a table cell: compact JSON, `—` for absent, pipes escaped, long values cut.
fn short(value: &Value) -> String {
    if value.is_null() {
        return "—".to_string();
    }
    let text = value.to_string().replace('|', "\\|");
    if text.chars().count() > 80 {
        format!("`{}…`", text.chars().take(80).collect::<String>())
    } else {
        format!("`{text}`")
    }
}
