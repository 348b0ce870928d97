//! .NET versions across runs and machines, from copies of a recorded run directory: a baseline
//! comparison across a version change, the history and its trend marks, and merging runs of
//! several machines (different versions, architectures, missing images).

use std::path::{Path, PathBuf};

use r2r_core::report::compare::{self, Thresholds, Verdict};
use r2r_core::report::merge::{self, MergeInput};
use r2r_core::report::plot::{self, Format, PlotOptions};
use r2r_core::results::run_data::RunData;

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite")
}

/// A copy of the recorded run under `parent/name`, its run.json edited by `edit`.
fn copy_run(parent: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let run = parent.join(name);
    std::fs::create_dir_all(&run).unwrap();
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    let path = run.join("run.json");
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    info["run_id"] = serde_json::json!(name);
    edit(&mut info);
    std::fs::write(&path, serde_json::to_vec_pretty(&info).unwrap()).unwrap();
    run
}

/// Adds `bytes` to the content and gzip size of `image` in a run's sizes.csv.
fn grow(run: &Path, image: &str, bytes: u64) {
    edit_sizes(run, |record| {
        if record[0] == *image {
            for column in [6, 8] {
                let value: u64 = record[column].parse().unwrap();
                record[column] = (value + bytes).to_string();
            }
        }
        true
    });
}

/// Rewrites a run's sizes.csv record by record (columns as recorded: image, reference,
/// variants, role, layers, engine_size_bytes, content_bytes, tar_bytes, gzip_bytes, ...);
/// `keep` returning false drops the record.
fn edit_sizes(run: &Path, mut keep: impl FnMut(&mut Vec<String>) -> bool) {
    let path = run.join("sizes.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[6], "content_bytes");
    assert_eq!(&headers[8], "gzip_bytes");
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let mut cells: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        if keep(&mut cells) {
            writer.write_record(&cells).unwrap();
        }
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
}

fn set_dotnet(version: &str) -> impl FnOnce(&mut serde_json::Value) + '_ {
    move |info| info["dotnet"]["runtime"] = serde_json::json!(version)
}

const IMAGE: &str = "runtime-composite.console";

#[test]
fn a_size_change_with_a_new_dotnet_is_a_version_change_not_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let before = copy_run(dir.path(), "20261124T000000Z", set_dotnet("10.0.14"));
    let after = copy_run(dir.path(), "20261125T000000Z", set_dotnet("10.0.15"));
    grow(&after, IMAGE, 5_000_000);
    let (before, after) = (
        RunData::load(&before, None).unwrap(),
        RunData::load(&after, None).unwrap(),
    );
    let versions = compare::version_change(&after, &before).unwrap();
    assert_eq!(
        compare::version_change_words(&versions),
        "10.0.14 → 10.0.15"
    );
    let changes = compare::against_baseline(&after, &before, Thresholds::default());
    let grown: Vec<&compare::MetricChange> = changes
        .iter()
        .filter(|c| c.image == IMAGE && c.unit == "bytes")
        .collect();
    assert_eq!(grown.len(), 2);
    assert!(
        grown.iter().all(|c| c.verdict == Verdict::VersionChange),
        "{grown:?}"
    );
    assert!(!compare::has_regression(&changes));
    // Unchanged sizes stay "no change" across the version change.
    assert!(changes
        .iter()
        .any(|c| c.image == "runtime-deps" && c.verdict == Verdict::NoChange));
    let csv = String::from_utf8(compare::changes_csv(&changes).unwrap()).unwrap();
    assert!(csv.contains(",version change,exact"), "{csv}");

    // The same growth on the same version is a regression that fails the job.
    let same = copy_run(dir.path(), "20261126T000000Z", set_dotnet("10.0.14"));
    grow(&same, IMAGE, 5_000_000);
    let same = RunData::load(&same, None).unwrap();
    assert!(compare::version_change(&same, &before).is_none());
    let changes = compare::against_baseline(&same, &before, Thresholds::default());
    assert!(changes
        .iter()
        .any(|c| c.image == IMAGE && c.verdict == Verdict::Regression));
    assert!(compare::has_regression(&changes));
}

