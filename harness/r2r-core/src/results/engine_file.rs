//! `engine.json`: the engine a run measured with ([`EngineInfo`]).

use crate::engine::EngineInfo;
use crate::results::files;
use crate::results::reading::{self, RunDataError};
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "engine.json";

/// Writes the engine's description (whole, atomically).
pub fn write(run: &RunDir, engine: &EngineInfo) -> std::io::Result<()> {
    files::write_json(&run.engine_json(), engine)
}

/// Reads the engine's description; `Ok(None)` when the run has none.
pub fn read(run: &RunDir) -> Result<Option<EngineInfo>, RunDataError> {
    reading::read_json(&run.engine_json())
}

impl crate::results::run_dir::RunDir {
    /// `engine.json`.
    pub fn engine_json(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
