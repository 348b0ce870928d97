//! An image's final file system view: every layer of the manifest applied in order, whiteouts
//! honoured, and the files a caller asks for read and classified as assemblies.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use serde::{Deserialize, Serialize};

use super::layer_entry::{layer_change, FileType, LayerChange};
use super::tar_stream::walk_tar;
use super::walk::walk_archive;
use super::{ArchiveError, MAX_INSPECTED_FILE_BYTES};
use crate::inspect::readytorun::{self, AssemblyKind};

/// One path of the image's final file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Normalised path without leading `/`, e.g. `usr/share/dotnet/dotnet`.
    pub path: String,
    /// Index (bottom = 0) of the layer that last wrote this path.
    pub layer: usize,
    /// Size, bytes (0 for non-regular files).
    pub size_bytes: u64,
    /// File type.
    pub file_type: FileType,
    /// Permission bits.
    pub mode: u32,
    /// The ReadyToRun classification, for inspected files; `Err` holds why it failed.
    pub assembly: Option<Result<AssemblyKind, InspectError>>,
    /// For an inspected composite image: what it records about its compilation.
    pub composite: Option<crate::inspect::composite::CompositeFacts>,
    /// For an inspected component of a composite: its method definitions with a body (count).
    pub method_definitions: Option<u32>,
    /// For an inspected file with precompiled code (ReadyToRun, component, composite): the
    /// architecture its PE machine field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<crate::inspect::readytorun::CodeArchitecture>,
}

/// Why an inspected file has no ReadyToRun classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum InspectError {
    /// The file is larger than the reader inspects.
    #[error("{size_bytes} bytes is over the inspection limit of {limit_bytes} bytes")]
    TooLarge {
        /// The file's size, bytes.
        size_bytes: u64,
        /// [`MAX_INSPECTED_FILE_BYTES`], bytes.
        limit_bytes: u64,
    },
    /// Its PE or ReadyToRun structures could not be read (the classifier's message).
    #[error("{0}")]
    Unreadable(String),
}

/// The final file system view of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFilesystem {
    /// Paths of the layers inside the archive (normalised), bottom first.
    pub layers: Vec<String>,
    /// Every path present in the final view.
    pub files: BTreeMap<String, FileRecord>,
}

impl ImageFilesystem {
    /// A path (with or without leading `/`), following no links.
    pub fn get(&self, path: &str) -> Option<&FileRecord> {
        self.files.get(path.trim_start_matches('/'))
    }

    /// Entries directly inside `directory`.
    pub fn list(&self, directory: &str) -> impl Iterator<Item = &FileRecord> {
        let prefix = format!("{}/", directory.trim_matches('/'));
        let length = prefix.len();
        self.files
            .range(prefix.clone()..)
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .filter(move |(path, _)| !path[length..].contains('/'))
            .map(|(_, record)| record)
    }
}

#[derive(Default)]
struct LayerContent {
    entries: Vec<FileRecord>,
    whiteouts: Vec<String>,
    opaque_directories: Vec<String>,
}

/// Reads an image archive from `reader` into the first image's final file system view.
/// `inspect(path)` says which regular files to read and classify as assemblies. The rules of the
/// [`archive`](super) module doc apply; a layer the manifest lists but the archive lacks is an
/// error.
pub fn read_image_archive(
    reader: impl Read,
    inspect: &dyn Fn(&str) -> bool,
) -> Result<ImageFilesystem, ArchiveError> {
    let mut layers: HashMap<String, LayerContent> = HashMap::new();
    let index = walk_archive(reader, &mut |name, layer| {
        let content = read_layer(name, layer, inspect, &mut |_, _| {})?;
        layers.insert(name.to_string(), content);
        Ok(())
    })?;
    let first = &index.manifest[0];
    let mut view = ImageFilesystem {
        layers: first.layers.clone(),
        files: BTreeMap::new(),
    };
    for (position, layer_path) in first.layers.iter().enumerate() {
        let content = layers
            .get(index.resolve(layer_path)?)
            .ok_or_else(|| index.missing_layer(layer_path))?;
        for directory in &content.opaque_directories {
            remove_under(&mut view.files, directory);
        }
        for removed in &content.whiteouts {
            view.files.remove(removed);
            remove_under(&mut view.files, removed);
        }
        for record in &content.entries {
            let mut record = record.clone();
            record.layer = position;
            view.files.insert(record.path.clone(), record);
        }
    }
    Ok(view)
}

/// Removes every path under `directory` (not the directory itself).
fn remove_under(files: &mut BTreeMap<String, FileRecord>, directory: &str) {
    let prefix = format!("{directory}/");
    let doomed: Vec<String> = files
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .map(|(path, _)| path.clone())
        .collect();
    for path in doomed {
        files.remove(&path);
    }
}

