//! Blobs of an archive as stored: named by digest (and then hashed as they are read),
//! compressed or not, and decompressed under a bound on their expansion.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EXPANSION_ALLOWANCE_BYTES, MAX_EXPANSION_RATIO};

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

/// The hex digest a blob's name gives: `blobs/sha256/<64 lowercase hex digits>`.
pub(super) fn blob_digest(name: &str) -> Option<&str> {
    let hex = name.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// What a blob's first bytes say it is: a tar stream (a ustar header, or the zero block that
/// starts an empty layer), gzip, zstd, or `None` for anything else.
pub(super) fn blob_compression(head: &[u8]) -> Option<BlobCompression> {
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
pub(super) struct RawBlob<'a> {
    pub(super) inner: &'a mut dyn Read,
    pub(super) hasher: Option<Sha256>,
    pub(super) consumed: Rc<Cell<u64>>,
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
pub(super) struct Expansion<R> {
    pub(super) inner: R,
    pub(super) consumed: Rc<Cell<u64>>,
    pub(super) produced: u64,
    pub(super) compression: BlobCompression,
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
