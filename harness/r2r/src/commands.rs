//! The commands on run directories: `report`, `plot`, `merge`, `show`, `calibrate`,
//! `compare-engines` and
//! `compare` read them (with `--paired-runs`, `compare` also measures start-up through the
//! engine), `keep-baseline` tags a run's images through the engine; and `plan`, which reads
//! the scenario only. Each parses nothing and decides nothing: it calls the library and prints
//! what came out.

use std::path::{Path, PathBuf};

use anyhow::Context;
use r2r_core::console;
use r2r_core::report::calibration::{self, CalibrationSettings};
use r2r_core::report::engines::{EngineComparison, EngineSizes};
use r2r_core::report::plot::{self, PlotOptions};
use r2r_core::report::{nightly, show};
use r2r_core::results::run_data::RunData;
use r2r_core::results::runs;
use r2r_core::results::RunDir;
use r2r_core::run::compare::{self as comparison, load_run};
use r2r_core::run::settings::StartupSettings;
use r2r_core::run::{draw_plots, find_root, write_report};

use crate::args::{
    CalibrateArgs, Cli, CompareArgs, CompareEnginesArgs, MergeArgs, PlotArgs, RunSelect,
    ScenarioArgs, ShowArgs,
};
use crate::output::Console;
use crate::session::on_run_engine;
use crate::setup::{load_plan, project, results_dir};

fn load(cli: &Cli, select: &RunSelect) -> anyhow::Result<RunData> {
    let (scenario, run) = (select.scenario.as_deref(), select.run.as_deref());
    Ok(load_run(&results_dir(cli)?, scenario, run)?)
}

/// `r2r plan`: the images in build order, as text or JSON.
pub(crate) fn plan(cli: &Cli, arguments: &ScenarioArgs) -> anyhow::Result<bool> {
    let plan = load_plan(&project(cli)?, &arguments.target)?;
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", plan.describe());
    }
    Ok(true)
}

fn print_outcome(outcome: &plot::PlotOutcome) {
    for drawn in &outcome.drawn {
        for file in &drawn.files {
            println!("{}", file.display());
        }
    }
    for (name, reason) in &outcome.skipped {
        eprintln!("skipped plot {name}: {reason}");
    }
}

/// Draws the trend plots of a history file into `out` (created), printing the files.
pub(crate) fn trends(history: &Path, out: &Path, options: &PlotOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    print_outcome(&plot::plot_trend(history, out, options)?);
    Ok(())
}

/// `r2r report`.
pub(crate) fn report(cli: &Cli, select: &RunSelect) -> anyhow::Result<bool> {
    let data = load(cli, select)?;
    for path in write_report(&data)? {
        println!("{}", path.display());
    }
    Ok(true)
}

/// `r2r plot`.
pub(crate) fn plot(cli: &Cli, arguments: &PlotArgs) -> anyhow::Result<bool> {
    let options = &arguments.options;
    if let Some(history) = &arguments.trend {
        let trends_dir = || history.with_file_name(nightly::TRENDS);
        let out = arguments.output.clone().unwrap_or_else(trends_dir);
        trends(history, &out, options)?;
        return Ok(true);
    }
    let data = load(cli, &arguments.select)?;
    let outcome = draw_plots(
        &data,
        &options.formats,
        options.font.clone(),
        arguments.output.clone(),
    )?;
    print_outcome(&outcome);
    Ok(true)
}

/// `r2r merge`: `Ok(false)` (exit 1) when a machine's sizes regressed against the baseline.
pub(crate) fn merge(cli: &Cli, arguments: &MergeArgs) -> anyhow::Result<bool> {
    use r2r_core::report::merge;
    let merged = merge::load(&arguments.runs)?;
    let baseline_dir = arguments.baseline.as_deref();
    let baseline = baseline_dir.map(merge::load_merged).transpose();
    let baseline = baseline.context("reading the baseline merge")?;
    let out = match &arguments.out {
        Some(out) => out.clone(),
        None => results_dir(cli)?.join("merged").join(runs::new_run_id()),
    };
    let thresholds = arguments.thresholds.thresholds();
    let outcome = merge::write(
        &merged,
        &out,
        baseline.as_ref(),
        thresholds,
        arguments.history.as_deref(),
    )?;
    let against = baseline_dir.map(|path| path.display().to_string());
    print!(
        "{}",
        console::merge_summary(&merged.columns(), &outcome, against.as_deref())
    );
    println!("merged into {}", out.display());
    Ok(outcome.regressions == 0)
}

