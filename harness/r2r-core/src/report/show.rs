//! What scripts read from a run: one serialisable view of a run directory (its record, the
//! engine, how many images built and verified, the sizes, the start-up summaries, the
//! recorded runs summarised per image and cache mode, the comparison with a baseline), and
//! the summary statistics of any series of numbers. `r2r show` prints these as JSON, or one
//! field of them, so that scripts take numbers from r2r instead of computing them.
//!
//! A directory written by `r2r measure ... --output DIR` has no `run.json`: the view has no
//! record then, and everything else it finds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::build::{BuildStatus, ImageBuild};
use crate::inspect::verify::ImageVerification;
use crate::measure::stats::quantile;
use crate::report::compare::ChangeRow;
use crate::results::reading::{read_csv, read_json, RunDataError};
use crate::results::rows::SizeRow;
use crate::results::run_data::{StartupRow, StartupRunRow};
use crate::results::run_record::{self, RunInfo, RunInfoError};

/// Why a run directory cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// Not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// `run.json` is there but cannot be read.
    #[error(transparent)]
    RunInfo(#[from] RunInfoError),
    /// A result file cannot be read.
    #[error(transparent)]
    RunData(#[from] RunDataError),
    /// A word of a series is not a number.
    #[error("'{word}' is not a number")]
    NotANumber {
        /// The word.
        word: String,
    },
    /// A series holds no numbers.
    #[error("no numbers to describe")]
    NoNumbers,
    /// A field path names nothing in the view.
    #[error("no field '{field}' (fields are dotted paths such as run.run_id or sizes.0.gzip_bytes; see --json)")]
    NoField {
        /// The path given.
        field: String,
    },
}

/// Summary statistics of a series, in the series' unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one value.
    pub standard_deviation: f64,
    /// Median.
    pub median: f64,
    /// First quartile (linear interpolation between the sorted values).
    pub q1: f64,
    /// Third quartile (linear interpolation).
    pub q3: f64,
    /// `q3 - q1`.
    pub iqr: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Describes a series; `None` when it is empty.
pub fn describe(values: &[f64]) -> Option<Description> {
    if values.is_empty() {
        return None;
    }
    let count = values.len();
    let mean = values.iter().sum::<f64>() / count as f64;
    let standard_deviation = if count > 1 {
        (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1) as f64).sqrt()
    } else {
        0.0
    };
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = quantile(&sorted, 0.5);
    let (q1, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.75));
    let mut deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    Some(Description {
        count,
        mean,
        standard_deviation,
        median,
        q1,
        q3,
        iqr: q3 - q1,
        mad: quantile(&deviations, 0.5),
        min: sorted[0],
        max: sorted[count - 1],
    })
}

/// Reads numbers separated by white space (one a line, say); a word that is not a number is
/// an error naming it.
pub fn parse_numbers(text: &str) -> Result<Vec<f64>, ShowError> {
    text.split_whitespace()
        .map(|word| {
            word.parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| ShowError::NotANumber {
                    word: word.to_string(),
                })
        })
        .collect()
}

/// The summary statistics ([`describe`]) of the numbers in `text` ([`parse_numbers`]).
pub fn describe_text(text: &str) -> Result<Description, ShowError> {
    describe(&parse_numbers(text)?).ok_or(ShowError::NoNumbers)
}

/// How many images a step counted, and how many passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    /// Images the step recorded.
    pub total: usize,
    /// Of those, built (or up to date) / verified.
    pub passed: usize,
}

/// The recorded start-up runs (`startup-runs.csv`) of one image and cache mode, or of all.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RunsSummary {
    /// Plan id of the image (empty in the total over all images).
    pub image: String,
    /// App kind (`console`, `webapi`; empty in the total).
    pub app: String,
    /// `cold` or `warm` (empty in the total).
    pub cache: String,
    /// Recorded runs.
    pub runs: usize,
    /// Successful runs.
    pub ok: usize,
    /// Runs whose peak memory was counted.
    pub peak_memory_counted: usize,
    /// Runs whose bytes read were counted.
    pub read_bytes_counted: usize,
    /// Runs whose major faults were counted.
    pub major_faults_counted: usize,
    /// Runs with some of the three counters and not all.
    pub partly_counted: usize,
    /// Create to exit or ready of the successful runs, ms.
    pub total_ms: Option<Description>,
    /// Create to exit or ready plus removing the container, ms (successful runs with both).
    pub total_with_remove_ms: Option<Description>,
}

