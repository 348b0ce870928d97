//! Image sizes, exactly: per layer (uncompressed, gzip as a registry stores it, zstd), per
//! image, and how much of a set of images is stored only once.
//!
//! An image archive (`docker save`, legacy or OCI layout) is read as a stream. Each layer's
//! bytes go through SHA-256 (its diff id) and a tar reader (file sizes, for the engine's own
//! accounting and for waste) on the reading thread, while a gzip (level 6, what `docker push`
//! sends) and a zstd (level 3, what containerd's zstd layers use) compressor each run on
//! their own thread, fed the same chunks through small bounded channels: no layer is ever held
//! in memory and both cores compress. Each compressor cuts what it receives into blocks of the
//! same size before compressing, so a layer's compressed size depends on its bytes only, never
//! on how the stream happened to be read. Layers already measured (known by diff id) are skipped.
//!
//! Archives are read under the rules of [`crate::inspect::archive`] (it walks the archive and judges
//! every layer entry): nothing is written to disk, a path or hard link that climbs out of its
//! root is an error naming the entry, sizes from headers are never allocated, and a stream
//! cut short is an error naming the entry that was cut.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufReader, Read, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inspect::archive::{
    layer_change, walk_archive, walk_tar, ArchiveError, ArchiveIndex, FileType, LayerChange,
    ManifestEntry, StoredBlob,
};

/// gzip level of `docker push`.
pub const GZIP_LEVEL: u32 = 6;
/// zstd level of containerd's zstd layers.
pub const ZSTD_LEVEL: i32 = 3;
/// Chunk size of the layer stream, bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// Size of the blocks every compressor is fed, bytes (the last block of a layer is shorter).
const COMPRESS_BLOCK_BYTES: usize = 1 << 20;

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

type Chunk = Arc<[u8]>;

/// Feeds an encoder in blocks of [`COMPRESS_BLOCK_BYTES`], whatever sizes the input arrives
/// in, so the compressed size depends on the bytes only.
///
/// This matters for gzip: zlib-rs compresses levels 3 to 6 with `deflate_medium`, which keeps
/// the match it found one position ahead only until it next refills its window; how much it
/// can refill, and so where those matches are dropped, depends on how much input each call
/// hands it. Fed the reads of a socket as they come, one layer of 84,889,600 bytes gave four
/// gzip sizes a few kilobytes apart in four runs. Cut at the same offsets every time, the
/// encoder sees the same calls and writes the same stream.
struct FixedBlocks<W: Write> {
    inner: W,
    block: Vec<u8>,
}

impl<W: Write> FixedBlocks<W> {
    fn new(inner: W) -> Self {
        FixedBlocks {
            inner,
            block: Vec::with_capacity(COMPRESS_BLOCK_BYTES),
        }
    }

    /// Adds bytes; every block filled is written to the encoder.
    fn push(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let take = (COMPRESS_BLOCK_BYTES - self.block.len()).min(bytes.len());
            self.block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.block.len() == COMPRESS_BLOCK_BYTES {
                self.inner.write_all(&self.block)?;
                self.block.clear();
            }
        }
        Ok(())
    }

    /// Writes the last, shorter block and returns the encoder.
    fn finish(mut self) -> std::io::Result<W> {
        if !self.block.is_empty() {
            self.inner.write_all(&self.block)?;
        }
        Ok(self.inner)
    }
}

/// A compressor on its own thread, fed chunks over a bounded channel.
struct Compressor {
    sender: std::sync::mpsc::SyncSender<Chunk>,
    handle: std::thread::JoinHandle<std::io::Result<u64>>,
}

impl Compressor {
    fn gzip() -> Compressor {
        Self::spawn(|receiver| {
            let mut blocks = FixedBlocks::new(flate2::write::GzEncoder::new(
                CountingSink::default(),
                flate2::Compression::new(GZIP_LEVEL),
            ));
            for chunk in receiver {
                blocks.push(&chunk)?;
            }
            Ok(blocks.finish()?.finish()?.0)
        })
    }

    fn zstd() -> Compressor {
        Self::spawn(|receiver| {
            let mut blocks = FixedBlocks::new(zstd::stream::write::Encoder::new(
                CountingSink::default(),
                ZSTD_LEVEL,
            )?);
            for chunk in receiver {
                blocks.push(&chunk)?;
            }
            Ok(blocks.finish()?.finish()?.0)
        })
    }

