//! Reading a finished (or partly finished) run directory back: `run.json`, `plan.json`,
//! `build.json` and the measurement CSVs, as typed rows. Reports, comparisons and plots work
//! from these files, never from in-memory state, so they can be redrawn from any run.

use std::path::{Path, PathBuf};

use crate::build::ImageBuild;
use crate::model::plan::Plan;
use crate::results::run_record::{self, RunInfo};

pub use crate::results::reading::{read_csv, read_json, RunDataError};

pub use crate::results::rows::{SharingRow, SizeRow};

/// One row of `startup.csv` (the type that writes it).
pub use crate::measure::startup::SummaryRow as StartupRow;

/// One row of `startup-runs.csv`: the phases of one recorded run (the type that writes it).
/// Empty cells are `None`.
pub use crate::measure::startup::RunRecord as StartupRunRow;

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
}

/// Columns of `sizes.csv` that readers need.
pub const SIZE_COLUMNS: &[&str] = &[
    "image",
    "variants",
    "role",
    "content_bytes",
    "gzip_bytes",
    "zstd_bytes",
];
/// Columns of `sharing.csv` that readers need.
pub const SHARING_COLUMNS: &[&str] = &[
    "set",
    "figure",
    "image",
    "total_bytes",
    "owned_bytes",
    "shared_bytes",
];
/// Columns of `startup.csv` that readers need.
pub const STARTUP_COLUMNS: &[&str] = crate::measure::startup::SUMMARY_COLUMNS;
/// Columns of `startup-runs.csv` that readers need.
pub const STARTUP_RUN_COLUMNS: &[&str] = crate::measure::startup::RUN_COLUMNS;

impl RunData {
    /// Reads a run directory. `expected_scenario` refuses a run of another scenario.
    pub fn load(
        directory: &Path,
        expected_scenario: Option<&str>,
    ) -> Result<RunData, RunDataError> {
        let info = run_record::load(directory, expected_scenario)?;
        let plan_path = directory.join("plan.json");
        let plan: Plan = read_json(&plan_path)?.ok_or_else(|| RunDataError::Io {
            path: plan_path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "missing: every run writes plan.json first",
            ),
        })?;
        Ok(RunData {
            directory: directory.to_path_buf(),
            builds: read_json(&directory.join("build.json"))?.unwrap_or_default(),
            sizes: read_csv(&directory.join("sizes.csv"), SIZE_COLUMNS)?.unwrap_or_default(),
            sharing: read_csv(&directory.join("sharing.csv"), SHARING_COLUMNS)?.unwrap_or_default(),
            startup: read_csv(&directory.join("startup.csv"), STARTUP_COLUMNS)?.unwrap_or_default(),
            startup_runs: read_csv(&directory.join("startup-runs.csv"), STARTUP_RUN_COLUMNS)?
                .unwrap_or_default(),
            info,
            plan,
        })
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

    /// Recorded values of a phase (`total_ms`, `first_request_ms`, ...) of an image and cache
    /// mode, successful runs only.
    pub fn run_values(&self, image: &str, cache: &str, column: &str) -> Vec<f64> {
        self.startup_runs
            .iter()
            .filter(|run| run.ok && run.image == image && run.cache.name() == cache)
            .filter_map(|run| match column {
                "create_ms" => run.create_ms,
                "start_to_ready_ms" => run.start_to_ready_ms,
                "first_request_ms" => run.first_request_ms,
                "time_to_main_ms" => run.time_to_main_ms,
                "start_to_exec_ms" => run.start_to_exec_ms,
                "exec_to_main_ms" => run.exec_to_main_ms,
                "main_to_ready_ms" => run.main_to_ready_ms,
                "ready_seen_ms" => run.ready_seen_ms,
                "remove_ms" => run.remove_ms,
                _ => run.total_ms,
            })
            .collect()
    }
}
