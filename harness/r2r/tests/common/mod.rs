//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The project root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

thread_local! {
    /// The results root of the test running on this thread: every test runs on a thread of
    /// its own, so each gets its own, removed when the test ends.
    static RESULTS: tempfile::TempDir = tempfile::Builder::new()
        .prefix("r2r-test-results-")
        .tempdir()
        .expect("a temporary results directory");
}

/// This test's own results root (never the project's `results/`).
pub fn results() -> PathBuf {
    RESULTS.with(|directory| directory.path().to_path_buf())
}

/// The run directory `<results>/<scenario>/latest` of this test points at, if any.
pub fn latest_run_if_any(scenario: &str) -> Option<PathBuf> {
    results().join(scenario).join("latest").canonicalize().ok()
}

/// The run directory `<results>/<scenario>/latest` of this test points at.
pub fn latest_run(scenario: &str) -> PathBuf {
    latest_run_if_any(scenario)
        .unwrap_or_else(|| panic!("no latest run of {scenario} in {}", results().display()))
}

/// The `r2r` executable under test. In the `r2r` package's own tests, the one cargo built for
/// them. Elsewhere (the fault suite is a package of its own): `R2R_TEST_BINARY` when set, else
/// `target/<profile>/r2r` after `cargo build -p r2r` (run once per test binary, so the
/// executable is never older than the sources).
pub fn r2r_exe() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_r2r") {
        return PathBuf::from(path);
    }
    if let Some(path) = std::env::var_os("R2R_TEST_BINARY") {
        return PathBuf::from(path);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "-p", "r2r"])
                .current_dir(root())
                .status()
                .expect("cargo runs");
            assert!(status.success(), "cargo build -p r2r failed");
            // This test binary is target/<profile>/deps/<name>-<hash>.
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("r2r")
        })
        .clone()
}

/// The `r2r` binary, run in the project root with this test's results root.
pub fn r2r() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(r2r_exe());
    command
        .current_dir(root())
        .env("R2R_RESULTS_DIR", results());
    command
}

/// [`r2r`] with the project's own work directory, whatever the environment names.
pub fn r2r_in_project() -> assert_cmd::Command {
    let mut command = r2r();
    command.env("R2R_WORK_DIR", root().join(".r2r/work"));
    command
}

/// A command's exit code and output, for an assertion's message.
pub fn said(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `r2r run --scenario <scenario>` with two warm runs per image and no warm-up (cold starts are
/// covered by the quick scenario's tests), asserted to succeed; the run's directory.
#[allow(dead_code)] // not every test binary runs whole scenarios
pub fn run_warm(scenario: &str) -> PathBuf {
    let output = r2r()
        .args([
            "run",
            "--scenario",
            scenario,
            "--runs",
            "2",
            "--warmup",
            "0",
            "--cache",
            "warm",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "r2r run --scenario {scenario}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    latest_run(scenario)
}

/// The rows of a CSV file as column -> value maps.
pub fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.deserialize().map(|row| row.unwrap()).collect()
}

/// A numeric column of a CSV row.
pub fn number<T: std::str::FromStr>(row: &BTreeMap<String, String>, column: &str) -> T {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} in {row:?}"))
}

/// A start-up observer that shows nothing.
pub struct Quiet;

impl r2r_core::measure::startup::StartupObserver for Quiet {
    fn started(&self, _: usize) {}
    fn run_finished(&self, _: &r2r_core::measure::startup::RunRecord, _: bool) {}
}
