//! `sharing.csv`: how the images of each set share layers (the sizes step), one
//! [`SharingRow`] per image of a set.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "sharing.csv";

/// One row of `sharing.csv`: one image of a set, with the set's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingRow {
    /// The set: a variant name or `all`.
    pub set: String,
    /// Which figure the bytes are of: `content` or `gzip`.
    pub figure: String,
    /// Plan id of the image.
    pub image: String,
    /// The image's size, bytes.
    pub total_bytes: u64,
    /// Layers (by chain id) no other image of the set has, bytes.
    pub owned_bytes: u64,
    /// Layers at least one other image of the set has, bytes.
    pub shared_bytes: u64,
    /// Sum of the set's images as separate images, bytes.
    pub set_sum_bytes: u64,
    /// The set stored once (union of its layers by chain id), bytes.
    pub set_stored_once_bytes: u64,
    /// `set_sum_bytes - set_stored_once_bytes`, bytes.
    pub set_saved_bytes: u64,
}

impl CsvFile for SharingRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &[
        "set",
        "figure",
        "image",
        "total_bytes",
        "owned_bytes",
        "shared_bytes",
    ];
}

impl crate::results::run_dir::RunDir {
    /// `sharing.csv`.
    pub fn sharing_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}
