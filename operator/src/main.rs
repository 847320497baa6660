//! tradewind-operator. The controllers are being built (see the operator issue); until then this binary prints
//! the CRDs it will serve and exits, so that images and charts can be wired up.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("tradewind-operator {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!("tradewind-operator: the controllers are not implemented yet; serving these kinds:");
    for crd in crds::generated::all() {
        eprintln!("  {}.{}", crd.spec.names.plural, crd.spec.group);
    }
    ExitCode::FAILURE
}
