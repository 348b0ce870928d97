//! Command-line arguments and the commands they run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use r2r_core::build::dotnet::Workspace;
use r2r_core::build::{self, BuildOptions};
use r2r_core::engine::containers;
use r2r_core::engine::{DockerEngine, Engine};
use r2r_core::inspect::verify::{self, VerifyOptions};
use r2r_core::model::catalog::Catalog;
use r2r_core::model::plan::{self, labels, Plan};
use r2r_core::model::scenario;
use r2r_core::results::run_record::{self, RunInfo};

use crate::output;
use crate::reports;

/// Builds the composite ReadyToRun container image matrix and proves each image is what its
/// variant claims.
#[derive(Debug, Parser)]
#[command(name = "r2r", version, about, max_term_width = 100)]
pub struct Cli {
    /// The project directory holding experiments/, scenarios/, scripts/ and results/
    /// (default: the nearest directory upwards from the current one that has experiments/variants.toml).
    #[arg(long, global = true, env = "R2R_ROOT")]
    root: Option<PathBuf>,
    /// Where prepared content (NuGet packs, composites, published apps, base tarballs) is
    /// cached (default: <root>/.r2r/work).
    #[arg(long, global = true, env = "R2R_WORK_DIR")]
    work_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    /// results/<scenario>/<run-id>/.
    Run(RunArgs),
    /// Write report.md and report.html of a run (tables in the published reports' shapes,
    /// start-up with confidence intervals, the plots).
    Report(reports::ReportArgs),
    /// Draw a run's plots (SVG, PNG), or trend plots from a history file.
    Plot(reports::PlotArgs),
    /// Compare a run with a baseline run (exit 1 on a significant regression) or with the
    /// published figures.
    Compare(reports::CompareArgs),
    /// Remove the images and containers r2r made (all, or one scenario's).
    Clean(CleanArgs),
}

#[derive(Debug, Args)]
struct ScenarioArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    scenario: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    scenario: String,
    /// Rebuild images even when their inputs are unchanged.
    #[arg(long)]
    rebuild: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Recorded start-up runs per image and cache mode.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Unrecorded warm-up start-up runs per image and cache mode.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Seed of the start-up run order and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Finish an interrupted run instead of starting a new one: its run id, or `latest`.
    /// Finished steps are kept; start-up adds only the runs that are missing.
    #[arg(long, value_name = "RUN-ID", num_args = 0..=1, default_missing_value = "latest")]
    resume: Option<String>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    scenario: String,
    /// Seconds one verification container may run.
    #[arg(long, default_value_t = 90)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum MeasureCommand {
    /// Image sizes (uncompressed, gzip as a registry stores it, zstd), per layer and per
    /// image, and how much a set of images stores only once.
    Sizes(SizesArgs),
    /// Container cold start of the app images: a fresh container per run, phases timed,
    /// warm-up runs discarded, images interleaved in a seeded shuffled order.
    Startup(StartupArgs),
}

/// Which cache modes to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CacheArg {
    /// Drop the page cache before every run (needs root).
    Cold,
    /// Leave the page cache alone.
    Warm,
    /// Both, interleaved.
    Both,
}

#[derive(Debug, Args)]
struct StartupArgs {
    /// A scenario name (scenarios/<name>.toml) or a path to a scenario file.
    #[arg(long, short)]
    scenario: String,
    /// Cache mode.
    #[arg(long, value_enum, default_value = "both")]
    cache: CacheArg,
    /// Recorded runs per image and cache mode, at least.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Unrecorded warm-up runs per image and cache mode.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Keep adding rounds until this many seconds have passed.
    #[arg(long, default_value_t = 0.0)]
    min_seconds: f64,
    /// Seed of the run order and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds a run may take to become ready.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// The web API's readiness signal: the first HTTP 200 on 127.0.0.1, or its ready line in the logs.
    #[arg(long, value_enum, default_value = "http")]
    ready: ReadyArg,
    /// Directory for the result files (default: results/<scenario>/<run-id>/).
    #[arg(long)]
    output: Option<PathBuf>,
}

