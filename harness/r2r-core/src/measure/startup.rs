//! Container cold start, measured like a benchmark: a fresh container every run
//! (create -> start -> ready -> remove), phases timed separately, warm-up runs discarded, the
//! images interleaved in a seeded shuffled order so that drift hits all alike, and the page
//! cache dropped before every cold run.
//!
//! Ready means: the console app exited 0 with its line; the web API answered HTTP 200 on
//! 127.0.0.1 (host networking), after which one more request is timed (first request).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::containers;
use crate::engine::{ContainerSpec, Engine, Network};
use crate::inspect::verify::number_after;
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
    /// At the first HTTP 200 on 127.0.0.1 (polled every 2 ms).
    Http,
    /// When the app's ready line (`r2r-ready`) appears in its output (polled every 2 ms).
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

/// Settings of a startup measurement.
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
}

impl Default for StartupOptions {
    fn default() -> Self {
        StartupOptions {
            warmup: 1,
            min_runs: 10,
            min_duration: Duration::ZERO,
            caches: vec![Cache::Cold, Cache::Warm],
            seed: 1,
            ready_timeout: Duration::from_secs(30),
            readiness: Readiness::Http,
            memory_limit_bytes: 1 << 30,
        }
    }
}

/// One recorded run. Times in milliseconds.
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
    /// 1-based index of the run among this image's and cache mode's recorded runs.
    pub run: usize,
    /// Whether the run became ready.
    pub ok: bool,
    /// Time of the create call, ms.
    pub create_ms: Option<f64>,
    /// From the start call to ready (console: exit; web API: first HTTP 200), ms.
    pub start_to_ready_ms: Option<f64>,
    /// Latency of one request after ready (web API only), ms.
    pub first_request_ms: Option<f64>,
    /// The app's own time from process start to Main, ms.
    pub time_to_main_ms: Option<f64>,
    /// From the create call to ready, ms.
    pub total_ms: Option<f64>,
    /// Peak memory of the container (cgroup), bytes (web API only).
    pub peak_memory_bytes: Option<u64>,
    /// Time of removing the container, ms (what `docker run --rm` also waits for).
    pub remove_ms: Option<f64>,
    /// Why the run failed, with the log tail.
    pub error: String,
}

/// Reads one phase's time from a run.
pub type PhaseAccessor = fn(&RunRecord) -> Option<f64>;

/// The phases summarised, with their record accessors.
pub const PHASES: [(&str, PhaseAccessor); 6] = [
    ("total", |r| r.total_ms),
    ("create", |r| r.create_ms),
    ("start_to_ready", |r| r.start_to_ready_ms),
    ("first_request", |r| r.first_request_ms),
    ("time_to_main", |r| r.time_to_main_ms),
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
    /// Phase: `total`, `create`, `start_to_ready`, `first_request`, `time_to_main`.
    pub phase: String,
    /// Statistics, ms.
    pub summary: Summary,
    /// Failed runs of this image and cache mode.
    pub failures: usize,
    /// The baseline image the ratio is against (the first variant's image of the same app).
    pub baseline: String,
    /// How many times faster than the baseline (ratio of means).
    pub times_faster: f64,
    /// Uncertainty of `times_faster` (propagated standard deviations).
    pub times_faster_error: f64,
}

/// Receives progress.
pub trait StartupObserver: Send + Sync {
    /// The measurement starts: `total` recorded runs planned (more may come with a minimum time).
    fn started(&self, total: usize);
    /// One run finished (warm-up runs included when `recorded` is false).
    fn run_finished(&self, record: &RunRecord, recorded: bool);
}

/// The order of runs: `rounds` rounds, each running every (target, cache) pair once in an
/// order shuffled with the seeded generator.
pub fn schedule(pairs: usize, rounds: usize, random: &mut SeededRandom) -> Vec<usize> {
    let mut order = Vec::with_capacity(pairs * rounds);
    for _ in 0..rounds {
        let mut round: Vec<usize> = (0..pairs).collect();
        random.shuffle(&mut round);
        order.extend(round);
    }
    order
}

