//! Reading an image archive (`docker save` format, legacy or OCI layout) as a stream, into
//! the image's final file system view: every layer applied in order, whiteouts honoured.
//!
//! Nothing is extracted to disk and no layer is held in memory: each layer tar is read entry
//! by entry; only the files a caller asks for (`inspect`) are read, one at a time, and
//! reduced to their [`AssemblyKind`]. The reader trusts nothing in the archive: sizes are
//! capped, paths are normalised and never used to touch the local file system.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};

use crate::readytorun::{self, AssemblyKind};

/// Files larger than this are not read for inspection (bytes).
pub const MAX_INSPECTED_FILE_BYTES: u64 = 1 << 30;

/// What a path is in the final view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink {
        /// Where it points.
        target: String,
    },
    /// A hard link to another path of the same layer set.
    Hardlink {
        /// The linked path.
        target: String,
    },
    /// Anything else (device, fifo).
    Other,
}

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
    pub assembly: Option<Result<AssemblyKind, String>>,
}

/// The final file system view of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFilesystem {
    /// Paths of the layers inside the archive, bottom first.
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

/// Errors reading an archive; each names the entry it was reading.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The outer archive could not be read.
    #[error("reading image archive entry `{entry}`: {source}")]
    Read {
        /// The outer entry (or `<archive>`).
        entry: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A layer could not be read.
    #[error("reading layer `{layer}` at `{entry}`: {source}")]
    Layer {
        /// The layer's path in the archive.
        layer: String,
        /// The entry inside the layer.
        entry: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` is missing or malformed, or names layers the archive lacks.
    #[error("image archive manifest: {0}")]
    Manifest(String),
}

#[derive(Default)]
struct LayerContent {
    entries: Vec<FileRecord>,
    whiteouts: Vec<String>,
    opaque_directories: Vec<String>,
}

/// One image of an archive's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    /// Path of the image's config in the archive.
    #[serde(rename = "Config")]
    pub config: String,
    /// The image's tags.
    #[serde(rename = "RepoTags", default)]
    pub tags: Vec<String>,
    /// Paths of the image's layers in the archive, bottom first.
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// What walking an archive found besides its layers.
#[derive(Debug, Default)]
pub struct ArchiveIndex {
    /// The images of `manifest.json`.
    pub manifest: Vec<ManifestEntry>,
    /// Small JSON documents (image configs) by path.
    pub configs: HashMap<String, Vec<u8>>,
    /// Layer paths that are links to another layer path (`docker save` links duplicates).
    pub aliases: HashMap<String, String>,
}

impl ArchiveIndex {
    /// The path a layer's bytes are stored under, following links.
    pub fn resolve<'a>(&'a self, path: &'a str) -> &'a str {
        let mut current = path;
        for _ in 0..16 {
            match self.aliases.get(current) {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }
}

/// Maximum size of a JSON document read from an archive, bytes.
const MAX_JSON_BYTES: u64 = 16 << 20;

/// Walks an image archive: `manifest.json` and configs are collected, links between layers
/// recorded, and every layer (a tar stream, possibly empty) handed to `on_layer` with its path.
pub fn walk_archive(
    reader: impl Read,
    on_layer: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), ArchiveError>,
) -> Result<ArchiveIndex, ArchiveError> {
    let mut outer = tar::Archive::new(reader);
    let mut index = ArchiveIndex::default();
    let mut manifest = None;
    let entries = outer.entries().map_err(|source| ArchiveError::Read { entry: "<archive>".into(), source })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| ArchiveError::Read { entry: "<archive>".into(), source })?;
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let read_error = |source| ArchiveError::Read { entry: name.clone(), source };
        match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name().ok().flatten().map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                let resolved = if entry.header().entry_type() == tar::EntryType::Symlink {
                    let dir = name.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
                    normalise(&format!("{dir}/{target}"))
                } else {
                    normalise(&target)
                };
                if let Some(resolved) = resolved {
                    index.aliases.insert(name.clone(), resolved);
                }
                continue;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => continue,
        }
        if name == "manifest.json" {
            let mut text = String::new();
            (&mut entry).take(MAX_JSON_BYTES).read_to_string(&mut text).map_err(read_error)?;
            manifest = Some(serde_json::from_str::<Vec<ManifestEntry>>(&text).map_err(|error| ArchiveError::Manifest(error.to_string()))?);
            continue;
        }
        let size = entry.size();
        let mut buffered = BufReader::with_capacity(256 * 1024, entry);
        let head = buffered.fill_buf().map_err(read_error)?;
        if head.first() == Some(&b'{') {
            if size <= MAX_JSON_BYTES {
                let mut bytes = Vec::with_capacity(size as usize);
                buffered.read_to_end(&mut bytes).map_err(read_error)?;
                index.configs.insert(name, bytes);
            }
            continue;
        }
        let is_tar = (head.len() >= 262 && &head[257..262] == b"ustar") || (head.len() >= 512 && head[..512].iter().all(|byte| *byte == 0));
        if is_tar {
            on_layer(&name, &mut buffered)?;
        }
    }
    index.manifest = manifest.ok_or_else(|| ArchiveError::Manifest("no manifest.json in the archive".into()))?;
    if index.manifest.is_empty() {
        return Err(ArchiveError::Manifest("manifest.json lists no image".into()));
    }
    Ok(index)
}

/// A blocking [`Read`] over chunks arriving on a channel (from an async export stream).
pub struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl ChannelReader {
    /// Reads the chunks sent on `receiver` until it closes.
    pub fn new(receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChannelReader { receiver, current: bytes::Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// Exports `references` through the engine as one archive stream and parses it with `parse` on
/// a blocking thread, which reads the chunks from a small bounded channel: memory stays flat
/// whatever the images' size. An export error wins over the parser's (which then only saw a
/// cut stream).
pub async fn parse_export<T: Send + 'static>(
    engine: &dyn crate::engine::Engine,
    references: &[String],
    parse: impl FnOnce(ChannelReader) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    use futures_util::StreamExt;
    let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let parser = tokio::task::spawn_blocking(move || parse(ChannelReader::new(receiver)));
    let mut stream = engine.export_images(references);
    let mut export_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if sender.send(chunk).await.is_err() {
                    break; // the parser stopped early; it has an error to report
                }
            }
            Err(error) => {
                export_error = Some(error.to_string());
                break;
            }
        }
    }
    drop(sender);
    let parsed = parser.await.map_err(|error| error.to_string())?;
    match export_error {
        Some(error) => Err(error),
        None => parsed,
    }
}

/// Normalises a path from an archive: strips `./` and `/`, resolves `.`, refuses `..`
/// escapes (returns `None`).
pub fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Reads an image archive from `reader` into the first image's final file system view.
/// `inspect(path)` says which regular files to read and classify as assemblies.
pub fn read_image_archive(reader: impl Read, inspect: &dyn Fn(&str) -> bool) -> Result<ImageFilesystem, ArchiveError> {
    let mut layers: HashMap<String, LayerContent> = HashMap::new();
    let index = walk_archive(reader, &mut |name, layer| {
        let content = read_layer(name, layer, inspect)?;
        layers.insert(name.to_string(), content);
        Ok(())
    })?;
    let first = &index.manifest[0];
    let mut view = ImageFilesystem { layers: first.layers.clone(), files: BTreeMap::new() };
    for (position, layer_path) in first.layers.iter().enumerate() {
        let content = layers
            .get(index.resolve(layer_path))
            .ok_or_else(|| ArchiveError::Manifest(format!("layer `{layer_path}` is listed but not in the archive")))?;
        for directory in &content.opaque_directories {
            let prefix = format!("{directory}/");
            view.files.retain(|path, _| !path.starts_with(&prefix));
        }
        for removed in &content.whiteouts {
            let prefix = format!("{removed}/");
            view.files.retain(|path, _| path != removed && !path.starts_with(&prefix));
        }
        for record in &content.entries {
            let mut record = record.clone();
            record.layer = position;
            view.files.insert(record.path.clone(), record);
        }
    }
    Ok(view)
}

fn read_layer(layer: &str, reader: impl Read, inspect: &dyn Fn(&str) -> bool) -> Result<LayerContent, ArchiveError> {
    let layer_error = |entry: &str, source| ArchiveError::Layer { layer: layer.to_string(), entry: entry.to_string(), source };
    let mut archive = tar::Archive::new(reader);
    let mut content = LayerContent::default();
    for entry in archive.entries().map_err(|source| layer_error("<start>", source))? {
        let mut entry = entry.map_err(|source| layer_error("<entry header>", source))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalise(&raw) else {
            return Err(layer_error(&raw, std::io::Error::other("path escapes the image root")));
        };
        if path.is_empty() {
            continue;
        }
        let (parent, file_name) = match path.rsplit_once('/') {
            Some((parent, name)) => (parent.to_string(), name),
            None => (String::new(), path.as_str()),
        };
        if file_name == ".wh..wh..opq" {
            content.opaque_directories.push(parent);
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(".wh.") {
            content.whiteouts.push(if parent.is_empty() { hidden.to_string() } else { format!("{parent}/{hidden}") });
            continue;
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0);
        let link = || {
            entry
                .link_name_bytes()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        };
        let file_type = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => FileType::Regular,
            tar::EntryType::Directory => FileType::Directory,
            tar::EntryType::Symlink => FileType::Symlink { target: link() },
            tar::EntryType::Link => FileType::Hardlink { target: normalise(&link()).unwrap_or_default() },
            _ => FileType::Other,
        };
        let size_bytes = if file_type == FileType::Regular { entry.size() } else { 0 };
        let assembly = if file_type == FileType::Regular && inspect(&path) {
            if size_bytes > MAX_INSPECTED_FILE_BYTES {
                Some(Err(format!("{size_bytes} bytes is over the inspection limit")))
            } else {
                let mut bytes = Vec::with_capacity(size_bytes as usize);
                (&mut entry).take(size_bytes).read_to_end(&mut bytes).map_err(|source| layer_error(&path, source))?;
                Some(readytorun::classify(&bytes).map_err(|error| error.to_string()))
            }
        } else {
            None
        };
        content.entries.push(FileRecord { path, layer: 0, size_bytes, file_type, mode, assembly });
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(if path.ends_with('/') { tar::EntryType::Directory } else { tar::EntryType::Regular });
            // Names are written raw so that hostile ones (`../`) can be tested.
            let name = &mut header.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        // Pad so that every layer passes the minimum size check.
        let mut bytes = builder.into_inner().unwrap();
        bytes.resize(bytes.len().max(2048), 0);
        bytes
    }

    fn archive(layers: &[Vec<u8>], manifest_first: bool) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let names: Vec<String> = (0..layers.len()).map(|i| format!("l{i}/layer.tar")).collect();
        let manifest = serde_json::json!([{ "Config": "c.json", "RepoTags": ["x:y"], "Layers": names }]).to_string();
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, bytes).unwrap();
        };
        if manifest_first {
            add("manifest.json", manifest.as_bytes());
        }
        for (name, bytes) in names.iter().zip(layers) {
            add(name, bytes);
        }
        if !manifest_first {
            add("manifest.json", manifest.as_bytes());
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_apply_in_manifest_order_with_whiteouts() {
        let bottom = layer(&[("etc/", b""), ("etc/a", b"1"), ("etc/b", b"2"), ("opt/d/x", b"3"), ("keep", b"k")]);
        let top = layer(&[("etc/.wh.a", b""), ("opt/d/.wh..wh..opq", b""), ("opt/d/y", b"4"), ("./keep", b"kk")]);
        for manifest_first in [true, false] {
            let bytes = archive(&[bottom.clone(), top.clone()], manifest_first);
            let view = read_image_archive(bytes.as_slice(), &|_| false).unwrap();
            let paths: Vec<&str> = view.files.keys().map(String::as_str).collect();
            assert_eq!(paths, ["etc", "etc/b", "keep", "opt/d/y"]);
            assert_eq!(view.get("/keep").unwrap().size_bytes, 2);
            assert_eq!(view.get("keep").unwrap().layer, 1);
            assert_eq!(view.list("etc").count(), 1);
        }
    }

    #[test]
    fn inspected_files_are_classified_and_escapes_refused() {
        let bytes = archive(&[layer(&[("app/not.dll", b"plain text, not a PE file")])], true);
        let view = read_image_archive(bytes.as_slice(), &|path| path.ends_with(".dll")).unwrap();
        assert_eq!(view.get("app/not.dll").unwrap().assembly, Some(Ok(AssemblyKind::NotPortableExecutable)));

        let bytes = archive(&[layer(&[("../../etc/passwd", b"x")])], true);
        let error = read_image_archive(bytes.as_slice(), &|_| false).unwrap_err();
        assert!(error.to_string().contains("../../etc/passwd"), "{error}");
        assert_eq!(normalise("./a/../b"), Some("b".into()));
        assert_eq!(normalise("a/../../b"), None);
    }

    #[test]
    fn a_truncated_or_foreign_archive_is_an_error() {
        let bytes = archive(&[layer(&[("a", b"1")])], false);
        let error = read_image_archive(&bytes[..bytes.len() / 2], &|_| false).unwrap_err();
        assert!(error.to_string().contains("manifest") || error.to_string().contains("reading"), "{error}");
        let error = read_image_archive(&b"not a tar"[..], &|_| false).unwrap_err();
        assert!(error.to_string().contains("archive"), "{error}");
    }
}