/// The web API's readiness signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReadyArg {
    /// First HTTP 200 on 127.0.0.1.
    Http,
    /// The app's ready line in its output.
    Log,
}

impl StartupArgs {
    fn options(&self) -> r2r_core::measure::startup::StartupOptions {
        use r2r_core::measure::startup::Cache;
        r2r_core::measure::startup::StartupOptions {
            warmup: self.warmup,
            min_runs: self.runs.max(1),
            min_duration: std::time::Duration::from_secs_f64(self.min_seconds.max(0.0)),
            caches: match self.cache {
                CacheArg::Cold => vec![Cache::Cold],
                CacheArg::Warm => vec![Cache::Warm],
                CacheArg::Both => vec![Cache::Cold, Cache::Warm],
            },
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
struct SizesArgs {
    /// A scenario name or file: measure its built images through the engine.
    #[arg(
        long,
        short,
        required_unless_present = "archive",
        conflicts_with = "archive"
    )]
    scenario: Option<String>,
    /// A `docker save` archive (legacy or OCI layout) to measure without an engine.
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Also push the images to this registry on 127.0.0.1 and report the sizes it stores.
    #[arg(long, value_name = "127.0.0.1:PORT")]
    registry: Option<String>,
    /// Directory for the result files (default: results/<scenario>/<run-id>/).
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CleanArgs {
    /// Only this scenario's images (default: everything r2r made, bases included).
    #[arg(long, short)]
    scenario: Option<String>,
}

/// Resolved locations.
struct Project {
    root: PathBuf,
    work: PathBuf,
    catalog: Catalog,
}

fn find_root(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(root) = explicit {
        return Ok(root);
    }
    let start = std::env::current_dir().context("reading the current directory")?;
    start
        .ancestors()
        .find(|dir| dir.join("experiments/variants.toml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no r2r project (experiments/variants.toml) in {} or above; pass --root",
                start.display()
            )
        })
}

fn project(cli: &Cli) -> anyhow::Result<Project> {
    let root = find_root(cli.root.clone())?;
    let catalog = Catalog::load(&root.join("experiments"))?;
    let work = cli
        .work_dir
        .clone()
        .unwrap_or_else(|| root.join(".r2r/work"));
    Ok(Project {
        root,
        work,
        catalog,
    })
}

fn load_plan(project: &Project, argument: &str) -> anyhow::Result<Plan> {
    let path = scenario::resolve_path(argument, &project.root.join("scenarios"))?;
    Ok(plan::load(&path, &project.catalog)?)
}

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    // Commands that read run directories need neither the experiment catalog nor an engine.
    let offline = match &cli.command {
        Command::Report(arguments) => Some(
            find_root(cli.root.clone()).and_then(|root| reports::report_command(&root, arguments)),
        ),
        Command::Plot(arguments) => Some(
            find_root(cli.root.clone()).and_then(|root| reports::plot_command(&root, arguments)),
        ),
        Command::Compare(arguments) => Some(
            find_root(cli.root.clone()).and_then(|root| reports::compare_command(&root, arguments)),
        ),
        _ => None,
    };
    if let Some(result) = offline {
        return match result {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(error) => output::error(&error),
        };
    }
    let project = match project(&cli) {
        Ok(project) => project,
        Err(error) => return output::error(&error),
    };
    if let Command::Plan(arguments) = &cli.command {
        return match load_plan(&project, &arguments.scenario) {
            Ok(plan) if arguments.json => output::json(&plan),
            Ok(plan) => {
                print!("{}", plan.describe());
                0
            }
            Err(error) => output::error(&error),
        };
    }
    // Scenario errors are reported before anything talks to the engine.
    let plan = match &cli.command {
        Command::Build(a) => Some(load_plan(&project, &a.scenario)),
        Command::Run(a) => Some(load_plan(&project, &a.build.scenario)),
        Command::Verify(a) => Some(load_plan(&project, &a.scenario)),
        Command::Clean(a) => a.scenario.as_ref().map(|s| load_plan(&project, s)),
        Command::Measure(MeasureCommand::Sizes(a)) => {
            a.scenario.as_ref().map(|s| load_plan(&project, s))
        }
        Command::Measure(MeasureCommand::Startup(a)) => Some(load_plan(&project, &a.scenario)),
        Command::Plan(_) | Command::Report(_) | Command::Plot(_) | Command::Compare(_) => None,
    };
    // An archive is measured without an engine.
    if let Command::Measure(MeasureCommand::Sizes(arguments)) = &cli.command {
        if let Some(archive) = &arguments.archive {
            return match measure_archive(&project, archive, arguments.output.clone()) {
                Ok(()) => 0,
                Err(error) => output::error(&error),
            };
        }
    }
    let plan = match plan.transpose() {
        Ok(plan) => plan,
        Err(error) => return output::error(&error),
    };
    // One r2r at a time per scenario: a second one would share its images and results.
    let _lock = match &plan {
        Some(plan) => match r2r_core::results::files::lock(
            &project.root.join("results").join(&plan.scenario.name),
            &command_line(),
        ) {
            Ok(lock) => Some(lock),
            Err(error) => return output::error(&anyhow::Error::new(error)),
        },
        None => None,
    };
    let engine: Arc<dyn Engine> = match DockerEngine::connect().await {
        Ok(engine) => Arc::new(engine),
        Err(error) => return output::error(&anyhow::Error::new(error)),
    };
    if let Some(plan) = &plan {
        match containers::remove_leftovers(engine.as_ref(), &plan.scenario.name).await {
            Ok(removed) if !removed.is_empty() => eprintln!(
                "removed {} container(s) an interrupted r2r left behind",
                removed.len()
            ),
            Ok(_) => {}
            Err(error) => return output::error(&anyhow::Error::new(error)),
        }
    }
    let work = run_with_engine(&cli, &project, plan, engine.clone());
    tokio::select! {
        code = work => code,
        code = interrupted() => {
            let stopped = tokio::task::spawn_blocking(|| r2r_core::support::children::terminate_all(std::time::Duration::from_secs(5))).await.unwrap_or(0);
            let removed = containers::remove_all_live(engine.as_ref()).await;
            eprintln!("interrupted: stopped {stopped} child process(es), removed {removed} container(s); finished results are kept");
            code
        }
    }
}

