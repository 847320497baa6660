//! `twctl validate`: every check the API server and the operator would apply, without a cluster.

use std::path::PathBuf;

use crds::manifest::load_paths;
use crds::schema::SchemaSet;
use crds::validation::{Diagnostic, Report, validate};

/// Output format of `twctl validate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line: Kind/name: field.path: message`, one problem a line, like a compiler.
    #[default]
    Text,
    /// A JSON object with `valid`, `resources` and `diagnostics`, for CI bots.
    Json,
}

/// Loads and validates every manifest under `paths`.
pub fn run(paths: &[PathBuf]) -> anyhow::Result<Report> {
    let schemas = SchemaSet::generated()?;
    let (documents, load_errors) = load_paths(paths);
    let mut report = validate(documents, &schemas);
    report
        .diagnostics
        .extend(load_errors.into_iter().map(Diagnostic::from));
    report.diagnostics.sort();
    Ok(report)
}

/// Renders a report in `format`.
pub fn render_report(report: &Report, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Text => {
            let mut out = String::new();
            for d in &report.diagnostics {
                out.push_str(&d.to_string());
                out.push('\n');
            }
            let resources = report.items.len();
            if report.is_valid() {
                out.push_str(&format!("{resources} Tradewind resources valid\n"));
            } else {
                out.push_str(&format!(
                    "{} problems in {resources} Tradewind resources\n",
                    report.diagnostics.len()
                ));
            }
            out
        }
        Format::Json => {
            let json = serde_json::json!({
                "valid": report.is_valid(),
                "resources": report.items.len(),
                "diagnostics": report.diagnostics,
            });
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
    })
}
