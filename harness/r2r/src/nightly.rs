//! `r2r nightly` and `r2r nightly-merge`: the nightly's baseline rules
//! ([`r2r_core::report::nightly`]) around `compare`, `keep-baseline` and `merge`; and the
//! dispatch of the commands scripts call (`show`, `compare-engines` in [`crate::show`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use r2r_core::engine::{containers, DockerEngine};
use r2r_core::report::nightly::{self, Comparison};
use r2r_core::report::plot::{self, Format, PlotOptions};
use r2r_core::results::runs::{self, resolve_run};

use crate::args::{CacheArg, Cli, Command};
use crate::commands::{self, CompareArgs, KeepArgs, RunSelect, ThresholdArgs};
use crate::output;
use crate::setup::{find_root, results_dir};

/// `r2r nightly`.
#[derive(Debug, Args)]
pub struct NightlyArgs {
    /// The scenario (its results are <results>/<scenario>/: the runs, `baseline`,
    /// `history.csv`, `trends/`).
    #[arg(long, short)]
    pub scenario: String,
    /// The run to judge: a run id of the scenario (default: `latest`).
    #[arg(long)]
    pub run: Option<String>,
    /// Paired start-up rounds of the baseline's and this run's images, measured together now
    /// (needs the engine; 0: compare the two runs' files only, a start-up verdict that never
    /// fails). None on the first night: the run is its own baseline.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub paired_runs: usize,
    /// Cache modes of the paired rounds (default: those the run measured).
    #[arg(long, value_enum)]
    pub paired_cache: Option<CacheArg>,
    /// Make this run the baseline after comparing (also after a regression: accepting is a
    /// decision, e.g. after an intended change).
    #[arg(long)]
    pub accept: bool,
    /// Do not keep the app images of a run that becomes the baseline under `<tag>-baseline`
    /// (`r2r keep-baseline`); no engine is needed then without paired rounds.
    #[arg(long)]
    pub no_keep: bool,
    /// Formats of the trend plots.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "svg,png")]
    pub plots: Vec<PlotFormat>,
    /// What counts as a change.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// `r2r nightly-merge`.
#[derive(Debug, Args)]
pub struct NightlyMergeArgs {
    /// Where merges are kept: DIR/<merge-id>/, DIR/latest, DIR/baseline, DIR/history.csv,
    /// DIR/trends/.
    #[arg(value_name = "DIR")]
    pub directory: PathBuf,
    /// One run directory per machine, as DIR or LABEL=DIR (default label: its host name).
    #[arg(required = true, value_name = "[LABEL=]RUN-DIR")]
    pub runs: Vec<String>,
    /// Make this merge the baseline after comparing.
    #[arg(long)]
    pub accept: bool,
    /// Formats of the trend plots.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "svg,png")]
    pub plots: Vec<PlotFormat>,
    /// What counts as a change.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Trend plot formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotFormat {
    /// Scalable vector graphics.
    Svg,
    /// Bitmap (needs a TrueType font).
    Png,
}

/// Runs `nightly`, `nightly-merge`, `show` or `compare-engines`; `None` for the other
/// commands.
pub async fn dispatch(cli: &Cli) -> Option<u8> {
    let code = match &cli.command {
        Command::Nightly(arguments) => night(cli, arguments).await,
        Command::NightlyMerge(arguments) => merge_night(arguments),
        Command::Show(arguments) => crate::show::show_command(cli, arguments),
        Command::CompareEngines(arguments) => crate::show::compare_engines(arguments),
        _ => return None,
    };
    Some(code.unwrap_or_else(|error| output::error(&error)))
}

fn trends(history: &Path, out: &Path, formats: &[PlotFormat]) -> anyhow::Result<()> {
    if !history.is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let options = PlotOptions {
        formats: formats
            .iter()
            .map(|format| match format {
                PlotFormat::Svg => Format::Svg,
                PlotFormat::Png => Format::Png,
            })
            .collect(),
        font: None,
    };
    let outcome = plot::plot_trend(history, out, &options)?;
    for (name, reason) in &outcome.skipped {
        eprintln!("skipped trend plot {name}: {reason}");
    }
    Ok(())
}

async fn keep(engine: Option<&DockerEngine>, results: &Path, scenario: &str, run_id: &str) {
    let Some(engine) = engine else {
        eprintln!("nightly: no engine: the images of run {run_id} are not kept");
        return;
    };
    let arguments = KeepArgs {
        select: RunSelect {
            scenario: Some(scenario.to_string()),
            run: Some(run_id.to_string()),
        },
    };
    if let Err(error) = commands::keep_baseline(engine, results, &arguments).await {
        eprintln!("nightly: the images of run {run_id} are not kept: {error:#}");
    }
}

/// Resolves on SIGINT (130) or SIGTERM (143).
async fn interrupted() -> u8 {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => 130,
            _ = terminate.recv() => 143,
        },
        Err(_) => std::future::pending().await,
    }
}

