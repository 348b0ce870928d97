//! Hostile input given to the binary: an image archive whose layer escapes the image root,
//! and scenario files naming images and labels that would reach the engine. Each is refused
//! with exit code 2 and a message that names the entry or the file and line; nothing is
//! written outside the results directory and nothing reaches the engine.

use super::*;

fn layer(path: &[u8], link: Option<&[u8]>) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    // The name is written into the header directly: the tar crate refuses `..` on purpose.
    header.as_old_mut().name[..path.len()].copy_from_slice(path);
    match link {
        Some(target) => {
            header.set_entry_type(tar::EntryType::Link);
            header.as_old_mut().linkname[..target.len()].copy_from_slice(target);
            header.set_size(0);
        }
        None => header.set_size(5),
    }
    header.set_mode(0o644);
    header.set_cksum();
    let mut bytes = header.as_bytes().to_vec();
    if link.is_none() {
        bytes.extend_from_slice(b"evil\n");
        bytes.resize(1024, 0);
    }
    bytes.extend_from_slice(&[0; 1024]);
    bytes
}

fn archive(layer_bytes: Vec<u8>) -> tempfile::NamedTempFile {
    let mut outer = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        outer.append_data(&mut header, name, data).unwrap();
    };
    add(
        "manifest.json",
        br#"[{"Config":"config.json","RepoTags":["evil:latest"],"Layers":["layer/layer.tar"]}]"#,
    );
    add(
        "config.json",
        br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    add("layer/layer.tar", &layer_bytes);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), outer.into_inner().unwrap()).unwrap();
    file
}

#[test]
fn an_archive_escaping_the_image_root_is_refused_naming_the_entry() {
    let cases: [(&[u8], Option<&[u8]>); 2] = [
        (b"../../r2r-escaped", None),
        (b"usr/lib/evil", Some(b"../../../etc/shadow")),
    ];
    for (path, link) in cases {
        let file = archive(layer(path, link));
        let out = tempfile::tempdir().unwrap();
        let output = common::r2r()
            .args(["measure", "sizes", "--archive"])
            .arg(file.path())
            .arg("--output")
            .arg(out.path().join("sizes"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let named = String::from_utf8_lossy(link.unwrap_or(path)).into_owned();
        assert!(
            stderr.contains("layer/layer.tar") && stderr.contains(&named),
            "names the layer and the entry: {stderr}"
        );
        assert!(
            !common::root().join("r2r-escaped").exists() && !Path::new("/r2r-escaped").exists()
        );
        assert!(
            !out.path().join("sizes").exists(),
            "no results from a refused archive"
        );
    }
}

#[test]
fn names_that_would_reach_the_engine_are_checked_at_the_scenario_line() {
    let cases = [
        ("base = \"Evil Image;rm -rf /\"\n", 2),
        ("base = \"registry.example:5000/../x:tag\"\n", 2),
    ];
    for (line, number) in cases {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("hostile.toml");
        std::fs::write(
            &path,
            format!(
                "dotnet = \"10.0.12\"\n{line}apps = [\"console\"]\nvariants = [\"no-composite\"]\n"
            ),
        )
        .unwrap();
        let output = common::r2r()
            .args(["build", "--scenario"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:{number}:", path.display())),
            "names file and line: {stderr}"
        );
        assert!(containers_of("hostile").is_empty());
    }
}
