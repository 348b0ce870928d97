//! The order of runs ([`Schedule`]: a pure function of the seed and the options) and the
//! measurement that follows it round after round until its minimum, precision or budget
//! ([`measure_until`]).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::engine::Engine;
use crate::measure::startup::options::StartupOptions;
use crate::measure::startup::run_once::run_once;
use crate::measure::startup::summary::{pair_statuses, Measured, PairStatus, StopReason};
use crate::measure::startup::targets::Target;
use crate::measure::stats::{self, SeededRandom};
use crate::results::startup_runs::{Cache, Priming, RunRecord};

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

/// What a start-up sink returns when it cannot keep a run (e.g. the disk is full).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
}
