//! `twctl render`: the resources as the API server would store them, with every schema default filled in.
//!
//! Then, like `helm template`, the objects the operator derives from each Marketplace: the ConfigMap with the
//! resolved adapter configuration, the ServiceAccount, the Deployment, the metrics Service, and the JetStream
//! streams and consumers; and from each ErpConnection, its bridge's ConfigMap, ServiceAccount, Deployment and
//! metrics Service. All rendered by the operator's own pure rendering with fixed example settings.

use std::path::PathBuf;

use crds::manifest::load_paths;
use crds::schema::{SchemaSet, openapi_schema};
use crds::validation::validate;

/// Validates the manifests under `paths` and returns them as one YAML stream with defaults applied, or the
/// validation problems as the error.
pub fn run(paths: &[PathBuf]) -> anyhow::Result<String> {
    let schemas = SchemaSet::generated()?;
    let (documents, load_errors) = load_paths(paths);
    if let Some(e) = load_errors.first() {
        anyhow::bail!("{}: {}", e.source, e.message);
    }
    let report = validate(documents.clone(), &schemas);
    if !report.is_valid() {
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        anyhow::bail!("invalid manifests:\n{}", lines.join("\n"));
    }
    let crds = crds::generated::all();
    let mut out = String::new();
    for document in documents {
        let schema = crds.iter().find(|c| {
            c.spec.names.kind == document.kind()
                && document.api_version().starts_with(&c.spec.group)
        });
        let value = match schema {
            Some(crd) => kube::core::cel::apply_defaults(&openapi_schema(crd)?, &document.value),
            None => document.value,
        };
        out.push_str(&format!("---\n# Source: {}\n", document.source));
        out.push_str(&serde_yaml_ng::to_string(&value)?);
    }
    let settings = operator::settings::RenderSettings::example();
    for ((namespace, name), rendered) in
        operator::render::manifests::render_report(&report, &settings)
    {
        let rendered =
            rendered.map_err(|e| anyhow::anyhow!("Marketplace {namespace}/{name}: {e}"))?;
        out.push_str(&format!(
            "---\n# Rendered by the operator for Marketplace {namespace}/{name} (config hash {})\n",
            rendered.config_hash
        ));
        out.push_str(&operator::render::manifests::to_yaml(&rendered)?);
    }
    for ((namespace, name), rendered) in
        operator::render::manifests::render_bridges(&report, &settings)
    {
        let rendered =
            rendered.map_err(|e| anyhow::anyhow!("ErpConnection {namespace}/{name}: {e}"))?;
        out.push_str(&format!(
            "---\n# Rendered by the operator for ErpConnection {namespace}/{name}: its bridge (config hash {})\n",
            rendered.config_hash
        ));
        out.push_str(&operator::render::bridge::to_yaml(&rendered)?);
    }
    Ok(out)
}
