//! The commands that read images rather than runs: `diff` (two images' anatomy, assembly by
//! assembly) and `measure sizes --archive` (a `docker save` archive, no project needed).

use std::path::{Path, PathBuf};

use anyhow::Context;
use r2r_core::engine::{DockerEngine, Images};

use r2r_core::console;

use crate::args::{Cli, DiffArgs};
use crate::setup::{load_plan, project};

/// `r2r diff`: the anatomy of two images of a scenario, compared per assembly. Reads two
/// images only: no lock, so it works beside a running measurement.
pub(crate) async fn diff(cli: &Cli, arguments: &DiffArgs) -> anyhow::Result<bool> {
    use r2r_core::measure::anatomy;
    let plan = load_plan(&project(cli)?, &arguments.target)?;
    let mut images = Vec::new();
    for id in [&arguments.image_a, &arguments.image_b] {
        let image = plan.image(id).with_context(|| {
            let ids: Vec<&str> = plan.images.iter().map(|i| i.id.as_str()).collect();
            format!(
                "no image `{id}` in scenario {}; its images: {}",
                plan.scenario.name,
                ids.join(", ")
            )
        })?;
        images.push((image.id.clone(), image.reference().to_string()));
    }
    let engine = DockerEngine::connect().await?;
    for (id, reference) in &images {
        if engine.inspect_image(reference).await?.is_none() {
            anyhow::bail!(
                "{id} ({reference}) is not built; run `r2r build --scenario {}`",
                plan.scenario.name
            );
        }
    }
    let rows = anatomy::measure_each(&engine, &images).await?;
    let [a, b] = [0, 1].map(|index| rows.get(index).cloned().unwrap_or_default());
    let differences = anatomy::diff(&a, &b);
    if let Some(path) = &arguments.csv {
        let bytes = anatomy::diff_csv(&differences)?;
        r2r_core::results::files::write_atomically(path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let (a_id, b_id) = (&images[0].0, &images[1].0);
    print!("{}", console::diff(a_id, b_id, &a, &b, &differences));
    Ok(true)
}

/// `r2r measure sizes --archive`: measures a `docker save` archive into `output` (default:
/// the current directory).
pub(crate) fn measure_archive(archive: &Path, output: Option<PathBuf>) -> anyhow::Result<bool> {
    let report = r2r_core::measure::sizes::measure_archive(archive).map_err(anyhow::Error::msg)?;
    let directory = match output {
        Some(directory) => directory,
        None => std::env::current_dir().context("reading the current directory")?,
    };
    r2r_core::measure::sizes::write(&report, &directory)
        .with_context(|| format!("writing size results to {}", directory.display()))?;
    print!("{}", console::sizes(&report));
    eprintln!("size results written to {}", directory.display());
    Ok(true)
}
