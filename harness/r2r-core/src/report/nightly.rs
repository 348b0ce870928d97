//! The nightly's baseline rules: which run (or merge) later ones are compared with, when that
//! baseline moves, the history the trend plots read, what is kept, and the exit status.
//!
//! Two layouts follow the same rules. A scenario's results directory holds its runs, `latest`
//! and `baseline` (links to run directories) and `history.csv`: the first run becomes the
//! baseline before it is compared (with itself), so the baseline link exists from the first
//! night on; later runs move it only when accepted (`--accept`, also after a regression:
//! accepting is a decision). A directory of merges holds one merge a night, `latest`,
//! `baseline` and `history.csv`: the first merge becomes the baseline after it is written
//! (there is nothing to compare it with), an accepted one likewise, and every merge but the
//! latest and the baseline is removed, so the directory holds what the next night needs.
//!
//! Exit status: 0 no regression, 1 a regression (or, with none, an image that failed a step of
//! the run), 2 an error.

use std::path::{Path, PathBuf};

use crate::report::compare::{self, MetricChange, Thresholds};
use crate::report::merge::{self, MergeError, MergeInput, MERGED_FILE};
use crate::results::run_data::{RunData, RunDataError};
use crate::results::run_record::{self, RunInfoError, StepStatus};
use crate::results::runs::{resolve_run, scenario_name, ResolveError, LATEST};

/// The name of the link to the accepted run or merge, beside the runs or merges.
pub const BASELINE: &str = "baseline";
/// The history file beside the runs or merges (`run_id,image,metric,value,dotnet`).
pub const HISTORY: &str = crate::results::history::FILE;
/// The directory of the trend plots beside the runs or merges.
pub const TRENDS: &str = "trends";

/// Why a night's bookkeeping failed.
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    /// A link or directory could not be read, written or removed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`linking`, `removing`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The run's `run.json` cannot be read.
    #[error(transparent)]
    RunInfo(#[from] RunInfoError),
    /// The run's files cannot be read, or the history cannot be written.
    #[error(transparent)]
    RunData(#[from] RunDataError),
    /// The runs cannot be merged.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The run asked for cannot be found.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The run asked for is a directory elsewhere than among the scenario's runs.
    #[error("{} is not a run of scenario '{scenario}' in {}", run.display(), scenario_dir.display())]
    NotOfScenario {
        /// The run directory.
        run: PathBuf,
        /// The scenario.
        scenario: String,
        /// The scenario's results directory.
        scenario_dir: PathBuf,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NightlyError {
    let path = path.to_path_buf();
    move |source| NightlyError::Io {
        action,
        path,
        source,
    }
}

/// The entry a link beside the runs names (its last path component), when the link resolves;
/// `link` itself when it is a directory rather than a link; `None` when absent or dangling.
pub fn link_target(directory: &Path, link: &str) -> Option<String> {
    let path = directory.join(link);
    if !path.exists() {
        return None;
    }
    match std::fs::read_link(&path) {
        Ok(target) => target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
        Err(_) => Some(link.to_string()),
    }
}

/// Points `directory/link` at the entry `target` beside it (a relative link), replacing the
/// old link in one rename.
pub fn set_link(directory: &Path, link: &str, target: &str) -> Result<(), NightlyError> {
    let temporary = directory.join(format!(".{link}.new"));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary).map_err(io_error("linking", &temporary))?;
    let path = directory.join(link);
    std::fs::rename(&temporary, &path).map_err(io_error("linking", &path))
}

/// How tonight's comparison with the baseline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Finished without a regression that fails the job.
    Passed,
    /// Finished with a regression that fails the job.
    Regressed,
    /// Stopped by an error (no verdict, no history row).
    Failed,
}

impl Comparison {
    /// The outcome of a finished comparison's changes: regressed when one fails the job
    /// ([`compare::fails_job`]).
    pub fn of(changes: &[MetricChange]) -> Comparison {
        if changes.iter().any(compare::fails_job) {
            Comparison::Regressed
        } else {
            Comparison::Passed
        }
    }
}

/// A scenario's night between its run and the comparison: what the run is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Night {
    /// The scenario's results directory (`<results>/<scenario>`).
    pub scenario_dir: PathBuf,
    /// Tonight's run id (a directory under `scenario_dir`).
    pub run_id: String,
    /// The run it is compared with: the accepted baseline, or the run itself on the first
    /// night.
    pub baseline: String,
    /// Whether the run became the baseline because there was none.
    pub first: bool,
    /// Whether an image failed a step of the run (a step `failed` in `run.json`: `r2r run`
    /// exited 1).
    pub run_failed: bool,
}

