//! Reading an image archive (`docker save` format, legacy or OCI layout) as a stream, into
//! the image's final file system view: every layer applied in order, whiteouts honoured.
//!
//! Nothing is extracted to disk and no layer is held in memory: each layer tar is read entry
//! by entry; only the files a caller asks for (`inspect`) are read, one at a time, and
//! reduced to their [`AssemblyKind`].
//!
//! # What a hostile archive can and cannot do
//!
//! The reader trusts nothing in the archive, and [`sizes`](crate::measure::layers) walks archives with
//! the same rules (it shares [`walk_archive`] and the layer entry rules below).
//!
//! - **Nothing is written to the file system.** There is no temporary directory and no
//!   extraction: names from the archive are only strings (keys of maps), never opened,
//!   created or followed on the local disk.
//! - **Paths.** Every name is relative to its own root (the archive's, or the image's for a
//!   name inside a layer): a leading `/` or `./` is dropped, `.` segments are dropped and `..`
//!   is resolved as text ([`normalise`]). An absolute path inside a layer tar is therefore a
//!   path from the image root, which is what layer tars mean by it. A `..` that climbs above
//!   the root is refused: [`ArchiveError::Escape`] for an archive entry, a link target of the
//!   outer archive or a path in `manifest.json`; [`ArchiveError::LayerEscape`] (naming the
//!   layer and the entry) for a name or hard link target inside a layer. Only a directory may
//!   name the root itself, and a whiteout must name a file (not `.wh.`, `.wh..`, `.wh...`).
//! - **Links.** Links of the outer archive (`docker save` links duplicate layers) are only
//!   aliases between entry names, followed when a layer of the manifest is looked up, at most
//!   [`MAX_LINK_HOPS`] in a row (so a loop ends in an error). In a layer, a hard link's target
//!   is normalised like a name; a symbolic link's target is recorded as written (absolute ones,
//!   such as `/usr/share/dotnet/dotnet`, are legitimate) and never followed.
//! - **Repeated layers.** A layer listed twice in an image's `Layers` is applied twice, not
//!   refused: an image can have two identical layers (the same `COPY` twice gives two equal
//!   diff ids), and engines save it so: `docker save` (legacy) under a second path linked to
//!   the first, the OCI layout as the same blob path listed twice.
//! - **Sizes.** Nothing is allocated on a header's word: memory grows only with bytes actually
//!   read, and every read is bounded: `manifest.json` by [`MAX_MANIFEST_BYTES`] (a larger
//!   claim is [`ArchiveError::TooLarge`]), JSON documents by 16 MiB each (a larger one is not
//!   kept, so a config that large counts as missing) and 64 MiB in all, inspected files by
//!   [`MAX_INSPECTED_FILE_BYTES`], the headers before one entry (long names, PAX records) by
//!   1 MiB, the layers of the manifest by [`MAX_LAYERS_PER_IMAGE`] and
//!   [`MAX_LAYER_REFERENCES`]. A GNU sparse file is recorded but never read, so its holes are
//!   never expanded.
//! - **Compressed layers.** A layer blob that starts with the gzip or zstd magic (the OCI
//!   layout of `docker save` on the containerd image store keeps layers as the engine stores
//!   them, gzip-compressed) is decompressed as a stream on its way to the layer reader,
//!   never to memory or disk, and may expand at most [`MAX_EXPANSION_RATIO`] times the
//!   compressed bytes read so far (plus [`EXPANSION_ALLOWANCE_BYTES`]): a compression bomb is
//!   an error naming its entry after a bounded amount of work. A zstd frame may not ask for a
//!   window over 2^[`MAX_ZSTD_WINDOW_LOG`] bytes. A compressed stream that is cut or corrupt
//!   is an error naming the layer; it is decompressed to its end, so gzip's own checksum is
//!   checked too.
//! - **Digests.** A blob stored under its digest (`blobs/sha256/<hex>`) is hashed as it is
//!   read, all of it, whatever its kind (layer, config, unread); bytes that hash to another
//!   digest are [`ArchiveError::Digest`].
//! - **OCI layout without `manifest.json`.** An archive with `index.json` and no
//!   `manifest.json` (an OCI image layout, as `podman save --format oci-archive` writes) is
//!   read through its index: image manifests and nested indexes are JSON blobs of the archive
//!   (bounded like configs, at most [`MAX_INDEX_DEPTH`] indexes deep), and a manifest whose
//!   blob the archive does not hold (another platform's) is skipped.
//! - **Truncation.** Every entry is read to the size its header claims; a stream that ends
//!   first is an error naming that entry (its source has kind
//!   [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof)), and the outer archive must end
//!   with its end-of-archive marker, so a stream cut between two entries is an error too,
//!   never a silently partial result. (A layer's tar may stop without the marker: the outer
//!   entry's size vouches that all its bytes are there.)

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inspect::readytorun::{self, AssemblyKind};

