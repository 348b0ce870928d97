//! The run pipeline: a run directory opened or resumed, the steps (build, verify, sizes,
//! start-up, report) each recorded in `run.json` with a typed status whatever happens, a step
//! that failed because the engine went away turned into an error of the run with the exact
//! `--resume` command, the `latest` link, and the clean sweep. Beside it: the project and its
//! plans ([`Project::open`]), the start-up settings of every command ([`settings`]), and what
//! is done with a finished run ([`compare`]: comparisons, paired start-up, kept baselines).
//!
//! Nothing here prints: progress and tables go to an [`Observer`], which the binary renders.

mod clean;
pub mod compare;
mod deploy;
mod project;
pub use crate::measure::startup::settings;
mod steps;
pub mod tune;

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::build::{BuildError, BuildObserver, ImageBuild, Preparation};
use crate::engine::{Engine, EngineError};
use crate::inspect::verify::{ImageVerification, VerifyOptions};
use crate::measure::sizes::SizeReport;
use crate::measure::startup::{PhaseSummary, RunRecord, StartupObserver, StartupOptions};
use crate::model::catalog::Catalog;
use crate::model::plan::Plan;
use crate::results::run_record::{self, RunInfo, RunInfoError, StartupRecord, StepStatus};
use crate::results::runs::{self, ResolveError};
use crate::results::{build_file, engine_file, plan_file, verify_file, RunDir};
use crate::support::hash::seed_of;

pub use clean::{clean, remove_leftover_counters, remove_leftovers, CleanOutcome};
pub use project::{find_root, results_root, ProjectError};
pub use settings::{StartupDefaults, StartupSettings};
pub use steps::{draw_plots, write_report, ReportOutcome};

/// A boxed error from another module, carried by [`RunError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The engine stopped answering during a step: the run stops, and `--resume` finishes it.
    #[error(transparent)]
    EngineLost(Box<EngineLost>),
    /// The scenario file changed since the run being resumed started.
    #[error(
        "{}: scenario file {} changed since this run started (content hash {then} then, {now} now); start a new run instead of resuming",
        directory.display(),
        file.display()
    )]
    ScenarioChanged {
        /// The run directory.
        directory: PathBuf,
        /// The scenario file.
        file: PathBuf,
        /// Its hash when the run started (first 12 hex digits).
        then: String,
        /// Its hash now (first 12 hex digits).
        now: String,
    },
    /// The scenario's `dotnet` band resolves to another version than the run being resumed
    /// started with (the feed served a new patch meanwhile).
    #[error(
        "{} was started on .NET {then}; the scenario's `{requested}` resolves to {now} now, and one run holds one version, so start a new run of {}",
        directory.display(),
        file.display()
    )]
    VersionChanged {
        /// The run directory.
        directory: PathBuf,
        /// The scenario file.
        file: PathBuf,
        /// What the scenario asks for (`10.0`).
        requested: String,
        /// The version the run started with.
        then: String,
        /// The version it resolves to now.
        now: String,
    },
    /// The run to resume cannot be found.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// `run.json` cannot be read or written.
    #[error(transparent)]
    Record(#[from] RunInfoError),
    /// The engine failed outside a step's own handling.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The build stopped as a whole.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A file or directory of the run could not be written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was done, e.g. `creating`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something failed, with what the pipeline was doing.
    #[error("{context}")]
    Context {
        /// What the pipeline was doing.
        context: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// An error of another module, as it is.
    #[error(transparent)]
    Other(BoxError),
    /// Images could not be removed by the clean sweep.
    #[error("could not remove {count} image(s): {last}")]
    Clean {
        /// How many remain.
        count: usize,
        /// The last removal error.
        last: String,
    },
}

/// The engine stopped answering during a step.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Docker engine stopped answering during {step} ({lost}); {cause}\nevery finished result is kept in {}; start the engine (bash scripts/engine.sh) and finish with `r2r run --scenario {scenario} --resume {run_id}`",
    directory.display()
)]
pub struct EngineLost {
    /// The step.
    pub step: String,
    /// The engine's answer to `info`.
    pub lost: String,
    /// How the step ended (its error chain, or that some images failed).
    pub cause: String,
    /// The run directory.
    pub directory: PathBuf,
    /// The scenario.
    pub scenario: String,
    /// The run id.
    pub run_id: String,
}