/// Drops the page cache (`sync`, then `3 > /proc/sys/vm/drop_caches`).
pub fn drop_page_cache() -> Result<(), String> {
    let status = std::process::Command::new("sync")
        .status()
        .map_err(|error| format!("running sync: {error}"))?;
    if !status.success() {
        return Err(format!("sync failed ({status})"));
    }
    std::fs::write("/proc/sys/vm/drop_caches", "3").map_err(|error| {
        format!("cold-cache runs need root: cannot write /proc/sys/vm/drop_caches ({error}); use --cache warm")
    })
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
            AppKind::Console => Network::None,
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
    }
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One run: create, start, ready, (first request), remove.
pub async fn run_once(
    engine: &dyn Engine,
    scenario: &str,
    target: &Target,
    cache: Cache,
    options: &StartupOptions,
) -> RunRecord {
    let mut record = RunRecord {
        image: target.image.clone(),
        variants: target.variants.join(";"),
        app: target.kind,
        cache,
        run: 0,
        ok: false,
        create_ms: None,
        start_to_ready_ms: None,
        first_request_ms: None,
        time_to_main_ms: None,
        total_ms: None,
        peak_memory_bytes: None,
        remove_ms: None,
        error: String::new(),
    };
    if cache == Cache::Cold {
        if let Err(error) = drop_page_cache() {
            record.error = error;
            return record;
        }
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
    let created = Instant::now();
    let id = match containers::create(engine, &spec).await {
        Ok(id) => id,
        Err(error) => {
            record.error = error.to_string();
            return record;
        }
    };
    record.create_ms = Some(milliseconds(created.elapsed()));
    let started = Instant::now();
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
                if code != 0 {
                    return Err(exit_reason(engine, &id, code, options.memory_limit_bytes).await);
                }
                Ok(None)
            }
            AppKind::Webapi => {
                match options.readiness {
                    Readiness::Http => {
                        probe::wait_for_ok(
                            port,
                            "/",
                            options.ready_timeout,
                            Duration::from_millis(2),
                        )
                        .await
                        .ok_or_else(|| format!("no HTTP 200 on 127.0.0.1:{port}"))?;
                    }
                    Readiness::LogLine => loop {
                        let logs = engine
                            .container_logs(&id, containers::LOG_CAP_BYTES)
                            .await
                            .map_err(|error| error.to_string())?;
                        if logs.stdout.contains("r2r-ready") {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    },
                }
                let ready_at = started.elapsed();
                let request = Instant::now();
                let response = probe::get(port, "/releases", Duration::from_secs(10))
                    .await
                    .map_err(|error| error.to_string())?;
                if response.status != 200 {
                    return Err(format!("/releases answered {}", response.status));
                }
                Ok(Some((ready_at, request.elapsed())))
            }
        }
    };
    let outcome = tokio::time::timeout(options.ready_timeout, ready).await;
    let ready_elapsed = started.elapsed();
    let total = created.elapsed();
    if target.kind == AppKind::Webapi {
        record.peak_memory_bytes = engine.peak_memory(&id).await.ok().flatten();
    }
    let logs = engine
        .container_logs(&id, containers::LOG_CAP_BYTES)
        .await
        .unwrap_or_default();
    let removing = Instant::now();
    containers::remove(engine, &id).await;
    record.remove_ms = Some(milliseconds(removing.elapsed()));
    let output = format!("{}{}", logs.stdout, logs.stderr);
    match outcome {
        Ok(Ok(web)) => {
            let (start_to_ready, first_request) = match web {
                Some((ready_at, request)) => (ready_at, Some(request)),
                None => (ready_elapsed, None),
            };
            let console_ok = target.kind != AppKind::Console || output.contains("r2r-console-ok");
            record.ok = console_ok;
            record.start_to_ready_ms = Some(milliseconds(start_to_ready));
            record.first_request_ms = first_request.map(milliseconds);
            record.total_ms = Some(record.create_ms.unwrap_or(0.0) + milliseconds(start_to_ready));
            record.time_to_main_ms = number_after(&output, "r2r-time-to-main-ms=");
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

/// Measures every target under every cache mode. `sink` receives each recorded run as it
/// finishes (so nothing is lost if the measurement is interrupted); an error from it stops the
/// measurement.
pub async fn measure(
    engine: &dyn Engine,
    scenario: &str,
    targets: &[Target],
    options: &StartupOptions,
    observer: &dyn StartupObserver,
    sink: &mut (dyn FnMut(&RunRecord) -> Result<(), String> + Send),
    prior: Vec<RunRecord>,
) -> Result<Vec<RunRecord>, MeasureError> {
    let pairs: Vec<(usize, Cache)> = targets
        .iter()
        .enumerate()
        .flat_map(|(index, _)| options.caches.iter().map(move |cache| (index, *cache)))
        .collect();
    let mut random = SeededRandom::new(options.seed);
    // Runs recorded before an interruption count: a resumed measurement only adds what is missing.
    let mut counts: Vec<usize> = pairs
        .iter()
        .map(|(target, cache)| {
            prior
                .iter()
                .filter(|r| r.image == targets[*target].image && r.cache == *cache)
                .map(|r| r.run)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let missing: usize = counts
        .iter()
        .map(|count| options.min_runs.saturating_sub(*count))
        .sum();
    let mut records = prior;
    if missing == 0 && !counts.is_empty() {
        return Ok(records);
    }
    // A failed run is a measurement (the app failed) unless the engine itself is gone: then the
    // run says nothing about the app, is not recorded, and the measurement stops.
    observer.started(missing);
    // Warm-up: every pair, in a shuffled order, not recorded.
    for pair in schedule(pairs.len(), options.warmup, &mut random) {
        let (target, cache) = pairs[pair];
        let record = run_once(engine, scenario, &targets[target], cache, options).await;
        if !record.ok {
            if let Some(lost) = engine_lost(engine, records.len()).await {
                return Err(lost);
            }
        }
        observer.run_finished(&record, false);
    }
    let started = Instant::now();
    let mut cold_unavailable = false;
    loop {
        for pair in schedule(pairs.len(), 1, &mut random) {
            let (target, cache) = pairs[pair];
            if cache == Cache::Cold && cold_unavailable
                || counts[pair] >= options.min_runs && started.elapsed() >= options.min_duration
            {
                continue;
            }
            let mut record = run_once(engine, scenario, &targets[target], cache, options).await;
            if !record.ok {
                if let Some(lost) = engine_lost(engine, records.len()).await {
                    return Err(lost);
                }
            }
            if cache == Cache::Cold && record.error.contains("drop_caches") {
                cold_unavailable = true;
            }
            counts[pair] += 1;
            record.run = counts[pair];
            sink(&record).map_err(|reason| MeasureError::Sink {
                recorded: records.len(),
                reason,
            })?;
            observer.run_finished(&record, true);
            records.push(record);
        }
        let enough_runs = counts.iter().all(|count| *count >= options.min_runs);
        if (enough_runs && started.elapsed() >= options.min_duration)
            || cold_unavailable && options.caches == [Cache::Cold]
        {
            break;
        }
    }
    Ok(records)
}

/// Summarises recorded runs per image, cache mode and phase, with ratios against the
/// baseline image (the image of the same app in the first variant that has one).
pub fn summarize(
    records: &[RunRecord],
    targets: &[Target],
    variants: &[String],
    seed: u64,
) -> Vec<PhaseSummary> {
    let mut summaries = Vec::new();
    let baseline_of = |kind: AppKind| -> Option<&Target> {
        variants.iter().find_map(|variant| {
            targets
                .iter()
                .find(|t| t.kind == kind && t.variants.contains(variant))
        })
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
            for (phase, accessor) in PHASES {
                let Some(summary) = stats::summarize(&series(&target.image, cache, accessor), seed)
                else {
                    continue;
                };
                let (ratio, error) =
                    match stats::summarize(&series(&baseline.image, cache, accessor), seed) {
                        Some(base) => stats::times_faster(&base, &summary),
                        None => (f64::NAN, f64::NAN),
                    };
                summaries.push(PhaseSummary {
                    image: target.image.clone(),
                    variants: target.variants.join(";"),
                    app: target.kind,
                    cache,
                    phase: phase.to_string(),
                    summary,
                    failures,
                    baseline: baseline.image.clone(),
                    times_faster: ratio,
                    times_faster_error: error,
                });
            }
        }
    }
    summaries
}

/// The CSV header of `startup-runs.csv`.
pub const RUNS_HEADER: [&str; 14] = [
    "image",
    "variants",
    "app",
    "cache",
    "run",
    "ok",
    "create_ms",
    "start_to_ready_ms",
    "first_request_ms",
    "time_to_main_ms",
    "total_ms",
    "peak_memory_bytes",
    "remove_ms",
    "error",
];

fn optional(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.3}")).unwrap_or_default()
}

/// Reads recorded runs back from a `startup-runs.csv` (to resume a measurement); `Ok(empty)`
/// when the file does not exist.
pub fn read_runs(
    path: &std::path::Path,
) -> Result<Vec<RunRecord>, crate::results::run_data::RunDataError> {
    Ok(crate::results::run_data::read_csv(path, &RUNS_HEADER)?.unwrap_or_default())
}

/// One `startup-runs.csv` row.
pub fn run_row(record: &RunRecord) -> Vec<String> {
    vec![
        record.image.clone(),
        record.variants.clone(),
        record.app.name().to_string(),
        record.cache.name().to_string(),
        record.run.to_string(),
        record.ok.to_string(),
        optional(record.create_ms),
        optional(record.start_to_ready_ms),
        optional(record.first_request_ms),
        optional(record.time_to_main_ms),
        optional(record.total_ms),
        record
            .peak_memory_bytes
            .map(|b| b.to_string())
            .unwrap_or_default(),
        optional(record.remove_ms),
        record.error.clone(),
    ]
}

/// `startup.csv`: one row per image, cache mode and phase.
pub fn summary_csv(summaries: &[PhaseSummary]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "image",
        "variants",
        "app",
        "cache",
        "phase",
        "runs",
        "failures",
        "mean_ms",
        "stddev_ms",
        "median_ms",
        "min_ms",
        "max_ms",
        "p95_ms",
        "ci95_low_ms",
        "ci95_high_ms",
        "outliers",
        "baseline",
        "times_faster",
        "times_faster_error",
    ])?;
    for s in summaries {
        let m = &s.summary;
        writer.write_record([
            s.image.clone(),
            s.variants.clone(),
            s.app.name().to_string(),
            s.cache.name().to_string(),
            s.phase.clone(),
            m.count.to_string(),
            s.failures.to_string(),
            format!("{:.3}", m.mean),
            format!("{:.3}", m.standard_deviation),
            format!("{:.3}", m.median),
            format!("{:.3}", m.min),
            format!("{:.3}", m.max),
            format!("{:.3}", m.p95),
            format!("{:.3}", m.ci95_low),
            format!("{:.3}", m.ci95_high),
            m.outliers.len().to_string(),
            s.baseline.clone(),
            format!("{:.4}", s.times_faster),
            format!("{:.4}", s.times_faster_error),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_interleaved_order() {
        let a = schedule(6, 3, &mut SeededRandom::new(11));
        let b = schedule(6, 3, &mut SeededRandom::new(11));
        let c = schedule(6, 3, &mut SeededRandom::new(12));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Every round runs every pair exactly once.
        for round in a.chunks(6) {
            let mut sorted = round.to_vec();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
        }
    }

    fn record(image: &str, cache: Cache, total: f64, ok: bool) -> RunRecord {
        RunRecord {
            image: image.into(),
            variants: image.into(),
            app: AppKind::Console,
            cache,
            run: 1,
            ok,
            create_ms: Some(10.0),
            start_to_ready_ms: Some(total - 10.0),
            first_request_ms: None,
            time_to_main_ms: Some(total / 2.0),
            total_ms: Some(total),
            peak_memory_bytes: None,
            remove_ms: Some(20.0),
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
        assert!((fast_total.times_faster - 2.0).abs() < 1e-9);
        assert!(
            summaries.iter().all(|s| s.phase != "first_request"),
            "console apps have no first request"
        );
        let csv = String::from_utf8(summary_csv(&summaries).unwrap()).unwrap();
        assert!(csv.starts_with("image,variants,app,cache,phase,runs,failures,mean_ms"));
        assert!(
            csv.contains("fast.console,fast,console,warm,total,3,1,100.000"),
            "{csv}"
        );
    }
}
