//! The run pipeline against the in-memory engine: what happens to the images above a failed
//! one, resuming after the engine was lost, the clean sweep, the start-up run order, and a
//! measurement recorded as a run of its own. No Docker, no .NET SDK: content preparation is
//! replaced by a Dockerfile naming the parent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use r2r_core::build::{BuildError, BuildObserver, BuildStatus, ImageBuild, Preparation};
use r2r_core::engine::fake::{layer_tar, FakeEngine, Script};
use r2r_core::engine::Engine;
use r2r_core::measure::startup::{self, Cache, RunRecord, StartupObserver, StartupOptions};
use r2r_core::model::catalog::Catalog;
use r2r_core::model::plan::{self, labels, Parent, Plan, PlannedImage};
use r2r_core::results::run_record::{self, StepStatus};
use r2r_core::run::settings::{Budget, CacheModes, Precision, StartupSettings};
use r2r_core::run::{
    self, Observer, Pipeline, Project, RunError, RunSettings, StandaloneMeasurement as Measurement,
};

/// Content preparation without the host: a Dockerfile on the parent and one file.
struct Dockerfiles;

#[async_trait::async_trait]
impl Preparation for Dockerfiles {
    async fn prepare(&self, _plan: &Plan) -> Result<(), BuildError> {
        Ok(())
    }

    async fn context(
        &self,
        plan: &Plan,
        image: &PlannedImage,
    ) -> Result<bytes::Bytes, r2r_core::build::PreparationError> {
        let parent = match &image.parent {
            Parent::Base(reference) => reference.clone(),
            Parent::Image(id) => plan.image(id).unwrap().reference().to_string(),
        };
        Ok(layer_tar(&[
            (
                "Dockerfile",
                format!("FROM {parent}\nCOPY . /\n").as_bytes(),
            ),
            ("content", image.id.as_bytes()),
        ]))
    }
}

/// An observer that keeps the notes.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

impl Notes {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl BuildObserver for Notes {
    fn image_started(&self, _: &PlannedImage, _: usize, _: usize) {}
    fn line(&self, _: &PlannedImage, _: &str) {}
    fn image_finished(&self, _: &PlannedImage, _: &ImageBuild) {}
}

impl StartupObserver for Notes {
    fn started(&self, _: usize) {}
    fn run_finished(&self, _: &RunRecord, _: bool) {}
    fn precision(&self, rounds: usize, pairs: &[startup::PairStatus], target: f64) {
        for pair in pairs {
            self.0.lock().unwrap().push(format!(
                "precision after {rounds}: {} ±{:.4} of ±{target}",
                pair.label(),
                pair.effect.half_width
            ));
        }
    }
}

impl Observer for Notes {
    fn note(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

struct Fixture {
    _directory: tempfile::TempDir,
    project: Project,
    plan: Plan,
    engine: FakeEngine,
    notes: Notes,
}

const SCENARIO: &str = "fake";

fn fixture() -> Fixture {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let catalog = Catalog::load(&root.join("experiments")).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let scenario = directory.path().join(format!("{SCENARIO}.toml"));
    std::fs::copy(root.join("scenarios/quick.toml"), &scenario).unwrap();
    let plan = plan::load(&scenario, &catalog).unwrap();
    assert_eq!(plan.scenario.name, SCENARIO);
    let engine = FakeEngine::new();
    for base in plan.bases(&catalog) {
        engine.add_image(
            base.image(),
            BTreeMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (labels::ROLE.to_string(), "base".to_string()),
            ]),
            &[("etc/os-release", b"PRETTY_NAME=fake\n")],
        );
    }
    engine.default_script(Script {
        stdout: vec!["r2r-console-ok".into(), "r2r-time-to-main-ms=4.5".into()],
        ..Default::default()
    });
    Fixture {
        project: Project {
            // Not a git checkout: run.json records no commit (and no time is spent asking).
            root: directory.path().to_path_buf(),
            results: directory.path().join("results"),
            work: directory.path().join("work"),
            catalog,
            detect_sdk: false,
        },
        _directory: directory,
        plan,
        engine,
        notes: Notes::default(),
    }
}

impl Fixture {
    fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            engine: &self.engine,
            plan: &self.plan,
            project: &self.project,
            preparation: Some(&Dockerfiles),
            observer: &self.notes,
        }
    }

    fn latest(&self) -> PathBuf {
        self.project
            .results
            .join(SCENARIO)
            .join("latest")
            .canonicalize()
            .unwrap()
    }

    fn reference(&self, id: &str) -> String {
        self.plan.image(id).unwrap().reference().to_string()
    }
}

