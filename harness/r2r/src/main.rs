//! `r2r`: builds, verifies and measures composite ReadyToRun .NET container images.
//!
//! Exit codes: 0 success, 1 something built or checked failed, 2 bad input or an error that
//! stopped the command, 130/143 interrupted (SIGINT/SIGTERM; containers are removed first).

mod args;
mod cli;
mod commands;
mod images;
mod nightly;
mod output;
mod session;
mod setup;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("R2R_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let arguments = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(cli::run(arguments));
    // Work still blocked on a stopped child or an engine that went away must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(code)
}
