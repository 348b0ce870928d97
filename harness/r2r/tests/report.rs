//! `report`, `plot` and `compare` through the binary on a recorded run directory, and the
//! HTML report in a real browser (Debian's chromium, headless).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::r2r;
use predicates::prelude::PredicateBooleanExt;

fn recorded() -> PathBuf {
    common::root().join("harness/r2r-core/tests/data/run-composite")
}

/// A copy of the recorded run, as `<tmp>/results/composite/<run-id>`.
fn copy_of_recorded(root: &Path, run_id: &str) -> PathBuf {
    let run = root.join("results/composite").join(run_id);
    std::fs::create_dir_all(&run).unwrap();
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    let info = run.join("run.json");
    let text = std::fs::read_to_string(&info)
        .unwrap()
        .replace("20261124T203435Z", run_id);
    std::fs::write(&info, text).unwrap();
    run
}

/// Multiplies every `total_ms` of a run's start-up runs.
fn slow_down(run: &Path, factor: f64) {
    scale(&run.join("startup-runs.csv"), &["total_ms"], factor);
}

/// Multiplies the numbers in `columns` of a CSV file by `factor`.
fn scale(path: &Path, columns: &[&str], factor: f64) {
    let path = path.to_path_buf();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let wanted: Vec<usize> = columns
        .iter()
        .map(|name| headers.iter().position(|h| h == *name).unwrap())
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let cells: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if wanted.contains(&i) && !cell.is_empty() {
                    let value = cell.parse::<f64>().unwrap() * factor;
                    if cell.contains('.') {
                        format!("{value:.3}")
                    } else {
                        format!("{}", value.round() as u64)
                    }
                } else {
                    cell.to_string()
                }
            })
            .collect();
        writer.write_record(&cells).unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

fn chromium() -> PathBuf {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect(
        "the browser test needs Debian's chromium (apt-get install chromium); .ci/run installs it",
    )
}

/// Opens a page headless, takes a screenshot, and returns the console messages it logged.
fn screenshot(page: &Path, png: &Path) -> Vec<String> {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {stderr}");
    stderr
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(String::from)
        .collect()
}

#[test]
fn plot_report_and_browser() {
    let root = tempfile::tempdir().unwrap();
    let run = copy_of_recorded(root.path(), "20261124T203435Z");
    r2r().args(["plot", "--run"]).arg(&run).assert().success();
    for name in [
        "sizes",
        "sharing",
        "startup-console",
        "startup-webapi",
        "startup-phases",
        "size-vs-startup",
    ] {
        for extension in ["svg", "png"] {
            let file = run.join(format!("plots/{name}.{extension}"));
            assert!(
                std::fs::metadata(&file)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} written",
                file.display()
            );
        }
    }
    r2r().args(["report", "--run"]).arg(&run).assert().success();
    let markdown = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        markdown.contains("![Image sizes: uncompressed, gzip and zstd](plots/sizes.svg)"),
        "plots embedded in report.md"
    );
    assert!(markdown.contains("| Image kind | Base | Uncompressed (MB) | Compressed (MB) |"));
    assert!(
        markdown.contains("| Name | Publish type | Distroless | Globalization | Compressed (MB) |")
    );
    assert!(markdown.contains("| Image | Total (MB) | Owned (MB) | Shared (MB) |"));
    assert!(markdown.contains("| Vs baseline, paired | Ratio of means (unpaired) |"));

    let html = run.join("report.html");
    let shot = root.path().join("report.png");
    let console = screenshot(&html, &shot);
    assert!(
        console.is_empty(),
        "the report logged to the console: {console:?}"
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "a rendered page, not a blank one ({} bytes)",
        png.len()
    );

    // The check above can fail: a page with a script error is caught.
    let broken = root.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><p>x</p><script>notDefined();</script></body></html>",
    )
    .unwrap();
    let console = screenshot(&broken, &root.path().join("broken.png"));
    assert!(
        console.iter().any(|line| line.contains("notDefined")),
        "{console:?}"
    );
}

