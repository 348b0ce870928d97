//! The settings of a start-up measurement.

use std::time::Duration;

use crate::engine::Network;
pub use crate::model::startup::Readiness;
use crate::results::run_record::StartupRecord;
use crate::results::startup_runs::Cache;

/// Settings of a startup measurement, as the measurement takes them: made from what a person
/// asks for by [`crate::measure::startup::settings::StartupSettings::options`].
#[derive(Debug, Clone)]
pub struct StartupOptions {
    /// Unrecorded runs of each target and cache mode first.
    pub warmup: usize,
    /// Recorded runs of each target and cache mode, at least.
    pub min_runs: usize,
    /// Keep adding rounds until this much time has passed, at least.
    pub min_duration: Duration,
    /// Cache modes to measure.
    pub caches: Vec<Cache>,
    /// Seed of the run order and of the bootstrap.
    pub seed: u64,
    /// How long a run may take to become ready.
    pub ready_timeout: Duration,
    /// The web API's readiness signal.
    pub readiness: Readiness,
    /// Memory limit of each container, bytes.
    pub memory_limit_bytes: i64,
    /// The precision to reach: keep adding whole rounds (past `min_runs` and `min_duration`)
    /// until the paired 95% interval of every image against its baseline (total time, each
    /// cache mode) has a half-width within this fraction of its speed-up (0.02 = ±2%), or a
    /// budget below is spent. `None`: stop after `min_runs` rounds and `min_duration`.
    pub precision: Option<f64>,
    /// Budget of time: no round is started once this much time has passed in this
    /// measurement (a resumed one counts from its resume), even below `min_runs` (but never
    /// below 2 rounds, the fewest a paired interval needs). `None`: no limit.
    pub max_duration: Option<Duration>,
    /// Budget of rounds: at most this many rounds (recorded runs per image and cache mode),
    /// earlier ones before a resume included. `None`: no limit.
    pub max_runs: Option<usize>,
    /// The scenario's variants, in order: an app's baseline is its image in the first of
    /// them that has one (empty: the first target of each app).
    pub variants: Vec<String>,
    /// Measure these images only (plan ids; empty: every app image), each with its
    /// baseline (see [`select`]).
    pub only: Vec<String>,
    /// CPUs the app containers run on (`1`, `2-3`); `None`: wherever the kernel puts them.
    /// (Keeping r2r itself off them is the caller's part: [`crate::support::affinity`].)
    pub cpuset: Option<String>,
    /// An idle wait before every run, after its page-cache drop (the previous container is
    /// removed by then), so that the engine's clean-up and the drop's write-back settle first.
    pub pause: Duration,
    /// The console app's network (`None`: no network, as `docker run --network none`); the
    /// web API always runs with host networking.
    pub console_network: Network,
    /// Read the container's counters (bytes read, major faults, peak memory) where the engine
    /// can count them.
    pub counters: bool,
}

impl From<&StartupOptions> for StartupRecord {
    fn from(options: &StartupOptions) -> StartupRecord {
        let StartupOptions {
            warmup,
            min_runs,
            min_duration,
            caches,
            seed,
            ready_timeout,
            readiness,
            memory_limit_bytes,
            precision,
            max_duration,
            max_runs,
            variants,
            only,
            cpuset,
            pause,
            console_network,
            counters,
        } = options;
        StartupRecord {
            warmup: *warmup,
            min_runs: *min_runs,
            min_seconds: min_duration.as_secs_f64(),
            caches: caches.clone(),
            seed: *seed,
            ready_timeout_seconds: ready_timeout.as_secs_f64(),
            readiness: *readiness,
            memory_limit_bytes: *memory_limit_bytes,
            precision: *precision,
            max_seconds: max_duration.map(|duration| duration.as_secs_f64()),
            max_runs: *max_runs,
            variants: variants.clone(),
            only: only.clone(),
            cpuset: cpuset.clone(),
            pause_ms: pause.as_millis() as u64,
            console_network: *console_network,
            counters: *counters,
        }
    }
}

impl From<&StartupRecord> for StartupOptions {
    fn from(record: &StartupRecord) -> StartupOptions {
        let seconds = |value: f64| Duration::from_secs_f64(value.max(0.0));
        StartupOptions {
            warmup: record.warmup,
            min_runs: record.min_runs.max(1),
            min_duration: seconds(record.min_seconds),
            caches: record.caches.clone(),
            seed: record.seed,
            ready_timeout: seconds(record.ready_timeout_seconds.max(0.1)),
            readiness: record.readiness,
            memory_limit_bytes: record.memory_limit_bytes,
            precision: record.precision,
            max_duration: record.max_seconds.map(seconds),
            max_runs: record.max_runs,
            variants: record.variants.clone(),
            only: record.only.clone(),
            cpuset: record.cpuset.clone(),
            pause: Duration::from_millis(record.pause_ms),
            console_network: record.console_network,
            counters: record.counters,
        }
    }
}
