//! tradewind-adapter: runs the flows of one marketplace. Reads its configuration from the file the operator
//! mounts, logs JSON lines, serves `/metrics`, `/healthz` and `/readyz`, and stops gracefully on SIGTERM:
//! it stops fetching, finishes or gives back the messages in flight, then exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use adapter_runtime::config::AdapterConfig;
use adapter_runtime::flow::Shutdown;
use adapter_runtime::http::{Readiness, serve, serve_with};
use adapter_runtime::metrics::Metrics;
use clap::Parser;
use tracing::{error, info};

/// Runs the flows of one Tradewind marketplace.
#[derive(Parser)]
#[command(name = "tradewind-adapter", version, about)]
struct Args {
    /// The resolved configuration rendered by the operator (YAML or JSON).
    #[arg(
        long,
        env = "TRADEWIND_ADAPTER_CONFIG",
        default_value = "/etc/tradewind/adapter.yaml"
    )]
    config: PathBuf,
    /// Log as human-readable text instead of JSON lines.
    #[arg(long)]
    text_logs: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match AdapterConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tradewind-adapter: {e}");
            return ExitCode::from(2);
        }
    };
    adapter_runtime::service::init_logging(&config.spec.adapter.log_level, args.text_logs);
    adapter_runtime::connectors::ensure_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tradewind-adapter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "adapter failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: AdapterConfig) -> Result<(), String> {
    let shutdown = Shutdown::new();
    let readiness = Arc::new(Readiness::starting());
    let metrics = Arc::new(Metrics::new());
    let listener = tokio::net::TcpListener::bind(&config.http_address)
        .await
        .map_err(|e| format!("httpAddress {}: {e}", config.http_address))?;
    info!(address = %config.http_address, "serving /metrics, /healthz and /readyz");
    let http = match adapter::channel_routes(&config, metrics.clone())? {
        // The channel's webhook shares the port, so the Service that exposes metrics reaches it too.
        Some(routes) => tokio::spawn(serve_with(
            listener,
            metrics.clone(),
            readiness.clone(),
            routes,
            shutdown.clone(),
        )),
        None => tokio::spawn(serve(
            listener,
            metrics.clone(),
            readiness.clone(),
            shutdown.clone(),
        )),
    };
    tokio::spawn(adapter_runtime::service::stop_on_signal(shutdown.clone()));
    let result = adapter::run(config, shutdown.clone(), readiness, metrics).await;
    shutdown.trigger();
    let _ = http.await;
    result
}
