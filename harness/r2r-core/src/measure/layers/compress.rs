//! The gzip and zstd figures of a layer: its bytes cut into blocks of one size and fed to
//! encoders that only count what they write.

use std::io::Write;

/// gzip level of `docker push`.
pub const GZIP_LEVEL: u32 = 6;
/// zstd level of containerd's zstd layers.
pub const ZSTD_LEVEL: i32 = 3;
/// Size of the blocks every compressor is fed, bytes (the last block of a layer is shorter).
pub(super) const COMPRESS_BLOCK_BYTES: usize = 1 << 20;

/// Counts bytes written to it.
#[derive(Default)]
pub(super) struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.0 += buffer.len() as u64;
        Ok(buffer.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The two compressed figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// gzip level [`GZIP_LEVEL`].
    Gzip,
    /// zstd level [`ZSTD_LEVEL`].
    Zstd,
}

impl Codec {
    pub(super) fn encoder(self) -> std::io::Result<Encoder> {
        Ok(match self {
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                CountingSink::default(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(
                CountingSink::default(),
                ZSTD_LEVEL,
            )?),
        })
    }

    /// The compressed size of `bytes`, fed in blocks as every compressor is.
    pub(super) fn size_of(self, bytes: &[u8]) -> std::io::Result<u64> {
        let mut encoder = self.encoder()?;
        for block in bytes.chunks(COMPRESS_BLOCK_BYTES) {
            encoder.block(block)?;
        }
        encoder.finish()
    }
}

/// The gzip figure of a layer's bytes, as the size analysis takes it (level [`GZIP_LEVEL`],
/// fed in the same blocks), bytes.
pub fn gzip_size(bytes: &[u8]) -> std::io::Result<u64> {
    Codec::Gzip.size_of(bytes)
}

/// The zstd figure of a layer's bytes, as the size analysis takes it (level [`ZSTD_LEVEL`],
/// fed in the same blocks), bytes.
pub fn zstd_size(bytes: &[u8]) -> std::io::Result<u64> {
    Codec::Zstd.size_of(bytes)
}

/// One layer's compression under way, fed in blocks of [`COMPRESS_BLOCK_BYTES`] (the last one
/// shorter), whatever sizes the layer's bytes arrived in, so that its compressed size
/// depends on the bytes only.
///
/// This matters for gzip: zlib-rs compresses levels 3 to 6 with `deflate_medium`, which keeps
/// the match it found one position ahead only until it next refills its window; how much it
/// can refill, and so where those matches are dropped, depends on how much input each call
/// hands it. Fed the reads of a socket as they come, one layer of 84,889,600 bytes gave four
/// gzip sizes a few kilobytes apart in four runs. Cut at the same offsets every time, the
/// encoder sees the same calls and writes the same stream.
pub(super) enum Encoder {
    Gzip(flate2::write::GzEncoder<CountingSink>),
    Zstd(zstd::stream::write::Encoder<'static, CountingSink>),
}

impl Encoder {
    /// Compresses the next block: [`COMPRESS_BLOCK_BYTES`] long unless it is the last.
    pub(super) fn block(&mut self, block: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(encoder) => encoder.write_all(block),
            Encoder::Zstd(encoder) => encoder.write_all(block),
        }
    }

    /// Ends the stream; its size, bytes.
    pub(super) fn finish(self) -> std::io::Result<u64> {
        Ok(match self {
            Encoder::Gzip(encoder) => encoder.finish()?.0,
            Encoder::Zstd(encoder) => encoder.finish()?.0,
        })
    }
}