/// `r2r nightly`: the baseline (the first run becomes it), the comparison with it, the
/// history and trend plots, acceptance; the exit status of [`nightly::Ending`].
async fn night(cli: &Cli, arguments: &NightlyArgs) -> anyhow::Result<u8> {
    let results = results_dir(cli)?;
    let scenario = runs::scenario_name(&arguments.scenario);
    let scenario_dir = results.join(&scenario);
    let run_dir = resolve_run(&results, Some(&scenario), arguments.run.as_deref())?
        .canonicalize()
        .context("reading the run directory")?;
    if run_dir.parent() != scenario_dir.canonicalize().ok().as_deref() {
        bail!(
            "{} is not a run of scenario '{scenario}' in {}",
            run_dir.display(),
            scenario_dir.display()
        );
    }
    let run_id = run_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _lock = r2r_core::results::files::lock(
        &scenario_dir,
        &std::env::args().collect::<Vec<_>>().join(" "),
    )?;
    let night = nightly::begin(&scenario_dir, &run_id)?;
    let paired = night.paired_rounds(arguments.paired_runs);
    let keeps = !arguments.no_keep && (night.first || arguments.accept);
    let engine = if keeps || paired.is_some() {
        match DockerEngine::connect().await {
            Ok(engine) => Some(engine),
            Err(error) => {
                eprintln!("nightly: no engine: {error}");
                None
            }
        }
    } else {
        None
    };
    if night.first {
        println!("nightly: no baseline yet; run {run_id} becomes the baseline");
        if !arguments.no_keep {
            keep(engine.as_ref(), &results, &scenario, &run_id).await;
        }
    }
    let compare_arguments = CompareArgs {
        select: RunSelect {
            scenario: Some(scenario.clone()),
            run: Some(run_id.clone()),
        },
        published: false,
        baseline: Some(night.baseline.clone()),
        thresholds: ThresholdArgs {
            size_threshold: arguments.thresholds.size_threshold,
            startup_threshold: arguments.thresholds.startup_threshold,
            alpha: arguments.thresholds.alpha,
        },
        history: None,
        paired_runs: paired,
        paired_cache: paired.and(arguments.paired_cache),
    };
    let same_run = match (paired, &engine) {
        (None, _) => Ok(Vec::new()),
        (Some(_), None) => Err(anyhow::anyhow!("paired rounds need the engine")),
        (Some(_), Some(engine)) => {
            tokio::select! {
                result = commands::compare_paired(engine, &results, &compare_arguments) => result,
                code = interrupted() => {
                    let removed = containers::remove_all_live(engine).await;
                    bail!("interrupted ({code}): removed {removed} container(s)");
                }
            }
        }
    };
    let compared = same_run.and_then(|same_run| {
        commands::compare_command(
            &results,
            || find_root(cli.root.clone()),
            &compare_arguments,
            same_run,
        )
    });
    let comparison = match compared {
        Ok(true) => Comparison::Passed,
        Ok(false) => Comparison::Regressed,
        Err(error) => {
            eprintln!("error: the comparison stopped: {error:#}");
            Comparison::Failed
        }
    };
    let ending = night.finish(comparison, arguments.accept)?;
    if ending.accepted {
        if !arguments.no_keep {
            keep(engine.as_ref(), &results, &scenario, &run_id).await;
        }
        println!("nightly: run {run_id} accepted as the baseline");
    }
    trends(&night.history(), &night.trends(), &arguments.plots)?;
    println!(
        "nightly: run {run_id} against baseline {}: exit {}",
        night.baseline, ending.exit_code
    );
    Ok(ending.exit_code)
}

/// `r2r nightly-merge`: [`nightly::merge_night`] with a new merge id, then the trend plots.
fn merge_night(arguments: &NightlyMergeArgs) -> anyhow::Result<u8> {
    let inputs: Vec<_> = arguments
        .runs
        .iter()
        .map(|run| r2r_core::report::merge::MergeInput::parse(run))
        .collect();
    let id = runs::new_run_id();
    let directory = &arguments.directory;
    let night = nightly::merge_night(
        directory,
        &id,
        &inputs,
        arguments.accept,
        arguments.thresholds.thresholds(),
    )?;
    for (machine, platform) in &night.columns {
        println!("{machine}: {platform}");
    }
    match &night.compared_with {
        Some(baseline) => {
            for machine in &night.outcome.without_baseline {
                println!("{machine}: the baseline has no run of this machine");
            }
            println!(
                "{} regression(s), {} size change(s) with a .NET version change, against merge {baseline}",
                night.outcome.regressions, night.outcome.version_changes
            );
            if night.became_baseline {
                println!("nightly-merge: merge {id} accepted as the baseline");
            }
        }
        None => println!("nightly-merge: no baseline yet; merge {id} becomes the baseline"),
    }
    for pruned in &night.pruned {
        println!("nightly-merge: removed merge {pruned}");
    }
    println!("merged into {}", directory.join(&id).display());
    trends(
        &directory.join(nightly::HISTORY),
        &directory.join(nightly::TRENDS),
        &arguments.plots,
    )?;
    Ok(night.exit_code)
}