fn settings() -> RunSettings {
    RunSettings {
        startup: StartupSettings {
            runs: Some(3),
            warmup: 1,
            seed: Some(7),
            cache: Some(CacheModes::Warm),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn startup_rows(directory: &Path) -> Vec<BTreeMap<String, String>> {
    csv::Reader::from_path(directory.join("startup-runs.csv"))
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn images_above_a_failed_image_are_skipped_and_the_others_built() {
    let fixture = fixture();
    fixture
        .engine
        .fail_build(&fixture.reference("no-composite.runtime"));
    let ok = fixture.pipeline().run(&settings()).await.unwrap();
    assert!(!ok, "a failed image fails the run");
    let run = fixture.latest();
    let builds: Vec<ImageBuild> =
        serde_json::from_value(read_json(&run.join("build.json"))).unwrap();
    let status = |id: &str| {
        builds
            .iter()
            .find(|b| b.id == id)
            .unwrap_or_else(|| panic!("{id} in build.json"))
            .status
            .clone()
    };
    assert!(matches!(
        status("no-composite.runtime"),
        BuildStatus::Failed { .. }
    ));
    for above in ["no-composite.aspnet", "no-composite.console"] {
        assert_eq!(
            status(above),
            BuildStatus::Skipped {
                because: "no-composite.runtime".into()
            },
            "{above}"
        );
    }
    for other in [
        "runtime-deps",
        "runtime-composite.runtime",
        "runtime-composite.aspnet",
        "runtime-composite.console",
    ] {
        assert!(
            matches!(status(other), BuildStatus::Built { .. }),
            "{other}"
        );
        assert!(fixture
            .engine
            .references()
            .contains(&fixture.reference(other)));
    }
    assert!(!fixture
        .engine
        .references()
        .contains(&fixture.reference("no-composite.console")));
    // Every step ran; build and the steps that met the missing images record failures.
    let info = run_record::load(&run, Some(SCENARIO)).unwrap();
    assert_eq!(info.steps["build"].status, StepStatus::Failed);
    assert_eq!(info.steps["sizes"].status, StepStatus::Failed);
    assert_eq!(info.steps["startup"].status, StepStatus::Failed);
    assert_eq!(info.steps["report"].status, StepStatus::Ok);
    let text = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(text.contains(r#""status": "failed""#), "{text}");
    // Start-up measured the console that exists, and only it.
    let rows = startup_rows(&run);
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r["image"] == "runtime-composite.console"));
    assert!(run.join("report.md").is_file());
}

/// How many containers a full run starts before its start-up step.
async fn starts_before_startup() -> usize {
    let fixture = fixture();
    // Verification fails (the fake images hold no assemblies); the run goes on.
    fixture.pipeline().run(&settings()).await.unwrap();
    let calls = fixture.engine.calls();
    let sizes = calls
        .iter()
        .rposition(|c| c.starts_with("export_images"))
        .unwrap();
    calls[..sizes]
        .iter()
        .filter(|c| c.starts_with("start_container"))
        .count()
}

#[tokio::test]
async fn engine_loss_stops_the_run_and_resume_adds_only_the_missing_runs() {
    let before = starts_before_startup().await;
    let fixture = fixture();
    // Two warm-up runs (one per console image), three recorded runs, then the engine is lost.
    fixture.engine.lose_after_starts(before + 2 + 3);
    let error = fixture.pipeline().run(&settings()).await.unwrap_err();
    let run = fixture.latest();
    let info = run_record::load(&run, Some(SCENARIO)).unwrap();
    let message = error.to_string();
    assert!(matches!(error, RunError::EngineLost(_)), "{message}");
    assert!(
        message.contains("the Docker engine stopped answering during startup")
            && message.contains(&format!(
                "finish with `r2r run --scenario {SCENARIO} --resume {}`",
                info.run_id
            ))
            && message.contains(&format!(
                "every finished result is kept in {}",
                run.display()
            )),
        "{message}"
    );
    assert_eq!(info.steps["startup"].status, StepStatus::Error);
    assert!(info.steps["startup"]
        .detail
        .as_deref()
        .unwrap()
        .contains("stopped answering"));
    assert_eq!(info.steps["verify"].status, StepStatus::Failed);
    assert_eq!(info.steps["sizes"].status, StepStatus::Ok);
    assert!(!info.steps.contains_key("report"), "the run stopped");
    let recorded = startup_rows(&run);
    assert_eq!(recorded.len(), 3);

    fixture.engine.restore();
    let calls_before = fixture.engine.calls().len();
    let resume = RunSettings {
        resume: Some("latest".into()),
        ..settings()
    };
    fixture.pipeline().run(&resume).await.unwrap();
    let notes = fixture.notes.all();
    for kept in [
        "verify: finished before, kept",
        "sizes: finished before, kept",
    ] {
        assert!(notes.iter().any(|n| n == kept), "{kept}: {notes:?}");
    }
    assert!(
        notes
            .iter()
            .any(|n| n == "resuming start-up: 3 run(s) already recorded"),
        "{notes:?}"
    );
    let resumed = run_record::load(&run, Some(SCENARIO)).unwrap();
    assert_eq!(resumed.run_id, info.run_id);
    assert_eq!(resumed.steps["verify"], info.steps["verify"], "verify kept");
    assert_eq!(resumed.steps["sizes"], info.steps["sizes"], "sizes kept");
    assert_eq!(resumed.steps["startup"].status, StepStatus::Ok);
    assert_eq!(resumed.steps["report"].status, StepStatus::Ok);
    let rows = startup_rows(&run);
    assert_eq!(rows.len(), 6, "three runs of each console image");
    assert_eq!(
        &rows[..3],
        &recorded[..],
        "recorded runs are kept as they were"
    );
    for image in ["no-composite.console", "runtime-composite.console"] {
        let mut runs: Vec<String> = rows
            .iter()
            .filter(|r| r["image"] == image)
            .map(|r| r["run"].clone())
            .collect();
        runs.sort();
        assert_eq!(runs, ["1", "2", "3"], "{image}");
    }
    // The resumed run started only the warm-ups and the three missing runs.
    let starts = fixture.engine.calls()[calls_before..]
        .iter()
        .filter(|c| c.starts_with("start_container"))
        .count();
    assert_eq!(starts, 2 + 3);
}

#[tokio::test]
async fn a_resumed_run_measures_on_with_the_settings_it_began_with() {
    let before = starts_before_startup().await;
    let fixture = fixture();
    fixture.engine.lose_after_starts(before + 2 + 3);
    fixture.pipeline().run(&settings()).await.unwrap_err();
    let run = fixture.latest();
    let began = run_record::load(&run, Some(SCENARIO))
        .unwrap()
        .startup
        .expect("the start-up settings are recorded when the step begins");
    assert_eq!(
        (
            began.min_runs,
            began.precision,
            began.seed,
            began.caches.clone()
        ),
        (3, None, 7, vec![Cache::Warm])
    );

    // Resumed with a start-up flag: neither it nor the scenario's defaults (±5%, both
    // caches) are taken, but the three warm rounds of seed 7 the run began with.
    fixture.engine.restore();
    let resume = RunSettings {
        resume: Some("latest".into()),
        startup: StartupSettings {
            runs: Some(9),
            ..Default::default()
        },
        ..Default::default()
    };
    fixture.pipeline().run(&resume).await.unwrap();
    let notes = fixture.notes.all();
    for note in [
        "start-up flags are ignored with --resume: the run measures on with the settings it began with",
        "start-up as the run began: 3 rounds; 1 warm-up; caches warm; seed 7",
    ] {
        assert!(notes.iter().any(|n| n == note), "{note}: {notes:?}");
    }
    let rows = startup_rows(&run);
    assert_eq!(rows.len(), 6, "three warm runs of each console image");
    assert!(rows.iter().all(|row| row["cache"] == "warm"));
    let resumed = run_record::load(&run, Some(SCENARIO)).unwrap();
    assert_eq!(resumed.startup.as_ref(), Some(&began));
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("Start-up: 3 rounds; 1 warm-up; caches warm; seed 7."),
        "the report states the settings"
    );
}

#[tokio::test]
async fn clean_removes_a_scenarios_images_children_first() {
    let fixture = fixture();
    fixture.pipeline().build(false).await.unwrap();
    let mut built: Vec<String> = fixture
        .plan
        .images
        .iter()
        .flat_map(|image| image.tags.clone())
        .collect();
    built.sort();
    let mut before = fixture.engine.references();
    before.retain(|r| r.starts_with("r2r/fake:"));
    assert_eq!(before, built);
    let removed = run::clean(&fixture.engine, Some(SCENARIO)).await.unwrap();
    assert_eq!(removed.images, fixture.plan.images.len());
    // Only the base (another scenario's images would be too) is left.
    let left = fixture.engine.references();
    assert!(left.iter().all(|r| !r.starts_with("r2r/fake:")), "{left:?}");
    assert_eq!(left.len(), 1, "{left:?}");
    // Each image went after every image standing on it.
    let calls = fixture.engine.calls();
    let removed_at = |id: &str| {
        let tags = &fixture.plan.image(id).unwrap().tags;
        calls
            .iter()
            .rposition(|c| tags.iter().any(|t| c == &format!("remove_image {t}")))
            .unwrap()
    };
    for image in &fixture.plan.images {
        if let Parent::Image(parent) = &image.parent {
            assert!(
                removed_at(&image.id) < removed_at(parent),
                "{} removed before its child {}",
                parent,
                image.id
            );
        }
    }
    // Nothing left to remove: a second sweep removes nothing and succeeds.
    assert_eq!(
        run::clean(&fixture.engine, Some(SCENARIO)).await.unwrap(),
        run::CleanOutcome::default()
    );
}

#[tokio::test]
async fn start_up_runs_follow_the_seeded_shuffle() {
    let fixture = fixture();
    fixture.pipeline().build(false).await.unwrap();
    let from = fixture.engine.calls().len();
    let options = StartupOptions {
        warmup: 2,
        min_runs: 4,
        caches: vec![Cache::Warm],
        seed: 11,
        ..Default::default()
    };
    let output = fixture._directory.path().join("startup-only");
    assert!(fixture
        .pipeline()
        .measure_alone(Some(&output), Measurement::Startup(&options))
        .await
        .unwrap());
    let targets = startup::targets(&fixture.plan);
    assert_eq!(targets.len(), 2);
    let order = |seed: u64| -> Vec<String> {
        // Warm runs only: every round runs each image once, warm-up rounds first.
        startup::Schedule::new(targets.len(), &options.caches, options.warmup, seed)
            .take(targets.len() * (options.warmup + options.min_runs))
            .map(|step| targets[step.target].reference.clone())
            .collect()
    };
    let started: Vec<String> = fixture.engine.calls()[from..]
        .iter()
        .filter_map(|c| c.strip_prefix("create_container "))
        .map(str::to_string)
        .collect();
    assert_eq!(started, order(11));
    assert_ne!(order(11), order(12), "the seed decides the order");
    // The recorded runs are the ones after the warm-ups, in the order they ran.
    let rows: Vec<String> = startup_rows(&output)
        .into_iter()
        .map(|r| fixture.reference(&r["image"]))
        .collect();
    assert_eq!(rows, started[targets.len() * options.warmup..]);
}

#[tokio::test]
async fn a_measurement_alone_is_a_run_of_its_own() {
    let fixture = fixture();
    fixture.pipeline().build(false).await.unwrap();
    let ok = fixture
        .pipeline()
        .measure_alone(None, Measurement::Sizes { registry: None })
        .await
        .unwrap();
    assert!(ok);
    let latest = fixture.latest();
    let info = run_record::load(&latest, Some(SCENARIO)).unwrap();
    assert_eq!(info.steps.keys().collect::<Vec<_>>(), ["sizes"]);
    assert_eq!(info.steps["sizes"].status, StepStatus::Ok);
    assert!(info.engine.is_some());
    for file in ["plan.json", "engine.json", "sizes.csv", "layers.csv"] {
        assert!(latest.join(file).is_file(), "{file}");
    }
    // What report and compare read.
    let data = r2r_core::results::run_data::RunData::load(&latest, Some(SCENARIO)).unwrap();
    assert_eq!(data.info.run_id, info.run_id);
    // Into a directory of one's choosing: the measurement's files only, and `latest` stays
    // where it was.
    let elsewhere = fixture._directory.path().join("elsewhere");
    fixture
        .pipeline()
        .measure_alone(Some(&elsewhere), Measurement::Sizes { registry: None })
        .await
        .unwrap();
    assert!(elsewhere.join("sizes.csv").is_file());
    assert!(!elsewhere.join("run.json").exists());
    assert_eq!(fixture.latest(), latest);
    assert!(!fixture._directory.path().join("latest").exists());
}

/// The size step's files of a directory, by name.
fn size_files(directory: &Path) -> BTreeMap<&'static str, Vec<u8>> {
    ["sizes.csv", "layers.csv", "sharing.csv", "anatomy.csv"]
        .into_iter()
        .map(|name| (name, std::fs::read(directory.join(name)).unwrap()))
        .collect()
}

/// The `sizes` key of a directory's summary.json.
fn sizes_summary(directory: &Path) -> serde_json::Value {
    read_json(&directory.join("summary.json"))["sizes"].clone()
}

#[tokio::test]
async fn sizes_from_the_layer_cache_are_the_same_to_the_byte() {
    let fixture = fixture();
    fixture.pipeline().build(false).await.unwrap();
    let base = fixture._directory.path();
    let engine = &fixture.engine;
    let measure = |name: &'static str| {
        let directory = base.join(name);
        let pipeline = fixture.pipeline();
        async move {
            let exports_before = engine.calls().len();
            assert!(pipeline
                .measure_alone(Some(&directory), Measurement::Sizes { registry: None })
                .await
                .unwrap());
            let exports: Vec<String> = engine.calls()[exports_before..]
                .iter()
                .filter(|call| call.starts_with("export_images"))
                .cloned()
                .collect();
            (directory, exports)
        }
    };
    let cache = fixture
        .project
        .work
        .join(r2r_core::measure::cache::CACHE_DIRECTORY);
    assert!(!cache.exists());
    let (cold, exports) = measure("cold").await;
    // Sizes and anatomy read one export of the images.
    assert_eq!(exports.len(), 1, "{exports:?}");
    // The same files as each measured alone without a cache.
    let plain = r2r_core::measure::sizes::measure_plan(&fixture.engine, &fixture.plan, None)
        .await
        .unwrap();
    let plain_anatomy = r2r_core::measure::anatomy::measure_plan(&fixture.engine, &fixture.plan)
        .await
        .unwrap();
    assert!(!plain_anatomy.is_empty());
    let files = size_files(&cold);
    assert_eq!(
        r2r_core::measure::sizes::sizes_csv(&plain).unwrap(),
        files["sizes.csv"]
    );
    assert_eq!(
        r2r_core::measure::sizes::layers_csv(&plain).unwrap(),
        files["layers.csv"]
    );
    assert_eq!(
        r2r_core::measure::sizes::sharing_csv(&plain).unwrap(),
        files["sharing.csv"]
    );
    assert_eq!(
        r2r_core::measure::anatomy::anatomy_csv(&plain_anatomy).unwrap(),
        files["anatomy.csv"]
    );
    let entries = |kind: &str| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(cache.join(kind))
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    };
    let layers = entries("layers");
    let images = entries("images");
    assert!(layers.len() >= 3, "{layers:?}");
    assert_eq!(images.len(), entries("anatomy").len());
    assert!(!images.is_empty());
    // The spool is empty once the step is done.
    assert_eq!(entries("spool"), Vec::<PathBuf>::new());

    // Warm: nothing is exported, and every file is the same to the byte.
    let (warm, exports) = measure("warm").await;
    assert_eq!(exports, Vec::<String>::new());
    assert_eq!(size_files(&warm), size_files(&cold));
    assert_eq!(sizes_summary(&warm), sizes_summary(&cold));

    // Half warm: one image's config and anatomy are gone, and so is its top layer; it is
    // exported again, its other layers are taken from the cache, the rest is not exported.
    let console = fixture
        .engine
        .inspect_image(&fixture.reference("runtime-composite.console"))
        .await
        .unwrap()
        .unwrap();
    let hex = |id: &str| id.trim_start_matches("sha256:").to_string();
    std::fs::remove_file(cache.join("images").join(hex(&console.id))).unwrap();
    std::fs::remove_file(cache.join("anatomy").join(hex(&console.id))).unwrap();
    std::fs::remove_file(
        cache
            .join("layers")
            .join(hex(console.layers.last().unwrap())),
    )
    .unwrap();
    let (half, exports) = measure("half").await;
    let only_console = format!(
        "export_images {}",
        fixture.reference("runtime-composite.console")
    );
    assert_eq!(exports, vec![only_console]);
    assert_eq!(size_files(&half), size_files(&cold));
    assert!(cache
        .join("layers")
        .join(hex(console.layers.last().unwrap()))
        .is_file());

    // A corrupt layer entry and a foreign one are measured again (with a warning), to the
    // same figures, and replaced.
    let bottom = cache.join("layers").join(hex(&console.layers[0]));
    let good = std::fs::read(&bottom).unwrap();
    std::fs::write(&bottom, &good[..good.len() / 2]).unwrap();
    let foreign = &layers[layers.len() - 1];
    let text = std::fs::read(foreign).unwrap();
    let line_end = text.iter().position(|b| *b == b'\n').unwrap();
    let mut fields: Vec<String> = String::from_utf8(text[..line_end].to_vec())
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    fields[1] = "m0-an-older-measuring-code".into();
    let mut rewritten = fields.join(" ").into_bytes();
    rewritten.extend_from_slice(&text[line_end..]);
    std::fs::write(foreign, &rewritten).unwrap();
    // Every image that holds them is exported again.
    std::fs::remove_dir_all(cache.join("images")).unwrap();
    let (repaired, exports) = measure("repaired").await;
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert_eq!(size_files(&repaired), size_files(&cold));
    assert_eq!(std::fs::read(&bottom).unwrap(), good);
    assert_eq!(std::fs::read(foreign).unwrap(), text);

    // Deleted: measured again from scratch, the same.
    std::fs::remove_dir_all(&cache).unwrap();
    let (again, exports) = measure("again").await;
    assert_eq!(exports.len(), 1);
    assert_eq!(size_files(&again), size_files(&cold));
}

