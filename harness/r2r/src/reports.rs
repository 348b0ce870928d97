//! The commands that read run directories: `report`, `plot` and `compare`. None of them needs
//! an engine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use r2r_core::report::compare::{self, Thresholds, Verdict};
use r2r_core::report::document::{self, PlotRef};
use r2r_core::report::plot::{self, Format, PlotOptions};
use r2r_core::results::run_data::RunData;

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

/// The directory of a run: a path, or a run id (default `latest`) under the scenario's
/// results directory.
pub fn resolve_run(
    root: &Path,
    scenario: Option<&str>,
    run: Option<&str>,
) -> anyhow::Result<PathBuf> {
    if let Some(run) = run {
        let path = PathBuf::from(run);
        if run.contains('/') || path.is_dir() && scenario.is_none() {
            if !path.is_dir() {
                bail!("run directory {} does not exist", path.display());
            }
            return Ok(path);
        }
    }
    let Some(scenario) = scenario else {
        bail!("say which run: --scenario NAME (its latest run), --scenario NAME --run RUN-ID, or --run PATH");
    };
    let scenario = Path::new(scenario)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let directory = root
        .join("results")
        .join(&scenario)
        .join(run.unwrap_or("latest"));
    if !directory.is_dir() {
        let runs = root.join("results").join(&scenario);
        let mut known: Vec<String> = std::fs::read_dir(&runs)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        known.sort();
        bail!(
            "no run {} of scenario '{scenario}' in {} (runs there: {})",
            run.unwrap_or("latest"),
            runs.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    Ok(directory)
}

fn load(root: &Path, select: &RunSelect) -> anyhow::Result<RunData> {
    let directory = resolve_run(root, select.scenario.as_deref(), select.run.as_deref())?;
    let expected = select.scenario.as_deref().map(|s| {
        Path::new(s)
            .file_stem()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    });
    Ok(RunData::load(&directory, expected.as_deref())?)
}

fn plot_titles(name: &str) -> String {
    match name {
        "sizes" => "Image sizes: uncompressed, gzip and zstd".to_string(),
        "sharing" => "Owned and shared layers per image (gzip)".to_string(),
        "startup-console" => "Start-up of the console app, create to exit".to_string(),
        "startup-console-time-to-main" => "Console app: start request to Main".to_string(),
        "startup-webapi" => "Start-up of the web API, create to first HTTP 200".to_string(),
        "startup-webapi-time-to-main" => "Web API: start request to Main".to_string(),
        "startup-webapi-first-request" => "Web API: first request once ready".to_string(),
        "startup-phases" => "Start-up phases (medians)".to_string(),
        "size-vs-startup" => "Compressed size against warm start-up".to_string(),
        other => other.replace('-', " "),
    }
}

/// The SVG plots in `<run>/plots`, in name order, as the report embeds them.
fn plot_refs(directory: &Path) -> Vec<PlotRef> {
    let mut names: Vec<String> = std::fs::read_dir(directory.join("plots"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".svg"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let stem = name.trim_end_matches(".svg").to_string();
            PlotRef {
                title: plot_titles(&stem),
                path: format!("plots/{name}"),
            }
        })
        .collect()
}

/// Writes `report.md` and `report.html` of a loaded run.
pub fn write_report(data: &RunData) -> anyhow::Result<Vec<PathBuf>> {
    document::write(data, &plot_refs(&data.directory))
        .with_context(|| format!("writing the report into {}", data.directory.display()))
}

/// Draws a run's plots into `<run>/plots` (SVG always; PNG too when a font is found).
pub fn draw_plots(
    data: &RunData,
    formats: &[Format],
    font: Option<PathBuf>,
    output: Option<PathBuf>,
) -> anyhow::Result<plot::PlotOutcome> {
    let out = output.unwrap_or_else(|| data.directory.join("plots"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Ok(plot::plot_run(
        &data.directory,
        &out,
        &PlotOptions {
            formats: formats.to_vec(),
            font,
        },
    )?)
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
pub fn report_command(root: &Path, arguments: &ReportArgs) -> anyhow::Result<bool> {
    let data = load(root, &arguments.select)?;
    for path in write_report(&data)? {
        println!("{}", path.display());
    }
    Ok(true)
}

/// `r2r plot`.
pub fn plot_command(root: &Path, arguments: &PlotArgs) -> anyhow::Result<bool> {
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
    let data = load(root, &arguments.select)?;
    let outcome = draw_plots(
        &data,
        &options.formats,
        options.font.clone(),
        arguments.output.clone(),
    )?;
    print_outcome(&outcome);
    Ok(true)
}

/// `r2r compare`: `Ok(false)` (exit 1) when a metric regressed.
pub fn compare_command(root: &Path, arguments: &CompareArgs) -> anyhow::Result<bool> {
    let data = load(root, &arguments.select)?;
    if arguments.published {
        let (figures, comparisons) = compare::load_published(&root.join("results/published"))?;
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
                gap.kind.clone(),
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
    let baseline_dir = resolve_run(root, Some(&scenario), Some(baseline))?;
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
