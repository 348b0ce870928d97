//! Where runs live: `<results>/<scenario>/<run-id>/`, the `latest` link beside them, and
//! finding a run from what a user typed (a run id, `latest`, or a path).

use std::path::{Path, PathBuf};

/// The name of the link to a scenario's most recent run, beside its run directories.
pub const LATEST: &str = "latest";

/// Why a run cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A path that is not a directory.
    #[error("run directory {} does not exist", path.display())]
    NoDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Neither a scenario nor a path.
    #[error("say which run: --scenario NAME (its latest run), --scenario NAME --run RUN-ID, or --run PATH")]
    Unspecified,
    /// No such run of the scenario.
    #[error(
        "no run {run} of scenario '{scenario}' in {} (runs there: {})",
        runs.display(),
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    NoRun {
        /// The run id asked for.
        run: String,
        /// The scenario.
        scenario: String,
        /// The scenario's results directory.
        runs: PathBuf,
        /// The entries found there, sorted.
        known: Vec<String>,
    },
}

/// The scenario name a user's argument means: the file stem of a name or path, lower case.
pub fn scenario_name(argument: &str) -> String {
    Path::new(argument)
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// The directory of a run: a path, or a run id (default `latest`) under
/// `<results>/<scenario>/`.
pub fn resolve_run(
    results: &Path,
    scenario: Option<&str>,
    run: Option<&str>,
) -> Result<PathBuf, ResolveError> {
    if let Some(run) = run {
        let path = PathBuf::from(run);
        if run.contains('/') || path.is_dir() && scenario.is_none() {
            if !path.is_dir() {
                return Err(ResolveError::NoDirectory { path });
            }
            return Ok(path);
        }
    }
    let Some(scenario) = scenario else {
        return Err(ResolveError::Unspecified);
    };
    let scenario = scenario_name(scenario);
    let runs = results.join(&scenario);
    let directory = runs.join(run.unwrap_or(LATEST));
    if !directory.is_dir() {
        let mut known: Vec<String> = std::fs::read_dir(&runs)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        known.sort();
        return Err(ResolveError::NoRun {
            run: run.unwrap_or(LATEST).to_string(),
            scenario,
            runs,
            known,
        });
    }
    Ok(directory)
}

/// A sortable run id from the current UTC time, e.g. `20261124T193000Z`.
pub fn new_run_id() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

/// The current UTC time as RFC 3339 with seconds, e.g. `2026-11-24T19:30:00Z`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Points `<scenario results>/latest` at a run directory (a relative link to its name). Only
/// directories with a `run.json` are ever named, so `latest` is always a run `report` and
/// `compare` accept.
pub fn mark_latest(directory: &Path) {
    if !directory.join(crate::results::run_record::FILE).is_file() {
        return;
    }
    if let (Some(parent), Some(name)) = (directory.parent(), directory.file_name()) {
        let latest = parent.join(LATEST);
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        let id = new_run_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.starts_with("20") && id.ends_with('Z'), "{id}");
        assert_eq!(now_rfc3339().len(), 20);
    }

    #[test]
    fn latest_names_only_run_directories() {
        let results = tempfile::tempdir().unwrap();
        let run = results.path().join("quick/20261124T000000Z");
        std::fs::create_dir_all(&run).unwrap();
        mark_latest(&run);
        assert!(!results.path().join("quick/latest").exists());
        std::fs::write(run.join("run.json"), "{}").unwrap();
        mark_latest(&run);
        assert_eq!(
            resolve_run(results.path(), Some("quick"), None)
                .unwrap()
                .canonicalize()
                .unwrap(),
            run.canonicalize().unwrap()
        );
        let error = resolve_run(results.path(), Some("quick"), Some("nope")).unwrap_err();
        assert!(
            error.to_string().contains("20261124T000000Z, latest"),
            "{error}"
        );
        assert!(matches!(
            resolve_run(results.path(), None, None),
            Err(ResolveError::Unspecified)
        ));
    }
}
