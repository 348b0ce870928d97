//! The command line: every command, argument and option of `r2r`, parsed and validated;
//! nothing here runs anything.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use r2r_core::measure::registry::parse_address;
use r2r_core::model::platform::Platform;
use r2r_core::model::scenario::AppScenarioRequest;
use r2r_core::report::compare::ThresholdSettings;
use r2r_core::report::engines::TOLERANCE;
use r2r_core::report::merge::MergeInput;
use r2r_core::report::plot::{Format, PlotOptions};
use r2r_core::run::settings::{CacheModes, StartupSettings};
use r2r_core::run::tune::TuneRequest;
use r2r_core::run::RunSettings;

/// Builds the composite ReadyToRun container image matrix and proves each image is what its
/// variant claims.
#[derive(Debug, Parser)]
#[command(name = "r2r", version, about, max_term_width = 100)]
pub struct Cli {
    /// The project directory holding experiments/, scenarios/, scripts/ and results/
    /// (default: the nearest directory upwards from the current one that has experiments/variants.toml).
    #[arg(long, global = true, env = "R2R_ROOT")]
    pub(crate) root: Option<PathBuf>,
    /// Where prepared content (NuGet packs, composites, published apps, base tarballs) is
    /// cached (default: <root>/.r2r/work).
    #[arg(long, global = true, env = "R2R_WORK_DIR")]
    pub(crate) work_dir: Option<PathBuf>,
    /// Where runs, their `latest` links and the scenario locks are kept (default: <root>/results).
    #[arg(long, global = true, env = "R2R_RESULTS_DIR")]
    pub(crate) results_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the images a scenario expands to, in build order.
    Plan(ScenarioArgs),
    /// Build every image of a scenario through the Docker Engine API.
    Build(BuildArgs),
    /// Check every image of a scenario: its files (ReadyToRun headers) and its behaviour in a container.
    Verify(VerifyArgs),
    /// Measure images: `sizes` (per layer, image and set; gzip, zstd; sharing) or `startup`.
    #[command(subcommand)]
    Measure(MeasureCommand),
    /// Build, verify and take the scenario's measurements, writing results under
    /// <results>/<scenario>/<run-id>/.
    Run(RunArgs),
    /// Make composites for an app: record which framework assemblies it loads in its
    /// as-shipped image, write recipes rooting them (tune/ in the run directory), and measure
    /// them beside the app as shipped and the other recipes in one run.
    Tune(TuneArgs),
    /// Write report.md and report.html of a run (tables in the published reports' shapes,
    /// start-up with confidence intervals, the plots).
    Report(RunSelect),
    /// Draw a run's plots (SVG, PNG), or trend plots from a history file.
    Plot(PlotArgs),
    /// Compare a run with a baseline run (exit 1 on a significant regression) or with the
    /// published figures.
    Compare(CompareArgs),
    /// Merge run directories from several machines into one report: sizes side by side per
    /// machine and platform, start-up per machine; compare with a baseline merge.
    Merge(MergeArgs),
    /// Keep a run's app images under `<tag>-baseline`, so that `compare --baseline RUN
    /// --paired-runs N` can measure them beside later images in one run.
    KeepBaseline(RunSelect),
    /// After a run: compare it with the scenario's baseline (the first run becomes it), add it
    /// to the history, redraw the trend plots; exit 1 on a regression.
    Nightly(NightlyArgs),
    /// Merge the machines' runs of a night, compare with the baseline merge (the first becomes
    /// it), add to the history, keep only the latest merge and the baseline.
    NightlyMerge(NightlyMergeArgs),
    /// Print what a run directory holds (counts, sizes, start-up summaries) as text, JSON or
    /// one field, or the statistics of a series of numbers.
    Show(ShowArgs),
    /// The coverage of the paired start-up interval in recorded A/A rounds (images compared
    /// with their own baseline copy by `compare --paired-runs`), resampled; no container runs.
    Calibrate(CalibrateArgs),
    /// Compare the sizes of the same images measured on several engines: equal content
    /// bytes, gzip and zstd within 1% of the first engine's (exit 1 otherwise).
    CompareEngines(CompareEnginesArgs),
    /// Which assemblies grew or shrank between two images of a scenario, and by how much
    /// (IL + metadata, native code, the rest), read from the images' ReadyToRun headers.
    Diff(DiffArgs),
    /// Remove the images and containers r2r made (all, or one scenario's).
    Clean(CleanArgs),
}