/// Every image of an archive's manifest: its tags, its final file system view, and for each
/// inspected file of that view what `analyse(path, bytes)` made of its bytes. Layers are read
/// once, whatever the number of images that share them; only the results are kept.
pub fn read_image_archives_with<T: Clone>(
    reader: impl Read,
    inspect: &dyn Fn(&str) -> bool,
    analyse: &dyn Fn(&str, &[u8]) -> T,
) -> Result<Vec<AnalysedImage<T>>, ArchiveError> {
    let mut layers: HashMap<String, (LayerContent, BTreeMap<String, T>)> = HashMap::new();
    let index = walk_archive(reader, &mut |name, layer| {
        let mut results = BTreeMap::new();
        let content = read_layer(name, layer, inspect, &mut |path, bytes| {
            results.insert(path.to_string(), analyse(path, bytes));
        })?;
        layers.insert(name.to_string(), (content, results));
        Ok(())
    })?;
    let mut images = Vec::new();
    for entry in &index.manifest {
        let mut view = ImageFilesystem {
            layers: entry.layers.clone(),
            files: BTreeMap::new(),
        };
        let mut analysed: BTreeMap<String, T> = BTreeMap::new();
        for (position, layer_path) in entry.layers.iter().enumerate() {
            let (content, results) = layers
                .get(index.resolve(layer_path)?)
                .ok_or_else(|| index.missing_layer(layer_path))?;
            for directory in &content.opaque_directories {
                remove_under(&mut view.files, directory);
            }
            for removed in &content.whiteouts {
                view.files.remove(removed);
                remove_under(&mut view.files, removed);
            }
            for record in &content.entries {
                let mut record = record.clone();
                record.layer = position;
                view.files.insert(record.path.clone(), record);
            }
            for (path, result) in results {
                analysed.insert(path.clone(), result.clone());
            }
        }
        // Only what the final view still holds, as the last layer that wrote it left it.
        analysed.retain(|path, _| view.files.contains_key(path));
        images.push(AnalysedImage {
            tags: entry.tags.clone(),
            filesystem: view,
            analysed,
        });
    }
    Ok(images)
}

/// One image of [`read_image_archives_with`].
#[derive(Debug, Clone)]
pub struct AnalysedImage<T> {
    /// The image's tags in the archive.
    pub tags: Vec<String>,
    /// Its final file system view.
    pub filesystem: ImageFilesystem,
    /// Per inspected path of the view, the analysis of its bytes.
    pub analysed: BTreeMap<String, T>,
}

fn read_layer(
    layer: &str,
    reader: impl Read,
    inspect: &dyn Fn(&str) -> bool,
    analyse: &mut dyn FnMut(&str, &[u8]),
) -> Result<LayerContent, ArchiveError> {
    let layer_error = |entry: &str, source| ArchiveError::Layer {
        layer: layer.to_string(),
        entry: entry.to_string(),
        source,
    };
    let mut content = LayerContent::default();
    // One buffer for every inspected file of the layer: grown to the largest, never zeroed or
    // faulted in again for the next.
    let mut bytes = Vec::new();
    walk_tar(reader, false, &layer_error, &mut |entry| {
        let (path, file_type) = match layer_change(layer, &entry)? {
            LayerChange::Nothing => return Ok(()),
            LayerChange::Opaque(directory) => {
                content.opaque_directories.push(directory);
                return Ok(());
            }
            LayerChange::Whiteout(path) => {
                content.whiteouts.push(path);
                return Ok(());
            }
            LayerChange::Write { path, file_type } => (path, file_type),
        };
        let size_bytes = if file_type == FileType::Regular {
            entry.size
        } else {
            0
        };
        let mut composite = None;
        let mut method_definitions = None;
        let mut code = None;
        let assembly = if file_type == FileType::Regular && inspect(&path) {
            if size_bytes > MAX_INSPECTED_FILE_BYTES {
                Some(Err(InspectError::TooLarge {
                    size_bytes,
                    limit_bytes: MAX_INSPECTED_FILE_BYTES,
                }))
            } else {
                // Grows with the bytes that actually arrive, whatever the header claims.
                bytes.clear();
                entry
                    .data
                    .read_to_end(&mut bytes)
                    .map_err(|source| layer_error(entry.path, source))?;
                analyse(&path, &bytes);
                let kind = readytorun::classify(&bytes)
                    .map_err(|error| InspectError::Unreadable(error.to_string()));
                if matches!(kind, Ok(AssemblyKind::CompositeImage { .. })) {
                    composite = crate::inspect::composite::composite_facts(&bytes)
                        .ok()
                        .flatten();
                }
                if matches!(kind, Ok(AssemblyKind::CompositeComponent { .. })) {
                    method_definitions = crate::inspect::composite::method_definitions(&bytes);
                }
                code = readytorun::precompiled_code(&kind, &bytes);
                Some(kind)
            }
        } else {
            None
        };
        content.entries.push(FileRecord {
            path,
            layer: 0,
            size_bytes,
            file_type,
            mode: entry.mode,
            assembly,
            composite,
            method_definitions,
            code,
        });
        Ok(())
    })?;
    Ok(content)
}
