//! The sizes step: every image of a scenario measured from one streamed export (layers shared
//! by several images are read once), set sharing per variant and over the scenario, the
//! engine's own size for each image beside ours, and optionally what a real registry stores.
//! Written as `sizes.csv`, `layers.csv`, `sharing.csv` and the `sizes` key of `summary.json`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::{ImageDetails, Images};
use crate::inspect::archive::{
    AnalysedImage, ArchiveError, BlobCompression, ExportError, StoredBlob,
};
use crate::measure::anatomy::{self, AnatomyRow};
use crate::measure::cache::{LayerMeasurement, MeasurementCache};
use crate::measure::layers::{self, ArchiveImage, ImageAnalysis, LayerFigures, SetSharing};
use crate::measure::registry;
use crate::model::plan::Plan;
use crate::results::layers::LayerCsvRow;
use crate::results::rows;
use crate::results::sharing::SharingRow;
use crate::results::sizes::SizeRow;
use crate::results::{summary_file, RunDir};

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
    /// Per image: the rows of `sizes.csv` (in `summary.json` each with its variants as a
    /// list).
    #[serde(with = "images_json")]
    pub images: Vec<SizeRow>,
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
    engine: &dyn Images,
    plan: &Plan,
    registry_address: Option<SocketAddr>,
) -> Result<SizeReport, SizesError> {
    measure_plan_cached(engine, plan, registry_address, None).await
}

/// The analysis of an image from `cache` alone: its config and how the export stored its
/// layers (both under its image id), and every layer the engine lists for it. `None` when something is missing, or when the config lists
/// other layers than the engine (then with a warning).
/// `read` holds the entries read so far (images share layers).
fn cached_image(
    cache: &MeasurementCache,
    details: &ImageDetails,
    read: &mut HashMap<String, Option<LayerMeasurement>>,
) -> Option<(ImageAnalysis, Vec<Option<StoredBlob>>)> {
    let config = cache.image_config(&details.id)?;
    let stored = cache.image_stored(&details.id)?;
    let Ok(stored) = serde_json::from_slice::<Vec<Option<StoredBlob>>>(&stored) else {
        cache.reject_entry("stored", &details.id, "it is not a list of stored blobs");
        return None;
    };
    if layers::config_diff_ids(&config) != details.layers {
        cache.reject_entry(
            "images",
            &details.id,
            "its config lists other layers than the engine reports",
        );
        return None;
    }
    for diff_id in &details.layers {
        if !read.contains_key(diff_id) {
            read.insert(diff_id.clone(), cache.layer(diff_id));
        }
    }
    let measured: Vec<&LayerMeasurement> = details
        .layers
        .iter()
        .map(|diff_id| read[diff_id].as_ref())
        .collect::<Option<_>>()?;
    Some((layers::analyze_image(Some(&config), &measured), stored))
}

/// As [`measure_plan`], with a cache of layer measurements: an image whose config and layers
/// are all in `cache` is not exported at all; the others are exported together, and of their
/// layers only those the cache lacks are compressed (and then kept in it). The figures are
/// the same with or without the cache, warm or cold.
pub async fn measure_plan_cached(
    engine: &dyn Images,
    plan: &Plan,
    registry_address: Option<SocketAddr>,
    cache: Option<Arc<MeasurementCache>>,
) -> Result<SizeReport, SizesError> {
    Ok(measure(engine, plan, registry_address, cache, false)
        .await?
        .0)
}

/// As [`measure_plan_cached`], and the anatomy of the same images (`anatomy.csv`'s rows, as
/// [`anatomy::measure_plan_cached`] gives them) from the same export: one stream read by
/// both analyses side by side. Only images that one of them lacks in `cache` are exported.
pub async fn measure_plan_with_anatomy(
    engine: &dyn Images,
    plan: &Plan,
    registry_address: Option<SocketAddr>,
    cache: Option<Arc<MeasurementCache>>,
) -> Result<(SizeReport, Vec<AnatomyRow>), SizesError> {
    let (report, rows) = measure(engine, plan, registry_address, cache, true).await?;
    Ok((report, rows.unwrap_or_default()))
}

/// Passes every byte read on to a second reader (through a bounded channel), until that
/// reader is gone.
struct CopyingReader<R> {
    inner: R,
    copy: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
}

