//! Reading an image archive (`docker save` format, legacy or OCI layout) as a stream, into
//! the image's final file system view: every layer applied in order, whiteouts honoured.
//!
//! Nothing is extracted to disk and no layer is held in memory: each layer tar is read entry by
//! entry; only the files a caller asks for (`inspect`) are read, one at a time, and reduced to
//! their [`AssemblyKind`](crate::inspect::readytorun::AssemblyKind).
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

use std::io;

mod blobs;
mod export;
mod layer_entry;
mod manifest;
mod tar_stream;
mod view;
mod walk;

pub use blobs::{BlobCompression, StoredBlob};
pub use export::{familiar_reference, parse_export, ChannelReader, ExportError};
pub use layer_entry::FileType;
pub(crate) use layer_entry::{layer_change, LayerChange};
pub use manifest::{ArchiveIndex, ManifestEntry, MAX_INDEX_DEPTH};
pub(crate) use tar_stream::walk_tar;
pub use view::{
    read_image_archive, read_image_archives_with, AnalysedImage, FileRecord, ImageFilesystem,
    InspectError,
};
pub use walk::walk_archive;

/// The source of this reader as compiled in (without its tests): figures taken from archives
/// are cached under a hash of it, so that a change to how archives are read measures again.
pub(crate) fn source_text() -> String {
    [
        include_str!("archive.rs"),
        include_str!("archive/blobs.rs"),
        include_str!("archive/export.rs"),
        include_str!("archive/layer_entry.rs"),
        include_str!("archive/manifest.rs"),
        include_str!("archive/tar_stream.rs"),
        include_str!("archive/view.rs"),
        include_str!("archive/walk.rs"),
    ]
    .concat()
}

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

#[cfg(test)]
mod tests;
