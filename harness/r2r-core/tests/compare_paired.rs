//! `compare --paired-runs` against the in-memory engine: a run's app images kept under their
//! baseline tag, a later run whose images start slower, and the paired rounds that measure
//! both in one run, written to `compare-startup-runs.csv` and judged a regression.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use r2r_core::build::{BuildError, BuildObserver, ImageBuild, Preparation};
use r2r_core::engine::fake::{layer_tar, FakeEngine, Script};
use r2r_core::measure::startup::{RunRecord, StartupObserver};
use r2r_core::model::catalog::Catalog;
use r2r_core::model::plan::{self, labels, Parent, Plan, PlannedImage};
use r2r_core::report::compare::{Basis, Thresholds, Verdict};
use r2r_core::run::compare::{self, baseline_reference};
use r2r_core::run::settings::{CacheModes, StartupSettings};
use r2r_core::run::{Observer, Pipeline, Project, RunSettings};

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
struct Notes(std::sync::Mutex<Vec<String>>);

impl BuildObserver for Notes {
    fn image_started(&self, _: &PlannedImage, _: usize, _: usize) {}
    fn line(&self, _: &PlannedImage, _: &str) {}
    fn image_finished(&self, _: &PlannedImage, _: &ImageBuild) {}
}

impl StartupObserver for Notes {
    fn started(&self, _: usize) {}
    fn run_finished(&self, _: &RunRecord, _: bool) {}
}

impl Observer for Notes {
    fn note(&self, text: &str) {
        self.0.lock().unwrap().push(text.to_string());
    }
}

const SCENARIO: &str = "paired";

#[tokio::test]
async fn a_slower_image_measured_beside_its_kept_baseline_is_a_regression() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let catalog = Catalog::load(&root.join("experiments")).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let scenario = directory.path().join(format!("{SCENARIO}.toml"));
    std::fs::copy(root.join("scenarios/quick.toml"), &scenario).unwrap();
    let plan = plan::load(&scenario, &catalog).unwrap();
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
    let project = Project {
        root: directory.path().to_path_buf(),
        results: directory.path().join("results"),
        work: directory.path().join("work"),
        catalog,
        detect_sdk: false,
    };
    let notes = Notes::default();
    let pipeline = Pipeline {
        engine: &engine,
        plan: &plan,
        project: &project,
        preparation: Some(&Dockerfiles),
        observer: &notes,
    };
    let settings = RunSettings {
        startup: StartupSettings {
            runs: Some(2),
            cache: Some(CacheModes::Warm),
            ..Default::default()
        },
        ..Default::default()
    };
    let results = &project.results;

    // The baseline run, its app images kept.
    pipeline.run(&settings).await.unwrap();
    let baseline = compare::load_run(results, Some(SCENARIO), None).unwrap();
    let kept = compare::keep_baseline(&engine, &baseline).await.unwrap();
    let apps = r2r_core::measure::startup::targets(&plan);
    assert_eq!(kept.kept.len(), apps.len(), "{kept:?}");
    assert!(kept.not_kept.is_empty());

    // A later run; one app image now takes 60 ms longer to start than the kept one.
    pipeline.run(&settings).await.unwrap();
    let current = compare::load_run(results, Some(SCENARIO), None).unwrap();
    assert_ne!(current.info.run_id, baseline.info.run_id);
    let slow = &apps[0];
    engine.script(
        &slow.reference,
        Script {
            stdout: vec!["r2r-console-ok".into(), "r2r-time-to-main-ms=4.5".into()],
            delay: Duration::from_millis(60),
            ..Default::default()
        },
    );

    let rounds = 8;
    let paired = StartupSettings::paired(rounds, None, &current.info.run_id);
    let thresholds = Thresholds {
        size: 0.01,
        startup: 0.05,
        alpha: 0.05,
    };
    let outcome =
        compare::compare_paired(&engine, &current, &baseline, &paired, thresholds, &notes)
            .await
            .unwrap();

    // Every app image beside its kept baseline image, in warm mode (the run's only mode).
    let mut expected: Vec<String> = apps
        .iter()
        .flat_map(|t| [format!("{}@baseline", t.image), t.image.clone()])
        .collect();
    let mut measured = outcome.images.clone();
    expected.sort();
    measured.sort();
    assert_eq!(measured, expected);
    let calls = engine.calls();
    assert!(
        calls
            .iter()
            .any(|c| c == &format!("create_container {}", baseline_reference(&slow.reference))),
        "the kept baseline image is started"
    );

    // The runs are written as they come: one row per recorded run.
    let file = outcome.file.clone().unwrap();
    assert_eq!(file, current.directory.join("compare-startup-runs.csv"));
    let rows: Vec<RunRecord> = csv::Reader::from_path(&file)
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), expected.len() * rounds);
    assert_eq!(rows, outcome.records);
    assert!(rows.iter().all(|r| r.ok && r.cache.name() == "warm"));

    // The slow image is a regression of the same run. (The others' containers take a
    // millisecond or two, so their verdicts are left to the clock's noise.)
    assert_eq!(outcome.changes.len(), apps.len());
    for change in &outcome.changes {
        assert_eq!(change.basis, Basis::SameRun);
        assert_eq!(change.metric, "startup_warm_total_ms");
        assert!(change.p_value.is_some(), "{change:?}");
    }
    let change = outcome
        .changes
        .iter()
        .find(|c| c.image == slow.image)
        .unwrap();
    assert_eq!(change.verdict, Verdict::Regression, "{change:?}");
    assert!(change.change.unwrap() > 0.05, "{change:?}");

    // The comparison with the baseline takes the paired start-up over the two runs' files.
    let comparison =
        compare::with_baseline(&current, &baseline, thresholds, outcome.changes, None).unwrap();
    assert!(comparison.regressions() >= 1);
    assert!(comparison.file.ends_with("compare-baseline.csv"));
    assert!(comparison.file.is_file());
    let slow_change = comparison
        .changes
        .iter()
        .find(|c| c.image == slow.image && c.metric == "startup_warm_total_ms")
        .unwrap();
    assert_eq!(slow_change.basis, Basis::SameRun);
}
