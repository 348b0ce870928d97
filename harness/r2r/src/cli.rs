//! The commands: arguments mapped to the library's pipeline, its outcomes rendered.

use std::sync::Arc;

use r2r_core::engine::{containers, DockerEngine, Engine};
use r2r_core::inspect::verify::VerifyOptions;
use r2r_core::model::plan::Plan;
use r2r_core::run::{self, Measurement, Pipeline, Project, RunSettings};

pub use crate::args::Cli;
use crate::args::{CacheArg, Command, MeasureCommand};
use crate::images::{diff, measure_archive};
use crate::setup::{find_root, keep_off, load_plan, project, results_dir};
use crate::{commands, output};

fn exit(result: anyhow::Result<bool>) -> u8 {
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(error) => output::error(&error),
    }
}

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    if let Some(code) = crate::nightly::dispatch(&cli).await {
        return code;
    }
    // Commands that read run directories, and an archive, need neither the experiment catalog
    // nor an engine.
    let offline = match &cli.command {
        Command::Report(arguments) => {
            Some(results_dir(&cli).and_then(|r| commands::report_command(&r, arguments)))
        }
        Command::Plot(arguments) => {
            Some(results_dir(&cli).and_then(|r| commands::plot_command(&r, arguments)))
        }
        Command::Compare(arguments) if arguments.paired_runs.is_none() => {
            Some(results_dir(&cli).and_then(|results| {
                commands::compare_command(
                    &results,
                    || find_root(cli.root.clone()),
                    arguments,
                    Vec::new(),
                )
            }))
        }
        Command::Merge(arguments) => {
            Some(results_dir(&cli).and_then(|r| commands::merge_command(&r, arguments)))
        }
        Command::Measure(MeasureCommand::Sizes(arguments)) => arguments
            .archive
            .as_ref()
            .map(|archive| measure_archive(archive, arguments.output.clone()).map(|()| true)),
        _ => None,
    };
    if let Some(result) = offline {
        return exit(result);
    }
    // Commands that read a run directory and need the engine.
    if let Command::Compare(_) | Command::KeepBaseline(_) = &cli.command {
        return exit(with_run_and_engine(&cli).await);
    }
    let project = match project(&cli) {
        Ok(project) => project,
        Err(error) => return output::error(&error),
    };
    if let Command::Plan(arguments) = &cli.command {
        return match load_plan(&project, &arguments.scenario, arguments.platform) {
            Ok(plan) if arguments.json => output::json(&plan),
            Ok(plan) => {
                print!("{}", plan.describe());
                0
            }
            Err(error) => output::error(&error),
        };
    }
    if let Command::Diff(arguments) = &cli.command {
        // Reads two images only: no lock, so it works beside a running measurement.
        return exit(diff(&project, arguments).await);
    }
    // Signals are taken from here on. While the plan loads (which may ask the NuGet feeds
    // through the .NET SDK) there is nothing to keep: the children are stopped and r2r exits.
    // Afterwards a signal goes to the select below, which also removes containers.
    // `phase`: None while loading, Some(None) once running, Some(Some(code)) when a signal
    // stopped the loading.
    let phase: Arc<std::sync::Mutex<Option<Option<u8>>>> = Arc::new(std::sync::Mutex::new(None));
    let (signalled, signal) = tokio::sync::oneshot::channel::<u8>();
    {
        let phase = Arc::clone(&phase);
        tokio::spawn(async move {
            let code = interrupted().await;
            let loading = {
                let mut phase = phase
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if phase.is_none() {
                    *phase = Some(Some(code));
                    true
                } else {
                    false
                }
            };
            if loading {
                let stopped = tokio::task::spawn_blocking(|| {
                    r2r_core::support::children::terminate_all(std::time::Duration::from_secs(5))
                })
                .await
                .unwrap_or(0);
                eprintln!("interrupted: stopped {stopped} child process(es), removed 0 container(s); nothing was built or measured yet");
                std::process::exit(i32::from(code));
            }
            let _ = signalled.send(code);
        });
    }
    // Scenario errors are reported before anything talks to the engine.
    let plan = match &cli.command {
        Command::Build(a) => Some(load_plan(&project, &a.scenario, a.platform)),
        Command::Run(a) => Some(load_plan(&project, &a.build.scenario, a.build.platform)),
        Command::Verify(a) => Some(load_plan(&project, &a.scenario, a.platform)),
        Command::Clean(a) => a
            .scenario
            .as_ref()
            .map(|s| load_plan(&project, s, a.platform)),
        Command::Measure(MeasureCommand::Sizes(a)) => a
            .scenario
            .as_ref()
            .map(|s| load_plan(&project, s, a.platform)),
        Command::Measure(MeasureCommand::Startup(a)) => {
            Some(load_plan(&project, &a.scenario, a.platform))
        }
        Command::Plan(_)
        | Command::Report(_)
        | Command::Plot(_)
        | Command::Compare(_)
        | Command::Merge(_)
        | Command::KeepBaseline(_)
        | Command::Nightly(_)
        | Command::NightlyMerge(_)
        | Command::Show(_)
        | Command::CompareEngines(_)
        | Command::Diff(_) => None,
    };
    let stopped_by_signal = {
        let mut phase = phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if phase.is_some() {
            true
        } else {
            *phase = Some(None);
            false
        }
    };
    if stopped_by_signal {
        // A signal stopped the loading: its handler reports it and exits.
        std::future::pending::<()>().await;
    }
    let plan = match plan.transpose() {
        Ok(plan) => plan,
        Err(error) => return output::error(&error),
    };
    // One r2r at a time per scenario: a second one would share its images and results.
    let _lock = match &plan {
        Some(plan) => match r2r_core::results::files::lock(
            &project.results.join(&plan.scenario.name),
            &std::env::args().collect::<Vec<_>>().join(" "),
        ) {
            Ok(lock) => Some(lock),
            Err(error) => return output::error(&anyhow::Error::new(error)),
        },
        None => None,
    };
    let cpuset = match &cli.command {
        Command::Run(a) => a.placement.cpuset.as_deref(),
        Command::Measure(MeasureCommand::Startup(a)) => a.placement.cpuset.as_deref(),
        _ => None,
    };
    if let Some(cpus) = cpuset {
        if let Err(error) = r2r_core::support::affinity::parse_cpu_list(cpus) {
            return output::error(&anyhow::Error::new(error));
        }
        keep_off(cpus);
    }
    let engine: Arc<dyn Engine> = match DockerEngine::connect().await {
        Ok(engine) => Arc::new(engine),
        Err(error) => return output::error(&anyhow::Error::new(error)),
    };
    if let Some(plan) = &plan {
        match run::remove_leftovers(engine.as_ref(), &plan.scenario.name).await {
            Ok(0) => {}
            Ok(removed) => {
                eprintln!("removed {removed} container(s) an interrupted r2r left behind")
            }
            Err(error) => return output::error(&anyhow::Error::new(error)),
        }
    }
    let work = with_engine(&cli, &project, plan, engine.as_ref());
    tokio::select! {
        result = work => {
            // Whatever cut the work short left its counting cgroups: release them.
            containers::release_all_counters(engine.as_ref()).await;
            exit(result)
        }
        Ok(code) = signal => {
            let stopped = tokio::task::spawn_blocking(|| r2r_core::support::children::terminate_all(std::time::Duration::from_secs(5))).await.unwrap_or(0);
            let removed = containers::remove_all_live(engine.as_ref()).await;
            eprintln!("interrupted: stopped {stopped} child process(es), removed {removed} container(s); finished results are kept");
            code
        }
    }
}