/// This process's command line, for the lock file.
fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Resolves on SIGINT (130) or SIGTERM (143).
async fn interrupted() -> u8 {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => 130,
        _ = terminate.recv() => 143,
    }
}

async fn run_with_engine(
    cli: &Cli,
    project: &Project,
    plan: Option<Plan>,
    engine: Arc<dyn Engine>,
) -> u8 {
    let result = match (&cli.command, plan) {
        (Command::Build(arguments), Some(plan)) => {
            build(project, &plan, engine.as_ref(), arguments.rebuild)
                .await
                .map(|(ok, _)| ok)
        }
        (Command::Verify(arguments), Some(plan)) => {
            let options = VerifyOptions {
                run_timeout: std::time::Duration::from_secs(arguments.timeout),
                ..Default::default()
            };
            verify(project, &plan, engine.as_ref(), &options)
                .await
                .map(|(ok, _)| ok)
        }
        (Command::Run(arguments), Some(plan)) => {
            run_all(project, &plan, engine.as_ref(), arguments).await
        }
        (Command::Clean(_), plan) => clean(engine.as_ref(), plan.as_ref()).await.map(|_| true),
        (Command::Measure(MeasureCommand::Sizes(arguments)), Some(plan)) => {
            let directory = arguments
                .output
                .clone()
                .unwrap_or_else(|| new_run_directory(project, &plan.scenario.name));
            measure_sizes(
                &plan,
                engine.as_ref(),
                arguments.registry.as_deref(),
                &directory,
            )
            .await
        }
        (Command::Measure(MeasureCommand::Startup(arguments)), Some(plan)) => {
            let directory = arguments
                .output
                .clone()
                .unwrap_or_else(|| new_run_directory(project, &plan.scenario.name));
            measure_startup(
                &plan,
                engine.as_ref(),
                &arguments.options(),
                &directory,
                false,
            )
            .await
        }
        _ => unreachable!("every command that reaches the engine has its plan"),
    };
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(error) => output::error(&error),
    }
}

