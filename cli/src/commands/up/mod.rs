//! `twctl up <folder>`: the local mode. Validates the manifests, finds or starts NATS, starts the demo ERP and
//! its bridge, a sandbox for each marketplace without an explicit endpoint, and an adapter per marketplace —
//! in-process, from the same resolved configuration the operator renders — then drives a scenario, shows
//! progress, drains, and prints (and optionally writes) a summary with a consistency check.

mod check;
mod infra;
mod order_clock;
mod platform;
mod scenario;
mod schedules;
mod summary;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use adapter_runtime::config::NatsSettings;
use adapter_runtime::jetstream::DeadLetterStore;
use adapter_runtime::topology::Namespace;
use anyhow::{Context, bail};
use crds::manifest::load_paths;
use crds::schema::SchemaSet;
use crds::validation::validate;
use sandbox::{Fault, FaultPlan};

pub use scenario::Scenario;
pub use summary::Summary;

use order_clock::OrderClock;
use platform::{LocalErp, LocalMarketplace};
use schedules::LocalSchedules;
use summary::{Consistency, FlowSummary, MarketplaceSummary, percentile};

/// What `twctl up` was asked to do.
pub struct Options {
    pub folder: PathBuf,
    pub scenario: Scenario,
    /// How long the scenario runs; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    pub nats_url: Option<String>,
    pub summary_file: Option<PathBuf>,
}

/// How long the drain may take before the summary reports what is still inconsistent.
const DRAIN_LIMIT: Duration = Duration::from_secs(90);

pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let say = |line: String| eprintln!("{line}");
    let schemas = SchemaSet::generated()?;
    let (documents, load_errors) = load_paths(std::slice::from_ref(&options.folder));
    if let Some(e) = load_errors.first() {
        bail!("{}:{}: {}", e.source.file, e.source.line, e.message);
    }
    let mut report = validate(documents, &schemas);
    if !report.is_valid() {
        let lines: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        bail!("the manifests are invalid:\n{}", lines.join("\n"));
    }
    say(format!(
        "✔ {} Tradewind resources in {} are valid",
        report.items.len(),
        options.folder.display()
    ));

    // Each run has its own namespace on NATS, so that a reused server's streams, consumers and
    // de-duplication windows from an earlier run never meet this one's (a new demo ERP numbers its outbox
    // rows from 1 again).
    let run_id = format!(
        "{:06x}",
        std::process::id() ^ (chrono::Utc::now().timestamp_subsec_micros())
    );
    for item in &mut report.items {
        item.namespace = format!("{}-{run_id}", item.namespace);
    }
    let nats = infra::nats(options.nats_url.as_deref()).await?;
    say(format!("✔ NATS: {}", nats.describe()));
    let database = infra::demo_database().await?;
    say(format!(
        "✔ PostgreSQL: database {} for the demo ERP",
        database.name()
    ));
    let work = tempfile::Builder::new().prefix("tradewind-up-").tempdir()?;
    let nats_settings = NatsSettings {
        url: nats.url(),
        credentials_file: None,
        tls_ca_file: None,
    };
    let secrets = platform::secrets(&report.others, &run_id);
    let erps = platform::start_erps(
        &report.items,
        &secrets,
        database.url(),
        &nats_settings,
        work.path(),
    )
    .await?;
    for erp in &erps {
        for sku in scenario::SKUS {
            erp.erp
                .add_item(
                    sku,
                    &format!("Demo item {sku}"),
                    &scenario::price_of(sku),
                    "USD",
                    &[("DAL", 40), ("RNO", 10)],
                )
                .await?;
        }
        say(format!(
            "✔ demo ERP for ErpConnection/{} at {} ({} items), bridge started",
            erp.name,
            erp.erp.url(),
            scenario::SKUS.len()
        ));
    }
    // Orders are checked against the ERP's catalogue as published: wait for it before buyers arrive.
    let published = Instant::now() + Duration::from_secs(30);
    for erp in &erps {
        while erp.erp.unsent_outbox_rows().await? > 0 {
            if Instant::now() > published {
                bail!(
                    "the bridge of ErpConnection/{} did not publish the demo catalogue within 30 s",
                    erp.name
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let namespaces: std::collections::BTreeSet<&str> =
        report.items.iter().map(|i| i.namespace.as_str()).collect();
    say(format!(
        "✔ ERP catalogue published; namespaces on NATS: {} (twctl status -n <namespace> --nats-url {})",
        namespaces.into_iter().collect::<Vec<_>>().join(", "),
        nats.url()
    ));
    let (mut marketplaces, skipped) =
        platform::prepare_marketplaces(&report.items, &secrets, &nats_settings, work.path())
            .await?;
    for line in &skipped {
        say(format!("! {line}"));
    }
    if marketplaces.is_empty() {
        bail!("no marketplace can run locally");
    }
    for m in &mut marketplaces {
        m.start_adapter();
        let endpoint = m
            .sandbox
            .as_ref()
            .map_or("its own endpoint".to_string(), |s| {
                format!("the {} sandbox at {}", m.channel, s.url())
            });
        say(format!(
            "✔ adapter for Marketplace/{} on {endpoint}",
            m.name
        ));
    }

    let running: Vec<(String, String)> = marketplaces
        .iter()
        .map(|m| (m.namespace.clone(), m.name.clone()))
        .collect();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await?);
    let mut schedules = LocalSchedules::new(js, &report.items, &running, chrono::Utc::now());
    say(format!(
        "✔ {} SyncSchedule(s) armed: fired when due, and each requested once during the run",
        schedules.len()
    ));

    let started = Instant::now();
    let mut seen = Observations::default();
    drive(
        &options,
        &erps,
        &mut marketplaces,
        &mut schedules,
        &mut seen,
        started,
    )
    .await?;
    say("… draining: waiting until every change, order and sync run has arrived".to_string());
    let consistency = drain(&erps, &marketplaces, &schedules, &mut seen.orders).await?;
    let elapsed = started.elapsed();
    let summary = summarise(
        &options,
        &marketplaces,
        &nats,
        &seen,
        consistency,
        schedules.summaries().await,
        elapsed,
    )
    .await?;
    for m in &mut marketplaces {
        m.stop().await;
    }
    for erp in erps {
        erp.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(10), erp.bridge).await;
    }
    if let Some(path) = &options.summary_file {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing --summary {}", path.display()))?;
    }
    Ok(summary)
}

/// What the run saw happen, for the latencies: each stock change made in the ERP (SKU, when), and each order's
/// placement and arrival.
#[derive(Default)]
struct Observations {
    stock_log: Vec<(String, Instant)>,
    orders: OrderClock,
}

/// Runs the scenario until its duration or Ctrl-C, printing progress.
async fn drive(
    options: &Options,
    erps: &[LocalErp],
    marketplaces: &mut [LocalMarketplace],
    schedules: &mut LocalSchedules,
    seen: &mut Observations,
    started: Instant,
) -> anyhow::Result<()> {
    let total = options
        .duration
        .unwrap_or(Duration::from_secs(u64::MAX / 4));
    let scenario = options.scenario;
    let mut rng = rand::rng();
    let mut next_stock = Duration::ZERO;
    let mut next_price = scenario::PRICE_EVERY;
    let mut next_order = Duration::ZERO;
    let mut placed: u64 = 0;
    let mut next_progress = Duration::from_secs(5);
    let mut chaos_faults_planned = false;
    let mut next_schedule_tick = Duration::ZERO;
    // A third into the run (10 s when it runs until Ctrl-C), every schedule is requested once.
    let request_at = options.duration.map_or(Duration::from_secs(10), |d| d / 3);
    let mut requested = false;
    let mut killed: Option<Duration> = None;
    let tty = std::io::stderr().is_terminal();
    let spinner = tty.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let elapsed = started.elapsed();
        if elapsed >= total {
            break;
        }
        if elapsed >= next_stock {
            let (sku, on_hand) = scenario::stock_change(&mut rng);
            for erp in erps {
                erp.erp.set_stock(sku, "DAL", on_hand).await?;
            }
            seen.stock_log.push((sku.to_string(), Instant::now()));
            next_stock = elapsed + scenario.stock_every();
        }
        if elapsed >= next_price {
            let (sku, price) = scenario::price_change(&mut rng);
            for erp in erps {
                erp.erp.set_price(sku, &price).await?;
            }
            next_price = elapsed + scenario::PRICE_EVERY;
        }
        if elapsed >= next_order {
            for m in marketplaces.iter() {
                if let Some(sandbox) = &m.sandbox {
                    let (sku, quantity) = scenario::order(&mut rng);
                    if let Some(id) = sandbox.place_order(sku, quantity, &scenario::price_of(sku)) {
                        placed += 1;
                        // Some buyers change their mind at once, before the channel's order is ever read.
                        if placed.is_multiple_of(scenario::CANCEL_ONE_IN)
                            && sandbox.cancel_order(&id)
                        {
                            continue;
                        }
                        seen.orders.placed(&m.name, id);
                    }
                }
            }
            next_order = elapsed + scenario.order_every(elapsed, total);
        }
        for erp in erps {
            seen.orders.seen(&erp.erp.sales_orders().await?);
        }
        if elapsed >= next_schedule_tick {
            let now = chrono::Utc::now();
            let mut lines = schedules.tick(now).await?;
            if !requested && elapsed >= request_at {
                lines.extend(schedules.request_all(now).await?);
                requested = true;
            }
            for line in lines {
                match &spinner {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            next_schedule_tick = elapsed + Duration::from_secs(1);
        }
        if scenario == Scenario::Chaos {
            if !chaos_faults_planned && elapsed >= total / 4 {
                for m in marketplaces.iter() {
                    if let Some(sandbox) = &m.sandbox {
                        plan_chaos(sandbox.controls());
                    }
                }
                chaos_faults_planned = true;
            }
            if killed.is_none() && elapsed >= total / 2 {
                if let Some(m) = marketplaces.first_mut() {
                    m.kill();
                    eprintln!("✘ chaos: killed the adapter of Marketplace/{}", m.name);
                }
                killed = Some(elapsed);
            }
            if let Some(at) = killed
                && elapsed >= at + Duration::from_secs(2)
                && let Some(m) = marketplaces.first_mut()
                && m.adapter.is_none()
            {
                m.start_adapter();
                eprintln!("✔ chaos: restarted the adapter of Marketplace/{}", m.name);
            }
        }
        if elapsed >= next_progress || spinner.is_some() {
            let line = progress_line(erps, marketplaces).await;
            match &spinner {
                Some(bar) => bar.set_message(format!("{:>4}s  {line}", elapsed.as_secs())),
                None => eprintln!("{:>4}s  {line}", elapsed.as_secs()),
            }
            next_progress = elapsed + Duration::from_secs(5);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut ctrl_c => break,
        }
    }
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    // An adapter killed near the end is back before the drain.
    for m in marketplaces.iter_mut().filter(|m| m.adapter.is_none()) {
        m.start_adapter();
    }
    Ok(())
}

fn plan_chaos(controls: &sandbox::Controls) {
    let throttle = Fault::Status {
        status: 429,
        body: r#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"#.into(),
        headers: vec![],
    };
    let unavailable = Fault::Status {
        status: 503,
        body: r#"{"errors":[{"code":"ServiceUnavailable","message":"Service temporarily unavailable","details":""}]}"#.into(),
        headers: vec![],
    };
    for (operation, fault, count) in [
        ("patchListingsItem", throttle.clone(), 3),
        ("patchListingsItem", unavailable.clone(), 2),
        ("searchOrders", unavailable, 1),
        ("confirmShipment", throttle, 1),
        ("patchListingsItem", Fault::Delay { millis: 31_000 }, 1),
    ] {
        controls.faults.plan(FaultPlan {
            operation: Some(operation.into()),
            fault,
            count,
        });
    }
}

async fn progress_line(erps: &[LocalErp], marketplaces: &[LocalMarketplace]) -> String {
    let mut erp_orders = 0;
    let mut erp_shipments = 0;
    for erp in erps {
        erp_orders += erp.erp.sales_orders().await.map(|o| o.len()).unwrap_or(0);
        erp_shipments += erp.erp.shipments().await.map(|s| s.len()).unwrap_or(0);
    }
    let parts: Vec<String> = marketplaces
        .iter()
        .filter_map(|m| {
            let progress = m.sandbox.as_ref()?.progress();
            Some(format!(
                "{}: {} updates, {} orders, {} shipped",
                m.name, progress.updates, progress.orders, progress.shipments
            ))
        })
        .collect();
    format!(
        "{} | ERP: {erp_orders} sales orders, {erp_shipments} shipments",
        parts.join(" | ")
    )
}

/// Waits until the run is consistent or the drain limit passes; returns the last check.
async fn drain(
    erps: &[LocalErp],
    marketplaces: &[LocalMarketplace],
    schedules: &LocalSchedules,
    orders: &mut OrderClock,
) -> anyhow::Result<Consistency> {
    let deadline = Instant::now() + DRAIN_LIMIT;
    loop {
        let settled = schedules.settled().await;
        let consistency = consistency(erps, marketplaces, schedules, orders).await?;
        if (consistency.is_consistent() && settled) || Instant::now() >= deadline {
            return Ok(consistency);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The consistency check of every marketplace with a sandbox against its ERP's snapshot, one channel's
/// snapshot at a time, and of every schedule's last run.
async fn consistency(
    erps: &[LocalErp],
    marketplaces: &[LocalMarketplace],
    schedules: &LocalSchedules,
    orders: &mut OrderClock,
) -> anyhow::Result<Consistency> {
    let runs = schedules.summaries().await;
    let mut out = Consistency::default();
    for (i, erp) in erps.iter().enumerate() {
        let snapshot = erp.erp.snapshot().await?;
        orders.seen(&snapshot.sales_orders);
        let of_this_erp = marketplaces.iter().filter_map(|m| {
            let sandbox = m.sandbox.as_ref()?;
            (m.config.spec.erp_connection_ref.name == erp.name).then(|| {
                let flows = &m.config.spec.flows;
                check::MarketplaceSnapshot {
                    name: &m.name,
                    inventory: flows.inventory.as_ref(),
                    prices: flows.price.is_some(),
                    returns: flows.returns.is_some(),
                    settlements: flows.settlements.is_some(),
                    channel: sandbox.snapshot(),
                }
            })
        });
        // Every schedule's runs are judged once, with the first ERP.
        let runs = if i == 0 { &runs[..] } else { &[] };
        out.merge(check::check(&snapshot, of_this_erp, runs));
        for (outcome, n) in snapshot.requests {
            *out.erp_requests.entry(outcome).or_default() += n;
        }
    }
    Ok(out)
}

async fn summarise(
    options: &Options,
    marketplaces: &[LocalMarketplace],
    nats: &infra::Nats,
    seen: &Observations,
    consistency: Consistency,
    schedules: Vec<schedules::ScheduleSummary>,
    elapsed: Duration,
) -> anyhow::Result<Summary> {
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await?);
    let mut out = Vec::new();
    for m in marketplaces {
        let Some(sandbox) = &m.sandbox else { continue };
        let recorder = &sandbox.controls().recorder;
        let progress = sandbox.progress();
        let mut latencies = inventory_latencies(recorder, sandbox, &seen.stock_log);
        let mut order_latencies = seen.orders.latencies(&m.name);
        let throttled = recorder
            .calls(None)
            .iter()
            .filter(|c| c.status == 429)
            .count() as u64;
        let dead_letters = DeadLetterStore::new(js.clone(), Namespace::new(&m.namespace))
            .list(Some(&m.name), None)
            .await
            .map(|l| l.len() as u64)
            .unwrap_or(0);
        out.push(MarketplaceSummary {
            name: m.name.clone(),
            channel: m.channel.to_string(),
            flows: vec![
                FlowSummary {
                    flow: "inventory + price".into(),
                    events: progress.updates,
                    p50_ms: percentile(&mut latencies, 50),
                    p99_ms: percentile(&mut latencies, 99),
                },
                FlowSummary {
                    flow: "orders".into(),
                    events: progress.orders,
                    p50_ms: percentile(&mut order_latencies, 50),
                    p99_ms: percentile(&mut order_latencies, 99),
                },
                FlowSummary {
                    flow: "shipments".into(),
                    events: progress.shipments,
                    p50_ms: None,
                    p99_ms: None,
                },
            ],
            throttled,
            dead_letters,
        });
    }
    let passed = consistency.is_consistent();
    Ok(Summary {
        scenario: options.scenario.name().to_string(),
        duration_seconds: elapsed.as_secs(),
        marketplaces: out,
        schedules,
        consistency,
        passed,
    })
}

/// From each stock change in the ERP to the next accepted patch of that SKU on the channel, in ms.
fn inventory_latencies(
    recorder: &sandbox::Recorder,
    sandbox: &platform::Sandbox,
    stock_log: &[(String, Instant)],
) -> Vec<u64> {
    let now_instant = Instant::now();
    let now = chrono::Utc::now();
    let patches: Vec<(String, chrono::DateTime<chrono::Utc>)> = sandbox
        .update_operations()
        .iter()
        .flat_map(|(op, status)| {
            recorder
                .calls(Some(op))
                .into_iter()
                .filter(move |c| c.status == *status)
        })
        .flat_map(|c| sandbox.updated_skus(&c).into_iter().map(move |s| (s, c.at)))
        .collect();
    let mut by_sku: BTreeMap<&str, Vec<chrono::DateTime<chrono::Utc>>> = BTreeMap::new();
    for (sku, at) in &patches {
        by_sku.entry(sku.as_str()).or_default().push(*at);
    }
    stock_log
        .iter()
        .filter_map(|(sku, changed)| {
            let changed_at = now - chrono::Duration::from_std(now_instant - *changed).ok()?;
            let first_after = by_sku
                .get(sku.as_str())?
                .iter()
                .filter(|t| **t >= changed_at)
                .min()?;
            u64::try_from((*first_after - changed_at).num_milliseconds()).ok()
        })
        .collect()
}

/// The SKU a recorded stock or price update is for: the last path segment (Amazon), the `sku` query
/// parameter or body field (Walmart).
fn updated_sku(call: &sandbox::RecordedCall) -> Option<String> {
    if let Some(query) = &call.query
        && let Some(sku) = query.split('&').find_map(|p| p.strip_prefix("sku="))
    {
        return Some(sku.to_string());
    }
    if let Some(sku) = call.body.get("sku").and_then(|s| s.as_str()) {
        return Some(sku.to_string());
    }
    call.path.rsplit('/').next().map(str::to_string)
}

/// The text summary, for the terminal.
pub fn render(summary: &Summary) -> String {
    summary::render(summary)
}

/// `--duration`: a Go-style duration (`90s`, `2m`, `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    text.parse::<kube::core::Duration>()
        .map(Into::into)
        .map_err(|e| format!("{text:?} is not a duration like 60s or 2m: {e}"))
}