impl<R: std::io::Read> std::io::Read for CopyingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        if count > 0 {
            if let Some(copy) = &self.copy {
                if copy.send(buffer[..count].to_vec()).is_err() {
                    self.copy = None;
                }
            }
        }
        Ok(count)
    }
}

/// Reads what a [`CopyingReader`] passes on.
struct CopyReader {
    receiver: std::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
}

impl std::io::Read for CopyReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.position == self.current.len() {
            match self.receiver.recv() {
                Ok(chunk) => (self.current, self.position) = (chunk, 0),
                Err(_) => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len() - self.position);
        buffer[..count].copy_from_slice(&self.current[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

/// What one export gives: each image's size analysis with its config, and the anatomy
/// reader's result when it was asked for.
type Exported = (
    Vec<(ArchiveImage, Option<Vec<u8>>)>,
    Option<Result<Vec<AnalysedImage<anatomy::Analysis>>, ArchiveError>>,
);

/// The size analysis of an archive stream, and with `with_anatomy` the anatomy reader on a
/// thread of its own reading a copy of the same stream.
fn analyze_export(
    reader: impl std::io::Read,
    cache: Option<&MeasurementCache>,
    eager: bool,
    with_anatomy: bool,
) -> Result<Exported, ArchiveError> {
    if !with_anatomy {
        return Ok((layers::analyze_archive_cached(reader, cache, eager)?, None));
    }
    let (sender, receiver) = std::sync::mpsc::sync_channel(16);
    let anatomy_reader = std::thread::spawn(move || {
        anatomy::read_archive(CopyReader {
            receiver,
            current: Vec::new(),
            position: 0,
        })
    });
    let reader = CopyingReader {
        inner: reader,
        copy: Some(sender),
    };
    // The size analysis drops its reader (and so the copy's sender) when it returns.
    let sizes = layers::analyze_archive_cached(reader, cache, eager);
    let analysed = anatomy_reader.join().unwrap_or_else(|_| {
        Err(ArchiveError::Read {
            entry: "<anatomy>".into(),
            source: std::io::Error::other("the anatomy reader panicked"),
        })
    });
    Ok((sizes?, Some(analysed)))
}

async fn measure(
    engine: &dyn Images,
    plan: &Plan,
    registry_address: Option<SocketAddr>,
    cache: Option<Arc<MeasurementCache>>,
    with_anatomy: bool,
) -> Result<(SizeReport, Option<Vec<AnatomyRow>>), SizesError> {
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
    let mut by_tag: HashMap<String, ImageAnalysis> = HashMap::new();
    let mut stored_by_tag: HashMap<String, Vec<Option<StoredBlob>>> = HashMap::new();
    let mut references: Vec<String> = Vec::new();
    let mut read = HashMap::new();
    for (image, details) in &present {
        let reference = image.reference().to_string();
        if by_tag.contains_key(&reference) || references.contains(&reference) {
            continue;
        }
        match cache
            .as_deref()
            .and_then(|cache| cached_image(cache, details, &mut read))
        {
            Some((analysis, stored)) => {
                stored_by_tag.insert(reference.clone(), stored);
                by_tag.insert(reference, analysis);
            }
            None => references.push(reference),
        }
    }
    let anatomy_pending = with_anatomy.then(|| {
        anatomy::Pending::new(
            cache.as_deref(),
            present
                .iter()
                .map(|(image, details)| {
                    (
                        image.id.clone(),
                        image.reference().to_string(),
                        details.id.clone(),
                    )
                })
                .collect(),
        )
    });
    let anatomy_missing = anatomy_pending
        .as_ref()
        .map(anatomy::Pending::missing)
        .unwrap_or_default();
    // One export: the images the size analysis lacks, then those only the anatomy lacks.
    let mut exported = references.clone();
    for (_, reference) in &anatomy_missing {
        if !exported.contains(reference) {
            exported.push(reference.clone());
        }
    }
    let mut anatomy_measured = Vec::new();
    if !exported.is_empty() {
        // When the cache holds none of the exported layers (a first run), every layer is
        // compressed as it streams in, without waiting for its diff id.
        let eager = match cache.as_deref() {
            None => true,
            Some(cache) => !present
                .iter()
                .filter(|(image, _)| exported.iter().any(|r| r == image.reference()))
                .flat_map(|(_, details)| &details.layers)
                .any(|diff_id| cache.has_layer(diff_id)),
        };
        let reader_cache = cache.clone();
        let with_anatomy = !anatomy_missing.is_empty();
        let (analyses, analysed) =
            crate::inspect::archive::parse_export(engine, &exported, move |reader| {
                analyze_export(reader, reader_cache.as_deref(), eager, with_anatomy)
            })
            .await?;
        if let Some(analysed) = analysed {
            let analysed = analysed.map_err(|cause| ExportError::Archive {
                references: exported.join(" "),
                cause,
            })?;
            anatomy_measured = anatomy::rows_of(&anatomy_missing, &analysed);
        }
        let ids: HashMap<&str, &str> = present
            .iter()
            .map(|(image, details)| (image.reference(), details.id.as_str()))
            .collect();
        for (archive_image, config) in analyses {
            for tag in archive_image.tags {
                // As the engine names it: podman's `localhost/r2r/...` is the plan's `r2r/...`.
                let tag = crate::inspect::archive::familiar_reference(&tag).to_string();
                if let (Some(cache), Some(config), Some(id)) =
                    (cache.as_deref(), &config, ids.get(tag.as_str()))
                {
                    if let Ok(stored) = serde_json::to_vec(&archive_image.stored) {
                        cache.store_image_stored(id, &stored);
                    }
                    cache.store_image_config(id, config);
                }
                stored_by_tag.insert(tag.clone(), archive_image.stored.clone());
                by_tag.insert(tag, archive_image.analysis.clone());
            }
        }
    }
    let anatomy_rows = anatomy_pending.map(|pending| pending.finish(anatomy_measured));
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
            role: image.role.to_string(),
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
    Ok((report, anatomy_rows))
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
            SizeRow {
                image: m.image.clone(),
                reference: m.reference.clone(),
                variants: m.variants.join(";"),
                role: m.role.clone(),
                layers: m.analysis.layers.len() as u64,
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

/// `summary.json`'s `images`: the size rows, each with its variants as a list of names.
mod images_json {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    use crate::results::sizes::SizeRow;

    pub fn serialize<S: Serializer>(rows: &[SizeRow], serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let mut images = Vec::with_capacity(rows.len());
        for row in rows {
            let mut value = serde_json::to_value(row).map_err(S::Error::custom)?;
            let variants: Vec<&str> = row.variants.split(';').filter(|v| !v.is_empty()).collect();
            value["variants"] = Value::from(variants);
            images.push(value);
        }
        images.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<SizeRow>, D::Error> {
        let images = Vec::<Value>::deserialize(deserializer)?;
        images
            .into_iter()
            .map(|mut value| {
                if let Some(list) = value["variants"].as_array() {
                    let joined: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                    value["variants"] = Value::from(joined.join(";"));
                }
                serde_json::from_value(value).map_err(D::Error::custom)
            })
            .collect()
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
    rows::to_csv(&report.images)
}

/// `layers.csv`: one [`LayerCsvRow`] per distinct layer.
pub fn layers_csv(report: &SizeReport) -> Result<Vec<u8>, csv::Error> {
    rows::to_csv(&layer_rows(report))
}

/// `sharing.csv`: one [`SharingRow`] per image of each set, with the set's totals.
pub fn sharing_csv(report: &SizeReport) -> Result<Vec<u8>, csv::Error> {
    rows::to_csv(&sharing_rows_of(report))
}

fn layer_rows(report: &SizeReport) -> Vec<LayerCsvRow> {
    report.layers.iter().map(LayerCsvRow::from).collect()
}

fn sharing_rows_of(report: &SizeReport) -> Vec<SharingRow> {
    report.sets.iter().flat_map(sharing_rows).collect()
}

/// Writes the report's files into `directory` (each written whole, then renamed):
/// `sizes.csv`, `layers.csv`, `sharing.csv` and the `sizes` key of `summary.json`.
pub fn write(report: &SizeReport, directory: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(directory)?;
    let run = RunDir::new(directory);
    run.write_rows(&report.images)?;
    run.write_rows(&layer_rows(report))?;
    run.write_rows(&sharing_rows_of(report))?;
    summary_file::update(
        directory,
        summary_file::SIZES,
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
