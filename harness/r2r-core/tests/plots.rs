//! Every plot drawn from a recorded run directory, to SVG and PNG.

use std::path::{Path, PathBuf};

use r2r_core::report::plot::{self, Format, PlotError, PlotOptions};

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite")
}

fn both() -> PlotOptions {
    PlotOptions {
        formats: vec![Format::Svg, Format::Png],
        font: None,
    }
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}

/// A copy of the recorded run whose runs carry their round (the recorded file predates the
/// column; with no failed run, a run's number is its round), and its startup.csv written
/// again from them, paired columns included.
fn recorded_with_rounds() -> tempfile::TempDir {
    use r2r_core::measure::startup;
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    let mut records = startup::read_runs(&recorded().join("startup-runs.csv")).unwrap();
    assert!(records.iter().all(|r| r.ok));
    for record in &mut records {
        record.round = record.run;
    }
    let plan: r2r_core::model::plan::Plan =
        serde_json::from_slice(&std::fs::read(recorded().join("plan.json")).unwrap()).unwrap();
    let summaries = startup::summarize(
        &records,
        &startup::targets(&plan),
        &plan.scenario.variants,
        1,
    );
    std::fs::write(
        copy.path().join("startup.csv"),
        startup::summary_csv(&summaries).unwrap(),
    )
    .unwrap();
    copy
}

#[test]
fn every_plot_of_a_run_in_svg_and_png() {
    let out = tempfile::tempdir().unwrap();
    let run = recorded_with_rounds();
    let outcome = plot::plot_run(run.path(), out.path(), &both()).unwrap();
    let names: Vec<&str> = outcome.drawn.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sizes",
            "sharing",
            "startup-console",
            "startup-console-time-to-main",
            "startup-webapi",
            "startup-webapi-time-to-main",
            "startup-webapi-first-request",
            // The recorded run has the web API's peak memory (no other counters).
            "startup-webapi-peak-memory",
            "startup-phases",
            "startup-speedup",
            "size-vs-startup"
        ]
    );
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    for drawn in &outcome.drawn {
        assert_eq!(drawn.files.len(), 2);
        let svg = std::fs::read_to_string(&drawn.files[0]).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{}",
            drawn.name
        );
        assert!(svg.contains(&drawn.title), "{} has its title", drawn.name);
        let png = std::fs::read(&drawn.files[1]).unwrap();
        let (width, height) = png_size(&png);
        assert_eq!(width, 1100);
        assert!(height >= 400, "{height}");
        // A drawn picture, not a blank one: well over the size of a white PNG.
        assert!(png.len() > 20_000, "{} is {} bytes", drawn.name, png.len());
    }
    let sizes = std::fs::read_to_string(out.path().join("sizes.svg")).unwrap();
    for image in [
        "runtime-deps",
        "no-composite.console",
        "aspnet-composite.webapi",
        "selfcontained-composite.webapi",
    ] {
        assert!(sizes.contains(image), "{image} labelled");
    }
    let webapi = std::fs::read_to_string(out.path().join("startup-webapi.svg")).unwrap();
    assert!(
        webapi.contains("no-composite.webapi (cold)")
            && webapi.contains("no-composite.webapi (warm)")
    );
    assert!(
        !webapi.contains("console"),
        "the web API plot holds only web API images"
    );
    // The paired speed-ups: every image but the baselines, both cache modes.
    let speedup = std::fs::read_to_string(out.path().join("startup-speedup.svg")).unwrap();
    for pair in [
        "aspnet-composite.webapi vs no-composite.webapi (warm)",
        "runtime-composite.console vs no-composite.console (cold)",
    ] {
        assert!(speedup.contains(pair), "{pair}");
    }
    assert!(!speedup.contains("no-composite.webapi vs"));
}

#[test]
fn a_run_without_start_up_results_skips_those_plots() {
    let run = tempfile::tempdir().unwrap();
    for file in ["sizes.csv", "sharing.csv"] {
        std::fs::copy(recorded().join(file), run.path().join(file)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let outcome = plot::plot_run(
        run.path(),
        out.path(),
        &PlotOptions {
            formats: vec![Format::Svg],
            font: None,
        },
    )
    .unwrap();
    let names: Vec<&str> = outcome.drawn.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["sizes", "sharing"]);
    let skipped: Vec<&str> = outcome
        .skipped
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            "startup",
            "startup-phases",
            "startup-speedup",
            "size-vs-startup"
        ]
    );
    assert!(outcome.skipped[0].1.contains("startup-runs.csv"));
}

