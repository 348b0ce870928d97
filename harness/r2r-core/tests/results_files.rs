//! Report, CSV writers and comparisons on a recorded run directory
//! (`tests/data/run-composite`: the composite scenario, .NET 10, measured on a 2-core machine).

use std::path::{Path, PathBuf};

use r2r_core::report::compare::{self, Thresholds, Verdict};
use r2r_core::report::document::{self, PlotRef};
use r2r_core::results::run_data::{RunData, RunDataError};

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite")
}

/// A copy of the recorded run in a temporary directory, for tests that change it.
fn copy_of_recorded() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), directory.path().join(entry.file_name())).unwrap();
    }
    directory
}

/// Rewrites one column of a CSV file through `change(row_index, value)`.
fn edit_column(path: &Path, column: &str, mut change: impl FnMut(usize, &str) -> String) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let index = headers.iter().position(|h| h == column).unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for (row, record) in reader.records().enumerate() {
        let record = record.unwrap();
        let cells: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == index && !cell.is_empty() {
                    change(row, cell)
                } else {
                    cell.to_string()
                }
            })
            .collect();
        writer.write_record(&cells).unwrap();
    }
    std::fs::write(path, writer.into_inner().unwrap()).unwrap();
}

#[test]
fn report_markdown_matches_its_snapshot() {
    let data = RunData::load(&recorded(), Some("composite")).unwrap();
    let plots = vec![PlotRef {
        title: "Image sizes".into(),
        path: "plots/sizes.svg".into(),
    }];
    let sections = document::sections(&data, &plots);
    insta::assert_snapshot!("report_md", document::markdown(&data, &sections));
}

#[test]
fn report_html_is_one_page_with_every_table() {
    let directory = copy_of_recorded();
    std::fs::create_dir(directory.path().join("plots")).unwrap();
    std::fs::write(directory.path().join("plots/sizes.svg"), "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><text>marker-in-svg</text></svg>").unwrap();
    let data = RunData::load(directory.path(), None).unwrap();
    let plots = vec![PlotRef {
        title: "Image sizes".into(),
        path: "plots/sizes.svg".into(),
    }];
    let written = document::write(&data, &plots).unwrap();
    assert_eq!(written.len(), 2);
    let html = std::fs::read_to_string(directory.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("marker-in-svg"), "the SVG is inlined");
    assert!(
        !html.contains("<?xml"),
        "the XML declaration is not inlined"
    );
    for title in [
        "Image sizes",
        "Deployment types",
        "Layer sharing",
        "Stored once per variant",
        "Start-up",
        "Build",
    ] {
        assert!(html.contains(&format!("<h2>{title}</h2>")), "{title}");
    }
    // Self-contained: nothing is loaded from elsewhere.
    assert!(
        !html.contains(" src=") && !html.contains(" href="),
        "no external references"
    );
    // The answer per app (two), six of r2r's own, and the published size report's rows
    // beside this run's images.
    assert_eq!(html.matches("<table>").count(), 9);
    assert!(
        html.contains("<h2>The answer for `webapi`</h2>")
            || html.contains("<h2>The answer for <code>webapi</code></h2>")
    );
    assert!(html.contains("<h2>The published .NET 10 size report, row for row</h2>"));
}

#[test]
fn published_comparison_matches_its_snapshot() {
    let data = RunData::load(&recorded(), Some("composite")).unwrap();
    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/published");
    let (figures, comparisons) = compare::load_published(&published).unwrap();
    let gaps = compare::against_published(&data, &figures, &comparisons);
    assert_eq!(gaps.len(), comparisons.len());
    // The composite scenario has the composite and framework images but no distroless or
    // trimmed rows.
    let gap = |id: &str| gaps.iter().find(|g| g.id == id).unwrap();
    assert!(gap("composite-vs-framework-app").ours.is_some());
    assert!(gap("distroless-vs-full").ours.is_none());
    let published_ratio = gap("composite-vs-framework-app").published;
    assert!((published_ratio - 40.8 / 49.3).abs() < 1e-9);
    let delta = gap("runtime-layer");
    assert!(
        (delta.published - (92.129520 - 9.407340)).abs() < 1e-9,
        "deltas are in MB"
    );
    insta::assert_snapshot!(
        "compare_published_csv",
        String::from_utf8(compare::gaps_csv(&gaps).unwrap()).unwrap()
    );
}

