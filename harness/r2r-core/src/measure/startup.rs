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
//! Ready means: the console app exited 0 with its line; the web API answered HTTP 200 on
//! 127.0.0.1 (host networking), after which one more request is timed (first request).
//!
//! Times come from one clock: CLOCK_MONOTONIC, which the host and a container without a time
//! namespace share. r2r reads it just before the start request; the apps print it at `Main`
//! (`r2r-main-ns=`) and once ready (`r2r-ready-ns=`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use serde::{Deserialize, Serialize};

use crate::engine::containers;
use crate::engine::{ContainerSpec, CounterScope, Engine, Network, ResourceCounters};
use crate::measure::paired::{self, PairedEffect};
use crate::measure::stats::{self, SeededRandom, Summary};
use crate::model::catalog::AppKind;
use crate::model::plan::{labels, Content, Plan};
use crate::support::probe;

/// Whether the page cache is dropped before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cache {
    /// `sync` and `/proc/sys/vm/drop_caches` before every run (needs root).
    Cold,
    /// Nothing dropped: files stay in the page cache between runs.
    Warm,
}

impl Cache {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Cache::Cold => "cold",
            Cache::Warm => "warm",
        }
    }
}

/// When a web API counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// At the first HTTP 200 on 127.0.0.1: once the app's ready line arrives on its output
    /// (or the output ends), the port is polled every [`READY_POLL_INTERVAL`].
    Http,
    /// When the app's ready line (`r2r-ready`) arrives on its output, followed as a stream.
    LogLine,
}

/// An app image to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Plan id.
    pub image: String,
    /// Reference started.
    pub reference: String,
    /// Variants it belongs to.
    pub variants: Vec<String>,
    /// The app's kind.
    pub kind: AppKind,
}

/// The app images of a plan.
pub fn targets(plan: &Plan) -> Vec<Target> {
    plan.images
        .iter()
        .filter_map(|image| match &image.content {
            Content::App { kind, .. } => Some(Target {
                image: image.id.clone(),
                reference: image.reference().to_string(),
                variants: image.variants.clone(),
                kind: *kind,
            }),
            _ => None,
        })
        .collect()
}

/// Why the start-up of an image is not timed on this machine: it is of a platform this
/// machine runs only under emulation (QEMU through binfmt_misc), which slows every instruction
/// by an unknown factor, so its times would say nothing about the platform. `None`: it is
/// timed.
pub fn not_timed_reason(image: &crate::model::plan::PlannedImage) -> Option<String> {
    image.platform.is_emulated().then(|| {
        format!(
            "{} runs on this {} machine only under emulation; start-up is never timed under emulation (measure it on a {} machine)",
            image.platform,
            std::env::consts::ARCH,
            image.platform
        )
    })
}

/// Start-up was asked for images that this machine runs only under emulation, and nothing
/// else.
#[derive(Debug, thiserror::Error)]
#[error("start-up is never timed under emulation: {reason}; images refused: {images}")]
pub struct EmulatedStartup {
    /// Why, naming the platform and the machine.
    pub reason: String,
    /// The images asked for, comma-separated.
    pub images: String,
}

/// Why a selection of images to measure cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("no app image '{image}' in the plan (its app images: {known})")]
pub struct UnknownImage {
    /// The name asked for.
    pub image: String,
    /// The plan's app images, comma-separated.
    pub known: String,
}

/// The targets named in `only` (all with `only` empty), each with its app's baseline, in
/// the plan's order.
pub fn select(
    targets: Vec<Target>,
    variants: &[String],
    only: &[String],
) -> Result<Vec<Target>, UnknownImage> {
    if only.is_empty() {
        return Ok(targets);
    }
    let mut keep = vec![false; targets.len()];
    for name in only {
        let index = targets
            .iter()
            .position(|t| &t.image == name)
            .ok_or_else(|| UnknownImage {
                image: name.clone(),
                known: targets
                    .iter()
                    .map(|t| t.image.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        keep[index] = true;
        if let Some(baseline) = baseline_index(&targets, variants, targets[index].kind) {
            keep[baseline] = true;
        }
    }
    Ok(targets
        .into_iter()
        .zip(keep)
        .filter_map(|(target, kept)| kept.then_some(target))
        .collect())
}

/// Settings of a startup measurement, as the measurement takes them: made from what a person
/// asks for by [`crate::run::settings::StartupSettings::options`].
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

impl Default for StartupOptions {
    /// `r2r measure startup` with no flag given: the defaults of
    /// [`crate::run::settings::StartupSettings`], for every app of the plan.
    fn default() -> Self {
        crate::run::settings::StartupSettings::default().options(
            &crate::run::settings::StartupDefaults::measure(),
            Vec::new(),
            || true,
        )
    }
}

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

/// One recorded run: one row of `startup-runs.csv` (this struct writes and reads it). Times
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
    /// engine's and container runtime's part.
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
    /// cgroup v1 sampled while the container runs (every [`COUNTER_SAMPLE_INTERVAL`]): reads in
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
    /// An empty (not yet successful) record of a run of `target`.
    pub fn new(target: &Target, cache: Cache) -> RunRecord {
        RunRecord {
            image: target.image.clone(),
            variants: target.variants.join(";"),
            app: target.kind,
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

/// Reads one phase's time from a run.
pub type PhaseAccessor = fn(&RunRecord) -> Option<f64>;

/// The phases summarised, with their record accessors.
pub const PHASES: [(&str, PhaseAccessor); 10] = [
    ("total", |r| r.total_ms),
    ("create", |r| r.create_ms),
    ("start_to_ready", |r| r.start_to_ready_ms),
    ("first_request", |r| r.first_request_ms),
    ("time_to_main", |r| r.time_to_main_ms),
    ("start_to_exec", |r| r.start_to_exec_ms),
    ("exec_to_main", |r| r.exec_to_main_ms),
    ("main_to_ready", |r| r.main_to_ready_ms),
    ("ready_seen", |r| r.ready_seen_ms),
    ("remove", |r| r.remove_ms),
];

/// Statistics of one phase of one image under one cache mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Plan id.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind.
    pub app: AppKind,
    /// Cache mode.
    pub cache: Cache,
    /// Phase: `total`, `create`, `start_to_ready`, `first_request`, `time_to_main`,
    /// `start_to_exec`, `exec_to_main`, `main_to_ready`, `ready_seen`, `remove`.
    pub phase: String,
    /// Statistics, ms.
    pub summary: Summary,
    /// Failed runs of this image and cache mode.
    pub failures: usize,
    /// The baseline image the ratio is against (the first variant's image of the same app).
    pub baseline: String,
    /// Successful runs of the baseline in this cache mode and phase (the ratio's other n).
    pub baseline_runs: usize,
    /// How many times faster than the baseline (ratio of means); exactly 1 for the baseline.
    pub times_faster: f64,
    /// Standard error of `times_faster` (the two means' standard errors, as independent
    /// series); exactly 0 for the baseline.
    pub times_faster_error: f64,
    /// The paired comparison with the baseline, round by round (runs of the same round
    /// only); `None` for the baseline itself and when no round has runs of both.
    #[serde(default)]
    pub paired: Option<PairedEffect>,
    /// Means of the image's counters in this cache mode (the same for every phase).
    #[serde(default)]
    pub counters: CounterMeans,
}

/// Means over an image's successful runs in one cache mode of what the container did
/// underneath (`None` where no run was counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterMeans {
    /// Mean bytes read from block devices.
    pub read_bytes: Option<f64>,
    /// Mean major page faults.
    pub major_faults: Option<f64>,
    /// Mean peak memory, bytes.
    pub peak_memory_bytes: Option<f64>,
}

impl CounterMeans {
    /// The means of `records` (successful runs of one image and cache mode).
    pub fn of<'a>(records: impl Iterator<Item = &'a RunRecord> + Clone) -> CounterMeans {
        let mean = |value: fn(&RunRecord) -> Option<u64>| {
            let values: Vec<f64> = records
                .clone()
                .filter_map(value)
                .map(|v| v as f64)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        CounterMeans {
            read_bytes: mean(|r| r.read_bytes),
            major_faults: mean(|r| r.major_faults),
            peak_memory_bytes: mean(|r| r.peak_memory_bytes),
        }
    }
}

/// Receives progress.
pub trait StartupObserver: Send + Sync {
    /// The measurement starts: `total` recorded runs planned (more may come with a minimum time).
    fn started(&self, total: usize);
    /// One run finished (warm-up runs included when `recorded` is false).
    fn run_finished(&self, record: &RunRecord, recorded: bool);
    /// A round ended while a precision target is set: every pair's paired comparison so far
    /// (total time), and the target half-width (a fraction).
    fn precision(&self, _rounds: usize, _pairs: &[PairStatus], _target: f64) {}
}

/// One image against its baseline under one cache mode: the paired comparison of their
/// total start-up times, round by round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairStatus {
    /// Plan id of the image compared.
    pub image: String,
    /// Plan id of its baseline.
    pub baseline: String,
    /// Cache mode.
    pub cache: Cache,
    /// The comparison (total time, create to ready).
    pub effect: PairedEffect,
}

impl PairStatus {
    /// "webapi image vs its baseline (cache)", for people.
    pub fn label(&self) -> String {
        format!(
            "{} vs {} ({})",
            self.image,
            self.baseline,
            self.cache.name()
        )
    }
}

/// Why a measurement stopped adding rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// No precision target: the minimum runs and time were reached.
    MinimumReached,
    /// Every pair reached the precision target.
    Resolved,
    /// The budget of rounds (`max_runs`) was spent.
    MaxRuns,
    /// The budget of time (`max_duration`) was spent.
    MaxTime,
    /// There was nothing to run (no targets or no cache modes).
    Nothing,
}

impl StopReason {
    /// For people: why the measurement stopped.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::MinimumReached => "the minimum runs were reached",
            StopReason::Resolved => "every pair reached the precision",
            StopReason::MaxRuns => "the budget of runs was spent",
            StopReason::MaxTime => "the budget of time was spent",
            StopReason::Nothing => "there was nothing to run",
        }
    }
}

