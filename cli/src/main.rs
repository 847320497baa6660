use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::commands::{render, validate};

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
    /// Print the CustomResourceDefinitions, ready for `kubectl apply -f -`.
    Crds,
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
        Command::Crds => {
            for crd in crds::generated::all() {
                stdout.write_all(format!("---\n{}", crds::generated::to_yaml(&crd)?).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
