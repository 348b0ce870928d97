//! `tune/`: what `r2r tune` recorded and the recipes it made from it, in the run directory.
//!
//! - `tune/<app>.assemblies.txt`: one recording per app ([`crate::model::recording`]): the
//!   framework assemblies the app had mapped, with the .NET version and the image (id) it ran
//!   from; an assembly list a recipe names as its roots as it is.
//! - `tune/recipes.toml`: the recipes made from them (`tuned-<app>`, `tuned-<app>-pgo`, and
//!   `tuned-all`/`tuned-all-pgo` over several apps), in the format of
//!   `experiments/recipes.toml`; the run's `scenario.toml` names it in `recipe-files`.
//! - `tune/tuned-all.roots.txt`: the union's list, where there is one.
//!
//! The directory is written whole or not at all: into a sibling first, then renamed.

use std::path::{Path, PathBuf};

use crate::model::recording::{self, Recording, TunedRecipes};
use crate::model::toml_source::SourceError;
use crate::results::run_dir::RunDir;

/// The directory's name in a run directory.
pub const DIR: &str = "tune";

/// The recipes file's name in [`DIR`].
pub const RECIPES: &str = "recipes.toml";

impl RunDir {
    /// `tune/`.
    pub fn tune_dir(&self) -> PathBuf {
        self.path(DIR)
    }

    /// `tune/<app>.assemblies.txt`.
    pub fn tune_recording(&self, app: &str) -> PathBuf {
        self.tune_dir().join(recording::file_name(app))
    }

    /// `tune/recipes.toml`.
    pub fn tune_recipes(&self) -> PathBuf {
        self.tune_dir().join(RECIPES)
    }
}

/// The path of the recipes file as the run's `scenario.toml` names it (relative to it).
pub fn recipes_from_scenario() -> String {
    format!("{DIR}/{RECIPES}")
}

/// Writes `tune/` whole: the recordings, the recipes and their lists. An existing `tune/`
/// is an error (a run is tuned once).
pub fn write(run: &RunDir, recordings: &[Recording], tuned: &TunedRecipes) -> std::io::Result<()> {
    let target = run.tune_dir();
    if target.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", target.display()),
        ));
    }
    let staging = run.path(&format!(".{DIR}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let written = (|| {
        for recording in recordings {
            std::fs::write(
                staging.join(recording::file_name(&recording.app)),
                recording.to_text(),
            )?;
        }
        for (file, text) in &tuned.lists {
            std::fs::write(staging.join(file), text)?;
        }
        std::fs::write(staging.join(RECIPES), &tuned.recipes_toml)?;
        std::fs::rename(&staging, &target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written
}

/// Why recordings could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The run has no recording for an app.
    #[error("{directory} has no recording of `{app}` ({file}): record it with `r2r tune` first")]
    Missing {
        /// The run directory.
        directory: PathBuf,
        /// The app.
        app: String,
        /// The file looked for.
        file: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A recording is malformed (file and line).
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

/// Reads the recordings of `apps` from a run's `tune/`, each with its path and text (for
/// errors at its lines).
pub fn read(run: &RunDir, apps: &[String]) -> Result<Vec<(PathBuf, String, Recording)>, ReadError> {
    apps.iter()
        .map(|app| {
            let path = run.tune_recording(app);
            if !path.is_file() {
                return Err(ReadError::Missing {
                    directory: run.directory().to_path_buf(),
                    app: app.clone(),
                    file: path,
                });
            }
            let text = std::fs::read_to_string(&path).map_err(|source| ReadError::Read {
                path: path.clone(),
                source,
            })?;
            let recording = Recording::parse(&path, &text)?;
            Ok((path, text, recording))
        })
        .collect()
}

/// Whether `path` is a run directory with recordings.
pub fn has_recordings(path: &Path) -> bool {
    std::fs::read_dir(path.join(DIR)).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .ends_with(".assemblies.txt")
        })
    })
}