#[test]
fn a_run_against_itself_has_no_change() {
    let data = RunData::load(&recorded(), None).unwrap();
    let changes = compare::against_baseline(&data, &data, Thresholds::default());
    assert!(!changes.is_empty());
    // Sizes: no change; start-up of two runs is never tested, even when they are the same.
    assert!(
        changes.iter().all(|c| if c.metric.starts_with("startup_") {
            c.verdict == Verdict::UntestedDrift && c.change == Some(0.0)
        } else {
            c.verdict == Verdict::NoChange
        }),
        "{changes:?}"
    );
    assert!(!compare::has_regression(&changes));
}

#[test]
fn start_up_of_separate_runs_is_shown_and_never_called_a_regression() {
    let baseline = RunData::load(&recorded(), None).unwrap();
    let slower = copy_of_recorded();
    edit_column(
        &slower.path().join("startup-runs.csv"),
        "total_ms",
        |_, v| format!("{:.3}", v.parse::<f64>().unwrap() * 1.25),
    );
    let current = RunData::load(slower.path(), None).unwrap();
    let changes = compare::against_baseline(&current, &baseline, Thresholds::default());
    let startup: Vec<_> = changes
        .iter()
        .filter(|c| c.metric.starts_with("startup_"))
        .collect();
    assert!(!startup.is_empty());
    // Two separate runs: the change is shown, untested, labelled, and never fails the job.
    assert!(
        startup
            .iter()
            .all(|c| c.verdict == Verdict::UntestedDrift
                && c.change.is_some_and(|change| change > 0.05)),
        "{startup:?}"
    );
    assert!(startup
        .iter()
        .all(|c| c.basis == compare::Basis::SeparateRuns));
    assert!(!compare::has_regression(&changes));
    // The same change the other way round is not called an improvement either.
    let changes = compare::against_baseline(&baseline, &current, Thresholds::default());
    assert!(changes
        .iter()
        .filter(|c| c.metric.starts_with("startup_"))
        .all(|c| c.verdict == Verdict::UntestedDrift
            && c.change.is_some_and(|change| change < -0.05)));
    insta::assert_snapshot!(
        "compare_baseline_csv",
        String::from_utf8(compare::changes_csv(&changes).unwrap()).unwrap()
    );
}

#[test]
fn noise_within_the_thresholds_is_no_change() {
    let baseline = RunData::load(&recorded(), None).unwrap();
    let noisy = copy_of_recorded();
    // Start-up: every run moved by up to ±3% in a fixed pattern (mean shift far below 5%).
    edit_column(
        &noisy.path().join("startup-runs.csv"),
        "total_ms",
        |row, v| {
            let factor = 1.0 + 0.03 * (((row * 7) % 5) as f64 - 2.0) / 2.0;
            format!("{:.3}", v.parse::<f64>().unwrap() * factor)
        },
    );
    // Sizes: 0.5% larger (beyond zero, within the 1% threshold).
    edit_column(&noisy.path().join("sizes.csv"), "gzip_bytes", |_, v| {
        ((v.parse::<f64>().unwrap() * 1.005) as u64).to_string()
    });
    let current = RunData::load(noisy.path(), None).unwrap();
    let changes = compare::against_baseline(&current, &baseline, Thresholds::default());
    let untested = |c: &&compare::MetricChange| c.metric.starts_with("startup_");
    assert!(changes
        .iter()
        .filter(untested)
        .all(|c| c.verdict == Verdict::UntestedDrift));
    assert!(
        changes
            .iter()
            .filter(|c| !untested(c))
            .all(|c| c.verdict == Verdict::NoChange),
        "{:?}",
        changes
            .iter()
            .filter(|c| c.verdict != Verdict::NoChange)
            .collect::<Vec<_>>()
    );
    // A size change beyond the threshold is a regression: sizes are exact measurements.
    edit_column(&noisy.path().join("sizes.csv"), "gzip_bytes", |_, v| {
        ((v.parse::<f64>().unwrap() * 1.03) as u64).to_string()
    });
    let current = RunData::load(noisy.path(), None).unwrap();
    let changes = compare::against_baseline(&current, &baseline, Thresholds::default());
    assert!(changes
        .iter()
        .filter(|c| c.metric == "gzip_bytes")
        .all(|c| c.verdict == Verdict::Regression));
    assert!(changes
        .iter()
        .filter(|c| c.metric == "content_bytes")
        .all(|c| c.verdict == Verdict::NoChange));
}

