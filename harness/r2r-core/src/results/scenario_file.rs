//! `scenario.toml`: the scenario file a run was planned from, byte for byte (its SHA-256 is
//! run.json's `scenario_content_hash`), so that a run directory says what was asked and a
//! scenario that was made for the run (`r2r run --app`) can be run again from it.

use std::path::Path;

use crate::results::files;
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "scenario.toml";

/// Copies the scenario file at `source` into the run (whole, atomically).
pub fn write(run: &RunDir, source: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(source)?;
    files::write_atomically(&run.scenario_toml(), &bytes)
}

impl RunDir {
    /// `scenario.toml`.
    pub fn scenario_toml(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
