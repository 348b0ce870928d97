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
//! With a [`MeasurementCache`], a layer measured before is not compressed again: a layer
//! named by its digest (an OCI layout blob) and known to the cache is skipped unread; any
//! other layer is hashed and spooled, and compressed only if its diff id is not in the cache.
//! Layers already measured within an archive (known by path) are read once.
//!
//! Archives are read under the rules of [`crate::inspect::archive`] (it walks the archive and judges
//! every layer entry): nothing is written to disk but the spool, a path or hard link that climbs out of its
//! root is an error naming the entry, sizes from headers are never allocated, and a stream
//! cut short is an error naming the entry that was cut.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inspect::archive::{
    layer_change, walk_archive, walk_tar, ArchiveError, ArchiveIndex, FileType, LayerChange,
    StoredBlob,
};
use crate::measure::cache::{LayerMeasurement, MeasurementCache};

/// gzip level of `docker push`.
pub const GZIP_LEVEL: u32 = 6;
/// zstd level of containerd's zstd layers.
pub const ZSTD_LEVEL: i32 = 3;
/// Chunk size of the layer stream, bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// Size of the blocks every compressor is fed, bytes (the last block of a layer is shorter).
const COMPRESS_BLOCK_BYTES: usize = 1 << 20;
/// Most bytes of finished layers that may wait in the spool for the compressors before the
/// reader waits for them (the layer being read comes on top), bytes.
pub const SPOOL_LIMIT_BYTES: u64 = 512 << 20;
/// Revision of what a layer's measurement holds and how it is taken; part of
/// [`code_version`]. Raise it when the figures or the file lists of a layer would change.
const MEASURE_REVISION: u32 = 1;

/// Figures of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFigures {
    /// `sha256:<hex>` of the uncompressed layer tar.
    pub diff_id: String,
    /// Size of the uncompressed layer tar, bytes (what is compressed for a registry).
    pub tar_bytes: u64,
    /// Size of the layer's files as the engine accounts it (regular files, plus symbolic link
    /// targets, hard links once), bytes.
    pub content_bytes: u64,
    /// Size of the layer tar compressed with gzip level 6, bytes.
    pub gzip_bytes: u64,
    /// Size of the layer tar compressed with zstd level 3, bytes.
    pub zstd_bytes: u64,
    /// Number of entries in the layer tar.
    pub entries: u64,
}

/// One layer as it stands in one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayer {
    /// `sha256:<hex>` identifying the layer together with every layer below it.
    pub chain_id: String,
    /// The layer's figures.
    pub figures: LayerFigures,
    /// The instruction that created it (from the image history), if known.
    pub created_by: String,
}

/// One file that a later layer replaces or deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WastedFile {
    /// Path in the image.
    pub path: String,
    /// Index of the layer that wrote it.
    pub layer: usize,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The layers of one image, bottom first, and what is wasted in them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAnalysis {
    /// The layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// Bytes of files that a later layer overwrites or deletes (still stored and pulled).
    pub wasted_bytes: u64,
    /// The largest wasted files (at most 20).
    pub wasted_files: Vec<WastedFile>,
}

impl ImageAnalysis {
    /// Sum of a figure over the layers.
    pub fn total(&self, figure: impl Fn(&LayerFigures) -> u64) -> u64 {
        self.layers.iter().map(|layer| figure(&layer.figures)).sum()
    }
}

/// The chain id of a layer on top of `parent` (`None` for the bottom layer).
pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(parent) => format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("{parent} {diff_id}").as_bytes()))
        ),
    }
}

/// Counts bytes written to it.
#[derive(Default)]
struct CountingSink(u64);

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
enum Codec {
    /// gzip level [`GZIP_LEVEL`].
    Gzip,
    /// zstd level [`ZSTD_LEVEL`].
    Zstd,
}

