//! `answer.csv`: the report's answer per app as data: every app image of the run against the
//! app as shipped (size, paired start-up, methods jitted), and which two a reader would pick.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "answer.csv";

/// One app image against its app as shipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRow {
    /// The app's name in the scenario.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Its plan variant (`aspnet-composite.tuned-webapi`; `;`-joined when several).
    pub variant: String,
    /// The composite recipe (`full` for the variant's own; empty for an image without a
    /// framework composite of its own).
    pub recipe: String,
    /// Whether this is the app as shipped (the baseline of every other row).
    pub as_shipped: bool,
    /// Compressed size (gzip of the layers, as a registry stores them), bytes; empty when
    /// sizes were not measured.
    pub gzip_bytes: Option<u64>,
    /// `gzip_bytes` over the as-shipped image's, ratio.
    pub gzip_ratio: Option<f64>,
    /// Median cold start to ready (and the first response, for a web app), ms.
    pub cold_median_ms: Option<f64>,
    /// Paired cold speed-up against as shipped (above 1: faster), times.
    pub cold_speedup: Option<f64>,
    /// Low end of its 95% interval, times.
    pub cold_ci95_low: Option<f64>,
    /// High end of its 95% interval, times.
    pub cold_ci95_high: Option<f64>,
    /// `faster`, `slower`, `no-difference`, `too-few-rounds`; empty for as shipped or when not timed.
    pub cold_verdict: String,
    /// Median warm start, ms.
    pub warm_median_ms: Option<f64>,
    /// Paired warm speed-up against as shipped, times.
    pub warm_speedup: Option<f64>,
    /// Low end of its 95% interval, times.
    pub warm_ci95_low: Option<f64>,
    /// High end of its 95% interval, times.
    pub warm_ci95_high: Option<f64>,
    /// As `cold_verdict`, warm.
    pub warm_verdict: String,
    /// Methods the JIT compiled before the app was ready (verify's count); empty where not counted.
    pub jitted_methods: Option<u64>,
    /// The slowest rate the image was pulled at onto an empty node (`node.csv`); empty
    /// without a node measurement.
    pub new_node_rate: String,
    /// Median time to the first response on an empty node at `new_node_rate` (pull, start,
    /// first response), seconds.
    pub new_node_s: Option<f64>,
    /// Paired speed-up of that time against as shipped (above 1: sooner), times.
    pub new_node_speedup: Option<f64>,
    /// Low end of its 95% interval, times.
    pub new_node_ci95_low: Option<f64>,
    /// High end of its 95% interval, times.
    pub new_node_ci95_high: Option<f64>,
    /// As `cold_verdict` (`faster`: sooner on a new node).
    pub new_node_verdict: String,
    /// Median throughput over the first 5 s under load, requests per second; empty without a
    /// load measurement.
    pub load_first_5s_rps: Option<f64>,
    /// Requests in the first 5 s against as shipped, paired by round (above 1: more), times.
    pub load_first_5s_ratio: Option<f64>,
    /// Low end of its 95% interval, times.
    pub load_ci95_low: Option<f64>,
    /// High end of its 95% interval, times.
    pub load_ci95_high: Option<f64>,
    /// As `cold_verdict` (`faster`: more requests).
    pub load_verdict: String,
    /// `smallest-not-slower`, `fastest`, both (`;`-joined), or empty.
    pub pick: String,
}

impl CsvFile for AnswerRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &["app", "image", "as_shipped", "pick"];
}

impl crate::results::run_dir::RunDir {
    /// `answer.csv`.
    pub fn answer_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
