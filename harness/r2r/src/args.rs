//! The command line: every command, argument and option of `r2r`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use r2r_core::model::platform::Platform;

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
    /// Merge run directories from several machines into one report: sizes side by side per
    /// machine and platform, start-up per machine; compare with a baseline merge.
    Merge(commands::MergeArgs),
    /// Keep a run's app images under `<tag>-baseline`, so that `compare --baseline RUN
    /// --paired-runs N` can measure them beside later images in one run.
    KeepBaseline(commands::KeepArgs),
    /// After a run: compare it with the scenario's baseline (the first run becomes it), add it
    /// to the history, redraw the trend plots; exit 1 on a regression.
    Nightly(crate::nightly::NightlyArgs),
    /// Merge the machines' runs of a night, compare with the baseline merge (the first becomes
    /// it), add to the history, keep only the latest merge and the baseline.
    NightlyMerge(crate::nightly::NightlyMergeArgs),
    /// Print what a run directory holds (counts, sizes, start-up summaries) as text, JSON or
    /// one field, or the statistics of a series of numbers.
    Show(crate::show::ShowArgs),
    /// Compare the sizes of the same images measured on several engines: equal content
    /// bytes, gzip and zstd within 1% of the first engine's (exit 1 otherwise).
    CompareEngines(crate::show::CompareEnginesArgs),
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
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct ScenarioArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    pub(crate) scenario: String,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    pub(crate) rebuild: bool,
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) build: BuildArgs,
    /// Recorded start-up runs per image and cache mode: exactly this many when given alone,
    /// at least this many with --precision [default: at least 10, until ±3% or the budget]
    #[arg(long)]
    pub(crate) runs: Option<usize>,
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
    /// Start-up precision: keep adding whole rounds past --runs until every image's paired
    /// 95% interval against its baseline (total time, each cache mode) is within ±PCT of its
    /// speed-up, or a budget (--max-time, --max-runs) is spent; `off`: exactly --runs rounds
    /// [default: 3%, or off when --runs is given]
    #[arg(long, value_name = "PCT", value_parser = parse_precision)]
    pub(crate) precision: Option<Precision>,
    /// Start-up budget of time: no round starts after this (e.g. 90s, 15m, 1h; `off`: none)
    /// [default: 15m]
    #[arg(long, value_name = "DURATION", value_parser = parse_budget)]
    pub(crate) max_time: Option<Budget>,
    /// Start-up budget of rounds (recorded runs per image and cache mode; 0: none)
    /// [default: 100]
    #[arg(long, value_name = "N")]
    pub(crate) max_runs: Option<usize>,
    /// Measure start-up of these images only (plan ids, comma-separated); each one's
    /// baseline is measured too.
    #[arg(long, value_name = "IMAGE,...", value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    #[command(flatten)]
    pub(crate) placement: PlacementArgs,
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
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
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
pub enum CacheArg {
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
    /// Measure this platform's images only (start-up is refused for a platform this machine
    /// only emulates): `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
    pub(crate) platform: Option<Platform>,
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
    /// Keep adding whole rounds past --runs until every image's paired 95% interval against
    /// its baseline (total time, each cache mode) is within ±PCT of its speed-up, or a budget
    /// (--max-time, --max-runs) is spent (default: off, exactly --runs rounds).
    #[arg(long, value_name = "PCT", default_value = "off", value_parser = parse_precision)]
    pub(crate) precision: Precision,
    /// Budget of time: no round starts after this (e.g. 90s, 12m, 1h; default: off).
    #[arg(long, value_name = "DURATION", default_value = "off", value_parser = parse_budget)]
    pub(crate) max_time: Budget,
    /// Budget of rounds (recorded runs per image and cache mode; 0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) max_runs: usize,
    /// Measure these images only (plan ids, comma-separated); each one's baseline is
    /// measured too.
    #[arg(long, value_name = "IMAGE,...", value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Seed of the run order and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Seconds a run may take to become ready.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) timeout: f64,
    /// The web API's readiness signal: the first HTTP 200 on 127.0.0.1, or its ready line in the logs.
    #[arg(long, value_enum, default_value = "http")]
    pub(crate) ready: ReadyArg,
    #[command(flatten)]
    pub(crate) placement: PlacementArgs,
    /// Directory for the result files (default: a new run <results>/<scenario>/<run-id>/).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

/// Where and how the start-up containers run (noise reduction).
#[derive(Debug, Args)]
pub(crate) struct PlacementArgs {
    /// Run the app containers on these CPUs (`1`, `2-3`, `0,2`) and keep r2r off them.
    #[arg(long, value_name = "CPUS")]
    pub(crate) cpuset: Option<String>,
    /// Idle milliseconds before every start-up run (after its page-cache drop).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) pause_ms: u64,
    /// The console app's network: none (as `docker run --network none`) or host. The web API
    /// always uses host networking.
    #[arg(long, value_enum, default_value = "none")]
    pub(crate) console_network: NetworkArg,
    /// Do not count bytes read, major faults and peak memory (no parent cgroup per run, no
    /// sampling).
    #[arg(long)]
    pub(crate) no_counters: bool,
}

/// A container network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum NetworkArg {
    /// No network.
    None,
    /// The host's network.
    Host,
}

impl PlacementArgs {
    pub(crate) fn network(&self) -> r2r_core::engine::Network {
        match self.console_network {
            NetworkArg::None => r2r_core::engine::Network::None,
            NetworkArg::Host => r2r_core::engine::Network::Host,
        }
    }

