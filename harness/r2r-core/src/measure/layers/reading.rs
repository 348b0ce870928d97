//! Every layer of an archive read once: hashed, walked for its files and spooled for the
//! compressors, or found in the cache.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::figures::{LayerFigures, LayerFiles};
use super::pool::{Pool, Slot, Spool};
use crate::inspect::archive::{
    layer_change, walk_archive, walk_tar, ArchiveError, ArchiveIndex, FileType, LayerChange,
};
use crate::measure::cache::{LayerMeasurement, MeasurementCache};

/// Chunk size of the layer stream, bytes.
const CHUNK_BYTES: usize = 256 * 1024;

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
pub(super) fn measure_layer(
    name: &str,
    reader: impl Read,
) -> Result<LayerMeasurement, ArchiveError> {
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
pub(super) fn measure_layers(
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