#[test]
fn the_anatomy_plot_stacks_each_images_groups() {
    use r2r_core::measure::anatomy::{anatomy_csv, AnatomyRow};
    let row = |image: &str, assembly: &str, kind: &str, il: u64, native: u64| AnatomyRow {
        image: image.into(),
        path: format!("app/{assembly}.dll"),
        assembly: assembly.into(),
        kind: kind.parse().unwrap(),
        bytes: il + native + 1000,
        il_metadata_bytes: il,
        native_code_bytes: native,
        rest_bytes: 1000,
        headers_bytes: 0,
        metadata_bytes: il / 2,
        il_bytes: il - il / 2,
        resources_bytes: 0,
        readytorun_bytes: 600,
        signature_bytes: 0,
        other_bytes: 400,
        methods: None,
    };
    let rows = [
        row(
            "no-composite.console",
            "System.Linq",
            "r2r",
            300_000,
            500_000,
        ),
        row(
            "runtime-composite.console",
            "System.Linq",
            "component",
            300_000,
            0,
        ),
        row(
            "runtime-composite.console",
            "System.Linq",
            "composite-part",
            0,
            700_000,
        ),
    ];
    let run = tempfile::tempdir().unwrap();
    std::fs::write(run.path().join("anatomy.csv"), anatomy_csv(&rows).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = PlotOptions {
        formats: vec![Format::Svg],
        font: None,
    };
    let outcome = plot::plot_run(run.path(), out.path(), &options).unwrap();
    let names: Vec<&str> = outcome.drawn.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["anatomy"]);
    let svg = std::fs::read_to_string(out.path().join("anatomy.svg")).unwrap();
    for label in [
        "Where the bytes go",
        "runtime-composite.console",
        "native code",
        "IL + metadata",
    ] {
        assert!(svg.contains(label), "{label}");
    }
}

#[test]
fn a_csv_without_a_needed_column_names_the_file() {
    let run = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(recorded().join("sizes.csv"))
        .unwrap()
        .replacen("zstd_bytes", "zstd", 1);
    std::fs::write(run.path().join("sizes.csv"), text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let error = plot::plot_run(run.path(), out.path(), &both())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("sizes.csv:1") && error.contains("zstd_bytes"),
        "{error}"
    );
}

#[test]
fn trends_over_runs() {
    let directory = tempfile::tempdir().unwrap();
    let history = directory.path().join("history.csv");
    let mut text = String::from("run_id,image,metric,value\n");
    for (run, shift) in [
        ("20261101T020000Z", 0.0),
        ("20261102T020000Z", 3.0),
        ("20261103T020000Z", -2.0),
    ] {
        for (image, base) in [
            ("no-composite.console", 160.0),
            ("runtime-composite.console", 170.0),
        ] {
            text.push_str(&format!(
                "{run},{image},startup_warm_total_median_ms,{}\n",
                base + shift
            ));
            text.push_str(&format!(
                "{run},{image},gzip_bytes,{}\n",
                68_000_000.0 + base * 1000.0
            ));
        }
    }
    std::fs::write(&history, text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let outcome = plot::plot_trend(&history, out.path(), &both()).unwrap();
    let names: Vec<&str> = outcome.drawn.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["trend-gzip-bytes", "trend-startup-warm-total-median-ms"]
    );
    let svg =
        std::fs::read_to_string(out.path().join("trend-startup-warm-total-median-ms.svg")).unwrap();
    assert!(
        svg.contains("runtime-composite.console") && svg.contains("20261102T020000Z"),
        "series and runs are labelled"
    );
    assert!(svg.contains("<polyline"), "lines are drawn");
    png_size(&std::fs::read(out.path().join("trend-gzip-bytes.png")).unwrap());
}

#[test]
fn a_missing_font_is_named() {
    let error = plot::find_font(Some(Path::new("/nonexistent/font.ttf"))).unwrap_err();
    assert!(matches!(error, PlotError::NoFont { .. }));
    let message = error.to_string();
    assert!(
        message.contains("/nonexistent/font.ttf") && message.contains("fonts-dejavu-core"),
        "{message}"
    );
    // The system font the PNGs use is found.
    assert!(plot::find_font(None).unwrap().is_file());
}

/// A run with counters (bytes read, major faults, peak memory) gets their plots beside the
/// start-up times, one strip per image and cache mode.
#[test]
fn counters_are_plotted_beside_the_times() {
    use r2r_core::measure::startup::{read_runs, runs_csv, Cache};
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let path = dir.path().join("startup-runs.csv");
    let mut runs = read_runs(&path).unwrap();
    for (index, run) in runs.iter_mut().enumerate() {
        let cold = run.cache == Cache::Cold;
        run.read_bytes = Some(if cold {
            36_000_000 + index as u64 * 1000
        } else {
            0
        });
        run.major_faults = Some(if cold { 27 } else { 0 });
        run.peak_memory_bytes = Some(41_000_000 + index as u64 * 10_000);
    }
    std::fs::write(&path, runs_csv(&runs, true).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = PlotOptions {
        formats: vec![Format::Svg],
        font: None,
    };
    let outcome = plot::plot_run(dir.path(), out.path(), &options).unwrap();
    let names: Vec<&str> = outcome.drawn.iter().map(|d| d.name.as_str()).collect();
    for app in ["console", "webapi"] {
        for counter in ["read", "major-faults", "peak-memory"] {
            let name = format!("startup-{app}-{counter}");
            assert!(names.contains(&name.as_str()), "{name} in {names:?}");
        }
    }
    let read = std::fs::read_to_string(out.path().join("startup-console-read.svg")).unwrap();
    assert!(read.contains("bytes read from disk"), "{read}");
    assert!(read.contains("MB (10^6 bytes)"));
    // The recorded run without counters draws none of them.
    let plain = tempfile::tempdir().unwrap();
    let outcome = plot::plot_run(&recorded(), plain.path(), &options).unwrap();
    assert!(outcome.drawn.iter().all(|d| !d.name.ends_with("-read")));
}
