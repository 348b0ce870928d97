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
    /// What counts as a change.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Append the run's headline metrics to this history CSV (for trend plots).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Measure start-up of the baseline's images and the current images now, in this many
    /// paired rounds of one run (needs the engine and the baseline's images: kept by
    /// `r2r keep-baseline`, or unchanged since). Without it, start-up is compared between the
    /// two runs' files, labelled "separate runs: drift not cancelled", and never fails alone.
    #[arg(long, value_name = "N", requires = "baseline")]
    pub paired_runs: Option<usize>,
    /// Cache modes of the paired rounds (default: those the current run measured).
    #[arg(long, value_enum, requires = "paired_runs")]
    pub paired_cache: Option<crate::args::CacheArg>,
}

/// The noise thresholds of `r2r compare` and `r2r merge`.
#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// Size changes within this many percent are noise.
    #[arg(long, default_value_t = 1.0)]
    pub size_threshold: f64,
    /// Start-up changes within this many percent are noise.
    #[arg(long, default_value_t = 5.0)]
    pub startup_threshold: f64,
    /// Significance level of the start-up test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
}

impl ThresholdArgs {
    /// As the comparison takes them (fractions, not percent).
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            size: self.size_threshold / 100.0,
            startup: self.startup_threshold / 100.0,
            alpha: self.alpha,
        }
    }
}

/// `r2r merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run directories, one per machine, each as DIR or LABEL=DIR (the label names the
    /// machine; default: its host name from run.json).
    #[arg(required = true, value_name = "[LABEL=]DIR")]
    pub runs: Vec<String>,
    /// Where to write the merge (default: <results>/merged/<merge-id>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A merged directory to compare with: each machine against its own run there (exit 1 on
    /// an exact size regression of the same .NET version).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// What counts as a change.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Append the merge's headline metrics (images as `<machine>/<image>`) to this history CSV.
    #[arg(long)]
    pub history: Option<PathBuf>,
}

/// `r2r merge`: `Ok(false)` (exit 1) when a machine's sizes regressed against the baseline.
pub fn merge_command(results: &Path, arguments: &MergeArgs) -> anyhow::Result<bool> {
    use r2r_core::report::merge;
    let inputs: Vec<merge::MergeInput> = arguments
        .runs
        .iter()
        .map(|run| merge::MergeInput::parse(run))
        .collect();
    let merged = merge::load(&inputs)?;
    let baseline = arguments
        .baseline
        .as_deref()
        .map(merge::load_merged)
        .transpose()
        .context("reading the baseline merge")?;
    let out = arguments
        .out
        .clone()
        .unwrap_or_else(|| results.join("merged").join(runs::new_run_id()));
    let thresholds = arguments.thresholds.thresholds();
    let outcome = merge::write(
        &merged,
        &out,
        baseline.as_ref(),
        thresholds,
        arguments.history.as_deref(),
    )?;
    for (machine, platform) in merged.columns() {
        println!("{machine}: {platform}");
    }
    if baseline.is_some() {
        for machine in &outcome.without_baseline {
            println!("{machine}: the baseline has no run of this machine");
        }
        println!(
            "{} regression(s), {} size change(s) with a .NET version change, against {}",
            outcome.regressions,
            outcome.version_changes,
            arguments
                .baseline
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        );
    }
    println!("merged into {}", out.display());
    Ok(outcome.regressions == 0)
}

/// `r2r keep-baseline`.
#[derive(Debug, Args)]
pub struct KeepArgs {
    #[command(flatten)]
    pub select: RunSelect,
}

/// The tag the kept baseline image of `reference` carries (`repo:tag` -> `repo:tag-baseline`).
pub fn baseline_reference(reference: &str) -> String {
    format!("{reference}-baseline")
}

