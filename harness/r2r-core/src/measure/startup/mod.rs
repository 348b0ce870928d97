//! Container cold start, measured like a benchmark: a fresh container every run
//! (create -> start -> ready -> remove), phases timed separately, warm-up runs discarded, the
//! images interleaved in a seeded shuffled order so that drift hits all alike, and the page
//! cache dropped before every cold run.
//!
//! The order of runs is a pure function of the seed and the options ([`Schedule`]): each round
//! runs the images in a shuffled order, and an image's cold run is followed at once by its warm
//! run, so a warm run always follows a run of the same image with no cache drop in between
//! (when that is not so, e.g. after a resume, an unrecorded re-warm run is inserted). A resumed
//! measurement continues the same sequence after the runs already recorded.
//!
//! Ready means what the app's rule says ([`crate::engine::readiness`]): the samples' console app exited 0
//! with its line; their web API logged its ready line and answered HTTP 200 on 127.0.0.1
//! (host networking), after which one more request is timed (first request). An app of the
//! user's gives its own rule: an exit code, a log line, an HTTP path and status.
//!
//! Times come from one clock: CLOCK_MONOTONIC, which the host and a container without a time
//! namespace share. r2r reads it just before the start request; the apps print it at `Main`
//! (`r2r-main-ns=`) and once ready (`r2r-ready-ns=`).
//!
//! One concern a file: [`options`] (the settings), [`targets`](mod@targets) (which images, and each one's
//! baseline), [`clock`] (the clocks and the page-cache drop), [`run_once`](mod@run_once) (one run),
//! [`schedule`] (the order of runs and the measurement that follows it) and [`summary`] (the
//! statistics of the runs). A run's row (`startup-runs.csv`) and a summary's row
//! (`startup.csv`) are result files: [`crate::results::startup_runs`],
//! [`crate::results::startup_summary`].

pub mod clock;
pub mod options;
pub mod run_once;
pub mod schedule;
pub mod settings;
pub mod summary;
pub mod targets;

pub use clock::{drop_page_cache, interval_ms, monotonic_ns, realtime_offset_ns, CacheDropError};
pub use options::{Readiness, StartupOptions};
pub use run_once::{
    container_spec, exit_reason, run_once, COUNTER_SAMPLE_INTERVAL, READY_POLL_INTERVAL,
};
pub use schedule::{
    measure, measure_until, MeasureError, Schedule, SinkError, StartupObserver, Step, StepKind,
};
pub use summary::{
    pair_statuses, paired_values, summarize, summary_csv, verdict_name, CounterMeans, Measured,
    PairPrecision, PairStatus, PhaseAccessor, PhaseSummary, PrecisionReport, StartupSummary,
    StopReason, PHASES,
};
pub use targets::{
    baseline_index, not_timed_reason, select, targets, EmulatedStartup, Target, UnknownImage,
};

pub use crate::results::startup_runs::{
    read_runs, runs_csv, runs_header, Cache, Priming, RunRecord, RUN_COLUMNS,
};
pub use crate::results::startup_summary::{SummaryRow, SUMMARY_COLUMNS};
pub use crate::support::app_output::integer_after;
