//! Paired comparisons of start-up times: an image against its baseline, round by round.
//!
//! r2r runs every image once per round, in a shuffled order, so the runs of one round share
//! the machine's state of that moment (its load, its clock speed, what else ran). Comparing
//! the two series as if they came from different days throws that away; comparing them
//! round by round cancels most of a shared machine's drift. Per round the ratio
//! `baseline / candidate` is taken (above 1: the candidate is faster), and the effect is the
//! geometric mean of those ratios, with:
//!
//! - a 95% studentized (bootstrap-t) interval over rounds, resampling whole rounds (so the
//!   pairing is kept), from a random stream of its own per comparison; below
//!   [`MIN_BOOTSTRAP_ROUNDS`] rounds, Student's t interval of the log ratios instead (the
//!   bootstrap has too few distinct resamples there: at 2 rounds every studentized resample
//!   is 0 and its interval has no width at all);
//! - Wilcoxon's signed-rank test of the log ratios against zero (exact for up to
//!   [`EXACT_WILCOXON_MAX`] rounds without ties, the normal approximation with the tie
//!   correction beyond);
//! - the minimal detectable effect: the smallest speed-up a paired t-test at the 5% level
//!   would find with 80% power, for the spread of the log ratios and the rounds taken.
//!
//! Everything here is a pure function of the numbers it is given.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::measure::stats::{bootstrap_t_interval, student_t_interval, SeededRandom};

/// Up to this many non-zero pairs without ties, the signed-rank test's p-value is exact.
pub const EXACT_WILCOXON_MAX: usize = 60;

/// From this many rounds on, the interval is the bootstrap-t one; below, Student's t.
pub const MIN_BOOTSTRAP_ROUNDS: usize = 6;

/// The fewest rounds after which an interval can count as resolved to a precision, whatever
/// `--runs` says: a precision loop never stops on fewer.
pub const MIN_RESOLVED_ROUNDS: usize = 10;

/// The significance level of the verdict and of the detectable effect.
pub const ALPHA: f64 = 0.05;

/// The power the minimal detectable effect is computed for.
pub const POWER: f64 = 0.8;

/// What a paired comparison says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The candidate is faster: the whole interval lies above 1.
    Faster,
    /// The candidate is slower: the whole interval lies below 1.
    Slower,
    /// The interval contains 1: no difference resolved at this precision.
    NoDifference,
    /// Too few rounds (fewer than 2) to say anything.
    TooFewRounds,
}

/// The effect of a candidate image against its baseline over paired rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedEffect {
    /// Rounds with a value for both images (n of every figure below).
    pub rounds: usize,
    /// Geometric mean over rounds of `baseline / candidate`, times (above 1: the candidate is
    /// faster).
    pub speedup: f64,
    /// Lower end of the 95% interval of `speedup` (studentized bootstrap; Student's t below
    /// [`MIN_BOOTSTRAP_ROUNDS`] rounds), times.
    pub ci95_low: f64,
    /// Upper end of the 95% interval of `speedup` (as `ci95_low`), times.
    pub ci95_high: f64,
    /// Half the interval's width relative to `speedup`, as a fraction (0.03 = ±3%): the
    /// precision reached.
    pub half_width: f64,
    /// Two-sided p-value of Wilcoxon's signed-rank test of the log ratios against 0.
    pub p_value: f64,
    /// The smallest effect a paired test at the 5% level detects with 80% power for this
    /// spread and these rounds, as a fraction (0.04 = 4%); `None` with fewer than 2 rounds.
    pub minimal_detectable: Option<f64>,
    /// What the interval says.
    pub verdict: Verdict,
}

impl PairedEffect {
    /// One line for people: "1.06× faster (95% CI 1.03–1.09, n = 30)", or "no difference
    /// resolved (±4.0%, n = 10)".
    pub fn describe(&self) -> String {
        match self.verdict {
            Verdict::TooFewRounds => format!("too few rounds to compare (n = {})", self.rounds),
            Verdict::NoDifference => format!(
                "no difference resolved (±{:.1}%, n = {})",
                self.half_width * 100.0,
                self.rounds
            ),
            Verdict::Faster => format!(
                "{:.3}× faster (95% CI {:.3}–{:.3}, n = {})",
                self.speedup, self.ci95_low, self.ci95_high, self.rounds
            ),
            Verdict::Slower => format!(
                "{:.3}× slower (95% CI {:.3}–{:.3}, n = {})",
                1.0 / self.speedup,
                1.0 / self.ci95_high,
                1.0 / self.ci95_low,
                self.rounds
            ),
        }
    }

