//! Reading a finished (or partly finished) run directory back: `run.json`, `plan.json`,
//! `build.json` and the measurement CSVs, as typed rows. Reports, comparisons and plots work
//! from these files, never from in-memory state, so they can be redrawn from any run.

use std::path::{Path, PathBuf};

use crate::build::ImageBuild;
use crate::model::plan::Plan;
use crate::results::csv_rows::{self as rows, CsvFile};
use crate::results::run_dir::RunDir;
use crate::results::run_record::{self, RunInfo};
use crate::results::{build_file, plan_file};

pub use crate::results::reading::{read_csv, read_json, RunDataError};

pub use crate::results::sharing::SharingRow;
pub use crate::results::sizes::SizeRow;

/// One row of `startup.csv` (the type that writes it).
pub use crate::results::startup_summary::SummaryRow as StartupRow;

/// One row of `startup-runs.csv`: the phases of one recorded run (the type that writes it).
/// Empty cells are `None`.
pub use crate::results::startup_runs::RunRecord as StartupRunRow;

/// Everything a run directory holds that reports, plots and comparisons read.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run directory.
    pub directory: PathBuf,
    /// `run.json`.
    pub info: RunInfo,
    /// `plan.json`.
    pub plan: Plan,
    /// `build.json` (empty when the build step did not finish).
    pub builds: Vec<ImageBuild>,
    /// `sizes.csv` (empty when not measured).
    pub sizes: Vec<SizeRow>,
    /// `sharing.csv`.
    pub sharing: Vec<SharingRow>,
    /// `startup.csv`.
    pub startup: Vec<StartupRow>,
    /// `startup-runs.csv`.
    pub startup_runs: Vec<StartupRunRow>,
    /// `verify.json` (empty when the verify step did not finish).
    pub verifications: Vec<crate::inspect::verify::ImageVerification>,
    /// `node.csv` (empty when the run has none).
    pub node: Vec<crate::results::node_file::NodeRow>,
    /// `load.csv` (empty when the run has none).
    pub load_seconds: Vec<crate::results::load_file::LoadSecondRow>,
    /// `load-runs.csv` (empty when the run has none).
    pub load_runs: Vec<crate::results::load_file::LoadRunRow>,
}

/// Columns of `sizes.csv` that readers need.
pub const SIZE_COLUMNS: &[&str] = SizeRow::REQUIRED;
/// Columns of `sharing.csv` that readers need.
pub const SHARING_COLUMNS: &[&str] = SharingRow::REQUIRED;
/// Columns of `startup.csv` that readers need.
pub const STARTUP_COLUMNS: &[&str] = StartupRow::REQUIRED;
/// Columns of `startup-runs.csv` that readers need.
pub const STARTUP_RUN_COLUMNS: &[&str] = StartupRunRow::REQUIRED;

impl RunData {
    /// Reads a run directory. `expected_scenario` refuses a run of another scenario.
    pub fn load(
        directory: &Path,
        expected_scenario: Option<&str>,
    ) -> Result<RunData, RunDataError> {
        let info = run_record::load(directory, expected_scenario)?;
        let run = RunDir::new(directory);
        let plan = plan_file::read(&run)?.ok_or_else(|| RunDataError::Io {
            path: run.plan_json(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "missing: every run writes plan.json first",
            ),
        })?;
        Ok(RunData {
            directory: directory.to_path_buf(),
            builds: build_file::read(&run)?.unwrap_or_default(),
            sizes: run.read_rows()?.unwrap_or_default(),
            sharing: run.read_rows()?.unwrap_or_default(),
            startup: run.read_rows()?.unwrap_or_default(),
            startup_runs: run.read_rows()?.unwrap_or_default(),
            verifications: crate::results::verify_file::read(&run)?.unwrap_or_default(),
            node: run.read_rows()?.unwrap_or_default(),
            load_seconds: run.read_rows()?.unwrap_or_default(),
            load_runs: run.read_rows()?.unwrap_or_default(),
            info,
            plan,
        })
    }

    /// The run directory, for the paths of its other files.
    pub fn run_dir(&self) -> RunDir {
        RunDir::new(&self.directory)
    }

    /// The methods the JIT compiled before an image's app was ready, as verify counted them.
    pub fn jitted_methods(&self, image: &str) -> Option<u64> {
        self.verifications
            .iter()
            .find(|verification| verification.id == image)
            .and_then(|verification| verification.jitted_methods)
    }

    /// The startup summary row of an image, cache mode and phase.
    pub fn startup_row(&self, image: &str, cache: &str, phase: &str) -> Option<&StartupRow> {
        self.startup
            .iter()
            .find(|row| row.image == image && row.cache == cache && row.phase == phase)
    }

    /// The size row of an image.
    pub fn size_row(&self, image: &str) -> Option<&SizeRow> {
        self.sizes.iter().find(|row| row.image == image)
    }

    /// Recorded values of a column (`total_ms`, `first_request_ms`, ...) of an image and
    /// cache mode, successful runs only; a name that is not a column of `startup-runs.csv`
    /// gives the total times.
    pub fn run_values(&self, image: &str, cache: &str, column: &str) -> Vec<f64> {
        let column = if rows::header::<StartupRunRow>().contains(&column) {
            column
        } else {
            "total_ms"
        };
        self.startup_runs
            .iter()
            .filter(|run| run.ok && run.image == image && run.cache.name() == cache)
            .filter_map(|run| rows::number(run, column))
            .collect()
    }
}
