//! Where r2r works and runs: the project root, the results root, a scenario's plan, and the
//! CPUs r2r keeps itself on.

use std::path::{Path, PathBuf};

use anyhow::Context;
use r2r_core::model::catalog::Catalog;
use r2r_core::model::feed::NugetFeeds;
use r2r_core::model::plan::{self, Plan};
use r2r_core::model::scenario;
use r2r_core::run::Project;

use crate::args::Cli;

pub(crate) fn find_root(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(root) = explicit {
        return Ok(root);
    }
    let start = std::env::current_dir().context("reading the current directory")?;
    start
        .ancestors()
        .find(|dir| dir.join("experiments/variants.toml").is_file())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no r2r project (experiments/variants.toml) in {} or above; pass --root",
                start.display()
            )
        })
}

/// The results root: `--results-dir`, or `<root>/results`.
pub(crate) fn results_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.results_dir {
        Some(directory) => Ok(directory.clone()),
        None => Ok(find_root(cli.root.clone())?.join("results")),
    }
}

pub(crate) fn project(cli: &Cli) -> anyhow::Result<Project> {
    let root = find_root(cli.root.clone())?;
    let work = cli
        .work_dir
        .clone()
        .unwrap_or_else(|| root.join(".r2r/work"));
    // .NET versions are resolved against the feeds that restore in the work directory uses.
    let catalog = Catalog::load(&root.join("experiments"))?
        .with_versions(std::sync::Arc::new(NugetFeeds::for_work_dir(&work)));
    Ok(Project {
        work,
        results: cli
            .results_dir
            .clone()
            .unwrap_or_else(|| root.join("results")),
        root,
        catalog,
        detect_sdk: true,
    })
}

/// A scenario's plan; with `platform` (`--platform`), for that platform only
/// ([`scenario::Scenario::for_platform`]).
pub(crate) fn load_plan(
    project: &Project,
    argument: &str,
    platform: Option<r2r_core::model::platform::Platform>,
) -> anyhow::Result<Plan> {
    let path = scenario::resolve_path(argument, &project.root.join("scenarios"))?;
    let plan = plan::load(&path, &project.catalog)?;
    Ok(match platform {
        None => plan,
        Some(platform) => plan::try_expand(
            &scenario::load(&path, &project.catalog)?.for_platform(platform),
            &project.catalog,
        )?,
    })
}

/// Keeps r2r (every thread, and what it starts later) off the app containers' CPUs, saying
/// where it runs, or why it cannot (the containers still get their CPUs).
pub(crate) fn keep_off(cpus: &str) {
    match r2r_core::support::affinity::keep_off(cpus) {
        Ok(rest) => eprintln!(
            "app containers on CPU {cpus}; r2r on CPU {}",
            rest.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Err(error) => eprintln!(
            "warning: r2r cannot keep itself off CPU {cpus}: {error}; the app containers still run on {cpus}"
        ),
    }
}
