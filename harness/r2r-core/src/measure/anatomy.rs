//! The anatomy of images: per image and per assembly, the bytes of IL + metadata, of native
//! code and of the rest ([`crate::inspect::anatomy`]), with each composite image split by
//! component. Written as `anatomy.csv` by the sizes step; `r2r diff` compares two images.
//!
//! The rows of one image add up to the bytes of its regular files: one row per assembly file
//! (`.dll` under `/usr/share/dotnet` and `/app`), a composite image as one row per component
//! and one for its shared part, and one row for every other file together.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::inspect::anatomy::{self, AnatomyError, FileAnatomy, PartBytes};
use crate::inspect::archive::{self, AnalysedImage, ExportError, FileType};
use crate::inspect::readytorun::{self, AssemblyKind};
use crate::measure::cache::MeasurementCache;
use crate::model::plan::Plan;
use crate::results::{CsvFile, RunDir};

pub use crate::results::anatomy::{AnatomyKind, AnatomyRow};

/// The assembly name of the row that holds every file that is not an inspected assembly.
pub const OTHER_FILES: &str = "(other files)";

/// The row of `bytes` of one assembly (or share, or group of files) of an image.
fn anatomy_row(
    image: &str,
    path: &str,
    assembly: &str,
    kind: AnatomyKind,
    bytes: &PartBytes,
) -> AnatomyRow {
    AnatomyRow {
        image: image.to_string(),
        path: path.to_string(),
        assembly: assembly.to_string(),
        kind,
        bytes: bytes.total(),
        il_metadata_bytes: bytes.il_metadata(),
        native_code_bytes: bytes.native_code,
        rest_bytes: bytes.rest(),
        headers_bytes: bytes.headers,
        metadata_bytes: bytes.metadata,
        il_bytes: bytes.il,
        resources_bytes: bytes.resources,
        readytorun_bytes: bytes.readytorun,
        signature_bytes: bytes.signature,
        other_bytes: bytes.other,
        methods: None,
    }
}

/// Which files of an image are read as assemblies.
pub fn is_inspected(path: &str) -> bool {
    path.ends_with(".dll") && (path.starts_with("usr/share/dotnet/") || path.starts_with("app/"))
}

/// What an inspected file is, with its anatomy.
pub(crate) type Analysis = (AnatomyKind, Result<FileAnatomy, AnatomyError>);

/// The anatomy row kind of a file ReadyToRun classified.
pub fn kind_of(kind: &AssemblyKind) -> AnatomyKind {
    match kind {
        AssemblyKind::NotPortableExecutable => AnatomyKind::NotPe,
        AssemblyKind::NativePortableExecutable => AnatomyKind::NativePe,
        AssemblyKind::IlOnly => AnatomyKind::IlOnly,
        AssemblyKind::ReadyToRun { .. } => AnatomyKind::ReadyToRun,
        AssemblyKind::CompositeComponent { .. } => AnatomyKind::Component,
        AssemblyKind::CompositeImage { .. } => AnatomyKind::Composite,
    }
}

fn analyse(_: &str, bytes: &[u8]) -> Analysis {
    let kind = readytorun::classify(bytes)
        .map(|kind| kind_of(&kind))
        .unwrap_or(AnatomyKind::Unreadable);
    (kind, anatomy::analyse(bytes))
}

/// The rows of one analysed image.
pub fn image_rows(image: &str, analysed: &AnalysedImage<Analysis>) -> Vec<AnatomyRow> {
    let mut rows = Vec::new();
    let mut other = PartBytes::default();
    for (path, record) in &analysed.filesystem.files {
        if record.file_type != FileType::Regular {
            continue;
        }
        let Some((kind, result)) = analysed.analysed.get(path) else {
            other.other += record.size_bytes;
            continue;
        };
        let name = path.rsplit('/').next().unwrap_or(path);
        let assembly = name.strip_suffix(".dll").unwrap_or(name);
        match result {
            Ok(file) if !file.components.is_empty() => {
                for share in &file.components {
                    let kind = if share.assembly == anatomy::SHARED {
                        AnatomyKind::CompositeShared
                    } else {
                        AnatomyKind::CompositePart
                    };
                    let mut row = anatomy_row(image, path, &share.assembly, kind, &share.bytes);
                    if kind == AnatomyKind::CompositePart {
                        row.methods = Some(share.methods);
                    }
                    rows.push(row);
                }
            }
            Ok(file) => rows.push(anatomy_row(image, path, assembly, *kind, &file.bytes)),
            Err(_) => {
                let bytes = PartBytes {
                    other: record.size_bytes,
                    ..PartBytes::default()
                };
                rows.push(anatomy_row(
                    image,
                    path,
                    assembly,
                    AnatomyKind::Unreadable,
                    &bytes,
                ));
            }
        }
    }
    rows.push(anatomy_row(
        image,
        "",
        OTHER_FILES,
        AnatomyKind::OtherFiles,
        &other,
    ));
    rows
}