/// Files larger than this are not read for inspection (bytes).
pub const MAX_INSPECTED_FILE_BYTES: u64 = 1 << 30;
/// Largest `manifest.json` read (bytes); `docker save` writes a few kilobytes.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Most layers one image of the manifest may list (the engine itself stops at 127).
pub const MAX_LAYERS_PER_IMAGE: usize = 1024;
/// Most layers all the images of the manifest may list together.
pub const MAX_LAYER_REFERENCES: usize = 65_536;
/// Most links between entries of the outer archive followed in a row to find a layer.
pub const MAX_LINK_HOPS: usize = 16;
/// Largest JSON document (an image config) kept from an archive, bytes; larger ones are
/// skipped.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// Most bytes of JSON documents kept from one archive.
const MAX_JSON_TOTAL_BYTES: u64 = 64 << 20;
/// Most bytes the tar reader may read between two entries: padding, the header, and the
/// extension entries (GNU long names, PAX records) that the tar crate reads into memory.
const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Buffer of a layer stream, bytes.
const LAYER_BUFFER_BYTES: usize = 256 * 1024;
/// A compressed layer blob may expand to at most this many times the compressed bytes read
/// so far (plus [`EXPANSION_ALLOWANCE_BYTES`]); more is refused as a compression bomb. Real
/// layers expand 2 to 10 times; deflate itself cannot exceed about 1,032.
pub const MAX_EXPANSION_RATIO: u64 = 256;
/// What any compressed blob may expand to whatever its ratio, bytes (a small blob of a layer
/// of empty files expands far more than [`MAX_EXPANSION_RATIO`] times, and harmlessly).
pub const EXPANSION_ALLOWANCE_BYTES: u64 = 64 << 20;
/// Largest zstd window accepted, as a power of two (8 MiB): the decoder allocates the window
/// a frame asks for, so a frame may not make it allocate more. zstd's levels 1 to 19 and
/// containerd's zstd layers (8 MiB windows) stay within it.
pub const MAX_ZSTD_WINDOW_LOG: u32 = 23;

/// What a path is in the final view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link; recorded, never followed.
    Symlink {
        /// Where it points, as written in the layer (it may be absolute, or climb with `..`).
        target: String,
    },
    /// A hard link to another path of the same layer set.
    Hardlink {
        /// The linked path, normalised like every path of the image.
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

/// Why an image export could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The engine's export stream failed (the parser then only saw a cut stream).
    #[error("{references}: {cause}")]
    Engine {
        /// The images exported, space-separated.
        references: String,
        /// The engine's error (in the message).
        cause: crate::engine::EngineError,
    },
    /// The exported archive could not be read.
    #[error("{references}: {cause}")]
    Archive {
        /// The images exported, space-separated.
        references: String,
        /// What is wrong with the archive (in the message).
        cause: ArchiveError,
    },
    /// The parsing thread panicked or was cancelled.
    #[error("parsing the export of {references}: {cause}")]
    Parser {
        /// The images exported, space-separated.
        references: String,
        /// The join error (in the message).
        cause: tokio::task::JoinError,
    },
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

/// Errors reading an archive; each names the entry it was reading.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The outer archive could not be read: an I/O error, a malformed header, or an entry cut
    /// short (then the source's kind is [`UnexpectedEof`](io::ErrorKind::UnexpectedEof)).
    #[error("reading image archive entry `{entry}`: {source}")]
    Read {
        /// The outer entry, or `<first header>` / `<header after …>` for a header.
        entry: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A layer could not be read (as [`ArchiveError::Read`], inside the layer).
    #[error("reading layer `{layer}` at `{entry}`: {source}")]
    Layer {
        /// The layer's path in the archive.
        layer: String,
        /// The entry inside the layer.
        entry: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `manifest.json` is missing or malformed, or names layers the archive lacks.
    #[error("image archive manifest: {0}")]
    Manifest(String),
    /// A name or link target of the outer archive, or a path in `manifest.json`, climbs above
    /// the archive's root.
    #[error("image archive entry `{entry}`: `{path}` climbs out of the archive")]
    Escape {
        /// The outer entry (`manifest.json` for a path it lists).
        entry: String,
        /// The offending path, as written.
        path: String,
    },
    /// A name or hard link target inside a layer climbs above the image root.
    #[error("layer `{layer}` entry `{entry}`: `{path}` climbs out of the image root")]
    LayerEscape {
        /// The layer's path in the archive.
        layer: String,
        /// The entry inside the layer, as written.
        entry: String,
        /// The offending path, as written.
        path: String,
    },
    /// An entry claims more bytes than the reader accepts for it.
    #[error(
        "image archive entry `{entry}` claims {claimed} bytes, over the limit of {limit} bytes"
    )]
    TooLarge {
        /// The outer entry.
        entry: String,
        /// The size its header claims, bytes.
        claimed: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// A blob stored under its digest (`blobs/sha256/<hex>`, as the OCI image layout names
    /// them) whose bytes hash to something else: altered, or cut inside its compressed
    /// stream.
    #[error(
        "image archive entry `{entry}`: its bytes hash to {actual}, not the digest its name gives"
    )]
    Digest {
        /// The outer entry.
        entry: String,
        /// `sha256:<hex>` of the bytes read.
        actual: String,
    },
    /// A layer path leads through more than [`MAX_LINK_HOPS`] links (a loop, most likely).
    #[error("image archive entry `{entry}`: more than {hops} links in a row (a loop?)")]
    LinkChain {
        /// The layer path that was looked up.
        entry: String,
        /// The limit of links followed.
        hops: usize,
    },
}