    fn spawn(
        work: impl FnOnce(std::sync::mpsc::Receiver<Chunk>) -> std::io::Result<u64> + Send + 'static,
    ) -> Compressor {
        let (sender, receiver) = std::sync::mpsc::sync_channel(8);
        Compressor {
            sender,
            handle: std::thread::spawn(move || work(receiver)),
        }
    }

    fn finish(self) -> std::io::Result<u64> {
        drop(self.sender);
        self.handle
            .join()
            .map_err(|_| std::io::Error::other("compressor thread panicked"))?
    }
}

/// Passes everything read through SHA-256 and the compressors.
struct Tee<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    compressors: Vec<Compressor>,
    failed: bool,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        if count > 0 {
            self.hasher.update(&buffer[..count]);
            self.bytes += count as u64;
            let chunk: Chunk = Arc::from(&buffer[..count]);
            for compressor in &self.compressors {
                if compressor.sender.send(chunk.clone()).is_err() {
                    self.failed = true;
                }
            }
        }
        Ok(count)
    }
}

/// What the tar reader learned of one layer's files.
#[derive(Default)]
struct LayerFiles {
    /// Regular files and links written: path -> size.
    written: Vec<(String, u64)>,
    /// Paths whited out.
    whiteouts: Vec<String>,
    /// Directories made opaque.
    opaque: Vec<String>,
}

/// Measures one layer stream completely (diff id, sizes, file list).
fn measure_layer(
    name: &str,
    reader: impl Read,
    compress: bool,
) -> Result<(LayerFigures, LayerFiles), ArchiveError> {
    let error = |entry: &str, source: std::io::Error| ArchiveError::Layer {
        layer: name.to_string(),
        entry: entry.to_string(),
        source,
    };
    let compressors = if compress {
        vec![Compressor::gzip(), Compressor::zstd()]
    } else {
        Vec::new()
    };
    let mut tee = Tee {
        inner: reader,
        hasher: Sha256::new(),
        bytes: 0,
        compressors,
        failed: false,
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
    let Tee {
        hasher,
        bytes,
        compressors,
        ..
    } = tee;
    let mut compressed = compressors.into_iter().map(Compressor::finish);
    let mut next = || {
        compressed
            .next()
            .transpose()
            .map_err(|source| error("<compression>", source))
            .map(Option::unwrap_or_default)
    };
    let (gzip_bytes, zstd_bytes) = (next()?, next()?);
    let figures = LayerFigures {
        diff_id: format!("sha256:{}", hex::encode(hasher.finalize())),
        tar_bytes: bytes,
        content_bytes,
        gzip_bytes,
        zstd_bytes,
        entries,
    };
    Ok((figures, files))
}

#[derive(Deserialize, Default)]
struct HistoryEntry {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    history: Vec<HistoryEntry>,
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
    let mut measured: HashMap<String, (LayerFigures, LayerFiles)> = HashMap::new();
    let index = walk_archive(reader, &mut |name, layer| {
        measured.insert(name.to_string(), measure_layer(name, layer, true)?);
        Ok(())
    })?;
    index
        .manifest
        .iter()
        .map(|image| {
            let analysis = analyze_image(image, &index, &measured)?;
            let stored = image
                .layers
                .iter()
                .map(|path| {
                    let path = index.resolve(path).ok()?;
                    index.blobs.get(path).copied()
                })
                .collect();
            Ok(ArchiveImage {
                tags: image.tags.clone(),
                analysis,
                stored,
            })
        })
        .collect()
}

fn analyze_image(
    image: &ManifestEntry,
    archive: &ArchiveIndex,
    measured: &HashMap<String, (LayerFigures, LayerFiles)>,
) -> Result<ImageAnalysis, ArchiveError> {
    let config: ImageConfig = archive
        .configs
        .get(&image.config)
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
    for (index, layer_path) in image.layers.iter().enumerate() {
        let (figures, files) = measured
            .get(archive.resolve(layer_path)?)
            .ok_or_else(|| archive.missing_layer(layer_path))?;
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
    Ok(analysis)
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
                } else if metadata.is_file() && metadata.len() <= 1 << 20 {
                    if std::fs::File::open(&path).is_ok() {
                        *budget = budget.saturating_sub(metadata.len());
                        files.push(path);
                    }
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
        let measure = |reader: &mut dyn Read| measure_layer("layer.tar", reader, true).unwrap().0;
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
