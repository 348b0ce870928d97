//! Container cold start on real containers: the `quick` scenario's console images, cold and
//! warm, with their phases; a never-ready app recorded as a failure while the others go on;
//! and no container left behind.

mod common;

use common::{csv_rows as rows, number, r2r, root};
use std::time::Duration;

use r2r_core::engine::{DockerEngine, Engine};
use r2r_core::measure::startup::{self, Cache, RunRecord, StartupOptions, Target};
use r2r_core::model::catalog::AppKind;

#[test]
fn quick_console_images_cold_and_warm() {
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let directory = tempfile::tempdir().unwrap();
    let output = r2r()
        .args([
            "measure",
            "startup",
            "--scenario",
            "quick",
            "--runs",
            "4",
            "--warmup",
            "1",
            "--seed",
            "5",
            "--output",
        ])
        .arg(directory.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs = rows(&directory.path().join("startup-runs.csv"));
    assert_eq!(
        runs.len(),
        2 * 2 * 4,
        "two images, two cache modes, four runs each"
    );
    for run in &runs {
        assert_eq!(run["ok"], "true", "{run:?}");
        let (create, ready, total, main) = (
            number::<f64>(run, "create_ms"),
            number::<f64>(run, "start_to_ready_ms"),
            number::<f64>(run, "total_ms"),
            number::<f64>(run, "time_to_main_ms"),
        );
        // The phases add up, and the app reached Main before the run was over.
        assert!((create + ready - total).abs() < 0.01, "{run:?}");
        assert!(
            create > 0.0 && ready > 0.0 && main > 0.0 && main < ready,
            "{run:?}"
        );
    }
    let cold: Vec<f64> = runs
        .iter()
        .filter(|r| r["cache"] == "cold")
        .map(|r| number::<f64>(r, "total_ms"))
        .collect();
    let warm: Vec<f64> = runs
        .iter()
        .filter(|r| r["cache"] == "warm")
        .map(|r| number::<f64>(r, "total_ms"))
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(
        median(cold) > median(warm),
        "a dropped page cache makes starts slower"
    );
    let summary = rows(&directory.path().join("startup.csv"));
    let composite = summary
        .iter()
        .find(|r| {
            r["image"] == "runtime-composite.console"
                && r["cache"] == "warm"
                && r["phase"] == "total"
        })
        .unwrap();
    assert_eq!(composite["baseline"], "no-composite.console");
    assert_eq!(composite["runs"], "4");
    assert!(
        number::<f64>(composite, "ci95_low_ms") <= number::<f64>(composite, "mean_ms")
            && number::<f64>(composite, "mean_ms") <= number::<f64>(composite, "ci95_high_ms")
    );
    assert!(stdout.contains("times faster"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["startup"]["seed"], 5);
}

#[test]
fn a_never_ready_app_fails_alone_and_nothing_is_left_behind() {
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(DockerEngine::connect())
        .expect("a Docker engine");
    // The console app started as if it were the web API never answers HTTP.
    let targets = vec![
        Target {
            image: "no-composite.console".into(),
            reference: "r2r/quick:no-composite-console".into(),
            variants: vec!["no-composite".into()],
            kind: AppKind::Console,
        },
        Target {
            image: "never-ready".into(),
            reference: "r2r/quick:runtime-composite-console".into(),
            variants: vec!["runtime-composite".into()],
            kind: AppKind::Webapi,
        },
    ];
    let options = StartupOptions {
        warmup: 0,
        min_runs: 2,
        caches: vec![Cache::Warm],
        ready_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let mut sunk = Vec::new();
    let records = runtime
        .block_on(startup::measure(
            &engine,
            "quick",
            &targets,
            &options,
            &common::Quiet,
            &mut |record| {
                sunk.push(record.clone());
                Ok(())
            },
            Vec::new(),
        ))
        .unwrap();
    assert_eq!(sunk, records, "every run reaches the sink as it finishes");
    let (ok, failed): (Vec<&RunRecord>, Vec<&RunRecord>) = records.iter().partition(|r| r.ok);
    assert_eq!(ok.len(), 2);
    assert!(ok.iter().all(|r| r.image == "no-composite.console"));
    assert_eq!(failed.len(), 2);
    for record in failed {
        assert!(
            record.error.contains("no HTTP 200") || record.error.contains("not ready"),
            "{}",
            record.error
        );
        assert!(
            record.error.contains("r2r-console-ok"),
            "the log tail is kept: {}",
            record.error
        );
    }
    let left = runtime
        .block_on(engine.list_containers(&["r2r.scenario=quick".into()]))
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    // A missing image is reported and the rest is measured.
    let directory = tempfile::tempdir().unwrap();
    let scenario = directory.path().join("half-built.toml");
    std::fs::write(
        &scenario,
        std::fs::read_to_string(root().join("scenarios/quick.toml")).unwrap(),
    )
    .unwrap();
    let output = r2r()
        .args([
            "measure",
            "startup",
            "--cache",
            "warm",
            "--runs",
            "1",
            "--scenario",
        ])
        .arg(&scenario)
        .arg("--output")
        .arg(directory.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains(
        "not measured: no-composite.console (r2r/half-built:no-composite-console is not built)"
    ));
}
