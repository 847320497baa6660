//! tradewind-sandbox. The marketplace sandboxes and the demo ERP are being built (see the connector issues).

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        println!("tradewind-sandbox {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!("tradewind-sandbox: no sandbox is implemented yet");
    ExitCode::FAILURE
}
