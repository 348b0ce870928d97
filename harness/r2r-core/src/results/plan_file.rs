//! `plan.json`: the plan a run built and measured ([`Plan`]), written first by every run.

use crate::model::plan::Plan;
use crate::results::files;
use crate::results::reading::{self, RunDataError};
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "plan.json";

/// Writes a run's plan (whole, atomically).
pub fn write(run: &RunDir, plan: &Plan) -> std::io::Result<()> {
    files::write_json(&run.plan_json(), plan)
}

/// Reads a run's plan; `Ok(None)` when the run has none.
pub fn read(run: &RunDir) -> Result<Option<Plan>, RunDataError> {
    reading::read_json(&run.plan_json())
}

impl crate::results::run_dir::RunDir {
    /// `plan.json`.
    pub fn plan_json(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