/// Exports `images` (plan id, reference) through the engine as one stream (each reference
/// once) and returns the rows of each, in the order given: an image given twice gets its rows
/// twice, an image missing from the export none.
pub async fn measure_each(
    engine: &dyn Engine,
    images: &[(String, String)],
) -> Result<Vec<Vec<AnatomyRow>>, ExportError> {
    let mut references: Vec<String> = images.iter().map(|(_, r)| r.clone()).collect();
    references.sort();
    references.dedup();
    let analysed = archive::parse_export(engine, &references, read_archive).await?;
    Ok(rows_of(images, &analysed))
}

/// Every image of an archive stream with its inspected files analysed.
pub(crate) fn read_archive(
    reader: impl std::io::Read,
) -> Result<Vec<AnalysedImage<Analysis>>, archive::ArchiveError> {
    archive::read_image_archives_with(reader, &is_inspected, &analyse)
}

/// The rows of each image (plan id, reference) of `analysed`, in the order given: an image
/// missing from it gets none.
pub(crate) fn rows_of(
    images: &[(String, String)],
    analysed: &[AnalysedImage<Analysis>],
) -> Vec<Vec<AnatomyRow>> {
    images
        .iter()
        .map(|(id, reference)| {
            analysed
                .iter()
                .find(|image| {
                    let wanted = archive::familiar_reference(reference);
                    image
                        .tags
                        .iter()
                        .any(|tag| archive::familiar_reference(tag) == wanted)
                })
                .map(|image| image_rows(id, image))
                .unwrap_or_default()
        })
        .collect()
}

/// As [`measure_each`], the rows of all images in one list.
pub async fn measure_images(
    engine: &dyn Engine,
    images: &[(String, String)],
) -> Result<Vec<AnatomyRow>, ExportError> {
    Ok(measure_each(engine, images).await?.concat())
}

/// The anatomy of every image of a plan that is on the engine.
pub async fn measure_plan(
    engine: &dyn Engine,
    plan: &Plan,
) -> Result<Vec<AnatomyRow>, ExportError> {
    let mut images = Vec::new();
    for image in &plan.images {
        if let Ok(Some(_)) = engine.inspect_image(image.reference()).await {
            images.push((image.id.clone(), image.reference().to_string()));
        }
    }
    if images.is_empty() {
        return Ok(Vec::new());
    }
    measure_images(engine, &images).await
}

/// The version of the anatomy code, as the cache keys an image's rows by: a hash of the
/// source that reads images and takes their anatomy, as compiled in.
pub fn code_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let archive = crate::inspect::archive::source_text();
        let source = crate::support::hash::sha256_hex(
            [
                include_str!("anatomy.rs"),
                include_str!("../results/anatomy.rs"),
                include_str!("../inspect/anatomy.rs"),
                archive.as_str(),
                include_str!("../inspect/composite.rs"),
                include_str!("../inspect/readytorun.rs"),
            ]
            .concat()
            .as_bytes(),
        );
        format!("a-{}", &source[..16])
    })
}

/// As [`measure_plan`], with `cache`: an image's rows are kept under its image id (the same
/// id is the same files), so an image measured before is not exported again.
pub async fn measure_plan_cached(
    engine: &dyn Engine,
    plan: &Plan,
    cache: Option<&MeasurementCache>,
) -> Result<Vec<AnatomyRow>, ExportError> {
    let mut images = Vec::new();
    for image in &plan.images {
        if let Ok(Some(details)) = engine.inspect_image(image.reference()).await {
            images.push((image.id.clone(), image.reference().to_string(), details.id));
        }
    }
    let pending = Pending::new(cache, images);
    let missing = pending.missing();
    let measured = if missing.is_empty() {
        Vec::new()
    } else {
        measure_each(engine, &missing).await?
    };
    Ok(pending.finish(measured))
}

/// The rows of a plan's images as far as a cache has them.
pub(crate) struct Pending<'c> {
    cache: Option<&'c MeasurementCache>,
    /// Per image, in plan order: plan id, reference, image id, and its rows when cached.
    images: Vec<(String, String, String, Option<Vec<AnatomyRow>>)>,
}

