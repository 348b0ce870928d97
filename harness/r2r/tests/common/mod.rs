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

/// The `r2r` binary, run in the project root.
pub fn r2r() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("r2r").unwrap();
    command.current_dir(root());
    command
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