/// Normalises a path from an archive: strips `./` and `/`, resolves `.` and `..` as text,
/// refuses `..` escapes (returns `None`). Every name in an archive is relative to its root,
/// so an absolute path (`/etc/passwd`) is the same as a relative one (`etc/passwd`).
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

/// What a tar reader's input ([`Metered`]) and the loop driving it share.
struct MeterState {
    /// Bytes the tar reader may still read.
    allowance: Cell<u64>,
    /// Whether the stream ended since the meter was armed.
    ended: Cell<bool>,
}

/// A handle on a [`MeterState`].
#[derive(Clone)]
struct Meter(Rc<MeterState>);

impl Meter {
    fn new() -> Meter {
        Meter(Rc::new(MeterState {
            allowance: Cell::new(u64::MAX),
            ended: Cell::new(false),
        }))
    }

    /// From now on, at most `bytes` may be read; forgets an earlier end of stream.
    fn arm(&self, bytes: u64) {
        self.0.allowance.set(bytes);
        self.0.ended.set(false);
    }

    /// Lifts the limit; says whether the stream ended since [`Meter::arm`].
    fn disarm(&self) -> bool {
        self.0.allowance.set(u64::MAX);
        self.0.ended.get()
    }
}

/// The input of a tar reader: reads at most the meter's allowance, and notes the end of the
/// stream. Armed while the tar reader looks for the next entry, it bounds what the tar crate
/// reads (and holds in memory) of extension entries on its own.
struct Metered<R> {
    inner: R,
    meter: Meter,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let state = &self.meter.0;
        let allowance = state.allowance.get();
        if allowance == 0 && !buffer.is_empty() {
            return Err(io::Error::other(format!(
                "more than {MAX_HEADER_BYTES} bytes of headers (long names, PAX records) before one entry"
            )));
        }
        let limit = buffer
            .len()
            .min(usize::try_from(allowance).unwrap_or(usize::MAX));
        let count = self.inner.read(&mut buffer[..limit])?;
        if count == 0 && limit > 0 {
            state.ended.set(true);
        }
        state.allowance.set(allowance.saturating_sub(count as u64));
        Ok(count)
    }
}

/// The data of one entry, read to exactly the size its header claims: the stream ending
/// first is an [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error naming the entry, not a
/// short file.
struct Exact<'n, R> {
    inner: R,
    name: &'n str,
    size: u64,
    remaining: u64,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buffer.is_empty() {
            return Ok(0);
        }
        let limit = buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let count = self.inner.read(&mut buffer[..limit])?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "cut short: `{}` claims {} bytes but its stream ends after {}",
                    self.name,
                    self.size,
                    self.size - self.remaining
                ),
            ));
        }
        self.remaining -= count as u64;
        Ok(count)
    }
}