/// What a measurement recorded and why it stopped.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Every recorded run, earlier ones (before a resume) first.
    pub records: Vec<RunRecord>,
    /// Why no further round was started.
    pub stopped: StopReason,
    /// Time spent in this measurement (since its resume, if resumed).
    pub elapsed: Duration,
    /// Whole rounds recorded (earlier ones included).
    pub rounds: usize,
}

/// The precision a measurement reached: summary.json's `precision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionReport {
    /// The target half-width of every pair's 95% interval, percent; `None` without a target.
    pub target_pct: Option<f64>,
    /// Budget of time, seconds; `None`: none.
    pub max_seconds: Option<f64>,
    /// Budget of rounds; `None`: none.
    pub max_runs: Option<usize>,
    /// Why no further round was started.
    pub stopped: StopReason,
    /// Whole rounds recorded.
    pub rounds: usize,
    /// Time the measurement took (since its resume, if resumed), seconds.
    pub elapsed_seconds: f64,
    /// Every pair (image against its baseline, cache mode; total time) with its half-width
    /// reached (percent) and whether it is within the target.
    pub pairs: Vec<PairPrecision>,
    /// Labels of the pairs whose interval stayed wider than the target (empty without a
    /// target).
    pub unresolved: Vec<String>,
}

/// One pair's precision in [`PrecisionReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairPrecision {
    /// Plan id of the image compared.
    pub image: String,
    /// Plan id of its baseline.
    pub baseline: String,
    /// Cache mode.
    pub cache: Cache,
    /// Rounds with runs of both.
    pub rounds: usize,
    /// Half-width of the paired 95% interval relative to the speed-up, percent (`None` with
    /// fewer than 2 rounds).
    pub half_width_pct: Option<f64>,
    /// Whether it is within the target (always false without a target).
    pub resolved: bool,
    /// The comparison for people ("1.06× faster (95% CI 1.03–1.09, n = 30)").
    pub describe: String,
}

impl PrecisionReport {
    /// The report of a measurement: its stop reason and every pair's precision reached.
    pub fn new(measured: &Measured, pairs: &[PairStatus], options: &StartupOptions) -> Self {
        let resolved = |pair: &PairStatus| {
            options
                .precision
                .is_some_and(|target| pair.effect.resolved_to(target))
        };
        PrecisionReport {
            target_pct: options.precision.map(|p| p * 100.0),
            max_seconds: options.max_duration.map(|d| d.as_secs_f64()),
            max_runs: options.max_runs,
            stopped: measured.stopped,
            rounds: measured.rounds,
            elapsed_seconds: measured.elapsed.as_secs_f64(),
            pairs: pairs
                .iter()
                .map(|pair| PairPrecision {
                    image: pair.image.clone(),
                    baseline: pair.baseline.clone(),
                    cache: pair.cache,
                    rounds: pair.effect.rounds,
                    half_width_pct: Some(pair.effect.half_width * 100.0).filter(|h| h.is_finite()),
                    resolved: resolved(pair),
                    describe: pair.effect.describe(),
                })
                .collect(),
            unresolved: if options.precision.is_some() {
                pairs
                    .iter()
                    .filter(|pair| !resolved(pair))
                    .map(PairStatus::label)
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The index of `kind`'s baseline among `targets`: its image in the first of `variants`
/// that has one; with no variants given, the first target of that kind.
pub fn baseline_index(targets: &[Target], variants: &[String], kind: AppKind) -> Option<usize> {
    if variants.is_empty() {
        return targets.iter().position(|t| t.kind == kind);
    }
    variants.iter().find_map(|variant| {
        targets
            .iter()
            .position(|t| t.kind == kind && t.variants.contains(variant))
    })
}

/// `(baseline, candidate)` values of one phase from the rounds where both images have a
/// successful run under `cache`, in round order. Runs without a round (older files) are not
/// paired.
pub fn paired_values(
    records: &[RunRecord],
    baseline: &str,
    candidate: &str,
    cache: Cache,
    phase: PhaseAccessor,
) -> Vec<(f64, f64)> {
    let by_round = |image: &str| -> BTreeMap<usize, f64> {
        let mut values = BTreeMap::new();
        for record in records
            .iter()
            .filter(|r| r.ok && r.round > 0 && r.image == image && r.cache == cache)
        {
            if let Some(value) = phase(record) {
                values.entry(record.round).or_insert(value);
            }
        }
        values
    };
    let candidates = by_round(candidate);
    by_round(baseline)
        .into_iter()
        .filter_map(|(round, base)| candidates.get(&round).map(|value| (base, *value)))
        .collect()
}

/// The seed of one paired comparison's bootstrap (its own stream of the run's seed).
fn paired_seed(seed: u64, image: &str, cache: Cache, phase: &str) -> u64 {
    stats::stream_seed(seed, &["paired", image, cache.name(), phase])
}

/// The paired comparison (total time) of every target that is not its app's baseline with
/// that baseline, under each of `caches`, from the runs recorded so far.
pub fn pair_statuses(
    records: &[RunRecord],
    targets: &[Target],
    variants: &[String],
    caches: &[Cache],
    seed: u64,
) -> Vec<PairStatus> {
    let mut caches = caches.to_vec();
    caches.sort();
    caches.dedup();
    let mut pairs = Vec::new();
    for target in targets {
        let Some(baseline) = baseline_index(targets, variants, target.kind).map(|i| &targets[i])
        else {
            continue;
        };
        if baseline.image == target.image {
            continue;
        }
        for &cache in &caches {
            let values = paired_values(records, &baseline.image, &target.image, cache, |r| {
                r.total_ms
            });
            pairs.push(PairStatus {
                image: target.image.clone(),
                baseline: baseline.image.clone(),
                cache,
                effect: paired::compare(&values, paired_seed(seed, &target.image, cache, "total")),
            });
        }
    }
    pairs
}

/// Why a run of the schedule happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// A warm-up run (before the first round), not recorded.
    WarmUp,
    /// An unrecorded warm run that fills the page cache for the recorded warm run after it.
    ReWarm,
    /// A recorded run.
    Recorded,
}

/// One run of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    /// Index of the target.
    pub target: usize,
    /// Cache mode (cold steps drop the page cache first).
    pub cache: Cache,
    /// Why the run happens.
    pub kind: StepKind,
    /// 1-based round (0 for warm-up runs).
    pub round: usize,
    /// What filled the page cache for it.
    pub primed_by: Priming,
}

/// The order of runs, as a pure function of the number of targets, the cache modes, the
/// warm-up rounds and the seed: an endless iterator of [`Step`]s, round after round.
///
/// Every round (and warm-up round) runs each target once per cache mode, the targets in an
/// order shuffled by a generator seeded from the seed and the round alone, so any round can
/// be computed without the ones before. Within a round, a target's cold run comes first and its
/// warm run right after it: every warm run follows a run of the same image with no drop in
/// between. Where no run of the image followed the last drop (warm-only measurements without
/// warm-up, or after a resume), an unrecorded [`StepKind::ReWarm`] run is inserted.
#[derive(Debug, Clone)]
pub struct Schedule {
    targets: usize,
    caches: Vec<Cache>,
    seed: u64,
    /// Recorded steps still to skip (already recorded before a resume).
    skip: usize,
    /// The next round (warm-up rounds first, numbered from 1 - warmup).
    round: i64,
    pending: std::collections::VecDeque<Step>,
    /// Per target: what its last run since the last drop was.
    loaded: Vec<Option<Priming>>,
}

impl Schedule {
    /// The schedule from its start: warm-up rounds, then rounds 1, 2, ...
    pub fn new(targets: usize, caches: &[Cache], warmup: usize, seed: u64) -> Schedule {
        let mut caches = caches.to_vec();
        caches.sort();
        caches.dedup();
        Schedule {
            targets,
            caches,
            seed,
            skip: 0,
            round: 1 - warmup as i64,
            pending: Default::default(),
            loaded: vec![None; targets],
        }
    }

    /// The same schedule after its first `recorded` recorded runs: no warm-up, the next
    /// recorded run is the one that would have come after them. The page cache's state is
    /// unknown then, so the first warm run of each target gets a re-warm run before it.
    pub fn resumed(
        targets: usize,
        caches: &[Cache],
        warmup: usize,
        seed: u64,
        recorded: usize,
    ) -> Schedule {
        let mut schedule = Schedule::new(targets, caches, warmup, seed);
        if recorded > 0 {
            schedule.round = 1;
            schedule.skip = recorded;
        }
        schedule
    }

    /// The (target, cache) order of one round, a function of the seed and the round alone.
    pub fn round_order(&self, round: i64) -> Vec<(usize, Cache)> {
        let mut order: Vec<usize> = (0..self.targets).collect();
        let mut random = SeededRandom::new(stats::stream_seed(
            self.seed,
            &["schedule", &round.to_string()],
        ));
        random.shuffle(&mut order);
        order
            .into_iter()
            .flat_map(|target| self.caches.iter().map(move |cache| (target, *cache)))
            .collect()
    }

    fn fill(&mut self) {
        while self.pending.is_empty() {
            let round = self.round;
            self.round += 1;
            let kind = if round < 1 {
                StepKind::WarmUp
            } else {
                StepKind::Recorded
            };
            for (target, cache) in self.round_order(round) {
                if kind == StepKind::Recorded && self.skip > 0 {
                    self.skip -= 1;
                    continue;
                }
                let round = round.max(0) as usize;
                if kind == StepKind::Recorded
                    && cache == Cache::Warm
                    && self.loaded[target].is_none()
                {
                    self.pending.push_back(Step {
                        target,
                        cache,
                        kind: StepKind::ReWarm,
                        round,
                        primed_by: Priming::ReWarm,
                    });
                    self.loaded[target] = Some(Priming::ReWarm);
                }
                let primed_by = match cache {
                    Cache::Cold => Priming::Dropped,
                    // Only a warm-up run can find its image not loaded.
                    Cache::Warm => self.loaded[target].unwrap_or(Priming::Dropped),
                };
                self.pending.push_back(Step {
                    target,
                    cache,
                    kind,
                    round,
                    primed_by,
                });
                if cache == Cache::Cold {
                    self.loaded.iter_mut().for_each(|loaded| *loaded = None);
                }
                self.loaded[target] = Some(match (kind, cache) {
                    (StepKind::WarmUp, _) => Priming::WarmUp,
                    (_, Cache::Cold) => Priming::ColdRun,
                    (_, Cache::Warm) => Priming::WarmRun,
                });
            }
            if self.targets == 0 || self.caches.is_empty() {
                return;
            }
        }
    }
}

impl Iterator for Schedule {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        self.fill();
        self.pending.pop_front()
    }
}

/// Why the page cache could not be dropped.
#[derive(Debug, thiserror::Error)]
pub enum CacheDropError {
    /// `sync` could not be started.
    #[error("running sync: {0}")]
    Sync(#[source] std::io::Error),
    /// `sync` ran and failed.
    #[error("sync failed ({0})")]
    SyncFailed(std::process::ExitStatus),
    /// `/proc/sys/vm/drop_caches` could not be written (it needs root).
    #[error(
        "cold-cache runs need root: cannot write /proc/sys/vm/drop_caches ({0}); use --cache warm"
    )]
    NotPermitted(#[source] std::io::Error),
}

/// What a start-up sink returns when it cannot keep a run (e.g. the disk is full).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Drops the page cache (`sync`, then `3 > /proc/sys/vm/drop_caches`).
pub fn drop_page_cache() -> Result<(), CacheDropError> {
    let status = std::process::Command::new("sync")
        .status()
        .map_err(CacheDropError::Sync)?;
    if !status.success() {
        return Err(CacheDropError::SyncFailed(status));
    }
    std::fs::write("/proc/sys/vm/drop_caches", "3").map_err(CacheDropError::NotPermitted)
}

/// The container of one start-up run of `target`: labelled with the scenario and image, with
/// the run's limits, as an unprivileged user on a read-only root.
pub fn container_spec(
    plan_scenario: &str,
    target: &Target,
    options: &StartupOptions,
) -> ContainerSpec {
    ContainerSpec {
        image: target.reference.clone(),
        entrypoint: None,
        command: None,
        env: BTreeMap::new(),
        network: match target.kind {
            AppKind::Console => options.console_network,
            AppKind::Webapi => Network::Host,
        },
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), plan_scenario.to_string()),
            (labels::IMAGE.to_string(), target.image.clone()),
        ]),
        memory_limit_bytes: options.memory_limit_bytes,
        pids_limit: 512,
        user: Some(crate::engine::UNPRIVILEGED_USER.to_string()),
        read_only_root: true,
        cpuset_cpus: options.cpuset.clone(),
        cgroup_parent: None,
        read_bps_limits: Vec::new(),
    }
}