/// The scenario a command plans, and its platform.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// The first image: a plan id (`r2r plan`), e.g. `no-composite.console`.
    pub(crate) image_a: String,
    /// The second image: a plan id, e.g. `runtime-composite.console`.
    pub(crate) image_b: String,
    /// Also write the differences as CSV to this file.
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ScenarioArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    pub(crate) rebuild: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short, required_unless_present = "app", conflicts_with = "app")]
    pub(crate) scenario: Option<String>,
    /// Your app: a project file (.csproj) anywhere on disk. r2r makes a scenario for it
    /// (its kind and readiness from the project; the five composite variants unless
    /// --variants says otherwise), runs it end to end, and keeps the scenario in the run
    /// directory as scenario.toml.
    #[arg(long, value_name = "PROJECT")]
    pub(crate) app: Option<PathBuf>,
    /// With --app: the variants, comma-separated (default: no-composite, runtime-composite,
    /// aspnet-composite, composed-composite, selfcontained-composite).
    #[arg(
        long,
        value_name = "VARIANT,...",
        value_delimiter = ',',
        requires = "app"
    )]
    pub(crate) variants: Option<Vec<String>>,
    /// With --app: composite recipes, comma-separated (default: full).
    #[arg(
        long,
        value_name = "RECIPE,...",
        value_delimiter = ',',
        requires = "app"
    )]
    pub(crate) recipes: Option<Vec<String>>,
    /// With --app: the .NET version or band (default: 10.0, the newest patch served).
    #[arg(long, value_name = "VERSION", requires = "app")]
    pub(crate) dotnet: Option<String>,
    /// With --app: the base (default: slim).
    #[arg(long = "base", value_name = "BASE", requires = "app")]
    pub(crate) base: Option<String>,
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64`.
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    pub(crate) rebuild: bool,
    #[command(flatten)]
    pub(crate) startup: StartupSettings,
    /// Settings of `node` in the scenario's `measure`.
    #[command(flatten)]
    pub(crate) node: r2r_core::measure::node::NodeSettings,
    /// Settings of `load` in the scenario's `measure`.
    #[command(flatten)]
    pub(crate) load: r2r_core::measure::load::LoadSettings,
    /// Finish an interrupted run instead of starting a new one: its run id, or `latest`.
    /// Finished steps are kept; start-up adds only the runs that are missing.
    #[arg(long, value_name = "RUN-ID", num_args = 0..=1, default_missing_value = "latest")]
    pub(crate) resume: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TuneArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file: its apps are
    /// tuned for (all, or those of --apps).
    #[arg(long, short, required_unless_present = "app", conflicts_with = "app")]
    pub(crate) scenario: Option<String>,
    /// Your app: a project file (.csproj), through the scenario `r2r run --app` makes for it.
    #[arg(long, value_name = "PROJECT")]
    pub(crate) app: Option<PathBuf>,
    /// With --app: the .NET version or band (default: 10.0, the newest patch served).
    #[arg(long, value_name = "VERSION", requires = "app")]
    pub(crate) dotnet: Option<String>,
    /// With --app: the base (default: slim).
    #[arg(long = "base", value_name = "BASE", requires = "app")]
    pub(crate) base: Option<String>,
    /// The scenario's apps to tune for, comma-separated (default: all).
    #[arg(long, value_name = "APP,...", value_delimiter = ',')]
    pub(crate) apps: Vec<String>,
    /// Use the recordings of an earlier tuning (its run directory) instead of recording.
    #[arg(long, value_name = "RUN-DIR", conflicts_with = "image")]
    pub(crate) from: Option<PathBuf>,
    /// Record this as-shipped app image (built by r2r for the scenario) instead of building it.
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: Option<String>,
    /// The recipes to measure the tuned ones against, comma-separated (default: full, the
    /// version's official recipe, partial-pgo).
    #[arg(long, value_name = "RECIPE,...", value_delimiter = ',')]
    pub(crate) recipes: Vec<String>,
    /// The composite variant the recipes compile (default: aspnet-composite).
    #[arg(long, value_name = "VARIANT")]
    pub(crate) variant: Option<String>,
    /// Record and write the recipes (and the scenario that measures them), measure nothing.
    #[arg(long)]
    pub(crate) record_only: bool,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    pub(crate) rebuild: bool,
    #[command(flatten)]
    pub(crate) startup: StartupSettings,
}

impl RunArgs {
    /// How the run goes.
    pub(crate) fn settings(&self) -> RunSettings {
        RunSettings {
            rebuild: self.rebuild,
            resume: self.resume.clone(),
            startup: self.startup.clone(),
            node: self.node.clone(),
            load: self.load.clone(),
            ..RunSettings::default()
        }
    }

    /// What `--app` asks of the scenario made for the project.
    pub(crate) fn app_request(&self) -> AppScenarioRequest {
        AppScenarioRequest {
            variants: self.variants.clone(),
            recipes: self.recipes.clone(),
            dotnet: self.dotnet.clone(),
            base: self.base.clone(),
        }
    }
}

impl TuneArgs {
    /// What `--app` asks of the scenario made for the project (its variants and recipes
    /// are the tuning's own).
    pub(crate) fn app_request(&self) -> AppScenarioRequest {
        AppScenarioRequest {
            variants: None,
            recipes: None,
            dotnet: self.dotnet.clone(),
            base: self.base.clone(),
        }
    }

    /// The tuning these flags ask for (`--timeout`: how long an app may take to become
    /// ready, recorded or timed).
    pub(crate) fn request(&self) -> TuneRequest {
        TuneRequest {
            apps: self.apps.clone(),
            from: self.from.clone(),
            image: self.image.clone(),
            compare: self.recipes.clone(),
            variant: self.variant.clone(),
            record_only: self.record_only,
            timeout: std::time::Duration::from_secs_f64(self.startup.timeout),
            settings: RunSettings {
                rebuild: self.rebuild,
                startup: self.startup.clone(),
                ..RunSettings::default()
            },
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Seconds one verification container may run.
    #[arg(long, default_value_t = 90)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MeasureCommand {
    /// Image sizes (uncompressed, gzip as a registry stores it, zstd), per layer and per
    /// image, and how much a set of images stores only once.
    Sizes(SizesArgs),
    /// Container cold start of the app images: a fresh container per run, phases timed,
    /// warm-up runs discarded, images interleaved in a seeded shuffled order (refused for a
    /// platform this machine only emulates).
    Startup(StartupArgs),
    /// A new node: every app image pushed to a registry on 127.0.0.1 that r2r starts, pulled
    /// by a second, empty engine that r2r starts (at loopback speed and through a proxy at
    /// each --node-rates rate; onto an empty node and one holding the image's shared
    /// layers), then started to ready and its first response; writes node.csv.
    Node(NodeArgs),
    /// The first seconds under load: each web app image started, and from ready a fixed load
    /// from wrk on 127.0.0.1; requests per second, latency, settling; writes load.csv and
    /// load-runs.csv.
    Load(LoadArgs),
}

/// `r2r measure node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) node: r2r_core::measure::node::NodeSettings,
    #[command(flatten)]
    pub(crate) startup: StartupSettings,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/;
    /// give an existing run's directory to add them to it, then `r2r report --run` it).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

