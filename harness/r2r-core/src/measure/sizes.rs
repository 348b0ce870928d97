//! The sizes step: every image of a scenario measured from one streamed export (layers shared
//! by several images are read once), set sharing per variant and over the scenario, the
//! engine's own size for each image beside ours, and optionally what a real registry stores.
//! Written as `sizes.csv`, `layers.csv`, `sharing.csv` and the `sizes` key of `summary.json`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::inspect::archive::{ArchiveError, BlobCompression, ExportError, StoredBlob};
use crate::measure::layers::{self, ArchiveImage, ImageAnalysis, LayerFigures, SetSharing};
use crate::measure::registry;
use crate::model::plan::Plan;
use crate::results::files;
use crate::results::rows::{self, LayerCsvRow, SharingRow, SizeRow};

/// Sizes of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSizes {
    /// Plan id (or the archive's tag).
    pub image: String,
    /// The reference measured.
    pub reference: String,
    /// Variants it belongs to (`;`-separated in CSV).
    pub variants: Vec<String>,
    /// Role.
    pub role: String,
    /// Number of layers.
    pub layers: usize,
    /// The engine's size of the image, bytes (absent when measured from an archive).
    pub engine_size_bytes: Option<u64>,
    /// Sum of layer contents as the engine accounts them, bytes.
    pub content_bytes: u64,
    /// Sum of uncompressed layer tars, bytes.
    pub tar_bytes: u64,
    /// Sum of gzip level 6 layers (a registry's compressed size), bytes.
    pub gzip_bytes: u64,
    /// Sum of zstd level 3 layers, bytes.
    pub zstd_bytes: u64,
    /// Bytes of files a later layer overwrites or deletes, bytes.
    pub wasted_bytes: u64,
    /// Sum of the layer blobs a registry stored for the image, bytes (with `--registry`).
    pub registry_bytes: Option<u64>,
    /// Sum of the layer blobs as the engine keeps them, when it keeps every one compressed
    /// (Docker's containerd image store: gzip), bytes: exactly what it pushes. Absent when
    /// its export holds uncompressed tars: then `gzip_bytes` is the estimate.
    #[serde(default)]
    pub engine_blob_bytes: Option<u64>,
    /// How those blobs are compressed: `gzip`, `zstd` or `mixed`; empty when absent.
    #[serde(default)]
    pub engine_blob_compression: String,
}

/// One layer (in the context of the layers below it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Chain id.
    pub chain_id: String,
    /// Diff id.
    pub diff_id: String,
    /// The instruction that made it.
    pub created_by: String,
    /// The layer's figures (bytes).
    #[serde(flatten)]
    pub figures: LayerFigures,
    /// Size of the blob a registry stored, bytes (with `--registry`).
    pub registry_bytes: Option<u64>,
    /// Images containing this layer.
    pub images: Vec<String>,
}

/// Why an image was not measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmeasured {
    /// The image.
    pub image: String,
    /// Why.
    pub reason: String,
}

/// The sizes step's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeReport {
    /// Scenario name (or `archive`).
    pub scenario: String,
    /// Per image.
    pub images: Vec<ImageSizes>,
    /// Per distinct layer.
    pub layers: Vec<LayerRow>,
    /// Sharing within each variant's images and over all images, by content and gzip bytes.
    pub sets: Vec<SetSharing>,
    /// Images that could not be measured, with the reason.
    pub unmeasured: Vec<Unmeasured>,
    /// The registry used for the cross-check, if any.
    pub registry: Option<String>,
    /// Problems of the registry cross-check (the estimates stand without it).
    pub registry_errors: Vec<String>,
}

/// A measured image with its plan facts.
struct Measured {
    image: String,
    reference: String,
    variants: Vec<String>,
    role: String,
    engine_size: Option<u64>,
    analysis: ImageAnalysis,
    registry: Option<Vec<registry::StoredLayer>>,
    /// How the export stored each layer, bottom first.
    stored: Vec<Option<StoredBlob>>,
}

/// The engine's own compressed size of an image's layers: `(bytes, compression)` when every
/// layer blob of the export is compressed, `None` otherwise.
fn engine_blobs(stored: &[Option<StoredBlob>]) -> Option<(u64, String)> {
    let blobs: Vec<StoredBlob> = stored.iter().copied().collect::<Option<_>>()?;
    if blobs.is_empty()
        || blobs
            .iter()
            .any(|blob| blob.compression == BlobCompression::None)
    {
        return None;
    }
    let first = blobs[0].compression;
    let compression = if blobs.iter().all(|blob| blob.compression == first) {
        first.name()
    } else {
        "mixed"
    };
    Some((
        blobs.iter().map(|blob| blob.stored_bytes).sum(),
        compression.to_string(),
    ))
}