/// How often a container's counters are sampled while it runs where they vanish with it
/// (cgroup v1 block I/O).
pub const COUNTER_SAMPLE_INTERVAL: Duration = Duration::from_millis(2);

/// A key unique to one run of this process (for the run's counting cgroup).
fn counter_key() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", containers::session())
}

/// How often the web API's port is polled for readiness. A refused connect on the loopback
/// interface costs a few microseconds; the wait between attempts is slept precisely (not on
/// tokio's millisecond timer, which rounds 2 ms up to 2-3 ms), so readiness is seen within
/// about this long of the app answering.
pub const READY_POLL_INTERVAL: Duration = Duration::from_micros(250);

/// CLOCK_MONOTONIC now, nanoseconds: the clock the apps print (`Stopwatch.GetTimestamp` on
/// Linux), shared with containers that have no time namespace.
pub fn monotonic_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always readable");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC now, nanoseconds (read back to back): moves an
/// engine's wall-clock time onto the monotonic clock.
pub fn realtime_offset_ns() -> i128 {
    let monotonic = monotonic_ns();
    let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .expect("CLOCK_REALTIME is always readable");
    real.tv_sec() as i128 * 1_000_000_000 + real.tv_nsec() as i128 - monotonic as i128
}

/// The unsigned integer after `key` in `output` (e.g. `r2r-main-ns=`).
pub fn integer_after(output: &str, key: &str) -> Option<u64> {
    let start = output.find(key)? + key.len();
    let rest = &output[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Milliseconds from instant `from` to instant `to` (nanoseconds of one clock); negative if
/// `to` came first.
pub fn interval_ms(from: u64, to: u64) -> f64 {
    round_ms((to as i128 - from as i128) as f64 / 1e6)
}

/// Milliseconds to 0.001 ms, as the CSV keeps them.
fn round_ms(milliseconds: f64) -> f64 {
    (milliseconds * 1000.0).round() / 1000.0
}

fn milliseconds(duration: Duration) -> f64 {
    round_ms(duration.as_secs_f64() * 1000.0)
}

/// One run: create, start, ready, (first request), remove. The record's place in the
/// schedule (`round`, `run`, `primed_by`) is left for the caller to fill in.
pub async fn run_once(
    engine: &dyn Engine,
    scenario: &str,
    target: &Target,
    cache: Cache,
    options: &StartupOptions,
) -> RunRecord {
    let mut record = RunRecord::new(target, cache);
    if cache == Cache::Cold {
        if let Err(error) = drop_page_cache() {
            record.error = error.to_string();
            return record;
        }
    }
    if !options.pause.is_zero() {
        tokio::time::sleep(options.pause).await;
    }
    let mut spec = container_spec(scenario, target, options);
    let port = match target.kind {
        AppKind::Webapi => match probe::free_port() {
            Ok(port) => {
                spec.env.insert("PORT".into(), port.to_string());
                port
            }
            Err(error) => {
                record.error = format!("no free port on 127.0.0.1: {error}");
                return record;
            }
        },
        AppKind::Console => 0,
    };
    let scope: Option<CounterScope> = if options.counters {
        match containers::prepare_counters(engine, &mut spec, &counter_key()).await {
            Ok(scope) => scope,
            Err(error) => {
                tracing::warn!("counters not read: {error}");
                None
            }
        }
    } else {
        None
    };
    let created = Instant::now();
    let id = match containers::create(engine, &spec).await {
        Ok(id) => id,
        Err(error) => {
            record.error = error.to_string();
            if let Some(scope) = &scope {
                let _ = containers::release_counters(engine, scope).await;
            }
            return record;
        }
    };
    record.create_ms = Some(milliseconds(created.elapsed()));
    let offset = realtime_offset_ns();
    let start_request = monotonic_ns();
    let ready = async {
        engine
            .start_container(&id)
            .await
            .map_err(|error| error.to_string())?;
        match target.kind {
            AppKind::Console => {
                let code = engine
                    .wait_container(&id)
                    .await
                    .map_err(|error| error.to_string())?;
                let seen = monotonic_ns();
                if code != 0 {
                    return Err(exit_reason(engine, &id, code, options.memory_limit_bytes).await);
                }
                Ok((seen, None))
            }
            AppKind::Webapi => {
                // The ready line is awaited on the followed output (no polling, no CPU taken
                // from the starting app); in HTTP mode the port is then polled until it answers.
                let mut stream = engine.follow_logs(&id);
                let mut output = String::new();
                let line = loop {
                    match stream.next().await {
                        Some(Ok(chunk)) => {
                            output.push_str(&String::from_utf8_lossy(&chunk));
                            if output.contains("r2r-ready") {
                                break Ok(());
                            }
                        }
                        Some(Err(error)) => break Err(error.to_string()),
                        None => break Err("the output ended before r2r-ready".to_string()),
                    }
                };
                drop(stream);
                match options.readiness {
                    Readiness::Http => {
                        probe::wait_for_ok(port, "/", options.ready_timeout, READY_POLL_INTERVAL)
                            .await
                            .ok_or_else(|| format!("no HTTP 200 on 127.0.0.1:{port}"))?;
                    }
                    Readiness::LogLine => line?,
                }
                let seen = monotonic_ns();
                let request = Instant::now();
                let response = probe::get(port, "/releases", Duration::from_secs(10))
                    .await
                    .map_err(|error| error.to_string())?;
                if response.status != 200 {
                    return Err(format!("/releases answered {}", response.status));
                }
                Ok((seen, Some(request.elapsed())))
            }
        }
    };
    // Where a counter vanishes with the container (cgroup v1 block I/O), it is sampled while
    // the container runs; the largest sample is kept (the counters only grow).
    let mut sampled = ResourceCounters::default();
    let outcome = {
        let sampling = async {
            match &scope {
                Some(scope) if scope.sample => loop {
                    if let Ok(counters) = engine.read_counters(&id, scope).await {
                        sampled = sampled.max(counters);
                    }
                    tokio::time::sleep(COUNTER_SAMPLE_INTERVAL).await;
                },
                _ => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            outcome = tokio::time::timeout(options.ready_timeout, ready) => outcome,
            () = sampling => unreachable!("sampling never ends"),
        }
    };
    let total = created.elapsed();
    if let Some(scope) = &scope {
        // Read before the removal: a web API is still running; a console app has exited, and
        // its parent cgroup keeps what it did.
        if let Ok(counters) = engine.read_counters(&id, scope).await {
            sampled = sampled.max(counters);
        }
        record.peak_memory_bytes = sampled.peak_memory_bytes;
        record.read_bytes = sampled.read_bytes;
        record.major_faults = sampled.major_faults;
    }
    let started_at = engine.container_started_at(&id).await.ok().flatten();
    let logs = engine
        .container_logs(&id, containers::LOG_CAP_BYTES)
        .await
        .unwrap_or_default();
    let removing = Instant::now();
    containers::remove(engine, &id).await;
    record.remove_ms = Some(milliseconds(removing.elapsed()));
    if let Some(scope) = &scope {
        if let Err(error) = containers::release_counters(engine, scope).await {
            tracing::warn!("{error}");
        }
    }
    let output = format!("{}{}", logs.stdout, logs.stderr);
    record.start_request_ns = Some(start_request);
    record.exec_ns = started_at
        .map(|real| real - offset)
        .filter(|exec| *exec >= start_request as i128)
        .map(|exec| exec as u64);
    record.main_ns = integer_after(&output, "r2r-main-ns=");
    record.ready_ns = integer_after(&output, "r2r-ready-ns=");
    match outcome {
        Ok(Ok((seen, first_request))) => {
            let console_ok = target.kind != AppKind::Console || output.contains("r2r-console-ok");
            record.ok = console_ok;
            let start_to_ready = interval_ms(start_request, seen);
            record.start_to_ready_ms = Some(start_to_ready);
            record.first_request_ms = first_request.map(milliseconds);
            record.total_ms = Some(round_ms(record.create_ms.unwrap_or(0.0) + start_to_ready));
            record.time_to_main_ms = record.main_ns.map(|main| interval_ms(start_request, main));
            record.start_to_exec_ms = record.exec_ns.map(|exec| interval_ms(start_request, exec));
            if let (Some(exec), Some(main)) = (record.exec_ns, record.main_ns) {
                record.exec_to_main_ms = Some(interval_ms(exec, main));
            }
            if let (Some(main), Some(ready)) = (record.main_ns, record.ready_ns) {
                record.main_to_ready_ms = Some(interval_ms(main, ready));
            }
            record.ready_seen_ms = record.ready_ns.map(|ready| interval_ms(ready, seen));
            if !console_ok {
                record.error = format!("no result line; output: {}", containers::tail(&output, 8));
            }
        }
        Ok(Err(error)) => {
            record.error = format!("{error}; output: {}", containers::tail(&output, 8))
        }
        Err(_) => {
            record.error = format!(
                "not ready within {:?} ({:.0?} total); output: {}",
                options.ready_timeout,
                total,
                containers::tail(&output, 8)
            )
        }
    }
    record
}

/// Why a container exited with `code`: its code, and the memory limit when the kernel's
/// out-of-memory killer stopped it.
pub async fn exit_reason(
    engine: &dyn Engine,
    id: &str,
    code: i64,
    memory_limit_bytes: i64,
) -> String {
    if engine.oom_killed(id).await.unwrap_or(false) {
        format!(
            "exited with code {code}: killed at its memory limit of {} MiB",
            memory_limit_bytes >> 20
        )
    } else {
        format!("exited with code {code}")
    }
}

/// Why a measurement stopped before it was complete. The runs recorded before it went to the
/// sink and are kept; `r2r run --resume` adds the missing ones.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The engine stopped answering.
    #[error("the Docker engine stopped answering after {recorded} recorded run(s): {reason}")]
    EngineLost {
        /// Runs recorded (this measurement and earlier ones) before the engine was lost.
        recorded: usize,
        /// The engine's last answer.
        reason: String,
    },
    /// The sink could not keep a run (e.g. the disk is full).
    #[error("a run could not be recorded after {recorded} recorded run(s): {reason}")]
    Sink {
        /// Runs recorded before it.
        recorded: usize,
        /// The sink's error.
        reason: String,
    },
    /// The page cache could not be dropped for a cold run.
    #[error("a cold run could not drop the page cache after {recorded} recorded run(s): {reason}")]
    Cache {
        /// Runs recorded before it.
        recorded: usize,
        /// Why.
        reason: String,
    },
    /// The runs recorded before a resume are not the start of this schedule (another seed,
    /// other images or cache modes).
    #[error(
        "recorded run {index} is {recorded}, but this schedule's run {index} is {expected}: \
         resume with the seed, images and cache modes of the interrupted measurement"
    )]
    NotTheSchedule {
        /// 1-based index of the first recorded run that differs.
        index: usize,
        /// That run's image and cache mode.
        recorded: String,
        /// The schedule's image and cache mode there.
        expected: String,
    },
}