/// `r2r keep-baseline`: tags the run's app images as the scenario's baseline images, when the
/// image under the tag is still the one the run built (same input hash).
pub async fn keep_baseline(
    engine: &dyn r2r_core::engine::Engine,
    results: &Path,
    arguments: &KeepArgs,
) -> anyhow::Result<bool> {
    let data = load(results, &arguments.select)?;
    let mut kept = 0;
    let mut all = true;
    for target in r2r_core::measure::startup::targets(&data.plan) {
        let recorded = data.builds.iter().find(|b| b.id == target.image);
        let image = engine.inspect_image(&target.reference).await?;
        let label = image
            .as_ref()
            .and_then(|i| i.labels.get(r2r_core::model::plan::labels::INPUT_HASH));
        match (recorded, label) {
            (Some(build), Some(hash))
                if !build.input_hash.is_empty() && *hash == build.input_hash =>
            {
                let kept_as = baseline_reference(&target.reference);
                engine.tag_image(&target.reference, &kept_as).await?;
                println!("{} kept as {kept_as}", target.image);
                kept += 1;
            }
            _ => {
                all = false;
                eprintln!(
                    "{}: {} is not the image run {} built (rebuilt since, or missing); not kept",
                    target.image, target.reference, data.info.run_id
                );
            }
        }
    }
    println!(
        "{kept} image(s) of run {} kept as the baseline",
        data.info.run_id
    );
    Ok(all)
}

