//! Writes one YAML file per CustomResourceDefinition into `crds/generated/` (or the folder given as argument).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("crdgen: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for crd in crds::generated::all() {
        let path = dir.join(crds::generated::file_name(&crd));
        let yaml = match crds::generated::to_yaml(&crd) {
            Ok(yaml) => yaml,
            Err(e) => {
                eprintln!("crdgen: cannot serialize {}: {e}", crd.spec.names.kind);
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(&path, yaml) {
            eprintln!("crdgen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
