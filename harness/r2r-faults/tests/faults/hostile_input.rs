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

/// `base` joined with `relative`, `..` resolved as text (as an extraction would resolve it).
fn resolve(base: &Path, relative: &str) -> PathBuf {
    let mut path = base.to_path_buf();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                path.pop();
            }
            part => path.push(part),
        }
    }
    path
}

#[test]
fn an_archive_escaping_the_image_root_is_refused_naming_the_entry() {
    // A name no other run leaves behind, so finding it means this run wrote it.
    let escaped = format!("../../r2r-escaped-{}", std::process::id());
    let cases: [(&[u8], Option<&[u8]>); 2] = [
        (escaped.as_bytes(), None),
        (b"usr/lib/evil", Some(b"../../../etc/shadow")),
    ];
    for (path, link) in cases {
        let file = archive(layer(path, link));
        // The output directory two levels down in a directory of its own, so that `../../`
        // from it (or from the output) lands in a place this test owns and can look at.
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("a/b");
        std::fs::create_dir_all(&out).unwrap();
        let output = common::r2r()
            .args(["measure", "sizes", "--archive"])
            .arg(file.path())
            .arg("--output")
            .arg(out.join("sizes"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let named = String::from_utf8_lossy(link.unwrap_or(path)).into_owned();
        assert!(
            stderr.contains("layer/layer.tar") && stderr.contains(&named),
            "names the layer and the entry: {stderr}"
        );
        // Where `../../<name>` lands from each directory an extraction could start in: the
        // working directory (the project root), the output directory and its parent, the
        // archive's directory, and the file system root.
        let archive_directory = file.path().parent().unwrap().to_path_buf();
        let starts = [
            common::root(),
            out.join("sizes"),
            out.clone(),
            archive_directory,
            PathBuf::from("/"),
        ];
        for start in &starts {
            let landing = resolve(start, &escaped);
            assert!(
                !landing.exists(),
                "{} was written through the archive",
                landing.display()
            );
        }
        assert!(
            !out.join("sizes").exists(),
            "no results from a refused archive"
        );
    }
}

/// Every image id the engine has, sorted.
fn images() -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args(["images", "--all", "--quiet", "--no-trunc"])
        .output()
        .unwrap();
    assert!(output.status.success(), "docker images: {output:?}");
    let mut ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

#[test]
#[serial]
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
        let images_before = images();
        let (work, results) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let output = common::r2r()
            .args(["build", "--scenario"])
            .arg(&path)
            .env("R2R_WORK_DIR", work.path())
            .env("R2R_RESULTS_DIR", results.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:{number}:", path.display())),
            "names file and line: {stderr}"
        );
        // Nothing reached the engine or was prepared for it: no container, no image (not even
        // a pulled or imported base), no build context, no run directory.
        assert!(containers_of("hostile").is_empty());
        assert_eq!(
            images(),
            images_before,
            "{line}: the engine's images changed"
        );
        for (what, directory) in [("work", work.path()), ("results", results.path())] {
            let entries: Vec<_> = std::fs::read_dir(directory).unwrap().collect();
            assert!(entries.is_empty(), "{line}: {what} directory: {entries:?}");
        }
    }
}

/// A real image with two identical layers (the same `COPY` twice): the engine lists the layer
/// twice in its archive, which is legitimate and measured, not refused as a lie.
#[test]
#[serial]
fn an_image_with_two_identical_layers_is_measured() {
    build_quick();
    let (runtime, engine) = engine();
    let dockerfile = "FROM r2r/base:bookworm-slim\nCOPY same /same\nCOPY same /same\n";
    let mut context = tar::Builder::new(Vec::new());
    for (name, data) in [("Dockerfile", dockerfile.as_bytes()), ("same", b"twice\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_600_000_000);
        header.set_cksum();
        context.append_data(&mut header, name, data).unwrap();
    }
    let reference = "r2r/faults:two-identical-layers";
    runtime
        .block_on(engine.build_image(
            r2r_core::engine::BuildRequest {
                reference: reference.into(),
                context: context.into_inner().unwrap().into(),
                labels: Default::default(),
                platform: Default::default(),
            },
            &|_| {},
        ))
        .unwrap();
    let inspected = Command::new("docker")
        .args(["inspect", "--format", "{{json .RootFS.Layers}}", reference])
        .output()
        .unwrap();
    let layers: Vec<String> = serde_json::from_slice(&inspected.stdout).unwrap();
    let n = layers.len();
    assert!(
        n >= 3 && layers[n - 1] == layers[n - 2],
        "the engine made two identical layers: {layers:?}"
    );
    let archive = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("docker")
        .args(["save", "-o"])
        .arg(archive.path())
        .arg(reference)
        .status()
        .unwrap();
    assert!(status.success());
    let out = tempfile::tempdir().unwrap();
    let output = common::r2r()
        .args(["measure", "sizes", "--archive"])
        .arg(archive.path())
        .arg("--output")
        .arg(out.path().join("sizes"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let rows = common::csv_rows(&out.path().join("sizes/layers.csv"));
    assert_eq!(
        rows.len(),
        n,
        "one row per layer, the repeated one twice: {rows:?}"
    );
}
