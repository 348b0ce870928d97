//! linux/arm64 images built on this (x64) machine: the `quick-platforms` scenario's x64 and
//! arm64 images, their image configs, their sizes and anatomy (exact, nothing run), the report
//! with both platforms side by side, and start-up refused under emulation.

mod common;

use std::collections::BTreeMap;

use common::{csv_rows, latest_run, number, r2r};
use r2r_core::engine::{DockerEngine, Images};

const SCENARIO: &str = "quick-platforms";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Full tier (`scripts/test.sh --full`): on a fresh machine the arm64 base alone takes more
/// than a quarter of an hour (debootstrap's second stage and apt under QEMU), and the arm64
/// composite and apps are compiled from nothing.
#[test]
#[ignore = "builds arm64 images from nothing (an arm64 base under QEMU): the full tier"]
fn arm64_images_are_built_and_measured_beside_x64() {
    let started = std::time::Instant::now();
    let build = r2r()
        .args(["build", "--scenario", SCENARIO])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let built = started.elapsed();

    // The engine's image configs name each image's platform; arm64 tags are distinct.
    let architectures: BTreeMap<String, String> = runtime().block_on(async {
        let engine = DockerEngine::connect().await.unwrap();
        let mut found = BTreeMap::new();
        for tag in [
            "no-composite-console",
            "runtime-composite-console",
            "no-composite.arm64-console",
            "runtime-composite.arm64-console",
            "runtime-composite.arm64-runtime",
        ] {
            let reference = format!("r2r/{SCENARIO}:{tag}");
            let details = engine
                .inspect_image(&reference)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{reference} is not built"));
            found.insert(tag.to_string(), details.architecture);
        }
        found
    });
    assert_eq!(architectures["no-composite-console"], "amd64");
    assert_eq!(architectures["runtime-composite-console"], "amd64");
    assert_eq!(architectures["no-composite.arm64-console"], "arm64");
    assert_eq!(architectures["runtime-composite.arm64-console"], "arm64");
    assert_eq!(architectures["runtime-composite.arm64-runtime"], "arm64");

    // Sizes of every image, a run of its own, then its report.
    r2r()
        .args(["measure", "sizes", "--scenario", SCENARIO])
        .assert()
        .success();
    let run = latest_run(SCENARIO);
    let sizes = csv_rows(&run.join("sizes.csv"));
    assert_eq!(sizes.len(), 14, "7 images per platform: {sizes:?}");
    let by_id: BTreeMap<&str, &BTreeMap<String, String>> = sizes
        .iter()
        .map(|row| (row["image"].as_str(), row))
        .collect();
    for row in &sizes {
        // Exact: our content total is the engine's own accounting, on both platforms.
        assert_eq!(
            number::<u64>(row, "content_bytes"),
            number::<u64>(row, "engine_size_bytes"),
            "{row:?}"
        );
    }
    let gzip = |id: &str| number::<u64>(by_id[id], "gzip_bytes");
    let content = |id: &str| number::<u64>(by_id[id], "content_bytes");
    // Each platform's images are its own (other base, other native code), and the composite
    // grows the runtime image on arm64 as on x64.
    assert_ne!(
        gzip("no-composite.console"),
        gzip("no-composite.arm64.console")
    );
    assert!(content("runtime-composite.arm64.console") > content("no-composite.arm64.console"));
    assert!(content("runtime-composite.console") > content("no-composite.console"));
    assert_eq!(
        by_id["runtime-composite.arm64.console"]["reference"],
        format!("r2r/{SCENARIO}:runtime-composite.arm64-console")
    );

    // The anatomy of arm64 code: native code found (8-byte runtime functions, lengths from
    // the unwind data), every row adding up, the composite split into components.
    let anatomy = csv_rows(&run.join("anatomy.csv"));
    let native = |image: &str, kind: &str| -> u64 {
        anatomy
            .iter()
            .filter(|row| row["image"] == image && row["kind"] == kind)
            .map(|row| number::<u64>(row, "native_code_bytes"))
            .sum()
    };
    for row in &anatomy {
        let parts: u64 = [
            "headers_bytes",
            "metadata_bytes",
            "il_bytes",
            "resources_bytes",
            "readytorun_bytes",
            "signature_bytes",
            "other_bytes",
        ]
        .iter()
        .map(|column| number::<u64>(row, column))
        .sum::<u64>()
            + number::<u64>(row, "native_code_bytes");
        assert_eq!(parts, number::<u64>(row, "bytes"), "{row:?}");
    }
    let shipped_arm = native("no-composite.arm64.console", "r2r");
    let shipped_x64 = native("no-composite.console", "r2r");
    assert!(
        shipped_arm > 10_000_000,
        "{shipped_arm} bytes of arm64 code"
    );
    assert!(shipped_x64 > 10_000_000, "{shipped_x64} bytes of x64 code");
    assert_ne!(shipped_arm, shipped_x64);
    let composite_arm = native("runtime-composite.arm64.console", "composite-part")
        + native("runtime-composite.arm64.console", "composite-shared");
    assert!(
        composite_arm > shipped_arm / 2,
        "{composite_arm} vs {shipped_arm}"
    );

    // The report puts the platforms side by side.
    r2r()
        .args(["report", "--scenario", SCENARIO])
        .assert()
        .success();
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("Sizes by platform"), "{report}");
    assert!(
        report.contains("Platforms: linux/amd64, linux/arm64."),
        "{report}"
    );
    let mb = |bytes: u64| format!("{:.1}", bytes as f64 / 1e6);
    let row = report
        .lines()
        .find(|line| line.starts_with("| runtime-composite | console |"))
        .unwrap_or_else(|| panic!("no platform row for runtime-composite:\n{report}"));
    assert!(
        row.contains(&mb(gzip("runtime-composite.console")))
            && row.contains(&mb(gzip("runtime-composite.arm64.console"))),
        "{row}"
    );

    // Start-up of arm64 images alone is refused, with the reason.
    let refused = r2r()
        .args([
            "measure",
            "startup",
            "--scenario",
            SCENARIO,
            "--platform",
            "linux/arm64",
            "--runs",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("never timed under emulation"), "{stderr}");
    eprintln!("built in {:.1?}, all in {:.1?}", built, started.elapsed());
}

#[test]
fn bad_platforms_are_refused_before_anything_is_built() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("bad-platform.toml");
    std::fs::write(
        &path,
        "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\nplatforms = [\"linux/amd64\", \"linux/mips\"]\n",
    )
    .unwrap();
    let output = r2r()
        .args(["build", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad-platform.toml:5:")
            && stderr.contains("unknown platform `linux/mips`; allowed: linux/amd64, linux/arm64"),
        "{stderr}"
    );
    let output = r2r()
        .args(["plan", "--scenario", "quick", "--platform", "linux/arm"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("allowed: linux/amd64, linux/arm64"),
        "{stderr}"
    );
    let output = r2r()
        .args(["plan", "--scenario", "quick", "--platform", "linux/arm64"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("scenario quick-arm64")
            && stdout.contains("r2r/quick-arm64:no-composite.arm64-console")
            && stdout.contains("r2r/base:bookworm-slim-arm64"),
        "{stdout}"
    );
}
