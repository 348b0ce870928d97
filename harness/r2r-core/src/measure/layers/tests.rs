use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::reading::{measure_layer, measure_layers};
use super::*;
use crate::inspect::archive::ArchiveError;
use crate::measure::cache::MeasurementCache;

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
    fn collect(directory: &std::path::Path, files: &mut Vec<std::path::PathBuf>, budget: &mut u64) {
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
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
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
        .map(|(name_bytes, _)| format!("blobs/sha256/{}", hex::encode(Sha256::digest(name_bytes))))
        .collect();
    let manifest =
        serde_json::json!([{ "Config": "blobs/sha256/c", "RepoTags": ["x:y"], "Layers": names }]);
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
