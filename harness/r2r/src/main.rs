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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // R2R_LOG: a level (`info`) or per-module levels (`r2r_core::build=debug,warn`).
    let filter: tracing_subscriber::filter::Targets = std::env::var("R2R_LOG")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::WARN)
        });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(filter)
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
