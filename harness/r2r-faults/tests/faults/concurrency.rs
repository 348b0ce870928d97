//! Two r2r on the same scenario: the second refuses at once with a message naming the first,
//! and never writes into its results.

use std::time::Duration;

use super::*;

#[test]
#[serial]
fn a_second_run_on_the_same_scenario_is_refused_naming_the_first() {
    build_quick();
    let runs_at_start = run_directories();
    let mut first = Background::start(
        &["run", "--scenario", "quick", "--runs", "3", "--warmup", "0"],
        &[],
    );
    let lock = scenario_results("quick").join(".lock");
    let pid = first.child.id();
    first.wait_for("the first run's lock", Duration::from_secs(60), |_| {
        std::fs::read_to_string(&lock).is_ok_and(|text| text.starts_with(&format!("pid {pid}:")))
    });
    // And its run directory, so that the ones the refused runs might make are told apart.
    first.wait_for("the first run's directory", Duration::from_secs(60), |_| {
        run_directories().len() > runs_at_start.len()
    });
    let runs_before = run_directories();
    for arguments in [
        &["run", "--scenario", "quick"][..],
        &["measure", "startup", "--scenario", "quick"][..],
        &["build", "--scenario", "quick"][..],
    ] {
        let output = common::r2r().args(arguments).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains("is locked by another r2r"), "{stderr}");
        assert!(
            stderr.contains(&format!("pid {pid}: ")) && stderr.contains("run --scenario quick"),
            "the holder is named: {stderr}"
        );
    }
    assert_eq!(
        run_directories(),
        runs_before,
        "the refused runs made no run directory"
    );
    let (code, stderr) = first.finish(Duration::from_secs(900));
    assert_eq!(code, Some(0), "the first run is undisturbed: {stderr}");
    // The lock goes with its holder: the next run may start.
    common::r2r()
        .args([
            "measure",
            "startup",
            "--scenario",
            "quick",
            "--cache",
            "warm",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--output",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .assert()
        .success();
}

fn run_directories() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(scenario_results("quick")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("20"))
        .collect();
    names.sort();
    names
}
