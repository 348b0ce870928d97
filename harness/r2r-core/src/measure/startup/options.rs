//! The settings of a start-up measurement.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Network;
use crate::results::startup_runs::Cache;

/// When a web API counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// At the first HTTP 200 on 127.0.0.1: once the app's ready line arrives on its output
    /// (or the output ends), the port is polled every
    /// [`READY_POLL_INTERVAL`](crate::measure::startup::READY_POLL_INTERVAL).
    Http,
    /// When the app's ready line (`r2r-ready`) arrives on its output, followed as a stream.
    LogLine,
}

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
