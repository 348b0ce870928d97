//! `build.json`: how each image of the plan was built ([`ImageBuild`]), one entry per image.

use crate::build::ImageBuild;
use crate::results::files;
use crate::results::reading::{self, RunDataError};
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "build.json";

/// Writes the builds (whole, atomically).
pub fn write(run: &RunDir, builds: &[ImageBuild]) -> std::io::Result<()> {
    files::write_json(&run.build_json(), builds)
}

/// Reads the builds; `Ok(None)` when the build step did not finish.
pub fn read(run: &RunDir) -> Result<Option<Vec<ImageBuild>>, RunDataError> {
    reading::read_json(&run.build_json())
}

impl crate::results::run_dir::RunDir {
    /// `build.json`.
    pub fn build_json(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