impl RunError {
    /// Wraps any error (or message) of another module.
    pub fn other(error: impl Into<BoxError>) -> RunError {
        RunError::Other(error.into())
    }

    /// Wraps any error (or message) with what the pipeline was doing.
    pub fn context(context: impl Into<String>, error: impl Into<BoxError>) -> RunError {
        RunError::Context {
            context: context.into(),
            source: error.into(),
        }
    }

    fn io(action: &'static str, path: &Path, source: std::io::Error) -> RunError {
        RunError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

pub use crate::support::error_chain;

/// The steps of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Building the plan's images.
    Build,
    /// Checking every image's files and behaviour.
    Verify,
    /// Measuring sizes.
    Sizes,
    /// Measuring start-up.
    Startup,
    /// Pulling onto a new node and starting there.
    Node,
    /// The first seconds under load.
    Load,
    /// Plots and report.
    Report,
}

impl Step {
    /// The step's key in `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Build => "build",
            Step::Verify => "verify",
            Step::Sizes => "sizes",
            Step::Startup => "startup",
            Step::Node => "node",
            Step::Load => "load",
            Step::Report => "report",
        }
    }
}

/// Receives what the pipeline does, for display. Every method has a default that shows
/// nothing.
pub trait Observer: BuildObserver + StartupObserver {
    /// A line for the user (e.g. `resuming run ...`, `verify: finished before, kept`).
    fn note(&self, _text: &str) {}
    /// The build of `total` images starts.
    fn build_started(&self, _total: usize) {}
    /// The build ended.
    fn build_finished(&self, _builds: &[ImageBuild]) {}
    /// Verification of `total` images starts.
    fn verify_started(&self, _total: usize) {}
    /// One image's checks start.
    fn verifying(&self, _image: &str) {}
    /// One image's checks are done.
    fn verified(&self, _result: &ImageVerification) {}
    /// Verification ended (cross checks included).
    fn verify_finished(&self, _results: &[ImageVerification]) {}
    /// Sizes were measured.
    fn sizes_measured(&self, _report: &SizeReport) {}
    /// The start-up measurement ended (its progress display can go).
    fn startup_stopped(&self) {}
    /// Start-up was measured; `missing` names targets that were not built.
    fn startup_measured(
        &self,
        _summaries: &[PhaseSummary],
        _records: &[RunRecord],
        _missing: &[String],
    ) {
    }
    /// The precision the start-up measurement reached, and why it stopped.
    fn startup_precision(&self, _report: &crate::measure::startup::PrecisionReport) {}
}

/// An observer that shows nothing.
pub struct Silent;

impl BuildObserver for Silent {
    fn image_started(&self, _: &crate::model::plan::PlannedImage, _: usize, _: usize) {}
    fn line(&self, _: &crate::model::plan::PlannedImage, _: &str) {}
    fn image_finished(&self, _: &crate::model::plan::PlannedImage, _: &ImageBuild) {}
}

impl StartupObserver for Silent {
    fn started(&self, _: usize) {}
    fn run_finished(&self, _: &RunRecord, _: bool) {}
}

impl Observer for Silent {}

/// Where the pipeline finds its project and writes its results.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory (experiments/, scenarios/, scripts/).
    pub root: PathBuf,
    /// The results root: runs go to `<results>/<scenario>/<run-id>/`.
    pub results: PathBuf,
    /// Where prepared content is cached.
    pub work: PathBuf,
    /// The experiment catalog.
    pub catalog: Catalog,
    /// Whether run.json records the host SDK's version (`dotnet --version`, which takes a
    /// second or more); off where no SDK is involved.
    pub detect_sdk: bool,
}

impl Project {
    /// `r2r run --app`: writes the scenario made for one project
    /// ([`crate::model::scenario::for_app`]) into the work directory as
    /// `scenarios/<name>.toml`, and returns its path (a run copies it into its directory).
    pub fn write_app_scenario(
        &self,
        app: &Path,
        request: &crate::model::scenario::AppScenarioRequest,
    ) -> Result<PathBuf, RunError> {
        let (name, text) = crate::model::scenario::for_app(app, request);
        let dir = self.work.join("scenarios");
        std::fs::create_dir_all(&dir).map_err(|error| RunError::io("creating", &dir, error))?;
        let path = dir.join(format!("{name}.toml"));
        crate::results::files::write_atomically(&path, text.as_bytes())
            .map_err(|error| RunError::io("writing", &path, error))?;
        Ok(path)
    }
}

