//! The figures a layer and an image are described by, and what the tar reader learns of a
//! layer's files.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Figures of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFigures {
    /// `sha256:<hex>` of the uncompressed layer tar.
    pub diff_id: String,
    /// Size of the uncompressed layer tar, bytes (what is compressed for a registry).
    pub tar_bytes: u64,
    /// Size of the layer's files as the engine accounts it (regular files, plus symbolic link
    /// targets, hard links once), bytes.
    pub content_bytes: u64,
    /// Size of the layer tar compressed with gzip level 6, bytes.
    pub gzip_bytes: u64,
    /// Size of the layer tar compressed with zstd level 3, bytes.
    pub zstd_bytes: u64,
    /// Number of entries in the layer tar.
    pub entries: u64,
}

/// One layer as it stands in one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayer {
    /// `sha256:<hex>` identifying the layer together with every layer below it.
    pub chain_id: String,
    /// The layer's figures.
    pub figures: LayerFigures,
    /// The instruction that created it (from the image history), if known.
    pub created_by: String,
}

/// One file that a later layer replaces or deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WastedFile {
    /// Path in the image.
    pub path: String,
    /// Index of the layer that wrote it.
    pub layer: usize,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The layers of one image, bottom first, and what is wasted in them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAnalysis {
    /// The layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// Bytes of files that a later layer overwrites or deletes (still stored and pulled).
    pub wasted_bytes: u64,
    /// The largest wasted files (at most 20).
    pub wasted_files: Vec<WastedFile>,
}

impl ImageAnalysis {
    /// Sum of a figure over the layers.
    pub fn total(&self, figure: impl Fn(&LayerFigures) -> u64) -> u64 {
        self.layers.iter().map(|layer| figure(&layer.figures)).sum()
    }
}

/// The chain id of a layer on top of `parent` (`None` for the bottom layer).
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(parent) => format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("{parent} {diff_id}").as_bytes()))
        ),
    }
}

/// What the tar reader learned of one layer's files: what waste is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerFiles {
    /// Regular files and links written: path -> size.
    pub(crate) written: Vec<(String, u64)>,
    /// Paths whited out.
    pub(crate) whiteouts: Vec<String>,
    /// Directories made opaque.
    pub(crate) opaque: Vec<String>,
}
