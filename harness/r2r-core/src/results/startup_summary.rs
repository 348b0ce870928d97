//! `startup.csv`: the statistics of the start-up step, one [`SummaryRow`] per image, cache
//! mode and phase.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "startup.csv";

/// One row of `startup.csv`: statistics of one image, cache mode and phase (this struct
/// writes and reads it). Times in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Plan id of the image.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind (`console`, `webapi`).
    pub app: String,
    /// `cold` or `warm`.
    pub cache: String,
    /// Phase: `total`, `create`, `start_to_ready`, `first_request`, `time_to_main`,
    /// `start_to_exec`, `exec_to_main`, `main_to_ready`, `ready_seen`, `remove`.
    pub phase: String,
    /// Successful runs in the statistics (the n of every interval in the row).
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Sample standard deviation, ms.
    pub stddev_ms: f64,
    /// Standard error of the mean (sd / sqrt(runs)), ms.
    #[serde(default)]
    pub stderr_ms: f64,
    /// Median, ms.
    pub median_ms: f64,
    /// Minimum, ms.
    pub min_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Studentized bootstrap 95% interval of the mean, low end, ms.
    pub ci95_low_ms: f64,
    /// Studentized bootstrap 95% interval of the mean, high end, ms.
    pub ci95_high_ms: f64,
    /// Outliers flagged by the MAD rule (kept).
    pub outliers: u64,
    /// The baseline image.
    pub baseline: String,
    /// The baseline's successful runs in this cache mode and phase (the ratio's other n).
    #[serde(default)]
    pub baseline_runs: u64,
    /// Times faster than the baseline (ratio of means); 1 for the baseline itself.
    pub times_faster: f64,
    /// Standard error of `times_faster`; 0 for the baseline itself.
    pub times_faster_error: f64,
    /// Rounds with a successful run of both this image and the baseline (the n of the paired
    /// figures below); 0 for the baseline itself.
    #[serde(default)]
    pub paired_rounds: u64,
    /// Paired speed-up: geometric mean over rounds of baseline / this image, times (above 1:
    /// faster than the baseline); empty for the baseline itself or below 1 paired round.
    #[serde(default)]
    pub paired_speedup: Option<f64>,
    /// Low end of the paired speed-up's 95% interval (bootstrap-t over rounds), times;
    /// empty below 2 paired rounds.
    #[serde(default)]
    pub paired_ci95_low: Option<f64>,
    /// High end of the paired speed-up's 95% interval, times; empty below 2 paired rounds.
    #[serde(default)]
    pub paired_ci95_high: Option<f64>,
    /// Half-width of that interval relative to the speed-up, percent (the precision
    /// reached); empty below 2 paired rounds.
    #[serde(default)]
    pub paired_half_width_pct: Option<f64>,
    /// Two-sided p-value of Wilcoxon's signed-rank test of the per-round log ratios
    /// (probability, 0-1); empty below 2 paired rounds.
    #[serde(default)]
    pub paired_p_value: Option<f64>,
    /// Minimal detectable effect: the smallest speed-up a paired test at the 5% level finds
    /// with 80% power for this spread and these rounds, percent; empty below 2 paired rounds.
    #[serde(default)]
    pub paired_mde_pct: Option<f64>,
    /// What the paired interval says: `faster`, `slower`, `no-difference`,
    /// `too-few-rounds`; empty for the baseline itself.
    #[serde(default)]
    pub paired_verdict: String,
    /// The paired comparison for people: "1.060× faster (95% CI 1.030–1.090, n = 30)" or
    /// "no difference resolved (±4.0%, n = 10)"; empty for the baseline itself.
    #[serde(default)]
    pub paired_text: String,
    /// Mean bytes read from block devices per run of this image and cache mode (the same on
    /// every phase row); empty where not counted.
    #[serde(default)]
    pub read_bytes_mean: Option<f64>,
    /// Mean major page faults per run (count); empty where not counted.
    #[serde(default)]
    pub major_faults_mean: Option<f64>,
    /// Mean peak memory per run, bytes; empty where not counted.
    #[serde(default)]
    pub peak_memory_bytes_mean: Option<f64>,
}

/// Columns of `startup.csv` that readers need.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "image",
    "app",
    "cache",
    "phase",
    "runs",
    "median_ms",
    "mean_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "times_faster",
];

impl CsvFile for SummaryRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = SUMMARY_COLUMNS;
}

impl crate::results::run_dir::RunDir {
    /// `startup.csv`.
    pub fn startup_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{csv_rows as rows, RunDir};

    fn row() -> SummaryRow {
        SummaryRow {
            image: "aspnet-composite.webapi".into(),
            variants: "aspnet-composite".into(),
            app: "webapi".into(),
            cache: "warm".into(),
            phase: "total".into(),
            runs: 10,
            failures: 0,
            mean_ms: 212.5,
            stddev_ms: 4.25,
            stderr_ms: 1.344,
            median_ms: 211.0,
            min_ms: 205.125,
            max_ms: 220.0,
            p95_ms: 219.5,
            ci95_low_ms: 209.75,
            ci95_high_ms: 215.25,
            outliers: 1,
            baseline: "no-composite.webapi".into(),
            baseline_runs: 10,
            times_faster: 1.0612,
            times_faster_error: 0.0101,
            paired_rounds: 10,
            paired_speedup: Some(1.0598),
            paired_ci95_low: Some(1.041),
            paired_ci95_high: Some(1.0788),
            paired_half_width_pct: Some(1.774),
            paired_p_value: Some(0.00195),
            paired_mde_pct: Some(1.2),
            paired_verdict: "faster".into(),
            paired_text: "1.060× faster (95% CI 1.041–1.079, n = 10)".into(),
            read_bytes_mean: None,
            major_faults_mean: Some(27.5),
            peak_memory_bytes_mean: Some(41_099_264.0),
        }
    }

    #[test]
    fn rows_round_trip_through_the_run_directory_with_the_header_of_the_type() {
        let directory = tempfile::tempdir().unwrap();
        let run = RunDir::new(directory.path());
        let rows = vec![
            row(),
            SummaryRow {
                image: "no-composite.webapi".into(),
                paired_speedup: None,
                paired_verdict: String::new(),
                paired_text: String::new(),
                ..row()
            },
        ];
        run.write_rows(&rows).unwrap();
        let text = std::fs::read_to_string(run.startup_csv()).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            rows::header::<SummaryRow>().join(",")
        );
        assert_eq!(run.read_rows::<SummaryRow>().unwrap().unwrap(), rows);
        // A file without the newer columns still reads; they take their defaults.
        std::fs::write(
            run.startup_csv(),
            "image,variants,app,cache,phase,runs,failures,mean_ms,stddev_ms,median_ms,min_ms,max_ms,p95_ms,ci95_low_ms,ci95_high_ms,outliers,baseline,times_faster,times_faster_error\n\
             a,a,console,cold,total,3,0,1,0,1,1,1,1,1,1,0,a,1,0\n",
        )
        .unwrap();
        let old = run.read_rows::<SummaryRow>().unwrap().unwrap();
        assert_eq!((old[0].paired_rounds, old[0].read_bytes_mean), (0, None));
        // A file without a column readers need is refused, naming it.
        std::fs::write(run.startup_csv(), "image,app\na,console\n").unwrap();
        let error = run.read_rows::<SummaryRow>().unwrap_err().to_string();
        assert!(error.contains("missing column(s) cache, phase"), "{error}");
    }
}
