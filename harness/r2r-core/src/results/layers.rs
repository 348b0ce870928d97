//! `layers.csv`: every distinct layer of a run's images (the sizes step), one
//! [`LayerCsvRow`] per layer.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "layers.csv";

/// One row of `layers.csv`: one distinct layer (by chain id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCsvRow {
    /// `sha256:<hex>` identifying the layer together with every layer below it.
    pub chain_id: String,
    /// `sha256:<hex>` of the uncompressed layer tar.
    pub diff_id: String,
    /// The instruction that made the layer (from the image history; may be empty).
    pub created_by: String,
    /// Number of entries in the layer tar.
    pub entries: u64,
    /// The layer's file contents as the engine accounts them, bytes.
    pub content_bytes: u64,
    /// The uncompressed layer tar, bytes.
    pub tar_bytes: u64,
    /// The layer tar compressed with gzip level 6, bytes.
    pub gzip_bytes: u64,
    /// The layer tar compressed with zstd level 3, bytes.
    pub zstd_bytes: u64,
    /// The blob a registry stored, bytes (empty without `--registry`).
    pub registry_bytes: Option<u64>,
    /// Images containing the layer, `;`-joined.
    pub images: String,
}

impl CsvFile for LayerCsvRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &["chain_id", "diff_id", "tar_bytes", "images"];
}

impl crate::results::run_dir::RunDir {
    /// `layers.csv`.
    pub fn layers_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
