//! What a finished run is compared with, and what is kept of it: a baseline run (sizes
//! exactly; start-up between the two runs' files, or measured again now in paired rounds of
//! the baseline's images and the current ones through the engine), the published figures,
//! and the run's app images kept under a baseline tag for later paired comparisons.
//!
//! Results are written into the current run (`compare-*.csv`); nothing here prints: the
//! outcomes are returned, and the start-up progress goes to an [`Observer`].

use std::path::{Path, PathBuf};

use crate::engine::{Engine, ImageDetails};
use crate::measure::startup::{self, RunRecord, Target};
use crate::model::plan::labels;
use crate::report::compare::{self, MetricChange, PublishedGap, Thresholds, Verdict};
use crate::results::files::write_atomically;
use crate::results::run_data::RunData;
use crate::results::runs::{resolve_run, scenario_name};

use super::settings::{StartupDefaults, StartupSettings};
use super::{Observer, RunError};

/// Loads a run: `run` (an id under `<results>/<scenario>/`, `latest` when `None`, or a path)
/// of `scenario` (a name or a scenario file's path).
pub fn load_run(
    results: &Path,
    scenario: Option<&str>,
    run: Option<&str>,
) -> Result<RunData, RunError> {
    let directory = resolve_run(results, scenario, run)?;
    let expected = scenario.map(scenario_name);
    RunData::load(&directory, expected.as_deref()).map_err(RunError::other)
}

/// Loads the baseline run `baseline` (an id or a path) of `current`'s scenario.
pub fn load_baseline(
    results: &Path,
    current: &RunData,
    baseline: &str,
) -> Result<RunData, RunError> {
    let scenario = &current.info.scenario;
    let directory = resolve_run(results, Some(scenario), Some(baseline))?;
    RunData::load(&directory, Some(scenario)).map_err(RunError::other)
}

/// The tag the kept baseline image of `reference` carries (`repo:tag` -> `repo:tag-baseline`).
pub fn baseline_reference(reference: &str) -> String {
    format!("{reference}-baseline")
}

/// A run compared with a baseline run ([`with_baseline`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineComparison {
    /// Every metric of every image, compared (start-up measured in paired rounds replaces the
    /// comparison of the two runs' files).
    pub changes: Vec<MetricChange>,
    /// The .NET versions `(baseline, current)` when they differ.
    pub version_change: Option<(String, String)>,
    /// The baseline run's directory.
    pub baseline: PathBuf,
    /// `compare-baseline.csv` in the current run.
    pub file: PathBuf,
}

impl BaselineComparison {
    /// Regressions that fail a job (exact sizes, start-up of the same run).
    pub fn regressions(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| compare::fails_job(c))
            .count()
    }

    /// Start-up changes between separate runs: shown, not tested (drift not cancelled).
    pub fn drift_only(&self) -> usize {
        self.count(Verdict::UntestedDrift)
    }

    /// Start-up changes measured in paired rounds: the family Holm's correction is over.
    pub fn paired(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.basis == compare::Basis::SameRun && c.p_value.is_some())
            .count()
    }

    /// Improvements.
    pub fn improvements(&self) -> usize {
        self.count(Verdict::Improvement)
    }

    /// Size changes that come with a .NET version change.
    pub fn version_changes(&self) -> usize {
        self.count(Verdict::VersionChange)
    }

    fn count(&self, verdict: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == verdict).count()
    }
}

/// Compares `current` with `baseline` and writes `compare-baseline.csv` into the current run;
/// `same_run` (from [`compare_paired`]) replaces the start-up comparison of the two runs'
/// files. With `history`, the run's headline metrics are appended to that CSV.
pub fn with_baseline(
    current: &RunData,
    baseline: &RunData,
    thresholds: Thresholds,
    same_run: Vec<MetricChange>,
    history: Option<&Path>,
) -> Result<BaselineComparison, RunError> {
    let mut changes = compare::against_baseline(current, baseline, thresholds);
    for paired in same_run {
        match changes
            .iter_mut()
            .find(|c| c.image == paired.image && c.metric == paired.metric)
        {
            Some(change) => *change = paired,
            None => changes.push(paired),
        }
    }
    let file = current.run_dir().compare_baseline_csv();
    let bytes = compare::changes_csv(&changes)
        .map_err(|error| RunError::context(format!("writing {}", file.display()), error))?;
    write_atomically(&file, &bytes).map_err(|error| RunError::io("writing", &file, error))?;
    if let Some(history) = history {
        compare::append_history(history, current).map_err(|error| {
            RunError::context(format!("appending to {}", history.display()), error)
        })?;
    }
    Ok(BaselineComparison {
        changes,
        version_change: compare::version_change(current, baseline),
        baseline: baseline.directory.clone(),
        file,
    })
}

/// Compares `current` with the published figures under `published` and writes
/// `compare-published.csv` into the run; returns the gaps and the file.
pub fn with_published(
    current: &RunData,
    published: &Path,
) -> Result<(Vec<PublishedGap>, PathBuf), RunError> {
    let (figures, comparisons) = compare::load_published(published).map_err(RunError::other)?;
    let gaps = compare::against_published(current, &figures, &comparisons);
    let file = current.run_dir().compare_published_csv();
    let bytes = compare::gaps_csv(&gaps)
        .map_err(|error| RunError::context(format!("writing {}", file.display()), error))?;
    write_atomically(&file, &bytes).map_err(|error| RunError::io("writing", &file, error))?;
    Ok((gaps, file))
}

