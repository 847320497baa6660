//! What every Tradewind process does the same way: JSON-line logs, and a graceful stop on SIGTERM or SIGINT.

use tracing::{error, info};

use crate::flow::Shutdown;

/// Triggers `shutdown` on SIGTERM or SIGINT: flows stop fetching and finish what is in flight.
pub async fn stop_on_signal(shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot listen for SIGTERM; stop with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: finishing the messages in flight"),
        _ = int.recv() => info!("SIGINT: finishing the messages in flight"),
    }
    shutdown.trigger();
}

/// Logs to stderr at `level` (overridden by `RUST_LOG`), as JSON lines unless `text`.
pub fn init_logging(level: &str, text: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},async_nats=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if text {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}