async fn build(
    project: &Project,
    plan: &Plan,
    engine: &dyn Engine,
    rebuild: bool,
) -> anyhow::Result<(bool, Vec<build::ImageBuild>)> {
    let workspace = Workspace::new(project.work.clone(), project.root.join("experiments"))?;
    let options = BuildOptions {
        rebuild,
        scripts: project.root.join("scripts"),
    };
    let observer = output::BuildProgress::new(plan.images.len());
    let results = build::build_plan(
        engine,
        plan,
        &project.catalog,
        &workspace,
        &options,
        &observer,
    )
    .await?;
    observer.finish();
    output::print_build_summary(&results);
    let ok = results.iter().all(|result| result.status.id().is_some());
    Ok((ok, results))
}

async fn verify(
    project: &Project,
    plan: &Plan,
    engine: &dyn Engine,
    options: &VerifyOptions,
) -> anyhow::Result<(bool, Vec<verify::ImageVerification>)> {
    let progress = output::VerifyProgress::new(plan.images.len());
    let mut results = Vec::new();
    for image in &plan.images {
        progress.start(&image.id);
        let present = engine.inspect_image(image.reference()).await?.is_some();
        let result = if present {
            verify::verify_image(engine, plan, &project.catalog, image, options).await
        } else {
            verify::ImageVerification {
                id: image.id.clone(),
                reference: image.reference().to_string(),
                variants: image.variants.clone(),
                role: image.role.clone(),
                checks: vec![verify::Check {
                    name: "present".into(),
                    passed: false,
                    detail: format!(
                        "{} is not built; run `r2r build --scenario {}`",
                        image.reference(),
                        plan.scenario.name
                    ),
                }],
            }
        };
        progress.done(&result);
        results.push(result);
    }
    progress.finish();
    verify::cross_checks(plan, &mut results);
    output::print_verify_table(&results);
    let ok = results.iter().all(verify::ImageVerification::passed);
    Ok((ok, results))
}

/// `results/<scenario>/<run-id>/` for a new run.
fn new_run_directory(project: &Project, scenario: &str) -> PathBuf {
    project
        .root
        .join("results")
        .join(scenario)
        .join(chrono_like_run_id())
}