/// `Some` when the engine does not answer.
async fn engine_lost(engine: &dyn Engine, recorded: usize) -> Option<MeasureError> {
    match engine.info().await {
        Ok(_) => None,
        Err(error) => Some(MeasureError::EngineLost {
            recorded,
            reason: error.to_string(),
        }),
    }
}

/// Measures every target under every cache mode, in the order of the [`Schedule`] of
/// `options.seed`: [`measure_until`] without its stop reason.
pub async fn measure(
    engine: &dyn Engine,
    scenario: &str,
    targets: &[Target],
    options: &StartupOptions,
    observer: &dyn StartupObserver,
    sink: &mut (dyn FnMut(&RunRecord) -> Result<(), SinkError> + Send),
    prior: Vec<RunRecord>,
) -> Result<Vec<RunRecord>, MeasureError> {
    measure_until(engine, scenario, targets, options, observer, sink, prior)
        .await
        .map(|measured| measured.records)
}

/// Measures every target under every cache mode, in the order of the [`Schedule`] of
/// `options.seed`, whole round after whole round, until the minimum (`min_runs`,
/// `min_duration`) is reached and, with a precision target, every pair is resolved to it,
/// or a budget (`max_runs`, `max_duration`) is spent. `sink` receives each recorded run as it
/// finishes (so nothing is lost if the measurement is interrupted); an error from it stops
/// the measurement. `prior` are the runs an interrupted measurement recorded (in order): the
/// schedule continues after them, without warm-up, and they must be the schedule's first
/// recorded runs (same seed, targets, caches); they count towards every round and budget of
/// runs.
pub async fn measure_until(
    engine: &dyn Engine,
    scenario: &str,
    targets: &[Target],
    options: &StartupOptions,
    observer: &dyn StartupObserver,
    sink: &mut (dyn FnMut(&RunRecord) -> Result<(), SinkError> + Send),
    prior: Vec<RunRecord>,
) -> Result<Measured, MeasureError> {
    let started = Instant::now();
    let pairs = targets.len() * {
        let mut caches = options.caches.clone();
        caches.sort();
        caches.dedup();
        caches.len()
    };
    // The runs recorded before an interruption are the schedule's first ones: check it, so
    // that a resume with other settings does not mix two designs in one file.
    let expected: Vec<Step> = Schedule::new(targets.len(), &options.caches, 0, options.seed)
        .filter(|step| step.kind == StepKind::Recorded)
        .take(prior.len())
        .collect();
    for (index, (record, step)) in prior.iter().zip(&expected).enumerate() {
        let target = &targets[step.target];
        if record.image != target.image || record.cache != step.cache {
            return Err(MeasureError::NotTheSchedule {
                index: index + 1,
                recorded: format!("{} {}", record.image, record.cache.name()),
                expected: format!("{} {}", target.image, step.cache.name()),
            });
        }
    }
    let mut counts: BTreeMap<(usize, Cache), usize> = BTreeMap::new();
    for step in &expected {
        *counts.entry((step.target, step.cache)).or_default() += 1;
    }
    let mut records = prior;
    if pairs == 0 {
        return Ok(Measured {
            records,
            stopped: StopReason::Nothing,
            elapsed: started.elapsed(),
            rounds: 0,
        });
    }
    // Whole rounds only: before each round, decide whether to start it.
    let stop_before = |done: usize, records: &[RunRecord]| -> Option<StopReason> {
        if options.max_runs.is_some_and(|max| done >= max.max(1)) {
            return Some(StopReason::MaxRuns);
        }
        let elapsed = started.elapsed();
        if done >= 2 && options.max_duration.is_some_and(|max| elapsed >= max) {
            return Some(StopReason::MaxTime);
        }
        let minimum = done >= options.min_runs && elapsed >= options.min_duration;
        match options.precision {
            None => minimum.then_some(StopReason::MinimumReached),
            Some(target) => {
                let statuses = pair_statuses(
                    records,
                    targets,
                    &options.variants,
                    &options.caches,
                    options.seed,
                );
                if done > 0 {
                    observer.precision(done, &statuses, target);
                }
                (minimum && statuses.iter().all(|pair| pair.effect.resolved_to(target)))
                    .then_some(StopReason::Resolved)
            }
        }
    };
    let done_before = records.len() / pairs;
    // The round in progress (after a resume within a round) or the next one, checked here.
    let mut current_round = done_before + 1;
    let partial = !records.len().is_multiple_of(pairs);
    if !partial {
        if let Some(reason) = stop_before(done_before, &records) {
            return Ok(Measured {
                records,
                stopped: reason,
                elapsed: started.elapsed(),
                rounds: done_before,
            });
        }
    }
    let target_rounds = match (options.precision, options.max_runs) {
        (Some(_), Some(max)) => max.max(options.min_runs),
        (_, max) => options.min_runs.min(max.unwrap_or(usize::MAX)),
    };
    observer.started((pairs * target_rounds).saturating_sub(records.len()));
    let schedule = Schedule::resumed(
        targets.len(),
        &options.caches,
        options.warmup,
        options.seed,
        records.len(),
    );
    let mut stopped = StopReason::Nothing;
    for step in schedule {
        if step.round > current_round {
            // A new round: the rounds before it are whole.
            if let Some(reason) = stop_before(step.round - 1, &records) {
                stopped = reason;
                break;
            }
            current_round = step.round;
        }

        let target = &targets[step.target];
        let mut record = run_once(engine, scenario, target, step.cache, options).await;
        record.primed_by = step.primed_by;
        record.round = step.round;
        if !record.ok {
            // A failed run is a measurement (the app failed) unless the engine itself is
            // gone or the cache could not be dropped: then the run says nothing about the app,
            // is not recorded, and the measurement stops.
            if let Some(lost) = engine_lost(engine, records.len()).await {
                return Err(lost);
            }
            if step.cache == Cache::Cold && record.error.contains("drop_caches") {
                return Err(MeasureError::Cache {
                    recorded: records.len(),
                    reason: record.error,
                });
            }
        }
        if step.kind != StepKind::Recorded {
            observer.run_finished(&record, false);
            continue;
        }
        let count = counts.entry((step.target, step.cache)).or_default();
        *count += 1;
        record.run = *count;
        sink(&record).map_err(|error| MeasureError::Sink {
            recorded: records.len(),
            reason: error.to_string(),
        })?;
        observer.run_finished(&record, true);
        records.push(record);
    }
    let rounds = records.len() / pairs;
    Ok(Measured {
        records,
        stopped,
        elapsed: started.elapsed(),
        rounds,
    })
}