    /// Whether the interval is within `precision` (a fraction: 0.02 = ±2%): from
    /// [`MIN_RESOLVED_ROUNDS`] rounds on, and never an interval of no width (rounds that did
    /// not vary at all say nothing of how much they could).
    pub fn resolved_to(&self, precision: f64) -> bool {
        self.verdict != Verdict::TooFewRounds
            && self.rounds >= MIN_RESOLVED_ROUNDS
            && self.half_width > 0.0
            && self.half_width <= precision
    }
}

/// Compares paired values: `pairs` holds `(baseline, candidate)` of one round each (times,
/// any unit, both positive). `seed` fixes the bootstrap: give each comparison its own
/// ([`crate::measure::stats::stream_seed`]).
pub fn compare(pairs: &[(f64, f64)], seed: u64) -> PairedEffect {
    let logs: Vec<f64> = pairs
        .iter()
        .filter(|(baseline, candidate)| *baseline > 0.0 && *candidate > 0.0)
        .map(|(baseline, candidate)| (baseline / candidate).ln())
        .collect();
    let rounds = logs.len();
    if rounds < 2 {
        let speedup = logs.first().map_or(f64::NAN, |log| log.exp());
        return PairedEffect {
            rounds,
            speedup,
            ci95_low: f64::NAN,
            ci95_high: f64::NAN,
            half_width: f64::INFINITY,
            p_value: 1.0,
            minimal_detectable: None,
            verdict: Verdict::TooFewRounds,
        };
    }
    let center = logs.iter().sum::<f64>() / rounds as f64;
    let (low, high) = if rounds >= MIN_BOOTSTRAP_ROUNDS {
        bootstrap_t_interval(&logs, &mut SeededRandom::new(seed))
    } else {
        student_t_interval(&logs)
    };
    let (ci95_low, ci95_high) = (low.exp(), high.exp());
    let speedup = center.exp();
    let verdict = if ci95_low > 1.0 {
        Verdict::Faster
    } else if ci95_high < 1.0 {
        Verdict::Slower
    } else {
        Verdict::NoDifference
    };
    PairedEffect {
        rounds,
        speedup,
        ci95_low,
        ci95_high,
        half_width: (ci95_high - ci95_low) / 2.0 / speedup,
        p_value: wilcoxon_signed_rank(&logs),
        minimal_detectable: minimal_detectable_effect(&logs),
        verdict,
    }
}

/// Two-sided p-value of Wilcoxon's signed-rank test that `differences` are centred on 0.
/// Zeros are dropped (Wilcoxon's rule); ties get average ranks. Exact without ties for up to
/// [`EXACT_WILCOXON_MAX`] values, otherwise the normal approximation with the tie correction
/// and a continuity correction.
pub fn wilcoxon_signed_rank(differences: &[f64]) -> f64 {
    let mut values: Vec<f64> = differences.iter().copied().filter(|d| *d != 0.0).collect();
    let count = values.len();
    if count == 0 {
        return 1.0;
    }
    values.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks of |d|, and the tie groups' sizes.
    let mut ranks = vec![0.0; count];
    let mut tie_sizes = Vec::new();
    let mut start = 0;
    while start < count {
        let mut end = start + 1;
        while end < count && values[end].abs() == values[start].abs() {
            end += 1;
        }
        let average = (start + 1 + end) as f64 / 2.0;
        ranks[start..end]
            .iter_mut()
            .for_each(|rank| *rank = average);
        if end - start > 1 {
            tie_sizes.push((end - start) as f64);
        }
        start = end;
    }
    let positive: f64 = values
        .iter()
        .zip(&ranks)
        .filter(|(value, _)| **value > 0.0)
        .map(|(_, rank)| rank)
        .sum();
    let n = count as f64;
    let total = n * (n + 1.0) / 2.0;
    if tie_sizes.is_empty() && count <= EXACT_WILCOXON_MAX {
        // counts[w]: subsets of {1..n} whose ranks sum to w.
        let max = count * (count + 1) / 2;
        let mut counts = vec![0.0f64; max + 1];
        counts[0] = 1.0;
        for rank in 1..=count {
            for w in (rank..=max).rev() {
                counts[w] += counts[w - rank];
            }
        }
        let all = 2f64.powi(count as i32);
        let statistic = positive.min(total - positive).round() as usize;
        let tail: f64 = counts[..=statistic].iter().sum::<f64>() / all;
        return (2.0 * tail).min(1.0);
    }
    let mean = total / 2.0;
    let ties: f64 = tie_sizes.iter().map(|t| t * t * t - t).sum();
    let variance = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ties / 48.0;
    if variance <= 0.0 {
        return 1.0;
    }
    let z = ((positive - mean).abs() - 0.5).max(0.0) / variance.sqrt();
    (2.0 * (1.0 - Normal::standard().cdf(z))).min(1.0)
}