impl<'c> Pending<'c> {
    /// Looks each image (plan id, reference, image id) up in `cache`.
    pub(crate) fn new(
        cache: Option<&'c MeasurementCache>,
        images: Vec<(String, String, String)>,
    ) -> Pending<'c> {
        let images = images
            .into_iter()
            .map(|(id, reference, image_id)| {
                let cached: Option<Vec<AnatomyRow>> = cache
                    .and_then(|cache| {
                        let bytes = cache.anatomy(code_version(), &image_id)?;
                        match serde_json::from_slice::<Vec<AnatomyRow>>(&bytes) {
                            Ok(rows) => Some(rows),
                            Err(error) => {
                                cache.reject_entry("anatomy", &image_id, &error.to_string());
                                None
                            }
                        }
                    })
                    .map(|rows| {
                        rows.into_iter()
                            .map(|row| AnatomyRow {
                                image: id.clone(),
                                ..row
                            })
                            .collect()
                    });
                (id, reference, image_id, cached)
            })
            .collect();
        Pending { cache, images }
    }

    /// The images (plan id, reference) whose rows must be measured, in plan order.
    pub(crate) fn missing(&self) -> Vec<(String, String)> {
        self.images
            .iter()
            .filter(|(_, _, _, rows)| rows.is_none())
            .map(|(id, reference, _, _)| (id.clone(), reference.clone()))
            .collect()
    }

    /// Every image's rows in plan order, `measured` giving those of [`Pending::missing`] (in
    /// its order); the measured ones are kept in the cache.
    pub(crate) fn finish(self, measured: Vec<Vec<AnatomyRow>>) -> Vec<AnatomyRow> {
        let mut measured = measured.into_iter();
        let mut rows = Vec::new();
        for (_, _, image_id, cached) in self.images {
            let image_rows = match cached {
                Some(image_rows) => image_rows,
                None => {
                    let image_rows = measured.next().unwrap_or_default();
                    // An image missing from the export has no rows: nothing to keep.
                    if let (Some(cache), false) = (self.cache, image_rows.is_empty()) {
                        let anonymous: Vec<AnatomyRow> = image_rows
                            .iter()
                            .map(|row| AnatomyRow {
                                image: String::new(),
                                ..row.clone()
                            })
                            .collect();
                        match serde_json::to_vec(&anonymous) {
                            Ok(bytes) => cache.store_anatomy(code_version(), &image_id, &bytes),
                            Err(error) => {
                                tracing::warn!("not caching the anatomy of {image_id}: {error}")
                            }
                        }
                    }
                    image_rows
                }
            };
            rows.extend(image_rows);
        }
        rows
    }
}

/// `anatomy.csv`.
pub fn anatomy_csv(rows: &[AnatomyRow]) -> Result<Vec<u8>, csv::Error> {
    crate::results::rows::to_csv(rows)
}

/// Writes `anatomy.csv` into a run directory (whole, atomically).
pub fn write(rows: &[AnatomyRow], directory: &std::path::Path) -> std::io::Result<()> {
    RunDir::new(directory).write_rows(rows)
}

/// One assembly's change between two images (a row of `r2r diff`'s CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    /// The assembly (its file and its composite share together); a composite's shared part
    /// is `<composite file> (shared/unattributed)`; `(other files)`.
    pub assembly: String,
    /// Its bytes in the first image (0 when absent), bytes.
    pub a_bytes: u64,
    /// Its bytes in the second image (0 when absent), bytes.
    pub b_bytes: u64,
    /// `b_bytes - a_bytes`, bytes.
    pub delta_bytes: i64,
    /// Change of IL + metadata, bytes.
    pub delta_il_metadata_bytes: i64,
    /// Change of native code, bytes.
    pub delta_native_code_bytes: i64,
    /// Change of the rest, bytes.
    pub delta_rest_bytes: i64,
}

/// Per assembly, the sum of an image's rows: (bytes, IL + metadata, native code, rest).
fn by_assembly(rows: &[AnatomyRow]) -> BTreeMap<String, [u64; 4]> {
    let mut result: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for row in rows {
        let key = if row.kind == AnatomyKind::CompositeShared {
            let file = row.path.rsplit('/').next().unwrap_or(&row.path);
            format!("{file} {}", anatomy::SHARED)
        } else {
            row.assembly.clone()
        };
        let sums = result.entry(key).or_default();
        sums[0] += row.bytes;
        sums[1] += row.il_metadata_bytes;
        sums[2] += row.native_code_bytes;
        sums[3] += row.rest_bytes;
    }
    result
}