    pub(crate) fn pause(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.pause_ms)
    }
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
    pub fn caches(self) -> Vec<r2r_core::measure::startup::Cache> {
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
            precision: self.precision.0,
            max_duration: self.max_time.0,
            max_runs: (self.max_runs > 0).then_some(self.max_runs),
            only: self.only.clone(),
            cpuset: self.placement.cpuset.clone(),
            pause: self.placement.pause(),
            console_network: self.placement.network(),
            counters: !self.placement.no_counters,
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
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform, conflicts_with = "archive")]
    pub(crate) platform: Option<Platform>,
}

#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Only this scenario's images (default: everything r2r made, bases included).
    #[arg(long, short)]
    pub(crate) scenario: Option<String>,
    /// Build or measure for this platform only: `linux/amd64` or `linux/arm64` (arm64 images
    /// are named `<scenario>-arm64`, with results and tags of their own; default: the
    /// scenario's `platforms`).
    #[arg(long, value_name = "PLATFORM", value_parser = parse_platform, requires = "scenario")]
    pub(crate) platform: Option<Platform>,
}

/// `r2r run`'s start-up defaults: at least this many rounds...
pub(crate) const RUN_MIN_RUNS: usize = 10;
/// ...until every pair's 95% interval is within ±3%...
pub(crate) const RUN_PRECISION: f64 = 0.03;
/// ...or 15 minutes have passed...
pub(crate) const RUN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// ...or 100 rounds were recorded.
pub(crate) const RUN_MAX_RUNS: usize = 100;

impl RunArgs {
    /// The start-up settings of `r2r run`: with `--runs` alone exactly that many rounds;
    /// otherwise at least `--runs` (default [`RUN_MIN_RUNS`]) until `--precision` (default
    /// [`RUN_PRECISION`]) or a budget (defaults [`RUN_MAX_TIME`], [`RUN_MAX_RUNS`]).
    pub(crate) fn startup_budget(
        &self,
    ) -> (
        usize,
        Option<f64>,
        Option<std::time::Duration>,
        Option<usize>,
    ) {
        let runs = self.runs.unwrap_or(RUN_MIN_RUNS).max(1);
        let precision = match (self.precision, self.runs) {
            (Some(precision), _) => precision.0,
            (None, Some(_)) => None,
            (None, None) => Some(RUN_PRECISION),
        };
        let max_time = self.max_time.map_or(Some(RUN_MAX_TIME), |budget| budget.0);
        let max_runs = match self.max_runs {
            Some(0) => None,
            Some(max) => Some(max),
            None => Some(RUN_MAX_RUNS),
        };
        (runs, precision, max_time, max_runs)
    }
}

/// A precision target as a fraction (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Precision(pub(crate) Option<f64>);

/// A budget of time (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget(pub(crate) Option<std::time::Duration>);

/// Reads a precision in percent: `2%`, `2`, `0.5%`; `off` or `0` for none.
/// Reads `--platform`: `linux/amd64` or `linux/arm64` (or the runtime identifiers
/// `linux-x64`, `linux-arm64`); anything else is refused with the allowed values.
pub(crate) fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text.trim()).map_err(|error| error.to_string())
}

pub(crate) fn parse_precision(text: &str) -> Result<Precision, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Precision(None));
    }
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    let percent: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage (e.g. 2% or off)"))?;
    if !percent.is_finite() || !(0.0..100.0).contains(&percent) {
        return Err(format!("'{text}': a precision is between 0% and 100%"));
    }
    Ok(Precision((percent > 0.0).then_some(percent / 100.0)))
}

/// Reads a duration: `90s`, `12m`, `1h30m`, `1.5h`, a bare number of seconds; `off` or `0`
/// for none.
pub(crate) fn parse_budget(text: &str) -> Result<Budget, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Budget(None));
    }
    let invalid = || format!("'{text}' is not a duration (e.g. 90s, 12m, 1h30m or off)");
    let mut seconds = 0.0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return Err(invalid()),
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        seconds += value * unit;
        number.clear();
    }
    if !number.is_empty() {
        seconds += number.parse::<f64>().map_err(|_| invalid())?;
    }
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(invalid());
    }
    Ok(Budget(
        (seconds > 0.0).then(|| std::time::Duration::from_secs_f64(seconds)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_and_budgets_read_as_people_write_them() {
        assert_eq!(parse_precision("2%").unwrap(), Precision(Some(0.02)));
        assert_eq!(parse_precision("3").unwrap(), Precision(Some(0.03)));
        assert_eq!(parse_precision("off").unwrap(), Precision(None));
        assert_eq!(parse_precision("0%").unwrap(), Precision(None));
        assert!(parse_precision("two").is_err());
        assert!(parse_precision("150%").is_err());
        let secs = |s: u64| Budget(Some(std::time::Duration::from_secs(s)));
        assert_eq!(parse_budget("90s").unwrap(), secs(90));
        assert_eq!(parse_budget("12m").unwrap(), secs(720));
        assert_eq!(parse_budget("1h30m").unwrap(), secs(5400));
        assert_eq!(parse_budget("45").unwrap(), secs(45));
        assert_eq!(parse_budget("off").unwrap(), Budget(None));
        assert!(parse_budget("12 minutes").is_err());
        assert!(parse_budget("m").is_err());
    }

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
            matches!(&cli.command, Command::Build(a) if a.platform == Some(Platform::LinuxArm64))
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