/// How a scenario's night ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// Whether the run's headline metrics were added to the history.
    pub history_appended: bool,
    /// Whether the run was accepted as the baseline tonight (its images are to be kept).
    pub accepted: bool,
    /// The baseline after the night.
    pub baseline: String,
    /// The exit status: 0 no regression, 1 a regression or a failed image, 2 an error.
    pub exit_code: u8,
}

/// The run a night judges: `run` (a run id, `latest` when `None`, or the path of a run
/// directory) of `scenario` under `results`. Returns the scenario's results directory and
/// the run's id there; a run directory elsewhere is refused.
pub fn locate(
    results: &Path,
    scenario: &str,
    run: Option<&str>,
) -> Result<(PathBuf, String), NightlyError> {
    let scenario = scenario_name(scenario);
    let scenario_dir = results.join(&scenario);
    let found = resolve_run(results, Some(&scenario), run)?;
    let run = found.canonicalize().map_err(io_error("reading", &found))?;
    match run.file_name() {
        Some(id) if run.parent() == scenario_dir.canonicalize().ok().as_deref() => {
            Ok((scenario_dir, id.to_string_lossy().into_owned()))
        }
        _ => Err(NightlyError::NotOfScenario {
            run,
            scenario,
            scenario_dir,
        }),
    }
}

/// Starts a scenario's night after its run `run_id`: the baseline it is compared with. With
/// no baseline yet (no `baseline` link, or one that names nothing), the run becomes it now.
pub fn begin(scenario_dir: &Path, run_id: &str) -> Result<Night, NightlyError> {
    let info = run_record::load(&scenario_dir.join(run_id), None)?;
    let run_failed = info
        .steps
        .values()
        .any(|step| step.status == StepStatus::Failed);
    let (baseline, first) = match link_target(scenario_dir, BASELINE) {
        Some(baseline) => (baseline, false),
        None => {
            set_link(scenario_dir, BASELINE, run_id)?;
            (run_id.to_string(), true)
        }
    };
    Ok(Night {
        scenario_dir: scenario_dir.to_path_buf(),
        run_id: run_id.to_string(),
        baseline,
        first,
        run_failed,
    })
}

impl Night {
    /// The run directory of tonight.
    pub fn run_dir(&self) -> PathBuf {
        self.scenario_dir.join(&self.run_id)
    }

    /// The scenario's history file.
    pub fn history(&self) -> PathBuf {
        self.scenario_dir.join(HISTORY)
    }

    /// The scenario's trend plots directory.
    pub fn trends(&self) -> PathBuf {
        self.scenario_dir.join(TRENDS)
    }

    /// Paired start-up rounds to measure against the baseline: `requested`, except none when
    /// 0 are requested or the run is its own baseline (nothing to pair it with).
    pub fn paired_rounds(&self, requested: usize) -> Option<usize> {
        (requested > 0 && !self.first).then_some(requested)
    }

    /// Ends the night after its comparison: the run's headline metrics go to the history
    /// (unless the comparison failed), an accepted run becomes the baseline (also after a
    /// regression), and the exit status follows the comparison, then the run.
    pub fn finish(&self, comparison: Comparison, accept: bool) -> Result<Ending, NightlyError> {
        let history_appended = comparison != Comparison::Failed;
        if history_appended {
            let data = RunData::load(&self.run_dir(), None)?;
            compare::append_history(&self.history(), &data)?;
        }
        let mut baseline = self.baseline.clone();
        if accept {
            set_link(&self.scenario_dir, BASELINE, &self.run_id)?;
            baseline = self.run_id.clone();
        }
        let exit_code = match comparison {
            Comparison::Failed => 2,
            Comparison::Regressed => 1,
            Comparison::Passed if self.run_failed => 1,
            Comparison::Passed => 0,
        };
        Ok(Ending {
            history_appended,
            accepted: accept,
            baseline,
            exit_code,
        })
    }
}