/// The paired start-up comparison of `compare --baseline RUN --paired-runs N`: the baseline's
/// images (kept under their `-baseline` tag, or the current image itself when its inputs are
/// the baseline's) and the current images measured in the same rounds. Writes the runs to
/// `compare-startup-runs.csv` in the current run. Returns the same-run changes.
pub async fn compare_paired(
    engine: &dyn r2r_core::engine::Engine,
    results: &Path,
    arguments: &CompareArgs,
) -> anyhow::Result<Vec<compare::MetricChange>> {
    use r2r_core::measure::startup::{self, Cache, StartupOptions, Target};
    let data = load(results, &arguments.select)?;
    let baseline_id = arguments.baseline.as_deref().expect("required by clap");
    let baseline_dir = resolve_run(results, Some(&data.info.scenario), Some(baseline_id))?;
    let baseline = RunData::load(&baseline_dir, Some(&data.info.scenario))?;
    let mut targets: Vec<Target> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for current in startup::targets(&data.plan) {
        if let Some(reason) = data
            .plan
            .image(&current.image)
            .and_then(startup::not_timed_reason)
        {
            eprintln!("{}: not timed: {reason}", current.image);
            continue;
        }
        let Some(recorded) = baseline.builds.iter().find(|b| b.id == current.image) else {
            eprintln!("{}: not in the baseline run", current.image);
            continue;
        };
        let hash_of = |details: Option<r2r_core::engine::ImageDetails>| {
            details.and_then(|d| {
                d.labels
                    .get(r2r_core::model::plan::labels::INPUT_HASH)
                    .cloned()
            })
        };
        let kept = baseline_reference(&current.reference);
        let reference = if hash_of(engine.inspect_image(&kept).await?).as_deref()
            == Some(recorded.input_hash.as_str())
        {
            kept
        } else if hash_of(engine.inspect_image(&current.reference).await?).as_deref()
            == Some(recorded.input_hash.as_str())
        {
            // Unchanged inputs: the current image is the baseline's image.
            current.reference.clone()
        } else {
            eprintln!(
                "{}: the baseline's image is not on this machine (keep it with `r2r keep-baseline`);                  its start-up is compared across runs",
                current.image
            );
            continue;
        };
        targets.push(Target {
            image: format!("{}@baseline", current.image),
            reference,
            ..current.clone()
        });
        targets.push(current);
        pairs.push((targets.len() - 2, targets.len() - 1));
    }
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let caches = match arguments.paired_cache {
        Some(cache) => cache.caches(),
        None => {
            let mut caches: Vec<Cache> = data.startup_runs.iter().map(|r| r.cache).collect();
            caches.sort();
            caches.dedup();
            if caches.is_empty() {
                vec![Cache::Warm]
            } else {
                caches
            }
        }
    };
    let options = StartupOptions {
        min_runs: arguments.paired_runs.unwrap_or(10).max(2),
        warmup: 1,
        caches,
        seed: data.info.run_id.bytes().map(u64::from).sum(),
        ..Default::default()
    };
    let path = data.directory.join("compare-startup-runs.csv");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    use std::io::Write;
    file.write_all(&startup::runs_csv(&[], true)?)?;
    let mut sink = |record: &startup::RunRecord| -> Result<(), startup::SinkError> {
        file.write_all(&startup::runs_csv(std::slice::from_ref(record), false)?)?;
        Ok(())
    };
    struct Quiet;
    impl startup::StartupObserver for Quiet {
        fn started(&self, total: usize) {
            eprintln!("paired start-up: {total} runs of the baseline's and the current images");
        }
        fn run_finished(&self, _: &startup::RunRecord, _: bool) {}
    }
    let records = startup::measure(
        engine,
        &data.info.scenario,
        &targets,
        &options,
        &Quiet,
        &mut sink,
        Vec::new(),
    )
    .await?;
    let thresholds = arguments.thresholds.thresholds();
    let mut changes = Vec::new();
    for (base, current) in pairs {
        for cache in &options.caches {
            let rounds = compare::paired_rounds(
                &records,
                &targets[base].image,
                &targets[current].image,
                *cache,
            );
            let seed = r2r_core::measure::stats::stream_seed(
                options.seed,
                &[&targets[current].image, cache.name(), "compare"],
            );
            changes.push(compare::paired_startup_change(
                &targets[current].image,
                cache.name(),
                &rounds,
                seed,
                thresholds,
            ));
        }
    }
    eprintln!("paired runs written to {}", path.display());
    Ok(changes)
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
    same_run: Vec<compare::MetricChange>,
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
    let thresholds = arguments.thresholds.thresholds();
    let mut changes = compare::against_baseline(&data, &baseline, thresholds);
    let version_change = compare::version_change(&data, &baseline);
    if let Some(versions) = &version_change {
        println!(
            ".NET {}: sizes that changed with it are marked VERSION CHANGE (what the new version \
             brings, not a regression of the same build; they do not fail the comparison)",
            compare::version_change_words(versions)
        );
    }
    // Start-up measured in the same run replaces the comparison of the two runs' files.
    for paired in same_run {
        match changes
            .iter_mut()
            .find(|c| c.image == paired.image && c.metric == paired.metric)
        {
            Some(change) => *change = paired,
            None => changes.push(paired),
        }
    }
    let path = data.directory.join("compare-baseline.csv");
    r2r_core::results::files::write_atomically(&path, &compare::changes_csv(&changes)?)?;
    let mut table = comfy_table::Table::new();
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.set_header([
        "image", "metric", "baseline", "current", "change", "p", "verdict", "basis",
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
            change.basis.words().to_string(),
        ]);
    }
    println!("{table}");
    if let Some(history) = &arguments.history {
        compare::append_history(history, &data)
            .with_context(|| format!("appending to {}", history.display()))?;
    }
    let regressions = changes.iter().filter(|c| compare::fails_job(c)).count();
    let drift_only = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Regression && !compare::fails_job(c))
        .count();
    if drift_only > 0 {
        println!(
            "{drift_only} start-up regression(s) between separate runs (drift not cancelled; \
             not failing: measure both in one run with --paired-runs N)"
        );
    }
    let improvements = changes
        .iter()
        .filter(|c| c.verdict == Verdict::Improvement)
        .count();
    let with_version = changes
        .iter()
        .filter(|c| c.verdict == Verdict::VersionChange)
        .count();
    println!(
        "{regressions} regression(s), {improvements} improvement(s){} against {}",
        match &version_change {
            Some(versions) => format!(
                ", {with_version} size change(s) with .NET {}",
                compare::version_change_words(versions)
            ),
            None => String::new(),
        },
        baseline_dir.display()
    );
    eprintln!("written to {}", path.display());
    Ok(regressions == 0)
}