/// Why images could not be measured at all (a single missing image is [`Unmeasured`]).
#[derive(Debug, thiserror::Error)]
pub enum SizesError {
    /// The engine's export of the images failed or could not be read.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// An archive file could not be opened.
    #[error("{path}: {cause}")]
    Open {
        /// The archive file.
        path: PathBuf,
        /// The cause (in the message).
        cause: std::io::Error,
    },
    /// An archive file is not a readable image archive.
    #[error("{path}: {cause}")]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// What is wrong with it (in the message).
        cause: ArchiveError,
    },
}

/// Reads an archive stream (a blocking reader) into per-image analyses.
pub fn analyze_reader(reader: impl std::io::Read) -> Result<Vec<ArchiveImage>, ArchiveError> {
    layers::analyze_archive(reader)
}

/// Measures every image of a plan that exists on the engine.
pub async fn measure_plan(
    engine: &dyn Engine,
    plan: &Plan,
    registry_address: Option<SocketAddr>,
) -> Result<SizeReport, SizesError> {
    let mut unmeasured = Vec::new();
    let mut present = Vec::new();
    for image in &plan.images {
        match engine.inspect_image(image.reference()).await {
            Ok(Some(details)) => present.push((image, details)),
            Ok(None) => unmeasured.push(Unmeasured {
                image: image.id.clone(),
                reason: format!(
                    "{} is not on the engine (build it first)",
                    image.reference()
                ),
            }),
            Err(error) => unmeasured.push(Unmeasured {
                image: image.id.clone(),
                reason: error.to_string(),
            }),
        }
    }
    let references: Vec<String> = present
        .iter()
        .map(|(image, _)| image.reference().to_string())
        .collect();
    let analyses: Vec<ArchiveImage> = if references.is_empty() {
        Vec::new()
    } else {
        crate::inspect::archive::parse_export(engine, &references, analyze_reader).await?
    };
    let mut by_tag: HashMap<String, ImageAnalysis> = HashMap::new();
    let mut stored_by_tag: HashMap<String, Vec<Option<StoredBlob>>> = HashMap::new();
    for archive_image in analyses {
        for tag in archive_image.tags {
            // As the engine names it: podman's `localhost/r2r/...` is the plan's `r2r/...`.
            let tag = crate::inspect::archive::familiar_reference(&tag).to_string();
            stored_by_tag.insert(tag.clone(), archive_image.stored.clone());
            by_tag.insert(tag, archive_image.analysis.clone());
        }
    }
    let mut registry_errors = Vec::new();
    if let Some(address) = registry_address {
        if let Err(error) = registry::check(address).await {
            registry_errors.push(error.to_string());
        }
    }
    let mut measured = Vec::new();
    for (image, details) in present {
        let familiar = crate::inspect::archive::familiar_reference(image.reference());
        let Some(analysis) = by_tag.get(familiar).cloned() else {
            unmeasured.push(Unmeasured {
                image: image.id.clone(),
                reason: "not found in the exported archive".into(),
            });
            continue;
        };
        let registry = match registry_address {
            Some(address) if registry_errors.is_empty() => {
                let repository = format!("r2r-size/{}", plan.scenario.name);
                let tag = image.id.replace('.', "-");
                match registry::push_and_read(engine, address, &details.id, &repository, &tag).await
                {
                    Ok(layers) => Some(layers),
                    Err(error) => {
                        registry_errors.push(format!("{}: {error}", image.id));
                        None
                    }
                }
            }
            _ => None,
        };
        measured.push(Measured {
            image: image.id.clone(),
            reference: image.reference().to_string(),
            variants: image.variants.clone(),
            role: image.role.clone(),
            engine_size: Some(details.size_bytes),
            analysis,
            registry,
            stored: stored_by_tag.get(familiar).cloned().unwrap_or_default(),
        });
    }
    let mut sets: Vec<(String, Vec<usize>)> = plan
        .scenario
        .variants
        .iter()
        .map(|variant| {
            (
                variant.clone(),
                measured
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.variants.contains(variant))
                    .map(|(i, _)| i)
                    .collect(),
            )
        })
        .collect();
    sets.push(("all".to_string(), (0..measured.len()).collect()));
    let mut report = assemble(&plan.scenario.name, measured, &sets);
    report.unmeasured = unmeasured;
    report.registry = registry_address.map(|address| address.to_string());
    report.registry_errors = registry_errors;
    Ok(report)
}

