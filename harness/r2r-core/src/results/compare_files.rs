//! The files comparisons write into a run (or merged) directory (`r2r compare`, `r2r
//! merge`). Their rows are built beside the comparisons, in the report stage; their names are
//! here, with every other file of a run directory.

/// A run against a baseline run, metric by metric (`r2r compare --baseline`, and a merge
/// against a baseline merge).
pub const BASELINE: &str = "compare-baseline.csv";

/// A run's ratios beside the published ones (`r2r compare --published`).
pub const PUBLISHED: &str = "compare-published.csv";

/// The start-up runs of a comparison of two images (`r2r compare --startup-runs`).
pub const STARTUP_RUNS: &str = "compare-startup-runs.csv";

/// The runs a merged directory holds (`r2r merge`).
pub const MERGED: &str = "merged.json";

/// The folder of a merged directory with a copy of each machine's run (`runs/<machine>/`).
pub const MERGED_RUNS: &str = "runs";

impl crate::results::run_dir::RunDir {
    /// `compare-baseline.csv` (`r2r compare --baseline`, `r2r merge --baseline`).
    pub fn compare_baseline_csv(&self) -> std::path::PathBuf {
        self.path(BASELINE)
    }

    /// `compare-published.csv` (`r2r compare --published`).
    pub fn compare_published_csv(&self) -> std::path::PathBuf {
        self.path(PUBLISHED)
    }

    /// `compare-startup-runs.csv` (`r2r compare --startup-runs`).
    pub fn compare_startup_runs_csv(&self) -> std::path::PathBuf {
        self.path(STARTUP_RUNS)
    }

    /// `merged.json` (a merged directory).
    pub fn merged_json(&self) -> std::path::PathBuf {
        self.path(MERGED)
    }
}
