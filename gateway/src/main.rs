//! The `fleetlog` binary: parse flags, set up logging, run the subcommand.

use clap::Parser;
use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{AdminCommand, Cli, Command};
use tracing_subscriber::EnvFilter;

// jemalloc, not glibc's malloc: sled copies tree nodes on every write, and with glibc the
// read models' first build took 1.4x the CPU and left 1.5x the RSS (bench/RESULTS.md,
// "Allocator"): its per-thread arenas fragment under the projections' blocking threads.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on, with the chain of causes.
            eprintln!("fleetlog: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
            let fmt = tracing_subscriber::fmt().with_env_filter(filter);
            if args.log_json {
                fmt.json().init()
            } else {
                fmt.init()
            }
            let app = Application::build(*args).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Tail(args) => fleetlog_gateway::logtools::tail(&args, &mut std::io::stdout()).await,
        Command::Replay(args) => fleetlog_gateway::logtools::replay(&args).await,
        Command::History(args) => fleetlog_gateway::logtools::history(&args, &mut std::io::stdout()).await,
        Command::Admin { command: AdminCommand::CreateUser { conn, email, password } } => {
            let id = fleetlog_gateway::admin::create_user(&conn, &email, &password).await?;
            // The id is the command's output, for scripts.
            #[allow(clippy::print_stdout)]
            {
                println!("{id}");
            }
            Ok(())
        }
        Command::Admin { command: AdminCommand::GenCert(args) } => {
            let written = fleetlog_gateway::tls::gencert::generate(&args)?;
            // The paths are the command's output.
            #[allow(clippy::print_stdout)]
            for path in written {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