#[tokio::test]
async fn a_lost_engine_is_not_mistaken_for_failed_images() {
    let fixture = fixture();
    fixture.pipeline().build(false).await.unwrap();
    let mut run = run::Run::open(
        &fixture.project,
        &fixture.plan,
        (None, None),
        &fixture.notes,
    )
    .unwrap();
    let engine: &dyn Engine = &fixture.engine;
    // A step that failed while the engine answers is a finding.
    assert!(!run
        .step(engine, run::Step::Verify, async { Ok(false) })
        .await
        .unwrap());
    assert_eq!(run.info.steps["verify"].status, StepStatus::Failed);
    // The same outcome with the engine gone is an error of the run.
    fixture.engine.lose();
    let error = run
        .step(engine, run::Step::Sizes, async { Ok(false) })
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("during sizes (no Docker engine answers at fake://engine"),
        "{error}"
    );
    assert!(
        error.to_string().contains("; some images failed\n"),
        "{error}"
    );
    let saved = run_record::load(&run.directory, Some(SCENARIO)).unwrap();
    assert_eq!(saved.steps["sizes"].status, StepStatus::Error);
}

/// The console images' containers take `baseline` and `candidate` long to exit.
fn console_delays(fixture: &Fixture, baseline: u64, candidate: u64) {
    for (image, delay) in [
        ("no-composite.console", baseline),
        ("runtime-composite.console", candidate),
    ] {
        fixture.engine.script(
            &fixture.reference(image),
            Script {
                stdout: vec!["r2r-console-ok".into()],
                delay: std::time::Duration::from_millis(delay),
                ..Default::default()
            },
        );
    }
}

