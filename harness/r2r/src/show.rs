//! `r2r show` and `r2r compare-engines`: what scripts read from runs, computed by r2r
//! ([`r2r_core::report::show`], [`r2r_core::report::engines`]).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use r2r_core::report::engines::{self, EngineSizes};
use r2r_core::report::show;
use r2r_core::results::reading::read_csv;
use r2r_core::results::run_data::SIZE_COLUMNS;
use r2r_core::results::runs::resolve_run;

use crate::args::Cli;
use crate::output;
use crate::setup::results_dir;

/// `r2r show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The scenario whose run is meant (results/<scenario>/).
    #[arg(long, short)]
    pub scenario: Option<String>,
    /// A run id under results/<scenario>/ (default: `latest`), or a path to a run directory
    /// (also one of `r2r measure ... --output DIR`).
    #[arg(long)]
    pub run: Option<String>,
    /// Print the whole view as JSON.
    #[arg(long, conflicts_with = "field")]
    pub json: bool,
    /// Print one field of the JSON view by its dotted path, e.g. `run.run_id` or
    /// `builds.passed` (a string as it is, a list of values one a line).
    #[arg(long, value_name = "PATH")]
    pub field: Option<String>,
    /// Instead of a run: the summary statistics (count, mean, standard deviation, median,
    /// quartiles, IQR, MAD, min, max) of the numbers in FILE (`-`: standard input), as JSON.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "run"])]
    pub describe: Option<PathBuf>,
}

/// `r2r compare-engines`.
#[derive(Debug, Args)]
pub struct CompareEnginesArgs {
    /// Run directories of the same scenario on several engines, each as LABEL=DIR; the first
    /// is the reference.
    #[arg(required = true, num_args = 2.., value_name = "LABEL=DIR")]
    pub runs: Vec<String>,
    /// How far the compressed sizes may be from the first engine's, percent.
    #[arg(long, value_name = "PCT", default_value_t = engines::TOLERANCE * 100.0)]
    pub tolerance: f64,
}

/// `r2r compare-engines`: exit 0 when every image of the first run is in every other with
/// equal content bytes and compressed sizes within the tolerance; 1 otherwise.
pub fn compare_engines(arguments: &CompareEnginesArgs) -> anyhow::Result<u8> {
    let mut sizes = Vec::new();
    for argument in &arguments.runs {
        let Some((label, directory)) = argument.split_once('=') else {
            bail!("'{argument}': give each run as LABEL=DIR");
        };
        let path = PathBuf::from(directory).join("sizes.csv");
        sizes.push(EngineSizes {
            label: label.to_string(),
            sizes: read_csv(&path, SIZE_COLUMNS)?.unwrap_or_default(),
        });
    }
    let mut failures = 0;
    if sizes[0].sizes.is_empty() {
        println!("compare: {} measured no image", sizes[0].label);
        failures += 1;
    }
    for gap in engines::compare(&sizes, arguments.tolerance / 100.0) {
        println!("compare: {}", gap.line());
        failures += usize::from(!gap.ok);
    }
    if failures == 0 {
        println!("compare: the same sizes on every engine");
    } else {
        println!("compare: {failures} difference(s)");
    }
    Ok(u8::from(failures > 0))
}

/// `r2r show`.
pub fn show_command(cli: &Cli, arguments: &ShowArgs) -> anyhow::Result<u8> {
    if let Some(file) = &arguments.describe {
        let mut text = String::new();
        if file.as_os_str() == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
        } else {
            text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
        }
        let numbers = show::parse_numbers(&text).map_err(anyhow::Error::msg)?;
        let Some(description) = show::describe(&numbers) else {
            bail!("no numbers to describe");
        };
        return Ok(print_value(&serde_json::to_value(description)?, arguments));
    }
    let directory = match (&arguments.scenario, &arguments.run) {
        (None, Some(run)) => PathBuf::from(run),
        _ => resolve_run(
            &results_dir(cli)?,
            arguments.scenario.as_deref(),
            arguments.run.as_deref(),
        )?,
    };
    let view = show::view(&directory)?;
    if !arguments.json && arguments.field.is_none() {
        print_text(&view);
        return Ok(0);
    }
    Ok(print_value(&serde_json::to_value(&view)?, arguments))
}

fn print_value(value: &serde_json::Value, arguments: &ShowArgs) -> u8 {
    match &arguments.field {
        Some(path) => match show::field(value, path) {
            Some(text) => {
                println!("{text}");
                0
            }
            None => output::error(&anyhow::Error::new(show::ShowError::NoField {
                field: path.clone(),
            })),
        },
        None => output::json(value),
    }
}

fn print_text(view: &show::RunView) {
    println!("directory: {}", view.directory.display());
    if let Some(run) = &view.run {
        println!(
            "run: {} of scenario {} (.NET {})",
            run.run_id, run.scenario, run.dotnet.runtime
        );
        for (step, state) in &run.steps {
            println!("step {step}: {}", state.status.name());
        }
    }
    println!(
        "build: {}/{}  verify: {}/{}  sizes: {} image(s)  start-up: {}/{} runs ok",
        view.builds.passed,
        view.builds.total,
        view.verify.passed,
        view.verify.total,
        view.sizes.len(),
        view.startup_runs_total.ok,
        view.startup_runs_total.runs
    );
}
