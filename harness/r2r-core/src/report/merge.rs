//! Runs from several machines in one report (`r2r merge`).
//!
//! Each run directory is one machine's run. Sizes are exact, so they are put side by side per
//! machine and platform (the architecture the images are for); start-up is a property of the
//! machine it was measured on, so it is shown per machine and never compared across machines.
//! A merged directory holds copies of the runs it was made from (`runs/<machine>/`), so it can
//! itself be the baseline of a later merge: each machine's run is then compared with the same
//! machine's run of the baseline ([`crate::report::compare::against_baseline`]).
//!
//! An image's platform is read from what its run records: the image's `platform` in
//! `plan.json` when it is not the default one, and otherwise the platform of the host the run
//! measured on (`run.json`'s machine; `linux/amd64` for runs recorded before the machine's
//! architecture was).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::compare::{self, MetricChange, Thresholds, Verdict};
use crate::report::MB;
use crate::results::history::{self, HistoryRow};
use crate::results::rows::{self, Fixed};
use crate::results::run_data::{RunData, RunDataError};
use crate::results::startup_runs::Cache;
use crate::results::{compare_files, RunDir};

/// The file naming the runs of a merged directory.
pub const MERGED_FILE: &str = compare_files::MERGED;

/// Errors merging runs.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A run directory cannot be read.
    #[error("{directory}: {source}")]
    Run {
        /// The run directory.
        directory: PathBuf,
        /// Why.
        #[source]
        source: RunDataError,
    },
    /// Two runs have the same machine label.
    #[error("two runs are from machine `{label}` ({first} and {second}); name them apart with LABEL=DIR")]
    DuplicateMachine {
        /// The label.
        label: String,
        /// The first run directory.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A machine label is unusable (it names a directory of the merged output).
    #[error("machine label `{0}`: use letters, digits, `.`, `_` and `-` only")]
    BadLabel(String),
    /// Nothing to merge.
    #[error("no run directories to merge")]
    Empty,
    /// A file could not be written or copied.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> MergeError + 'a {
    move |source| MergeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One run to merge: a run directory and, optionally, the machine's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInput {
    /// The machine's label; default: the host name recorded in `run.json`.
    pub label: Option<String>,
    /// The run directory.
    pub directory: PathBuf,
}

impl MergeInput {
    /// Reads `LABEL=DIR` or `DIR`.
    pub fn parse(argument: &str) -> MergeInput {
        match argument.split_once('=') {
            Some((label, directory)) if !label.is_empty() && !label.contains('/') => MergeInput {
                label: Some(label.to_string()),
                directory: PathBuf::from(directory),
            },
            _ => MergeInput {
                label: None,
                directory: PathBuf::from(argument),
            },
        }
    }
}

/// One machine's run in a merge.
#[derive(Debug, Clone)]
pub struct MachineRun {
    /// The machine's label.
    pub label: String,
    /// The platform of the host the run measured on (`linux/amd64`).
    pub host_platform: String,
    /// Platform per image id, where the run records one other than the host's.
    pub image_platforms: BTreeMap<String, String>,
    /// The run.
    pub data: RunData,
}

impl MachineRun {
    /// The platform an image of this run is for.
    pub fn platform_of(&self, image: &str) -> &str {
        self.image_platforms
            .get(image)
            .map(String::as_str)
            .unwrap_or(&self.host_platform)
    }
}

/// One machine's comparison with its baseline run: the machine's label, the .NET versions
/// when they changed (`(baseline, current)`), and the metrics compared.
pub type MachineComparison = (String, Option<(String, String)>, Vec<MetricChange>);

/// Runs of several machines.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The runs, in the order given.
    pub runs: Vec<MachineRun>,
}

/// A platform as `os/architecture`: `linux/amd64` as written, or a .NET runtime identifier
/// (`linux-x64`, `linux-arm64`) turned into one.
pub fn normalize_platform(text: &str) -> String {
    let text = text.trim();
    if text.contains('/') {
        return text.to_string();
    }
    match text.split_once('-') {
        Some((os, architecture)) => {
            let architecture = match architecture {
                "x64" => "amd64",
                "x86" => "386",
                other => other,
            };
            format!("{os}/{architecture}")
        }
        None => text.to_string(),
    }
}

