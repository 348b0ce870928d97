//! `calibration.csv`: how often the paired start-up interval covers the truth in recorded A/A
//! rounds (`r2r calibrate`), one [`CoverageRow`] per image and cache mode, and one for all of
//! them together.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::{CsvFile, Fixed};

/// The file's name in the directory `r2r calibrate --output` writes to.
pub const FILE: &str = "calibration.csv";

/// One row of `calibration.csv`: the coverage of one image in one cache mode (`image` =
/// `all` for the pooled row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// Plan id of the image compared with itself, or `all`.
    pub image: String,
    /// Cache mode (`cold`, `warm`), or `all`.
    pub cache: String,
    /// A/A rounds recorded for it (pairs of the image with its own baseline copy), count.
    pub recorded_rounds: usize,
    /// Comparisons the rounds were recorded in (one per `compare-startup-runs.csv`), count.
    pub comparisons: usize,
    /// Rounds in each resample (drawn without replacement from the recorded ones), count.
    pub rounds_per_resample: usize,
    /// Resamples drawn, count.
    pub resamples: usize,
    /// Resamples whose 95% interval of the ratio contains 1.00, count.
    pub covered: usize,
    /// `covered / resamples`, fraction.
    pub coverage: Fixed<4>,
    /// Lower end of the 95% Wilson interval of `coverage`, fraction.
    pub coverage_low: Fixed<4>,
    /// Upper end of the 95% Wilson interval of `coverage`, fraction.
    pub coverage_high: Fixed<4>,
    /// Resamples in which Wilcoxon's signed-rank test gave p < 0.05, count.
    pub rank_test_rejected: usize,
    /// Comparisons (as recorded, not resampled) whose own interval contains 1.00, count.
    pub comparisons_covered: usize,
    /// Comparisons with at least 2 rounds of this image and cache mode, count.
    pub comparisons_tested: usize,
    /// Mean over all recorded rounds of `ln(candidate / baseline)`, percent of a change
    /// (`exp(mean) - 1`): what is left when nothing changed, 2 decimals.
    pub pooled_change_percent: Fixed<2, true>,
}

impl CsvFile for CoverageRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &["image", "cache", "resamples", "covered"];
}
