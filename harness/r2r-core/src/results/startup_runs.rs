//! `startup-runs.csv`: every recorded start-up run, one [`RunRecord`] per run, appended whole
//! as each run finishes (so an interrupted measurement keeps its runs and can resume).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::catalog::AppKind;
pub use crate::model::startup::{Cache, UnknownCache};
use crate::results::csv_rows as rows;
use crate::results::csv_rows::CsvFile;
use crate::results::reading::{self, RunDataError};

/// The file's name in a run directory.
pub const FILE: &str = "startup-runs.csv";

/// Columns of `startup-runs.csv` that readers need (older files may lack newer columns).
pub const RUN_COLUMNS: &[&str] = &["image", "app", "cache", "run", "ok", "total_ms"];

/// What filled the page cache for a run: the run before it of the same image, with no cache
/// drop in between (a warm run), or the drop itself (a cold run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priming {
    /// Not recorded (a file from an r2r before this column).
    #[default]
    Unknown,
    /// A cold run: the page cache was dropped just before it.
    Dropped,
    /// A warm run right after this image's recorded cold run.
    ColdRun,
    /// A warm run after this image's recorded warm run (other images' warm runs may be
    /// between; no drop is).
    WarmRun,
    /// A warm run after this image's warm-up run.
    WarmUp,
    /// A warm run after an unrecorded re-warm run of this image (inserted because no run of
    /// the image had followed the last drop, e.g. after a resume).
    ReWarm,
}

/// One recorded run: one row of `startup-runs.csv`. Times
/// in milliseconds, instants in nanoseconds of CLOCK_MONOTONIC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Plan id of the image.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind.
    pub app: AppKind,
    /// Cache mode.
    pub cache: Cache,
    /// What filled the page cache: `dropped` for cold runs; for warm runs, which run of the
    /// same image came last before it (`cold-run`, `warm-run`, `warm-up`, `re-warm`).
    #[serde(default)]
    pub primed_by: Priming,
    /// 1-based round of the schedule the run belongs to (0: not recorded, an older file).
    #[serde(default)]
    pub round: usize,
    /// 1-based index of the run among this image's and cache mode's recorded runs.
    pub run: usize,
    /// Whether the run became ready.
    pub ok: bool,
    /// Time of the create call, ms.
    pub create_ms: Option<f64>,
    /// From the start request to ready as r2r sees it (console: exit; web API: first HTTP
    /// 200 or the ready line), ms.
    pub start_to_ready_ms: Option<f64>,
    /// Latency of one request after ready (web API only), ms.
    pub first_request_ms: Option<f64>,
    /// From the start request to the app's `Main`, ms: the engine's and container runtime's
    /// setup (namespaces, root file system, exec) and the .NET host up to `Main`.
    pub time_to_main_ms: Option<f64>,
    /// From the start request to the process start the engine recorded (`exec_ns`), ms: the
    /// engine's and container runtime's part; empty when the engine recorded the start after
    /// the app's `Main` (a late record, as on a loaded machine).
    pub start_to_exec_ms: Option<f64>,
    /// From the process start the engine recorded to the app's `Main`, ms: .NET's part
    /// before `Main` (host, runtime start, app assembly), plus the engine's recording delay.
    pub exec_to_main_ms: Option<f64>,
    /// From the app's `Main` to its own ready instant, ms: .NET's part after `Main`
    /// (console: its work done; web API: listening, `ApplicationStarted`).
    pub main_to_ready_ms: Option<f64>,
    /// From the app's ready instant to r2r seeing it, ms (web API: the first HTTP 200 or the
    /// ready line reaching r2r; console: the process exit reaching r2r).
    pub ready_seen_ms: Option<f64>,
    /// From the create call to ready, ms.
    pub total_ms: Option<f64>,
    /// Peak memory of the container (its cgroup's, page cache included), bytes: console up to
    /// its exit, web API up to ready and the first request. Empty where the engine cannot count.
    pub peak_memory_bytes: Option<u64>,
    /// Bytes the container read from block devices (its cgroup's), over the same span. On
    /// cgroup v1 sampled while the container runs (every 2 ms): reads in
    /// its last moments before exit can be missed. Empty where the engine cannot count.
    #[serde(default)]
    pub read_bytes: Option<u64>,
    /// Major page faults of the container (pages read from disk), over the same span (count).
    #[serde(default)]
    pub major_faults: Option<u64>,
    /// Time of removing the container, ms (what `docker run --rm` also waits for).
    pub remove_ms: Option<f64>,
    /// r2r's CLOCK_MONOTONIC just before the start request, ns.
    pub start_request_ns: Option<u64>,
    /// The process start the engine recorded (Docker's `State.StartedAt`, set once the
    /// runtime reports the process running), moved to CLOCK_MONOTONIC, ns.
    pub exec_ns: Option<u64>,
    /// The app's CLOCK_MONOTONIC at `Main`, ns.
    pub main_ns: Option<u64>,
    /// The app's CLOCK_MONOTONIC once ready, ns.
    pub ready_ns: Option<u64>,
    /// Why the run failed, with the log tail.
    pub error: String,
}

