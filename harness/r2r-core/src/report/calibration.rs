//! Calibration of the paired start-up comparison from recorded A/A rounds: an image compared
//! with its own baseline copy, where the true ratio is 1.00. Every `compare --paired-runs` of
//! unchanged images records such rounds (`compare-startup-runs.csv`, the baseline's image as
//! `<image>@baseline`); the nightly A/A (`scripts/calibrate-nightly.sh`) makes many of them.
//!
//! From the recorded rounds of each image and cache mode, [`calibrate`] draws resamples of a
//! fixed number of rounds (without replacement), computes the paired interval of each exactly
//! as a comparison does ([`crate::measure::paired::compare`]) and counts how many contain
//! 1.00: the interval's coverage, with its own 95% Wilson interval. A 95% interval should cover
//! about 95% of the time; far less means its verdicts come too easily. No container is started.
//!
//! The resamples treat the recorded rounds as exchangeable: they draw rounds of different
//! nights into one resample, which breaks up whatever the rounds of one night share. Each
//! comparison as recorded is also tested on its own (`comparisons_covered`), which keeps that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::measure::paired::{self, ALPHA};
use crate::measure::startup::{Cache, RunRecord};
use crate::measure::stats::{stream_seed, wilson_interval, SeededRandom};
use crate::report::compare::paired_rounds;
use crate::results::calibration::CoverageRow;
use crate::results::csv_rows::Fixed;

/// The suffix of a baseline's copy of an image in a paired comparison's runs.
pub const BASELINE_SUFFIX: &str = "@baseline";

/// The fewest resamples a calibration draws: below this its own interval is too wide to tell
/// 95% from 90%.
pub const MIN_RESAMPLES: usize = 200;

/// How to resample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationSettings {
    /// Rounds in each resample (the nightly's `--paired-runs`).
    pub rounds: usize,
    /// Resamples per image and cache mode (at least [`MIN_RESAMPLES`]).
    pub resamples: usize,
    /// Fixes every draw and every bootstrap.
    pub seed: u64,
}

/// The A/A rounds of one comparison: its name (where it was read) and its recorded runs.
#[derive(Debug, Clone)]
pub struct RecordedComparison {
    /// Where the runs were read (a path, for messages).
    pub source: String,
    /// The runs of `compare-startup-runs.csv`.
    pub records: Vec<RunRecord>,
}

/// Why a calibration cannot be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalibrationError {
    /// Too few resamples asked for.
    #[error("--resamples {0}: give at least {MIN_RESAMPLES}")]
    TooFewResamples(usize),
    /// A resample needs at least 2 rounds.
    #[error("--rounds {0}: give at least 2")]
    TooFewRounds(usize),
    /// No image was compared with a baseline copy in any of the files.
    #[error("no A/A rounds found (no image beside its `{BASELINE_SUFFIX}` copy) in {0} file(s)")]
    NoRounds(usize),
    /// A directory or file could not be read.
    #[error("reading {path}: {message}")]
    Read {
        /// The directory or file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Fewer rounds recorded than one resample takes.
    #[error(
        "{image} ({cache}): {recorded} round(s) recorded, fewer than the {rounds} a resample takes"
    )]
    NotEnoughRounds {
        /// Plan id of the image.
        image: String,
        /// Cache mode.
        cache: String,
        /// Rounds recorded.
        recorded: usize,
        /// Rounds a resample takes.
        rounds: usize,
    },
}