/// The paired start-up comparison of a run with its baseline ([`compare_paired`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PairedComparison {
    /// Per image and cache mode, the current image against the baseline's, from the same
    /// rounds ([`compare::Basis::SameRun`]).
    pub changes: Vec<MetricChange>,
    /// The images measured in pairs: the baseline's (`<image>@baseline`) and the current ones.
    pub images: Vec<String>,
    /// Every recorded run.
    pub records: Vec<RunRecord>,
    /// `compare-startup-runs.csv` in the current run (`None` when nothing could be paired).
    pub file: Option<PathBuf>,
}

/// Measures start-up of the baseline's app images and `current`'s in the same rounds: the
/// baseline's image is the one kept under its `-baseline` tag ([`baseline_reference`]), or
/// the current image itself when its inputs are the baseline's; an image with neither is left
/// to the comparison of the two runs' files (and said so to `observer`). The runs are written
/// to `compare-startup-runs.csv` in the current run as they come.
pub async fn compare_paired(
    engine: &dyn Engine,
    current: &RunData,
    baseline: &RunData,
    settings: &StartupSettings,
    thresholds: Thresholds,
    observer: &dyn Observer,
) -> Result<PairedComparison, RunError> {
    let hash_of = |details: Option<ImageDetails>| {
        details.and_then(|d| d.labels.get(labels::INPUT_HASH).cloned())
    };
    let mut targets: Vec<Target> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for target in startup::targets(&current.plan) {
        if let Some(reason) = current
            .plan
            .image(&target.image)
            .and_then(startup::not_timed_reason)
        {
            observer.note(&format!("{}: not timed: {reason}", target.image));
            continue;
        }
        let Some(recorded) = baseline.builds.iter().find(|b| b.id == target.image) else {
            observer.note(&format!("{}: not in the baseline run", target.image));
            continue;
        };
        let wanted = Some(recorded.input_hash.as_str());
        let kept = baseline_reference(&target.reference);
        let reference = if hash_of(engine.inspect_image(&kept).await?).as_deref() == wanted {
            kept
        } else if hash_of(engine.inspect_image(&target.reference).await?).as_deref() == wanted {
            // Unchanged inputs: the current image is the baseline's image.
            target.reference.clone()
        } else {
            observer.note(&format!(
                "{}: the baseline's image is not on this machine (keep it with `r2r keep-baseline`); its start-up is compared across runs",
                target.image
            ));
            continue;
        };
        targets.push(Target {
            image: format!("{}@baseline", target.image),
            reference,
            ..target.clone()
        });
        targets.push(target);
        pairs.push((targets.len() - 2, targets.len() - 1));
    }
    let images = targets.iter().map(|t| t.image.clone()).collect();
    if targets.is_empty() {
        return Ok(PairedComparison {
            changes: Vec::new(),
            images,
            records: Vec::new(),
            file: None,
        });
    }
    let mut caches: Vec<_> = current.startup_runs.iter().map(|r| r.cache).collect();
    caches.sort();
    caches.dedup();
    let options = settings.options(&StartupDefaults::paired(caches), Vec::new(), || true);
    observer.note(&format!(
        "paired start-up: {} image(s) beside the baseline's, {} round(s)",
        pairs.len(),
        options.min_runs
    ));
    let file = current.run_dir().compare_startup_runs_csv();
    let mut written = startup::runs_csv(&[], true)
        .map_err(|error| RunError::context(format!("writing {}", file.display()), error))?;
    write_atomically(&file, &written).map_err(|error| RunError::io("writing", &file, error))?;
    let mut sink = |record: &RunRecord| -> Result<(), startup::SinkError> {
        written.extend(startup::runs_csv(std::slice::from_ref(record), false)?);
        write_atomically(&file, &written)?;
        Ok(())
    };
    let measured = startup::measure(
        engine,
        &current.info.scenario,
        &targets,
        &options,
        observer,
        &mut sink,
        Vec::new(),
    )
    .await;
    observer.startup_stopped();
    let records = measured.map_err(RunError::other)?;
    let mut changes = Vec::new();
    for (base, image) in pairs {
        for cache in &options.caches {
            let rounds = compare::paired_rounds(
                &records,
                &targets[base].image,
                &targets[image].image,
                *cache,
            );
            let seed = crate::measure::stats::stream_seed(
                options.seed,
                &[&targets[image].image, cache.name(), "compare"],
            );
            changes.push(compare::paired_startup_change(
                &targets[image].image,
                cache.name(),
                &rounds,
                seed,
                thresholds,
            ));
        }
    }
    compare::holm(&mut changes, thresholds.alpha);
    Ok(PairedComparison {
        changes,
        images,
        records,
        file: Some(file),
    })
}

/// What [`keep_baseline`] kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptBaseline {
    /// `(plan id, the tag it is kept under)`.
    pub kept: Vec<(String, String)>,
    /// `(plan id, reference)` of the images that are no longer the run's (rebuilt since, or
    /// missing): not kept.
    pub not_kept: Vec<(String, String)>,
}

/// Tags `run`'s app images as the scenario's baseline images ([`baseline_reference`]), each
/// only when the image under its tag is still the one the run built (same input hash).
pub async fn keep_baseline(engine: &dyn Engine, run: &RunData) -> Result<KeptBaseline, RunError> {
    let mut outcome = KeptBaseline::default();
    for target in startup::targets(&run.plan) {
        let recorded = run.builds.iter().find(|b| b.id == target.image);
        let image = engine.inspect_image(&target.reference).await?;
        let label = image
            .as_ref()
            .and_then(|i| i.labels.get(labels::INPUT_HASH));
        match (recorded, label) {
            (Some(build), Some(hash))
                if !build.input_hash.is_empty() && *hash == build.input_hash =>
            {
                let kept_as = baseline_reference(&target.reference);
                engine.tag_image(&target.reference, &kept_as).await?;
                outcome.kept.push((target.image, kept_as));
            }
            _ => outcome.not_kept.push((target.image, target.reference)),
        }
    }
    Ok(outcome)
}