/// The assemblies whose bytes differ between two images' rows, largest change first. Two
/// images with the same files give none.
pub fn diff(a: &[AnatomyRow], b: &[AnatomyRow]) -> Vec<DiffRow> {
    let (a, b) = (by_assembly(a), by_assembly(b));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let delta = |x: u64, y: u64| y as i64 - x as i64;
    let mut rows: Vec<DiffRow> = keys
        .into_iter()
        .filter_map(|key| {
            let x = a.get(key).copied().unwrap_or_default();
            let y = b.get(key).copied().unwrap_or_default();
            (x != y).then(|| DiffRow {
                assembly: key.clone(),
                a_bytes: x[0],
                b_bytes: y[0],
                delta_bytes: delta(x[0], y[0]),
                delta_il_metadata_bytes: delta(x[1], y[1]),
                delta_native_code_bytes: delta(x[2], y[2]),
                delta_rest_bytes: delta(x[3], y[3]),
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        y.delta_bytes
            .unsigned_abs()
            .cmp(&x.delta_bytes.unsigned_abs())
            .then_with(|| x.assembly.cmp(&y.assembly))
    });
    rows
}

/// The CSV of a diff.
pub fn diff_csv(rows: &[DiffRow]) -> Result<Vec<u8>, csv::Error> {
    crate::results::rows::to_csv(rows)
}

/// Per image, the sum of its rows by kind group: (image, IL + metadata, native code, rest)
/// in the order the images first appear.
pub fn image_totals(rows: &[AnatomyRow]) -> Vec<(String, PartBytes)> {
    let mut result: Vec<(String, PartBytes)> = Vec::new();
    for row in rows {
        let bytes = PartBytes {
            headers: row.headers_bytes,
            metadata: row.metadata_bytes,
            il: row.il_bytes,
            resources: row.resources_bytes,
            native_code: row.native_code_bytes,
            readytorun: row.readytorun_bytes,
            signature: row.signature_bytes,
            other: row.other_bytes,
        };
        match result.iter_mut().find(|(image, _)| *image == row.image) {
            Some((_, sum)) => sum.accumulate(&bytes),
            None => result.push((row.image.clone(), bytes)),
        }
    }
    result
}

/// Columns of `anatomy.csv` that readers need.
pub const ANATOMY_COLUMNS: &[&str] = AnatomyRow::REQUIRED;

/// The names of the groups of [`image_groups`], in order.
pub const GROUPS: [&str; 5] = [
    "IL + metadata",
    "native code",
    "ReadyToRun tables",
    "rest of the assemblies",
    "other files",
];

/// Per image (in the order the images first appear), its bytes in the [`GROUPS`]: IL +
/// metadata, native code, ReadyToRun tables, the rest of the assemblies (headers, unwind and
/// GC info, signatures, padding), and the files that are not assemblies. They add up to the
/// bytes of the image's regular files.
pub fn image_groups(rows: &[AnatomyRow]) -> Vec<(String, [u64; 5])> {
    let mut result: Vec<(String, [u64; 5])> = Vec::new();
    for row in rows {
        let index = match result.iter().position(|(image, _)| *image == row.image) {
            Some(index) => index,
            None => {
                result.push((row.image.clone(), [0; 5]));
                result.len() - 1
            }
        };
        let groups = &mut result[index].1;
        if row.kind == AnatomyKind::OtherFiles {
            groups[4] += row.bytes;
            continue;
        }
        groups[0] += row.il_metadata_bytes;
        groups[1] += row.native_code_bytes;
        groups[2] += row.readytorun_bytes;
        groups[3] += row.rest_bytes - row.readytorun_bytes.min(row.rest_bytes);
    }
    result
}

/// Reads `anatomy.csv` of a run directory (`None` when the run has none).
pub fn read(
    directory: &std::path::Path,
) -> Result<Option<Vec<AnatomyRow>>, crate::results::reading::RunDataError> {
    RunDir::new(directory).read_rows()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(image: &str, assembly: &str, kind: AnatomyKind, il: u64, native: u64) -> AnatomyRow {
        let bytes = PartBytes {
            il,
            native_code: native,
            other: 10,
            ..PartBytes::default()
        };
        anatomy_row(image, &format!("x/{assembly}.dll"), assembly, kind, &bytes)
    }

    #[test]
    fn diff_lists_changed_assemblies_largest_first_and_nothing_for_the_same_rows() {
        use AnatomyKind::{Component, CompositePart, ReadyToRun};
        let a = vec![
            row("a", "A", ReadyToRun, 100, 500),
            row("a", "B", ReadyToRun, 50, 50),
        ];
        let b = vec![
            row("b", "A", Component, 100, 0),
            row("b", "B", ReadyToRun, 50, 50),
            row("b", "A", CompositePart, 0, 800),
        ];
        assert!(diff(&a, &a).is_empty());
        let rows = diff(&a, &b);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].assembly, "A");
        assert_eq!(rows[0].delta_bytes, 310);
        assert_eq!(rows[0].delta_native_code_bytes, 300);
        assert_eq!(rows[0].delta_il_metadata_bytes, 0);
        assert_eq!(rows[0].delta_rest_bytes, 10);
        let groups = image_groups(&b);
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].1.iter().sum::<u64>(),
            b.iter().map(|r| r.bytes).sum::<u64>()
        );
        let text = String::from_utf8(diff_csv(&rows).unwrap()).unwrap();
        assert!(
            text.starts_with("assembly,a_bytes,b_bytes,delta_bytes,"),
            "{text}"
        );
    }
}