/// Reads and drops what is left of `reader`.
fn drain(reader: &mut dyn Read) -> io::Result<()> {
    let mut buffer = [0u8; 32 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Fills `buffer` from `reader` as far as the stream allows; returns how much was read.
fn read_up_to(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// One entry of a tar stream, as [`walk_tar`] hands it over.
pub(crate) struct TarEntry<'e> {
    /// The name as written (lossy UTF-8), not normalised.
    pub(crate) path: &'e str,
    /// The link target as written, for links.
    pub(crate) link: Option<&'e [u8]>,
    /// The entry type.
    pub(crate) kind: tar::EntryType,
    /// Permission bits (0 if unreadable).
    pub(crate) mode: u32,
    /// The size the header claims, bytes.
    pub(crate) size: u64,
    /// The entry's data, which fails rather than end before `size` bytes (empty for a
    /// sparse file, which is never read).
    pub(crate) data: &'e mut dyn Read,
}

/// Reads a tar stream entry by entry, under this module's rules: the headers before each
/// entry are bounded, each entry's data is drained to its claimed size (an early end is an
/// error naming it), and with `require_end_marker` a stream that stops without the
/// end-of-archive marker is an error too. `error` builds the error for an entry name.
pub(crate) fn walk_tar(
    reader: impl Read,
    require_end_marker: bool,
    error: &dyn Fn(&str, io::Error) -> ArchiveError,
    visit: &mut dyn FnMut(TarEntry<'_>) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let meter = Meter::new();
    let mut archive = tar::Archive::new(Metered {
        inner: reader,
        meter: meter.clone(),
    });
    let mut entries = archive
        .entries()
        .map_err(|source| error("<first header>", source))?;
    let mut previous: Option<String> = None;
    let header_name = |previous: &Option<String>| match previous {
        Some(name) => format!("<header after {name}>"),
        None => "<first header>".to_string(),
    };
    // Bytes of the previous entry left for the tar reader to skip (a sparse file's).
    let mut owed = 0;
    loop {
        meter.arm(MAX_HEADER_BYTES.saturating_add(owed));
        let next = entries.next();
        let ended = meter.disarm();
        let mut entry = match next {
            None if ended && require_end_marker => {
                let cut = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream stops without an end-of-archive marker: it was cut",
                );
                return Err(error(&header_name(&previous), cut));
            }
            None => return Ok(()),
            Some(Err(source)) => return Err(error(&header_name(&previous), source)),
            Some(Ok(entry)) => entry,
        };
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry.link_name_bytes().map(|bytes| bytes.into_owned());
        let (kind, mode, size) = (
            entry.header().entry_type(),
            entry.header().mode().unwrap_or(0),
            entry.size(),
        );
        // A sparse file reads as the size its header claims, mostly zeros the tar crate makes
        // up: it is not read at all (a hole of a petabyte would take forever to drain), and
        // the tar reader skips the bytes actually stored before the next header.
        let sparse = kind == tar::EntryType::GNUSparse;
        owed = if sparse {
            entry.header().entry_size().unwrap_or(0)
        } else {
            0
        };
        let readable = if sparse { 0 } else { size };
        let mut data = Exact {
            inner: &mut entry,
            name: &path,
            size: readable,
            remaining: readable,
        };
        visit(TarEntry {
            path: &path,
            link: link.as_deref(),
            kind,
            mode,
            size,
            data: &mut data,
        })?;
        drain(&mut data).map_err(|source| error(&path, source))?;
        previous = Some(path);
    }
}

/// What one entry of a layer tar does to the image.
pub(crate) enum LayerChange {
    /// Nothing (the root directory, a PAX global header).
    Nothing,
    /// Hides everything the layers below have under this directory.
    Opaque(String),
    /// Deletes this path (and what is under it) from the layers below.
    Whiteout(String),
    /// Writes this path.
    Write {
        /// The normalised path.
        path: String,
        /// What it is.
        file_type: FileType,
    },
}

/// Applies the path rules of the module doc to one entry of `layer`: its name is normalised
/// (an escape is [`ArchiveError::LayerEscape`]), whiteouts must name a file, a hard link's
/// target is normalised (an escape is an error too), a symbolic link's is kept as written.
pub(crate) fn layer_change(layer: &str, entry: &TarEntry<'_>) -> Result<LayerChange, ArchiveError> {
    let refuse = |reason: &str| ArchiveError::Layer {
        layer: layer.to_string(),
        entry: entry.path.to_string(),
        source: io::Error::other(reason.to_string()),
    };
    let escape = |path: &str| ArchiveError::LayerEscape {
        layer: layer.to_string(),
        entry: entry.path.to_string(),
        path: path.to_string(),
    };
    if entry.kind == tar::EntryType::XGlobalHeader {
        return Ok(LayerChange::Nothing);
    }
    let path = normalise(entry.path).ok_or_else(|| escape(entry.path))?;
    if path.is_empty() {
        return match entry.kind {
            tar::EntryType::Directory => Ok(LayerChange::Nothing),
            _ => Err(refuse(
                "an entry that is not a directory names the image root",
            )),
        };
    }
    let (parent, file_name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    if file_name == ".wh..wh..opq" {
        return Ok(LayerChange::Opaque(parent.to_string()));
    }
    if let Some(hidden) = file_name.strip_prefix(".wh.") {
        if matches!(hidden, "" | "." | "..") {
            return Err(refuse("a whiteout that names no file"));
        }
        return Ok(LayerChange::Whiteout(if parent.is_empty() {
            hidden.to_string()
        } else {
            format!("{parent}/{hidden}")
        }));
    }
    let link = || String::from_utf8_lossy(entry.link.unwrap_or_default()).into_owned();
    let file_type = match entry.kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => FileType::Regular,
        tar::EntryType::Directory => FileType::Directory,
        tar::EntryType::Symlink => FileType::Symlink { target: link() },
        tar::EntryType::Link => {
            let written = link();
            let target = normalise(&written).ok_or_else(|| escape(&written))?;
            if target.is_empty() {
                return Err(refuse("a hard link without a target"));
            }
            FileType::Hardlink { target }
        }
        _ => FileType::Other,
    };
    Ok(LayerChange::Write { path, file_type })
}

#[derive(Default)]
struct LayerContent {
    entries: Vec<FileRecord>,
    whiteouts: Vec<String>,
    opaque_directories: Vec<String>,
}

/// One image of an archive's `manifest.json`; [`walk_archive`] normalises its paths.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    /// Path of the image's config in the archive.
    #[serde(rename = "Config")]
    pub config: String,
    /// The image's tags.
    #[serde(rename = "RepoTags", default)]
    pub tags: Vec<String>,
    /// Paths of the image's layers in the archive, bottom first (the same layer may come
    /// twice: an image can have two identical layers).
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// What walking an archive found besides its layers.
#[derive(Debug, Default)]
pub struct ArchiveIndex {
    /// The images of `manifest.json`, paths normalised.
    pub manifest: Vec<ManifestEntry>,
    /// Small JSON documents (image configs) by normalised path.
    pub configs: HashMap<String, Vec<u8>>,
    /// Entries that are links to another entry (`docker save` links duplicate layers), by
    /// normalised path, to the normalised path they name.
    pub aliases: HashMap<String, String>,
    /// Regular entries that were neither a layer (a tar stream, plain or compressed) nor a JSON
    /// document kept in [`ArchiveIndex::configs`].
    pub unread: BTreeSet<String>,
    /// Every layer handed to the layer reader, by normalised path: how the archive stores it.
    pub blobs: HashMap<String, StoredBlob>,
}

/// How an archive stores a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobCompression {
    /// An uncompressed tar (`docker save` on the classic store, podman's docker-archive).
    None,
    /// gzip (the containerd image store keeps layers as a registry would serve them).
    Gzip,
    /// zstd.
    Zstd,
}

impl BlobCompression {
    /// The name used in results: `none`, `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            BlobCompression::None => "none",
            BlobCompression::Gzip => "gzip",
            BlobCompression::Zstd => "zstd",
        }
    }
}

