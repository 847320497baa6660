//! tradewind-operator: reconciles Tradewind resources into adapters and JetStream topology.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use adapter_runtime::flow::Shutdown;
use axum::Router;
use axum::routing::get;
use clap::Parser;
use kube::runtime::events::{Recorder, Reporter};
use operator::controller::{Context, run::run_namespaces};
use operator::leader::{LeaderElector, LeaseSettings};
use operator::metrics::Metrics;
use operator::settings::{NatsConnection, NatsOverrides, RenderSettings};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// NATS URL(s) adapters and bridges connect to (chart value `nats.url`).
    #[arg(long, env = "TRADEWIND_NATS_URL")]
    nats_url: String,
    /// Secret (in each workload's namespace) holding `nats.creds`.
    #[arg(long, env = "TRADEWIND_NATS_CREDENTIALS_SECRET")]
    nats_credentials_secret: Option<String>,
    /// Secret (in each workload's namespace) holding `ca.crt`.
    #[arg(long, env = "TRADEWIND_NATS_TLS_CA_SECRET")]
    nats_tls_ca_secret: Option<String>,
    /// The chart's per-namespace NATS settings (`nats.yaml`: `default` and `namespaces`); absent file: the
    /// `--nats-*` flags apply everywhere.
    #[arg(long, env = "TRADEWIND_NATS_OVERRIDES")]
    nats_overrides: Option<std::path::PathBuf>,
    /// Provision streams and consumers from the operator (it connects to `--nats-url`).
    #[arg(long, env = "TRADEWIND_PROVISION_JETSTREAM", default_value_t = true)]
    provision_jetstream: bool,
    #[arg(
        long,
        env = "TRADEWIND_ADAPTER_IMAGE",
        default_value = "ghcr.io/tradewind-dev/tradewind:latest"
    )]
    adapter_image: String,
    #[arg(
        long,
        env = "TRADEWIND_BRIDGE_IMAGE",
        default_value = "ghcr.io/tradewind-dev/tradewind:latest"
    )]
    bridge_image: String,
    /// Where `/metrics`, `/healthz`, `/readyz` are served.
    #[arg(long, env = "TRADEWIND_HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    http_address: String,
    /// Seconds between periodic resyncs of every resource.
    #[arg(long, env = "TRADEWIND_RESYNC_SECONDS", default_value_t = 300)]
    resync_seconds: u64,
    /// Namespaces to reconcile, comma-separated (chart: watchNamespaces); empty: every namespace.
    #[arg(
        long,
        env = "TRADEWIND_WATCH_NAMESPACES",
        default_value = "",
        value_delimiter = ','
    )]
    watch_namespaces: Vec<String>,
    /// Only the holder of a Lease reconciles; other replicas wait to take over (chart: leaderElection.enabled).
    #[arg(long, env = "TRADEWIND_LEADER_ELECTION", default_value_t = false)]
    leader_election: bool,
    #[arg(
        long,
        env = "TRADEWIND_LEASE_NAME",
        default_value = "tradewind-operator"
    )]
    lease_name: String,
    /// Namespace of the Lease (the operator's own, from the downward API).
    #[arg(
        long,
        env = "TRADEWIND_LEASE_NAMESPACE",
        default_value = "tradewind-system"
    )]
    lease_namespace: String,
    #[arg(long, env = "TRADEWIND_LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    #[arg(
        long,
        env = "TRADEWIND_LEASE_RENEW_DEADLINE_SECONDS",
        default_value_t = 10
    )]
    lease_renew_deadline_seconds: u64,
    /// Pod name, for Events (downward API); also this replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    adapter_runtime::service::init_logging("info", false);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tradewind-operator: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "tradewind-operator stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("kubernetes client: {e}"))?;
    let nats = NatsConnection {
        url: args.nats_url.clone(),
        credentials_secret: args.nats_credentials_secret.clone(),
        tls_ca_secret: args.nats_tls_ca_secret.clone(),
    };
    let nats_overrides = match &args.nats_overrides {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--nats-overrides {}: {e}", path.display()))?;
            NatsOverrides::parse(&text)?
        }
        _ => NatsOverrides::default(),
    };
    let jetstream = if args.provision_jetstream {
        let nc = async_nats::connect(&args.nats_url)
            .await
            .map_err(|e| format!("NATS {}: {e}", args.nats_url))?;
        Some(async_nats::jetstream::new(nc))
    } else {
        None
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "tradewind-operator".into(),
            instance: args.pod_name.clone(),
        },
    );
    let ctx = Arc::new(Context {
        client,
        settings: RenderSettings {
            adapter_image: args.adapter_image,
            bridge_image: args.bridge_image,
            nats,
        },
        nats_overrides,
        jetstream,
        recorder,
        resync: std::time::Duration::from_secs(args.resync_seconds),
    });
    let metrics = Arc::new(Metrics::default());
    let shutdown = Shutdown::new();
    let listener = tokio::net::TcpListener::bind(&args.http_address)
        .await
        .map_err(|e| format!("--http-address {}: {e}", args.http_address))?;
    let m = metrics.clone();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move { m.encode() }
            }),
        );
    let http_stop = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { http_stop.triggered().await })
            .await
    });
    tokio::spawn(adapter_runtime::service::stop_on_signal(shutdown.clone()));
    let namespaces: Vec<String> = args
        .watch_namespaces
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if !args.leader_election {
        run_namespaces(ctx, metrics, shutdown, &namespaces).await;
        let _ = http.await;
        return Ok(());
    }
    let identity = args
        .pod_name
        .clone()
        .unwrap_or_else(|| format!("tradewind-operator-{}", std::process::id()));
    let elector = Arc::new(LeaderElector::new(
        ctx.client.clone(),
        LeaseSettings {
            name: args.lease_name.clone(),
            namespace: args.lease_namespace.clone(),
            identity,
            lease_duration: Duration::from_secs(args.lease_duration_seconds),
            renew_deadline: Duration::from_secs(args.lease_renew_deadline_seconds),
            retry_period: Duration::from_secs((args.lease_renew_deadline_seconds / 4).max(1)),
        },
    ));
    tracing::info!(lease = %args.lease_name, "waiting for the lease");
    if !elector.acquire(&shutdown).await {
        let _ = http.await;
        return Ok(());
    }
    tracing::info!("leading: reconciling");
    // The controllers stop on a signal or when the lease is lost, whichever comes first.
    let work = Shutdown::new();
    let holder = {
        let (elector, shutdown, work) = (elector.clone(), shutdown.clone(), work.clone());
        tokio::spawn(async move {
            let graceful = elector.hold(&shutdown).await;
            work.trigger();
            graceful
        })
    };
    run_namespaces(ctx, metrics, work, &namespaces).await;
    let graceful = holder.await.unwrap_or(false);
    if graceful && let Err(e) = elector.release().await {
        tracing::warn!(error = %e, "lease not released; it expires by itself");
    }
    shutdown.trigger();
    let _ = http.await;
    if graceful {
        Ok(())
    } else {
        // Exit non-zero: the pod restarts as a candidate, with no reconcile state from its time as leader.
        Err("leadership lost".into())
    }
}