/// `r2r compare`: `Ok(false)` (exit 1) when a metric regressed. The project root (for the
/// published figures in `<root>/results/published`) is looked up only for `--published`.
pub(crate) async fn compare(cli: &Cli, arguments: &CompareArgs) -> anyhow::Result<bool> {
    let data = load(cli, &arguments.select)?;
    let Some(baseline) = &arguments.baseline else {
        let published = find_root(cli.root.as_deref())?.join("results/published");
        let (gaps, file) = comparison::with_published(&data, &published)?;
        print!("{}", console::published_gaps(&gaps));
        eprintln!("written to {}", file.display());
        return Ok(true);
    };
    let baseline = comparison::load_baseline(&results_dir(cli)?, &data, baseline)?;
    let thresholds = arguments.thresholds.thresholds();
    let same_run = match arguments.paired_runs {
        None => Vec::new(),
        Some(runs) => {
            let settings = StartupSettings::paired(runs, arguments.paired_cache, &data.info.run_id);
            let console = Console::new();
            let paired = on_run_engine(cli, &data.info.scenario, async |engine| {
                Ok(comparison::compare_paired(
                    engine, &data, &baseline, &settings, thresholds, &console,
                )
                .await?)
            })
            .await?;
            if let Some(file) = &paired.file {
                eprintln!("paired runs written to {}", file.display());
            }
            paired.changes
        }
    };
    let outcome = comparison::with_baseline(
        &data,
        &baseline,
        thresholds,
        same_run,
        arguments.history.as_deref(),
    )?;
    print!("{}", console::baseline_comparison(&outcome));
    eprintln!("written to {}", outcome.file.display());
    Ok(outcome.regressions() == 0)
}

/// `r2r keep-baseline`: `Ok(false)` (exit 1) when an image is no longer the run's.
pub(crate) async fn keep_baseline(cli: &Cli, select: &RunSelect) -> anyhow::Result<bool> {
    let data = load(cli, select)?;
    let kept = on_run_engine(cli, &data.info.scenario, async |engine| {
        Ok(comparison::keep_baseline(engine, &data).await?)
    })
    .await?;
    print!("{}", console::kept_baseline(&kept, &data.info.run_id));
    Ok(kept.not_kept.is_empty())
}

/// `r2r show`: a run directory's view as text, JSON or one field; or the statistics of the
/// numbers in a file.
pub(crate) fn show(cli: &Cli, arguments: &ShowArgs) -> anyhow::Result<bool> {
    let value = match &arguments.describe {
        Some(file) => {
            let text = match file.as_os_str() == "-" {
                true => std::io::read_to_string(std::io::stdin()),
                false => std::fs::read_to_string(file),
            };
            let text = text.with_context(|| format!("reading {}", file.display()))?;
            serde_json::to_value(show::describe_text(&text)?)?
        }
        None => {
            let (scenario, run) = (&arguments.select.scenario, &arguments.select.run);
            let directory = match (scenario, run) {
                (None, Some(path)) => PathBuf::from(path),
                _ => runs::resolve_run(&results_dir(cli)?, scenario.as_deref(), run.as_deref())?,
            };
            let view = show::view(&directory)?;
            if !arguments.json && arguments.field.is_none() {
                print!("{}", console::run_view(&view));
                return Ok(true);
            }
            serde_json::to_value(&view)?
        }
    };
    println!("{}", show::select(&value, arguments.field.as_deref())?);
    Ok(true)
}

/// `r2r compare-engines`: `Ok(false)` (exit 1) unless every image of the first run is in
/// every other with equal content bytes and compressed sizes within the tolerance.
pub(crate) fn compare_engines(arguments: &CompareEnginesArgs) -> anyhow::Result<bool> {
    let sizes = arguments.runs.iter().map(|run| EngineSizes::read(run));
    let sizes = sizes.collect::<Result<Vec<_>, _>>()?;
    let comparison = EngineComparison::new(&sizes, arguments.tolerance / 100.0);
    print!("{}", console::engine_comparison(&comparison));
    Ok(comparison.differences() == 0)
}

/// `r2r calibrate`: the recorded A/A rounds under the directories, resampled
/// ([`calibration::calibrate`]); the table, and `calibration.csv` with `--output`.
pub(crate) fn calibrate(arguments: &CalibrateArgs) -> anyhow::Result<bool> {
    let recorded = calibration::read_recorded(&arguments.directories)?;
    let settings = CalibrationSettings {
        rounds: arguments.rounds,
        resamples: arguments.resamples,
        seed: arguments.seed,
    };
    let rows = calibration::calibrate(&recorded, settings)?;
    print!("{}", console::calibration(&rows, arguments.min_coverage));
    if let Some(output) = &arguments.output {
        std::fs::create_dir_all(output)
            .with_context(|| format!("creating {}", output.display()))?;
        RunDir::new(output).write_rows(&rows)?;
    }
    Ok(calibration::meets(&rows, arguments.min_coverage))
}

/// The scenario of `run` or `tune`: `--scenario`, or the one made for `--app` (printed).
pub(crate) fn scenario_of(
    project: &r2r_core::run::Project,
    scenario: Option<&str>,
    app: Option<&Path>,
    request: &r2r_core::model::scenario::AppScenarioRequest,
) -> anyhow::Result<String> {
    let Some(app) = app else {
        return scenario
            .map(str::to_string)
            .context("give --scenario or --app");
    };
    let path = project.write_app_scenario(app, request)?;
    eprintln!("scenario for {}: {}", app.display(), path.display());
    Ok(path.display().to_string())
}