/// Measures the images of an archive file (no engine needed).
pub fn measure_archive(path: &Path) -> Result<SizeReport, SizesError> {
    let file = std::fs::File::open(path).map_err(|cause| SizesError::Open {
        path: path.to_path_buf(),
        cause,
    })?;
    let images =
        analyze_reader(std::io::BufReader::with_capacity(1 << 20, file)).map_err(|cause| {
            SizesError::Archive {
                path: path.to_path_buf(),
                cause,
            }
        })?;
    let measured: Vec<Measured> = images
        .into_iter()
        .enumerate()
        .map(|(index, image)| {
            let name = image
                .tags
                .first()
                .cloned()
                .unwrap_or_else(|| format!("image-{}", index + 1));
            Measured {
                image: name.clone(),
                reference: name,
                variants: Vec::new(),
                role: String::new(),
                engine_size: None,
                analysis: image.analysis,
                registry: None,
                stored: image.stored,
            }
        })
        .collect();
    let sets = vec![("all".to_string(), (0..measured.len()).collect())];
    Ok(assemble("archive", measured, &sets))
}

fn assemble(scenario: &str, measured: Vec<Measured>, sets: &[(String, Vec<usize>)]) -> SizeReport {
    let mut layers: BTreeMap<String, LayerRow> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let images = measured
        .iter()
        .map(|m| {
            let stored: Option<u64> = m
                .registry
                .as_ref()
                .map(|layers| layers.iter().map(|layer| layer.size_bytes).sum());
            for (index, layer) in m.analysis.layers.iter().enumerate() {
                let registry_bytes = m
                    .registry
                    .as_ref()
                    .and_then(|stored| stored.get(index))
                    .map(|stored| stored.size_bytes);
                let row = layers.entry(layer.chain_id.clone()).or_insert_with(|| {
                    order.push(layer.chain_id.clone());
                    LayerRow {
                        chain_id: layer.chain_id.clone(),
                        diff_id: layer.figures.diff_id.clone(),
                        created_by: layer.created_by.clone(),
                        figures: layer.figures.clone(),
                        registry_bytes: None,
                        images: Vec::new(),
                    }
                });
                row.registry_bytes = row.registry_bytes.or(registry_bytes);
                row.images.push(m.image.clone());
            }
            let engine_blobs = engine_blobs(&m.stored);
            ImageSizes {
                image: m.image.clone(),
                reference: m.reference.clone(),
                variants: m.variants.clone(),
                role: m.role.clone(),
                layers: m.analysis.layers.len(),
                engine_size_bytes: m.engine_size,
                content_bytes: m.analysis.total(|f| f.content_bytes),
                tar_bytes: m.analysis.total(|f| f.tar_bytes),
                gzip_bytes: m.analysis.total(|f| f.gzip_bytes),
                zstd_bytes: m.analysis.total(|f| f.zstd_bytes),
                wasted_bytes: m.analysis.wasted_bytes,
                registry_bytes: stored,
                engine_blob_bytes: engine_blobs.as_ref().map(|(bytes, _)| *bytes),
                engine_blob_compression: engine_blobs.map(|(_, name)| name).unwrap_or_default(),
            }
        })
        .collect();
    let mut set_results = Vec::new();
    for (name, members) in sets {
        let chosen: Vec<(String, &ImageAnalysis)> = members
            .iter()
            .map(|&i| (measured[i].image.clone(), &measured[i].analysis))
            .collect();
        set_results.push(layers::sharing(
            name,
            "content",
            |f| f.content_bytes,
            &chosen,
        ));
        set_results.push(layers::sharing(name, "gzip", |f| f.gzip_bytes, &chosen));
    }
    SizeReport {
        scenario: scenario.to_string(),
        images,
        layers: order
            .into_iter()
            .filter_map(|chain| layers.remove(&chain))
            .collect(),
        sets: set_results,
        unmeasured: Vec::new(),
        registry: None,
        registry_errors: Vec::new(),
    }
}

impl From<&ImageSizes> for SizeRow {
    fn from(image: &ImageSizes) -> SizeRow {
        SizeRow {
            image: image.image.clone(),
            reference: image.reference.clone(),
            variants: image.variants.join(";"),
            role: image.role.clone(),
            layers: image.layers as u64,
            engine_size_bytes: image.engine_size_bytes,
            content_bytes: image.content_bytes,
            tar_bytes: image.tar_bytes,
            gzip_bytes: image.gzip_bytes,
            zstd_bytes: image.zstd_bytes,
            wasted_bytes: image.wasted_bytes,
            registry_bytes: image.registry_bytes,
            engine_blob_bytes: image.engine_blob_bytes,
            engine_blob_compression: image.engine_blob_compression.clone(),
        }
    }
}