/// Platforms a run records for its images: each image's `platform` in `plan.json` that is
/// not the default one (the default is left out of the file, so the host's stands for it).
fn recorded_platforms(data: &RunData) -> BTreeMap<String, String> {
    data.plan
        .images
        .iter()
        .filter(|image| !image.platform.is_default())
        .map(|image| (image.id.clone(), image.platform.name().to_string()))
        .collect()
}

fn check_label(label: &str) -> Result<(), MergeError> {
    let valid = !label.is_empty()
        && label.len() <= 64
        && !label.starts_with('.')
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(MergeError::BadLabel(label.to_string()))
    }
}

/// Reads the runs to merge. A run without a label is named by its host name (`machine-N`
/// when it recorded none); two runs with one label are refused.
pub fn load(inputs: &[MergeInput]) -> Result<Merged, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut runs: Vec<MachineRun> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        let directory = input
            .directory
            .canonicalize()
            .unwrap_or_else(|_| input.directory.clone());
        let data = RunData::load(&directory, None).map_err(|source| MergeError::Run {
            directory: directory.clone(),
            source,
        })?;
        let label = match &input.label {
            Some(label) => label.clone(),
            None if !data.info.machine.hostname.is_empty() => data.info.machine.hostname.clone(),
            None => format!("machine-{}", index + 1),
        };
        check_label(&label)?;
        if let Some(other) = runs.iter().find(|run| run.label == label) {
            return Err(MergeError::DuplicateMachine {
                label,
                first: other.data.directory.clone(),
                second: directory,
            });
        }
        let host_platform = data.info.machine.platform();
        let mut image_platforms = recorded_platforms(&data);
        image_platforms.retain(|_, platform| *platform != host_platform);
        runs.push(MachineRun {
            label,
            host_platform,
            image_platforms,
            data,
        });
    }
    Ok(Merged { runs })
}

/// One row of a merged `sizes.csv`: one image of one machine's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedSizeRow {
    /// The machine's label.
    pub machine: String,
    /// The platform the image is for (`linux/amd64`, `linux/arm64`).
    pub platform: String,
    /// The run's scenario.
    pub scenario: String,
    /// The run's id.
    pub run_id: String,
    /// The run's exact .NET version.
    pub dotnet: String,
    /// Plan id of the image.
    pub image: String,
    /// The image's role.
    pub role: String,
    /// File contents as the engine accounts them, bytes.
    pub content_bytes: u64,
    /// The layer tars compressed with gzip level 6, bytes.
    pub gzip_bytes: u64,
    /// The layer tars compressed with zstd level 3, bytes.
    pub zstd_bytes: u64,
}

/// One row of a merged `startup.csv`: the create-to-ready time of one image in one cache
/// mode on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedStartupRow {
    /// The machine's label.
    pub machine: String,
    /// The platform the image is for.
    pub platform: String,
    /// The run's id.
    pub run_id: String,
    /// The run's exact .NET version.
    pub dotnet: String,
    /// Plan id of the image.
    pub image: String,
    /// `cold` or `warm`.
    pub cache: Cache,
    /// Recorded runs.
    pub runs: u64,
    /// Median create-to-ready time, ms, 3 decimals.
    pub median_ms: Fixed<3>,
    /// Mean, ms, 3 decimals.
    pub mean_ms: Fixed<3>,
    /// Lower end of the mean's 95% confidence interval, ms, 3 decimals.
    pub ci95_low_ms: Fixed<3>,
    /// Upper end of the mean's 95% confidence interval, ms, 3 decimals.
    pub ci95_high_ms: Fixed<3>,
}

/// One row of a merged `compare-baseline.csv`: one metric of one image on one machine against
/// the same machine's run in the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedChangeRow {
    /// The machine's label.
    pub machine: String,
    /// The .NET versions, `baseline → current` (one version when they are the same).
    pub dotnet: String,
    /// Plan id of the image.
    pub image: String,
    /// The metric: `content_bytes`, `gzip_bytes`, `startup_<cache>_total_ms`.
    pub metric: String,
    /// Unit of `baseline` and `current`: `bytes` or `ms`.
    pub unit: String,
    /// The baseline's value (bytes, or mean ms), 3 decimals; empty when missing.
    pub baseline: Fixed<3>,
    /// The current run's value (bytes, or mean ms), 3 decimals; empty when missing.
    pub current: Fixed<3>,
    /// `current / baseline - 1`, percent, 2 decimals.
    pub change_percent: Fixed<2>,
    /// `regression`, `improvement`, `no change`, `missing` or `version change`.
    pub verdict: String,
    /// What the numbers come from (`exact`, or `separate runs: drift not cancelled`).
    pub basis: String,
}

