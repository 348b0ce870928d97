//! `r2r nightly`, `r2r nightly-merge` and `r2r show` through the binary, on copies of a
//! recorded run in temporary directories (no engine: `--no-keep`, no paired rounds).

mod common;

use std::path::{Path, PathBuf};

use common::r2r;
use predicates::prelude::*;
use r2r_core::results::files::write_atomically;
use r2r_core::results::reading::read_csv;
use r2r_core::results::rows::{self, SizeRow};
use r2r_core::results::run_record;

/// A copy of the recorded run as `parent/id`, every gzip size times `gzip_factor`.
fn run_of(parent: &Path, id: &str, gzip_factor: u64) -> PathBuf {
    let recorded = common::root().join("harness/r2r-core/tests/data/run-composite");
    let run = parent.join(id);
    std::fs::create_dir_all(&run).unwrap();
    for entry in std::fs::read_dir(recorded).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    let mut info = run_record::load(&run, None).unwrap();
    info.run_id = id.to_string();
    info.save(&run).unwrap();
    let mut sizes: Vec<SizeRow> = read_csv(&run.join("sizes.csv"), &[]).unwrap().unwrap();
    for row in &mut sizes {
        row.gzip_bytes *= gzip_factor;
    }
    write_atomically(&run.join("sizes.csv"), &rows::to_csv(&sizes).unwrap()).unwrap();
    run
}

fn baseline_of(directory: &Path) -> String {
    std::fs::read_link(directory.join("baseline"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn nightly(results: &Path, run: &str) -> assert_cmd::Command {
    let mut command = r2r();
    command
        .arg("--results-dir")
        .arg(results)
        .args(["nightly", "--scenario", "composite", "--run", run])
        .args(["--no-keep", "--paired-runs", "0", "--plots", "svg"]);
    command
}

#[test]
fn nights_of_a_scenario_keep_the_baseline_until_accepted() {
    let results = tempfile::tempdir().unwrap();
    let scenario = results.path().join("composite");
    run_of(&scenario, "20261201T020000Z", 1);
    nightly(results.path(), "20261201T020000Z")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "run 20261201T020000Z becomes the baseline",
        ));
    assert_eq!(baseline_of(&scenario), "20261201T020000Z");
    assert!(scenario.join("history.csv").is_file());
    assert!(scenario.join("trends").is_dir());

    // A size regression: exit 1, the baseline stays.
    run_of(&scenario, "20261202T020000Z", 2);
    nightly(results.path(), "20261202T020000Z").assert().code(1);
    assert_eq!(baseline_of(&scenario), "20261201T020000Z");
    assert!(scenario
        .join("20261202T020000Z/compare-baseline.csv")
        .is_file());

    // Accepted: the baseline moves on.
    run_of(&scenario, "20261203T020000Z", 1);
    nightly(results.path(), "20261203T020000Z")
        .arg("--accept")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("accepted as the baseline"));
    assert_eq!(baseline_of(&scenario), "20261203T020000Z");

    // `show` reads the run back.
    r2r()
        .arg("--results-dir")
        .arg(results.path())
        .args([
            "show",
            "--scenario",
            "composite",
            "--run",
            "20261202T020000Z",
        ])
        .args(["--field", "run.run_id"])
        .assert()
        .success()
        .stdout("20261202T020000Z\n");
    let output = r2r()
        .args(["show", "--json", "--run"])
        .arg(scenario.join("20261202T020000Z"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(view["compare_baseline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|row| row["verdict"] == "regression"));
    r2r()
        .args(["show", "--describe", "-", "--field", "median"])
        .write_stdin("3\n1\n2\n")
        .assert()
        .success()
        .stdout("2.0\n");
    r2r()
        .args(["show", "--field", "no.such", "--run"])
        .arg(&scenario)
        .assert()
        .code(2);
}

#[test]
fn nights_of_merges_keep_the_latest_and_the_baseline() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("nightly");
    let merge = |night: u32, gzip_factor: u64, accept: bool| {
        let run = run_of(
            &work.path().join(format!("runs-{night}")),
            &format!("202612{night:02}T020000Z"),
            gzip_factor,
        );
        let mut command = r2r();
        command
            .arg("nightly-merge")
            .arg(&dir)
            .arg(format!("x64={}", run.display()))
            .args(["--plots", "svg"]);
        if accept {
            command.arg("--accept");
        }
        command.assert()
    };
    let merges = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.path().join("merged.json").is_file())
            .filter(|entry| !entry.file_type().unwrap().is_symlink())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    merge(1, 1, false)
        .code(0)
        .stdout(predicate::str::contains("becomes the baseline"));
    let first = baseline_of(&dir);
    // Merge ids are seconds apart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    merge(2, 2, false)
        .code(1)
        .stdout(predicate::str::contains(" regression(s)"))
        .stdout(predicate::str::contains("\n0 regression(s)").not());
    assert_eq!(baseline_of(&dir), first);
    assert_eq!(merges().len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    merge(3, 1, true).code(0);
    assert_ne!(baseline_of(&dir), first);
    assert_eq!(merges(), [baseline_of(&dir)]);
    assert!(dir.join("history.csv").is_file());
}

#[test]
fn engines_compare_equal_content_and_close_compressed_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let docker = run_of(dir.path(), "docker", 1);
    let podman = run_of(dir.path(), "podman", 1);
    let compare = |other: &Path| {
        let mut command = r2r();
        command
            .arg("compare-engines")
            .arg(format!("docker={}", docker.display()))
            .arg(format!("podman={}", other.display()));
        command.assert()
    };
    compare(&podman)
        .code(0)
        .stdout(predicate::str::contains("the same sizes on every engine"));
    let doubled = run_of(dir.path(), "podman-gzip", 2);
    compare(&doubled)
        .code(1)
        .stdout(predicate::str::contains("FAIL"));
}
