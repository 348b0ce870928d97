//! How a command that talks to the engine runs: the scenario's lock, the signals (SIGINT and
//! SIGTERM stop the children and remove the containers r2r started), the CPUs r2r keeps
//! itself off, the engine connected, and what an interrupted r2r left behind removed first.

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

use r2r_core::engine::{containers, DockerEngine, Engine};
use r2r_core::model::plan::Plan;
use r2r_core::results::files::{lock, ResultsLock};
use r2r_core::run::{self, Pipeline, Project};

use crate::args::Cli;
use crate::output::{self, Console};
use crate::setup::{keep_off, project, results_dir};

/// What an engine command works on: a plan (`Plan`), or maybe one (`Option<Plan>`).
pub(crate) trait Planned {
    /// The scenario the lock and the leftovers belong to.
    fn scenario(&self) -> Option<&str>;
}

impl Planned for Plan {
    fn scenario(&self) -> Option<&str> {
        Some(&self.scenario.name)
    }
}

impl Planned for Option<Plan> {
    fn scenario(&self) -> Option<&str> {
        self.as_ref().map(|plan| plan.scenario.name.as_str())
    }
}

/// The engine, the project, the plan and the console of an engine command.
pub(crate) struct Session<'a, P> {
    pub(crate) engine: &'a dyn Engine,
    pub(crate) project: &'a Project,
    pub(crate) plan: &'a P,
    pub(crate) console: &'a Console,
}

impl<'a> Session<'a, Plan> {
    /// The pipeline over the plan, reporting to the console.
    pub(crate) fn pipeline(&self) -> Pipeline<'a> {
        Pipeline {
            engine: self.engine,
            plan: self.plan,
            project: self.project,
            preparation: None,
            observer: self.console,
        }
    }
}

/// The command line as one line (what a scenario's lock names as its holder).
pub(crate) fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// The phases of [`on_engine`] before a signal (whose exit codes are 130 and 143).
const LOADING: u8 = 0;
const RUNNING: u8 = 1;

/// Runs `work` on the engine for the plan `load` makes, under the scenario's lock, with the
/// app containers' CPUs (`cpuset`) kept free of r2r; a signal stops it and removes what it
/// started. Returns the exit code.
pub(crate) async fn on_engine<P: Planned>(
    cli: &Cli,
    load: impl FnOnce(&Project) -> anyhow::Result<P>,
    cpuset: Option<&str>,
    work: impl AsyncFnOnce(Session<'_, P>) -> anyhow::Result<bool>,
) -> u8 {
    let project = match project(cli) {
        Ok(project) => project,
        Err(error) => return output::error(&error),
    };
    // Signals are taken from here on. While the plan loads (which may ask the NuGet feeds
    // through the .NET SDK) there is nothing to keep: the children are stopped and r2r exits.
    // Afterwards a signal goes to the select below, which also removes containers. `phase`:
    // LOADING, then RUNNING, or the exit code of the signal that stopped the loading.
    let phase = Arc::new(AtomicU8::new(LOADING));
    let (signalled, signal) = tokio::sync::oneshot::channel::<u8>();
    let handler_phase = Arc::clone(&phase);
    tokio::spawn(async move {
        let code = interrupted().await;
        if handler_phase
            .compare_exchange(LOADING, code, SeqCst, SeqCst)
            .is_ok()
        {
            let stopped = stop_children().await;
            eprintln!("interrupted: stopped {stopped} child process(es), removed 0 container(s); nothing was built or measured yet");
            std::process::exit(i32::from(code));
        }
        let _ = signalled.send(code);
    });
    // Scenario errors are reported before anything talks to the engine.
    let plan = load(&project);
    if phase
        .compare_exchange(LOADING, RUNNING, SeqCst, SeqCst)
        .is_err()
    {
        // A signal stopped the loading: its handler reports it and exits.
        std::future::pending::<()>().await;
    }
    let started = start(&project, plan, cpuset).await;
    let (plan, _lock, engine) = match started {
        Ok(started) => started,
        Err(error) => return output::error(&error),
    };
    let console = Console::new();
    let session = Session {
        engine: &engine,
        project: &project,
        plan: &plan,
        console: &console,
    };
    tokio::select! {
        result = work(session) => {
            // Whatever cut the work short left its counting cgroups: release them.
            containers::release_all_counters(&engine).await;
            output::exit_code(result)
        }
        Ok(code) = signal => {
            let stopped = stop_children().await;
            let removed = containers::remove_all_live(&engine).await;
            eprintln!("interrupted: stopped {stopped} child process(es), removed {removed} container(s); finished results are kept");
            code
        }
    }
}

/// The scenario's lock taken, the CPUs checked and kept, the engine connected and the
/// leftovers of an interrupted r2r removed.
async fn start<P: Planned>(
    project: &Project,
    plan: anyhow::Result<P>,
    cpuset: Option<&str>,
) -> anyhow::Result<(P, Option<ResultsLock>, DockerEngine)> {
    let plan = plan?;
    // One r2r at a time per scenario: a second one would share its images and results.
    let scenario_dir = plan
        .scenario()
        .map(|scenario| project.results.join(scenario));
    let lock = scenario_dir
        .map(|dir| lock(&dir, &command_line()))
        .transpose()?;
    if let Some(cpus) = cpuset {
        r2r_core::support::affinity::parse_cpu_list(cpus)?;
        keep_off(cpus);
    }
    let engine = DockerEngine::connect().await?;
    if let Some(scenario) = plan.scenario() {
        match run::remove_leftovers(&engine, scenario).await? {
            0 => {}
            removed => eprintln!("removed {removed} container(s) an interrupted r2r left behind"),
        }
    }
    for swept in run::remove_leftover_counters(&engine).await? {
        eprintln!("{}", swept.describe());
    }
    Ok((plan, lock, engine))
}

/// Runs `work` on the engine under `scenario`'s lock (for a run of it); a signal removes the
/// containers it started and ends it with an error.
pub(crate) async fn on_run_engine<T>(
    cli: &Cli,
    scenario: &str,
    work: impl AsyncFnOnce(&DockerEngine) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let _lock = lock(&results_dir(cli)?.join(scenario), &command_line())?;
    let engine = DockerEngine::connect().await?;
    tokio::select! {
        result = work(&engine) => result,
        code = interrupted() => {
            let removed = containers::remove_all_live(&engine).await;
            anyhow::bail!("interrupted ({code}): removed {removed} container(s)");
        }
    }
}

async fn stop_children() -> usize {
    tokio::task::spawn_blocking(|| {
        r2r_core::support::children::terminate_all(std::time::Duration::from_secs(5))
    })
    .await
    .unwrap_or(0)
}

/// Resolves on SIGINT (130) or SIGTERM (143).
async fn interrupted() -> u8 {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => 130,
        _ = terminate.recv() => 143,
    }
}
