//! `r2r merge` through the binary: runs of two machines in one report, and the exit code of
//! its comparison with a baseline merge.

mod common;

use std::path::{Path, PathBuf};

use common::r2r;
use predicates::prelude::*;

/// A copy of the recorded run under `parent/name`, with the machine and .NET version given.
fn run_of(parent: &Path, name: &str, architecture: &str, dotnet: &str) -> PathBuf {
    let recorded = common::root().join("harness/r2r-core/tests/data/run-composite");
    let run = parent.join(name);
    std::fs::create_dir_all(&run).unwrap();
    for entry in std::fs::read_dir(recorded).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    let path = run.join("run.json");
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    info["run_id"] = serde_json::json!(name);
    info["machine"]["architecture"] = serde_json::json!(architecture);
    info["dotnet"]["runtime"] = serde_json::json!(dotnet);
    std::fs::write(&path, serde_json::to_vec_pretty(&info).unwrap()).unwrap();
    run
}

/// Doubles the gzip size of one image of a run.
fn double_gzip(run: &Path, image: &str) {
    let path = run.join("sizes.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let gzip = headers.iter().position(|h| h == "gzip_bytes").unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut cells: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if cells[0] == image {
            cells[gzip] = (cells[gzip].parse::<u64>().unwrap() * 2).to_string();
        }
        writer.write_record(&cells).unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

#[test]
fn merge_two_machines_then_compare_with_the_merged_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let x64 = run_of(dir.path(), "20261124T020000Z", "amd64", "10.0.14");
    let arm64 = run_of(dir.path(), "20261124T021000Z", "arm64", "10.0.14");
    let baseline = dir.path().join("baseline");
    r2r()
        .arg("merge")
        .arg(format!("x64={}", x64.display()))
        .arg(format!("arm64={}", arm64.display()))
        .arg("--out")
        .arg(&baseline)
        .assert()
        .success()
        .stdout(predicate::str::contains("x64: linux/amd64"))
        .stdout(predicate::str::contains("arm64: linux/arm64"));
    for file in ["merged.json", "sizes.csv", "startup.csv", "report.md"] {
        assert!(baseline.join(file).is_file(), "{file}");
    }

    // x64 on a new patch with a larger image: a version change; arm64 on the same version
    // with a larger image: a regression, exit 1.
    let x64 = run_of(dir.path(), "20261125T020000Z", "amd64", "10.0.15");
    let arm64 = run_of(dir.path(), "20261125T021000Z", "arm64", "10.0.14");
    double_gzip(&x64, "no-composite.console");
    let merge = |out: &Path| {
        let mut command = r2r();
        command
            .arg("merge")
            .arg(format!("x64={}", x64.display()))
            .arg(format!("arm64={}", arm64.display()))
            .arg("--out")
            .arg(out)
            .arg("--baseline")
            .arg(&baseline);
        command
    };
    merge(&dir.path().join("first"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0 regression(s), 1 size change(s) with a .NET version change",
        ));
    double_gzip(&arm64, "no-composite.console");
    merge(&dir.path().join("second"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("1 regression(s)"));
    let report = std::fs::read_to_string(dir.path().join("second/report.md")).unwrap();
    assert!(report.contains(".NET 10.0.14 → 10.0.15."), "{report}");

    // No runs, or a directory that is not a run: exit 2 with the reason.
    r2r()
        .args(["merge", "--out"])
        .arg(dir.path().join("none"))
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("run.json"));
}

#[test]
fn the_nightly_merge_script_keeps_a_baseline_history_and_trends() {
    let dir = tempfile::tempdir().unwrap();
    let nightly = dir.path().join("nightly");
    let script = |runs: &[(&str, &Path)]| {
        let mut command = std::process::Command::new("bash");
        command
            .arg(common::root().join("scripts/nightly-merge.sh"))
            .arg(&nightly)
            .env("R2R_BIN", common::r2r_exe());
        for (label, run) in runs {
            command.arg(format!("{label}={}", run.display()));
        }
        command.output().unwrap()
    };
    let x64 = run_of(dir.path(), "20261124T020000Z", "amd64", "10.0.14");
    let arm64 = run_of(dir.path(), "20261124T021000Z", "arm64", "10.0.14");
    let first = script(&[("x64", &x64), ("arm64", &arm64)]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let baseline = std::fs::read_link(nightly.join("baseline")).unwrap();
    assert_eq!(
        std::fs::read_link(nightly.join("latest")).unwrap(),
        baseline
    );

    // The merge ids are the UTC second: the next night is at least a second later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let x64 = run_of(dir.path(), "20261125T020000Z", "amd64", "10.0.15");
    let arm64 = run_of(dir.path(), "20261125T021000Z", "arm64", "10.0.14");
    double_gzip(&x64, "runtime-deps");
    let second = script(&[("x64", &x64), ("arm64", &arm64)]);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(
        stdout.contains("1 size change(s) with a .NET version change"),
        "{stdout}"
    );
    let latest = std::fs::read_link(nightly.join("latest")).unwrap();
    assert_ne!(latest, baseline, "the baseline stays until accepted");
    assert_eq!(
        std::fs::read_link(nightly.join("baseline")).unwrap(),
        baseline
    );
    let history = std::fs::read_to_string(nightly.join("history.csv")).unwrap();
    assert!(history.contains("x64/runtime-deps,gzip_bytes,") && history.contains(",10.0.15\n"));
    let trend = std::fs::read_to_string(nightly.join("trends/trend-gzip-bytes.svg")).unwrap();
    // x64 moved to 10.0.15, arm64 stayed: the merge's versions changed.
    assert!(
        trend.contains(".NET 10.0.14 → 10.0.14, 10.0.15"),
        "the version change is marked"
    );
    assert!(nightly.join(&latest).join("compare-baseline.csv").is_file());
}