/// Summarises recorded runs per image, cache mode and phase, with ratios against the
/// baseline image (the image of the same app in the first variant that has one). `seed` is
/// the run's seed: each series' bootstrap draws from its own stream derived from it.
pub fn summarize(
    records: &[RunRecord],
    targets: &[Target],
    variants: &[String],
    seed: u64,
) -> Vec<PhaseSummary> {
    let mut summaries = Vec::new();
    let baseline_of = |kind: AppKind| -> Option<&Target> {
        baseline_index(targets, variants, kind).map(|i| &targets[i])
    };
    let series = |image: &str, cache: Cache, phase: fn(&RunRecord) -> Option<f64>| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.ok && r.image == image && r.cache == cache)
            .filter_map(phase)
            .collect()
    };
    let mut caches: Vec<Cache> = records.iter().map(|r| r.cache).collect();
    caches.sort();
    caches.dedup();
    for target in targets {
        let Some(baseline) = baseline_of(target.kind) else {
            continue;
        };
        for &cache in &caches {
            let failures = records
                .iter()
                .filter(|r| !r.ok && r.image == target.image && r.cache == cache)
                .count();
            let counters = CounterMeans::of(
                records
                    .iter()
                    .filter(|r| r.ok && r.image == target.image && r.cache == cache),
            );
            for (phase, accessor) in PHASES {
                // Each series resamples from its own stream (seed, image, cache mode, phase).
                let seed_of = |image: &str| stats::stream_seed(seed, &[image, cache.name(), phase]);
                let Some(summary) = stats::summarize(
                    &series(&target.image, cache, accessor),
                    seed_of(&target.image),
                ) else {
                    continue;
                };
                let (baseline_runs, (ratio, error)) = if baseline.image == target.image {
                    // The baseline against itself is exactly one, with no uncertainty.
                    (summary.count, (1.0, 0.0))
                } else {
                    match stats::summarize(
                        &series(&baseline.image, cache, accessor),
                        seed_of(&baseline.image),
                    ) {
                        Some(base) => (base.count, stats::times_faster(&base, &summary)),
                        None => (0, (f64::NAN, f64::NAN)),
                    }
                };
                let paired = (baseline.image != target.image)
                    .then(|| {
                        paired_values(records, &baseline.image, &target.image, cache, accessor)
                    })
                    .filter(|values| !values.is_empty())
                    .map(|values| {
                        paired::compare(&values, paired_seed(seed, &target.image, cache, phase))
                    });
                summaries.push(PhaseSummary {
                    image: target.image.clone(),
                    variants: target.variants.join(";"),
                    app: target.kind,
                    cache,
                    phase: phase.to_string(),
                    summary,
                    failures,
                    baseline: baseline.image.clone(),
                    baseline_runs,
                    times_faster: ratio,
                    times_faster_error: error,
                    paired,
                    counters,
                });
            }
        }
    }
    summaries
}

/// Columns of `startup-runs.csv` that readers need (older files may lack newer columns).
pub const RUN_COLUMNS: &[&str] = &["image", "app", "cache", "run", "ok", "total_ms"];

/// The CSV header serde writes for a row type: its field names, in order.
fn header_of<T: Serialize>(row: &T) -> Vec<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.serialize(row).expect("a row serializes to CSV");
    let bytes = writer.into_inner().expect("writing to memory");
    let text = String::from_utf8(bytes).expect("CSV of UTF-8 strings");
    text.lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect()
}

fn empty_record() -> RunRecord {
    RunRecord::new(
        &Target {
            image: String::new(),
            reference: String::new(),
            variants: Vec::new(),
            kind: AppKind::Console,
        },
        Cache::Warm,
    )
}

/// The CSV header of `startup-runs.csv`: the fields of [`RunRecord`], in order.
pub fn runs_header() -> Vec<String> {
    header_of(&empty_record())
}

/// Reads recorded runs back from a `startup-runs.csv` (to resume a measurement); `Ok(empty)`
/// when the file does not exist.
pub fn read_runs(
    path: &std::path::Path,
) -> Result<Vec<RunRecord>, crate::results::reading::RunDataError> {
    Ok(crate::results::reading::read_csv(path, RUN_COLUMNS)?.unwrap_or_default())
}