/// One layer blob of an archive, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBlob {
    /// How it is compressed.
    pub compression: BlobCompression,
    /// Its size as the archive stores it (compressed, for a compressed blob): exactly what a
    /// registry is sent for it when the engine pushes the blob it keeps, bytes.
    pub stored_bytes: u64,
    /// Whether its name gave its digest and its bytes were checked against it.
    pub digest_checked: bool,
}

impl ArchiveIndex {
    /// The path a layer's bytes are stored under, following links (at most
    /// [`MAX_LINK_HOPS`]; more is [`ArchiveError::LinkChain`]).
    pub fn resolve<'a>(&'a self, path: &'a str) -> Result<&'a str, ArchiveError> {
        let mut current = path;
        for _ in 0..=MAX_LINK_HOPS {
            match self.aliases.get(current) {
                Some(target) => current = target,
                None => return Ok(current),
            }
        }
        Err(ArchiveError::LinkChain {
            entry: path.to_string(),
            hops: MAX_LINK_HOPS,
        })
    }

    /// The error for a layer of the manifest that was not found as a tar stream.
    pub fn missing_layer(&self, path: &str) -> ArchiveError {
        let stored = self.resolve(path).unwrap_or(path);
        if self.unread.contains(stored) {
            ArchiveError::Manifest(format!(
                "layer `{path}` is in the archive but is neither a tar stream nor a gzip or zstd one"
            ))
        } else {
            ArchiveError::Manifest(format!("layer `{path}` is listed but not in the archive"))
        }
    }
}

/// Parses `manifest.json` and checks it: at least one image, the layer counts bounded, every
/// path normalised (an escape is [`ArchiveError::Escape`]).
fn parse_manifest(text: &[u8]) -> Result<Vec<ManifestEntry>, ArchiveError> {
    let mut manifest: Vec<ManifestEntry> = serde_json::from_slice(text).map_err(|error| {
        ArchiveError::Manifest(format!("`manifest.json` is not a list of images: {error}"))
    })?;
    if manifest.is_empty() {
        return Err(ArchiveError::Manifest(
            "`manifest.json` lists no image".into(),
        ));
    }
    let references: usize = manifest.iter().map(|image| image.layers.len()).sum();
    if references > MAX_LAYER_REFERENCES {
        return Err(ArchiveError::Manifest(format!("`manifest.json` lists {references} layers in all, over the limit of {MAX_LAYER_REFERENCES}")));
    }
    let clean = |path: &str| {
        normalise(path).ok_or_else(|| ArchiveError::Escape {
            entry: "manifest.json".into(),
            path: path.to_string(),
        })
    };
    for (position, image) in manifest.iter_mut().enumerate() {
        if image.layers.len() > MAX_LAYERS_PER_IMAGE {
            let count = image.layers.len();
            return Err(ArchiveError::Manifest(format!(
                "`manifest.json` image {position} lists {count} layers, over the limit of {MAX_LAYERS_PER_IMAGE}"
            )));
        }
        image.config = clean(&image.config)?;
        for layer in &mut image.layers {
            *layer = clean(layer)?;
        }
    }
    Ok(manifest)
}

