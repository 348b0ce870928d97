use super::blobs::{blob_compression, blob_digest};
use super::*;
use crate::inspect::readytorun::AssemblyKind;

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