impl Merged {
    /// Every image of every run, machine by machine.
    pub fn size_rows(&self) -> Vec<MergedSizeRow> {
        let mut rows = Vec::new();
        for run in &self.runs {
            for size in &run.data.sizes {
                rows.push(MergedSizeRow {
                    machine: run.label.clone(),
                    platform: run.platform_of(&size.image).to_string(),
                    scenario: run.data.info.scenario.clone(),
                    run_id: run.data.info.run_id.clone(),
                    dotnet: run.data.info.dotnet.runtime.clone(),
                    image: size.image.clone(),
                    role: size.role.clone(),
                    content_bytes: size.content_bytes,
                    gzip_bytes: size.gzip_bytes,
                    zstd_bytes: size.zstd_bytes,
                });
            }
        }
        rows
    }

    /// Start-up totals, machine by machine.
    pub fn startup_rows(&self) -> Vec<MergedStartupRow> {
        let mut rows = Vec::new();
        for run in &self.runs {
            for summary in run.data.startup.iter().filter(|r| r.phase == "total") {
                let Ok(cache) = summary.cache.parse::<Cache>() else {
                    continue;
                };
                rows.push(MergedStartupRow {
                    machine: run.label.clone(),
                    platform: run.platform_of(&summary.image).to_string(),
                    run_id: run.data.info.run_id.clone(),
                    dotnet: run.data.info.dotnet.runtime.clone(),
                    image: summary.image.clone(),
                    cache,
                    runs: summary.runs,
                    median_ms: Fixed(Some(summary.median_ms)),
                    mean_ms: Fixed(Some(summary.mean_ms)),
                    ci95_low_ms: Fixed(Some(summary.ci95_low_ms)),
                    ci95_high_ms: Fixed(Some(summary.ci95_high_ms)),
                });
            }
        }
        rows
    }

    /// The size columns: every (machine, platform) with at least one image, in run order.
    pub fn columns(&self) -> Vec<(String, String)> {
        let mut columns: Vec<(String, String)> = Vec::new();
        for row in self.size_rows() {
            let key = (row.machine, row.platform);
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
        columns
    }

    /// Each machine's run against the same machine's run of `baseline`: `(machine, version
    /// change, changes)`; machines the baseline lacks are left out (see
    /// [`Merged::without_baseline`]).
    pub fn against(&self, baseline: &Merged, thresholds: Thresholds) -> Vec<MachineComparison> {
        self.runs
            .iter()
            .filter_map(|run| {
                let before = baseline.runs.iter().find(|b| b.label == run.label)?;
                Some((
                    run.label.clone(),
                    compare::version_change(&run.data, &before.data),
                    compare::against_baseline(&run.data, &before.data, thresholds),
                ))
            })
            .collect()
    }

    /// Machines of this merge that `baseline` has no run of.
    pub fn without_baseline(&self, baseline: &Merged) -> Vec<String> {
        self.runs
            .iter()
            .filter(|run| !baseline.runs.iter().any(|b| b.label == run.label))
            .map(|run| run.label.clone())
            .collect()
    }

    /// The merge's headline metrics for a history file: each run's, its images named
    /// `<machine>/<image>`, all under one run id (the merge's).
    pub fn history_rows(&self, run_id: &str) -> Vec<HistoryRow> {
        let mut history = Vec::new();
        for run in &self.runs {
            for (image, metric, value) in compare::headline_metrics(&run.data) {
                history.push(HistoryRow {
                    run_id: run_id.to_string(),
                    image: format!("{}/{image}", run.label),
                    metric,
                    value,
                    dotnet: run.data.info.dotnet.runtime.clone(),
                });
            }
        }
        history
    }
}

/// What [`write`] wrote and found.
#[derive(Debug, Clone, Default)]
pub struct MergeOutcome {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Comparisons that fail a job (exact size regressions of the same .NET version).
    pub regressions: usize,
    /// Size changes that came with a .NET version change.
    pub version_changes: usize,
    /// Machines the baseline had no run of.
    pub without_baseline: Vec<String>,
}

/// The runs of a merged directory (written by [`write`]), as a merge.
pub fn load_merged(directory: &Path) -> Result<Merged, MergeError> {
    let path = RunDir::new(directory).merged_json();
    let bytes = std::fs::read(&path).map_err(io_error("reading", &path))?;
    let record: MergedRecord = serde_json::from_slice(&bytes).map_err(|error| MergeError::Io {
        action: "reading",
        path: path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
    })?;
    let inputs: Vec<MergeInput> = record
        .runs
        .iter()
        .map(|run| MergeInput {
            label: Some(run.machine.clone()),
            directory: directory
                .join(compare_files::MERGED_RUNS)
                .join(&run.machine),
        })
        .collect();
    load(&inputs)
}

/// `merged.json`: the runs a merged directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedRecord {
    /// The merge's id (UTC time it was made, as run ids are).
    pub merge_id: String,
    /// The runs, one per machine.
    pub runs: Vec<MergedRunRecord>,
}