/// Points `results/<scenario>/latest` at a run directory.
fn mark_latest(directory: &Path) {
    if let (Some(parent), Some(name)) = (directory.parent(), directory.file_name()) {
        let latest = parent.join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
}

async fn measure_sizes(
    plan: &Plan,
    engine: &dyn Engine,
    registry: Option<&str>,
    directory: &Path,
) -> anyhow::Result<bool> {
    let registry = registry
        .map(r2r_core::measure::registry::parse_address)
        .transpose()?;
    eprintln!("measuring sizes of {} images", plan.images.len());
    let report = r2r_core::measure::sizes::measure_plan(engine, plan, registry)
        .await
        .map_err(anyhow::Error::msg)?;
    r2r_core::measure::sizes::write(&report, directory)
        .with_context(|| format!("writing size results to {}", directory.display()))?;
    output::print_sizes(&report);
    mark_latest(directory);
    eprintln!("size results written to {}", directory.display());
    Ok(report.unmeasured.is_empty() && report.registry_errors.is_empty())
}

async fn measure_startup(
    plan: &Plan,
    engine: &dyn Engine,
    options: &r2r_core::measure::startup::StartupOptions,
    directory: &Path,
    resume: bool,
) -> anyhow::Result<bool> {
    use r2r_core::measure::startup;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for target in startup::targets(plan) {
        if engine.inspect_image(&target.reference).await?.is_some() {
            targets.push(target);
        } else {
            missing.push(format!(
                "{} ({} is not built)",
                target.image, target.reference
            ));
        }
    }
    if options.caches.contains(&startup::Cache::Cold) {
        if let Err(error) = startup::drop_page_cache() {
            anyhow::bail!("{error}");
        }
    }
    // Runs are appended to startup-runs.csv as they finish, each row whole (a full disk cuts
    // the file back to its last whole row): an interruption keeps every finished run.
    let runs_path = directory.join("startup-runs.csv");
    let prior = if resume {
        startup::read_runs(&runs_path)?
    } else {
        Vec::new()
    };
    let appending = resume && runs_path.is_file();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .truncate(false)
        .open(&runs_path)
        .with_context(|| format!("opening {}", runs_path.display()))?;
    if !appending {
        file.set_len(0)
            .with_context(|| format!("emptying {}", runs_path.display()))?;
        r2r_core::results::files::append_whole(&mut file, &startup::runs_csv(&[], true)?)
            .with_context(|| format!("writing {}", runs_path.display()))?;
    }
    if !prior.is_empty() {
        eprintln!("resuming start-up: {} run(s) already recorded", prior.len());
    }
    let mut sink = |record: &startup::RunRecord| -> Result<(), String> {
        let bytes = startup::runs_csv(std::slice::from_ref(record), false)
            .map_err(|error| format!("{error:#}"))?;
        r2r_core::results::files::append_whole(&mut file, &bytes)
            .map_err(|error| format!("writing {}: {error}", runs_path.display()))
    };
    let progress = output::StartupProgress::new();
    let measured = startup::measure(
        engine,
        &plan.scenario.name,
        &targets,
        options,
        &progress,
        &mut sink,
        prior,
    )
    .await;
    progress.finish();
    let records = measured.with_context(|| {
        format!(
            "start-up measurement stopped; every run recorded before is kept in {}",
            runs_path.display()
        )
    })?;
    let summaries = startup::summarize(&records, &targets, &plan.scenario.variants, options.seed);
    r2r_core::results::files::write_atomically(
        &directory.join("startup.csv"),
        &startup::summary_csv(&summaries)?,
    )?;
    let summary = serde_json::json!({
        "seed": options.seed,
        "warmup": options.warmup,
        "min_runs": options.min_runs,
        "caches": options.caches,
        "summaries": summaries,
        "failed_runs": records.iter().filter(|r| !r.ok).count(),
        "not_measured": missing,
    });
    r2r_core::results::files::update_summary(directory, "startup", summary)?;
    output::print_startup(&summaries, &records);
    for line in &missing {
        println!("not measured: {line}");
    }
    mark_latest(directory);
    eprintln!("startup results written to {}", directory.display());
    Ok(missing.is_empty() && records.iter().all(|r| r.ok))
}

fn measure_archive(
    project: &Project,
    archive: &Path,
    output_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let report = r2r_core::measure::sizes::measure_archive(archive).map_err(anyhow::Error::msg)?;
    let directory = output_dir.unwrap_or_else(|| new_run_directory(project, "archive"));
    r2r_core::measure::sizes::write(&report, &directory)
        .with_context(|| format!("writing size results to {}", directory.display()))?;
    output::print_sizes(&report);
    eprintln!("size results written to {}", directory.display());
    Ok(())
}

/// Runs one step of `run`, recording its outcome in run.json whatever happens.
async fn step<F>(
    info: &mut RunInfo,
    directory: &Path,
    engine: &dyn Engine,
    name: &str,
    work: F,
) -> anyhow::Result<bool>
where
    F: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = std::time::Instant::now();
    let mut result = work.await;
    let seconds = started.elapsed().as_secs_f64();
    // A step that did not succeed because the engine went away is an error of the run, not a
    // finding about the images: it stops here, and `--resume` redoes the step.
    if !matches!(result, Ok(true)) {
        if let Err(lost) = engine.info().await {
            let cause = match &result {
                Err(error) => format!("{error:#}"),
                _ => "some images failed".to_string(),
            };
            result = Err(anyhow::anyhow!(
                "the Docker engine stopped answering during {name} ({lost}); {cause}\nevery finished result is kept in {}; start the engine (bash scripts/engine.sh) and finish with `r2r run --scenario {} --resume {}`",
                directory.display(),
                info.scenario,
                info.run_id
            ));
        }
    }
    match &result {
        Ok(true) => info.step(name, "ok", seconds, None),
        Ok(false) => info.step(name, "failed", seconds, None),
        Err(error) => info.step(name, "error", seconds, Some(format!("{error:#}"))),
    }
    info.finished_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    info.save(directory)?;
    result
}

