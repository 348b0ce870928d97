//! `node.csv`: what a new node pays for each app image — the pull from a registry on
//! 127.0.0.1 (at full loopback speed or through a proxy at a chosen byte rate) into an engine
//! that holds nothing (or only the image's shared layers), then the start to ready and the
//! first response. One row per round, rate, node state and image.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "node.csv";

/// The node an image is pulled onto.
pub mod node_state {
    /// An engine that holds no image at all.
    pub const EMPTY: &str = "empty";
    /// An engine that already holds everything under the app's own layers (the frameworks
    /// and base another app of the same variant brought).
    pub const SHARED: &str = "shared";
}

/// One pull and start of one image on a new node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    /// 1-based round; every image is measured once per round, rate and node state, in a
    /// shuffled order.
    pub round: usize,
    /// The app's name in the scenario.
    pub app: String,
    /// Plan id of the image.
    pub image: String,
    /// Its plan variants, `;`-joined.
    pub variants: String,
    /// The rate's label: `loopback` (unlimited) or a rate such as `100mbit`.
    pub rate: String,
    /// The rate, bits per second; empty for `loopback`.
    pub rate_bits_per_second: Option<u64>,
    /// `empty` or `shared` (see [`node_state`]).
    pub node: String,
    /// Layers the engine downloaded.
    pub layers_pulled: Option<usize>,
    /// Layers the engine already held.
    pub layers_present: Option<usize>,
    /// Compressed bytes of the layers downloaded (their blob sizes in the registry), bytes.
    pub bytes_pulled: Option<u64>,
    /// The pull as the wall clock sees it, from the request to its end (transfer and unpack),
    /// seconds.
    pub pull_s: Option<f64>,
    /// From the pull's request to the last layer's "Download complete" as the engine reports
    /// it, seconds.
    pub download_s: Option<f64>,
    /// From the first "Extracting" to the last "Pull complete" as the engine reports it
    /// (unpacking, overlapping the downloads still running), seconds.
    pub extract_s: Option<f64>,
    /// From the container's create call to ready, ms.
    pub ready_ms: Option<f64>,
    /// The first request after ready (web apps), ms.
    pub first_response_ms: Option<f64>,
    /// Pull, start to ready and the first response together: what the node waits for, seconds.
    pub total_s: Option<f64>,
    /// Why the row has no figures (empty when it has them).
    pub error: String,
}

impl CsvFile for NodeRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &[
        "round", "app", "image", "rate", "node", "pull_s", "total_s", "error",
    ];
}

impl crate::results::run_dir::RunDir {
    /// `node.csv`.
    pub fn node_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