/// `r2r measure load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) load: r2r_core::measure::load::LoadSettings,
    #[command(flatten)]
    pub(crate) startup: StartupSettings,
    /// Directory for the result files (as `measure node --output`).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

impl MeasureCommand {
    /// The scenario, start-up settings and output of a measurement that starts app images
    /// (`None` for `sizes`).
    pub(crate) fn timed(&self) -> Option<(&Target, &StartupSettings, Option<&std::path::Path>)> {
        match self {
            MeasureCommand::Sizes(_) => None,
            MeasureCommand::Startup(a) => Some((&a.target, &a.startup, a.output.as_deref())),
            MeasureCommand::Node(a) => Some((&a.target, &a.startup, a.output.as_deref())),
            MeasureCommand::Load(a) => Some((&a.target, &a.startup, a.output.as_deref())),
        }
    }

    /// The measurement, its apps started with `options`.
    pub(crate) fn measurement<'a>(
        &'a self,
        options: &'a r2r_core::measure::startup::StartupOptions,
    ) -> r2r_core::run::StandaloneMeasurement<'a> {
        use r2r_core::run::StandaloneMeasurement as Measurement;
        match self {
            MeasureCommand::Sizes(a) => Measurement::Sizes {
                registry: a.registry,
            },
            MeasureCommand::Startup(_) => Measurement::Startup(options),
            MeasureCommand::Node(a) => Measurement::Node(&a.node, options),
            MeasureCommand::Load(a) => Measurement::Load(&a.load, options),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct StartupArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) startup: StartupSettings,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SizesArgs {
    /// A scenario name or file: measure its built images through the engine.
    #[arg(
        long,
        short,
        required_unless_present = "archive",
        conflicts_with = "archive"
    )]
    pub(crate) scenario: Option<String>,
    /// A `docker save` archive (legacy or OCI layout) to measure without an engine.
    #[arg(long)]
    pub(crate) archive: Option<PathBuf>,
    /// Also push the images to this registry on 127.0.0.1 and report the sizes it stores.
    #[arg(long, value_name = "127.0.0.1:PORT", value_parser = parse_address)]
    pub(crate) registry: Option<SocketAddr>,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/; for
    /// an archive, the current directory).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    /// Measure this platform's images only (as `build --platform`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform, conflicts_with = "archive")]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Only this scenario's images (default: everything r2r made, bases included).
    #[arg(long, short)]
    pub(crate) scenario: Option<String>,
    /// Only the scenario's images of this platform (as `build --platform`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform, requires = "scenario")]
    pub(crate) platform: Option<Platform>,
}