#[test]
fn history_records_the_version_and_trends_mark_where_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.csv");
    // A history written before the version column existed is extended, not refused.
    std::fs::write(
        &history,
        format!("run_id,image,metric,value\n20261120T000000Z,{IMAGE},gzip_bytes,70000000\n"),
    )
    .unwrap();
    for (run_id, version) in [
        ("20261124T000000Z", "10.0.14"),
        ("20261125T000000Z", "10.0.14"),
        ("20261126T000000Z", "10.0.15"),
    ] {
        let run = copy_run(dir.path(), run_id, set_dotnet(version));
        compare::append_history(&history, &RunData::load(&run, None).unwrap()).unwrap();
    }
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(
        text.starts_with("run_id,image,metric,value,dotnet\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "20261120T000000Z,{IMAGE},gzip_bytes,70000000.0,\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("20261126T000000Z,{IMAGE},gzip_bytes,")),
        "{text}"
    );
    assert!(
        text.lines().filter(|l| l.ends_with(",10.0.15")).count() > 2,
        "{text}"
    );

    let marks = plot::version_marks(&[
        String::new(),
        "10.0.14".into(),
        "10.0.14".into(),
        "10.0.15".into(),
    ]);
    assert_eq!(marks, [(3, ".NET 10.0.14 → 10.0.15".to_string())]);

    let out = dir.path().join("trends");
    std::fs::create_dir_all(&out).unwrap();
    let options = PlotOptions {
        formats: vec![Format::Svg],
        font: None,
    };
    plot::plot_trend(&history, &out, &options).unwrap();
    let svg = std::fs::read_to_string(out.join("trend-gzip-bytes.svg")).unwrap();
    assert!(
        svg.contains(".NET 10.0.14 → 10.0.15"),
        "the change is marked"
    );
    assert_eq!(svg.matches(".NET 10.0.14 →").count(), 1);
}

#[test]
fn merging_runs_of_two_machines_keeps_sizes_side_by_side_and_start_up_apart() {
    let dir = tempfile::tempdir().unwrap();
    let x64 = copy_run(dir.path(), "20261125T020000Z", |info| {
        info["dotnet"]["runtime"] = serde_json::json!("10.0.15");
        info["machine"]["architecture"] = serde_json::json!("amd64");
        info["machine"]["hostname"] = serde_json::json!("runner-x64");
    });
    // The arm64 run: another architecture, another version, and one image missing.
    let arm64 = copy_run(dir.path(), "20261125T021500Z", |info| {
        info["dotnet"]["runtime"] = serde_json::json!("10.0.14");
        info["machine"]["architecture"] = serde_json::json!("arm64");
        info["machine"]["hostname"] = serde_json::json!("runner-arm64");
        info["machine"]["cpu"] = serde_json::json!("Neoverse-N1");
    });
    edit_sizes(&arm64, |record| record[0] != "sdk" && record[0] != IMAGE);
    grow(&arm64, "runtime-deps", 1_234_567);

    // A run recorded before the architecture was is the host's platform: linux/amd64.
    let old = copy_run(dir.path(), "20261124T203435Z", |_| {});

    let merged = merge::load(&[
        MergeInput::parse(&x64.display().to_string()),
        MergeInput::parse(&arm64.display().to_string()),
        MergeInput::parse(&format!("old={}", old.display())),
    ])
    .unwrap();
    assert_eq!(
        merged.columns(),
        [
            ("runner-x64".to_string(), "linux/amd64".to_string()),
            ("runner-arm64".to_string(), "linux/arm64".to_string()),
            ("old".to_string(), "linux/amd64".to_string()),
        ]
    );
    let sizes = merged.size_rows();
    let of = |machine: &str, image: &str| {
        sizes
            .iter()
            .find(|r| r.machine == machine && r.image == image)
            .map(|r| (r.platform.clone(), r.dotnet.clone(), r.content_bytes))
    };
    let (platform, dotnet, x64_bytes) = of("runner-x64", "runtime-deps").unwrap();
    assert_eq!(
        (platform.as_str(), dotnet.as_str()),
        ("linux/amd64", "10.0.15")
    );
    let (platform, dotnet, arm_bytes) = of("runner-arm64", "runtime-deps").unwrap();
    assert_eq!(
        (platform.as_str(), dotnet.as_str()),
        ("linux/arm64", "10.0.14")
    );
    assert_eq!(arm_bytes, x64_bytes + 1_234_567, "exact sizes, per machine");
    assert!(of("runner-arm64", IMAGE).is_none() && of("runner-x64", IMAGE).is_some());

    let out = dir.path().join("merged");
    let outcome = merge::write(&merged, &out, None, Thresholds::default(), None).unwrap();
    assert_eq!(outcome.regressions, 0);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("runner-x64 linux/amd64 (.NET 10.0.15)")
            && report.contains("runner-arm64 linux/arm64 (.NET 10.0.14)"),
        "{report}"
    );
    assert!(
        report.contains("different .NET versions (10.0.12, 10.0.14, 10.0.15)"),
        "{report}"
    );
    let row = report
        .lines()
        .find(|line| line.starts_with(&format!("| {IMAGE} |")))
        .unwrap();
    assert_eq!(row.matches('—').count(), 1, "missing on arm64 only: {row}");
    // Start-up: one table per machine, never one table across machines.
    for heading in [
        "### runner-x64 (linux/amd64",
        "### runner-arm64 (linux/arm64, Neoverse-N1",
        "### old (linux/amd64",
    ] {
        assert!(report.contains(heading), "{heading}: {report}");
    }
    let startup = std::fs::read_to_string(out.join("startup.csv")).unwrap();
    assert!(startup.starts_with("machine,platform,run_id,dotnet,image,cache,runs,median_ms"));
    assert!(startup
        .lines()
        .any(|l| l.starts_with("runner-arm64,linux/arm64,")));
    // The merge holds copies of its runs, so it can be a baseline.
    assert!(out.join("runs/runner-arm64/run.json").is_file());
    let again = merge::load_merged(&out).unwrap();
    assert_eq!(again.columns(), merged.columns());

    // Two runs of one machine need labels.
    let error = merge::load(&[
        MergeInput::parse(&x64.display().to_string()),
        MergeInput::parse(&x64.display().to_string()),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("two runs are from machine `runner-x64`"),
        "{error}"
    );
}

