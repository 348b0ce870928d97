//! Where r2r works: the project directory (given, or found upwards from the current one), its
//! experiment catalog, its scenarios' plans, and where prepared content and results go.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::catalog::{Catalog, CatalogError};
use crate::model::feed::NugetFeeds;
use crate::model::plan::{self, Plan, PlanError};
use crate::model::platform::Platform;
use crate::model::scenario::{self, ScenarioError};

use super::Project;

/// Why the project cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The current directory cannot be read.
    #[error("reading the current directory: {0}")]
    CurrentDirectory(#[source] std::io::Error),
    /// No directory from the current one upwards has `experiments/variants.toml`.
    #[error("no r2r project (experiments/variants.toml) in {} or above; pass --root", start.display())]
    NotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// The experiment catalog cannot be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The scenario cannot be found or read.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The scenario cannot be planned for the platform asked for.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The project directory: `explicit`, or the nearest directory upwards from the current one
/// that has `experiments/variants.toml`.
pub fn find_root(explicit: Option<&Path>) -> Result<PathBuf, ProjectError> {
    if let Some(root) = explicit {
        return Ok(root.to_path_buf());
    }
    let start = std::env::current_dir().map_err(ProjectError::CurrentDirectory)?;
    start
        .ancestors()
        .find(|dir| dir.join("experiments/variants.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or(ProjectError::NotFound { start })
}

/// The results root: `results`, or `<root>/results`.
pub fn results_root(root: Option<&Path>, results: Option<&Path>) -> Result<PathBuf, ProjectError> {
    match results {
        Some(directory) => Ok(directory.to_path_buf()),
        None => Ok(find_root(root)?.join("results")),
    }
}

impl Project {
    /// The project at `root` (or found, [`find_root`]) with its catalog, its work directory
    /// (default `<root>/.r2r/work`) and its results root (default `<root>/results`). .NET
    /// versions are resolved against the feeds that restore in the work directory uses.
    pub fn open(
        root: Option<&Path>,
        work: Option<&Path>,
        results: Option<&Path>,
    ) -> Result<Project, ProjectError> {
        let root = find_root(root)?;
        let work = work.map_or_else(|| root.join(".r2r/work"), Path::to_path_buf);
        let catalog = Catalog::load(&root.join("experiments"))?
            .with_versions(Arc::new(NugetFeeds::for_work_dir(&work)));
        Ok(Project {
            work,
            results: results.map_or_else(|| root.join("results"), Path::to_path_buf),
            root,
            catalog,
            detect_sdk: true,
        })
    }

    /// The plan of a scenario (a name under `<root>/scenarios/` or a file's path); with
    /// `platform`, for that platform only ([`crate::model::scenario::Scenario::for_platform`]).
    pub fn load_plan(
        &self,
        scenario: &str,
        platform: Option<Platform>,
    ) -> Result<Plan, ProjectError> {
        let path = scenario::resolve_path(scenario, &self.root.join("scenarios"))?;
        let plan = plan::load(&path, &self.catalog)?;
        Ok(match platform {
            None => plan,
            Some(platform) => plan::try_expand(
                &scenario::load(&path, &self.catalog)?.for_platform(platform),
                &self.catalog,
            )?,
        })
    }
}