/// How a night of merges ended.
#[derive(Debug, Clone)]
pub struct MergeNight {
    /// The merge's id: its directory under the merges directory.
    pub id: String,
    /// The machines and their platforms, as merged.
    pub columns: Vec<(String, String)>,
    /// The merge it was compared with (`None` on the first night).
    pub compared_with: Option<String>,
    /// What the merge wrote and found.
    pub outcome: merge::MergeOutcome,
    /// Whether the merge became the baseline: the first one, or an accepted one.
    pub became_baseline: bool,
    /// Merges removed (neither the latest nor the baseline).
    pub pruned: Vec<String>,
    /// The exit status: 0 no regression, 1 an exact size regression of the same .NET
    /// version.
    pub exit_code: u8,
}

/// One night of merges into `directory`: merges the machines' runs into `directory/<id>`,
/// compared with the baseline merge when there is one (`baseline/merged.json`) and added to
/// the history; `latest` names it; it becomes the baseline when it is the first or
/// `accept`ed; every other merge but the baseline is removed.
pub fn merge_night(
    directory: &Path,
    id: &str,
    inputs: &[MergeInput],
    accept: bool,
    thresholds: Thresholds,
) -> Result<MergeNight, NightlyError> {
    std::fs::create_dir_all(directory).map_err(io_error("creating", directory))?;
    let baseline_dir = directory.join(BASELINE);
    let compared_with = baseline_dir
        .join(MERGED_FILE)
        .is_file()
        .then(|| link_target(directory, BASELINE))
        .flatten();
    let baseline = match compared_with {
        Some(_) => Some(merge::load_merged(&baseline_dir)?),
        None => None,
    };
    let merged = merge::load(inputs)?;
    let outcome = merge::write(
        &merged,
        &directory.join(id),
        baseline.as_ref(),
        thresholds,
        Some(&directory.join(HISTORY)),
    )?;
    set_link(directory, LATEST, id)?;
    let became_baseline = compared_with.is_none() || accept;
    if became_baseline {
        set_link(directory, BASELINE, id)?;
    }
    let pruned = prune(directory, MERGED_FILE)?;
    let exit_code = u8::from(outcome.regressions > 0);
    Ok(MergeNight {
        id: id.to_string(),
        columns: merged.columns(),
        compared_with,
        outcome,
        became_baseline,
        pruned,
        exit_code,
    })
}