impl RunsSummary {
    fn add(&mut self, run: &StartupRunRow) {
        self.runs += 1;
        self.ok += usize::from(run.ok);
        let counted = [
            run.peak_memory_bytes.is_some(),
            run.read_bytes.is_some(),
            run.major_faults.is_some(),
        ];
        self.peak_memory_counted += usize::from(counted[0]);
        self.read_bytes_counted += usize::from(counted[1]);
        self.major_faults_counted += usize::from(counted[2]);
        self.partly_counted +=
            usize::from(counted.iter().any(|c| *c) && !counted.iter().all(|c| *c));
    }

    fn describe(&mut self, runs: &[&StartupRunRow]) {
        let ok = || runs.iter().filter(|run| run.ok);
        let totals: Vec<f64> = ok().filter_map(|run| run.total_ms).collect();
        let removed: Vec<f64> = ok()
            .filter_map(|run| Some(run.total_ms? + run.remove_ms?))
            .collect();
        self.total_ms = describe(&totals);
        self.total_with_remove_ms = describe(&removed);
    }
}

/// Everything `r2r show` prints of a run directory.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The run directory.
    pub directory: PathBuf,
    /// `run.json` (absent in a directory of `measure ... --output`).
    pub run: Option<RunInfo>,
    /// `engine.json`, as written.
    pub engine: Option<serde_json::Value>,
    /// `build.json`: images built or up to date, of those recorded.
    pub builds: Tally,
    /// `verify.json`: images whose every check passed, of those checked.
    pub verify: Tally,
    /// `sizes.csv`.
    pub sizes: Vec<SizeRow>,
    /// `startup.csv`: the start-up summaries.
    pub startup: Vec<StartupRow>,
    /// `startup-runs.csv`, per image and cache mode.
    pub startup_runs: Vec<RunsSummary>,
    /// `startup-runs.csv`, all runs together.
    pub startup_runs_total: RunsSummary,
    /// `compare-baseline.csv`: the last comparison with a baseline run.
    pub compare_baseline: Vec<ChangeRow>,
}