/// Settings of `r2r run`.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// Rebuild images even when their inputs are unchanged.
    pub rebuild: bool,
    /// The run to finish (a run id, `latest` or a path) instead of starting a new one.
    pub resume: Option<String>,
    /// The directory of the new run, made ready before (`r2r tune` writes `tune/` and
    /// `scenario.toml` there first); `None`: a new one under the results root.
    pub directory: Option<PathBuf>,
    /// Settings of the verify step.
    pub verify: VerifyOptions,
    /// Settings of the start-up step, resolved with [`StartupDefaults::run`] and the
    /// scenario's `[startup]` table.
    pub startup: StartupSettings,
    /// Settings of the new-node step.
    pub node: crate::measure::node::NodeSettings,
    /// Settings of the load step.
    pub load: crate::measure::load::LoadSettings,
}

/// An open run: its directory and its record.
#[derive(Debug)]
pub struct Run {
    /// The run directory.
    pub directory: PathBuf,
    /// Its `run.json`, as saved after every step.
    pub info: RunInfo,
    /// Whether this run was resumed (finished steps are kept).
    pub resumed: bool,
}

impl Run {
    /// Opens a new run of `plan` under `<results>/<scenario>/<run-id>/` (run.json and
    /// plan.json written), or, with `resume`, the run it names.
    pub fn open(
        project: &Project,
        plan: &Plan,
        (resume, into): (Option<&str>, Option<&Path>),
        observer: &dyn Observer,
    ) -> Result<Run, RunError> {
        if let Some(which) = resume {
            let directory =
                runs::resolve_run(&project.results, Some(&plan.scenario.name), Some(which))?;
            let directory = directory.canonicalize().unwrap_or(directory);
            let info = run_record::load(&directory, Some(&plan.scenario.name))?;
            if info.scenario_content_hash != plan.scenario.content_hash {
                let short = |hash: &str| hash[..12.min(hash.len())].to_string();
                return Err(RunError::ScenarioChanged {
                    directory,
                    file: plan.scenario.path.clone(),
                    then: short(&info.scenario_content_hash),
                    now: short(&plan.scenario.content_hash),
                });
            }
            if !info.dotnet.runtime.is_empty() && info.dotnet.runtime != plan.scenario.dotnet {
                return Err(RunError::VersionChanged {
                    directory,
                    file: plan.scenario.path.clone(),
                    requested: plan.scenario.requested_dotnet().to_string(),
                    then: info.dotnet.runtime.clone(),
                    now: plan.scenario.dotnet.clone(),
                });
            }
            observer.note(&format!(
                "resuming run {} ({} step(s) finished)",
                directory.display(),
                info.steps
                    .values()
                    .filter(|s| s.status != StepStatus::Error)
                    .count()
            ));
            return Ok(Run {
                directory,
                info,
                resumed: true,
            });
        }
        let directory = match into {
            Some(directory) => directory.to_path_buf(),
            None => project
                .results
                .join(&plan.scenario.name)
                .join(runs::new_run_id()),
        };
        std::fs::create_dir_all(&directory)
            .map_err(|error| RunError::io("creating", &directory, error))?;
        let run = Run::open_in(project, plan, &directory);
        run.info.save(&run.directory)?;
        let run_dir = RunDir::new(&run.directory);
        plan_file::write(&run_dir, plan)
            .map_err(|error| RunError::io("writing", &run_dir.plan_json(), error))?;
        // A plan made in memory (tests) has no file to copy; a run made in a prepared
        // directory may have been planned from its own copy.
        let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
        if plan.scenario.path.is_file() && !same(&plan.scenario.path, &run_dir.scenario_toml()) {
            crate::results::scenario_file::write(
                &run_dir,
                &plan.scenario.path,
                &plan.scenario.recipe_files,
            )
            .map_err(|error| RunError::io("writing", &run_dir.scenario_toml(), error))?;
        }
        Ok(run)
    }

    /// Records the engine (`engine.json` and run.json's `engine`).
    pub async fn record_engine(&mut self, engine: &dyn Engine) -> Result<(), RunError> {
        let engine_info = engine.info().await?;
        let run_dir = RunDir::new(&self.directory);
        engine_file::write(&run_dir, &engine_info)
            .map_err(|error| RunError::io("writing", &run_dir.engine_json(), error))?;
        self.info.engine = Some(engine_info);
        self.info.save(&self.directory)?;
        Ok(())
    }