/// One run of `merged.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedRunRecord {
    /// The machine's label (the run's copy is `runs/<machine>/`).
    pub machine: String,
    /// The platform of the host the run measured on.
    pub host_platform: String,
    /// The run's id.
    pub run_id: String,
    /// The run's scenario.
    pub scenario: String,
    /// The run's exact .NET version.
    pub dotnet: String,
    /// The run directory it was copied from.
    pub source: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), MergeError> {
    std::fs::create_dir_all(to).map_err(io_error("creating", to))?;
    for entry in std::fs::read_dir(from).map_err(io_error("reading", from))? {
        let entry = entry.map_err(io_error("reading", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if source.is_dir() {
            copy_tree(&source, &target)?;
        } else if source.is_file() {
            std::fs::copy(&source, &target).map_err(io_error("copying to", &target))?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], written: &mut Vec<PathBuf>) -> Result<(), MergeError> {
    crate::results::files::write_atomically(path, bytes).map_err(io_error("writing", path))?;
    written.push(path.to_path_buf());
    Ok(())
}

fn csv_bytes<T: Serialize + serde::de::DeserializeOwned>(
    rows: &[T],
    path: &Path,
) -> Result<Vec<u8>, MergeError> {
    rows::to_csv(rows).map_err(|error| MergeError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    })
}

/// Writes a merge into `out`: the runs' copies (`runs/<machine>/`), `merged.json`,
/// `sizes.csv`, `startup.csv`, and `report.md`; with a baseline merge, `compare-baseline.csv`
/// and its section of the report; with `history`, the merge's headline metrics appended to
/// that file.
pub fn write(
    merged: &Merged,
    out: &Path,
    baseline: Option<&Merged>,
    thresholds: Thresholds,
    history: Option<&Path>,
) -> Result<MergeOutcome, MergeError> {
    let mut outcome = MergeOutcome::default();
    std::fs::create_dir_all(out).map_err(io_error("creating", out))?;
    let merge_id = out
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(crate::results::runs::new_run_id);
    let mut record = MergedRecord {
        merge_id: merge_id.clone(),
        runs: Vec::new(),
    };
    for run in &merged.runs {
        let copy = out.join(compare_files::MERGED_RUNS).join(&run.label);
        let source = run
            .data
            .directory
            .canonicalize()
            .unwrap_or_else(|_| run.data.directory.clone());
        if copy.canonicalize().ok() != Some(source.clone()) {
            if copy.exists() {
                std::fs::remove_dir_all(&copy).map_err(io_error("removing", &copy))?;
            }
            copy_tree(&source, &copy)?;
        }
        record.runs.push(MergedRunRecord {
            machine: run.label.clone(),
            host_platform: run.host_platform.clone(),
            run_id: run.data.info.run_id.clone(),
            scenario: run.data.info.scenario.clone(),
            dotnet: run.data.info.dotnet.runtime.clone(),
            source,
        });
    }
    let json = serde_json::to_vec_pretty(&record).expect("the merge record serialises");
    let out_dir = RunDir::new(out);
    write_file(&out_dir.merged_json(), &json, &mut outcome.written)?;
    let sizes_path = out_dir.sizes_csv();
    let sizes = csv_bytes(&merged.size_rows(), &sizes_path)?;
    write_file(&sizes_path, &sizes, &mut outcome.written)?;
    let startup_path = out_dir.startup_csv();
    let startup = csv_bytes(&merged.startup_rows(), &startup_path)?;
    write_file(&startup_path, &startup, &mut outcome.written)?;
    let comparison = baseline.map(|baseline| {
        outcome.without_baseline = merged.without_baseline(baseline);
        merged.against(baseline, thresholds)
    });
    if let Some(comparison) = &comparison {
        let rows: Vec<MergedChangeRow> = comparison
            .iter()
            .flat_map(|(machine, versions, changes)| {
                let dotnet = match versions {
                    Some(versions) => compare::version_change_words(versions),
                    None => merged
                        .runs
                        .iter()
                        .find(|r| &r.label == machine)
                        .map(|r| r.data.info.dotnet.runtime.clone())
                        .unwrap_or_default(),
                };
                changes.iter().map(move |change| MergedChangeRow {
                    machine: machine.clone(),
                    dotnet: dotnet.clone(),
                    image: change.image.clone(),
                    metric: change.metric.clone(),
                    unit: change.unit.clone(),
                    baseline: Fixed(change.baseline),
                    current: Fixed(change.current),
                    change_percent: Fixed(change.change.map(|c| c * 100.0)),
                    verdict: change.verdict.word().to_string(),
                    basis: change.basis.words().to_string(),
                })
            })
            .collect();
        let path = out_dir.compare_baseline_csv();
        let bytes = csv_bytes(&rows, &path)?;
        write_file(&path, &bytes, &mut outcome.written)?;
        let all = comparison.iter().flat_map(|(_, _, changes)| changes);
        outcome.regressions = all.clone().filter(|c| compare::fails_job(c)).count();
        outcome.version_changes = all.filter(|c| c.verdict == Verdict::VersionChange).count();
    }
    let report = markdown(merged, comparison.as_deref(), &outcome.without_baseline);
    write_file(
        &out_dir.report_md(),
        report.as_bytes(),
        &mut outcome.written,
    )?;
    if let Some(history) = history {
        let mut rows: Vec<HistoryRow> = history::read(history)
            .map_err(|source| MergeError::Run {
                directory: history.to_path_buf(),
                source,
            })?
            .unwrap_or_default();
        rows.retain(|row| row.run_id != merge_id);
        rows.extend(merged.history_rows(&merge_id));
        if let Some(parent) = history.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_error("creating", parent))?;
        }
        let bytes = csv_bytes(&rows, history)?;
        write_file(history, &bytes, &mut outcome.written)?;
    }
    Ok(outcome)
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn table(out: &mut String, headers: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(
        out,
        "| {} |",
        headers
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}",
        headers.iter().map(|_| "---|").collect::<String>()
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / MB)
}

