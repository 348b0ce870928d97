//! Where r2r works and runs: the project root, the results root, a scenario's plan, and the
//! CPUs r2r keeps itself on.

use std::path::PathBuf;

use r2r_core::model::plan::Plan;
use r2r_core::run::{self, Project};

use crate::args::{Cli, Target};

/// The results root: `--results-dir`, or `<root>/results`.
pub(crate) fn results_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    Ok(run::results_root(
        cli.root.as_deref(),
        cli.results_dir.as_deref(),
    )?)
}

/// The project: `--root` (or found upwards), `--work-dir`, `--results-dir`.
pub(crate) fn project(cli: &Cli) -> anyhow::Result<Project> {
    Ok(Project::open(
        cli.root.as_deref(),
        cli.work_dir.as_deref(),
        cli.results_dir.as_deref(),
    )?)
}

/// The plan of a command's scenario and platform ([`Project::load_plan`]).
pub(crate) fn load_plan(project: &Project, target: &Target) -> anyhow::Result<Plan> {
    Ok(project.load_plan(&target.scenario, target.platform)?)
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
