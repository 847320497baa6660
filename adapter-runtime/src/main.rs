//! tradewind-adapter. The runtime is being built (see the adapter runtime issue).

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("tradewind-adapter {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!("tradewind-adapter: the runtime is not implemented yet");
    ExitCode::FAILURE
}
