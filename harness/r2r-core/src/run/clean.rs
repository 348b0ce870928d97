//! Removing what r2r made: the clean sweep, and containers an interrupted r2r left behind.

use crate::engine::Engine;
use crate::model::plan::labels;

use super::RunError;

/// What [`clean`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanOutcome {
    /// Containers removed.
    pub containers: usize,
    /// Images removed.
    pub images: usize,
    /// Counting groups of r2r processes that are gone, and what became of them.
    pub counting_groups: Vec<crate::engine::SweptGroup>,
}

impl CleanOutcome {
    /// What a person reads: the counts, then one line per counting group.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "removed {} container(s) and {} image(s)\n",
            self.containers, self.images
        );
        for group in &self.counting_groups {
            text += &group.describe();
            text.push('\n');
        }
        text
    }
}

/// Removes the containers and images r2r made (every one, or one scenario's), then the
/// counting groups of r2r processes that are gone ([`remove_leftover_counters`]). An image that
/// others stand on cannot be removed before them, so images are swept repeatedly until all
/// are gone or a sweep removes nothing.
pub async fn clean(engine: &dyn Engine, scenario: Option<&str>) -> Result<CleanOutcome, RunError> {
    let mut filter = vec![format!("{}=true", labels::MANAGED)];
    if let Some(scenario) = scenario {
        filter.push(format!("{}={scenario}", labels::SCENARIO));
    }
    let containers = engine.list_containers(&filter).await?;
    for id in &containers {
        engine.remove_container(id).await?;
    }
    // The images are listed again before every sweep: a sweep may have removed some tags of
    // an image it could not remove.
    let mut removed = 0;
    loop {
        let images = engine.list_images(&filter).await?;
        if images.is_empty() {
            break;
        }
        let before = images.len();
        let mut remaining = 0;
        let mut last_failure = String::new();
        for image in images {
            let references = if image.tags.is_empty() {
                vec![image.id.clone()]
            } else {
                image.tags.clone()
            };
            let mut ok = true;
            for reference in &references {
                if let Err(error) = engine.remove_image(reference).await {
                    ok = false;
                    last_failure = error.to_string();
                    break;
                }
            }
            if ok {
                removed += 1;
            } else {
                remaining += 1;
            }
        }
        if remaining == before {
            return Err(RunError::Clean {
                count: remaining,
                last: last_failure,
            });
        }
    }
    Ok(CleanOutcome {
        containers: containers.len(),
        images: removed,
        counting_groups: remove_leftover_counters(engine).await?,
    })
}

/// Removes the scenario's containers that no running r2r owns (an interrupted r2r's); call it
/// while holding the scenario's results lock. Returns how many were removed.
pub async fn remove_leftovers(engine: &dyn Engine, scenario: &str) -> Result<usize, RunError> {
    Ok(
        crate::engine::containers::remove_leftovers(engine, scenario)
            .await?
            .len(),
    )
}

/// Removes the counting groups (cgroups) of r2r processes that are no longer running, killing
/// the processes no engine lists that are still in them ([`crate::engine::Counters::remove_leftover_counters`]).
/// Call it after [`remove_leftovers`] or [`clean`] removed the containers the engine knows.
pub async fn remove_leftover_counters(
    engine: &dyn Engine,
) -> Result<Vec<crate::engine::SweptGroup>, RunError> {
    Ok(engine.remove_leftover_counters().await?)
}