/// The merged report as Markdown: the machines, sizes side by side per machine and platform,
/// start-up per machine, and the comparison with a baseline merge when there is one.
pub fn markdown(
    merged: &Merged,
    comparison: Option<&[MachineComparison]>,
    without_baseline: &[String],
) -> String {
    let mut out = format!("# r2r: runs of {} machine(s)\n\n", merged.runs.len());
    out.push_str("## Machines\n\n");
    let machine_rows: Vec<Vec<String>> = merged
        .runs
        .iter()
        .map(|run| {
            let info = &run.data.info;
            vec![
                run.label.clone(),
                run.host_platform.clone(),
                info.machine.cpu.clone(),
                info.machine.cores.to_string(),
                info.scenario.clone(),
                info.run_id.clone(),
                info.dotnet.runtime.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "machine",
            "host platform",
            "CPU",
            "cores",
            "scenario",
            "run",
            ".NET",
        ]
        .map(String::from),
        &machine_rows,
    );

    let sizes = merged.size_rows();
    let columns = merged.columns();
    out.push_str("## Sizes\n\n");
    out.push_str("Exact, so comparable across machines: uncompressed content / gzip, MB (10^6 bytes). `—`: the machine's run has no such image.\n\n");
    let versions: BTreeSet<&str> = sizes.iter().map(|row| row.dotnet.as_str()).collect();
    if versions.len() > 1 {
        let _ = writeln!(
            out,
            "The runs are on different .NET versions ({}): sizes differ with the version as well as with the machine's platform.\n",
            versions.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let mut images: Vec<&str> = Vec::new();
    for row in &sizes {
        if !images.contains(&row.image.as_str()) {
            images.push(&row.image);
        }
    }
    let mut headers = vec!["image".to_string()];
    for (machine, platform) in &columns {
        let dotnet = sizes
            .iter()
            .find(|r| &r.machine == machine)
            .map(|r| r.dotnet.as_str())
            .unwrap_or("");
        headers.push(format!("{machine} {platform} (.NET {dotnet})"));
    }
    let size_rows: Vec<Vec<String>> = images
        .iter()
        .map(|image| {
            let mut row = vec![image.to_string()];
            for (machine, platform) in &columns {
                row.push(
                    match sizes.iter().find(|r| {
                        r.image == *image && &r.machine == machine && &r.platform == platform
                    }) {
                        Some(r) => format!("{} / {}", mb(r.content_bytes), mb(r.gzip_bytes)),
                        None => "—".to_string(),
                    },
                );
            }
            row
        })
        .collect();
    table(&mut out, &headers, &size_rows);

    out.push_str("## Start-up\n\nPer machine: start-up depends on the machine, so it is never compared across machines. Create to ready, ms.\n\n");
    let startup = merged.startup_rows();
    for run in &merged.runs {
        let rows: Vec<Vec<String>> = startup
            .iter()
            .filter(|r| r.machine == run.label)
            .map(|r| {
                let number = |v: Fixed<3>| v.0.map(|v| format!("{v:.1}")).unwrap_or_default();
                vec![
                    r.image.clone(),
                    r.platform.clone(),
                    r.cache.to_string(),
                    r.runs.to_string(),
                    number(r.median_ms),
                    format!("{} – {}", number(r.ci95_low_ms), number(r.ci95_high_ms)),
                ]
            })
            .collect();
        let _ = writeln!(
            out,
            "### {} ({}, {}, {} cores)\n",
            run.label, run.host_platform, run.data.info.machine.cpu, run.data.info.machine.cores
        );
        if rows.is_empty() {
            out.push_str("No start-up measured in this run.\n\n");
        } else {
            table(
                &mut out,
                &[
                    "image",
                    "platform",
                    "cache",
                    "runs",
                    "median",
                    "mean 95% CI",
                ]
                .map(String::from),
                &rows,
            );
        }
    }

    if let Some(comparison) = comparison {
        out.push_str("## Against the baseline\n\nEach machine against the same machine's run of the baseline merge. Sizes are exact; a size that changed together with the .NET version is a `version change`, not a regression of the same build.\n\n");
        for machine in without_baseline {
            let _ = writeln!(
                out,
                "- `{machine}`: the baseline has no run of this machine.\n"
            );
        }
        for (machine, versions, changes) in comparison {
            let _ = writeln!(out, "### {machine}\n");
            if let Some(versions) = versions {
                let _ = writeln!(out, ".NET {}.\n", compare::version_change_words(versions));
            }
            let rows: Vec<Vec<String>> = changes
                .iter()
                .filter(|c| c.verdict != Verdict::NoChange)
                .map(|c| {
                    let number =
                        |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
                    vec![
                        c.image.clone(),
                        c.metric.clone(),
                        number(c.baseline),
                        number(c.current),
                        c.change
                            .map(|v| format!("{:+.2}%", v * 100.0))
                            .unwrap_or_default(),
                        c.verdict.word().to_string(),
                        c.basis.words().to_string(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                out.push_str("No change.\n\n");
            } else {
                table(
                    &mut out,
                    &[
                        "image", "metric", "baseline", "current", "change", "verdict", "basis",
                    ]
                    .map(String::from),
                    &rows,
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_take_an_optional_label() {
        assert_eq!(
            MergeInput::parse("x64=runs/a"),
            MergeInput {
                label: Some("x64".into()),
                directory: "runs/a".into()
            }
        );
        assert_eq!(MergeInput::parse("runs/a").label, None);
        // A `=` in a path after a directory is part of the path.
        assert_eq!(MergeInput::parse("runs/a=b").label, None);
        assert!(check_label("arm64-runner").is_ok());
        assert!(check_label("../x").is_err() && check_label("").is_err());
    }

    #[test]
    fn platforms_are_os_slash_architecture() {
        assert_eq!(normalize_platform("linux/arm64"), "linux/arm64");
        assert_eq!(normalize_platform("linux-arm64"), "linux/arm64");
        assert_eq!(normalize_platform("linux-x64"), "linux/amd64");
    }
}