/// `startup-runs.csv` rows (with the header when `header` is set) of `records`.
pub fn runs_csv(records: &[RunRecord], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(Vec::new());
    if header && records.is_empty() {
        writer.write_record(runs_header())?;
    }
    for record in records {
        writer.serialize(record)?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// One row of `startup.csv`: statistics of one image, cache mode and phase (this struct
/// writes and reads it). Times in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Plan id of the image.
    pub image: String,
    /// Variants (`;`-joined).
    pub variants: String,
    /// App kind (`console`, `webapi`).
    pub app: String,
    /// `cold` or `warm`.
    pub cache: String,
    /// Phase (see [`PHASES`]).
    pub phase: String,
    /// Successful runs in the statistics (the n of every interval in the row).
    pub runs: u64,
    /// Failed runs.
    pub failures: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Sample standard deviation, ms.
    pub stddev_ms: f64,
    /// Standard error of the mean (sd / sqrt(runs)), ms.
    #[serde(default)]
    pub stderr_ms: f64,
    /// Median, ms.
    pub median_ms: f64,
    /// Minimum, ms.
    pub min_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Studentized bootstrap 95% interval of the mean, low end, ms.
    pub ci95_low_ms: f64,
    /// Studentized bootstrap 95% interval of the mean, high end, ms.
    pub ci95_high_ms: f64,
    /// Outliers flagged by the MAD rule (kept).
    pub outliers: u64,
    /// The baseline image.
    pub baseline: String,
    /// The baseline's successful runs in this cache mode and phase (the ratio's other n).
    #[serde(default)]
    pub baseline_runs: u64,
    /// Times faster than the baseline (ratio of means); 1 for the baseline itself.
    pub times_faster: f64,
    /// Standard error of `times_faster`; 0 for the baseline itself.
    pub times_faster_error: f64,
    /// Rounds with a successful run of both this image and the baseline (the n of the paired
    /// figures below); 0 for the baseline itself.
    #[serde(default)]
    pub paired_rounds: u64,
    /// Paired speed-up: geometric mean over rounds of baseline / this image, times (above 1:
    /// faster than the baseline); empty for the baseline itself or below 1 paired round.
    #[serde(default)]
    pub paired_speedup: Option<f64>,
    /// Low end of the paired speed-up's 95% interval (bootstrap-t over rounds), times;
    /// empty below 2 paired rounds.
    #[serde(default)]
    pub paired_ci95_low: Option<f64>,
    /// High end of the paired speed-up's 95% interval, times; empty below 2 paired rounds.
    #[serde(default)]
    pub paired_ci95_high: Option<f64>,
    /// Half-width of that interval relative to the speed-up, percent (the precision
    /// reached); empty below 2 paired rounds.
    #[serde(default)]
    pub paired_half_width_pct: Option<f64>,
    /// Two-sided p-value of Wilcoxon's signed-rank test of the per-round log ratios
    /// (probability, 0-1); empty below 2 paired rounds.
    #[serde(default)]
    pub paired_p_value: Option<f64>,
    /// Minimal detectable effect: the smallest speed-up a paired test at the 5% level finds
    /// with 80% power for this spread and these rounds, percent; empty below 2 paired rounds.
    #[serde(default)]
    pub paired_mde_pct: Option<f64>,
    /// What the paired interval says: `faster`, `slower`, `no-difference`,
    /// `too-few-rounds`; empty for the baseline itself.
    #[serde(default)]
    pub paired_verdict: String,
    /// The paired comparison for people: "1.060× faster (95% CI 1.030–1.090, n = 30)" or
    /// "no difference resolved (±4.0%, n = 10)"; empty for the baseline itself.
    #[serde(default)]
    pub paired_text: String,
    /// Mean bytes read from block devices per run of this image and cache mode (the same on
    /// every phase row); empty where not counted.
    #[serde(default)]
    pub read_bytes_mean: Option<f64>,
    /// Mean major page faults per run (count); empty where not counted.
    #[serde(default)]
    pub major_faults_mean: Option<f64>,
    /// Mean peak memory per run, bytes; empty where not counted.
    #[serde(default)]
    pub peak_memory_bytes_mean: Option<f64>,
}

/// Columns of `startup.csv` that readers need.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "image",
    "app",
    "cache",
    "phase",
    "runs",
    "median_ms",
    "mean_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "times_faster",
];

/// A finite value rounded to `digits`; `None` for none or a non-finite one.
fn finite(value: Option<f64>, digits: i32) -> Option<f64> {
    value.filter(|v| v.is_finite()).map(|v| round_to(v, digits))
}

/// The kebab-case name of a verdict, as the CSV and JSON write it.
pub fn verdict_name(verdict: paired::Verdict) -> &'static str {
    match verdict {
        paired::Verdict::Faster => "faster",
        paired::Verdict::Slower => "slower",
        paired::Verdict::NoDifference => "no-difference",
        paired::Verdict::TooFewRounds => "too-few-rounds",
    }
}