/// Walks an image archive: `manifest.json` and configs are collected, links between entries
/// recorded, and every layer (a tar stream, possibly empty) handed to `on_layer` with its
/// normalised path. Entries and headers are read under the rules of the module doc: an
/// error names the entry, and nothing is allocated on a header's word.
pub fn walk_archive(
    reader: impl Read,
    on_layer: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), ArchiveError>,
) -> Result<ArchiveIndex, ArchiveError> {
    let mut index = ArchiveIndex::default();
    let mut manifest = None;
    let mut json_bytes = 0;
    let read_error = |entry: &str, source| ArchiveError::Read {
        entry: entry.to_string(),
        source,
    };
    walk_tar(reader, true, &read_error, &mut |entry| {
        let escape = |path: &str| ArchiveError::Escape {
            entry: entry.path.to_string(),
            path: path.to_string(),
        };
        let name = normalise(entry.path).ok_or_else(|| escape(entry.path))?;
        if name.is_empty() && entry.kind != tar::EntryType::Directory {
            return Err(read_error(
                entry.path,
                io::Error::other("an entry that is not a directory names the archive root"),
            ));
        }
        match entry.kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = String::from_utf8_lossy(entry.link.unwrap_or_default()).into_owned();
                // A symbolic link's relative target starts from the link's directory; a hard
                // link's, and an absolute one, from the archive's root.
                let joined = match name.rsplit_once('/') {
                    Some((directory, _))
                        if entry.kind == tar::EntryType::Symlink && !target.starts_with('/') =>
                    {
                        format!("{directory}/{target}")
                    }
                    _ => target.clone(),
                };
                let resolved = normalise(&joined).ok_or_else(|| escape(&target))?;
                if resolved.is_empty() {
                    return Err(read_error(
                        &name,
                        io::Error::other("a link without a target"),
                    ));
                }
                index.aliases.insert(name, resolved);
                return Ok(());
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => return Ok(()),
        }
        if name == "manifest.json" {
            if manifest.is_some() {
                return Err(ArchiveError::Manifest(
                    "the archive holds two `manifest.json` entries".into(),
                ));
            }
            if entry.size > MAX_MANIFEST_BYTES {
                return Err(ArchiveError::TooLarge {
                    entry: name,
                    claimed: entry.size,
                    limit: MAX_MANIFEST_BYTES,
                });
            }
            let mut text = Vec::new();
            entry
                .data
                .read_to_end(&mut text)
                .map_err(|source| read_error(&name, source))?;
            manifest = Some(parse_manifest(&text)?);
            return Ok(());
        }
        let digest = blob_digest(&name);
        let consumed = Rc::new(Cell::new(0u64));
        let mut raw = RawBlob {
            inner: &mut *entry.data,
            hasher: digest.map(|_| Sha256::new()),
            consumed: consumed.clone(),
        };
        let mut head = [0u8; 512];
        let length = read_up_to(&mut raw, &mut head).map_err(|source| read_error(&name, source))?;
        let head = &head[..length];
        if head.first() == Some(&b'{') {
            if entry.size <= MAX_JSON_BYTES {
                json_bytes += entry.size;
                if json_bytes > MAX_JSON_TOTAL_BYTES {
                    let reason = format!("JSON documents in the archive come to more than {MAX_JSON_TOTAL_BYTES} bytes");
                    return Err(read_error(&name, io::Error::other(reason)));
                }
                let mut bytes = head.to_vec();
                raw.read_to_end(&mut bytes)
                    .map_err(|source| read_error(&name, source))?;
                index.configs.insert(name.clone(), bytes);
            } else {
                index.unread.insert(name.clone());
            }
        } else {
            match blob_compression(head) {
                Some(BlobCompression::None) => {
                    let mut layer =
                        BufReader::with_capacity(LAYER_BUFFER_BYTES, head.chain(&mut raw));
                    on_layer(&name, &mut layer)?;
                    index.blobs.insert(
                        name.clone(),
                        StoredBlob {
                            compression: BlobCompression::None,
                            stored_bytes: entry.size,
                            digest_checked: digest.is_some(),
                        },
                    );
                }
                Some(compression) => {
                    let source = BufReader::with_capacity(LAYER_BUFFER_BYTES, head.chain(&mut raw));
                    let decoder: Box<dyn Read + '_> = match compression {
                        BlobCompression::Gzip => {
                            Box::new(flate2::bufread::MultiGzDecoder::new(source))
                        }
                        _ => {
                            let mut decoder = zstd::stream::read::Decoder::with_buffer(source)
                                .map_err(|source| read_error(&name, source))?;
                            decoder
                                .window_log_max(MAX_ZSTD_WINDOW_LOG)
                                .map_err(|source| read_error(&name, source))?;
                            Box::new(decoder)
                        }
                    };
                    let mut bounded = Expansion {
                        inner: decoder,
                        consumed,
                        produced: 0,
                        compression,
                    };
                    let mut layer = BufReader::with_capacity(LAYER_BUFFER_BYTES, &mut bounded);
                    on_layer(&name, &mut layer)?;
                    // To its end: a cut or corrupt stream (gzip's checksum) is an error here
                    // even when the tar inside ended early.
                    drain(&mut layer).map_err(|source| read_error(&name, source))?;
                    index.blobs.insert(
                        name.clone(),
                        StoredBlob {
                            compression,
                            stored_bytes: entry.size,
                            digest_checked: digest.is_some(),
                        },
                    );
                }
                None => {
                    index.unread.insert(name.clone());
                }
            }
        }
        if let Some(expected) = digest {
            drain(&mut raw).map_err(|source| read_error(&name, source))?;
            let actual = hex::encode(raw.hasher.take().unwrap_or_default().finalize());
            if actual != expected {
                return Err(ArchiveError::Digest {
                    entry: name,
                    actual: format!("sha256:{actual}"),
                });
            }
        }
        Ok(())
    })?;
    index.manifest = match manifest {
        Some(manifest) => manifest,
        None if index.configs.contains_key("index.json") => manifest_from_oci_index(&index)?,
        None => {
            return Err(ArchiveError::Manifest(
                "no `manifest.json` (nor an OCI `index.json`) in the archive".into(),
            ))
        }
    };
    Ok(index)
}

/// The hex digest a blob's name gives: `blobs/sha256/<64 lowercase hex digits>`.
fn blob_digest(name: &str) -> Option<&str> {
    let hex = name.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// What a blob's first bytes say it is: a tar stream (a ustar header, or the zero block that
/// starts an empty layer), gzip, zstd, or `None` for anything else.
fn blob_compression(head: &[u8]) -> Option<BlobCompression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(BlobCompression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(BlobCompression::Zstd)
    } else if (head.len() >= 262 && &head[257..262] == b"ustar")
        || (head.len() == 512 && head.iter().all(|byte| *byte == 0))
    {
        Some(BlobCompression::None)
    } else {
        None
    }
}

