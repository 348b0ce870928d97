//! `scenario.toml`: the scenario file a run was planned from, byte for byte (its SHA-256 is
//! run.json's `scenario_content_hash`), so that a run directory says what was asked and a
//! scenario that was made for the run (`r2r run --app`) can be run again from it. The
//! directories of the recipe files it names (`recipe-files`, such as `tune/`) are copied
//! beside it, at the same relative paths, so the copy reads as the original did.

use std::path::Path;

use crate::results::files;
use crate::results::run_dir::RunDir;

/// The file's name in a run directory.
pub const FILE: &str = "scenario.toml";

/// Copies the scenario file at `source` into the run (whole, atomically), and the
/// directories of its `recipe_files` (relative to it) that lie below the scenario's own
/// directory and are not in the run already.
pub fn write(run: &RunDir, source: &Path, recipe_files: &[String]) -> std::io::Result<()> {
    let bytes = std::fs::read(source)?;
    files::write_atomically(&run.scenario_toml(), &bytes)?;
    let from = source.parent().unwrap_or(Path::new("."));
    for file in recipe_files {
        let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        else {
            // Beside the scenario: the file alone.
            std::fs::copy(from.join(file), run.directory().join(file))?;
            continue;
        };
        let below = dir
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        let target = run.directory().join(dir);
        if below && !target.exists() {
            copy_dir(&from.join(dir), &target)?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

impl RunDir {
    /// `scenario.toml`.
    pub fn scenario_toml(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
