//! A history file (`r2r compare --history FILE`, `r2r merge --history FILE`): the headline
//! metrics of run after run, one [`HistoryRow`] per metric of an image in a run. It lives
//! where the user says, not in a run directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::results::reading::{self, RunDataError};

/// One row of `history.csv`: one headline metric of one image in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// The run's id (`run.json`), which sorts by time.
    pub run_id: String,
    /// Plan id of the image.
    pub image: String,
    /// The metric: `content_bytes`, `gzip_bytes` (bytes) or
    /// `startup_<cache>_total_median_ms` (ms).
    pub metric: String,
    /// The value, in the metric's unit (bytes or ms).
    pub value: f64,
    /// The exact .NET version of the run (`run.json`); empty in rows written before it was
    /// recorded.
    #[serde(default)]
    pub dotnet: String,
}

/// The columns a `history.csv` must have (files written before `dotnet` existed lack it).
/// The name the nightly jobs give the history file beside their runs or merges.
pub const FILE: &str = "history.csv";

pub const HISTORY_COLUMNS: &[&str] = &["run_id", "image", "metric", "value"];

/// Reads a history file; `Ok(None)` when it does not exist yet.
pub fn read(path: &Path) -> Result<Option<Vec<HistoryRow>>, RunDataError> {
    reading::read_csv(path, HISTORY_COLUMNS)
}

/// Writes a history file whole (its folder created when missing).
pub fn write(path: &Path, rows: &[HistoryRow]) -> Result<(), RunDataError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| RunDataError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    crate::results::files::write_csv(path, rows).map_err(|source| RunDataError::Io {
        path: path.to_path_buf(),
        source,
    })
}
