//! `summary.json`: what each measurement step found, one top-level key per step (`sizes`,
//! `startup`), each set whole by its step.

use std::path::Path;

use crate::results::files;

/// The file's name in a run directory.
pub const FILE: &str = "summary.json";

/// The sizes step's key (the sizes report).
pub const SIZES: &str = "sizes";

/// The start-up step's key (its summaries and the precision reached).
pub const STARTUP: &str = "startup";

/// Sets one top-level key of the run's `summary.json` (each measurement step owns a key);
/// the other keys are kept.
pub fn update(directory: &Path, key: &str, value: serde_json::Value) -> std::io::Result<()> {
    let path = directory.join(FILE);
    let mut summary = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes)
            .unwrap_or_default(),
        Err(_) => serde_json::Map::new(),
    };
    summary.insert(key.to_string(), value);
    files::write_json(&path, &summary)
}

impl crate::results::run_dir::RunDir {
    /// `summary.json`.
    pub fn summary_json(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
