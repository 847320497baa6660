//! Writes the canonical model's JSON Schemas into `docs/schemas/` (or the folder given as argument).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("schemagen: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, schema) in adapter_runtime::schemas::all() {
        let path = dir.join(&name);
        let written = adapter_runtime::schemas::to_json(&schema)
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(&path, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("schemagen: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
