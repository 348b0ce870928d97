//! The formats of a run directory's files, checked against a capture of a real run
//! (`tests/data/formats-quick.txt`): every CSV header as its row type writes it, and the keys
//! of every JSON file (top level and rows) as its types name them. A column or key that is
//! renamed, reordered, added or dropped shows here first.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use r2r_core::build::ImageBuild;
use r2r_core::engine::EngineInfo;
use r2r_core::inspect::verify::ImageVerification;
use r2r_core::measure::sizes::SizeReport;
use r2r_core::measure::startup::{PhaseSummary, StartupSummary};
use r2r_core::model::plan::{Plan, PlannedImage};
use r2r_core::model::scenario::Scenario;
use r2r_core::results::anatomy::AnatomyRow;
use r2r_core::results::answer_file::{self, AnswerRow};
use r2r_core::results::layers::LayerCsvRow;
use r2r_core::results::rows::{self, header};
use r2r_core::results::run_record::{
    DotnetVersions, GitState, Machine, RunInfo, StartupRecord, StepState,
};
use r2r_core::results::sharing::SharingRow;
use r2r_core::results::sizes::SizeRow;
use r2r_core::results::startup_runs::RunRecord;
use r2r_core::results::startup_summary::SummaryRow;
use r2r_core::results::{
    anatomy, build_file, engine_file, layers, plan_file, run_record, sharing, sizes, startup_runs,
    startup_summary, summary_file, verify_file, CsvFile,
};

/// The captured formats: `<file>[ <rows>]` -> its header line or sorted keys.
fn captured() -> BTreeMap<String, String> {
    let text = include_str!("data/formats-quick.txt");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("`name: value`");
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// The CSV header a row type writes: `to_csv` of no rows.
fn csv_header<T: CsvFile>() -> String {
    String::from_utf8(rows::to_csv::<T>(&[]).unwrap())
        .unwrap()
        .trim_end()
        .to_string()
}

/// The keys a type writes to JSON, sorted, without those it leaves out when they hold their
/// default (`skip_serializing_if`), which a file may or may not have.
fn json_keys<T: DeserializeOwned>(left_out_when_default: &[&str]) -> String {
    let mut keys: Vec<&str> = header::<T>()
        .iter()
        .copied()
        .filter(|key| !left_out_when_default.contains(key))
        .collect();
    keys.sort();
    keys.join(",")
}

#[test]
fn every_csv_header_is_the_captured_one() {
    let captured = captured();
    let headers = [
        (anatomy::FILE, csv_header::<AnatomyRow>()),
        (layers::FILE, csv_header::<LayerCsvRow>()),
        (sharing::FILE, csv_header::<SharingRow>()),
        (sizes::FILE, csv_header::<SizeRow>()),
        (startup_runs::FILE, csv_header::<RunRecord>()),
        (startup_summary::FILE, csv_header::<SummaryRow>()),
        (answer_file::FILE, csv_header::<AnswerRow>()),
    ];
    for (file, header) in &headers {
        assert_eq!(
            Some(header),
            captured.get(*file),
            "{file}: the row type's header is not the captured one"
        );
    }
    // And the startup-runs header its appending writer puts first is the same.
    assert_eq!(
        String::from_utf8(startup_runs::runs_csv(&[], true).unwrap())
            .unwrap()
            .trim_end(),
        headers[4].1
    );
    let csv_files = captured
        .keys()
        .filter(|name| name.ends_with(".csv"))
        .count();
    assert_eq!(
        csv_files,
        headers.len(),
        "a captured CSV file without a row type"
    );
}

#[test]
fn every_json_key_is_the_captured_one() {
    let captured = captured();
    let run = run_record::FILE;
    let summary = summary_file::FILE;
    let keys = [
        (
            format!("{} [*]", build_file::FILE),
            json_keys::<ImageBuild>(&[]),
        ),
        (engine_file::FILE.to_string(), json_keys::<EngineInfo>(&[])),
        (plan_file::FILE.to_string(), json_keys::<Plan>(&[])),
        (
            format!("{} images[*]", plan_file::FILE),
            // x64, the default platform, is left out (the captured run is x64 only).
            json_keys::<PlannedImage>(&["platform"]),
        ),
        (
            format!("{} scenario", plan_file::FILE),
            // `own_apps` only when the scenario defines apps of its own (quick names samples).
            // `own_recipes`, `recipe_files` only with recipes of its own (`r2r tune`'s).
            json_keys::<Scenario>(&["platforms", "own_apps", "own_recipes", "recipe_files"]),
        ),
        (run.to_string(), json_keys::<RunInfo>(&[])),
        (format!("{run} machine"), json_keys::<Machine>(&[])),
        // `requested` only when the scenario names a band (`10.0`), not an exact version.
        (
            format!("{run} dotnet"),
            json_keys::<DotnetVersions>(&["requested"]),
        ),
        (
            format!("{run} dotnet.apps"),
            json_keys::<r2r_core::build::dotnet::AppCompilation>(&[]),
        ),
        (format!("{run} git"), json_keys::<GitState>(&[])),
        (format!("{run} engine"), json_keys::<EngineInfo>(&[])),
        (format!("{run} steps.*"), json_keys::<StepState>(&[])),
        (format!("{run} startup"), json_keys::<StartupRecord>(&[])),
        (
            summary.to_string(),
            [summary_file::SIZES, summary_file::STARTUP].join(","),
        ),
        (format!("{summary} sizes"), json_keys::<SizeReport>(&[])),
        (
            format!("{summary} sizes.images[*]"),
            json_keys::<SizeRow>(&[]),
        ),
        (
            format!("{summary} startup"),
            json_keys::<StartupSummary>(&[]),
        ),
        (
            format!("{summary} startup.summaries[*]"),
            json_keys::<PhaseSummary>(&[]),
        ),
        (
            format!("{} [*]", verify_file::FILE),
            // `emulated` only on images checked under emulation (none in the captured run);
            // `jitted_methods` only on images that run an app (the captured run has some).
            json_keys::<ImageVerification>(&["emulated"]),
        ),
    ];
    for (name, value) in &keys {
        assert_eq!(
            Some(value),
            captured.get(name),
            "{name}: the type's keys are not the captured ones"
        );
    }
    let json_entries = captured
        .keys()
        .filter(|name| !name.contains(".csv"))
        .count();
    assert_eq!(
        json_entries,
        keys.len(),
        "a captured JSON entry without a type"
    );
}