#[test]
fn a_merge_compares_each_machine_with_its_own_baseline_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let make = |name: &str, version: &str, architecture: &str| {
        copy_run(&runs, name, |info| {
            info["dotnet"]["runtime"] = serde_json::json!(version);
            info["machine"]["architecture"] = serde_json::json!(architecture);
        })
    };
    let base_x64 = make("20261124T020000Z", "10.0.14", "amd64");
    let base_arm = make("20261124T021500Z", "10.0.14", "arm64");
    let baseline = merge::load(&[
        MergeInput::parse(&format!("x64={}", base_x64.display())),
        MergeInput::parse(&format!("arm64={}", base_arm.display())),
    ])
    .unwrap();
    let baseline_dir = dir.path().join("baseline");
    merge::write(&baseline, &baseline_dir, None, Thresholds::default(), None).unwrap();
    let baseline = merge::load_merged(&baseline_dir).unwrap();

    // x64 moved to 10.0.15 and grew; arm64 stayed on 10.0.14 and grew: only arm64 regressed.
    let new_x64 = make("20261125T020000Z", "10.0.15", "amd64");
    let new_arm = make("20261125T021500Z", "10.0.14", "arm64");
    grow(&new_x64, IMAGE, 3_000_000);
    grow(&new_arm, IMAGE, 3_000_000);
    let current = merge::load(&[
        MergeInput::parse(&format!("x64={}", new_x64.display())),
        MergeInput::parse(&format!("arm64={}", new_arm.display())),
    ])
    .unwrap();
    let history = dir.path().join("history.csv");
    let out = dir.path().join("20261125T030000Z");
    let outcome = merge::write(
        &current,
        &out,
        Some(&baseline),
        Thresholds::default(),
        Some(&history),
    )
    .unwrap();
    assert_eq!(outcome.regressions, 2, "arm64's content and gzip sizes");
    assert_eq!(outcome.version_changes, 2, "x64's, with 10.0.14 → 10.0.15");
    let csv = std::fs::read_to_string(out.join("compare-baseline.csv")).unwrap();
    assert!(
        csv.lines().any(
            |l| l.starts_with(&format!("x64,10.0.14 → 10.0.15,{IMAGE},gzip_bytes,"))
                && l.contains(",version change,")
        ),
        "{csv}"
    );
    assert!(
        csv.lines().any(
            |l| l.starts_with(&format!("arm64,10.0.14,{IMAGE},gzip_bytes,"))
                && l.contains(",regression,")
        ),
        "{csv}"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("### x64\n\n.NET 10.0.14 → 10.0.15."),
        "{report}"
    );
    let history = std::fs::read_to_string(&history).unwrap();
    assert!(
        history.contains(&format!("20261125T030000Z,x64/{IMAGE},gzip_bytes,"))
            && history.contains(&format!("20261125T030000Z,arm64/{IMAGE},gzip_bytes,")),
        "{history}"
    );

    // A machine the baseline lacks is named, not compared with another machine's run.
    let lone = make("20261125T040000Z", "10.0.15", "arm64");
    let lone = merge::load(&[MergeInput::parse(&format!("arm64-big={}", lone.display()))]).unwrap();
    let outcome = merge::write(
        &lone,
        &dir.path().join("lone"),
        Some(&baseline),
        Thresholds::default(),
        None,
    )
    .unwrap();
    assert_eq!(outcome.without_baseline, ["arm64-big"]);
    assert_eq!(outcome.regressions, 0);
}
