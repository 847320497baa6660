//! `twctl validate`: every check the API server and the operator would apply, without a cluster.

use std::path::PathBuf;

use adapter_runtime::mapping::MappingPlan;
use crds::manifest::load_paths;
use crds::schema::SchemaSet;
use crds::validation::{Diagnostic, Report, Resource, validate};

/// Output format of `twctl validate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line: Kind/name: field.path: message`, one problem a line, like a compiler.
    #[default]
    Text,
    /// A JSON object with `valid`, `resources` and `diagnostics`, for CI bots.
    Json,
}

/// Loads and validates every manifest under `paths`: the API server's checks and the set's consistency
/// (`crds::validation`), then the operator's compilation of every `ChannelMapping`.
pub fn run(paths: &[PathBuf]) -> anyhow::Result<Report> {
    let schemas = SchemaSet::generated()?;
    let (documents, load_errors) = load_paths(paths);
    let mut report = validate(documents, &schemas);
    let compile_problems = mapping_compilation(&report);
    report.diagnostics.extend(compile_problems);
    report
        .diagnostics
        .extend(load_errors.into_iter().map(Diagnostic::from));
    report.diagnostics.sort();
    report.diagnostics.dedup();
    Ok(report)
}

/// Compiles every `ChannelMapping` as the operator does before it marks it `MappingValid`: CEL parsing and
/// type checking against the canonical record or the channel payload. A field already reported (a syntax error
/// the schema-level check found) is not reported twice.
fn mapping_compilation(report: &Report) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for item in &report.items {
        let Resource::ChannelMapping(mapping) = &item.resource else {
            continue;
        };
        let Err(errors) = MappingPlan::compile(&item.name, &mapping.spec) else {
            continue;
        };
        let resource = format!("ChannelMapping/{}", item.name);
        for error in errors {
            let known = report
                .diagnostics
                .iter()
                .any(|d| d.resource == resource && d.field_path == error.field_path);
            if known {
                continue;
            }
            let message = match (&error.flow, &error.target) {
                (Some(flow), Some(target)) => format!("{flow} -> {target}: {}", error.message),
                _ => error.message.clone(),
            };
            found.push(Diagnostic {
                file: item.source.file.clone(),
                line: item.source.line,
                resource: resource.clone(),
                field_path: error.field_path.clone(),
                value: None,
                message,
            });
        }
    }
    found
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
