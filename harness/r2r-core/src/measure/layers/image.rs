//! An archive's images from their layers' measurements: each layer with its chain id and the
//! instruction that made it, and the bytes later layers hide.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use super::figures::{chain_id, ImageAnalysis, ImageLayer, WastedFile};
use super::reading::measure_layers;
use super::SPOOL_LIMIT_BYTES;
use crate::inspect::archive::{ArchiveError, StoredBlob};
use crate::measure::cache::{LayerMeasurement, MeasurementCache};

#[derive(Deserialize, Default)]
struct HistoryEntry {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    history: Vec<HistoryEntry>,
    #[serde(default)]
    rootfs: RootFs,
}

/// The layer diff ids an image config lists (`rootfs.diff_ids`), bottom first; empty when
/// the config is unreadable.
pub(crate) fn config_diff_ids(config: &[u8]) -> Vec<String> {
    serde_json::from_slice::<ImageConfig>(config)
        .map(|config| config.rootfs.diff_ids)
        .unwrap_or_default()
}

/// One image of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveImage {
    /// The tags the archive gives the image (`RepoTags`).
    pub tags: Vec<String>,
    /// Its analysis.
    pub analysis: ImageAnalysis,
    /// Per layer, bottom first: how the archive stores its blob (compressed or not, its
    /// stored size).
    pub stored: Vec<Option<StoredBlob>>,
}

/// Measures every image of an archive. A layer that several images share (as in
/// `docker save a b c`) is read and compressed once.
pub fn analyze_archive(reader: impl Read) -> Result<Vec<ArchiveImage>, ArchiveError> {
    Ok(analyze_archive_cached(reader, None, true)?
        .into_iter()
        .map(|(image, _)| image)
        .collect())
}

/// An image of an archive with its config as the archive holds it (if it does).
pub(crate) type ImageWithConfig = (ArchiveImage, Option<Vec<u8>>);

/// As [`analyze_archive`], with layers measured before taken from `cache` and new ones kept
/// in it; each image comes with its config as the archive holds it. `eager`: compress layers
/// as they are read even when their diff id is known only at their end (the cache holds none
/// of the archive's layers, most likely).
pub(crate) fn analyze_archive_cached(
    reader: impl Read,
    cache: Option<&MeasurementCache>,
    eager: bool,
) -> Result<Vec<ImageWithConfig>, ArchiveError> {
    let (index, measured) = measure_layers(reader, cache, eager, SPOOL_LIMIT_BYTES)?;
    index
        .manifest
        .iter()
        .map(|image| {
            let layers = image
                .layers
                .iter()
                .map(|path| {
                    measured
                        .get(index.resolve(path)?)
                        .ok_or_else(|| index.missing_layer(path))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let stored = image
                .layers
                .iter()
                .map(|path| {
                    let path = index.resolve(path).ok()?;
                    index.blobs.get(path).copied()
                })
                .collect();
            let config = index.configs.get(&image.config);
            let analysis = analyze_image(config.map(Vec::as_slice), &layers);
            Ok((
                ArchiveImage {
                    tags: image.tags.clone(),
                    analysis,
                    stored,
                },
                config.cloned(),
            ))
        })
        .collect()
}

/// The analysis of an image from its config (for the instructions; `None` or unreadable:
/// none) and its layers' measurements, bottom first.
pub(crate) fn analyze_image(config: Option<&[u8]>, layers: &[&LayerMeasurement]) -> ImageAnalysis {
    let config: ImageConfig = config
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default();
    let instructions: Vec<String> = config
        .history
        .into_iter()
        .filter(|entry| !entry.empty_layer)
        .map(|entry| entry.created_by)
        .collect();

    let mut analysis = ImageAnalysis {
        layers: Vec::new(),
        wasted_bytes: 0,
        wasted_files: Vec::new(),
    };
    let mut present: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut wasted: Vec<WastedFile> = Vec::new();
    let mut parent: Option<String> = None;
    for (index, measurement) in layers.iter().enumerate() {
        let (figures, files) = (&measurement.figures, &measurement.files);
        let figures = figures.clone();
        // Waste: what this layer hides of the layers below.
        let mut hide = |prefix_or_path: &str, whole_directory: bool| {
            let hidden: Vec<String> = if whole_directory {
                let prefix = format!("{prefix_or_path}/");
                present
                    .range(prefix.clone()..)
                    .take_while(|(path, _)| path.starts_with(&prefix))
                    .map(|(path, _)| path.clone())
                    .collect()
            } else {
                let prefix = format!("{prefix_or_path}/");
                let mut paths: Vec<String> = present
                    .range(prefix.clone()..)
                    .take_while(|(path, _)| path.starts_with(&prefix))
                    .map(|(path, _)| path.clone())
                    .collect();
                if present.contains_key(prefix_or_path) {
                    paths.push(prefix_or_path.to_string());
                }
                paths
            };
            for path in hidden {
                if let Some((layer, bytes)) = present.remove(&path) {
                    if bytes > 0 {
                        wasted.push(WastedFile { path, layer, bytes });
                    }
                }
            }
        };
        for directory in &files.opaque {
            hide(directory, true);
        }
        for path in &files.whiteouts {
            hide(path, false);
        }
        for (path, bytes) in &files.written {
            if let Some((layer, old)) = present.insert(path.clone(), (index, *bytes)) {
                if old > 0 {
                    wasted.push(WastedFile {
                        path: path.clone(),
                        layer,
                        bytes: old,
                    });
                }
            }
        }
        let chain = chain_id(parent.as_deref(), &figures.diff_id);
        parent = Some(chain.clone());
        analysis.layers.push(ImageLayer {
            chain_id: chain,
            figures,
            created_by: instructions.get(index).cloned().unwrap_or_default(),
        });
    }
    analysis.wasted_bytes = wasted.iter().map(|file| file.bytes).sum();
    wasted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    wasted.truncate(20);
    analysis.wasted_files = wasted;
    analysis
}
