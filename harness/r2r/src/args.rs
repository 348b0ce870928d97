//! The command line: every command, argument and option of `r2r`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;

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
    /// Write report.md and report.html of a run (tables in the published reports' shapes,
    /// start-up with confidence intervals, the plots).
    Report(commands::ReportArgs),
    /// Draw a run's plots (SVG, PNG), or trend plots from a history file.
    Plot(commands::PlotArgs),
    /// Compare a run with a baseline run (exit 1 on a significant regression) or with the
    /// published figures.
    Compare(commands::CompareArgs),
    /// Which assemblies grew or shrank between two images of a scenario, and by how much
    /// (IL + metadata, native code, the rest), read from the images' ReadyToRun headers.
    Diff(DiffArgs),
    /// Remove the images and containers r2r made (all, or one scenario's).
    Clean(CleanArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
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
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    pub(crate) rebuild: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) build: BuildArgs,
    /// Recorded start-up runs per image and cache mode.
    #[arg(long, default_value_t = 10)]
    pub(crate) runs: usize,
    /// Unrecorded warm-up start-up runs per image and cache mode.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: usize,
    /// Seed of the start-up run order and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Cache modes of the start-up runs (default: both where the page cache can be dropped,
    /// which needs root; warm only otherwise).
    #[arg(long, value_enum)]
    pub(crate) cache: Option<CacheArg>,
    /// Finish an interrupted run instead of starting a new one: its run id, or `latest`.
    /// Finished steps are kept; start-up adds only the runs that are missing.
    #[arg(long, value_name = "RUN-ID", num_args = 0..=1, default_missing_value = "latest")]
    pub(crate) resume: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
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
    /// warm-up runs discarded, images interleaved in a seeded shuffled order.
    Startup(StartupArgs),
}

/// Which cache modes to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CacheArg {
    /// Drop the page cache before every run (needs root).
    Cold,
    /// Leave the page cache alone.
    Warm,
    /// Both, interleaved.
    Both,
}

#[derive(Debug, Args)]
pub(crate) struct StartupArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Cache mode.
    #[arg(long, value_enum, default_value = "both")]
    pub(crate) cache: CacheArg,
    /// Recorded runs per image and cache mode, at least.
    #[arg(long, default_value_t = 10)]
    pub(crate) runs: usize,
    /// Unrecorded warm-up runs per image and cache mode.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: usize,
    /// Keep adding rounds until this many seconds have passed.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) min_seconds: f64,
    /// Seed of the run order and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Seconds a run may take to become ready.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) timeout: f64,
    /// The web API's readiness signal: the first HTTP 200 on 127.0.0.1, or its ready line in the logs.
    #[arg(long, value_enum, default_value = "http")]
    pub(crate) ready: ReadyArg,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

/// The web API's readiness signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReadyArg {
    /// First HTTP 200 on 127.0.0.1.
    Http,
    /// The app's ready line in its output.
    Log,
}

impl CacheArg {
    /// The cache modes this argument names.
    pub(crate) fn caches(self) -> Vec<r2r_core::measure::startup::Cache> {
        use r2r_core::measure::startup::Cache;
        match self {
            CacheArg::Cold => vec![Cache::Cold],
            CacheArg::Warm => vec![Cache::Warm],
            CacheArg::Both => vec![Cache::Cold, Cache::Warm],
        }
    }
}

impl StartupArgs {
    pub(crate) fn options(&self) -> r2r_core::measure::startup::StartupOptions {
        r2r_core::measure::startup::StartupOptions {
            warmup: self.warmup,
            min_runs: self.runs.max(1),
            min_duration: std::time::Duration::from_secs_f64(self.min_seconds.max(0.0)),
            caches: self.cache.caches(),
            seed: self.seed,
            ready_timeout: std::time::Duration::from_secs_f64(self.timeout.max(0.1)),
            readiness: match self.ready {
                ReadyArg::Http => r2r_core::measure::startup::Readiness::Http,
                ReadyArg::Log => r2r_core::measure::startup::Readiness::LogLine,
            },
            ..Default::default()
        }
    }
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
    #[arg(long, value_name = "127.0.0.1:PORT")]
    pub(crate) registry: Option<String>,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/; for
    /// an archive, the current directory).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Only this scenario's images (default: everything r2r made, bases included).
    #[arg(long, short)]
    pub(crate) scenario: Option<String>,
}