/// summary.json's `startup.precision` of a run.
fn precision_of(run: &Path) -> serde_json::Value {
    read_json(&run.join("summary.json"))["startup"]["precision"].clone()
}

const PAIR: &str = "runtime-composite.console vs no-composite.console (warm)";

#[tokio::test]
async fn the_precision_loop_stops_once_every_pair_is_resolved() {
    let fixture = fixture();
    // The candidate exits after 100 ms, the baseline after 200 ms: faster by far more than a
    // loaded machine's scheduling delays, whatever they add to each run.
    console_delays(&fixture, 200, 100);
    let settings = RunSettings {
        startup: StartupSettings {
            runs: Some(4),
            precision: Some(Precision(Some(0.25))),
            max_runs: Some(40),
            ..settings().startup
        },
        ..settings()
    };
    fixture.pipeline().run(&settings).await.unwrap();
    let run = fixture.latest();
    let precision = precision_of(&run);
    assert_eq!(precision["stopped"], "resolved", "{precision:#}");
    let rounds = precision["rounds"].as_u64().unwrap();
    // Never fewer than 10 rounds, whatever --runs says (a pair resolves from 10 on).
    assert!((10..40).contains(&rounds), "{precision:#}");
    assert_eq!(precision["unresolved"], serde_json::json!([]));
    assert_eq!(precision["target_pct"], 25.0);
    let pair = &precision["pairs"][0];
    assert_eq!(pair["image"], "runtime-composite.console");
    assert!(pair["half_width_pct"].as_f64().unwrap() <= 25.0);
    assert!(pair["resolved"].as_bool().unwrap());
    // Whole rounds only, and no more than needed: the round before the last one was not yet
    // resolved (or was below the minimum of 10).
    assert_eq!(startup_rows(&run).len() as u64, 2 * rounds);
    if rounds > 10 {
        let notes = fixture.notes.all();
        let before_last = format!("precision after {}: {PAIR}", rounds - 1);
        let note = notes.iter().find(|n| n.starts_with(&before_last)).unwrap();
        let half_width: f64 = note
            .split('±')
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(half_width > 0.25, "{note}");
    }
    // startup.csv carries the paired comparison of the candidate's total time.
    let data = r2r_core::results::run_data::RunData::load(&run, Some(SCENARIO)).unwrap();
    let row = data
        .startup_row("runtime-composite.console", "warm", "total")
        .unwrap();
    assert_eq!(row.paired_rounds, rounds);
    assert_eq!(row.paired_verdict, "faster");
    // The speed-up is the geometric mean of the rounds' ratios as the runs file records them
    // (whatever the machine added to each run).
    let speedup = row.paired_speedup.unwrap();
    let total = |image: &str| -> BTreeMap<String, f64> {
        startup_rows(&run)
            .into_iter()
            .filter(|r| r["image"] == image && r["ok"] == "true")
            .map(|r| (r["round"].clone(), r["total_ms"].parse::<f64>().unwrap()))
            .collect()
    };
    let (baseline, candidate) = (
        total("no-composite.console"),
        total("runtime-composite.console"),
    );
    let logs: Vec<f64> = baseline
        .iter()
        .map(|(round, b)| (b / candidate[round]).ln())
        .collect();
    let expected = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
    assert_eq!(logs.len() as u64, rounds);
    assert!(
        (speedup - expected).abs() < 1e-3,
        "{speedup} against {expected}"
    );
    assert!(speedup > 1.0, "{row:?}");
    assert!(row.paired_text.contains("× faster (95% CI"), "{row:?}");
    let baseline = data
        .startup_row("no-composite.console", "warm", "total")
        .unwrap();
    assert_eq!((baseline.paired_rounds, baseline.paired_speedup), (0, None));
    // The report shows it.
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains(&row.paired_text), "{report}");
}