/// Removes every directory under `directory` that holds `marker` (a run or merge), except
/// those `latest` and `baseline` name; links are left alone. Returns the names removed,
/// sorted.
pub fn prune(directory: &Path, marker: &str) -> Result<Vec<String>, NightlyError> {
    let keep: Vec<String> = [LATEST, BASELINE]
        .iter()
        .filter_map(|link| link_target(directory, link))
        .collect();
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(directory).map_err(io_error("reading", directory))?;
    for entry in entries {
        let entry = entry.map_err(io_error("reading", directory))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_link = entry.file_type().is_ok_and(|kind| kind.is_symlink());
        if is_link || !path.is_dir() || !path.join(marker).exists() || keep.contains(&name) {
            continue;
        }
        std::fs::remove_dir_all(&path).map_err(io_error("removing", &path))?;
        removed.push(name);
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rows::{self, SizeRow};
    use crate::results::run_data::read_csv;

    fn recorded() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite")
    }

    /// A copy of the recorded run as `parent/id`, its run id set, every gzip size times
    /// `gzip_factor`, and the build step `failed` when `failed`.
    fn fake_run(parent: &Path, id: &str, gzip_factor: u64, failed: bool) -> PathBuf {
        let run = parent.join(id);
        std::fs::create_dir_all(&run).unwrap();
        for entry in std::fs::read_dir(recorded()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
        }
        let mut info = run_record::load(&run, None).unwrap();
        info.run_id = id.to_string();
        if failed {
            info.step("build", StepStatus::Failed, 1.0, Some("one image".into()));
        }
        info.save(&run).unwrap();
        let mut sizes: Vec<SizeRow> = read_csv(&run.join("sizes.csv"), &[]).unwrap().unwrap();
        for row in &mut sizes {
            row.gzip_bytes *= gzip_factor;
        }
        crate::results::files::write_atomically(
            &run.join("sizes.csv"),
            &rows::to_csv(&sizes).unwrap(),
        )
        .unwrap();
        run
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            size: 0.01,
            startup: 0.05,
            alpha: 0.05,
        }
    }

    /// The comparison of a night's run with its baseline, from the two runs' files.
    fn compared(night: &Night) -> Comparison {
        let current = RunData::load(&night.run_dir(), None).unwrap();
        let baseline = RunData::load(&night.scenario_dir.join(&night.baseline), None).unwrap();
        Comparison::of(&compare::against_baseline(
            &current,
            &baseline,
            thresholds(),
        ))
    }

    fn history_runs(night: &Night) -> Vec<String> {
        let rows: Vec<rows::HistoryRow> = read_csv(&night.history(), rows::HISTORY_COLUMNS)
            .unwrap()
            .unwrap();
        let mut runs: Vec<String> = rows.into_iter().map(|row| row.run_id).collect();
        runs.dedup();
        runs
    }

    #[test]
    fn a_night_judges_a_run_among_the_scenarios_runs_only() {
        let results = tempfile::tempdir().unwrap();
        let scenario_dir = results.path().join("composite");
        fake_run(&scenario_dir, "20261201T020000Z", 1, false);
        let elsewhere = fake_run(results.path(), "20261202T020000Z", 1, false);
        let found = locate(results.path(), "composite", Some("20261201T020000Z")).unwrap();
        assert_eq!(found, (scenario_dir, "20261201T020000Z".to_string()));
        let path = elsewhere.to_string_lossy();
        assert!(matches!(
            locate(results.path(), "composite", Some(&path)),
            Err(NightlyError::NotOfScenario { .. })
        ));
        assert!(matches!(
            locate(results.path(), "composite", Some("nothing")),
            Err(NightlyError::Resolve(_))
        ));
    }

    #[test]
    fn the_first_run_becomes_the_baseline_and_is_compared_with_itself() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "20261201T020000Z", 1, false);
        let night = begin(dir.path(), "20261201T020000Z").unwrap();
        assert!(night.first);
        assert_eq!(night.baseline, "20261201T020000Z");
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261201T020000Z")
        );
        assert_eq!(night.paired_rounds(10), None);
        assert_eq!(compared(&night), Comparison::Passed);
        let ending = night.finish(Comparison::Passed, false).unwrap();
        assert_eq!(ending.exit_code, 0);
        assert!(!ending.accepted);
        assert_eq!(history_runs(&night), ["20261201T020000Z"]);
    }

    #[test]
    fn a_later_run_keeps_the_baseline_unless_accepted() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "20261201T020000Z", 1, false);
        begin(dir.path(), "20261201T020000Z").unwrap();
        fake_run(dir.path(), "20261202T020000Z", 1, false);
        let night = begin(dir.path(), "20261202T020000Z").unwrap();
        assert!(!night.first);
        assert_eq!(night.baseline, "20261201T020000Z");
        assert_eq!(night.paired_rounds(10), Some(10));
        assert_eq!(night.paired_rounds(0), None);
        let ending = night.finish(compared(&night), false).unwrap();
        assert_eq!(
            (ending.exit_code, ending.baseline.as_str()),
            (0, "20261201T020000Z")
        );
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261201T020000Z")
        );

        fake_run(dir.path(), "20261203T020000Z", 1, false);
        let night = begin(dir.path(), "20261203T020000Z").unwrap();
        let ending = night.finish(compared(&night), true).unwrap();
        assert_eq!(ending.exit_code, 0);
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261203T020000Z")
        );
        assert_eq!(
            history_runs(&night),
            ["20261202T020000Z", "20261203T020000Z"]
        );
    }

    #[test]
    fn a_regression_exits_1_and_leaves_the_baseline_unless_accepted() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "20261201T020000Z", 1, false);
        begin(dir.path(), "20261201T020000Z").unwrap();
        fake_run(dir.path(), "20261202T020000Z", 2, false);
        let night = begin(dir.path(), "20261202T020000Z").unwrap();
        assert_eq!(compared(&night), Comparison::Regressed);
        let ending = night.finish(Comparison::Regressed, false).unwrap();
        assert_eq!(ending.exit_code, 1);
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261201T020000Z")
        );
        // Accepting is a decision: it moves the baseline after a regression too, and the
        // job still fails.
        let ending = night.finish(Comparison::Regressed, true).unwrap();
        assert_eq!(ending.exit_code, 1);
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261202T020000Z")
        );
    }

    #[test]
    fn a_failed_image_or_comparison_sets_the_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        fake_run(dir.path(), "20261201T020000Z", 1, false);
        begin(dir.path(), "20261201T020000Z").unwrap();
        fake_run(dir.path(), "20261202T020000Z", 1, true);
        let night = begin(dir.path(), "20261202T020000Z").unwrap();
        assert!(night.run_failed);
        assert_eq!(
            night.finish(Comparison::Passed, false).unwrap().exit_code,
            1
        );
        let ending = night.finish(Comparison::Failed, false).unwrap();
        assert_eq!(ending.exit_code, 2);
        assert!(!ending.history_appended);
    }

    #[test]
    fn a_dangling_baseline_link_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("gone", dir.path().join(BASELINE)).unwrap();
        fake_run(dir.path(), "20261201T020000Z", 1, false);
        let night = begin(dir.path(), "20261201T020000Z").unwrap();
        assert!(night.first);
        assert_eq!(
            link_target(dir.path(), BASELINE).as_deref(),
            Some("20261201T020000Z")
        );
    }

    fn inputs(parent: &Path, night: u32, gzip_factor: u64) -> Vec<MergeInput> {
        let id = format!("202612{night:02}T020000Z");
        vec![MergeInput {
            label: Some("x64".into()),
            directory: fake_run(
                &parent.join(format!("runs-{night}")),
                &id,
                gzip_factor,
                false,
            ),
        }]
    }

    fn merges(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(directory)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| !e.file_type().unwrap().is_symlink() && e.path().join(MERGED_FILE).exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn merges_keep_exactly_the_latest_and_the_baseline() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("nightly");
        let first =
            merge_night(&dir, "m1", &inputs(work.path(), 1, 1), false, thresholds()).unwrap();
        assert!(first.became_baseline && first.compared_with.is_none());
        assert_eq!(first.exit_code, 0);
        assert_eq!(link_target(&dir, BASELINE).as_deref(), Some("m1"));
        assert_eq!(link_target(&dir, LATEST).as_deref(), Some("m1"));

        let second =
            merge_night(&dir, "m2", &inputs(work.path(), 2, 1), false, thresholds()).unwrap();
        assert_eq!(second.compared_with.as_deref(), Some("m1"));
        assert!(!second.became_baseline);
        assert_eq!(second.exit_code, 0);
        assert!(second.pruned.is_empty());
        assert_eq!(merges(&dir), ["m1", "m2"]);

        // A regression exits 1, leaves the baseline, and the previous latest goes.
        let third =
            merge_night(&dir, "m3", &inputs(work.path(), 3, 2), false, thresholds()).unwrap();
        assert_eq!(third.exit_code, 1);
        assert_eq!(third.pruned, ["m2"]);
        assert_eq!(merges(&dir), ["m1", "m3"]);
        assert_eq!(link_target(&dir, BASELINE).as_deref(), Some("m1"));

        // Accepted: it becomes the baseline, and the old baseline goes.
        let fourth =
            merge_night(&dir, "m4", &inputs(work.path(), 4, 1), true, thresholds()).unwrap();
        assert!(fourth.became_baseline);
        assert_eq!(fourth.pruned, ["m1", "m3"]);
        assert_eq!(merges(&dir), ["m4"]);
        assert_eq!(link_target(&dir, BASELINE).as_deref(), Some("m4"));
        // Other files beside the merges stay.
        assert!(dir.join(HISTORY).is_file());
    }
}