    /// Whether a resumed run finished `step` before (it is kept, not done again).
    pub fn finished_before(&self, step: Step) -> bool {
        self.resumed && self.info.finished(step.name())
    }

    /// Runs one step, recording its outcome in run.json whatever happens. A step that did not
    /// succeed while the engine does not answer becomes [`RunError::EngineLost`].
    pub async fn step<F>(
        &mut self,
        engine: &dyn Engine,
        step: Step,
        work: F,
    ) -> Result<bool, RunError>
    where
        F: std::future::Future<Output = Result<bool, RunError>>,
    {
        let started = Instant::now();
        let mut result = work.await;
        let seconds = started.elapsed().as_secs_f64();
        // A step that did not succeed because the engine went away is an error of the run, not
        // a finding about the images: it stops here, and `--resume` redoes the step.
        if !matches!(result, Ok(true)) {
            if let Err(lost) = engine.info().await {
                let cause = match &result {
                    Err(error) => error_chain(error),
                    _ => "some images failed".to_string(),
                };
                result = Err(RunError::EngineLost(Box::new(EngineLost {
                    step: step.name().to_string(),
                    lost: lost.to_string(),
                    cause,
                    directory: self.directory.clone(),
                    scenario: self.info.scenario.clone(),
                    run_id: self.info.run_id.clone(),
                })));
            }
        }
        let (status, detail) = match &result {
            Ok(true) => (StepStatus::Ok, None),
            Ok(false) => (StepStatus::Failed, None),
            Err(error) => (StepStatus::Error, Some(error_chain(error))),
        };
        self.info.step(step.name(), status, seconds, detail);
        self.info.finished_at = Some(runs::now_rfc3339());
        self.info.save(&self.directory)?;
        result
    }

    /// Points `latest` at this run.
    pub fn mark_latest(&self) {
        runs::mark_latest(&self.directory);
    }
}

/// Writes a value as pretty JSON to a file, whole.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), RunError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|error| RunError::context(format!("writing {}", path.display()), error))?;
    crate::results::files::write_atomically(path, &bytes)
        .map_err(|error| RunError::io("writing", path, error))
}

/// The pipeline over one plan: an engine, the project, how content is prepared, and who
/// watches.
pub struct Pipeline<'a> {
    /// The engine.
    pub engine: &'a dyn Engine,
    /// The plan.
    pub plan: &'a Plan,
    /// The project.
    pub project: &'a Project,
    /// Content preparation; `None` prepares on the host with the .NET SDK on PATH.
    pub preparation: Option<&'a dyn Preparation>,
    /// Who is told what happens.
    pub observer: &'a dyn Observer,
}

