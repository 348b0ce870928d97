//! Image sizes on real images: the `quick` scenario's images measured from the engine's
//! export, checked against the engine's own accounting and against a real registry on
//! 127.0.0.1 (Debian's docker-registry, started by scripts/registry.sh); and the same analysis
//! on a saved archive file without an engine.

mod common;

use common::{csv_rows, number, r2r, root};
use std::collections::{BTreeMap, BTreeSet};

use r2r_core::engine::{DockerEngine, Images};

#[test]
fn quick_images_measured_against_engine_and_registry() {
    let registry = std::process::Command::new("bash")
        .arg(root().join("scripts/registry.sh"))
        .status()
        .unwrap();
    assert!(
        registry.success(),
        "scripts/registry.sh could not start a registry"
    );
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let output_dir = tempfile::tempdir().unwrap();
    let output = r2r()
        .args([
            "measure",
            "sizes",
            "--scenario",
            "quick",
            "--registry",
            "127.0.0.1:5000",
            "--output",
        ])
        .arg(output_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let images = csv_rows(&output_dir.path().join("sizes.csv"));
    assert_eq!(images.len(), 7);
    let by_id: BTreeMap<String, &BTreeMap<String, String>> = images
        .iter()
        .map(|row| (row["image"].clone(), row))
        .collect();
    for row in &images {
        // Our content total is the engine's own size accounting, to the byte.
        assert_eq!(
            number::<u64>(row, "content_bytes"),
            number::<u64>(row, "engine_size_bytes"),
            "{row:?}"
        );
        let (gzip, zstd, tar, stored) = (
            number::<u64>(row, "gzip_bytes"),
            number::<u64>(row, "zstd_bytes"),
            number::<u64>(row, "tar_bytes"),
            number::<u64>(row, "registry_bytes"),
        );
        assert!(gzip < tar && zstd < tar && gzip > 0, "{row:?}");
        // The gzip level 6 estimate against the blobs the registry stores (dockerd compresses
        // with Go's gzip): within 1% for the image.
        assert!(
            (gzip as f64 - stored as f64).abs() / (stored as f64) < 0.01,
            "{row:?}"
        );
    }

    // Engine-derived expectations for sets: a child contains its parent's layers, so the union
    // of a chain is the top image; siblings on one parent share exactly the parent.
    let sharing = csv_rows(&output_dir.path().join("sharing.csv"));
    let set = |name: &str| -> Vec<&BTreeMap<String, String>> {
        sharing
            .iter()
            .filter(|row| row["set"] == name && row["figure"] == "content")
            .collect()
    };
    let engine_size = |id: &str| number::<u64>(by_id[id], "engine_size_bytes");
    let no_composite = set("no-composite");
    assert_eq!(no_composite.len(), 4);
    let stored_once = number::<u64>(no_composite[0], "set_stored_once_bytes");
    // runtime-deps <- runtime <- {aspnet, console}: aspnet and console are siblings on runtime.
    assert_eq!(
        stored_once,
        engine_size("no-composite.aspnet") + engine_size("no-composite.console")
            - engine_size("no-composite.runtime")
    );
    let aspnet = no_composite
        .iter()
        .find(|row| row["image"] == "no-composite.aspnet")
        .unwrap();
    assert_eq!(
        number::<u64>(aspnet, "shared_bytes"),
        engine_size("no-composite.runtime")
    );
    assert_eq!(
        number::<u64>(aspnet, "owned_bytes"),
        engine_size("no-composite.aspnet") - engine_size("no-composite.runtime")
    );

    // Per layer: within 1%, or a few bytes for layers of a few hundred bytes (gzip framing).
    for layer in csv_rows(&output_dir.path().join("layers.csv")) {
        let (gzip, stored) = (
            number::<u64>(&layer, "gzip_bytes") as f64,
            number::<u64>(&layer, "registry_bytes") as f64,
        );
        assert!(
            (gzip - stored).abs() <= (stored * 0.01).max(16.0),
            "{layer:?}"
        );
    }

    // A layer reused on a different parent is counted twice: the ASP.NET Core layer as
    // shipped is the same tar in both variants (same diff id) but stands on different runtimes.
    let layers = csv_rows(&output_dir.path().join("layers.csv"));
    let mut chains_by_diff: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for layer in &layers {
        chains_by_diff
            .entry(layer["diff_id"].as_str())
            .or_default()
            .insert(layer["chain_id"].as_str());
    }
    let reused: Vec<_> = chains_by_diff
        .iter()
        .filter(|(_, chains)| chains.len() > 1)
        .collect();
    assert!(
        !reused.is_empty(),
        "the aspnet layer appears on two parents"
    );
    let all = set("all");
    let everything = number::<u64>(all[0], "set_stored_once_bytes");
    let distinct_chains: u64 = layers
        .iter()
        .map(|layer| number::<u64>(layer, "content_bytes"))
        .sum();
    assert_eq!(
        everything, distinct_chains,
        "the union counts each chain once, reused diff ids twice"
    );

    // The summary holds the same figures.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(output_dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["sizes"]["images"].as_array().unwrap().len(), 7);
    assert_eq!(summary["sizes"]["registry"], "127.0.0.1:5000");
}

#[test]
fn an_archive_is_measured_without_an_engine_and_a_bad_one_is_named() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(DockerEngine::connect())
        .expect("a Docker engine must run for this test");
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let directory = tempfile::tempdir().unwrap();
    let archive = directory.path().join("console.tar");
    // Save one image through the engine to a file.
    runtime.block_on(async {
        use futures_util::StreamExt;
        use std::io::Write;
        let references = ["r2r/quick:runtime-composite-console".to_string()];
        let mut stream = engine.export_images(&references);
        let mut file = std::fs::File::create(&archive).unwrap();
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.unwrap()).unwrap();
        }
    });
    let details = runtime
        .block_on(engine.inspect_image("r2r/quick:runtime-composite-console"))
        .unwrap()
        .unwrap();
    let out = directory.path().join("out");
    r2r()
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .args(["measure", "sizes", "--archive"])
        .arg(&archive)
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let rows = csv_rows(&out.join("sizes.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["image"], "r2r/quick:runtime-composite-console");
    assert_eq!(number::<u64>(&rows[0], "content_bytes"), details.size_bytes);
    assert_eq!(
        number::<u64>(&rows[0], "layers"),
        details.layers.len() as u64
    );

    // A truncated archive and a file that is not an archive: a clear error naming the file.
    let truncated = directory.path().join("truncated.tar");
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let not_an_archive = directory.path().join("notes.txt");
    std::fs::write(&not_an_archive, "hello").unwrap();
    for path in [&truncated, &not_an_archive] {
        let output = r2r()
            .args(["measure", "sizes", "--archive"])
            .arg(path)
            .arg("--output")
            .arg(directory.path().join("x"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }
}

#[test]
fn missing_images_and_an_unreachable_registry_do_not_stop_the_others() {
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    // A scenario naming images that were never built (another name), beside built ones.
    let directory = tempfile::tempdir().unwrap();
    let scenario = directory.path().join("never-built.toml");
    std::fs::write(
        &scenario,
        std::fs::read_to_string(root().join("scenarios/quick.toml")).unwrap(),
    )
    .unwrap();
    let output = r2r()
        .args(["measure", "sizes", "--scenario"])
        .arg(&scenario)
        .arg("--output")
        .arg(directory.path().join("a"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not measured: runtime-deps: r2r/never-built:no-composite-runtime-deps is not on the engine"), "{stdout}");

    // The registry does not answer: the estimates are still written, the problem is reported.
    let output = r2r()
        .args([
            "measure",
            "sizes",
            "--scenario",
            "quick",
            "--registry",
            "127.0.0.1:1",
            "--output",
        ])
        .arg(directory.path().join("b"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("registry: registry 127.0.0.1:1 does not answer"),
        "{stdout}"
    );
    assert_eq!(csv_rows(&directory.path().join("b/sizes.csv")).len(), 7);
    // A registry that is not on this machine is refused before anything is sent.
    r2r()
        .args([
            "measure",
            "sizes",
            "--scenario",
            "quick",
            "--registry",
            "10.1.2.3:5000",
        ])
        .assert()
        .code(2);
}

/// The layer cache never changes a figure: the quick scenario's images measured with an empty
/// cache, again with it warm, and again with one layer's entry corrupt give the same files,
/// byte for byte; the corrupt entry is named in a warning and written again.
#[test]
fn a_warm_or_damaged_layer_cache_changes_no_byte() {
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let directory = tempfile::tempdir().unwrap();
    let work = directory.path().join("work");
    let measure = |name: &str| {
        let out = directory.path().join(name);
        let output = r2r()
            .env("R2R_WORK_DIR", &work)
            .args(["measure", "sizes", "--scenario", "quick", "--output"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        (out, stderr)
    };
    let files = |directory: &std::path::Path| -> BTreeMap<&'static str, Vec<u8>> {
        ["sizes.csv", "layers.csv", "sharing.csv", "anatomy.csv"]
            .into_iter()
            .map(|name| (name, std::fs::read(directory.join(name)).unwrap()))
            .collect()
    };
    let (cold, _) = measure("cold");
    let cache = work.join("sizes-cache");
    let layers = csv_rows(&cold.join("layers.csv"));
    let entry = |diff_id: &str| {
        cache
            .join("layers")
            .join(diff_id.trim_start_matches("sha256:"))
    };
    for layer in &layers {
        assert!(entry(&layer["diff_id"]).is_file(), "{layer:?}");
    }
    let (warm, stderr) = measure("warm");
    assert!(!stderr.contains("size cache"), "{stderr}");
    assert_eq!(files(&warm), files(&cold));

    // The runtime layer's entry cut in half: ignored with a warning naming it, measured again.
    let largest = layers
        .iter()
        .max_by_key(|layer| number::<u64>(layer, "tar_bytes"))
        .unwrap();
    let path = entry(&largest["diff_id"]);
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let (repaired, stderr) = measure("repaired");
    assert!(
        stderr.contains(&format!("ignoring size cache entry {}", path.display())),
        "{stderr}"
    );
    assert_eq!(files(&repaired), files(&cold));
    assert_eq!(std::fs::read(&path).unwrap(), good);
}
