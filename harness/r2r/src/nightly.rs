//! `r2r nightly` and `r2r nightly-merge`: the nightly's baseline rules
//! ([`r2r_core::report::nightly`]) around `compare`, `keep-baseline` and `merge`, then the
//! trend plots.

use std::path::Path;

use r2r_core::console;
use r2r_core::report::nightly::{self, Comparison};
use r2r_core::report::plot::{Format, PlotOptions};
use r2r_core::results::files::lock;
use r2r_core::results::runs::new_run_id;

use crate::args::{Cli, CompareArgs, NightlyArgs, NightlyMergeArgs, RunSelect};
use crate::commands;
use crate::session::command_line;
use crate::setup::results_dir;

/// The trend plots of the history in `directory` (when there is one) into its trends folder.
fn trends(directory: &Path, formats: &[Format]) -> anyhow::Result<()> {
    let history = directory.join(nightly::HISTORY);
    let formats = formats.to_vec();
    let options = PlotOptions {
        formats,
        font: None,
    };
    match history.is_file() {
        true => commands::trends(&history, &directory.join(nightly::TRENDS), &options),
        false => Ok(()),
    }
}

/// `r2r nightly`: the baseline (the first run becomes it), the comparison with it (`r2r
/// compare`), the history and trend plots, acceptance (the images kept by `r2r
/// keep-baseline`); the exit status of [`nightly::Ending`].
pub(crate) async fn nightly(cli: &Cli, arguments: &NightlyArgs) -> anyhow::Result<u8> {
    let results = &results_dir(cli)?;
    let scenario = &arguments.scenario;
    let (scenario_dir, run_id) = nightly::locate(results, scenario, arguments.run.as_deref())?;
    // The bookkeeping is under the scenario's lock; `compare` and `keep-baseline` take it
    // themselves while they use the engine.
    let night = {
        let _lock = lock(&scenario_dir, &command_line())?;
        nightly::begin(&scenario_dir, &run_id)?
    };
    let select = || RunSelect {
        scenario: Some(scenario.clone()),
        run: Some(run_id.clone()),
    };
    let keep = async || {
        let select = select();
        if !arguments.no_keep {
            if let Err(error) = commands::keep_baseline(cli, &select).await {
                eprintln!("nightly: the images of run {run_id} are not kept: {error:#}");
            }
        }
    };
    if night.first {
        println!("nightly: no baseline yet; run {run_id} becomes the baseline");
        keep().await;
    }
    let paired_runs = night.paired_rounds(arguments.paired_runs);
    let compare = CompareArgs {
        select: select(),
        published: false,
        baseline: Some(night.baseline.clone()),
        thresholds: arguments.thresholds,
        history: None,
        paired_runs,
        paired_cache: paired_runs.and(arguments.paired_cache),
    };
    let comparison = match commands::compare(cli, &compare).await {
        Ok(true) => Comparison::Passed,
        Ok(false) => Comparison::Regressed,
        Err(error) => {
            eprintln!("error: the comparison stopped: {error:#}");
            Comparison::Failed
        }
    };
    let ending = {
        let _lock = lock(&scenario_dir, &command_line())?;
        night.finish(comparison, arguments.accept)?
    };
    if ending.accepted {
        keep().await;
        println!("nightly: run {run_id} accepted as the baseline");
    }
    trends(&scenario_dir, &arguments.plots)?;
    println!(
        "nightly: run {run_id} against baseline {}: exit {}",
        night.baseline, ending.exit_code
    );
    Ok(ending.exit_code)
}

/// `r2r nightly-merge`: [`nightly::merge_night`] with a new merge id, then the trend plots;
/// `Ok(false)` (exit 1) on a regression.
pub(crate) fn nightly_merge(arguments: &NightlyMergeArgs) -> anyhow::Result<bool> {
    let directory = &arguments.directory;
    let thresholds = arguments.thresholds.thresholds();
    let night = nightly::merge_night(
        directory,
        &new_run_id(),
        &arguments.runs,
        arguments.accept,
        thresholds,
    )?;
    print!("{}", console::merge_night(&night, directory));
    trends(directory, &arguments.plots)?;
    Ok(night.exit_code == 0)
}