#[test]
fn compare_exit_codes_follow_the_verdict() {
    let root = tempfile::tempdir().unwrap();
    let baseline = copy_of_recorded(root.path(), "20261101T020000Z");
    let same = copy_of_recorded(root.path(), "20261102T020000Z");
    let slower = copy_of_recorded(root.path(), "20261103T020000Z");
    slow_down(&slower, 1.3);
    let faster = copy_of_recorded(root.path(), "20261104T020000Z");
    slow_down(&faster, 0.7);

    let compare = |run: &Path| {
        r2r()
            .arg("--results-dir")
            .arg(root.path().join("results"))
            .args(["compare", "--scenario", "composite", "--run"])
            .arg(run.file_name().unwrap())
            .args(["--baseline", "20261101T020000Z"])
            .output()
            .unwrap()
    };
    let output = compare(&same);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 regression(s), 0 improvement(s)"));

    // Start-up slower by 30% between two separate runs: shown, labelled untested drift (never
    // REGRESSION), with the way to test it, and not a failure.
    let output = compare(&slower);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a start-up regression from separate runs does not fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("UNTESTED DRIFT*")
            && !stdout.contains("REGRESSION")
            && stdout.contains("startup_warm_total_ms")
            && stdout.contains("--paired-runs N"),
        "{stdout}"
    );
    let rows = common::csv_rows(&slower.join("compare-baseline.csv"));
    assert!(rows
        .iter()
        .any(|r| r["verdict"] == "untested drift" && r["basis"].starts_with("separate runs")));
    assert!(!rows.iter().any(|r| r["verdict"] == "regression"));
    // Sizes are exact: images 20% larger are a regression, and it exits 1.
    let bigger = copy_of_recorded(root.path(), "20261105T020000Z");
    scale(
        &bigger.join("sizes.csv"),
        &["content_bytes", "gzip_bytes"],
        1.2,
    );
    let output = compare(&bigger);
    assert_eq!(output.status.code(), Some(1), "a size regression exits 1");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("REGRESSION") && stdout.contains("gzip_bytes"),
        "{stdout}"
    );
    let rows = common::csv_rows(&bigger.join("compare-baseline.csv"));
    assert!(rows.iter().any(|r| r["verdict"] == "regression"));

    let output = compare(&faster);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a faster start-up is not a failure"
    );
    // Faster between separate runs is no improvement either: untested, as a slow-down is.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("UNTESTED DRIFT*") && !stdout.contains("IMPROVEMENT"),
        "{stdout}"
    );

    // A higher threshold turns the same slow-down into noise.
    let output = r2r()
        .arg("--results-dir")
        .arg(root.path().join("results"))
        .args([
            "compare",
            "--scenario",
            "composite",
            "--run",
            "20261103T020000Z",
            "--baseline",
            "20261101T020000Z",
            "--startup-threshold",
            "50",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));

    // History for the trend plots.
    let history = root.path().join("history.csv");
    for run in [&baseline, &same, &slower] {
        r2r()
            .arg("--results-dir")
            .arg(root.path().join("results"))
            .args(["compare", "--run"])
            .arg(run)
            .args(["--baseline"])
            .arg(&baseline)
            .arg("--history")
            .arg(&history)
            .output()
            .unwrap();
    }
    r2r()
        .args(["plot", "--format", "svg", "--trend"])
        .arg(&history)
        .assert()
        .success();
    assert!(root
        .path()
        .join("trends/trend-startup-warm-total-median-ms.svg")
        .is_file());
}

#[test]
fn compare_with_published_figures() {
    let root = tempfile::tempdir().unwrap();
    let run = copy_of_recorded(root.path(), "20261124T203435Z");
    let output = r2r()
        .args(["compare", "--published", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = common::csv_rows(&run.join("compare-published.csv"));
    let row = rows
        .iter()
        .find(|r| r["id"] == "webapi-vs-console")
        .unwrap();
    assert_eq!(row["published"], "1.152");
    assert!(!row["ours"].is_empty() && !row["gap_percent"].is_empty());
}

#[test]
fn bad_run_directories_are_refused_clearly() {
    let root = tempfile::tempdir().unwrap();
    let run = copy_of_recorded(root.path(), "20261124T203435Z");
    // A run of another scenario.
    r2r()
        .args(["report", "--scenario", "quick", "--run"])
        .arg(&run)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "a run of scenario 'composite', not 'quick'",
        ));
    // An older layout.
    std::fs::remove_file(run.join("run.json")).unwrap();
    r2r()
        .args(["compare", "--published", "--run"])
        .arg(&run)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("older r2r"));
    // No such run.
    r2r()
        .arg("--results-dir")
        .arg(root.path().join("results"))
        .args([
            "report",
            "--scenario",
            "composite",
            "--run",
            "20990101T000000Z",
        ])
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("no run 20990101T000000Z of scenario 'composite'")
                .and(predicates::str::contains("20261124T203435Z")),
        );
    // Neither --published nor --baseline.
    r2r().args(["compare", "--run"]).arg(&run).assert().code(2);
}
