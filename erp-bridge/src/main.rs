//! tradewind-bridge: runs one ErpConnection from the configuration the operator mounts. Logs JSON lines,
//! serves `/metrics`, `/healthz` and `/readyz`, and stops gracefully on SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::Readiness;
use adapter_runtime::metrics::Metrics;
use adapter_runtime::service::{init_logging, stop_on_signal};
use clap::Parser;
use erp_bridge::BridgeConfig;
use tracing::{error, info};

/// Runs the ERP side of a Tradewind ErpConnection.
#[derive(Parser)]
#[command(name = "tradewind-bridge", version, about)]
struct Args {
    /// The resolved configuration rendered by the operator (YAML or JSON).
    #[arg(
        long,
        env = "TRADEWIND_BRIDGE_CONFIG",
        default_value = "/etc/tradewind/bridge.yaml"
    )]
    config: PathBuf,
    /// Log as human-readable text instead of JSON lines.
    #[arg(long)]
    text_logs: bool,
    /// Log level (overridden by RUST_LOG).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match BridgeConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tradewind-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&args.log_level, args.text_logs);
    adapter_runtime::connectors::ensure_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tradewind-bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "bridge failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: BridgeConfig) -> Result<(), String> {
    let shutdown = Shutdown::new();
    let readiness = Arc::new(Readiness::starting());
    let metrics = Arc::new(Metrics::new());
    let listener = tokio::net::TcpListener::bind(&config.http_address)
        .await
        .map_err(|e| format!("httpAddress {}: {e}", config.http_address))?;
    info!(address = %config.http_address, "serving /metrics, /healthz, /readyz (and the webhook source)");
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let http = erp_bridge::Http {
        listener,
        readiness,
    };
    let result = erp_bridge::run_with(config, shutdown.clone(), metrics, Some(http)).await;
    shutdown.trigger();
    result
}