#[tokio::test]
async fn the_precision_loop_stops_at_max_runs_and_names_what_stayed_unresolved() {
    let fixture = fixture();
    console_delays(&fixture, 10, 10);
    let settings = RunSettings {
        startup: StartupSettings {
            runs: Some(2),
            precision: Some(Precision(Some(1e-9))),
            max_runs: Some(5),
            ..settings().startup
        },
        ..settings()
    };
    fixture.pipeline().run(&settings).await.unwrap();
    let run = fixture.latest();
    let precision = precision_of(&run);
    assert_eq!(precision["stopped"], "max-runs", "{precision:#}");
    assert_eq!(precision["rounds"], 5);
    assert_eq!(precision["unresolved"], serde_json::json!([PAIR]));
    assert_eq!(startup_rows(&run).len(), 10);
    // The half-width was shown after every whole round that was followed by another.
    let notes = fixture.notes.all();
    for rounds in 1..5 {
        let prefix = format!("precision after {rounds}: {PAIR} ±");
        assert!(
            notes.iter().any(|n| n.starts_with(&prefix)),
            "{prefix}: {notes:?}"
        );
    }
    assert!(!notes.iter().any(|n| n.starts_with("precision after 5")));
}

#[tokio::test]
async fn the_time_budget_stops_the_loop_after_two_rounds_at_least() {
    let fixture = fixture();
    console_delays(&fixture, 10, 10);
    let settings = RunSettings {
        startup: StartupSettings {
            runs: Some(10),
            precision: Some(Precision(Some(1e-9))),
            max_time: Some(Budget(Some(std::time::Duration::from_millis(1)))),
            ..settings().startup
        },
        ..settings()
    };
    fixture.pipeline().run(&settings).await.unwrap();
    let precision = precision_of(&fixture.latest());
    assert_eq!(precision["stopped"], "max-time", "{precision:#}");
    assert_eq!(
        precision["rounds"], 2,
        "the fewest rounds a paired interval needs"
    );
    assert_eq!(precision["unresolved"], serde_json::json!([PAIR]));
}

