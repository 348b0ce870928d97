//! `load.csv` and `load-runs.csv`: the first seconds of a web app under a fixed load from a
//! load generator on 127.0.0.1, started the moment the app is ready — requests answered per
//! one-second bucket, and per run the latency percentiles and when throughput settled.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The per-second file's name in a run directory.
pub const FILE: &str = "load.csv";
/// The per-run file's name in a run directory.
pub const RUNS_FILE: &str = "load-runs.csv";

/// Requests answered in one second of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSecondRow {
    /// 1-based round; every image runs once per round, in a shuffled order.
    pub round: usize,
    /// The app's name in the scenario.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Its plan variants, `;`-joined.
    pub variants: String,
    /// The bucket: seconds since the app was seen ready (0 = the first second).
    pub second: usize,
    /// Responses received in the bucket, requests.
    pub requests: u64,
    /// Of them, responses with a status of 400 or more, requests.
    pub failed: u64,
}

impl CsvFile for LoadSecondRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &["round", "image", "second", "requests"];
}

/// One run under load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRunRow {
    /// 1-based round.
    pub round: usize,
    /// The app's name in the scenario.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Its plan variants, `;`-joined.
    pub variants: String,
    /// Length of the load, seconds.
    pub seconds: usize,
    /// Connections the load generator keeps open.
    pub connections: usize,
    /// Responses in the whole run, requests.
    pub requests: Option<u64>,
    /// Responses with a status of 400 or more, plus socket errors and time-outs, requests.
    pub failed: Option<u64>,
    /// Mean throughput over the first 5 seconds, requests per second.
    pub first_5s_rps: Option<f64>,
    /// Throughput at the end: the median of the last 10 full seconds (or the last half of a
    /// shorter run), requests per second.
    pub final_rps: Option<f64>,
    /// The first second at which the 3-second moving mean of throughput reaches 95% of
    /// `final_rps`, seconds since ready (empty: never).
    pub settle_s: Option<f64>,
    /// Median latency of the whole run, ms.
    pub latency_p50_ms: Option<f64>,
    /// 90th percentile latency, ms.
    pub latency_p90_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: Option<f64>,
    /// Slowest response, ms.
    pub latency_max_ms: Option<f64>,
    /// Why the run has no figures (empty when it has them).
    pub error: String,
}

impl CsvFile for LoadRunRow {
    const NAME: &'static str = RUNS_FILE;
    const REQUIRED: &'static [&'static str] = &["round", "image", "requests", "error"];
}

impl crate::results::run_dir::RunDir {
    /// `load.csv`.
    pub fn load_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }

    /// `load-runs.csv`.
    pub fn load_runs_csv(&self) -> std::path::PathBuf {
        self.path(RUNS_FILE)
    }
}
