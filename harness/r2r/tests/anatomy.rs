//! The anatomy of real images (crossgen2 output of the `quick` scenario): every file's parts
//! add up to the file's size as the image archive records it, a composite is split into
//! exactly its component assemblies, and `r2r diff` of an image with itself is empty. And the
//! trimmed self-contained composite: built, verified (composite, starts, answers, its
//! precompiled code used) and smaller than the untrimmed one.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{csv_rows, r2r};
use r2r_core::engine::DockerEngine;
use r2r_core::inspect::verify::read_image;
use r2r_core::measure::anatomy::{self, AnatomyRow};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn rows_of(scenario: &str, ids: &[&str]) -> Vec<AnatomyRow> {
    let images: Vec<(String, String)> = ids
        .iter()
        .map(|id| {
            (
                id.to_string(),
                format!("r2r/{scenario}:{}", id.replace('.', "-")),
            )
        })
        .collect();
    runtime().block_on(async {
        let engine = DockerEngine::connect().await.unwrap();
        anatomy::measure_images(&engine, &images).await.unwrap()
    })
}

#[test]
fn quick_anatomy_adds_up_and_an_image_equals_itself() {
    let started = std::time::Instant::now();
    r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let ids = ["no-composite.console", "runtime-composite.console"];
    let rows = rows_of("quick", &ids);
    for id in ids {
        let image: Vec<&AnatomyRow> = rows.iter().filter(|row| row.image == id).collect();
        // The file sizes as the archive records them, read by the verification's reader.
        let reference = format!("r2r/quick:{}", id.replace('.', "-"));
        let filesystem = runtime().block_on(async {
            let engine = DockerEngine::connect().await.unwrap();
            read_image(&engine, &reference).await.unwrap()
        });
        let mut by_path: BTreeMap<&str, u64> = BTreeMap::new();
        for row in &image {
            // Every row's parts add up to its bytes, and the three groups too.
            let parts = row.headers_bytes
                + row.metadata_bytes
                + row.il_bytes
                + row.resources_bytes
                + row.native_code_bytes
                + row.readytorun_bytes
                + row.signature_bytes
                + row.other_bytes;
            assert_eq!(parts, row.bytes, "{row:?}");
            assert_eq!(
                row.il_metadata_bytes + row.native_code_bytes + row.rest_bytes,
                row.bytes,
                "{row:?}"
            );
            *by_path.entry(row.path.as_str()).or_default() += row.bytes;
        }
        let regular: Vec<_> = filesystem
            .files
            .values()
            .filter(|record| record.file_type == r2r_core::inspect::archive::FileType::Regular)
            .collect();
        let mut other_files = 0;
        for record in &regular {
            match by_path.get(record.path.as_str()) {
                Some(bytes) => assert_eq!(*bytes, record.size_bytes, "{}", record.path),
                None => other_files += record.size_bytes,
            }
        }
        assert_eq!(by_path[""], other_files, "{id}: the other-files row");
        let total: u64 = image.iter().map(|row| row.bytes).sum();
        assert_eq!(
            total,
            regular.iter().map(|record| record.size_bytes).sum::<u64>(),
            "{id}"
        );
        let corelib: Vec<&&AnatomyRow> = image
            .iter()
            .filter(|row| row.assembly == "System.Private.CoreLib")
            .collect();
        if id == "no-composite.console" {
            assert_eq!(corelib.len(), 1);
            let row = corelib[0];
            assert_eq!(row.kind, "r2r");
            assert!(
                row.il_bytes > 1_000_000 && row.native_code_bytes > 1_000_000,
                "{row:?}"
            );
            assert!(image.iter().all(|row| !row.kind.starts_with("composite")));
        } else {
            // The component file keeps IL + metadata, its code is its share of the composite.
            let file = corelib.iter().find(|row| row.kind == "component").unwrap();
            let share = corelib
                .iter()
                .find(|row| row.kind == "composite-part")
                .unwrap();
            assert_eq!(file.native_code_bytes, 0, "{file:?}");
            assert!(file.il_bytes > 1_000_000, "{file:?}");
            assert!(share.native_code_bytes > 1_000_000, "{share:?}");
            assert!(share.methods.unwrap() > 1000, "{share:?}");
            // The composite's components are exactly the component files beside it.
            let parts: BTreeSet<&str> = image
                .iter()
                .filter(|row| row.kind == "composite-part")
                .map(|row| row.assembly.as_str())
                .collect();
            let components: BTreeSet<&str> = image
                .iter()
                .filter(|row| row.kind == "component")
                .map(|row| row.assembly.as_str())
                .collect();
            assert_eq!(parts, components);
            assert!(parts.len() > 100, "{}", parts.len());
            assert_eq!(
                image
                    .iter()
                    .filter(|row| row.kind == "composite-shared")
                    .count(),
                1
            );
        }
    }

    let directory = tempfile::tempdir().unwrap();
    let same = directory.path().join("same.csv");
    let output = r2r()
        .args([
            "diff",
            "--scenario",
            "quick",
            "runtime-composite.console",
            "runtime-composite.console",
            "--csv",
        ])
        .arg(&same)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(stdout.contains("no assembly differs"), "{stdout}");
    assert!(csv_rows(&same).is_empty());
    assert!(std::fs::read_to_string(&same)
        .unwrap()
        .starts_with("assembly,a_bytes,b_bytes,delta_bytes"));

    let changed = directory.path().join("changed.csv");
    r2r()
        .args([
            "diff",
            "--scenario",
            "quick",
            "no-composite.console",
            "runtime-composite.console",
            "--csv",
        ])
        .arg(&changed)
        .assert()
        .success();
    let differences = csv_rows(&changed);
    let shared = differences
        .iter()
        .find(|row| row["assembly"] == "framework-r2r.dll (shared/unattributed)")
        .expect("the composite's shared part is new");
    assert_eq!(shared["a_bytes"], "0");
    // The differences add up to the difference of the images' files.
    let total = |id: &str| -> i64 {
        rows.iter()
            .filter(|row| row.image == id)
            .map(|row| row.bytes as i64)
            .sum()
    };
    let delta: i64 = differences
        .iter()
        .map(|row| row["delta_bytes"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(
        delta,
        total("runtime-composite.console") - total("no-composite.console")
    );
    r2r()
        .args([
            "diff",
            "--scenario",
            "quick",
            "no-composite.console",
            "nope",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no image `nope`"));
    eprintln!("anatomy test took {:.1?}", started.elapsed());
}

#[test]
#[ignore = "full suite: a trimmed publish and its composite, about 3 minutes on 2 cores"]
fn trimmed_selfcontained_composite_verifies_and_is_smaller() {
    let started = std::time::Instant::now();
    r2r()
        .args(["build", "--scenario", "trimmed-composite"])
        .assert()
        .success();
    let output = r2r()
        .args(["verify", "--scenario", "trimmed-composite"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids = [
        "selfcontained-composite.console",
        "selfcontained-trimmed-composite.console",
    ];
    // The sizes step writes anatomy.csv beside sizes.csv.
    let directory = tempfile::tempdir().unwrap();
    r2r()
        .args([
            "measure",
            "sizes",
            "--scenario",
            "trimmed-composite",
            "--output",
        ])
        .arg(directory.path())
        .assert()
        .success();
    let rows: Vec<AnatomyRow> = csv::Reader::from_path(directory.path().join("anatomy.csv"))
        .unwrap()
        .deserialize()
        .map(|row| row.unwrap())
        .collect();
    for size in csv_rows(&directory.path().join("sizes.csv")) {
        // The files' bytes: at most the content the engine accounts (which adds links).
        let files: u64 = rows
            .iter()
            .filter(|row| row.image == size["image"])
            .map(|row| row.bytes)
            .sum();
        let content: u64 = size["content_bytes"].parse().unwrap();
        assert!(files > 0 && files <= content, "{files} vs {content}");
    }
    let app = |id: &str| -> u64 {
        rows.iter()
            .filter(|row| row.image == id && row.path.starts_with("app/"))
            .map(|row| row.bytes)
            .sum()
    };
    let (untrimmed, trimmed) = (app(ids[0]), app(ids[1]));
    assert!(
        trimmed > 0 && trimmed < untrimmed,
        "{trimmed} vs {untrimmed}"
    );
    // Trimmed, and still one composite with the app among its components.
    let parts: Vec<&str> = rows
        .iter()
        .filter(|row| row.image == ids[1] && row.kind == "composite-part")
        .map(|row| row.assembly.as_str())
        .collect();
    assert!(parts.contains(&"ConsoleApp"), "{parts:?}");
    assert!(parts.contains(&"System.Private.CoreLib"), "{parts:?}");
    eprintln!(
        "trimmed test took {:.1?}; app/ {trimmed} vs {untrimmed} bytes",
        started.elapsed()
    );
}