impl Codec {
    fn encoder(self) -> std::io::Result<Encoder> {
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
    fn size_of(self, bytes: &[u8]) -> std::io::Result<u64> {
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
enum Encoder {
    Gzip(flate2::write::GzEncoder<CountingSink>),
    Zstd(zstd::stream::write::Encoder<'static, CountingSink>),
}

impl Encoder {
    /// Compresses the next block: [`COMPRESS_BLOCK_BYTES`] long unless it is the last.
    fn block(&mut self, block: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(encoder) => encoder.write_all(block),
            Encoder::Zstd(encoder) => encoder.write_all(block),
        }
    }

    /// Ends the stream; its size, bytes.
    fn finish(self) -> std::io::Result<u64> {
        Ok(match self {
            Encoder::Gzip(encoder) => encoder.finish()?.0,
            Encoder::Zstd(encoder) => encoder.finish()?.0,
        })
    }
}

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

/// What the tar reader learned of one layer's files: what waste is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerFiles {
    /// Regular files and links written: path -> size.
    pub(crate) written: Vec<(String, u64)>,
    /// Paths whited out.
    pub(crate) whiteouts: Vec<String>,
    /// Directories made opaque.
    pub(crate) opaque: Vec<String>,
}

/// What a [`Spool`]'s writer and readers share.
#[derive(Default)]
struct SpoolState {
    /// Bytes written so far.
    written: u64,
    /// Whether the writer is done (the layer ended, or reading it failed).
    closed: bool,
}

/// One layer's bytes in an unlinked temporary file: written once by the reading thread, read
/// by each compressor at its own pace (a reader that catches up with the writer waits).
struct Spool {
    file: std::fs::File,
    state: Mutex<SpoolState>,
    grown: Condvar,
}

impl Spool {
    fn new(directory: &Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(directory)?;
        Ok(Spool {
            file: tempfile::tempfile_in(directory)?,
            state: Mutex::new(SpoolState::default()),
            grown: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        let offset = self.lock().written;
        self.file.write_all_at(bytes, offset)?;
        self.lock().written = offset + bytes.len() as u64;
        self.grown.notify_all();
        Ok(())
    }

    fn close(&self) -> u64 {
        let mut state = self.lock();
        state.closed = true;
        self.grown.notify_all();
        state.written
    }

    /// Bytes written so far, bytes.
    fn written(&self) -> u64 {
        self.lock().written
    }

    /// Fills `block` from `offset`, waiting for the writer until the whole block is written or
    /// the layer has ended; how many bytes it holds (fewer only at the end, 0 past it).
    fn read_block(&self, offset: u64, block: &mut [u8]) -> std::io::Result<usize> {
        let wanted = offset + block.len() as u64;
        let available = {
            let mut state = self.lock();
            while state.written < wanted && !state.closed {
                state = self
                    .grown
                    .wait(state)
                    .unwrap_or_else(|poison| poison.into_inner());
            }
            state.written.saturating_sub(offset).min(block.len() as u64) as usize
        };
        self.file.read_exact_at(&mut block[..available], offset)?;
        Ok(available)
    }
}

/// The compressed sizes of one layer, filled in by its jobs.
#[derive(Default)]
struct Slot {
    /// gzip and zstd results, once known.
    results: Mutex<[Option<std::io::Result<u64>>; 2]>,
}

impl Slot {
    fn take(&self) -> std::io::Result<(u64, u64)> {
        let mut results = self
            .results
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut take = |index: usize| {
            results[index]
                .take()
                .unwrap_or_else(|| Err(std::io::Error::other("the compressor did not finish")))
        };
        Ok((take(0)?, take(1)?))
    }
}

/// Bytes of spooled layers whose jobs have not ended.
#[derive(Default)]
struct Backlog {
    bytes: Mutex<u64>,
    shrunk: Condvar,
}

impl Backlog {
    fn add(&self, bytes: u64) {
        *self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) += bytes;
    }

    fn remove(&self, bytes: u64) {
        let mut backlog = self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *backlog = backlog.saturating_sub(bytes);
        self.shrunk.notify_all();
    }

    fn wait_below(&self, limit: u64) {
        let mut backlog = self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while *backlog > limit {
            backlog = self
                .shrunk
                .wait(backlog)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }
}

/// One compression of one spooled layer.
struct Job {
    codec: Codec,
    spool: Arc<Spool>,
    slot: Arc<Slot>,
    /// Jobs of the layer still running (the last one frees its bytes from the backlog).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl Job {
    /// Compresses the layer, reading it block by block into `block` (the worker's buffer of
    /// [`COMPRESS_BLOCK_BYTES`]).
    fn run(self, backlog: &Backlog, block: &mut [u8]) {
        let spool = &self.spool;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut encoder = self.codec.encoder()?;
            let mut offset = 0;
            loop {
                let count = spool.read_block(offset, block)?;
                if count == 0 {
                    break;
                }
                encoder.block(&block[..count])?;
                offset += count as u64;
            }
            encoder.finish()
        }))
        .unwrap_or_else(|_| Err(std::io::Error::other("the compressor panicked")));
        let index = match self.codec {
            Codec::Gzip => 0,
            Codec::Zstd => 1,
        };
        self.slot
            .results
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())[index] = Some(result);
        if self
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            backlog.remove(spool.written());
        }
    }
}

/// Compressor threads, one per core, taking jobs in the order given.
struct Pool {
    sender: Option<std::sync::mpsc::Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    backlog: Arc<Backlog>,
}