impl Pipeline<'_> {
    /// `r2r run`: build, verify, the scenario's measurements and the report, into a new run
    /// directory or the one resumed. `Ok(false)` when an image failed a step.
    pub async fn run(&self, settings: &RunSettings) -> Result<bool, RunError> {
        use crate::model::scenario::Measurement;
        // A start-up selection that names no image of the plan is refused before anything is
        // built, not after the build, verify and sizes steps.
        let only = &settings.startup.only;
        if !only.is_empty() {
            let targets = crate::measure::startup::targets(self.plan);
            crate::measure::startup::select(targets, &self.plan.scenario.variants, only)
                .map_err(RunError::other)?;
        }
        let mut run = Run::open(
            self.project,
            self.plan,
            (settings.resume.as_deref(), settings.directory.as_deref()),
            self.observer,
        )?;
        run.mark_latest();
        run.record_engine(self.engine).await?;
        let directory = run.directory.clone();
        // Building is cheap when nothing changed (unchanged images are kept), so it always
        // runs: after an engine restart it also proves the images are still there.
        let mut ok = run
            .step(self.engine, Step::Build, async {
                let (built, builds) = self.build(settings.rebuild).await?;
                let run_dir = RunDir::new(&directory);
                build_file::write(&run_dir, &builds)
                    .map_err(|error| RunError::io("writing", &run_dir.build_json(), error))?;
                Ok(built)
            })
            .await?;
        let kept = |run: &Run, step: Step| {
            let done = run.finished_before(step);
            if done {
                self.observer
                    .note(&format!("{}: finished before, kept", step.name()));
            }
            done
        };
        if !kept(&run, Step::Verify) {
            ok &= run
                .step(self.engine, Step::Verify, async {
                    let (verified, verifications) = self.verify(&settings.verify).await?;
                    let run_dir = RunDir::new(&directory);
                    verify_file::write(&run_dir, &verifications)
                        .map_err(|error| RunError::io("writing", &run_dir.verify_json(), error))?;
                    Ok(verified)
                })
                .await?;
        }
        let measure = &self.plan.scenario.measure;
        if measure.contains(&Measurement::Sizes) && !kept(&run, Step::Sizes) {
            ok &= run
                .step(self.engine, Step::Sizes, self.sizes(None, &directory))
                .await?;
        }
        let app_images = crate::measure::startup::targets(self.plan);
        let timed = app_images.is_empty()
            || app_images.iter().any(|target| {
                self.plan
                    .image(&target.image)
                    .is_some_and(|image| crate::measure::startup::not_timed_reason(image).is_none())
            });
        if measure.contains(&Measurement::Startup) && !timed {
            // Every app image is of a platform this machine only emulates: the other steps
            // stand, start-up is left out and the run says why.
            let reason = self
                .plan
                .images
                .iter()
                .find_map(crate::measure::startup::not_timed_reason)
                .unwrap_or_default();
            self.observer.note(&format!("startup: skipped: {reason}"));
        }
        if measure.contains(&Measurement::Startup) && timed && !kept(&run, Step::Startup) {
            let options = match run.info.startup.clone().filter(|_| run.resumed) {
                // A resumed run measures on as it began, whatever this command line says.
                Some(record) => {
                    if settings.startup != StartupSettings::default() {
                        self.observer.note("start-up flags are ignored with --resume: the run measures on with the settings it began with");
                    }
                    self.observer
                        .note(&format!("start-up as the run began: {}", record.describe()));
                    StartupOptions::from(&record)
                }
                None => {
                    let options = settings.startup.options(
                        &StartupDefaults::run()
                            .with_scenario(&self.plan.scenario.startup)
                            .with_seed(seed_of(&run.info.run_id)),
                        self.plan.scenario.variants.clone(),
                        || {
                            let droppable = crate::measure::startup::drop_page_cache().is_ok();
                            if !droppable {
                                self.observer.note("cold-cache runs need root (/proc/sys/vm/drop_caches); measuring warm starts only");
                            }
                            droppable
                        },
                    );
                    run.info.startup = Some(StartupRecord::from(&options));
                    run.info.save(&run.directory)?;
                    options
                }
            };
            let resumed = run.resumed;
            ok &= run
                .step(
                    self.engine,
                    Step::Startup,
                    self.startup(&options, &directory, resumed),
                )
                .await?;
        }
        let deploy = [Measurement::Node, Measurement::Load];
        if deploy.iter().any(|m| measure.contains(m)) {
            // Both start the app images as start-up does, with its limits and seed.
            let options = settings.startup.options(
                &StartupDefaults::run()
                    .with_scenario(&self.plan.scenario.startup)
                    .with_seed(seed_of(&run.info.run_id)),
                self.plan.scenario.variants.clone(),
                || false,
            );
            // Neither stops the run when it cannot be made (a registry or load generator
            // missing or gone): its one line is said, the step recorded as an error, and the
            // other steps and the report go on.
            let said = |result: Result<bool, RunError>| match result {
                Err(RunError::EngineLost(lost)) => Err(RunError::EngineLost(lost)),
                Err(error) => {
                    self.observer
                        .note(&format!("error: {}", error_chain(&error)));
                    Ok(false)
                }
                Ok(ok) => Ok(ok),
            };
            if measure.contains(&Measurement::Node) && !kept(&run, Step::Node) {
                let work = self.node(&settings.node, &options, &directory);
                ok &= said(run.step(self.engine, Step::Node, work).await)?;
            }
            if measure.contains(&Measurement::Load) && !kept(&run, Step::Load) {
                let work = self.load(&settings.load, &options, &directory);
                ok &= said(run.step(self.engine, Step::Load, work).await)?;
            }
        }
        ok &= run
            .step(self.engine, Step::Report, async { self.report(&directory) })
            .await?;
        run.mark_latest();
        self.observer
            .note(&format!("results written to {}", directory.display()));
        Ok(ok)
    }

    /// One measurement alone (`r2r measure sizes|startup`), recorded as a run of its own: a
    /// new run directory with run.json, plan.json and engine.json whose only step is the
    /// measurement; `latest` names it. With `output`, only the measurement's files are
    /// written there (no run record, `latest` left alone).
    pub async fn measure_alone(
        &self,
        output: Option<&Path>,
        measurement: StandaloneMeasurement<'_>,
    ) -> Result<bool, RunError> {
        if let Some(directory) = output {
            std::fs::create_dir_all(directory)
                .map_err(|error| RunError::io("creating", directory, error))?;
            return self.measure_into(measurement, directory).await;
        }
        let mut run = Run::open(self.project, self.plan, (None, None), self.observer)?;
        run.record_engine(self.engine).await?;
        let directory = run.directory.clone();
        let step = measurement.step();
        let result = run
            .step(
                self.engine,
                step,
                self.measure_into(measurement, &directory),
            )
            .await;
        run.mark_latest();
        result
    }

    async fn measure_into(
        &self,
        measurement: StandaloneMeasurement<'_>,
        directory: &Path,
    ) -> Result<bool, RunError> {
        match measurement {
            StandaloneMeasurement::Sizes { registry } => self.sizes(registry, directory).await,
            StandaloneMeasurement::Startup(options) => {
                self.startup(options, directory, false).await
            }
            StandaloneMeasurement::Node(settings, options) => {
                self.node(settings, options, directory).await
            }
            StandaloneMeasurement::Load(settings, options) => {
                self.load(settings, options, directory).await
            }
        }
    }
}