/// Which run a command reads.
#[derive(Debug, Args)]
pub(crate) struct RunSelect {
    /// The scenario whose runs are meant (results/<scenario>/).
    #[arg(long, short)]
    pub(crate) scenario: Option<String>,
    /// A run id under results/<scenario>/ (default: `latest`), or a path to a run directory.
    #[arg(long)]
    pub(crate) run: Option<String>,
}

/// `r2r plot`.
#[derive(Debug, Args)]
pub(crate) struct PlotArgs {
    #[command(flatten)]
    pub(crate) select: RunSelect,
    #[command(flatten)]
    pub(crate) options: PlotOptions,
    /// Draw trend plots from this history file (written by `compare --history`) instead.
    #[arg(long)]
    pub(crate) trend: Option<PathBuf>,
    /// Directory for the plot files (default: <run>/plots, or beside the history file).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

/// `r2r compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    pub(crate) select: RunSelect,
    /// Compare with the published figures in results/published/.
    #[arg(
        long,
        conflicts_with = "baseline",
        required_unless_present = "baseline"
    )]
    pub(crate) published: bool,
    /// Compare with a baseline run: a run id under results/<scenario>/ or a run directory.
    #[arg(long)]
    pub(crate) baseline: Option<String>,
    /// What counts as a change.
    #[command(flatten)]
    pub(crate) thresholds: ThresholdSettings,
    /// Append the run's headline metrics to this history CSV (for trend plots).
    #[arg(long)]
    pub(crate) history: Option<PathBuf>,
    /// Measure start-up of the baseline's images and the current images now, in this many
    /// paired rounds of one run (needs the engine and the baseline's images: kept by
    /// `r2r keep-baseline`, or unchanged since). Without it, start-up is compared between the
    /// two runs' files, labelled "separate runs: drift not cancelled", and never fails alone.
    #[arg(long, value_name = "N", requires = "baseline")]
    pub(crate) paired_runs: Option<usize>,
    /// Cache modes of the paired rounds (default: those the current run measured).
    #[arg(long, value_enum, requires = "paired_runs")]
    pub(crate) paired_cache: Option<CacheModes>,
}

