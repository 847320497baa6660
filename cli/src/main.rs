use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use cli::commands::{diff, dlq, render, status, trace, up, validate};
use cli::nats::NatsArgs;

/// Tradewind's command line: check manifests before they reach a cluster, and look inside a running
/// integration.
#[derive(Parser)]
#[command(name = "twctl", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check manifests as the API server and the operator would: schema, CEL rules, references between
    /// resources, limits against each channel's published quota.
    ///
    /// Example: twctl validate examples/ --output json
    Validate {
        /// Files or folders (searched recursively for .yaml and .yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: validate::Format,
    },
    /// Print the resources as the API server would store them, with defaults filled in.
    ///
    /// Example: twctl render examples/quickstart
    Render {
        /// Files or folders (searched recursively for .yaml and .yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The change impact of a pull request, as Markdown for a PR comment: the resources that change, the
    /// marketplaces and flows affected through references, and every changed mapping's output on sample
    /// records before and after. Exits 1 when the "after" side is invalid.
    ///
    /// Examples:
    ///   twctl diff old-examples/ examples/
    ///   twctl diff origin/main HEAD --path examples/     (two git revisions of one folder)
    Diff {
        /// A folder, or a git revision.
        before: String,
        /// A folder, or a git revision.
        after: String,
        /// With git revisions: the folder inside the repository.
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// A folder of sample records: `<flow>.json` (canonical, for outbound mappings) and
        /// `<channel>/<flow>.json` (channel payloads, for inbound mappings).
        #[arg(long)]
        samples: Option<PathBuf>,
    },
    /// The local mode: NATS, the demo ERP and its bridge, a sandbox per marketplace and the adapters, all on
    /// this machine, driven by a scenario, with live progress and a summary with a consistency check.
    ///
    /// Reuses a NATS on 127.0.0.1:4222 when it is recent enough, else starts one; needs PostgreSQL for the
    /// demo ERP (./scripts/setup.sh provides both). Marketplaces without spec.endpoint.baseUrl run against
    /// their channel's sandbox. Exits 1 when the consistency check fails.
    ///
    /// Examples:
    ///   twctl up examples/quickstart
    ///   twctl up examples/quickstart --scenario chaos --duration 2m --summary summary.json
    Up {
        /// The folder of manifests to run.
        #[arg(default_value = "examples/quickstart")]
        folder: PathBuf,
        /// steady: a stock change a second, an order every 3 s per marketplace; flash-sale: 10 orders a
        /// second for half the run; chaos: steady with marketplace faults and an adapter killed mid-run.
        #[arg(long, value_enum, default_value_t)]
        scenario: up::Scenario,
        /// How long the scenario runs (60s, 2m); until Ctrl-C when absent. The drain follows.
        #[arg(long, value_parser = up::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Write the summary as JSON to this file (schema: docs/local-mode.md).
        #[arg(long)]
        summary: Option<PathBuf>,
        /// Use this NATS server instead of finding or starting one.
        #[arg(long, env = "TRADEWIND_NATS_URL")]
        nats_url: Option<String>,
    },
    /// Print the CustomResourceDefinitions, ready for `kubectl apply -f -`.
    Crds,
    /// Show, per marketplace and flow, what waits, what is in flight, dead letters and the last success,
    /// then each adapter replica's readiness and throttled calls. Reads NATS; works locally and in a cluster
    /// (port-forward the NATS service).
    ///
    /// Example: twctl status -n tradewind-demo --nats-url nats://127.0.0.1:4222
    Status {
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// List, show and replay dead letters.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Show one business transaction's timeline (received, posted to the ERP, shipped, confirmed, settled)
    /// and its dead letters.
    ///
    /// Example: twctl trace amazon-us:113-5512345-1234567 -n tradewind-demo
    Trace {
        /// The correlation id (for an order: `<marketplace>:<order id>`).
        id: String,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Print a shell completion script.
    ///
    /// Example: twctl completions bash > /etc/bash_completion.d/twctl
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters, oldest first.
    ///
    /// Example: twctl dlq list -n tradewind-demo --marketplace amazon-us --flow orders --since 2h
    List {
        #[command(flatten)]
        filter: dlq::Filter,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Show one dead letter in full: subject, reason, headers, payload.
    ///
    /// Example: twctl dlq show 42 -n tradewind-demo
    Show {
        sequence: u64,
        #[command(flatten)]
        nats: NatsArgs,
    },
    /// Republish dead letters to where they came from, by sequence or every one a filter matches. Replaying
    /// twice is harmless: a replayed dead letter is gone, and JetStream drops a duplicate publish.
    ///
    /// Example: twctl dlq replay --all --marketplace walmart-us --reason timeout -n tradewind-demo
    Replay {
        /// Sequences to replay.
        sequences: Vec<u64>,
        /// Replay every dead letter the filter matches.
        #[arg(long, conflicts_with = "sequences")]
        all: bool,
        #[command(flatten)]
        filter: dlq::Filter,
        #[command(flatten)]
        nats: NatsArgs,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("twctl: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::Validate { paths, output } => {
            let report = validate::run(&paths)?;
            stdout.write_all(validate::render_report(&report, output)?.as_bytes())?;
            Ok(if report.is_valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Render { paths } => {
            stdout.write_all(render::run(&paths)?.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            before,
            after,
            path,
            samples,
        } => {
            let report = diff::run(&before, &after, &path, samples.as_deref())?;
            stdout.write_all(report.markdown.as_bytes())?;
            Ok(if report.after_valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Up {
            folder,
            scenario,
            duration,
            summary,
            nats_url,
        } => {
            let summary = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(up::run(up::Options {
                    folder,
                    scenario,
                    duration,
                    nats_url,
                    summary_file: summary,
                }))?;
            stdout.write_all(up::render(&summary).as_bytes())?;
            Ok(if summary.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Status { nats } => {
            stdout.write_all(block_on(status::run(&nats))?.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq(command) => run_dlq(command, &mut stdout),
        Command::Trace { id, nats } => {
            let (text, found) = block_on(trace::run(&nats, &id))?;
            stdout.write_all(text.as_bytes())?;
            Ok(if found {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "twctl", &mut stdout);
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds => {
            for crd in crds::generated::all() {
                stdout.write_all(format!("---\n{}", crds::generated::to_yaml(&crd)?).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_dlq(command: DlqCommand, stdout: &mut impl Write) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List { filter, nats } => {
            let letters = block_on(dlq::list(&nats, &filter))?;
            stdout.write_all(dlq::render_list(&letters).as_bytes())?;
        }
        DlqCommand::Show { sequence, nats } => {
            let letters = block_on(dlq::list(&nats, &dlq::Filter::default()))?;
            match letters.iter().find(|d| d.sequence == sequence) {
                Some(letter) => stdout.write_all(dlq::render_one(letter).as_bytes())?,
                None => {
                    eprintln!("twctl: no dead letter {sequence} (already replayed, or expired)");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        DlqCommand::Replay {
            sequences,
            all,
            filter,
            nats,
        } => {
            let sequences = if all {
                block_on(dlq::list(&nats, &filter))?
                    .iter()
                    .map(|d| d.sequence)
                    .collect()
            } else {
                sequences
            };
            if sequences.is_empty() {
                anyhow::bail!("nothing to replay: give sequences, or --all with filters");
            }
            stdout.write_all(block_on(dlq::replay(&nats, &sequences))?.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one command's I/O on a small runtime; twctl's commands are short-lived.
fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