/// `compare --paired-runs` and `keep-baseline`: a run directory and the engine, under the
/// scenario's lock.
async fn with_run_and_engine(cli: &Cli) -> anyhow::Result<bool> {
    let results = results_dir(cli)?;
    let select = match &cli.command {
        Command::Compare(arguments) => &arguments.select,
        Command::KeepBaseline(arguments) => &arguments.select,
        _ => unreachable!("only compare and keep-baseline"),
    };
    let directory = r2r_core::results::runs::resolve_run(
        &results,
        select.scenario.as_deref(),
        select.run.as_deref(),
    )?;
    let scenario = r2r_core::results::run_record::load(&directory, None)?.scenario;
    let _lock = r2r_core::results::files::lock(
        &results.join(&scenario),
        &std::env::args().collect::<Vec<_>>().join(" "),
    )?;
    let engine = DockerEngine::connect().await?;
    match &cli.command {
        Command::Compare(arguments) => {
            let work = commands::compare_paired(&engine, &results, arguments);
            let same_run = tokio::select! {
                result = work => result?,
                code = interrupted() => {
                    let removed = containers::remove_all_live(&engine).await;
                    anyhow::bail!("interrupted ({code}): removed {removed} container(s)");
                }
            };
            commands::compare_command(
                &results,
                || find_root(cli.root.clone()),
                arguments,
                same_run,
            )
        }
        Command::KeepBaseline(arguments) => {
            commands::keep_baseline(&engine, &results, arguments).await
        }
        _ => unreachable!("only compare and keep-baseline"),
    }
}