/// `r2r merge`.
#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// Run directories, one per machine, each as DIR or LABEL=DIR (the label names the
    /// machine; default: its host name from run.json).
    #[arg(required = true, value_name = "[LABEL=]DIR", value_parser = merge_input)]
    pub(crate) runs: Vec<MergeInput>,
    /// Where to write the merge (default: <results>/merged/<merge-id>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// A merged directory to compare with: each machine against its own run there (exit 1 on
    /// an exact size regression of the same .NET version).
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// What counts as a change.
    #[command(flatten)]
    pub(crate) thresholds: ThresholdSettings,
    /// Append the merge's headline metrics (images as `<machine>/<image>`) to this history CSV.
    #[arg(long)]
    pub(crate) history: Option<PathBuf>,
}

/// `r2r nightly`.
#[derive(Debug, Args)]
pub(crate) struct NightlyArgs {
    /// The scenario (its results are <results>/<scenario>/: the runs, `baseline`,
    /// `history.csv`, `trends/`).
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// The run to judge: a run id of the scenario (default: `latest`).
    #[arg(long)]
    pub(crate) run: Option<String>,
    /// Paired start-up rounds of the baseline's and this run's images, measured together now
    /// (needs the engine; 0: compare the two runs' files only, a start-up verdict that never
    /// fails). None on the first night: the run is its own baseline.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) paired_runs: usize,
    /// Cache modes of the paired rounds (default: those the run measured).
    #[arg(long, value_enum)]
    pub(crate) paired_cache: Option<CacheModes>,
    /// Make this run the baseline after comparing (also after a regression: accepting is a
    /// decision, e.g. after an intended change).
    #[arg(long)]
    pub(crate) accept: bool,
    /// Do not keep the app images of a run that becomes the baseline under `<tag>-baseline`
    /// (`r2r keep-baseline`); no engine is needed then without paired rounds.
    #[arg(long)]
    pub(crate) no_keep: bool,
    /// Formats of the trend plots.
    #[arg(long, value_delimiter = ',', default_value = "svg,png")]
    pub(crate) plots: Vec<Format>,
    /// What counts as a change.
    #[command(flatten)]
    pub(crate) thresholds: ThresholdSettings,
}

/// `r2r nightly-merge`.
#[derive(Debug, Args)]
pub(crate) struct NightlyMergeArgs {
    /// Where merges are kept: DIR/<merge-id>/, DIR/latest, DIR/baseline, DIR/history.csv,
    /// DIR/trends/.
    #[arg(value_name = "DIR")]
    pub(crate) directory: PathBuf,
    /// One run directory per machine, as DIR or LABEL=DIR (default label: its host name).
    #[arg(required = true, value_name = "[LABEL=]RUN-DIR", value_parser = merge_input)]
    pub(crate) runs: Vec<MergeInput>,
    /// Make this merge the baseline after comparing.
    #[arg(long)]
    pub(crate) accept: bool,
    /// Formats of the trend plots.
    #[arg(long, value_delimiter = ',', default_value = "svg,png")]
    pub(crate) plots: Vec<Format>,
    /// What counts as a change.
    #[command(flatten)]
    pub(crate) thresholds: ThresholdSettings,
}

