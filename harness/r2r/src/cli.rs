//! What each command does: one `match` over [`Command`], each arm parsing nothing further,
//! calling the library (through an engine session where the command needs the engine) and
//! leaving the printing to [`crate::output`] and [`crate::commands`].

use r2r_core::inspect::verify::VerifyOptions;
use r2r_core::run::settings::StartupDefaults;
use r2r_core::run::{self, Project, StandaloneMeasurement as Measurement};

use crate::args::{Cli, Command, MeasureCommand};
use crate::commands;
use crate::images::{diff, measure_archive};
use crate::nightly;
use crate::output::{self, exit_code};
use crate::session::{on_engine, Session};
use crate::setup::load_plan;

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    let cli = &cli;
    match &cli.command {
        Command::Plan(arguments) => exit_code(commands::plan(cli, arguments)),
        Command::Build(arguments) => {
            let load = |p: &_| load_plan(p, &arguments.target);
            on_engine(cli, load, None, async |session: Session<'_, _>| {
                Ok(session.pipeline().build(arguments.rebuild).await?.0)
            })
            .await
        }
        Command::Verify(arguments) => {
            let options = VerifyOptions {
                run_timeout: std::time::Duration::from_secs(arguments.timeout),
                ..Default::default()
            };
            let load = |p: &_| load_plan(p, &arguments.target);
            on_engine(cli, load, None, async |session: Session<'_, _>| {
                Ok(session.pipeline().verify(&options).await?.0)
            })
            .await
        }
        Command::Run(arguments) => {
            let settings = arguments.settings();
            let load = |p: &Project| {
                let (scenario, app) = (arguments.scenario.as_deref(), arguments.app.as_deref());
                let scenario = commands::scenario_of(p, scenario, app, &arguments.app_request())?;
                Ok(p.load_plan(&scenario, arguments.platform)?)
            };
            let cpuset = settings.startup.cpuset.as_deref();
            on_engine(cli, load, cpuset, async |session: Session<'_, _>| {
                Ok(session.pipeline().run(&settings).await?)
            })
            .await
        }
        Command::Tune(arguments) => {
            let request = arguments.request();
            let load = |p: &Project| {
                let (scenario, app) = (arguments.scenario.as_deref(), arguments.app.as_deref());
                let scenario = commands::scenario_of(p, scenario, app, &arguments.app_request())?;
                Ok(p.load_plan(&scenario, None)?)
            };
            let cpuset = request.settings.startup.cpuset.as_deref();
            on_engine(cli, load, cpuset, async |session: Session<'_, _>| {
                let outcome = session.pipeline().tune(&request).await?;
                print!("{}", r2r_core::console::tuned(&outcome));
                Ok(outcome.measured.unwrap_or(true))
            })
            .await
        }
        Command::Measure(MeasureCommand::Sizes(arguments)) => {
            let output = arguments.output.as_deref();
            let measurement = Measurement::Sizes {
                registry: arguments.registry,
            };
            let load = |p: &Project| match &arguments.scenario {
                Some(scenario) => Ok(p.load_plan(scenario, arguments.platform)?),
                None => anyhow::bail!("give --scenario or --archive"),
            };
            match &arguments.archive {
                Some(archive) => exit_code(measure_archive(archive, arguments.output.clone())),
                None => {
                    on_engine(cli, load, None, async |session: Session<'_, _>| {
                        Ok(session
                            .pipeline()
                            .measure_alone(output, measurement)
                            .await?)
                    })
                    .await
                }
            }
        }
        Command::Measure(command) => {
            let Some((target, startup, output)) = command.timed() else {
                unreachable!("sizes is matched above")
            };
            let options = startup.options(&StartupDefaults::measure(), Vec::new(), || true);
            let measurement = command.measurement(&options);
            let (load, cpuset) = (|p: &_| load_plan(p, target), startup.cpuset.as_deref());
            on_engine(cli, load, cpuset, async |session: Session<'_, _>| {
                Ok(session
                    .pipeline()
                    .measure_alone(output, measurement)
                    .await?)
            })
            .await
        }
        Command::Report(select) => exit_code(commands::report(cli, select)),
        Command::Plot(arguments) => exit_code(commands::plot(cli, arguments)),
        Command::Compare(arguments) => exit_code(commands::compare(cli, arguments).await),
        Command::Merge(arguments) => exit_code(commands::merge(cli, arguments)),
        Command::KeepBaseline(select) => exit_code(commands::keep_baseline(cli, select).await),
        Command::Nightly(arguments) => {
            let code = nightly::nightly(cli, arguments).await;
            code.unwrap_or_else(|error| output::error(&error))
        }
        Command::NightlyMerge(arguments) => exit_code(nightly::nightly_merge(arguments)),
        Command::Show(arguments) => exit_code(commands::show(cli, arguments)),
        Command::Calibrate(arguments) => exit_code(commands::calibrate(arguments)),
        Command::CompareEngines(arguments) => exit_code(commands::compare_engines(arguments)),
        Command::Diff(arguments) => exit_code(diff(cli, arguments).await),
        Command::Clean(arguments) => {
            let scenario = arguments.scenario.as_deref();
            let plan = |p: &Project, s: &str| p.load_plan(s, arguments.platform);
            let load = |p: &Project| Ok(scenario.map(|s| plan(p, s)).transpose()?);
            on_engine(cli, load, None, async |session: Session<'_, _>| {
                let scenario = session.plan.as_ref().map(|p| p.scenario.name.as_str());
                let removed = run::clean(session.engine, scenario).await?;
                println!(
                    "removed {} container(s) and {} image(s)",
                    removed.containers, removed.images
                );
                let swept = run::remove_leftover_counters(session.engine).await?;
                swept
                    .iter()
                    .for_each(|group| println!("{}", group.describe()));
                Ok(swept.iter().all(|group| group.removed))
            })
            .await
        }
    }
}