/// The smallest relative effect (a fraction) a two-sided paired t-test at [`ALPHA`] finds
/// with [`POWER`] for log ratios of this spread and count; `None` below 2 values.
pub fn minimal_detectable_effect(logs: &[f64]) -> Option<f64> {
    let count = logs.len();
    if count < 2 {
        return None;
    }
    let n = count as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let deviation = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).ok()?;
    let shift = (t.inverse_cdf(1.0 - ALPHA / 2.0) + t.inverse_cdf(POWER)) * deviation / n.sqrt();
    Some(shift.exp() - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-normal noise around `level` from a seeded stream (Box–Muller).
    fn noisy(random: &mut SeededRandom, level: f64, spread: f64) -> f64 {
        let u1 = ((random.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        level * (spread * z).exp()
    }

    /// Rounds where a shared drift moves both images, and the candidate is `effect` times
    /// faster.
    fn rounds(random: &mut SeededRandom, count: usize, effect: f64) -> Vec<(f64, f64)> {
        (0..count)
            .map(|_| {
                let drift = noisy(random, 1.0, 0.15);
                let baseline = noisy(random, 300.0 * drift, 0.03);
                let candidate = noisy(random, 300.0 * drift / effect, 0.03);
                (baseline, candidate)
            })
            .collect()
    }

    #[test]
    fn a_known_effect_is_found_and_covered() {
        let mut random = SeededRandom::new(7);
        let effect = compare(&rounds(&mut random, 30, 1.06), 1);
        assert_eq!(effect.verdict, Verdict::Faster, "{effect:?}");
        assert!(
            effect.ci95_low < 1.06 && 1.06 < effect.ci95_high,
            "{effect:?}"
        );
        assert!(effect.p_value < 0.01, "{effect:?}");
        assert!(
            effect.half_width < 0.03,
            "the drift cancels in pairs: {effect:?}"
        );
        assert!(
            effect.describe().starts_with("1.0"),
            "{}",
            effect.describe()
        );
        assert!(effect.describe().contains("n = 30"));
        // The same effect the other way round is a slowdown of the same size.
        let swapped: Vec<(f64, f64)> = rounds(&mut SeededRandom::new(7), 30, 1.06)
            .iter()
            .map(|(a, b)| (*b, *a))
            .collect();
        let slower = compare(&swapped, 1);
        assert_eq!(slower.verdict, Verdict::Slower);
        assert!((slower.speedup * effect.speedup - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_image_against_itself_is_exactly_one() {
        let pairs: Vec<(f64, f64)> = [300.0, 310.0, 290.0, 305.0]
            .iter()
            .map(|x| (*x, *x))
            .collect();
        let effect = compare(&pairs, 1);
        assert_eq!(
            (effect.speedup, effect.ci95_low, effect.ci95_high),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(effect.p_value, 1.0);
        assert_eq!(effect.verdict, Verdict::NoDifference);
        // An interval of no width is no precision: never resolved, however many rounds.
        let many: Vec<(f64, f64)> = (0..40)
            .map(|i| (300.0 + i as f64, 300.0 + i as f64))
            .collect();
        let effect = compare(&many, 1);
        assert_eq!(effect.half_width, 0.0);
        assert!(!effect.resolved_to(0.5));
    }

    #[test]
    fn fewer_than_ten_rounds_never_resolve_however_narrow() {
        // Nine rounds 10% apart within 0.01%: a narrow interval, but too few rounds to stop on.
        let pairs: Vec<(f64, f64)> = (0..12)
            .map(|i| (330.0 + 0.01 * i as f64, 300.0 + 0.01 * (i % 3) as f64))
            .collect();
        assert!(compare(&pairs[..9], 1).half_width < 0.01);
        assert!(!compare(&pairs[..9], 1).resolved_to(0.05));
        assert!(compare(&pairs[..10], 1).resolved_to(0.05));
    }

    #[test]
    fn no_effect_is_rarely_called_significant_and_the_interval_keeps_its_coverage() {
        // 1000 simulated comparisons of 12 rounds each. With a true coverage of 95%, the
        // number of intervals missing 1.0 is binomial(1000, 0.05): mean 50, sd 6.9; the
        // bounds 25..=80 are more than 3.5 sd from it, so a correct interval fails this test
        // with a probability far below 1 in 1000, and one that covers only 90% (100 misses)
        // or 99% (10 misses) fails it.
        let mut random = SeededRandom::new(2024);
        let (mut missed, mut significant) = (0, 0);
        for trial in 0..1000 {
            let pairs = rounds(&mut random, 12, 1.0);
            let effect = compare(
                &pairs,
                crate::measure::stats::stream_seed(3, &[&trial.to_string()]),
            );
            if !(effect.ci95_low <= 1.0 && 1.0 <= effect.ci95_high) {
                missed += 1;
            }
            if effect.p_value < ALPHA {
                significant += 1;
            }
        }
        assert!(
            (25..=80).contains(&missed),
            "{missed} of 1000 intervals missed the true ratio"
        );
        assert!(
            (25..=80).contains(&significant),
            "{significant} of 1000 tests were significant"
        );
    }

    /// A known effect of 4%: over 1000 seeded repeats of 15 rounds each (shared drift of
    /// 15% per round, 3% noise per run), the interval covers the true ratio in about 95% of
    /// them (misses binomial(1000, 0.05): bounds 25..=80 as above), and the drift cancels:
    /// the intervals stay narrow and the verdict is "faster" in most repeats.
    #[test]
    fn a_known_effect_is_covered_at_the_nominal_rate() {
        let truth = 1.04;
        let mut random = SeededRandom::new(99);
        let (mut missed, mut faster, mut widths) = (0, 0, Vec::new());
        for trial in 0..1000 {
            let pairs = rounds(&mut random, 15, truth);
            let effect = compare(
                &pairs,
                crate::measure::stats::stream_seed(5, &[&trial.to_string()]),
            );
            if !(effect.ci95_low <= truth && truth <= effect.ci95_high) {
                missed += 1;
            }
            if effect.verdict == Verdict::Faster {
                faster += 1;
            }
            widths.push(effect.half_width);
        }
        assert!(
            (25..=80).contains(&missed),
            "{missed} of 1000 intervals missed {truth}"
        );
        // With a log-ratio spread of 0.042 and 15 rounds, the expected half-width is about
        // 2.1 * 0.042 / sqrt(15) = 2.3%, and 4% is found with a power of about 0.95.
        widths.sort_by(f64::total_cmp);
        let median = widths[widths.len() / 2];
        assert!(
            (0.015..0.035).contains(&median),
            "median half-width {median}"
        );
        assert!(faster > 850, "{faster} of 1000 found the 4% effect");
    }

    /// The half-width shrinks like 1 / sqrt(rounds): what the precision loop relies on to
    /// reach a target by adding rounds.
    #[test]
    fn the_half_width_shrinks_with_rounds() {
        let mut random = SeededRandom::new(5);
        let all = rounds(&mut random, 64, 1.02);
        let at = |n: usize| compare(&all[..n], 3).half_width;
        let (h16, h64) = (at(16), at(64));
        assert!(h64 < h16, "{h64} < {h16}");
        let ratio = h16 / h64;
        assert!(
            (1.3..3.2).contains(&ratio),
            "4× the rounds: {ratio}× narrower"
        );
        assert!(compare(&all[..64], 3).resolved_to(0.02));
        assert!(!compare(&all[..4], 3).resolved_to(0.005));
    }

    #[test]
    fn wilcoxon_matches_known_values() {
        // All of 5 differences positive: p = 2 / 2^5 = 0.0625 (exact).
        assert!((wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0]) - 0.0625).abs() < 1e-12);
        // Balanced around zero: no evidence (W+ = 12 of 21, exact p = 0.84375).
        assert!((wilcoxon_signed_rank(&[-1.0, 1.5, -2.0, 2.5, -3.0, 3.5]) - 0.84375).abs() < 1e-12);
        // W+ = 1 of n = 6 (only the smallest |d| is positive): the subsets of ranks with a
        // sum of at most 1 are {} and {1}, so p = 2 * 2 / 2^6.
        assert!(
            (wilcoxon_signed_rank(&[0.1, -1.0, -2.0, -3.0, -4.0, -5.0]) - 2.0 * 2.0 / 64.0).abs()
                < 1e-12
        );
        // Zeros are dropped.
        assert_eq!(wilcoxon_signed_rank(&[0.0, 0.0]), 1.0);
        // With ties the normal approximation is used and stays a probability.
        let tied = wilcoxon_signed_rank(&[1.0, 1.0, 1.0, 2.0, 2.0, -1.0, 3.0, 3.0]);
        assert!(tied > 0.0 && tied < 0.1, "{tied}");
    }

    #[test]
    fn the_detectable_effect_shrinks_with_rounds() {
        let mut random = SeededRandom::new(11);
        let few: Vec<f64> = rounds(&mut random, 10, 1.0)
            .iter()
            .map(|(a, b)| (a / b).ln())
            .collect();
        let many: Vec<f64> = rounds(&mut random, 40, 1.0)
            .iter()
            .map(|(a, b)| (a / b).ln())
            .collect();
        let (few, many) = (
            minimal_detectable_effect(&few).unwrap(),
            minimal_detectable_effect(&many).unwrap(),
        );
        assert!(many < few, "{many} < {few}");
        // The spread of a log ratio here is about 0.03 * sqrt(2) = 0.042; with 40 rounds the
        // detectable effect is about 2.9 * 0.042 / sqrt(40) = 1.9%.
        assert!((0.012..0.03).contains(&many), "{many}");
        assert_eq!(minimal_detectable_effect(&[0.1]), None);
    }

    /// At 2 rounds every bootstrap resample is either one round twice (no spread) or both
    /// (the mean itself): the bootstrap-t interval would have no width. Student's t gives
    /// an honest one (t = 12.7 at 1 degree of freedom).
    #[test]
    fn two_rounds_get_a_wide_interval_not_an_empty_one() {
        let effect = compare(&[(300.0, 290.0), (310.0, 305.0)], 1);
        let logs = [(300.0f64 / 290.0).ln(), (310.0f64 / 305.0).ln()];
        let mean = (logs[0] + logs[1]) / 2.0;
        let error = (logs[0] - logs[1]).abs() / 2.0;
        assert!(
            (effect.ci95_high.ln() - (mean + 12.706 * error)).abs() < 1e-3,
            "{effect:?}"
        );
        assert!(effect.half_width > 0.05, "{effect:?}");
        assert!(!effect.resolved_to(0.03));
        assert_eq!(effect.verdict, Verdict::NoDifference);
        // From MIN_BOOTSTRAP_ROUNDS on, the bootstrap-t interval: narrower than Student's at
        // 5 rounds for this spread, and never empty.
        let mut random = SeededRandom::new(3);
        let six = rounds(&mut random, MIN_BOOTSTRAP_ROUNDS, 1.0);
        let effect = compare(&six, 1);
        assert!(effect.half_width > 0.0 && effect.half_width.is_finite());
    }

    #[test]
    fn too_few_rounds_say_so_and_resolve_nothing() {
        let effect = compare(&[(300.0, 290.0)], 1);
        assert_eq!(effect.verdict, Verdict::TooFewRounds);
        assert!(!effect.resolved_to(0.5));
        assert!(effect.describe().contains("n = 1"));
    }
}