#[tokio::test]
async fn an_interrupted_precision_loop_resumes_its_schedule() {
    let before = starts_before_startup().await;
    let fixture = fixture();
    console_delays(&fixture, 10, 10);
    let settings = RunSettings {
        startup: StartupSettings {
            runs: Some(2),
            precision: Some(Precision(Some(1e-9))),
            max_runs: Some(4),
            ..settings().startup
        },
        ..settings()
    };
    // Two warm-up runs, five recorded runs (round 3 half done), then the engine is lost.
    fixture.engine.lose_after_starts(before + 2 + 5);
    fixture.pipeline().run(&settings).await.unwrap_err();
    let run = fixture.latest();
    let recorded = startup_rows(&run);
    assert_eq!(recorded.len(), 5);
    fixture.engine.restore();
    let resume = RunSettings {
        resume: Some("latest".into()),
        ..settings
    };
    fixture.pipeline().run(&resume).await.unwrap();
    let rows = startup_rows(&run);
    assert_eq!(rows.len(), 8, "four whole rounds of two images");
    assert_eq!(
        &rows[..5],
        &recorded[..],
        "recorded runs are kept as they were"
    );
    for image in ["no-composite.console", "runtime-composite.console"] {
        let rounds: Vec<&str> = rows
            .iter()
            .filter(|r| r["image"] == image)
            .map(|r| r["round"].as_str())
            .collect();
        assert_eq!(rounds, ["1", "2", "3", "4"], "{image}");
    }
    let precision = precision_of(&run);
    assert_eq!(precision["stopped"], "max-runs", "{precision:#}");
    assert_eq!(precision["rounds"], 4);
    assert_eq!(precision["unresolved"], serde_json::json!([PAIR]));
}

#[tokio::test]
async fn a_selection_naming_no_image_is_refused_before_anything_is_built() {
    let fixture = fixture();
    let settings = RunSettings {
        startup: StartupSettings {
            only: vec!["runtime-composite.webapi".into()],
            ..settings().startup
        },
        ..settings()
    };
    let error = fixture.pipeline().run(&settings).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no app image 'runtime-composite.webapi' in the plan"),
        "{error}"
    );
    let calls = fixture.engine.calls();
    assert!(
        !calls.iter().any(|call| call.starts_with("build")),
        "nothing is built: {calls:?}"
    );
    assert!(!fixture
        .project
        .results
        .join(SCENARIO)
        .join("latest")
        .exists());
}