/// `r2r show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) select: RunSelect,
    /// Print the whole view as JSON.
    #[arg(long, conflicts_with = "field")]
    pub(crate) json: bool,
    /// Print one field of the JSON view by its dotted path, e.g. `run.run_id` or
    /// `builds.passed` (a string as it is, a list of values one a line).
    #[arg(long, value_name = "PATH")]
    pub(crate) field: Option<String>,
    /// Instead of a run: the summary statistics (count, mean, standard deviation, median,
    /// quartiles, IQR, MAD, min, max) of the numbers in FILE (`-`: standard input), as JSON.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "run"])]
    pub(crate) describe: Option<PathBuf>,
}

/// `r2r compare-engines`.
#[derive(Debug, Args)]
pub(crate) struct CompareEnginesArgs {
    /// Run directories of the same scenario on several engines, each as LABEL=DIR; the first
    /// is the reference.
    #[arg(required = true, num_args = 2.., value_name = "LABEL=DIR")]
    pub(crate) runs: Vec<String>,
    /// How far the compressed sizes may be from the first engine's, percent.
    #[arg(long, value_name = "PCT", default_value_t = TOLERANCE * 100.0)]
    pub(crate) tolerance: f64,
}

/// `r2r calibrate`.
#[derive(Debug, Args)]
pub(crate) struct CalibrateArgs {
    /// Directories to search for recorded A/A rounds (`compare-startup-runs.csv`, in the
    /// directory or below: a results root, a scenario folder, a run).
    #[arg(required = true, num_args = 1.., value_name = "DIR")]
    pub(crate) directories: Vec<PathBuf>,
    /// Rounds in each resample (as the nightly's `--paired-runs`).
    #[arg(long, default_value_t = 12)]
    pub(crate) rounds: usize,
    /// Resamples per image and cache mode (at least 200).
    #[arg(long, default_value_t = 1000)]
    pub(crate) resamples: usize,
    /// Seed of the draws and bootstraps.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Exit 1 when the upper end of the pooled coverage's 95% interval is below this
    /// fraction: the interval covers demonstrably less often than that.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.90)]
    pub(crate) min_coverage: f64,
    /// Also write `calibration.csv` into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
}

/// Reads a run to merge: `LABEL=DIR` or `DIR`.
fn merge_input(text: &str) -> Result<MergeInput, std::convert::Infallible> {
    Ok(MergeInput::parse(text))
}

/// Reads `--platform`: `linux/amd64` or `linux/arm64` (or the runtime identifiers
/// `linux-x64`, `linux-arm64`); anything else is refused with the allowed values.
pub(crate) fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text.trim()).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_parsed_and_bad_ones_list_the_allowed() {
        assert_eq!(parse_platform("linux/arm64"), Ok(Platform::LinuxArm64));
        assert_eq!(parse_platform("linux-x64"), Ok(Platform::LinuxAmd64));
        let error = parse_platform("linux/s390x").unwrap_err();
        assert!(
            error.contains("unknown platform `linux/s390x`; allowed: linux/amd64, linux/arm64"),
            "{error}"
        );
        let cli = <Cli as clap::Parser>::try_parse_from([
            "r2r",
            "build",
            "--scenario",
            "quick",
            "--platform",
            "linux/arm64",
        ])
        .unwrap();
        assert!(
            matches!(&cli.command, Command::Build(a) if a.target.platform == Some(Platform::LinuxArm64))
        );
        let error = <Cli as clap::Parser>::try_parse_from([
            "r2r",
            "run",
            "--scenario",
            "quick",
            "--platform",
            "arm",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("allowed: linux/amd64, linux/arm64"),
            "{error}"
        );
    }
}