/// What [`Pipeline::measure_alone`] measures: one measurement step run on its own (`r2r
/// sizes`, `r2r startup`), apart from a scenario's
/// [`crate::model::scenario::Measurement`]s.
#[derive(Debug, Clone, Copy)]
pub enum StandaloneMeasurement<'a> {
    /// Sizes, optionally also as a registry on 127.0.0.1 stores them.
    Sizes {
        /// The registry's address.
        registry: Option<std::net::SocketAddr>,
    },
    /// Start-up with these settings.
    Startup(&'a StartupOptions),
    /// Pulls onto a new node and starts there, the starts with these start-up settings.
    Node(&'a crate::measure::node::NodeSettings, &'a StartupOptions),
    /// The first seconds under load, the apps started with these start-up settings.
    Load(&'a crate::measure::load::LoadSettings, &'a StartupOptions),
}

impl StandaloneMeasurement<'_> {
    /// The step it is recorded as.
    pub fn step(&self) -> Step {
        match self {
            StandaloneMeasurement::Sizes { .. } => Step::Sizes,
            StandaloneMeasurement::Startup(_) => Step::Startup,
            StandaloneMeasurement::Node(..) => Step::Node,
            StandaloneMeasurement::Load(..) => Step::Load,
        }
    }
}

impl Run {
    /// A new run record for a run written into `directory` (not saved yet).
    fn open_in(project: &Project, plan: &Plan, directory: &Path) -> Run {
        let directory = directory.to_path_buf();
        let sdk = if project.detect_sdk {
            run_record::sdk_version()
        } else {
            None
        };
        let info = RunInfo {
            schema_version: run_record::SCHEMA_VERSION,
            r2r_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: directory
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            scenario: plan.scenario.name.clone(),
            scenario_content_hash: plan.scenario.content_hash.clone(),
            started_at: runs::now_rfc3339(),
            finished_at: None,
            machine: run_record::Machine::current(),
            engine: None,
            dotnet: run_record::DotnetVersions {
                runtime: plan.scenario.dotnet.clone(),
                requested: (plan.scenario.requested_dotnet() != plan.scenario.dotnet)
                    .then(|| plan.scenario.requested_dotnet().to_string()),
                sdk: sdk.clone(),
                apps: Some(crate::build::dotnet::AppCompilation::new(
                    &plan.scenario.dotnet,
                    sdk.as_deref(),
                )),
            },
            git: run_record::GitState::of(&project.root),
            steps: Default::default(),
            startup: None,
        };
        Run {
            directory,
            info,
            resumed: false,
        }
    }
}
