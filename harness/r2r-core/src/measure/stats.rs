//! Summary statistics of repeated measurements, as a benchmarking tool reports them: mean,
//! standard deviation, median, extremes, 95th percentile, a bootstrap 95% confidence interval
//! of the mean, outliers by the median absolute deviation (flagged, never removed), and
//! ratios between two series with their propagated uncertainty.

use serde::{Deserialize, Serialize};

/// Modified z-score above which a sample is flagged as an outlier (Iglewicz and Hoaglin).
pub const OUTLIER_Z: f64 = 3.5;
/// Bootstrap resamples for the confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// A small deterministic random generator (xorshift64*), so that a seed fixes every shuffle
/// and resample on every platform.
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    /// A generator from a seed (0 is replaced, as xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        SeededRandom(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform index below `bound` (> 0).
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * bound as f64) as usize % bound
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index + 1);
            items.swap(index, other);
        }
    }
}

/// Statistics of one series, in the series' unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for a single sample.
    pub standard_deviation: f64,
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// 95th percentile (linear interpolation).
    pub p95: f64,
    /// Lower bound of the bootstrap 95% confidence interval of the mean.
    pub ci95_low: f64,
    /// Upper bound of the bootstrap 95% confidence interval of the mean.
    pub ci95_high: f64,
    /// Indices of samples flagged as outliers by the MAD rule.
    pub outliers: Vec<usize>,
}

/// The `q` quantile (0..=1) of sorted samples, linearly interpolated.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Indices of samples whose modified z-score exceeds [`OUTLIER_Z`].
pub fn mad_outliers(samples: &[f64]) -> Vec<usize> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = quantile(&sorted, 0.5);
    let mut deviations: Vec<f64> = samples.iter().map(|x| (x - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = quantile(&deviations, 0.5);
    if mad == 0.0 {
        return Vec::new();
    }
    samples
        .iter()
        .enumerate()
        .filter(|(_, x)| 0.6745 * (*x - median).abs() / mad > OUTLIER_Z)
        .map(|(index, _)| index)
        .collect()
}

/// Summarises a series; `seed` fixes the bootstrap. `None` for an empty series.
pub fn summarize(samples: &[f64], seed: u64) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let count = samples.len();
    let mean = samples.iter().sum::<f64>() / count as f64;
    let standard_deviation = if count > 1 {
        (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1) as f64).sqrt()
    } else {
        0.0
    };
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut random = SeededRandom::new(seed);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            (0..count)
                .map(|_| samples[random.below(count)])
                .sum::<f64>()
                / count as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    Some(Summary {
        count,
        mean,
        standard_deviation,
        median: quantile(&sorted, 0.5),
        min: sorted[0],
        max: sorted[count - 1],
        p95: quantile(&sorted, 0.95),
        ci95_low: quantile(&means, 0.025),
        ci95_high: quantile(&means, 0.975),
        outliers: mad_outliers(samples),
    })
}

/// How many times faster `candidate` is than `baseline` (ratio of means), with the
/// uncertainty propagated from both standard deviations: "x ± y times faster".
pub fn times_faster(baseline: &Summary, candidate: &Summary) -> (f64, f64) {
    let ratio = baseline.mean / candidate.mean;
    let relative = ((baseline.standard_deviation / baseline.mean).powi(2)
        + (candidate.standard_deviation / candidate.mean).powi(2))
    .sqrt();
    (ratio, ratio * relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let summary = summarize(&[1.0, 2.0, 3.0, 4.0, 100.0], 1).unwrap();
        assert_eq!(summary.count, 5);
        assert!((summary.mean - 22.0).abs() < 1e-12);
        assert_eq!(summary.median, 3.0);
        assert_eq!((summary.min, summary.max), (1.0, 100.0));
        assert!((summary.p95 - 80.8).abs() < 1e-9, "{}", summary.p95);
        assert!((summary.standard_deviation - 43.617656975).abs() < 1e-6);
        assert_eq!(summary.outliers, vec![4], "100 is flagged, and kept");
        assert!(summary.ci95_low <= summary.mean && summary.mean <= summary.ci95_high);
        assert!(summarize(&[], 1).is_none());
        let single = summarize(&[5.0], 1).unwrap();
        assert_eq!(
            (single.standard_deviation, single.ci95_low, single.ci95_high),
            (0.0, 5.0, 5.0)
        );
    }

    #[test]
    fn bootstrap_is_seeded_and_covers_the_mean() {
        let samples: Vec<f64> = (0..50).map(|i| 100.0 + (i % 7) as f64).collect();
        let a = summarize(&samples, 42).unwrap();
        assert_eq!(a, summarize(&samples, 42).unwrap());
        assert!(a.ci95_low < a.mean && a.mean < a.ci95_high);
        assert!(a.ci95_high - a.ci95_low < 2.0);
    }

    #[test]
    fn ratios_and_shuffles() {
        let base = Summary {
            count: 3,
            mean: 200.0,
            standard_deviation: 20.0,
            median: 200.0,
            min: 0.0,
            max: 0.0,
            p95: 0.0,
            ci95_low: 0.0,
            ci95_high: 0.0,
            outliers: vec![],
        };
        let fast = Summary {
            mean: 100.0,
            standard_deviation: 10.0,
            ..base.clone()
        };
        let (ratio, error) = times_faster(&base, &fast);
        assert!((ratio - 2.0).abs() < 1e-12);
        assert!((error - 2.0 * (0.01f64 + 0.01).sqrt()).abs() < 1e-12);
        let mut a: Vec<u32> = (0..20).collect();
        let mut b = a.clone();
        SeededRandom::new(7).shuffle(&mut a);
        SeededRandom::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..20).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }
}