/// Resolves on SIGINT (130) or SIGTERM (143).
async fn interrupted() -> u8 {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => 130,
        _ = terminate.recv() => 143,
    }
}

async fn with_engine(
    cli: &Cli,
    project: &Project,
    plan: Option<Plan>,
    engine: &dyn Engine,
) -> anyhow::Result<bool> {
    let console = output::Console::new();
    if let Command::Clean(_) = &cli.command {
        let scenario = plan.as_ref().map(|plan| plan.scenario.name.as_str());
        let removed = run::clean(engine, scenario).await?;
        println!(
            "removed {} container(s) and {} image(s)",
            removed.containers, removed.images
        );
        return Ok(true);
    }
    let plan = plan.expect("every command that reaches the engine has its plan");
    let pipeline = Pipeline {
        engine,
        plan: &plan,
        project,
        preparation: None,
        observer: &console,
    };
    Ok(match &cli.command {
        Command::Build(arguments) => pipeline.build(arguments.rebuild).await?.0,
        Command::Verify(arguments) => {
            let options = VerifyOptions {
                run_timeout: std::time::Duration::from_secs(arguments.timeout),
                ..Default::default()
            };
            pipeline.verify(&options).await?.0
        }
        Command::Run(arguments) => {
            let (runs, precision, max_duration, max_runs) = arguments.startup_budget();
            let settings = RunSettings {
                rebuild: arguments.build.rebuild,
                runs,
                warmup: arguments.warmup,
                seed: arguments.seed,
                resume: arguments.resume.clone(),
                caches: arguments.cache.map(CacheArg::caches),
                precision,
                max_duration,
                max_runs,
                only: arguments.only.clone(),
                cpuset: arguments.placement.cpuset.clone(),
                pause: arguments.placement.pause(),
                console_network: arguments.placement.network(),
                counters: !arguments.placement.no_counters,
                ..Default::default()
            };
            pipeline.run(&settings).await?
        }
        Command::Measure(MeasureCommand::Sizes(arguments)) => {
            let registry = arguments
                .registry
                .as_deref()
                .map(r2r_core::measure::registry::parse_address)
                .transpose()?;
            let measurement = Measurement::Sizes { registry };
            pipeline
                .measure_alone(arguments.output.as_deref(), measurement)
                .await?
        }
        Command::Measure(MeasureCommand::Startup(arguments)) => {
            let options = arguments.options();
            let measurement = Measurement::Startup(&options);
            pipeline
                .measure_alone(arguments.output.as_deref(), measurement)
                .await?
        }
        _ => unreachable!("handled before the engine is reached"),
    })
}
