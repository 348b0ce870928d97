//! The binary's behaviour on bad input and without an engine: clear messages that name the
//! file, line and allowed values, and exit code 2. None of these needs a Docker engine.

mod common;

use common::r2r;
use predicates::prelude::*;

fn scenario_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("scenario-")
        .suffix(".toml")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn plan_lists_images_in_build_order() {
    r2r()
        .args(["plan", "--scenario", "composite"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "runtime-deps  on r2r/base:bookworm-slim",
        ))
        .stdout(predicate::str::contains(
            "composed-composite.aspnet  on runtime-composite.runtime",
        ))
        .stdout(predicate::str::contains(
            "selfcontained-composite.webapi  on runtime-deps",
        ));
}

#[test]
fn plan_json_is_machine_readable() {
    let output = r2r()
        .args(["plan", "--scenario", "quick", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["scenario"]["name"], "quick");
    assert_eq!(plan["images"][0]["id"], "runtime-deps");
}

#[test]
fn unknown_variant_names_file_line_and_allowed_values() {
    let file = scenario_file("dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\", \"fast\"]\n");
    let path = file.path().display().to_string();
    r2r()
        .args(["build", "--scenario", &path])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{path}:4:")))
        .stderr(predicate::str::contains("unknown variant `fast`"))
        .stderr(predicate::str::contains("runtime-composite"));
}

#[test]
fn bad_toml_unknown_field_and_version_exit_2() {
    for (text, expected) in [
        ("dotnet = \"10.0.12\"\nbase = [\n", ":2:"),
        ("dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\nspeed = 1\n", "unknown field `speed`"),
        ("dotnet = \"7.0.1\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\n", ".NET 7.0.1 is not served"),
        ("dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"desktop\"]\nvariants = [\"no-composite\"]\n", "unknown app `desktop`; allowed: console, webapi"),
    ] {
        let file = scenario_file(text);
        r2r().args(["verify", "--scenario", &file.path().display().to_string()]).assert().code(2).stderr(predicate::str::contains(expected));
    }
}

#[test]
fn a_band_plans_on_the_newest_patch_the_feed_serves() {
    let file = scenario_file(
        "dotnet = \"10.0\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\n",
    );
    let path = file.path().display().to_string();
    let output = r2r()
        .args(["plan", "--scenario", &path, "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["scenario"]["dotnet_request"], "10.0");
    // The same answer as the library's, from the same feed.
    let packs = r2r_core::model::dotnet_version::packs(false);
    let feeds = r2r_core::model::feed::NugetFeeds::for_work_dir(&common::root().join(".r2r/work"));
    let expected = r2r_core::model::dotnet_version::resolve(
        &r2r_core::model::dotnet_version::VersionRequest::parse("10.0").unwrap(),
        &packs,
        &feeds,
    )
    .unwrap()
    .version;
    assert_eq!(plan["scenario"]["dotnet"], expected.as_str());
    r2r()
        .args(["plan", "--scenario", &path])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "(.NET {expected}, the newest 10.0 served,"
        )));
}

#[test]
fn unknown_scenario_name_lists_the_available_ones() {
    r2r()
        .args(["plan", "--scenario", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no scenario `nope`"))
        .stderr(predicate::str::contains("quick"));
}

#[test]
fn no_engine_says_how_to_start_one() {
    r2r()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["build", "--scenario", "quick"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no Docker engine answers at unix:///nonexistent/docker.sock",
        ))
        .stderr(predicate::str::contains("scripts/engine.sh"));
}

#[test]
fn a_bad_cpu_list_is_refused_before_the_engine_is_reached() {
    let results = tempfile::tempdir().unwrap();
    r2r()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("--results-dir")
        .arg(results.path())
        .args([
            "measure",
            "startup",
            "--scenario",
            "quick",
            "--cpuset",
            "1-x",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CPU list '1-x'"));
    // A good list is taken, and the missing engine is what stops the command.
    r2r()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("--results-dir")
        .arg(results.path())
        .args(["measure", "startup", "--scenario", "quick", "--cpuset", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Docker engine answers"));
}

/// A `docker save` archive of two small images, as the in-memory engine writes it.
fn small_archive(path: &std::path::Path) {
    let engine = r2r_core::engine::fake::FakeEngine::new();
    engine.add_image(
        "small/base:1",
        Default::default(),
        &[("etc/os-release", b"PRETTY_NAME=small\n")],
    );
    engine.add_image(
        "small/app:1",
        Default::default(),
        &[("app/x.dll", &[7u8; 4096])],
    );
    let references = ["small/base:1".to_string(), "small/app:1".to_string()];
    std::fs::write(path, engine.save(&references).unwrap()).unwrap();
}

#[test]
fn an_archive_is_measured_outside_any_project() {
    let outside = tempfile::tempdir().unwrap();
    let archive = outside.path().join("small.tar");
    small_archive(&archive);
    // In the current directory by default: no project and no results root is needed.
    r2r()
        .current_dir(outside.path())
        .env_remove("R2R_ROOT")
        .env_remove("R2R_RESULTS_DIR")
        .args(["measure", "sizes", "--archive", "small.tar"])
        .assert()
        .success()
        .stdout(predicate::str::contains("small/app:1"));
    let rows = common::csv_rows(&outside.path().join("sizes.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Or where --output says.
    let output = outside.path().join("sizes");
    r2r()
        .current_dir(outside.path())
        .env_remove("R2R_ROOT")
        .args(["measure", "sizes", "--archive", "small.tar", "--output"])
        .arg(&output)
        .assert()
        .success();
    assert!(output.join("layers.csv").is_file());
}

#[test]
fn results_dir_decides_where_report_looks() {
    let results = tempfile::tempdir().unwrap();
    // An empty results root: report names it and finds no run.
    r2r()
        .arg("--results-dir")
        .arg(results.path())
        .args(["report", "--scenario", "quick"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "no run latest of scenario 'quick' in {}",
            results.path().join("quick").display()
        )));
    // The environment variable does the same.
    r2r()
        .env("R2R_RESULTS_DIR", results.path())
        .args(["report", "--scenario", "quick"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            results.path().join("quick").display().to_string(),
        ));
}

#[test]
fn calibrate_measures_the_coverage_of_the_kept_a_a_rounds_and_writes_its_file() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/data/nightly-aa-20261206");
    let output = tempfile::tempdir().unwrap();
    r2r()
        .arg("calibrate")
        .arg(&data)
        .args(["--resamples", "200", "--output"])
        .arg(output.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("240 in 20"))
        .stdout(predicate::str::contains("of 800"));
    let written = std::fs::read_to_string(output.path().join("calibration.csv")).unwrap();
    assert_eq!(written.lines().count(), 6, "{written}");
    // Asking for more coverage than the rounds give fails the command, and says so.
    r2r()
        .arg("calibrate")
        .arg(&data)
        .args(["--resamples", "200", "--min-coverage", "0.99"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "the pooled coverage is below 99.0%",
        ));
    r2r()
        .args(["calibrate", "--resamples", "20"])
        .arg(&data)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--resamples 20: give at least 200",
        ));
}