impl RunRecord {
    /// An empty (not yet successful) record of a run of `image` (of `variants`, an `app`
    /// app) under `cache`.
    pub fn new(image: &str, variants: &[String], app: AppKind, cache: Cache) -> RunRecord {
        RunRecord {
            image: image.to_string(),
            variants: variants.join(";"),
            app,
            cache,
            primed_by: match cache {
                Cache::Cold => Priming::Dropped,
                Cache::Warm => Priming::WarmRun,
            },
            round: 0,
            run: 0,
            ok: false,
            create_ms: None,
            start_to_ready_ms: None,
            first_request_ms: None,
            time_to_main_ms: None,
            start_to_exec_ms: None,
            exec_to_main_ms: None,
            main_to_ready_ms: None,
            ready_seen_ms: None,
            total_ms: None,
            peak_memory_bytes: None,
            read_bytes: None,
            major_faults: None,
            remove_ms: None,
            start_request_ns: None,
            exec_ns: None,
            main_ns: None,
            ready_ns: None,
            error: String::new(),
        }
    }
}

impl CsvFile for RunRecord {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = RUN_COLUMNS;
}

/// The CSV header of `startup-runs.csv`: the fields of [`RunRecord`], in order.
pub fn runs_header() -> Vec<String> {
    rows::header::<RunRecord>()
        .iter()
        .map(|name| name.to_string())
        .collect()
}

/// Reads recorded runs back from a `startup-runs.csv` (to resume a measurement); `Ok(empty)`
/// when the file does not exist.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>, RunDataError> {
    Ok(reading::read_csv(path, RUN_COLUMNS)?.unwrap_or_default())
}

/// `startup-runs.csv` rows (with the header first when `header` is set) of `records`: a
/// file is its header, then rows appended whole (see [`crate::results::files::append_whole`]).
pub fn runs_csv(records: &[RunRecord], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    if header {
        writer.write_record(rows::header::<RunRecord>())?;
    }
    for record in records {
        writer.serialize(record)?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

impl crate::results::run_dir::RunDir {
    /// `startup-runs.csv`.
    pub fn startup_runs_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}

/// A successful-looking run of `image` with `total` ms and phases that add up, for tests.
#[cfg(test)]
pub(crate) fn sample_record(image: &str, cache: Cache, total: f64, ok: bool) -> RunRecord {
    RunRecord {
        primed_by: Priming::ColdRun,
        round: 1,
        run: 1,
        ok,
        create_ms: Some(10.0),
        start_to_ready_ms: Some(total - 10.0),
        time_to_main_ms: Some(total / 2.0),
        start_to_exec_ms: Some(total / 4.0),
        exec_to_main_ms: Some(total / 4.0),
        main_to_ready_ms: Some(1.5),
        ready_seen_ms: Some(0.25),
        total_ms: Some(total),
        peak_memory_bytes: Some(40_000_000 + total as u64),
        read_bytes: Some(30_000_000),
        major_faults: Some(25),
        remove_ms: Some(20.0),
        start_request_ns: Some(1_000_000_000),
        exec_ns: Some(1_000_000_000 + (total / 4.0 * 1e6) as u64),
        main_ns: Some(1_000_000_000 + (total / 2.0 * 1e6) as u64),
        ..RunRecord::new(image, &[image.to_string()], AppKind::Console, cache)
    }
}

#[cfg(test)]
mod tests {
    use super::sample_record as record;
    use super::*;

    #[test]
    fn runs_are_written_and_read_back_by_one_type() {
        let records = vec![
            record("a.console", Cache::Cold, 300.0, true),
            RunRecord {
                error: "exited with code 1, \"quoted\"\nsecond line".into(),
                ..record("a.console", Cache::Warm, 250.0, false)
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut bytes = runs_csv(&[], true).unwrap();
        bytes.extend(runs_csv(&records, false).unwrap());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read_runs(&path).unwrap(), records);
        let header = String::from_utf8(runs_csv(&[], true).unwrap()).unwrap();
        assert_eq!(header.trim_end(), runs_header().join(","));
        assert!(header.starts_with("image,variants,app,cache,primed_by,round,run,ok,"));
        // An older file without the newer columns still reads.
        std::fs::write(
            &path,
            "image,variants,app,cache,run,ok,create_ms,start_to_ready_ms,first_request_ms,time_to_main_ms,total_ms,peak_memory_bytes,remove_ms,error\n\
             a.console,a,console,warm,1,true,10.000,200.000,,150.0,210.000,,20.000,\n",
        )
        .unwrap();
        let old = read_runs(&path).unwrap();
        assert_eq!(old[0].primed_by, Priming::Unknown);
        assert_eq!(old[0].total_ms, Some(210.0));
    }
}