#[test]
fn history_keeps_one_set_of_rows_per_run() {
    let data = RunData::load(&recorded(), None).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let history = directory.path().join("nightly/history.csv");
    compare::append_history(&history, &data).unwrap();
    compare::append_history(&history, &data).unwrap();
    let text = std::fs::read_to_string(&history).unwrap();
    let rows = text.lines().count() - 1;
    assert_eq!(
        rows,
        compare::headline_metrics(&data).len(),
        "a second append of the same run replaces its rows"
    );
    assert!(
        text.starts_with("run_id,image,metric,value,dotnet\n"),
        "{text}"
    );
    assert!(text.contains("20261124T203435Z,no-composite.console,startup_warm_total_median_ms,"));
}

#[test]
fn bad_run_directories_get_clear_messages() {
    let error = RunData::load(&recorded(), Some("quick"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a run of scenario 'composite', not 'quick'"),
        "{error}"
    );

    let older = copy_of_recorded();
    std::fs::remove_file(older.path().join("run.json")).unwrap();
    let error = RunData::load(older.path(), None).unwrap_err().to_string();
    assert!(
        error.contains("no run.json") && error.contains("older r2r"),
        "{error}"
    );

    let future = copy_of_recorded();
    let run_json = future.path().join("run.json");
    let text = std::fs::read_to_string(&run_json)
        .unwrap()
        .replace("\"schema_version\": 2", "\"schema_version\": 7");
    std::fs::write(&run_json, text).unwrap();
    let error = RunData::load(future.path(), None).unwrap_err().to_string();
    assert!(error.contains("schema version 7"), "{error}");

    let broken = copy_of_recorded();
    let sizes = broken.path().join("sizes.csv");
    let text = std::fs::read_to_string(&sizes)
        .unwrap()
        .replacen("gzip_bytes", "gz", 1);
    std::fs::write(&sizes, text).unwrap();
    let error = RunData::load(broken.path(), None).unwrap_err();
    assert!(
        matches!(error, RunDataError::Csv { line: Some(1), .. }),
        "{error}"
    );
    let error = error.to_string();
    assert!(
        error.contains("sizes.csv:1") && error.contains("missing column(s) gzip_bytes"),
        "{error}"
    );

    let bad_cell = copy_of_recorded();
    let sizes = bad_cell.path().join("sizes.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&sizes)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    cells[4] = "two";
    lines[3] = cells.join(",");
    std::fs::write(&sizes, lines.join("\n")).unwrap();
    let error = RunData::load(bad_cell.path(), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("sizes.csv:4"), "{error}");
}

#[test]
fn startup_summary_csv_matches_its_snapshot() {
    use r2r_core::measure::startup;
    let records = startup::read_runs(&recorded().join("startup-runs.csv")).unwrap();
    assert_eq!(records.len(), 160);
    let data = RunData::load(&recorded(), None).unwrap();
    let targets = startup::targets(&data.plan);
    let summaries = startup::summarize(&records, &targets, &data.plan.scenario.variants, 1);
    let csv = String::from_utf8(startup::summary_csv(&summaries).unwrap()).unwrap();
    // The recorded run's own startup.csv was written by the same code from the same runs
    // before they were rounded to microseconds: the same rows, the same means.
    let recorded_csv = std::fs::read_to_string(recorded().join("startup.csv")).unwrap();
    assert_eq!(csv.lines().count(), recorded_csv.lines().count());
    for (ours, theirs) in csv.lines().zip(recorded_csv.lines()).skip(1) {
        let ours: Vec<&str> = ours.split(',').collect();
        let theirs: Vec<&str> = theirs.split(',').collect();
        assert_eq!(ours[..7], theirs[..7]);
        let mean = |cells: &[&str]| cells[7].parse::<f64>().unwrap();
        assert!(
            (mean(&ours) - mean(&theirs)).abs() < 0.002,
            "{ours:?} vs {theirs:?}"
        );
    }
    insta::assert_snapshot!("startup_csv", csv);
}

#[test]
fn the_size_files_are_written_back_byte_for_byte_from_their_rows() {
    use r2r_core::results::rows::{self, LayerCsvRow, SharingRow, SizeRow};
    fn same<T: serde::Serialize + serde::de::DeserializeOwned>(name: &str) {
        let bytes = std::fs::read(recorded().join(name)).unwrap();
        let parsed: Vec<T> = rows::from_csv(&bytes).unwrap();
        assert!(!parsed.is_empty(), "{name}");
        assert_eq!(
            String::from_utf8(rows::to_csv(&parsed).unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{name}"
        );
    }
    same::<SizeRow>("sizes.csv");
    same::<LayerCsvRow>("layers.csv");
    same::<SharingRow>("sharing.csv");
}

/// The quick scenario's run as this version writes it (`tests/data/run-quick`: start-up in
/// paired rounds, with the `round` column): its summary made again from its runs has the same
/// paired columns, so the rounds are read back and paired as they were written.
#[test]
fn paired_columns_are_made_again_from_a_current_runs_rounds() {
    use r2r_core::measure::startup;
    use r2r_core::results::startup_summary::SummaryRow;
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-quick");
    let records = startup::read_runs(&run.join("startup-runs.csv")).unwrap();
    assert!(records.iter().all(|record| record.round > 0));
    let data = RunData::load(&run, None).unwrap();
    let targets = startup::targets(&data.plan);
    // That run was made before seeds came from run ids: seed 1.
    let summaries = startup::summarize(&records, &targets, &data.plan.scenario.variants, 1);
    let ours: Vec<SummaryRow> =
        r2r_core::results::rows::from_csv(&startup::summary_csv(&summaries).unwrap()).unwrap();
    let theirs: Vec<SummaryRow> =
        r2r_core::results::rows::from_csv(&std::fs::read(run.join("startup.csv")).unwrap())
            .unwrap();
    assert_eq!(ours.len(), theirs.len());
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 2e-3 * b.abs().max(1.0),
        (a, b) => a.is_none() && b.is_none(),
    };
    let mut paired = 0;
    for (ours, theirs) in ours.iter().zip(&theirs) {
        let row = format!("{} {} {}", theirs.image, theirs.cache, theirs.phase);
        assert_eq!(
            (&ours.image, &ours.cache, &ours.phase),
            (&theirs.image, &theirs.cache, &theirs.phase)
        );
        assert_eq!(ours.paired_rounds, theirs.paired_rounds, "{row}");
        for (name, a, b) in [
            ("speed-up", ours.paired_speedup, theirs.paired_speedup),
            ("low", ours.paired_ci95_low, theirs.paired_ci95_low),
            ("high", ours.paired_ci95_high, theirs.paired_ci95_high),
            ("p", ours.paired_p_value, theirs.paired_p_value),
        ] {
            assert!(close(a, b), "{row}: {name} {a:?} against {b:?}");
        }
        assert_eq!(ours.paired_verdict, theirs.paired_verdict, "{row}");
        paired += usize::from(theirs.paired_rounds > 0);
    }
    // The candidate's rows: 14 rounds each, cold and warm.
    assert!(paired >= 2, "{paired} paired rows");
    assert!(theirs.iter().any(|row| row.paired_rounds == 14));
}

/// The report's paired cells carry Holm's adjustment over all of its paired comparisons: a
/// difference that is significant alone but not over the family is marked.
#[test]
fn report_cells_mark_a_difference_holm_takes_away() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-quick");
    let directory = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), directory.path().join(entry.file_name())).unwrap();
    }
    let report = |directory: &Path| {
        let data = RunData::load(directory, None).unwrap();
        document::markdown(&data, &document::sections(&data, &[]))
    };
    // As recorded: p = 0.00037 (cold, slower) and 0.42627 (warm): Holm 0.00074 and 0.42627.
    let text = report(directory.path());
    assert!(
        text.contains("n = 14); p = 0.000, Holm 0.001 | 0.91"),
        "{text}"
    );
    assert!(!text.contains("not significant over the 2"), "{text}");
    // Both slower at p = 0.03 and 0.04: each below 0.05 alone, both 0.06 after Holm.
    let file = directory.path().join("startup.csv");
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (phase, rounds, p, verdict) = (
        column("phase"),
        column("paired_rounds"),
        column("paired_p_value"),
        column("paired_verdict"),
    );
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    let mut next = [0.03, 0.04].into_iter();
    for record in reader.records() {
        let mut cells: Vec<String> = record.unwrap().iter().map(String::from).collect();
        if cells[phase] == "total" && cells[rounds] != "0" {
            cells[p] = next.next().unwrap().to_string();
            cells[verdict] = "slower".into();
        }
        writer.write_record(&cells).unwrap();
    }
    std::fs::write(&file, writer.into_inner().unwrap()).unwrap();
    let text = report(directory.path());
    assert_eq!(
        text.matches("not significant over the 2 comparisons")
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("p = 0.030, Holm 0.060"), "{text}");
}