impl Pool {
    fn new() -> Pool {
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2)
            .clamp(1, 4);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let backlog = Arc::new(Backlog::default());
        let workers = (0..threads)
            .map(|_| {
                let receiver = receiver.clone();
                let backlog = backlog.clone();
                std::thread::spawn(move || {
                    let mut block = vec![0; COMPRESS_BLOCK_BYTES];
                    loop {
                        let job = receiver
                            .lock()
                            .unwrap_or_else(|poison| poison.into_inner())
                            .recv();
                        match job {
                            Ok(job) => job.run(&backlog, &mut block),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Pool {
            sender: Some(sender),
            workers,
            backlog,
        }
    }

    /// Queues a layer's gzip and zstd jobs.
    fn submit(&self, spool: &Arc<Spool>, slot: &Arc<Slot>) {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(2));
        for codec in [Codec::Gzip, Codec::Zstd] {
            let job = Job {
                codec,
                spool: spool.clone(),
                slot: slot.clone(),
                running: running.clone(),
            };
            if let Some(sender) = &self.sender {
                // Fails only when every worker is gone; the slot then reports it.
                let _ = sender.send(job);
            }
        }
    }

    /// Waits for every queued job.
    fn finish(mut self) {
        self.sender = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Passes everything read through SHA-256 and into the spool.
struct Tee<'s, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    spool: &'s Spool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        if count > 0 {
            self.hasher.update(&buffer[..count]);
            self.bytes += count as u64;
            self.spool.append(&buffer[..count])?;
        }
        Ok(count)
    }
}

/// Reads one layer stream completely into `spool`: its diff id, tar size, entries and file
/// list (the compressed figures are left at 0 for the compressors).
fn read_layer(
    name: &str,
    reader: impl Read,
    spool: &Spool,
) -> Result<(LayerFigures, LayerFiles), ArchiveError> {
    let error = |entry: &str, source: std::io::Error| ArchiveError::Layer {
        layer: name.to_string(),
        entry: entry.to_string(),
        source,
    };
    let mut tee = Tee {
        inner: reader,
        hasher: Sha256::new(),
        bytes: 0,
        spool,
    };
    let mut files = LayerFiles::default();
    let mut content_bytes: u64 = 0;
    let mut entries = 0;
    // The archive module's rules: names normalised (an escape is an error), bounded headers,
    // every entry drained to its claimed size (a cut is an error naming it).
    walk_tar(
        BufReader::with_capacity(CHUNK_BYTES, &mut tee),
        false,
        &error,
        &mut |entry| {
            entries += 1;
            let (path, file_type) = match layer_change(name, &entry)? {
                LayerChange::Nothing => return Ok(()),
                LayerChange::Opaque(directory) => {
                    files.opaque.push(directory);
                    return Ok(());
                }
                LayerChange::Whiteout(path) => {
                    files.whiteouts.push(path);
                    return Ok(());
                }
                LayerChange::Write { path, file_type } => (path, file_type),
            };
            let size = match file_type {
                FileType::Regular => entry.size,
                FileType::Symlink { .. } => entry.link.map(|link| link.len() as u64).unwrap_or(0),
                _ => 0,
            };
            content_bytes = content_bytes.saturating_add(size);
            if file_type != FileType::Directory {
                files.written.push((path, size));
            }
            Ok(())
        },
    )?;
    // The tar reader stops at the end-of-archive marker; the stream's padding counts too.
    std::io::copy(&mut tee, &mut std::io::sink()).map_err(|source| error("<end>", source))?;
    let figures = LayerFigures {
        diff_id: format!("sha256:{}", hex::encode(tee.hasher.finalize())),
        tar_bytes: tee.bytes,
        content_bytes,
        gzip_bytes: 0,
        zstd_bytes: 0,
        entries,
    };
    Ok((figures, files))
}

/// Measures one layer stream completely (diff id, sizes, file list) on this thread and the
/// compressor pool.
#[cfg(test)]
fn measure_layer(name: &str, reader: impl Read) -> Result<LayerMeasurement, ArchiveError> {
    let pool = Pool::new();
    let spool =
        Arc::new(
            Spool::new(&std::env::temp_dir()).map_err(|source| ArchiveError::Layer {
                layer: name.to_string(),
                entry: "<spool>".into(),
                source,
            })?,
        );
    let slot = Arc::new(Slot::default());
    pool.submit(&spool, &slot);
    let read = read_layer(name, reader, &spool);
    spool.close();
    pool.finish();
    let (figures, files) = read?;
    let pending = Pending {
        name: name.to_string(),
        figures,
        files,
        slot,
    };
    Ok(pending.measured()?.1)
}

/// The diff id a layer's path in an archive names, when it is content-addressed: an OCI
/// layout blob (`blobs/sha256/<hex>`) is named by the digest of its bytes.
fn named_digest(path: &str) -> Option<String> {
    let hex = path.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| format!("sha256:{hex}"))
}

/// A layer read and spooled, waiting for its compressed sizes.
struct Pending {
    name: String,
    figures: LayerFigures,
    files: LayerFiles,
    slot: Arc<Slot>,
}

impl Pending {
    /// Its name and measurement, the compressed sizes filled in once its jobs have ended.
    fn measured(self) -> Result<(String, LayerMeasurement), ArchiveError> {
        let Pending {
            name,
            mut figures,
            files,
            slot,
        } = self;
        let (gzip, zstd) = slot.take().map_err(|source| ArchiveError::Layer {
            layer: name.clone(),
            entry: "<compression>".into(),
            source,
        })?;
        figures.gzip_bytes = gzip;
        figures.zstd_bytes = zstd;
        Ok((name, LayerMeasurement { figures, files }))
    }
}

/// Every layer of an archive measured (or found in `cache`), by its normalised path. The
/// reader waits before a layer while more than `spool_limit` bytes wait for the compressors.
/// `eager`: compress every layer the cache does not know by name as it is read, without
/// waiting for its diff id (when the cache is unlikely to hold any of them).
fn measure_layers(
    reader: impl Read,
    cache: Option<&MeasurementCache>,
    eager: bool,
    spool_limit: u64,
) -> Result<(ArchiveIndex, HashMap<String, LayerMeasurement>), ArchiveError> {
    // Beside the cache (the work directory's disk), else where temporary files go.
    let spool_directory = cache
        .map(MeasurementCache::spool_directory)
        .filter(|directory| std::fs::create_dir_all(directory).is_ok())
        .unwrap_or_else(std::env::temp_dir);
    let pool = Pool::new();
    let backlog = pool.backlog.clone();
    let mut known: HashMap<String, LayerMeasurement> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let walked = walk_archive(reader, &mut |name, layer| {
        let layer_error = |entry: &str, source| ArchiveError::Layer {
            layer: name.to_string(),
            entry: entry.to_string(),
            source,
        };
        let named = named_digest(name);
        if let (Some(cache), Some(diff_id)) = (cache, &named) {
            if let Some(measurement) = cache.layer(diff_id) {
                // Skipped unread: the archive walk drains it.
                known.insert(name.to_string(), measurement);
                return Ok(());
            }
        }
        backlog.wait_below(spool_limit);
        let spool = Arc::new(Spool::new(&spool_directory).map_err(|e| layer_error("<spool>", e))?);
        let slot = Arc::new(Slot::default());
        // Without a cache, named by a digest the cache lacks, or eagerly, the layer is
        // compressed as it is read; otherwise once its diff id is known and found missing.
        let compress_now = cache.is_none() || named.is_some() || eager;
        if compress_now {
            pool.submit(&spool, &slot);
        }
        let read = read_layer(name, layer, &spool);
        let bytes = spool.written();
        if compress_now {
            backlog.add(bytes);
        }
        spool.close();
        let (figures, files) = read?;
        if !compress_now {
            if let Some(cached) = cache.and_then(|cache| cache.layer(&figures.diff_id)) {
                let same = cached.files == files
                    && (
                        cached.figures.tar_bytes,
                        cached.figures.content_bytes,
                        cached.figures.entries,
                    ) == (figures.tar_bytes, figures.content_bytes, figures.entries);
                if same {
                    known.insert(name.to_string(), cached);
                    return Ok(());
                }
                if let Some(cache) = cache {
                    cache.reject_entry(
                        "layers",
                        &figures.diff_id,
                        "its file list or sizes differ from the layer's bytes",
                    );
                }
            }
            backlog.add(bytes);
            pool.submit(&spool, &slot);
        }
        pending.push(Pending {
            name: name.to_string(),
            figures,
            files,
            slot,
        });
        Ok(())
    });
    pool.finish();
    let index = walked?;
    for layer in pending {
        let (name, measurement) = layer.measured()?;
        if let Some(cache) = cache {
            cache.store_layer(&measurement);
        }
        known.insert(name, measurement);
    }
    Ok((index, known))
}

#[derive(Deserialize, Default)]
struct HistoryEntry {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    history: Vec<HistoryEntry>,
    #[serde(default)]
    rootfs: RootFs,
}

/// The layer diff ids an image config lists (`rootfs.diff_ids`), bottom first; empty when
/// the config is unreadable.
pub(crate) fn config_diff_ids(config: &[u8]) -> Vec<String> {
    serde_json::from_slice::<ImageConfig>(config)
        .map(|config| config.rootfs.diff_ids)
        .unwrap_or_default()
}

/// One image of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveImage {
    /// The tags the archive gives the image (`RepoTags`).
    pub tags: Vec<String>,
    /// Its analysis.
    pub analysis: ImageAnalysis,
    /// Per layer, bottom first: how the archive stores its blob (compressed or not, its
    /// stored size).
    pub stored: Vec<Option<StoredBlob>>,
}

/// Measures every image of an archive. A layer that several images share (as in
/// `docker save a b c`) is read and compressed once.
pub fn analyze_archive(reader: impl Read) -> Result<Vec<ArchiveImage>, ArchiveError> {
    Ok(analyze_archive_cached(reader, None, true)?
        .into_iter()
        .map(|(image, _)| image)
        .collect())
}

/// An image of an archive with its config as the archive holds it (if it does).
pub(crate) type ImageWithConfig = (ArchiveImage, Option<Vec<u8>>);

/// As [`analyze_archive`], with layers measured before taken from `cache` and new ones kept
/// in it; each image comes with its config as the archive holds it. `eager`: compress layers
/// as they are read even when their diff id is known only at their end (the cache holds none
/// of the archive's layers, most likely).
pub(crate) fn analyze_archive_cached(
    reader: impl Read,
    cache: Option<&MeasurementCache>,
    eager: bool,
) -> Result<Vec<ImageWithConfig>, ArchiveError> {
    let (index, measured) = measure_layers(reader, cache, eager, SPOOL_LIMIT_BYTES)?;
    index
        .manifest
        .iter()
        .map(|image| {
            let layers = image
                .layers
                .iter()
                .map(|path| {
                    measured
                        .get(index.resolve(path)?)
                        .ok_or_else(|| index.missing_layer(path))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let stored = image
                .layers
                .iter()
                .map(|path| {
                    let path = index.resolve(path).ok()?;
                    index.blobs.get(path).copied()
                })
                .collect();
            let config = index.configs.get(&image.config);
            let analysis = analyze_image(config.map(Vec::as_slice), &layers);
            Ok((
                ArchiveImage {
                    tags: image.tags.clone(),
                    analysis,
                    stored,
                },
                config.cloned(),
            ))
        })
        .collect()
}

/// The analysis of an image from its config (for the instructions; `None` or unreadable:
/// none) and its layers' measurements, bottom first.
pub(crate) fn analyze_image(config: Option<&[u8]>, layers: &[&LayerMeasurement]) -> ImageAnalysis {
    let config: ImageConfig = config
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default();
    let instructions: Vec<String> = config
        .history
        .into_iter()
        .filter(|entry| !entry.empty_layer)
        .map(|entry| entry.created_by)
        .collect();

    let mut analysis = ImageAnalysis {
        layers: Vec::new(),
        wasted_bytes: 0,
        wasted_files: Vec::new(),
    };
    let mut present: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut wasted: Vec<WastedFile> = Vec::new();
    let mut parent: Option<String> = None;
    for (index, measurement) in layers.iter().enumerate() {
        let (figures, files) = (&measurement.figures, &measurement.files);
        let figures = figures.clone();
        // Waste: what this layer hides of the layers below.
        let mut hide = |prefix_or_path: &str, whole_directory: bool| {
            let hidden: Vec<String> = if whole_directory {
                let prefix = format!("{prefix_or_path}/");
                present
                    .range(prefix.clone()..)
                    .take_while(|(path, _)| path.starts_with(&prefix))
                    .map(|(path, _)| path.clone())
                    .collect()
            } else {
                let prefix = format!("{prefix_or_path}/");
                let mut paths: Vec<String> = present
                    .range(prefix.clone()..)
                    .take_while(|(path, _)| path.starts_with(&prefix))
                    .map(|(path, _)| path.clone())
                    .collect();
                if present.contains_key(prefix_or_path) {
                    paths.push(prefix_or_path.to_string());
                }
                paths
            };
            for path in hidden {
                if let Some((layer, bytes)) = present.remove(&path) {
                    if bytes > 0 {
                        wasted.push(WastedFile { path, layer, bytes });
                    }
                }
            }
        };
        for directory in &files.opaque {
            hide(directory, true);
        }
        for path in &files.whiteouts {
            hide(path, false);
        }
        for (path, bytes) in &files.written {
            if let Some((layer, old)) = present.insert(path.clone(), (index, *bytes)) {
                if old > 0 {
                    wasted.push(WastedFile {
                        path: path.clone(),
                        layer,
                        bytes: old,
                    });
                }
            }
        }
        let chain = chain_id(parent.as_deref(), &figures.diff_id);
        parent = Some(chain.clone());
        analysis.layers.push(ImageLayer {
            chain_id: chain,
            figures,
            created_by: instructions.get(index).cloned().unwrap_or_default(),
        });
    }
    analysis.wasted_bytes = wasted.iter().map(|file| file.bytes).sum();
    wasted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    wasted.truncate(20);
    analysis.wasted_files = wasted;
    analysis
}

/// Per image within a set: its total and how much of it no other image of the set has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMember {
    /// The image (plan id or reference).
    pub image: String,
    /// Sum of the image's layers, bytes.
    pub total_bytes: u64,
    /// Bytes of layers (by chain id) no other image of the set has.
    pub owned_bytes: u64,
    /// Bytes of layers at least one other image of the set has.
    pub shared_bytes: u64,
}

/// How a set of images is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSharing {
    /// The set's name (a variant, or `all`).
    pub set: String,
    /// Which figure the bytes are of: `content`, `tar`, `gzip` or `zstd`.
    pub figure: String,
    /// The images, in the order given.
    pub members: Vec<SetMember>,
    /// Sum of the images' totals, bytes (as if nothing were shared).
    pub sum_bytes: u64,
    /// Bytes stored once: the union of layers by chain id, bytes.
    pub stored_once_bytes: u64,
    /// `sum_bytes - stored_once_bytes`, bytes.
    pub saved_bytes: u64,
    /// Bytes each pair of images shares (row image, column image, bytes), for every ordered
    /// pair of distinct images.
    pub pairwise_shared_bytes: Vec<(String, String, u64)>,
}

/// Computes the sharing of a set of analysed images by one figure.
pub fn sharing(
    set: &str,
    figure_name: &str,
    figure: impl Fn(&LayerFigures) -> u64,
    images: &[(String, &ImageAnalysis)],
) -> SetSharing {
    let chains: Vec<BTreeMap<&str, u64>> = images
        .iter()
        .map(|(_, analysis)| {
            analysis
                .layers
                .iter()
                .map(|layer| (layer.chain_id.as_str(), figure(&layer.figures)))
                .collect()
        })
        .collect();
    let mut holders: HashMap<&str, usize> = HashMap::new();
    for layers in &chains {
        for chain in layers.keys() {
            *holders.entry(chain).or_default() += 1;
        }
    }
    let mut union: BTreeMap<&str, u64> = BTreeMap::new();
    let members: Vec<SetMember> = images
        .iter()
        .zip(&chains)
        .map(|((name, _), layers)| {
            let total: u64 = layers.values().sum();
            let owned: u64 = layers
                .iter()
                .filter(|(chain, _)| holders[*chain] == 1)
                .map(|(_, bytes)| bytes)
                .sum();
            union.extend(layers.iter().map(|(chain, bytes)| (*chain, *bytes)));
            SetMember {
                image: name.clone(),
                total_bytes: total,
                owned_bytes: owned,
                shared_bytes: total - owned,
            }
        })
        .collect();
    let mut pairwise = Vec::new();
    for (i, (a, _)) in images.iter().enumerate() {
        for (j, (b, _)) in images.iter().enumerate() {
            if i != j {
                let shared = chains[i]
                    .iter()
                    .filter(|(chain, _)| chains[j].contains_key(*chain))
                    .map(|(_, bytes)| bytes)
                    .sum();
                pairwise.push((a.clone(), b.clone(), shared));
            }
        }
    }
    let sum_bytes = members.iter().map(|member| member.total_bytes).sum();
    let stored_once_bytes = union.values().sum();
    SetSharing {
        set: set.to_string(),
        figure: figure_name.to_string(),
        members,
        sum_bytes,
        stored_once_bytes,
        saved_bytes: sum_bytes - stored_once_bytes,
        pairwise_shared_bytes: pairwise,
    }
}

/// Distinct chain ids of a set of analyses (for tests and summaries).
pub fn chain_ids<'a>(analyses: impl IntoIterator<Item = &'a ImageAnalysis>) -> BTreeSet<String> {
    analyses
        .into_iter()
        .flat_map(|analysis| analysis.layers.iter().map(|layer| layer.chain_id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn archive(layers: &[Vec<u8>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let names: Vec<String> = (0..layers.len())
            .map(|i| format!("l{i}/layer.tar"))
            .collect();
        let config = serde_json::json!({ "history": [
            { "created_by": "ADD rootfs" }, { "created_by": "ENV X=1", "empty_layer": true }, { "created_by": "COPY app/ /app/" }
        ]});
        let manifest =
            serde_json::json!([{ "Config": "c.json", "RepoTags": ["x:y"], "Layers": names }]);
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, bytes).unwrap();
        };
        for (name, bytes) in names.iter().zip(layers) {
            add(name, bytes);
        }
        add("c.json", config.to_string().as_bytes());
        add("manifest.json", manifest.to_string().as_bytes());
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_are_measured_hashed_and_compressed() {
        let big = vec![b'a'; 300_000];
        let bottom = layer_tar(&[
            ("etc/config", b"12345"),
            ("usr/big", &big),
            ("usr/gone", b"xyz"),
        ]);
        let top = layer_tar(&[("etc/config", b"123"), ("usr/.wh.gone", b"")]);
        let bytes = archive(&[bottom.clone(), top.clone()]);
        let images = analyze_archive(bytes.as_slice()).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].tags, ["x:y"]);
        let analysis = &images[0].analysis;
        assert_eq!(analysis.layers.len(), 2);
        let first = &analysis.layers[0];
        assert_eq!(
            first.figures.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&bottom)))
        );
        assert_eq!(first.figures.tar_bytes, bottom.len() as u64);
        assert_eq!(first.figures.content_bytes, 5 + 300_000 + 3);
        assert_eq!(first.chain_id, first.figures.diff_id);
        assert_eq!(first.created_by, "ADD rootfs");
        assert_eq!(analysis.layers[1].created_by, "COPY app/ /app/");
        assert_eq!(
            analysis.layers[1].chain_id,
            chain_id(Some(&first.chain_id), &analysis.layers[1].figures.diff_id)
        );
        // Compression: the real gzip size of the same bytes, and zstd far below the raw size.
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gzip.write_all(&bottom).unwrap();
        assert_eq!(
            first.figures.gzip_bytes,
            gzip.finish().unwrap().len() as u64
        );
        assert!(
            first.figures.zstd_bytes > 0 && first.figures.zstd_bytes < 10_000,
            "{first:?}"
        );
        // Waste: the overwritten config (5 bytes) and the deleted file (3 bytes).
        assert_eq!(analysis.wasted_bytes, 8);
        assert_eq!(
            analysis.wasted_files[0],
            WastedFile {
                path: "etc/config".into(),
                layer: 0,
                bytes: 5
            }
        );
    }

    /// A layer of real files: the regular files under `/usr/lib` in name order (the first
    /// ones that add up to about 4 MB), with fixed owners, modes and times, so the same
    /// machine always gives the same bytes.
    fn real_layer() -> Vec<u8> {
        fn collect(
            directory: &std::path::Path,
            files: &mut Vec<std::path::PathBuf>,
            budget: &mut u64,
        ) {
            let Ok(entries) = std::fs::read_dir(directory) else {
                return;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                if *budget == 0 {
                    return;
                }
                let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if metadata.is_dir() {
                    collect(&path, files, budget);
                } else if metadata.is_file()
                    && metadata.len() <= 1 << 20
                    && std::fs::File::open(&path).is_ok()
                {
                    *budget = budget.saturating_sub(metadata.len());
                    files.push(path);
                }
            }
        }
        let mut files = Vec::new();
        collect(std::path::Path::new("/usr/lib"), &mut files, &mut 4_000_000);
        let mut builder = tar::Builder::new(Vec::new());
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            let name = path.strip_prefix("/").unwrap();
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// Hands out its bytes in reads of the sizes `next_size` picks.
    struct Chunked<'a, F: FnMut() -> usize> {
        bytes: &'a [u8],
        next_size: F,
    }

    impl<F: FnMut() -> usize> Read for Chunked<'_, F> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let count = (self.next_size)()
                .max(1)
                .min(buffer.len())
                .min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    #[test]
    fn one_layer_gives_one_gzip_figure_however_it_is_read() {
        let layer = real_layer();
        assert!(
            layer.len() > 2_000_000,
            "only {} bytes of files under /usr/lib",
            layer.len()
        );
        let measure = |reader: &mut dyn Read| measure_layer("layer.tar", reader).unwrap().figures;
        // Whole buffers at a time, small fixed reads, and reads of pseudo-random sizes (as a
        // socket delivers them).
        let whole = measure(&mut Chunked {
            bytes: &layer,
            next_size: || usize::MAX,
        });
        let small = measure(&mut Chunked {
            bytes: &layer,
            next_size: || 4093,
        });
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let uneven = measure(&mut Chunked {
            bytes: &layer,
            next_size: move || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                1 + (state >> 33) as usize % 70_000
            },
        });
        assert_eq!(whole.tar_bytes, layer.len() as u64);
        assert_eq!(
            (small.diff_id.as_str(), small.tar_bytes),
            (whole.diff_id.as_str(), whole.tar_bytes)
        );
        assert_eq!(
            (uneven.diff_id.as_str(), uneven.tar_bytes),
            (whole.diff_id.as_str(), whole.tar_bytes)
        );
        assert_eq!(
            small.gzip_bytes, whole.gzip_bytes,
            "gzip: 4093-byte reads vs whole buffers"
        );
        assert_eq!(
            uneven.gzip_bytes, whole.gzip_bytes,
            "gzip: uneven reads vs whole buffers"
        );
        assert_eq!(
            (small.zstd_bytes, uneven.zstd_bytes),
            (whole.zstd_bytes, whole.zstd_bytes)
        );
        // And the figure is the real gzip size of those bytes (within 0.1% of one-shot gzip).
        let mut gzip =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
        gzip.write_all(&layer).unwrap();
        let one_shot = gzip.finish().unwrap().len() as f64;
        assert!(
            (whole.gzip_bytes as f64 / one_shot - 1.0).abs() < 0.001,
            "{} vs {one_shot}",
            whole.gzip_bytes
        );
    }

    /// An OCI layout archive: layers as `blobs/sha256/<digest>` (the digest of `name_bytes`,
    /// whatever bytes are stored under it).
    fn oci_archive(layers: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let names: Vec<String> = layers
            .iter()
            .map(|(name_bytes, _)| {
                format!("blobs/sha256/{}", hex::encode(Sha256::digest(name_bytes)))
            })
            .collect();
        let manifest = serde_json::json!([{ "Config": "blobs/sha256/c", "RepoTags": ["x:y"], "Layers": names }]);
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, bytes).unwrap();
        };
        for (name, (_, bytes)) in names.iter().zip(layers) {
            add(name, bytes);
        }
        add(
            "blobs/sha256/c",
            br#"{"history":[{"created_by":"ADD rootfs"}]}"#,
        );
        add("manifest.json", manifest.to_string().as_bytes());
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_compressed_side_by_side_give_the_serial_figures() {
        let real = real_layer();
        let layers = [
            real.clone(),
            layer_tar(&[("a", &vec![b'x'; 3_000_000]), ("b", b"1")]),
            layer_tar(&[("d", &real[..1_500_000])]),
            layer_tar(&[("c", b"small")]),
        ];
        let bytes = archive(&layers);
        // The compressors far behind (every layer waits in the spool), or never behind (the
        // reader waits for each layer's jobs before the next): the same figures, and each the
        // size of one gzip and one zstd stream of the layer fed in one piece.
        for limit in [u64::MAX, 0] {
            let (index, measured) = measure_layers(bytes.as_slice(), None, true, limit).unwrap();
            for (path, layer) in index.manifest[0].layers.iter().zip(&layers) {
                let figures = &measured[path].figures;
                assert_eq!(figures.tar_bytes, layer.len() as u64);
                assert_eq!(
                    figures.gzip_bytes,
                    Codec::Gzip.size_of(layer).unwrap(),
                    "{path} (limit {limit})"
                );
                assert_eq!(figures.zstd_bytes, Codec::Zstd.size_of(layer).unwrap());
            }
        }
    }

    #[test]
    fn a_cached_layer_is_not_compressed_again_and_gives_the_same_figures() {
        let directory = tempfile::tempdir().unwrap();
        let cache = MeasurementCache::open(directory.path());
        let bottom = layer_tar(&[("etc/config", b"12345"), ("usr/gone", b"xyz")]);
        let top = layer_tar(&[("etc/config", b"123"), ("usr/.wh.gone", b"")]);
        let bytes = archive(&[bottom.clone(), top.clone()]);
        let plain = analyze_archive(bytes.as_slice()).unwrap();
        let cold = analyze_archive_cached(bytes.as_slice(), Some(&cache), true).unwrap();
        let warm = analyze_archive_cached(bytes.as_slice(), Some(&cache), false).unwrap();
        assert_eq!(cold[0].0, plain[0]);
        assert_eq!(warm, cold);
        // Cold again, each layer compressed once its diff id is known missing: the same.
        let other = tempfile::tempdir().unwrap();
        let lazy = MeasurementCache::open(other.path());
        assert_eq!(
            analyze_archive_cached(bytes.as_slice(), Some(&lazy), false).unwrap(),
            cold
        );
        assert!(cold[0].1.as_deref().unwrap().starts_with(b"{\"history\""));
        for layer in &plain[0].analysis.layers {
            let entry = cache.layer(&layer.figures.diff_id).unwrap();
            assert_eq!(entry.figures, layer.figures);
        }
        assert!(cache.warnings().is_empty(), "{:?}", cache.warnings());
        // The spool is gone.
        assert_eq!(
            std::fs::read_dir(cache.spool_directory()).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_layer_named_by_a_digest_the_cache_knows_is_taken_from_it_and_still_checked() {
        let directory = tempfile::tempdir().unwrap();
        let cache = MeasurementCache::open(directory.path());
        let first = layer_tar(&[("etc/os", b"one")]);
        let other = layer_tar(&[("etc/os", b"another, longer file")]);
        let honest = oci_archive(&[(first.clone(), first.clone())]);
        let measured = analyze_archive_cached(honest.as_slice(), Some(&cache), false).unwrap();
        assert_eq!(
            measured[0].0.analysis.layers[0].figures.tar_bytes,
            first.len() as u64
        );
        // Warm: the same figures from the cache.
        let warm = analyze_archive_cached(honest.as_slice(), Some(&cache), false).unwrap();
        assert_eq!(warm[0].0, measured[0].0);
        // The same name over other bytes: the archive's digest check refuses the blob, with
        // the cache as without it (a known name never vouches for other bytes).
        let lying = oci_archive(&[(first.clone(), other.clone())]);
        for cache in [Some(&cache), None] {
            let error = analyze_archive_cached(lying.as_slice(), cache, false).unwrap_err();
            assert!(matches!(error, ArchiveError::Digest { .. }), "{error:?}");
        }
    }

    #[test]
    fn the_code_version_names_levels_block_and_compressors() {
        let version = code_version();
        assert!(
            version.starts_with(&format!(
                "m{MEASURE_REVISION}-gzip6-zstd3-b{COMPRESS_BLOCK_BYTES}-"
            )),
            "{version}"
        );
        assert!(
            !version.contains(' ') && !version.contains('x'),
            "{version}"
        );
        assert_eq!(code_version(), version);
    }

    #[test]
    fn known_chain_id_formula() {
        // sha256("sha256:a sha256:b")
        let expected = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(b"sha256:a sha256:b"))
        );
        assert_eq!(chain_id(Some("sha256:a"), "sha256:b"), expected);
        assert_eq!(chain_id(None, "sha256:b"), "sha256:b");
    }

    fn synthetic(chains: &[(&str, u64)]) -> ImageAnalysis {
        ImageAnalysis {
            layers: chains
                .iter()
                .map(|(chain, bytes)| ImageLayer {
                    chain_id: chain.to_string(),
                    figures: LayerFigures {
                        diff_id: chain.to_string(),
                        tar_bytes: *bytes,
                        content_bytes: *bytes,
                        gzip_bytes: 0,
                        zstd_bytes: 0,
                        entries: 1,
                    },
                    created_by: String::new(),
                })
                .collect(),
            wasted_bytes: 0,
            wasted_files: Vec::new(),
        }
    }

    #[test]
    fn sharing_counts_layers_by_chain_id() {
        let deps = synthetic(&[("base", 100), ("deps", 10)]);
        let runtime = synthetic(&[("base", 100), ("deps", 10), ("rt", 70)]);
        let aspnet = synthetic(&[("base", 100), ("deps", 10), ("rt", 70), ("web", 20)]);
        // The same layer content on a different parent has another chain id: counted twice.
        let elsewhere = synthetic(&[("base", 100), ("rt-on-base", 70)]);
        let images = vec![
            ("deps".to_string(), &deps),
            ("runtime".to_string(), &runtime),
            ("aspnet".to_string(), &aspnet),
            ("other".to_string(), &elsewhere),
        ];
        let result = sharing("v", "content", |f| f.content_bytes, &images);
        assert_eq!(result.sum_bytes, 110 + 180 + 200 + 170);
        assert_eq!(result.stored_once_bytes, 100 + 10 + 70 + 20 + 70);
        assert_eq!(
            result.saved_bytes,
            result.sum_bytes - result.stored_once_bytes
        );
        let aspnet_member = &result.members[2];
        assert_eq!(
            (aspnet_member.owned_bytes, aspnet_member.shared_bytes),
            (20, 180)
        );
        assert_eq!(result.members[3].owned_bytes, 70);
        let pair = result
            .pairwise_shared_bytes
            .iter()
            .find(|(a, b, _)| a == "runtime" && b == "aspnet")
            .unwrap();
        assert_eq!(pair.2, 180);
        assert_eq!(result.pairwise_shared_bytes.len(), 12);
    }

    #[test]
    fn bad_archives_fail_with_a_message() {
        let error = analyze_archive(&b"garbage"[..]).unwrap_err();
        assert!(error.to_string().contains("archive"), "{error}");
        let good = archive(&[layer_tar(&[("a", b"1")])]);
        let error = analyze_archive(&good[..good.len() - 1500]).unwrap_err();
        assert!(!error.to_string().is_empty());
    }
}