/// The bytes of one outer entry as read: counted (for [`Expansion`]) and, for a blob named by
/// its digest, hashed.
struct RawBlob<'a> {
    inner: &'a mut dyn Read,
    hasher: Option<Sha256>,
    consumed: Rc<Cell<u64>>,
}

impl Read for RawBlob<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buffer[..count]);
        }
        self.consumed.set(self.consumed.get() + count as u64);
        Ok(count)
    }
}

/// A decompressed layer stream that may not outgrow its compressed input: at most
/// [`MAX_EXPANSION_RATIO`] times the compressed bytes read so far, plus
/// [`EXPANSION_ALLOWANCE_BYTES`].
struct Expansion<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
    produced: u64,
    compression: BlobCompression,
}

impl<R: Read> Read for Expansion<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.produced += count as u64;
        let consumed = self.consumed.get();
        let limit = consumed
            .saturating_mul(MAX_EXPANSION_RATIO)
            .saturating_add(EXPANSION_ALLOWANCE_BYTES);
        if self.produced > limit {
            return Err(io::Error::other(format!(
                "its {} stream expands to more than {} bytes from {consumed} compressed bytes, \
                 over {MAX_EXPANSION_RATIO} times plus {EXPANSION_ALLOWANCE_BYTES} bytes: a compression bomb?",
                self.compression.name(),
                self.produced
            )));
        }
        Ok(count)
    }
}

/// Most nested indexes followed from `index.json` to an image manifest.
pub const MAX_INDEX_DEPTH: usize = 4;

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// The blob path of a descriptor's digest (`sha256:<hex>` only).
fn descriptor_path(descriptor: &OciDescriptor) -> Result<String, ArchiveError> {
    let path = descriptor
        .digest
        .strip_prefix("sha256:")
        .map(|hex| format!("blobs/sha256/{hex}"))
        .filter(|path| blob_digest(path).is_some());
    path.ok_or_else(|| {
        ArchiveError::Manifest(format!(
            "`index.json`: `{}` is not a sha256 digest",
            descriptor.digest
        ))
    })
}

/// The images of an OCI layout, read through `index.json` (see the module doc).
fn manifest_from_oci_index(index: &ArchiveIndex) -> Result<Vec<ManifestEntry>, ArchiveError> {
    fn visit(
        index: &ArchiveIndex,
        document: &[u8],
        name: &str,
        inherited_tags: &[String],
        depth: usize,
        images: &mut Vec<ManifestEntry>,
    ) -> Result<(), ArchiveError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(ArchiveError::Manifest(format!(
                "`{name}`: indexes nested more than {MAX_INDEX_DEPTH} deep"
            )));
        }
        let parsed: OciIndex = serde_json::from_slice(document).map_err(|error| {
            ArchiveError::Manifest(format!("`{name}` is not an OCI index: {error}"))
        })?;
        for descriptor in &parsed.manifests {
            let path = descriptor_path(descriptor)?;
            let mut tags: Vec<String> = [
                "io.containerd.image.name",
                "org.opencontainers.image.ref.name",
            ]
            .iter()
            .filter_map(|key| descriptor.annotations.get(*key))
            .filter(|name| name.contains(':') || name.contains('/'))
            .take(1)
            .cloned()
            .collect();
            if tags.is_empty() {
                tags = inherited_tags.to_vec();
            }
            // Another platform's manifest, or one not exported: not in the archive.
            let Some(bytes) = index.configs.get(&path) else {
                continue;
            };
            let nested = descriptor.media_type.contains("index")
                || descriptor.media_type.contains("manifest.list");
            if nested {
                visit(index, bytes, &path, &tags, depth + 1, images)?;
                continue;
            }
            let manifest: OciManifest = serde_json::from_slice(bytes).map_err(|error| {
                ArchiveError::Manifest(format!("`{path}` is not an image manifest: {error}"))
            })?;
            let layers = manifest
                .layers
                .iter()
                .map(descriptor_path)
                .collect::<Result<Vec<_>, _>>()?;
            if layers.len() > MAX_LAYERS_PER_IMAGE {
                return Err(ArchiveError::Manifest(format!(
                    "`{path}` lists {} layers, over the limit of {MAX_LAYERS_PER_IMAGE}",
                    layers.len()
                )));
            }
            images.push(ManifestEntry {
                config: descriptor_path(&manifest.config)?,
                tags,
                layers,
            });
            let references: usize = images.iter().map(|image| image.layers.len()).sum();
            if references > MAX_LAYER_REFERENCES {
                return Err(ArchiveError::Manifest(format!(
                    "the OCI index lists {references} layers in all, over the limit of {MAX_LAYER_REFERENCES}"
                )));
            }
        }
        Ok(())
    }
    let mut images = Vec::new();
    visit(
        index,
        &index.configs["index.json"],
        "index.json",
        &[],
        0,
        &mut images,
    )?;
    if images.is_empty() {
        return Err(ArchiveError::Manifest(
            "`index.json` leads to no image manifest in the archive".into(),
        ));
    }
    Ok(images)
}

