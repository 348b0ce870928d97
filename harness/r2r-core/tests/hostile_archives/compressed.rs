//! OCI layouts and compressed layer blobs (the containerd image store's `docker save`):
//! decompressed as streams, digests checked, bombs and huge windows refused, indexes bounded.

use super::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd_of(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `blobs/sha256/<hex>` of some bytes.
fn blob(bytes: &[u8]) -> String {
    format!("blobs/sha256/{}", sha256_hex(bytes))
}

/// An OCI-layout archive of one image as the containerd store exports it: `oci-layout`,
/// `index.json`, the manifest and config blobs, the layer blobs as given (stored, maybe
/// compressed) and, with `manifest_json`, Docker's `manifest.json` beside them.
fn oci_archive(stored_layers: &[Vec<u8>], manifest_json: bool) -> Vec<u8> {
    let config = CONFIG.to_vec();
    let layer_descriptors: Vec<serde_json::Value> = stored_layers
        .iter()
        .map(|bytes| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{}", sha256_hex(bytes)),
                "size": bytes.len(),
            })
        })
        .collect();
    let image_manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256_hex(&config)), "size": config.len() },
        "layers": layer_descriptors,
    })
    .to_string()
    .into_bytes();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&image_manifest)),
            "size": image_manifest.len(),
            "annotations": { "io.containerd.image.name": "docker.io/hostile/oci:latest", "org.opencontainers.image.ref.name": "latest" },
        }],
    })
    .to_string()
    .into_bytes();
    let mut tar = Tar::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", &index)
        .file(&blob(&image_manifest), &image_manifest)
        .file(&blob(&config), &config);
    for bytes in stored_layers {
        tar = tar.file(&blob(bytes), bytes);
    }
    if manifest_json {
        let names: Vec<String> = stored_layers.iter().map(|bytes| blob(bytes)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        tar = tar.file("manifest.json", &manifest(&blob(&config), &names));
    }
    tar.finish()
}

/// Two layers: the second overwrites a file of the first and deletes another.
fn two_layers() -> (Vec<u8>, Vec<u8>) {
    let bottom = Tar::new()
        .directory("app/")
        .file("app/a.txt", b"first")
        .file("app/gone.txt", b"x")
        .finish();
    let top = Tar::new()
        .file("app/a.txt", b"second!")
        .file("app/.wh.gone.txt", b"")
        .finish();
    (bottom, top)
}

#[test]
fn gzip_and_zstd_layers_read_as_their_tars_in_both_readers() {
    let _serial = serial();
    let (bottom, top) = two_layers();
    let plain = oci_archive(&[bottom.clone(), top.clone()], true);
    let expected_view = read(&plain).unwrap();
    let expected_sizes = analyze_archive(plain.as_slice()).unwrap();
    for (kind, stored) in [
        ("gzip", vec![gzip(&bottom), gzip(&top)]),
        ("zstd", vec![zstd_of(&bottom), zstd_of(&top)]),
        ("mixed", vec![zstd_of(&bottom), top.clone()]),
    ] {
        for manifest_json in [true, false] {
            let bytes = oci_archive(&stored, manifest_json);
            let view = read(&bytes).unwrap();
            assert_eq!(
                view.files, expected_view.files,
                "{kind}, manifest.json {manifest_json}"
            );
            assert_eq!(view.get("app/a.txt").unwrap().size_bytes, 7);
            assert!(view.get("app/gone.txt").is_none());
            let images = analyze_archive(bytes.as_slice()).unwrap();
            // The diff ids are the uncompressed tars' digests, whatever the blob's compression.
            let layers = &images[0].analysis.layers;
            assert_eq!(
                layers[0].figures.diff_id,
                format!("sha256:{}", sha256_hex(&bottom))
            );
            assert_eq!(layers[0].figures.tar_bytes, bottom.len() as u64);
            assert_eq!(
                images[0].analysis, expected_sizes[0].analysis,
                "{kind}, manifest.json {manifest_json}"
            );
            // Without manifest.json the tag is the containerd name in the index.
            let tag = if manifest_json {
                "hostile:latest"
            } else {
                "docker.io/hostile/oci:latest"
            };
            assert_eq!(images[0].tags, [tag]);
        }
    }
}

