//! Reading a finished (or partly finished) run directory back: `run.json`, `plan.json`,
//! `build.json` and the measurement CSVs, as typed rows. Reports, comparisons and plots work
//! from these files, never from in-memory state, so they can be redrawn from any run.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::build::ImageBuild;
use crate::model::plan::Plan;
use crate::results::run_record::{self, RunInfo, RunInfoError};

pub use crate::results::rows::{SharingRow, SizeRow};

/// One row of `startup.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupRow {
    /// Plan id of the image.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind (`console`, `webapi`).
    pub app: String,
    /// `cold` or `warm`.
    pub cache: String,
    /// Phase (`total`, `create`, `start_to_ready`, `first_request`, `time_to_main`, `remove`).
    pub phase: String,
    /// Recorded runs.
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Sample standard deviation, ms.
    pub stddev_ms: f64,
    /// Median, ms.
    pub median_ms: f64,
    /// Minimum, ms.
    pub min_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Bootstrap 95% interval of the mean, low end, ms.
    pub ci95_low_ms: f64,
    /// Bootstrap 95% interval of the mean, high end, ms.
    pub ci95_high_ms: f64,
    /// Outliers flagged by the MAD rule (kept).
    pub outliers: u64,
    /// The baseline image.
    pub baseline: String,
    /// Times faster than the baseline (ratio of means).
    pub times_faster: f64,
    /// Uncertainty of `times_faster`.
    pub times_faster_error: f64,
}

/// One row of `startup-runs.csv`: the phases of one recorded run. Empty cells are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupRunRow {
    /// Plan id of the image.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind.
    pub app: String,
    /// `cold` or `warm`.
    pub cache: String,
    /// Run number within image and cache mode, from 1.
    pub run: u64,
    /// Whether the run became ready.
    pub ok: bool,
    /// Create, ms.
    pub create_ms: Option<f64>,
    /// Start to ready (console: to exit), ms.
    pub start_to_ready_ms: Option<f64>,
    /// One more request once ready (web API), ms.
    pub first_request_ms: Option<f64>,
    /// The app's own time to `Main`, ms.
    pub time_to_main_ms: Option<f64>,
    /// Create to ready, ms.
    pub total_ms: Option<f64>,
    /// Peak memory of the container, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// Removal, ms.
    pub remove_ms: Option<f64>,
    /// Why it failed.
    pub error: String,
}

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

/// Why a run directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RunDataError {
    /// `run.json` is missing, of another schema or scenario.
    #[error(transparent)]
    Info(#[from] RunInfoError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file is not what this r2r writes.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A CSV file lacks a column or has a bad cell.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<u64>,
        /// What is wrong.
        message: String,
    },
}

/// Reads a CSV file of typed rows; `Ok(None)` when the file does not exist.
pub fn read_csv<T: DeserializeOwned>(
    path: &Path,
    required: &[&str],
) -> Result<Option<Vec<T>>, RunDataError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RunDataError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let csv_error = |error: csv::Error| RunDataError::Csv {
        path: path.to_path_buf(),
        line: error.position().map(csv::Position::line),
        message: match error.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
            _ => error.to_string(),
        },
    };
    let mut reader = csv::Reader::from_reader(file);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|column| !headers.iter().any(|h| h == *column))
        .collect();
    if !missing.is_empty() {
        return Err(RunDataError::Csv {
            path: path.to_path_buf(),
            line: Some(1),
            message: format!(
                "missing column(s) {}; the header has: {}",
                missing.join(", "),
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        rows.push(row.map_err(csv_error)?);
    }
    Ok(Some(rows))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RunDataError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| RunDataError::Json {
                path: path.to_path_buf(),
                message: error.to_string(),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RunDataError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
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
pub const STARTUP_COLUMNS: &[&str] = &[
    "image",
    "app",
    "cache",
    "phase",
    "runs",
    "median_ms",
    "mean_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "times_faster",
];
/// Columns of `startup-runs.csv` that readers need.
pub const STARTUP_RUN_COLUMNS: &[&str] = &["image", "app", "cache", "run", "ok", "total_ms"];

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
            .filter(|run| run.ok && run.image == image && run.cache == cache)
            .filter_map(|run| match column {
                "create_ms" => run.create_ms,
                "start_to_ready_ms" => run.start_to_ready_ms,
                "first_request_ms" => run.first_request_ms,
                "time_to_main_ms" => run.time_to_main_ms,
                "remove_ms" => run.remove_ms,
                _ => run.total_ms,
            })
            .collect()
    }
}