fn round_to(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

impl SummaryRow {
    /// The row of one phase summary (times to 0.001 ms, ratios to 0.0001).
    pub fn new(s: &PhaseSummary) -> SummaryRow {
        let m = &s.summary;
        SummaryRow {
            image: s.image.clone(),
            variants: s.variants.clone(),
            app: s.app.name().to_string(),
            cache: s.cache.name().to_string(),
            phase: s.phase.clone(),
            runs: m.count as u64,
            failures: s.failures as u64,
            mean_ms: round_to(m.mean, 3),
            stddev_ms: round_to(m.standard_deviation, 3),
            stderr_ms: round_to(m.standard_error, 3),
            median_ms: round_to(m.median, 3),
            min_ms: round_to(m.min, 3),
            max_ms: round_to(m.max, 3),
            p95_ms: round_to(m.p95, 3),
            ci95_low_ms: round_to(m.ci95_low, 3),
            ci95_high_ms: round_to(m.ci95_high, 3),
            outliers: m.outliers.len() as u64,
            baseline: s.baseline.clone(),
            baseline_runs: s.baseline_runs as u64,
            times_faster: round_to(s.times_faster, 4),
            times_faster_error: round_to(s.times_faster_error, 4),
            paired_rounds: s.paired.as_ref().map_or(0, |p| p.rounds as u64),
            paired_speedup: finite(s.paired.as_ref().map(|p| p.speedup), 4),
            paired_ci95_low: finite(s.paired.as_ref().map(|p| p.ci95_low), 4),
            paired_ci95_high: finite(s.paired.as_ref().map(|p| p.ci95_high), 4),
            paired_half_width_pct: finite(s.paired.as_ref().map(|p| p.half_width * 100.0), 3),
            paired_p_value: finite(s.paired.as_ref().map(|p| p.p_value), 5)
                .filter(|_| s.paired.as_ref().is_some_and(|p| p.rounds >= 2)),
            paired_mde_pct: finite(
                s.paired
                    .as_ref()
                    .and_then(|p| p.minimal_detectable)
                    .map(|m| m * 100.0),
                3,
            ),
            paired_verdict: s
                .paired
                .as_ref()
                .map(|p| verdict_name(p.verdict).to_string())
                .unwrap_or_default(),
            paired_text: s
                .paired
                .as_ref()
                .map(PairedEffect::describe)
                .unwrap_or_default(),
            read_bytes_mean: s.counters.read_bytes.map(|v| round_to(v, 1)),
            major_faults_mean: s.counters.major_faults.map(|v| round_to(v, 2)),
            peak_memory_bytes_mean: s.counters.peak_memory_bytes.map(|v| round_to(v, 1)),
        }
    }
}

/// `startup.csv`: one row per image, cache mode and phase.
pub fn summary_csv(summaries: &[PhaseSummary]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(!summaries.is_empty())
        .from_writer(Vec::new());
    if summaries.is_empty() {
        let empty = PhaseSummary {
            image: String::new(),
            variants: String::new(),
            app: AppKind::Console,
            cache: Cache::Warm,
            phase: String::new(),
            summary: stats::summarize(&[0.0], 0).expect("one sample"),
            failures: 0,
            baseline: String::new(),
            baseline_runs: 0,
            times_faster: 0.0,
            times_faster_error: 0.0,
            paired: None,
            counters: CounterMeans::default(),
        };
        writer.write_record(header_of(&SummaryRow::new(&empty)))?;
    }
    for s in summaries {
        writer.serialize(SummaryRow::new(s))?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_same_seed_gives_the_same_interleaved_order() {
        let caches = [Cache::Cold, Cache::Warm];
        let take = |seed| -> Vec<Step> { Schedule::new(3, &caches, 1, seed).take(24).collect() };
        assert_eq!(take(11), take(11));
        assert_ne!(take(11), take(12));
        // Every round runs every pair exactly once.
        let recorded: Vec<Step> = Schedule::new(3, &caches, 1, 11)
            .filter(|s| s.kind == StepKind::Recorded)
            .take(18)
            .collect();
        for round in recorded.chunks(6) {
            let mut pairs: Vec<(usize, Cache)> =
                round.iter().map(|s| (s.target, s.cache)).collect();
            pairs.sort();
            assert_eq!(
                pairs,
                (0..3)
                    .flat_map(|t| caches.iter().map(move |c| (t, *c)))
                    .collect::<Vec<_>>()
            );
            assert!(round.iter().all(|s| s.round == round[0].round));
        }
    }

    /// Checks that every warm run follows a run of the same image with no cache drop in
    /// between, and that the recorded `primed_by` names that run.
    fn warm_runs_follow_their_image(steps: &[Step]) -> Result<(), String> {
        let mut last: Vec<Option<Priming>> = vec![None; 16];
        for (index, step) in steps.iter().enumerate() {
            match step.cache {
                Cache::Cold => {
                    if step.primed_by != Priming::Dropped {
                        return Err(format!("cold step {index} says {:?}", step.primed_by));
                    }
                    last.iter_mut().for_each(|l| *l = None);
                }
                Cache::Warm if step.kind != StepKind::Recorded => {}
                Cache::Warm => match last[step.target] {
                    None => {
                        return Err(format!(
                        "warm step {index} has no run of its image since the last drop: {steps:?}"
                    ))
                    }
                    Some(before) if before != step.primed_by => {
                        return Err(format!(
                            "warm step {index} says {:?}, the run before was {before:?}",
                            step.primed_by
                        ));
                    }
                    Some(_) => {}
                },
            }
            last[step.target] = Some(match (step.kind, step.cache) {
                (StepKind::WarmUp, _) => Priming::WarmUp,
                (StepKind::ReWarm, _) => Priming::ReWarm,
                (_, Cache::Cold) => Priming::ColdRun,
                (_, Cache::Warm) => Priming::WarmRun,
            });
        }
        Ok(())
    }

    fn cache_modes(choice: u8) -> Vec<Cache> {
        match choice % 3 {
            0 => vec![Cache::Cold, Cache::Warm],
            1 => vec![Cache::Warm],
            _ => vec![Cache::Cold],
        }
    }

    proptest! {
        /// For every seed, number of images, cache modes and warm-up: a warm run always
        /// follows a run of the same image with no drop in between.
        #[test]
        fn a_warm_run_always_follows_its_own_image(
            seed in any::<u64>(),
            targets in 1usize..6,
            caches in any::<u8>(),
            warmup in 0usize..3,
        ) {
            let caches = cache_modes(caches);
            let steps: Vec<Step> = Schedule::new(targets, &caches, warmup, seed).take(120).collect();
            prop_assert!(warm_runs_follow_their_image(&steps).is_ok(), "{:?}", warm_runs_follow_their_image(&steps));
            // Warm-up runs first, then rounds 1, 2, ... in order.
            let warmups = steps.iter().take_while(|s| s.kind == StepKind::WarmUp).count();
            prop_assert_eq!(warmups, (warmup * targets * caches.len()).min(120));
            prop_assert!(steps.windows(2).all(|w| w[0].round <= w[1].round));
        }

        /// A resumed schedule continues the same sequence of recorded runs, without warm-up,
        /// and re-warms where the cache state is unknown.
        #[test]
        fn a_resumed_schedule_continues_the_same_sequence(
            seed in any::<u64>(),
            targets in 1usize..6,
            caches in any::<u8>(),
            warmup in 0usize..3,
            recorded in 0usize..40,
        ) {
            let caches = cache_modes(caches);
            let whole: Vec<Step> = Schedule::new(targets, &caches, warmup, seed)
                .filter(|s| s.kind == StepKind::Recorded)
                .take(recorded + 30)
                .collect();
            let resumed_steps: Vec<Step> = Schedule::resumed(targets, &caches, warmup, seed, recorded)
                .take(60)
                .collect();
            if recorded > 0 {
                prop_assert!(resumed_steps.iter().all(|s| s.kind != StepKind::WarmUp));
            }
            prop_assert!(warm_runs_follow_their_image(&resumed_steps).is_ok());
            let continued: Vec<(usize, Cache, usize)> = resumed_steps
                .iter()
                .filter(|s| s.kind == StepKind::Recorded)
                .map(|s| (s.target, s.cache, s.round))
                .take(30)
                .collect();
            let expected: Vec<(usize, Cache, usize)> = whole[recorded..]
                .iter()
                .map(|s| (s.target, s.cache, s.round))
                .take(continued.len())
                .collect();
            prop_assert!(continued.len() >= 20);
            prop_assert_eq!(continued, expected);
        }
    }

    #[test]
    fn warm_runs_come_right_after_their_images_cold_run() {
        let steps: Vec<Step> = Schedule::new(4, &[Cache::Cold, Cache::Warm], 0, 5)
            .take(40)
            .collect();
        assert!(
            steps.iter().all(|s| s.kind == StepKind::Recorded),
            "no re-warm is needed"
        );
        for pair in steps.chunks(2) {
            assert_eq!(
                (pair[0].target, pair[0].cache),
                (pair[1].target, Cache::Cold)
            );
            assert_eq!(pair[1].cache, Cache::Warm);
            assert_eq!(pair[1].primed_by, Priming::ColdRun);
        }
        // Warm only without warm-up: the first round re-warms each image once.
        let warm: Vec<Step> = Schedule::new(3, &[Cache::Warm], 0, 5).take(9).collect();
        assert_eq!(
            warm.iter().filter(|s| s.kind == StepKind::ReWarm).count(),
            3
        );
        assert!(warm[6..].iter().all(|s| s.primed_by == Priming::WarmRun));
    }

    /// The readiness poll finds a listener that appears after it started polling, sends its
    /// request there once, and reports the answer. (How soon it sees the listener is a
    /// benchmark: `cargo bench -p r2r-bench --bench probe`.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readiness_polling_finds_a_late_listener() {
        for _ in 0..3 {
            let port = probe::free_port().unwrap();
            let server = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                let (mut socket, _) = listener.accept().unwrap();
                use std::io::{Read, Write};
                let mut buffer = [0u8; 1024];
                let read = socket.read(&mut buffer).unwrap();
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                String::from_utf8_lossy(&buffer[..read]).into_owned()
            });
            probe::wait_for_ok(port, "/", Duration::from_secs(5), READY_POLL_INTERVAL)
                .await
                .expect("the server answers");
            let request = server.join().unwrap();
            assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request:?}");
        }
    }

    #[test]
    fn the_app_clock_lines_are_read_to_the_nanosecond() {
        let output = "r2r-main-ns=1234567890123456\nr2r-console-ok jit_methods=3\nr2r-ready-ns=1234567891123456\n";
        let main = integer_after(output, "r2r-main-ns=").unwrap();
        let ready = integer_after(output, "r2r-ready-ns=").unwrap();
        assert_eq!(main, 1_234_567_890_123_456);
        assert_eq!(interval_ms(main, ready), 1.0);
        assert_eq!(interval_ms(ready, main), -1.0);
        let now = monotonic_ns();
        assert!(monotonic_ns() >= now);
    }

    fn record(image: &str, cache: Cache, total: f64, ok: bool) -> RunRecord {
        RunRecord {
            image: image.into(),
            variants: image.into(),
            app: AppKind::Console,
            cache,
            primed_by: Priming::ColdRun,
            round: 1,
            run: 1,
            ok,
            create_ms: Some(10.0),
            start_to_ready_ms: Some(total - 10.0),
            first_request_ms: None,
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
            ready_ns: None,
            error: String::new(),
        }
    }

    #[test]
    fn summaries_compare_with_the_first_variant() {
        let targets = vec![
            Target {
                image: "base.console".into(),
                reference: "r:b".into(),
                variants: vec!["base".into()],
                kind: AppKind::Console,
            },
            Target {
                image: "fast.console".into(),
                reference: "r:f".into(),
                variants: vec!["fast".into()],
                kind: AppKind::Console,
            },
        ];
        let mut records = Vec::new();
        for total in [200.0, 210.0, 190.0] {
            records.push(record("base.console", Cache::Warm, total, true));
            records.push(record("fast.console", Cache::Warm, total / 2.0, true));
        }
        records.push(record("fast.console", Cache::Warm, 5000.0, false));
        let summaries = summarize(&records, &targets, &["base".into(), "fast".into()], 3);
        let fast_total = summaries
            .iter()
            .find(|s| s.image == "fast.console" && s.phase == "total")
            .unwrap();
        assert_eq!(
            fast_total.summary.count, 3,
            "failed runs are not in the statistics"
        );
        assert_eq!(fast_total.failures, 1);
        // Counter means over the successful runs only (the failed run's are left out).
        assert_eq!(
            fast_total.counters,
            CounterMeans {
                read_bytes: Some(30_000_000.0),
                major_faults: Some(25.0),
                peak_memory_bytes: Some(40_000_100.0),
            }
        );
        assert!((fast_total.times_faster - 2.0).abs() < 1e-9);
        assert!(
            summaries.iter().all(|s| s.phase != "first_request"),
            "console apps have no first request"
        );
        let csv = String::from_utf8(summary_csv(&summaries).unwrap()).unwrap();
        assert!(csv.starts_with("image,variants,app,cache,phase,runs,failures,mean_ms"));
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .ends_with(",read_bytes_mean,major_faults_mean,peak_memory_bytes_mean"),
            "{csv}"
        );
        assert!(
            csv.contains("fast.console,fast,console,warm,total,3,1,100.0,"),
            "{csv}"
        );
        // The baseline against itself is exactly 1 ± 0.
        let base_total = summaries
            .iter()
            .find(|s| s.image == "base.console" && s.phase == "total")
            .unwrap();
        assert_eq!(
            (base_total.times_faster, base_total.times_faster_error),
            (1.0, 0.0)
        );
        // The ratio's uncertainty is a standard error: sd 10 and 5 over sqrt(3), not sd.
        let relative = (10.0f64 / 200.0 / 3f64.sqrt()).hypot(5.0 / 100.0 / 3f64.sqrt());
        assert!((fast_total.times_faster_error - 2.0 * relative).abs() < 1e-9);
        assert_eq!(fast_total.baseline_runs, 3);
        // The file reads back into the type that wrote it.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("startup.csv"), &csv).unwrap();
        let rows: Vec<SummaryRow> =
            crate::results::reading::read_csv(&dir.path().join("startup.csv"), SUMMARY_COLUMNS)
                .unwrap()
                .unwrap();
        assert_eq!(rows.len(), summaries.len());
        assert_eq!(rows[0], SummaryRow::new(&summaries[0]));
    }

    /// Runs of two images over rounds where a drift moves both: pairing by round cancels it,
    /// the ratio of means does not; a round where one side failed is left out of the pairs.
    #[test]
    fn pairs_are_taken_round_by_round() {
        let targets = vec![
            Target {
                image: "base.console".into(),
                reference: "r:b".into(),
                variants: vec!["base".into()],
                kind: AppKind::Console,
            },
            Target {
                image: "fast.console".into(),
                reference: "r:f".into(),
                variants: vec!["fast".into()],
                kind: AppKind::Console,
            },
        ];
        let drift = [1.0, 1.6, 0.8, 1.3, 1.1, 0.9, 1.5, 1.2];
        let mut records = Vec::new();
        for (index, factor) in drift.iter().enumerate() {
            let round = index + 1;
            // The candidate is 1.10× faster in every round, up to ±0.5%.
            let wobble = 1.0 + 0.005 * if index % 2 == 0 { 1.0 } else { -1.0 };
            let mut base = record("base.console", Cache::Warm, 300.0 * factor, true);
            let mut fast = record(
                "fast.console",
                Cache::Warm,
                300.0 * factor / 1.1 * wobble,
                true,
            );
            base.round = round;
            fast.round = round;
            // The candidate is listed first in some rounds: order within a round is free.
            if index % 3 == 0 {
                records.extend([fast, base]);
            } else {
                records.extend([base, fast]);
            }
        }
        // Round 9: the candidate failed; its baseline's run has no partner.
        let mut lone = record("base.console", Cache::Warm, 250.0, true);
        lone.round = 9;
        let mut failed = record("fast.console", Cache::Warm, 90.0, false);
        failed.round = 9;
        records.extend([lone, failed]);
        let values = paired_values(&records, "base.console", "fast.console", Cache::Warm, |r| {
            r.total_ms
        });
        assert_eq!(values.len(), 8);
        assert!((values[1].0 - 480.0).abs() < 1e-9, "round 2's baseline");
        let variants = ["base".to_string(), "fast".to_string()];
        let summaries = summarize(&records, &targets, &variants, 3);
        let fast = summaries
            .iter()
            .find(|s| s.image == "fast.console" && s.phase == "total")
            .unwrap();
        let paired = fast.paired.as_ref().unwrap();
        assert_eq!(paired.rounds, 8);
        assert!((paired.speedup - 1.1).abs() < 0.01, "{paired:?}");
        assert!(paired.half_width < 0.01, "the drift cancels: {paired:?}");
        assert_eq!(paired.verdict, paired::Verdict::Faster);
        // Unpaired, the drift of ±30% swamps the 10%.
        assert!(
            fast.times_faster_error / fast.times_faster > 0.05,
            "{fast:?}"
        );
        let base = summaries
            .iter()
            .find(|s| s.image == "base.console" && s.phase == "total")
            .unwrap();
        assert!(base.paired.is_none(), "no pair for the baseline itself");
        // The status the precision loop sees is the same comparison.
        let statuses = pair_statuses(&records, &targets, &variants, &[Cache::Warm], 3);
        assert_eq!(statuses.len(), 1);
        assert_eq!(&statuses[0].effect, paired);
        assert_eq!(statuses[0].label(), "fast.console vs base.console (warm)");
        // And the CSV row carries it.
        let row = SummaryRow::new(fast);
        assert_eq!(row.paired_rounds, 8);
        assert_eq!(row.paired_verdict, "faster");
        assert!(row.paired_text.starts_with("1.1"), "{}", row.paired_text);
        assert_eq!(SummaryRow::new(base).paired_speedup, None);
        // Runs from an older file carry no round and are not paired.
        let old: Vec<RunRecord> = records
            .iter()
            .map(|r| RunRecord {
                round: 0,
                ..r.clone()
            })
            .collect();
        assert!(
            paired_values(&old, "base.console", "fast.console", Cache::Warm, |r| r
                .total_ms)
            .is_empty()
        );
    }

    #[test]
    fn a_selection_keeps_each_images_baseline() {
        let target = |image: &str, variant: &str, kind| Target {
            image: image.into(),
            reference: format!("r:{image}"),
            variants: vec![variant.into()],
            kind,
        };
        let targets = vec![
            target("none.console", "none", AppKind::Console),
            target("none.webapi", "none", AppKind::Webapi),
            target("aspnet.webapi", "aspnet", AppKind::Webapi),
            target("runtime.console", "runtime", AppKind::Console),
        ];
        let variants: Vec<String> = ["none", "runtime", "aspnet"].map(String::from).to_vec();
        let names = |only: &[&str]| -> Vec<String> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(targets.clone(), &variants, &only)
                .unwrap()
                .into_iter()
                .map(|t| t.image)
                .collect()
        };
        assert_eq!(names(&["aspnet.webapi"]), ["none.webapi", "aspnet.webapi"]);
        assert_eq!(names(&[]).len(), 4);
        let error = select(targets.clone(), &variants, &["nope".into()]).unwrap_err();
        assert!(
            error.to_string().contains("none.console, none.webapi"),
            "{error}"
        );
        assert_eq!(
            baseline_index(&targets, &[], AppKind::Webapi),
            Some(1),
            "without variants: the first of the app"
        );
    }

    /// Counters are prepared before the container is created, read before it is removed
    /// (every app, not only the web API), and released after; an engine that cannot count
    /// leaves the columns empty.
    #[tokio::test]
    async fn every_run_reads_its_counters_before_removal_and_releases_them_after() {
        use crate::engine::fake::{FakeEngine, Script};
        let engine = FakeEngine::new();
        engine.add_image("r:counted", BTreeMap::new(), &[("app", b"x")]);
        engine.add_image("r:plain", BTreeMap::new(), &[("app", b"x")]);
        let console = |counters| Script {
            stdout: vec![
                "r2r-main-ns=1".into(),
                "r2r-console-ok jit_methods=3".into(),
                "r2r-ready-ns=2".into(),
            ],
            counters,
            ..Default::default()
        };
        let counted = ResourceCounters {
            read_bytes: Some(31_457_280),
            major_faults: Some(27),
            peak_memory_bytes: Some(41_099_264),
        };
        engine.script("r:counted", console(Some(counted)));
        engine.script("r:plain", console(None));
        let target = |reference: &str| Target {
            image: reference.replace("r:", ""),
            reference: reference.into(),
            variants: vec!["v".into()],
            kind: AppKind::Console,
        };
        let options = StartupOptions {
            cpuset: Some("1".into()),
            ..Default::default()
        };
        let record = run_once(&engine, "s", &target("r:counted"), Cache::Warm, &options).await;
        assert!(record.ok, "{record:?}");
        assert_eq!(
            (
                record.read_bytes,
                record.major_faults,
                record.peak_memory_bytes
            ),
            (Some(31_457_280), Some(27), Some(41_099_264))
        );
        let calls = engine.calls();
        let position = |prefix: &str| {
            calls
                .iter()
                .position(|call| call.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {calls:?}"))
        };
        assert!(position("prepare_counters r:counted") < position("create_container"));
        assert!(position("read_counters") < position("remove_container"));
        assert!(position("remove_container") < position("release_counters /r2r-"));
        let plain = run_once(&engine, "s", &target("r:plain"), Cache::Warm, &options).await;
        assert!(plain.ok, "{plain:?}");
        assert_eq!(
            (
                plain.read_bytes,
                plain.major_faults,
                plain.peak_memory_bytes
            ),
            (None, None, None)
        );
        // The spec carries the CPU placement.
        assert_eq!(
            container_spec("s", &target("r:plain"), &options).cpuset_cpus,
            Some("1".to_string())
        );
        assert!(engine.containers().is_empty(), "no container left behind");
    }

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
        let path = dir.path().join("startup-runs.csv");
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