#[test]
fn the_archive_index_says_how_each_layer_blob_is_stored() {
    use r2r_core::inspect::archive::BlobCompression;
    let _serial = serial();
    let (bottom, top) = two_layers();
    let stored = vec![gzip(&bottom), zstd_of(&top)];
    let bytes = oci_archive(&stored, true);
    let index = walk_archive(bytes.as_slice(), &mut |_, layer| {
        std::io::copy(layer, &mut std::io::sink())
            .map(|_| ())
            .map_err(|source| ArchiveError::Read {
                entry: "test".into(),
                source,
            })
    })
    .unwrap();
    let gzip_blob = index.blobs[&blob(&stored[0])];
    assert_eq!(gzip_blob.compression, BlobCompression::Gzip);
    assert_eq!(gzip_blob.stored_bytes, stored[0].len() as u64);
    assert!(gzip_blob.digest_checked);
    let zstd_blob = index.blobs[&blob(&stored[1])];
    assert_eq!(
        (zstd_blob.compression, zstd_blob.stored_bytes),
        (BlobCompression::Zstd, stored[1].len() as u64)
    );
}

/// A blob whose name is not its digest: `blobs/sha256/` and the digest of other bytes.
fn misnamed(bytes: &[u8]) -> String {
    blob(&[bytes, &b"other"[..]].concat())
}

#[test]
fn a_blob_whose_digest_does_not_match_is_refused() {
    let _serial = serial();
    let layer = plain_layer();
    for stored in [layer.clone(), gzip(&layer), zstd_of(&layer)] {
        let name = misnamed(&stored);
        let bytes = image_with(
            &manifest("c.json", &[name.as_str()]),
            &[(name.as_str(), stored.as_slice())],
        )
        .finish();
        for error in [
            read(&bytes).unwrap_err(),
            analyze_archive(bytes.as_slice()).unwrap_err(),
        ] {
            match error {
                ArchiveError::Digest { entry, actual } => {
                    assert_eq!(entry, name);
                    assert_eq!(actual, format!("sha256:{}", sha256_hex(&stored)));
                }
                other => panic!("expected a digest mismatch on {name}, got: {other}"),
            }
        }
    }
    // A config blob too.
    let name = misnamed(CONFIG);
    let bytes = Tar::new()
        .file("manifest.json", &manifest(&name, &[LAYER]))
        .file(&name, CONFIG)
        .file(LAYER, &layer)
        .finish();
    assert!(
        matches!(read(&bytes).unwrap_err(), ArchiveError::Digest { entry, .. } if entry == name)
    );
    // A name that is not a full digest is not checked (and not refused).
    let short = "blobs/sha256/abc";
    let bytes = image_with(&manifest("c.json", &[short]), &[(short, layer.as_slice())]).finish();
    assert!(read(&bytes).is_ok());
}

#[test]
fn a_compressed_layer_cut_anywhere_is_an_error_naming_it() {
    let _serial = serial();
    // Big enough that cuts fall inside file data, headers and the stream's trailer.
    let mut content = Vec::new();
    for i in 0..20_000u32 {
        content.extend_from_slice(format!("line {i} of a file\n").as_bytes());
    }
    let layer = Tar::new()
        .file("app/a.txt", &content)
        .file("app/b.dll", b"MZ")
        .finish();
    for (kind, stored) in [("gzip", gzip(&layer)), ("zstd", zstd_of(&layer))] {
        let cuts = [
            10,
            stored.len() / 3,
            stored.len() / 2,
            stored.len() - 9,
            stored.len() - 1,
        ];
        for cut in cuts {
            let cut_blob = &stored[..cut];
            // Not named by its digest: only the decompressor can tell.
            let bytes = image_with(&manifest("c.json", &[LAYER]), &[(LAYER, cut_blob)]).finish();
            for (reader, result) in [
                ("image", read(&bytes).map(|_| ())),
                ("sizes", analyze_archive(bytes.as_slice()).map(|_| ())),
            ] {
                let error = result.expect_err(&format!("{kind} cut at {cut}, {reader}: read"));
                match &error {
                    ArchiveError::Read { entry, .. } | ArchiveError::Layer { layer: entry, .. } => {
                        assert_eq!(entry, LAYER, "{kind} cut at {cut}, {reader}: {error}")
                    }
                    other => panic!("{kind} cut at {cut}, {reader}: {other}"),
                }
            }
        }
    }
}

fn gzip_stream(feed: &mut dyn FnMut(&mut dyn std::io::Write)) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    feed(&mut encoder);
    encoder.finish().unwrap()
}

fn zstd_stream(feed: &mut dyn FnMut(&mut dyn std::io::Write)) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    feed(&mut encoder);
    encoder.finish().unwrap()
}