/// The `compare-startup-runs.csv` files in `directory` and below (a results root, a scenario
/// folder or one run), in path order.
pub fn find_recorded(directory: &Path) -> std::io::Result<Vec<PathBuf>> {
    let name = crate::results::compare_files::STARTUP_RUNS;
    let mut found = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.file_name() == name {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The recorded comparisons under `directories` ([`find_recorded`]), each read whole.
pub fn read_recorded(directories: &[PathBuf]) -> Result<Vec<RecordedComparison>, CalibrationError> {
    let failed = |path: &Path, message: String| CalibrationError::Read {
        path: path.display().to_string(),
        message,
    };
    let mut recorded = Vec::new();
    for directory in directories {
        for file in find_recorded(directory).map_err(|e| failed(directory, e.to_string()))? {
            let records = crate::results::startup_runs::read_runs(&file)
                .map_err(|e| failed(&file, e.to_string()))?;
            let source = file.display().to_string();
            recorded.push(RecordedComparison { source, records });
        }
    }
    Ok(recorded)
}

/// `(baseline, candidate)` times, ms, of each A/A round per (image, cache mode), and the
/// sources they came from: `(image, cache) -> [(comparison index, pairs)]`.
type Recorded = BTreeMap<(String, Cache), Vec<(usize, Vec<(f64, f64)>)>>;

fn recorded_pairs(comparisons: &[RecordedComparison]) -> Recorded {
    let mut cells: Recorded = BTreeMap::new();
    for (index, comparison) in comparisons.iter().enumerate() {
        let mut keys: Vec<(String, Cache)> = comparison
            .records
            .iter()
            .filter_map(|r| Some((r.image.strip_suffix(BASELINE_SUFFIX)?.to_string(), r.cache)))
            .collect();
        keys.sort();
        keys.dedup();
        for (image, cache) in keys {
            let baseline = format!("{image}{BASELINE_SUFFIX}");
            let pairs = paired_rounds(&comparison.records, &baseline, &image, cache);
            if !pairs.is_empty() {
                cells
                    .entry((image, cache))
                    .or_default()
                    .push((index, pairs));
            }
        }
    }
    cells
}

/// Tallies of one image and cache mode, or of all.
#[derive(Default)]
struct Tally {
    recorded: usize,
    comparisons: usize,
    resamples: usize,
    covered: usize,
    rejected: usize,
    comparisons_tested: usize,
    comparisons_covered: usize,
    log_sum: f64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.recorded += other.recorded;
        self.comparisons += other.comparisons;
        self.resamples += other.resamples;
        self.covered += other.covered;
        self.rejected += other.rejected;
        self.comparisons_tested += other.comparisons_tested;
        self.comparisons_covered += other.comparisons_covered;
        self.log_sum += other.log_sum;
    }

    fn row(&self, image: &str, cache: &str, rounds: usize) -> CoverageRow {
        let (low, high) = wilson_interval(self.covered, self.resamples);
        let mean_log = self.log_sum / self.recorded as f64;
        CoverageRow {
            image: image.to_string(),
            cache: cache.to_string(),
            recorded_rounds: self.recorded,
            comparisons: self.comparisons,
            rounds_per_resample: rounds,
            resamples: self.resamples,
            covered: self.covered,
            coverage: Fixed(Some(self.covered as f64 / self.resamples as f64)),
            coverage_low: Fixed(Some(low)),
            coverage_high: Fixed(Some(high)),
            rank_test_rejected: self.rejected,
            comparisons_covered: self.comparisons_covered,
            comparisons_tested: self.comparisons_tested,
            pooled_change_percent: Fixed(Some((mean_log.exp() - 1.0) * 100.0)),
        }
    }
}

fn covers_one(effect: &paired::PairedEffect) -> bool {
    effect.ci95_low <= 1.0 && 1.0 <= effect.ci95_high
}

/// The coverage of the paired 95% interval in the A/A rounds of `comparisons`: one row per
/// image and cache mode, then one `all` row over every resample.
pub fn calibrate(
    comparisons: &[RecordedComparison],
    settings: CalibrationSettings,
) -> Result<Vec<CoverageRow>, CalibrationError> {
    if settings.resamples < MIN_RESAMPLES {
        return Err(CalibrationError::TooFewResamples(settings.resamples));
    }
    if settings.rounds < 2 {
        return Err(CalibrationError::TooFewRounds(settings.rounds));
    }
    let cells = recorded_pairs(comparisons);
    if cells.is_empty() {
        return Err(CalibrationError::NoRounds(comparisons.len()));
    }
    let mut rows = Vec::new();
    let mut all = Tally::default();
    for ((image, cache), sources) in &cells {
        let pool: Vec<(f64, f64)> = sources
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if pool.len() < settings.rounds {
            return Err(CalibrationError::NotEnoughRounds {
                image: image.clone(),
                cache: cache.to_string(),
                recorded: pool.len(),
                rounds: settings.rounds,
            });
        }
        let mut tally = Tally {
            recorded: pool.len(),
            comparisons: sources.len(),
            log_sum: pool.iter().map(|(b, c)| (c / b).ln()).sum(),
            ..Tally::default()
        };
        let mut random = SeededRandom::new(stream_seed(settings.seed, &[image, cache.name()]));
        let mut order: Vec<usize> = (0..pool.len()).collect();
        for _ in 0..settings.resamples {
            // A partial Fisher-Yates shuffle: the first `rounds` indices are a draw without
            // replacement.
            for slot in 0..settings.rounds {
                let other = slot + random.below(order.len() - slot);
                order.swap(slot, other);
            }
            let pairs: Vec<(f64, f64)> =
                order[..settings.rounds].iter().map(|i| pool[*i]).collect();
            let effect = paired::compare(&pairs, random.next_u64());
            tally.resamples += 1;
            tally.covered += usize::from(covers_one(&effect));
            tally.rejected += usize::from(effect.p_value < ALPHA);
        }
        for (index, pairs) in sources {
            if pairs.len() < 2 {
                continue;
            }
            let seed = stream_seed(settings.seed, &[image, cache.name(), &index.to_string()]);
            tally.comparisons_tested += 1;
            tally.comparisons_covered += usize::from(covers_one(&paired::compare(pairs, seed)));
        }
        rows.push(tally.row(image, cache.name(), settings.rounds));
        all.add(&tally);
    }
    rows.push(all.row("all", "all", settings.rounds));
    Ok(rows)
}

/// Whether the pooled coverage (the last row, `all`) is not demonstrably below `minimum`: the
/// upper end of its interval reaches it.
pub fn meets(rows: &[CoverageRow], minimum: f64) -> bool {
    rows.last()
        .and_then(|row| row.coverage_high.0)
        .unwrap_or(0.0)
        >= minimum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::AppKind;

    fn record(image: &str, cache: Cache, round: usize, total: f64) -> RunRecord {
        RunRecord {
            round,
            total_ms: Some(total),
            ok: true,
            ..RunRecord::new(image, &[], AppKind::Console, cache)
        }
    }

    /// Rounds of an image beside its baseline copy: each round's machine state (a drift) is
    /// shared by both, each run has noise of its own, and the candidate is `factor` times the
    /// baseline.
    fn comparison(image: &str, rounds: usize, factor: f64, seed: u64) -> RecordedComparison {
        let mut random = SeededRandom::new(seed);
        let mut noise =
            || 1.0 + 0.08 * ((random.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
        let mut records = Vec::new();
        for round in 1..=rounds {
            let drift = 300.0 * (1.0 + 0.2 * (round as f64 * 0.9).sin());
            let baseline = format!("{image}{BASELINE_SUFFIX}");
            records.push(record(&baseline, Cache::Warm, round, drift * noise()));
            records.push(record(image, Cache::Warm, round, drift * factor * noise()));
        }
        RecordedComparison {
            source: format!("{image}-{seed}"),
            records,
        }
    }

    fn settings() -> CalibrationSettings {
        CalibrationSettings {
            rounds: 12,
            resamples: 400,
            seed: 5,
        }
    }

    #[test]
    fn unchanged_images_are_covered_about_95_percent_of_the_time() {
        let recorded: Vec<_> = (1..=10).map(|s| comparison("a", 24, 1.0, s)).collect();
        let rows = calibrate(&recorded, settings()).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let a = &rows[0];
        assert_eq!(
            (a.image.as_str(), a.recorded_rounds, a.comparisons),
            ("a", 240, 10)
        );
        let coverage = a.coverage.0.unwrap();
        // The bootstrap-t interval at 12 rounds of uniform noise: near its nominal 95%.
        assert!((0.90..=0.99).contains(&coverage), "coverage {coverage}");
        assert!(a.coverage_low.0.unwrap() < coverage && coverage < a.coverage_high.0.unwrap());
        assert_eq!(rows[1].resamples, 400);
    }

    #[test]
    fn a_real_change_is_not_covered() {
        // 4% slower with about 2.3% noise per run: 1.00 lies outside nearly every interval,
        // so a calibration that did not test the intervals against 1.00 would fail here.
        let recorded: Vec<_> = (1..=10).map(|s| comparison("a", 24, 1.04, s)).collect();
        let rows = calibrate(&recorded, settings()).unwrap();
        assert!(rows[0].coverage.0.unwrap() < 0.2, "{:?}", rows[0]);
        assert!(rows[0].rank_test_rejected > 300, "{:?}", rows[0]);
        let change = rows[0].pooled_change_percent.0.unwrap();
        assert!((3.0..5.0).contains(&change), "pooled change {change}");
    }

    #[test]
    fn the_same_seed_gives_the_same_coverage_and_another_seed_its_own_draws() {
        let recorded: Vec<_> = (1..=6).map(|s| comparison("a", 20, 1.0, s)).collect();
        let first = calibrate(&recorded, settings()).unwrap();
        assert_eq!(first, calibrate(&recorded, settings()).unwrap());
        let other = CalibrationSettings {
            seed: 6,
            ..settings()
        };
        let second = calibrate(&recorded, other).unwrap();
        assert_eq!(first[0].recorded_rounds, second[0].recorded_rounds);
    }

    #[test]
    fn too_little_to_calibrate_is_an_error_that_says_what() {
        let recorded = vec![comparison("a", 8, 1.0, 1)];
        let few = CalibrationSettings {
            resamples: 50,
            ..settings()
        };
        assert_eq!(
            calibrate(&recorded, few),
            Err(CalibrationError::TooFewResamples(50))
        );
        let error = calibrate(&recorded, settings()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a (warm): 8 round(s) recorded, fewer than the 12 a resample takes"
        );
        let plain = RecordedComparison {
            source: "x".into(),
            records: vec![record("a", Cache::Warm, 1, 300.0)],
        };
        assert_eq!(
            calibrate(&[plain], settings()),
            Err(CalibrationError::NoRounds(1))
        );
    }
}
