//! The statistics of recorded runs: per image, cache mode and phase ([`summarize`]), the
//! paired comparison of each image with its baseline ([`pair_statuses`]), the precision a
//! measurement reached ([`PrecisionReport`]), and the rows of `startup.csv`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::paired::{self, PairedEffect};
use crate::measure::startup::options::StartupOptions;
use crate::measure::startup::targets::{baseline_index, Target};
use crate::measure::stats::{self, Summary};
use crate::model::catalog::AppKind;
use crate::results::rows;
use crate::results::startup_runs::{Cache, RunRecord};
use crate::results::startup_summary::SummaryRow;

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

/// The start-up step's part of `summary.json` (its `startup` key): the settings that shaped
/// the measurement, every phase summary and the precision reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupSummary {
    /// Seed of the run order and of the bootstrap.
    pub seed: u64,
    /// Unrecorded runs of each target and cache mode first.
    pub warmup: usize,
    /// Recorded runs of each target and cache mode asked for, at least.
    pub min_runs: usize,
    /// Cache modes measured.
    pub caches: Vec<Cache>,
    /// Statistics per image, cache mode and phase.
    pub summaries: Vec<PhaseSummary>,
    /// The precision reached and why the measurement stopped.
    pub precision: PrecisionReport,
    /// Recorded runs that failed (count).
    pub failed_runs: usize,
    /// Images not measured, with the reason (not built).
    pub not_measured: Vec<String>,
    /// Images not timed: of a platform this machine only emulates.
    pub not_timed_emulated: Vec<String>,
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
        let Some(baseline) = baseline_index(targets, variants, &target.app).map(|i| &targets[i])
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
    let baseline_of = |app: &str| -> Option<&Target> {
        baseline_index(targets, variants, app).map(|i| &targets[i])
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
        let Some(baseline) = baseline_of(&target.app) else {
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

/// `startup.csv`: one row per image, cache mode and phase (the header also without rows).
pub fn summary_csv(summaries: &[PhaseSummary]) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<SummaryRow> = summaries.iter().map(SummaryRow::new).collect();
    rows::to_csv(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::startup_runs::sample_record as record;

    #[test]
    fn summaries_compare_with_the_first_variant() {
        let targets = vec![
            Target {
                image: "base.console".into(),
                reference: "r:b".into(),
                variants: vec!["base".into()],
                kind: AppKind::Console,
                app: "console".into(),
                launch: crate::model::app::Launch::sample(AppKind::Console),
            },
            Target {
                image: "fast.console".into(),
                reference: "r:f".into(),
                variants: vec!["fast".into()],
                kind: AppKind::Console,
                app: "console".into(),
                launch: crate::model::app::Launch::sample(AppKind::Console),
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
        // The ratio's uncertainty comes from the two series' standard errors (sd 10 and 5 of
        // three runs each): 0.08165 by hand (2 · √2 · 0.05 / √3); with standard deviations it
        // would be 0.1414. (stats.rs checks the formula against simulated ratios.)
        assert!(
            (fast_total.times_faster_error - 0.081_650).abs() < 1e-6,
            "{}",
            fast_total.times_faster_error
        );
        assert_eq!(fast_total.baseline_runs, 3);
        // The file reads back into the type that wrote it.
        let dir = tempfile::tempdir().unwrap();
        let run = crate::results::RunDir::new(dir.path());
        std::fs::write(run.startup_csv(), &csv).unwrap();
        let rows: Vec<SummaryRow> = run.read_rows().unwrap().unwrap();
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
                app: "console".into(),
                launch: crate::model::app::Launch::sample(AppKind::Console),
            },
            Target {
                image: "fast.console".into(),
                reference: "r:f".into(),
                variants: vec!["fast".into()],
                kind: AppKind::Console,
                app: "console".into(),
                launch: crate::model::app::Launch::sample(AppKind::Console),
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
}