#[test]
fn compression_bombs_stop_after_bounded_work_and_memory() {
    use r2r_core::inspect::archive::{EXPANSION_ALLOWANCE_BYTES, MAX_EXPANSION_RATIO};
    let _serial = serial();
    // 1 GiB of zeros: about 1 MiB as gzip, a few tens of kilobytes as zstd.
    let size = GIB;
    let gzip_bomb = gzip_stream(&mut |writer| {
        let header = Tar::header("app/zeros.bin", EntryType::Regular, size, "");
        writer.write_all(header.as_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(size >> 20) {
            writer.write_all(&zeros).unwrap();
        }
    });
    let zstd_bomb = zstd_stream(&mut |writer| {
        let header = Tar::header("app/zeros.bin", EntryType::Regular, size, "");
        writer.write_all(header.as_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(size >> 20) {
            writer.write_all(&zeros).unwrap();
        }
    });
    for (kind, stored) in [("gzip", gzip_bomb), ("zstd", zstd_bomb)] {
        let limit = stored.len() as u64 * MAX_EXPANSION_RATIO + EXPANSION_ALLOWANCE_BYTES;
        assert!(limit < size, "{kind}: the bomb must exceed the bound");
        let name = blob(&stored);
        let bytes = image_with(
            &manifest("c.json", &[name.as_str()]),
            &[(name.as_str(), stored.as_slice())],
        )
        .finish();
        for reader in ["image", "sizes"] {
            let started = std::time::Instant::now();
            let (result, peak) = peak_during(|| match reader {
                "image" => read(&bytes).map(|_| ()),
                _ => analyze_archive(bytes.as_slice()).map(|_| ()),
            });
            let error = result.unwrap_err();
            match &error {
                ArchiveError::Layer { layer, source, .. } => {
                    assert_eq!(layer, &name, "{kind}, {reader}: {error}");
                    assert!(
                        source.to_string().contains("compression bomb"),
                        "{kind}, {reader}: {error}"
                    );
                }
                other => panic!("{kind}, {reader}: expected the bomb refused, got: {other}"),
            }
            // Twice the usual limit: a zstd layer's window (at most 8 MiB) and the size
            // analysis' compressors (their blocks and the chunks in flight to them) stay
            // within it; what the bomb expands to (hundreds of MiB) does not.
            let memory_limit = 2 * PEAK_LIMIT;
            assert!(
                peak < memory_limit,
                "{kind}, {reader}: {peak} bytes at the peak"
            );
            eprintln!(
                "{kind} bomb, {reader}: refused after {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
    use r2r_core::inspect::archive::MAX_ZSTD_WINDOW_LOG;
    let _serial = serial();
    let layer = plain_layer();
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.window_log(MAX_ZSTD_WINDOW_LOG + 4).unwrap();
    encoder.include_contentsize(false).unwrap();
    std::io::Write::write_all(&mut encoder, &layer).unwrap();
    let stored = encoder.finish().unwrap();
    let bytes = image_with(&manifest("c.json", &[LAYER]), &[(LAYER, stored.as_slice())]).finish();
    let error = read(&bytes).unwrap_err();
    assert!(
        matches!(&error, ArchiveError::Layer { layer, .. } if layer == LAYER),
        "{error}"
    );
}

#[test]
fn oci_indexes_are_bounded_and_checked() {
    let _serial = serial();
    // An index naming a digest that is no sha256: refused, named.
    let bytes = Tar::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file(
            "index.json",
            br#"{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"md5:../../etc/passwd"}]}"#,
        )
        .finish();
    let message = manifest_error(read(&bytes).unwrap_err());
    assert!(message.contains("md5:../../etc/passwd"), "{message}");
    // An index that names only manifests the archive lacks (another platform's) has no image.
    let absent = format!("sha256:{}", sha256_hex(b"absent"));
    let index = format!(
        r#"{{"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{absent}"}}]}}"#
    );
    let bytes = Tar::new().file("index.json", index.as_bytes()).finish();
    let message = manifest_error(read(&bytes).unwrap_err());
    assert!(message.contains("no image manifest"), "{message}");
    // Indexes nested in a loop (an index naming itself is impossible by digest, so a chain
    // deeper than the limit): refused.
    let mut inner = br#"{"manifests":[]}"#.to_vec();
    let mut tar = Tar::new();
    for _ in 0..8 {
        let name = blob(&inner);
        tar = tar.file(&name, &inner);
        inner = format!(
            r#"{{"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{}"}}]}}"#,
            sha256_hex(&inner)
        )
        .into_bytes();
    }
    let bytes = tar.file("index.json", &inner).finish();
    let message = manifest_error(read(&bytes).unwrap_err());
    assert!(message.contains("nested"), "{message}");
    // With no manifest.json and no index.json: named.
    let bytes = Tar::new().file(LAYER, &plain_layer()).finish();
    let message = manifest_error(read(&bytes).unwrap_err());
    assert!(message.contains("index.json"), "{message}");
}