/// Reads the view of a run directory.
pub fn view(directory: &Path) -> Result<RunView, ShowError> {
    if !directory.is_dir() {
        return Err(ShowError::NotADirectory {
            path: directory.to_path_buf(),
        });
    }
    let run = match run_record::load(directory, None) {
        Ok(info) => Some(info),
        Err(RunInfoError::Missing { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    let files = crate::results::RunDir::new(directory);
    let builds: Vec<ImageBuild> = read_json(&files.build_json())?.unwrap_or_default();
    let verifications: Vec<ImageVerification> =
        read_json(&files.verify_json())?.unwrap_or_default();
    let runs: Vec<StartupRunRow> = files.read_rows()?.unwrap_or_default();
    let mut groups: BTreeMap<(String, String), Vec<&StartupRunRow>> = BTreeMap::new();
    let mut total = RunsSummary::default();
    for run in &runs {
        groups
            .entry((run.image.clone(), run.cache.name().to_string()))
            .or_default()
            .push(run);
        total.add(run);
    }
    let startup_runs = groups
        .into_iter()
        .map(|((image, cache), runs)| {
            let mut summary = RunsSummary {
                app: runs[0].app.name().to_string(),
                image,
                cache,
                ..Default::default()
            };
            for run in &runs {
                summary.add(run);
            }
            summary.describe(&runs);
            summary
        })
        .collect();
    total.describe(&runs.iter().collect::<Vec<_>>());
    Ok(RunView {
        directory: directory.to_path_buf(),
        run,
        engine: read_json(&files.engine_json())?,
        builds: Tally {
            total: builds.len(),
            passed: builds
                .iter()
                .filter(|build| {
                    matches!(
                        build.status,
                        BuildStatus::Built { .. } | BuildStatus::UpToDate { .. }
                    )
                })
                .count(),
        },
        verify: Tally {
            total: verifications.len(),
            passed: verifications.iter().filter(|v| v.passed()).count(),
        },
        sizes: files.read_rows()?.unwrap_or_default(),
        startup: files.read_rows()?.unwrap_or_default(),
        startup_runs,
        startup_runs_total: total,
        compare_baseline: read_csv(&files.compare_baseline_csv(), &[])?.unwrap_or_default(),
    })
}

/// One field of a JSON value by a dotted path (`run.run_id`, `sizes.0.gzip_bytes`; an array
/// index is a number), printed for a shell: a string as it is, another scalar as JSON, an
/// array of scalars one a line, anything else as JSON. `None` when the path names nothing.
pub fn field(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let mut current = value;
    for part in path.split('.').filter(|part| !part.is_empty()) {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    let scalar = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(_) | Value::Object(_) => None,
        other => Some(other.to_string()),
    };
    Some(match current {
        Value::Array(items) if items.iter().all(|item| scalar(item).is_some()) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join("\n"),
        other => scalar(other).unwrap_or_else(|| {
            serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string())
        }),
    })
}

/// What `--json` or `--field PATH` prints of a JSON view: the whole view, pretty-printed, or
/// the one field ([`field`]).
pub fn select(value: &serde_json::Value, path: Option<&str>) -> Result<String, ShowError> {
    match path {
        None => Ok(format!("{value:#}")),
        Some(path) => field(value, path).ok_or_else(|| ShowError::NoField {
            field: path.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_match_known_values() {
        let d = describe(&[1.0, 2.0, 3.0, 4.0, 10.0]).unwrap();
        assert_eq!((d.count, d.mean, d.median), (5, 4.0, 3.0));
        assert_eq!((d.q1, d.q3, d.iqr), (2.0, 4.0, 2.0));
        // Deviations from 3: 2, 1, 0, 1, 7 -> median 1.
        assert_eq!(d.mad, 1.0);
        assert!((d.standard_deviation - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!((d.min, d.max), (1.0, 10.0));
        assert_eq!(describe(&[]), None);
        assert_eq!(describe(&[7.0]).unwrap().standard_deviation, 0.0);
        assert_eq!(parse_numbers("1\n2.5  3e1\n").unwrap(), [1.0, 2.5, 30.0]);
        let error = parse_numbers("1 x").unwrap_err();
        assert_eq!(error.to_string(), "'x' is not a number");
        assert_eq!(describe_text("2 4").unwrap().mean, 3.0);
        assert!(matches!(describe_text(" \n"), Err(ShowError::NoNumbers)));
    }

    #[test]
    fn a_recorded_run_is_viewed_and_its_fields_picked() {
        let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite");
        let view = view(&recorded).unwrap();
        assert_eq!(view.run.as_ref().unwrap().run_id, "20261124T203435Z");
        assert!(view.builds.total > 0 && view.builds.passed <= view.builds.total);
        assert!(!view.sizes.is_empty() && !view.startup.is_empty());
        let all: usize = view.startup_runs.iter().map(|group| group.runs).sum();
        assert_eq!(all, view.startup_runs_total.runs);
        let group = &view.startup_runs[0];
        let summary = view
            .startup
            .iter()
            .find(|row| {
                row.image == group.image && row.cache == group.cache && row.phase == "total"
            })
            .unwrap();
        let totals = group.total_ms.as_ref().unwrap();
        assert_eq!(totals.count as u64, summary.runs);
        assert!(
            (totals.mean - summary.mean_ms).abs() < 0.01,
            "{totals:?} {summary:?}"
        );

        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(field(&json, "run.run_id").unwrap(), "20261124T203435Z");
        assert_eq!(
            field(&json, "sizes.0.gzip_bytes").unwrap(),
            view.sizes[0].gzip_bytes.to_string()
        );
        assert_eq!(field(&json, "nothing.here"), None);
        assert!(field(&json, "builds").unwrap().contains("\"total\""));
        assert_eq!(
            select(&json, Some("run.run_id")).unwrap(),
            "20261124T203435Z"
        );
        assert!(select(&json, None).unwrap().starts_with("{\n"));
        assert!(matches!(
            select(&json, Some("no.such")),
            Err(ShowError::NoField { .. })
        ));
    }

    #[test]
    fn a_measurement_directory_has_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let view = view(dir.path()).unwrap();
        assert!(view.run.is_none() && view.sizes.is_empty());
        assert_eq!(view.startup_runs_total.runs, 0);
        assert!(matches!(
            super::view(&dir.path().join("missing")),
            Err(ShowError::NotADirectory { .. })
        ));
    }
}