/// A reference as the engines compare names: `localhost/` (podman's prefix for images built
/// or tagged without a registry), `docker.io/` and `docker.io/library/` (the containerd
/// store's full names) are dropped, so that `r2r/quick:x`, `localhost/r2r/quick:x` and
/// `docker.io/r2r/quick:x` are one name. Used to find an image of a plan among the tags an
/// engine's export gives it.
pub fn familiar_reference(reference: &str) -> &str {
    for prefix in ["localhost/", "docker.io/library/", "docker.io/"] {
        if let Some(rest) = reference.strip_prefix(prefix) {
            return rest;
        }
    }
    reference
}

/// A blocking [`Read`] over chunks arriving on a channel (from an async export stream).
pub struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl ChannelReader {
    /// Reads the chunks sent on `receiver` until it closes.
    pub fn new(receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChannelReader {
            receiver,
            current: bytes::Bytes::new(),
        }
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
    engine: &dyn crate::engine::Images,
    references: &[String],
    parse: impl FnOnce(ChannelReader) -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, ExportError> {
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
                export_error = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let references = references.join(" ");
    let parsed = parser.await.map_err(|cause| ExportError::Parser {
        references: references.clone(),
        cause,
    })?;
    match export_error {
        Some(cause) => Err(ExportError::Engine { references, cause }),
        None => parsed.map_err(|cause| ExportError::Archive { references, cause }),
    }
}

/// Reads an image archive from `reader` into the first image's final file system view.
/// `inspect(path)` says which regular files to read and classify as assemblies. The rules of
/// the module doc apply; a layer the manifest lists but the archive lacks is an error.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(if path.ends_with('/') {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
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
        let names: Vec<String> = (0..layers.len())
            .map(|i| format!("l{i}/layer.tar"))
            .collect();
        let manifest =
            serde_json::json!([{ "Config": "c.json", "RepoTags": ["x:y"], "Layers": names }])
                .to_string();
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
        let bottom = layer(&[
            ("etc/", b""),
            ("etc/a", b"1"),
            ("etc/b", b"2"),
            ("opt/d/x", b"3"),
            ("keep", b"k"),
        ]);
        let top = layer(&[
            ("etc/.wh.a", b""),
            ("opt/d/.wh..wh..opq", b""),
            ("opt/d/y", b"4"),
            ("./keep", b"kk"),
        ]);
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
        let bytes = archive(
            &[layer(&[("app/not.dll", b"plain text, not a PE file")])],
            true,
        );
        let view = read_image_archive(bytes.as_slice(), &|path| path.ends_with(".dll")).unwrap();
        assert_eq!(
            view.get("app/not.dll").unwrap().assembly,
            Some(Ok(AssemblyKind::NotPortableExecutable))
        );

        let bytes = archive(&[layer(&[("../../etc/passwd", b"x")])], true);
        let error = read_image_archive(bytes.as_slice(), &|_| false).unwrap_err();
        assert!(error.to_string().contains("../../etc/passwd"), "{error}");
        assert_eq!(normalise("./a/../b"), Some("b".into()));
        assert_eq!(normalise("a/../../b"), None);
    }

    #[test]
    fn familiar_references_drop_the_engines_prefixes() {
        assert_eq!(familiar_reference("localhost/r2r/quick:x"), "r2r/quick:x");
        assert_eq!(familiar_reference("docker.io/r2r/quick:x"), "r2r/quick:x");
        assert_eq!(
            familiar_reference("docker.io/library/debian:13"),
            "debian:13"
        );
        assert_eq!(familiar_reference("r2r/quick:x"), "r2r/quick:x");
        // A registry on this machine is a registry, not podman's local prefix.
        assert_eq!(
            familiar_reference("localhost:5000/r2r/quick:x"),
            "localhost:5000/r2r/quick:x"
        );
    }

    #[test]
    fn blob_names_and_kinds_are_recognised() {
        let hex = "a".repeat(64);
        assert_eq!(
            blob_digest(&format!("blobs/sha256/{hex}")),
            Some(hex.as_str())
        );
        assert_eq!(
            blob_digest(&format!("blobs/sha256/{}", "A".repeat(64))),
            None
        );
        assert_eq!(blob_digest("blobs/sha256/abc"), None);
        assert_eq!(blob_digest(&format!("blobs/sha512/{hex}")), None);
        assert_eq!(
            blob_compression(b"\x1f\x8b\x08\x00"),
            Some(BlobCompression::Gzip)
        );
        assert_eq!(
            blob_compression(b"\x28\xb5\x2f\xfd\x00"),
            Some(BlobCompression::Zstd)
        );
        assert_eq!(blob_compression(&[0u8; 512]), Some(BlobCompression::None));
        assert_eq!(blob_compression(&[0u8; 100]), None);
        assert_eq!(blob_compression(b"PK\x03\x04"), None);
    }

    #[test]
    fn a_truncated_or_foreign_archive_is_an_error() {
        let bytes = archive(&[layer(&[("a", b"1")])], false);
        let error = read_image_archive(&bytes[..bytes.len() / 2], &|_| false).unwrap_err();
        assert!(
            error.to_string().contains("manifest") || error.to_string().contains("reading"),
            "{error}"
        );
        let error = read_image_archive(&b"not a tar"[..], &|_| false).unwrap_err();
        assert!(error.to_string().contains("archive"), "{error}");
    }
}
