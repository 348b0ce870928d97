//! `verify.json`: what the verify step proved of each image, one entry per image (the
//! inspect stage's `ImageVerification`; this module places, writes and reads the file
//! whatever the entry type, so the results stage does not depend on the inspect stage).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::results::files;
use crate::results::reading::{self, RunDataError};
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "verify.json";

/// Writes the verifications (whole, atomically).
pub fn write<T: Serialize>(run: &RunDir, verifications: &[T]) -> std::io::Result<()> {
    files::write_json(&run.verify_json(), verifications)
}

/// Reads the verifications; `Ok(None)` when the verify step did not finish.
pub fn read<T: DeserializeOwned>(run: &RunDir) -> Result<Option<Vec<T>>, RunDataError> {
    reading::read_json(&run.verify_json())
}

impl crate::results::run_dir::RunDir {
    /// `verify.json`.
    pub fn verify_json(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
