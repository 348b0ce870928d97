//! Image sizes, exactly: per layer (uncompressed, gzip as a registry stores it, zstd), per
//! image, and how much of a set of images is stored only once.
//!
//! An image archive (`docker save`, legacy or OCI layout) is read as a stream. Each layer's
//! bytes go through SHA-256 (its diff id) and a tar reader (file sizes, for the engine's own
//! accounting and for waste) on the reading thread, and into a temporary file (a spool) that
//! a pool of compressor threads, one per core, reads: a gzip (level 6, what `docker push`
//! sends) and a zstd (level 3, what containerd's zstd layers use) job per layer. The
//! reader goes on with the next layer while the compressors work, so different layers compress
//! on different cores at once; while more than [`SPOOL_LIMIT_BYTES`] of earlier layers wait for
//! the compressors, the reader waits before it starts another layer, so the spool stays
//! bounded (it is unlinked from the start and gone when its jobs end). No layer is ever held
//! in memory. Each compressor cuts what it reads into blocks of the same size before
//! compressing, so a layer's compressed size depends on its bytes only, never on how the
//! stream happened to be read or spooled: one layer, one gzip figure.
//!
//! With a [`MeasurementCache`](crate::measure::cache::MeasurementCache), a layer measured before is
//! not compressed again: a layer named by its digest (an OCI layout blob) and known to the cache is
//! skipped unread; any other layer is hashed and spooled, and compressed only if its diff id is not
//! in the cache. Layers already measured within an archive (known by path) are read once.
//!
//! Archives are read under the rules of [`crate::inspect::archive`] (it walks the archive and judges
//! every layer entry): nothing is written to disk but the spool, a path or hard link that climbs out of its
//! root is an error naming the entry, sizes from headers are never allocated, and a stream
//! cut short is an error naming the entry that was cut.

use std::sync::OnceLock;

mod compress;
mod figures;
mod image;
mod pool;
mod reading;
mod sharing;

pub use compress::{gzip_size, zstd_size, GZIP_LEVEL, ZSTD_LEVEL};
pub(crate) use figures::LayerFiles;
pub use figures::{chain_id, ImageAnalysis, ImageLayer, LayerFigures, WastedFile};
pub use image::{analyze_archive, ArchiveImage};
pub(crate) use image::{analyze_archive_cached, analyze_image, config_diff_ids};
pub use sharing::{chain_ids, sharing, SetMember, SetSharing};

use compress::{Codec, COMPRESS_BLOCK_BYTES};

/// Most bytes of finished layers that may wait in the spool for the compressors before the
/// reader waits for them (the layer being read comes on top), bytes.
pub const SPOOL_LIMIT_BYTES: u64 = 512 << 20;
/// Revision of what a layer's measurement holds and how it is taken; part of
/// [`code_version`]. Raise it when the figures or the file lists of a layer would change.
const MEASURE_REVISION: u32 = 1;

/// The version of this measuring code, as the cache keys entries by: the measurement's
/// revision, the compression levels and block size, the gzip and zstd sizes of a fixed
/// input (so a change of the linked compressors that would change a figure changes it too),
/// and a hash of the source that walks layers (this module and the archive reader).
pub fn code_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        // 1.5 MiB of words in a fixed pseudo-random order, with some random bytes between:
        // matches near and far, literals, and more than one block.
        let words = [
            "System.", "Runtime", "dotnet", "usr/share/", ".dll", "\0\0\0\0", "Microsoft", "Core",
            "composite", "r2r", "\n", "ReadyToRun", "libcoreclr.so", "{\"a\":1}", " ", "x86_64",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut probe = Vec::with_capacity(3 << 19);
        while probe.len() < 3 << 19 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(5) {
                probe.extend_from_slice(&state.to_le_bytes()[..3]);
            } else {
                probe.extend_from_slice(words[(state >> 40) as usize % words.len()].as_bytes());
            }
        }
        let size = |codec: Codec| {
            codec
                .size_of(&probe)
                .map(|size| size.to_string())
                .unwrap_or_else(|_| "x".into())
        };
        // The code that walks a layer and takes its figures, as compiled in.
        let source = crate::support::hash::sha256_hex(
            [
                include_str!("layers.rs").to_string(),
                include_str!("layers/compress.rs").to_string(),
                include_str!("layers/figures.rs").to_string(),
                include_str!("layers/image.rs").to_string(),
                include_str!("layers/pool.rs").to_string(),
                include_str!("layers/reading.rs").to_string(),
                include_str!("layers/sharing.rs").to_string(),
                crate::inspect::archive::source_text(),
            ]
            .concat()
            .as_bytes(),
        );
        format!(
            "m{MEASURE_REVISION}-gzip{GZIP_LEVEL}-zstd{ZSTD_LEVEL}-b{COMPRESS_BLOCK_BYTES}-{}.{}-{}",
            size(Codec::Gzip),
            size(Codec::Zstd),
            &source[..16]
        )
    })
}

#[cfg(test)]
mod tests;