impl From<&LayerRow> for LayerCsvRow {
    fn from(layer: &LayerRow) -> LayerCsvRow {
        LayerCsvRow {
            chain_id: layer.chain_id.clone(),
            diff_id: layer.diff_id.clone(),
            created_by: layer.created_by.clone(),
            entries: layer.figures.entries,
            content_bytes: layer.figures.content_bytes,
            tar_bytes: layer.figures.tar_bytes,
            gzip_bytes: layer.figures.gzip_bytes,
            zstd_bytes: layer.figures.zstd_bytes,
            registry_bytes: layer.registry_bytes,
            images: layer.images.join(";"),
        }
    }
}

/// The rows of `sharing.csv` of one set: one per member, each with the set's totals.
fn sharing_rows(set: &SetSharing) -> impl Iterator<Item = SharingRow> + '_ {
    set.members.iter().map(|member| SharingRow {
        set: set.set.clone(),
        figure: set.figure.clone(),
        image: member.image.clone(),
        total_bytes: member.total_bytes,
        owned_bytes: member.owned_bytes,
        shared_bytes: member.shared_bytes,
        set_sum_bytes: set.sum_bytes,
        set_stored_once_bytes: set.stored_once_bytes,
        set_saved_bytes: set.saved_bytes,
    })
}

/// `sizes.csv`: one [`SizeRow`] per image.
pub fn sizes_csv(report: &SizeReport) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<SizeRow> = report.images.iter().map(SizeRow::from).collect();
    rows::to_csv(&rows)
}

/// `layers.csv`: one [`LayerCsvRow`] per distinct layer.
pub fn layers_csv(report: &SizeReport) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<LayerCsvRow> = report.layers.iter().map(LayerCsvRow::from).collect();
    rows::to_csv(&rows)
}

/// `sharing.csv`: one [`SharingRow`] per image of each set, with the set's totals.
pub fn sharing_csv(report: &SizeReport) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<SharingRow> = report.sets.iter().flat_map(sharing_rows).collect();
    rows::to_csv(&rows)
}

/// Writes the report's files into `directory` (each written whole, then renamed).
pub fn write(report: &SizeReport, directory: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(directory)?;
    let files: [(&str, Vec<u8>); 3] = [
        (
            "sizes.csv",
            sizes_csv(report).map_err(std::io::Error::other)?,
        ),
        (
            "layers.csv",
            layers_csv(report).map_err(std::io::Error::other)?,
        ),
        (
            "sharing.csv",
            sharing_csv(report).map_err(std::io::Error::other)?,
        ),
    ];
    for (name, bytes) in files {
        files::write_atomically(&directory.join(name), &bytes)?;
    }
    files::update_summary(
        directory,
        "sizes",
        serde_json::to_value(report).map_err(std::io::Error::other)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_blob_size_is_given_only_when_every_layer_is_kept_compressed() {
        let blob = |compression, stored_bytes| {
            Some(StoredBlob {
                compression,
                stored_bytes,
                digest_checked: true,
            })
        };
        let gzip = BlobCompression::Gzip;
        assert_eq!(
            engine_blobs(&[blob(gzip, 10), blob(gzip, 5)]),
            Some((15, "gzip".to_string()))
        );
        assert_eq!(
            engine_blobs(&[blob(gzip, 10), blob(BlobCompression::Zstd, 5)]),
            Some((15, "mixed".to_string()))
        );
        // One uncompressed or unknown layer: the engine's own figure is not known exactly.
        assert_eq!(
            engine_blobs(&[blob(gzip, 10), blob(BlobCompression::None, 5)]),
            None
        );
        assert_eq!(engine_blobs(&[blob(gzip, 10), None]), None);
        assert_eq!(engine_blobs(&[]), None);
    }

    #[test]
    fn archive_errors_name_the_file_and_keep_their_cause() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.tar");
        let error = measure_archive(&missing).unwrap_err();
        assert!(
            matches!(&error, SizesError::Open { path, cause } if path == &missing && cause.kind() == std::io::ErrorKind::NotFound),
            "{error:?}"
        );
        assert!(error
            .to_string()
            .starts_with(&missing.display().to_string()));

        let garbage = directory.path().join("garbage.tar");
        std::fs::write(&garbage, b"not an archive").unwrap();
        let error = measure_archive(&garbage).unwrap_err();
        assert!(
            matches!(&error, SizesError::Archive { path, cause: ArchiveError::Read { .. } } if path == &garbage),
            "{error:?}"
        );
    }
}
