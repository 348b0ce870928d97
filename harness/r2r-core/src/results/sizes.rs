//! `sizes.csv`: the sizes of every image of a run (the sizes step), one [`SizeRow`] per image.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "sizes.csv";

/// One row of `sizes.csv`: the sizes of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeRow {
    /// Plan id of the image (or, measured from an archive, its first tag).
    pub image: String,
    /// The image reference measured.
    pub reference: String,
    /// Variants the image belongs to, `;`-joined (empty for an archive).
    pub variants: String,
    /// Role (`runtime-deps`, `runtime`, `aspnet`, `console`, `webapi`, `sdk`; empty for an
    /// archive).
    pub role: String,
    /// Number of layers.
    pub layers: u64,
    /// The engine's size of the image, bytes (empty when measured from an archive).
    pub engine_size_bytes: Option<u64>,
    /// Sum of the layers' file contents as the engine accounts them, bytes.
    pub content_bytes: u64,
    /// Sum of the uncompressed layer tars, bytes.
    pub tar_bytes: u64,
    /// Sum of the layer tars compressed with gzip level 6 (what a registry stores), bytes.
    pub gzip_bytes: u64,
    /// Sum of the layer tars compressed with zstd level 3, bytes.
    pub zstd_bytes: u64,
    /// Files a later layer overwrites or deletes (still stored and pulled), bytes.
    pub wasted_bytes: u64,
    /// Sum of the layer blobs a registry stored for the image, bytes (empty without
    /// `--registry`).
    pub registry_bytes: Option<u64>,
    /// Sum of the layer blobs as the engine keeps them compressed (Docker's containerd image
    /// store), bytes: exact, what the engine pushes; empty when the engine's export holds
    /// uncompressed tars (older files have no such column).
    #[serde(default)]
    pub engine_blob_bytes: Option<u64>,
    /// Their compression: `gzip`, `zstd` or `mixed`; empty with `engine_blob_bytes`.
    #[serde(default)]
    pub engine_blob_compression: String,
}

impl CsvFile for SizeRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &[
        "image",
        "variants",
        "role",
        "content_bytes",
        "gzip_bytes",
        "zstd_bytes",
    ];
}

impl crate::results::run_dir::RunDir {
    /// `sizes.csv`.
    pub fn sizes_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
