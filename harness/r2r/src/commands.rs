//! The commands that read run directories: `report`, `plot` and `compare`. None of them needs
//! an engine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use r2r_core::report::compare::{self, Thresholds, Verdict};
use r2r_core::report::plot::{self, Format, PlotOptions};
use r2r_core::results::run_data::RunData;
use r2r_core::results::runs::{self, resolve_run};
use r2r_core::run::{draw_plots, write_report};

/// Which run a command reads.
#[derive(Debug, Args)]
pub struct RunSelect {
    /// The scenario whose runs are meant (results/<scenario>/).
    #[arg(long, short)]
    pub scenario: Option<String>,
    /// A run id under results/<scenario>/ (default: `latest`), or a path to a run directory.
    #[arg(long)]
    pub run: Option<String>,
}

/// Plot file formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// Scalable vector graphics (no font file needed).
    Svg,
    /// Bitmap (needs a TrueType font: R2R_FONT, --font or Debian's fonts-dejavu-core).
    Png,
}

/// `r2r report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub select: RunSelect,
}

/// `r2r plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub select: RunSelect,
    /// Formats to write.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "svg,png")]
    pub format: Vec<FormatArg>,
    /// A TrueType font for PNG text (default: R2R_FONT, then the system's DejaVu Sans).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Draw trend plots from this history file (written by `compare --history`) instead.
    #[arg(long)]
    pub trend: Option<PathBuf>,
    /// Directory for the plot files (default: <run>/plots, or beside the history file).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// `r2r compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub select: RunSelect,
    /// Compare with the published figures in results/published/.
    #[arg(
        long,
        conflicts_with = "baseline",
        required_unless_present = "baseline"
    )]
    pub published: bool,
    /// Compare with a baseline run: a run id under results/<scenario>/ or a run directory.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Size changes within this many percent are noise.
    #[arg(long, default_value_t = 1.0)]
    pub size_threshold: f64,
    /// Start-up changes within this many percent are noise.
    #[arg(long, default_value_t = 5.0)]
    pub startup_threshold: f64,
    /// Significance level of the start-up test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Append the run's headline metrics to this history CSV (for trend plots).
    #[arg(long)]
    pub history: Option<PathBuf>,
}

fn load(results: &Path, select: &RunSelect) -> anyhow::Result<RunData> {
    let directory = resolve_run(results, select.scenario.as_deref(), select.run.as_deref())?;
    let expected = select.scenario.as_deref().map(runs::scenario_name);
    Ok(RunData::load(&directory, expected.as_deref())?)
}

fn formats(arguments: &[FormatArg]) -> Vec<Format> {
    arguments
        .iter()
        .map(|f| {
            if *f == FormatArg::Png {
                Format::Png
            } else {
                Format::Svg
            }
        })
        .collect()
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

/// `r2r report`.
pub fn report_command(results: &Path, arguments: &ReportArgs) -> anyhow::Result<bool> {
    let data = load(results, &arguments.select)?;
    for path in write_report(&data)? {
        println!("{}", path.display());
    }
    Ok(true)
}

/// `r2r plot`.
pub fn plot_command(results: &Path, arguments: &PlotArgs) -> anyhow::Result<bool> {
    let options = PlotOptions {
        formats: formats(&arguments.format),
        font: arguments.font.clone(),
    };
    if let Some(history) = &arguments.trend {
        let out = arguments.output.clone().unwrap_or_else(|| {
            history
                .parent()
                .map(|p| p.join("trends"))
                .unwrap_or_else(|| PathBuf::from("trends"))
        });
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        print_outcome(&plot::plot_trend(history, &out, &options)?);
        return Ok(true);
    }
    let data = load(results, &arguments.select)?;
    let outcome = draw_plots(
        &data,
        &options.formats,
        options.font.clone(),
        arguments.output.clone(),
    )?;
    print_outcome(&outcome);
    Ok(true)
}

/// `r2r compare`: `Ok(false)` (exit 1) when a metric regressed. `root` (the project, for the
/// published figures in `<root>/results/published`) is looked up only for `--published`.
pub fn compare_command(
    results: &Path,
    root: impl FnOnce() -> anyhow::Result<PathBuf>,
    arguments: &CompareArgs,
) -> anyhow::Result<bool> {
    let data = load(results, &arguments.select)?;
    if arguments.published {
        let (figures, comparisons) = compare::load_published(&root()?.join("results/published"))?;
        let gaps = compare::against_published(&data, &figures, &comparisons);
        let path = data.directory.join("compare-published.csv");
        r2r_core::results::files::write_atomically(&path, &compare::gaps_csv(&gaps)?)?;
        let mut table = comfy_table::Table::new();
        table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
        table.set_header([
            "comparison",
            "kind",
            "figure",
            "published",
            "ours",
            "gap",
            "our images",
        ]);
        for gap in &gaps {
            table.add_row([
                gap.id.clone(),
                gap.kind.to_string(),
                gap.figure.clone(),
                format!("{:.3}", gap.published),
                gap.ours
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_else(|| "-".into()),
                gap.gap_percent
                    .map(|v| format!("{v:+.1}%"))
                    .unwrap_or_default(),
                gap.ours_images.clone(),
            ]);
        }
        println!("{table}");
        eprintln!("written to {}", path.display());
        return Ok(true);
    }
    let Some(baseline) = &arguments.baseline else {
        bail!("give --published or --baseline RUN")
    };
    let scenario = data.info.scenario.clone();
    let baseline_dir = resolve_run(results, Some(&scenario), Some(baseline))?;
    let baseline = RunData::load(&baseline_dir, Some(&scenario))?;
    let thresholds = Thresholds {
        size: arguments.size_threshold / 100.0,
        startup: arguments.startup_threshold / 100.0,
        alpha: arguments.alpha,
    };
    let changes = compare::against_baseline(&data, &baseline, thresholds);
    let path = data.directory.join("compare-baseline.csv");
    r2r_core::results::files::write_atomically(&path, &compare::changes_csv(&changes)?)?;
    let mut table = comfy_table::Table::new();
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.set_header([
        "image", "metric", "baseline", "current", "change", "p", "verdict",
    ]);
    for change in &changes {
        let number = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
        table.add_row([
            change.image.clone(),
            change.metric.clone(),
            number(change.baseline),
            number(change.current),
            change
                .change
                .map(|c| format!("{:+.2}%", c * 100.0))
                .unwrap_or_default(),
            change
                .p_value
                .map(|p| format!("{p:.3}"))
                .unwrap_or_default(),
            change.verdict.word().to_uppercase(),
        ]);
    }
    println!("{table}");
    if let Some(history) = &arguments.history {
        compare::append_history(history, &data)
            .with_context(|| format!("appending to {}", history.display()))?;
    }
    let regressions = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Regression)
        .count();
    let improvements = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Improvement)
        .count();
    println!(
        "{regressions} regression(s), {improvements} improvement(s) against {}",
        baseline_dir.display()
    );
    eprintln!("written to {}", path.display());
    Ok(regressions == 0)
}