/// The run directory and record of `run`: a new one, or the one being resumed.
fn open_run(
    project: &Project,
    plan: &Plan,
    resume: Option<&str>,
) -> anyhow::Result<(PathBuf, RunInfo)> {
    if let Some(which) = resume {
        let directory =
            reports::resolve_run(&project.root, Some(&plan.scenario.name), Some(which))?;
        let directory = directory.canonicalize().unwrap_or(directory);
        let info = run_record::load(&directory, Some(&plan.scenario.name))?;
        if info.scenario_content_hash != plan.scenario.content_hash {
            bail!(
                "{}: scenario file {} changed since this run started (content hash {} then, {} now); start a new run instead of resuming",
                directory.display(),
                plan.scenario.path.display(),
                &info.scenario_content_hash[..12.min(info.scenario_content_hash.len())],
                &plan.scenario.content_hash[..12.min(plan.scenario.content_hash.len())]
            );
        }
        eprintln!(
            "resuming run {} ({} step(s) finished)",
            directory.display(),
            info.steps.values().filter(|s| s.status != "error").count()
        );
        return Ok((directory, info));
    }
    let directory = new_run_directory(project, &plan.scenario.name);
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let info = RunInfo {
        schema_version: run_record::SCHEMA_VERSION,
        r2r_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: directory
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        scenario: plan.scenario.name.clone(),
        scenario_content_hash: plan.scenario.content_hash.clone(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: None,
        machine: run_record::Machine::current(),
        engine: None,
        dotnet: run_record::DotnetVersions {
            runtime: plan.scenario.dotnet.clone(),
            sdk: run_record::sdk_version(),
        },
        git: run_record::GitState::of(&project.root),
        steps: Default::default(),
    };
    info.save(&directory)?;
    output::write_json(&directory.join("plan.json"), plan)?;
    Ok((directory, info))
}

async fn run_all(
    project: &Project,
    plan: &Plan,
    engine: &dyn Engine,
    arguments: &RunArgs,
) -> anyhow::Result<bool> {
    use r2r_core::model::scenario::Measurement;
    let rebuild = arguments.build.rebuild;
    let (directory, mut info) = open_run(project, plan, arguments.resume.as_deref())?;
    let resuming = arguments.resume.is_some();
    mark_latest(&directory);
    let engine_info = engine.info().await?;
    output::write_json(&directory.join("engine.json"), &engine_info)?;
    info.engine = Some(engine_info);
    info.save(&directory)?;
    // Building is cheap when nothing changed (unchanged images are kept), so it always runs:
    // after an engine restart it also proves the images are still there.
    let built = step(&mut info, &directory, engine, "build", async {
        let (built, builds) = build(project, plan, engine, rebuild).await?;
        output::write_json(&directory.join("build.json"), &builds)?;
        Ok(built)
    })
    .await?;
    let mut ok = built;
    let skip = |info: &RunInfo, name: &str| {
        let done = resuming && info.finished(name);
        if done {
            eprintln!("{name}: finished before, kept");
        }
        done
    };
    if !skip(&info, "verify") {
        ok &= step(&mut info, &directory, engine, "verify", async {
            let (verified, verifications) =
                verify(project, plan, engine, &VerifyOptions::default()).await?;
            output::write_json(&directory.join("verify.json"), &verifications)?;
            Ok(verified)
        })
        .await?;
    }
    if plan.scenario.measure.contains(&Measurement::Sizes) && !skip(&info, "sizes") {
        ok &= step(
            &mut info,
            &directory,
            engine,
            "sizes",
            measure_sizes(plan, engine, None, &directory),
        )
        .await?;
    }
    if plan.scenario.measure.contains(&Measurement::Startup) && !skip(&info, "startup") {
        let mut options = r2r_core::measure::startup::StartupOptions {
            min_runs: arguments.runs.max(1),
            warmup: arguments.warmup,
            seed: arguments.seed,
            ..Default::default()
        };
        if r2r_core::measure::startup::drop_page_cache().is_err() {
            eprintln!(
                "cold-cache runs need root (/proc/sys/vm/drop_caches); measuring warm starts only"
            );
            options.caches = vec![r2r_core::measure::startup::Cache::Warm];
        }
        ok &= step(
            &mut info,
            &directory,
            engine,
            "startup",
            measure_startup(plan, engine, &options, &directory, resuming),
        )
        .await?;
    }
    ok &= step(&mut info, &directory, engine, "report", async {
        finish_report(&directory, &plan.scenario.name)
    })
    .await?;
    mark_latest(&directory);
    eprintln!("results written to {}", directory.display());
    Ok(ok)
}

/// Plots and report of a finished run. Without a font PNGs are skipped with a message; SVG
/// plots and the report are still written.
fn finish_report(directory: &Path, scenario: &str) -> anyhow::Result<bool> {
    use r2r_core::report::plot::Format;
    let data = r2r_core::results::run_data::RunData::load(directory, Some(scenario))?;
    let formats = match r2r_core::report::plot::find_font(None) {
        Ok(_) => vec![Format::Svg, Format::Png],
        Err(error) => {
            eprintln!("PNG plots skipped: {error}");
            vec![Format::Svg]
        }
    };
    let outcome = reports::draw_plots(&data, &formats, None, None)?;
    for (name, reason) in &outcome.skipped {
        eprintln!("plot {name} skipped: {reason}");
    }
    for path in reports::write_report(&data)? {
        eprintln!("report: {}", path.display());
    }
    Ok(true)
}

/// A sortable run id from the current UTC time, e.g. `20261124T193000Z`.
fn chrono_like_run_id() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

async fn clean(engine: &dyn Engine, plan: Option<&Plan>) -> anyhow::Result<()> {
    let mut filter = vec![format!("{}=true", labels::MANAGED)];
    if let Some(plan) = plan {
        filter.push(format!("{}={}", labels::SCENARIO, plan.scenario.name));
    }
    let containers = engine.list_containers(&filter).await?;
    for id in &containers {
        engine.remove_container(id).await?;
    }
    let mut images = engine.list_images(&filter).await?;
    // An image that others stand on cannot be removed before them: sweep repeatedly until
    // everything is gone or a sweep removes nothing.
    let mut removed = 0;
    let mut failures = Vec::new();
    while !images.is_empty() {
        let before = images.len();
        let mut remaining = Vec::new();
        for image in images {
            let references = if image.tags.is_empty() {
                vec![image.id.clone()]
            } else {
                image.tags.clone()
            };
            let mut ok = true;
            for reference in &references {
                if let Err(error) = engine.remove_image(reference).await {
                    ok = false;
                    failures.push(error.to_string());
                    break;
                }
            }
            if ok {
                removed += 1;
            } else {
                remaining.push(image);
            }
        }
        if remaining.len() == before {
            bail!(
                "could not remove {} image(s): {}",
                remaining.len(),
                failures.last().cloned().unwrap_or_default()
            );
        }
        failures.clear();
        images = remaining;
    }
    println!(
        "removed {} container(s) and {removed} image(s)",
        containers.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        let id = chrono_like_run_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.starts_with("20"), "{id}");
        assert!(id.ends_with('Z'));
    }
}
