//! Comparisons: a run against a saved baseline run (for nightly jobs: a regression only when a
//! change is both significant and beyond a noise threshold), and a run against the published
//! figures in `results/published/` (ratios, which carry over between machines and bases).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::results::history::{self, HistoryRow};
use crate::results::published;
use crate::results::rows::{self, Fixed};
use crate::results::run_data::{read_csv, RunData, RunDataError};

/// Thresholds of a baseline comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Relative size change below which a size difference is noise (0.01 = 1%).
    pub size: f64,
    /// Relative start-up change below which a difference is noise (0.05 = 5%).
    pub startup: f64,
    /// Significance level of the start-up test (0.05).
    pub alpha: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            size: 0.01,
            startup: 0.05,
            alpha: 0.05,
        }
    }
}

/// The noise thresholds as the command line takes them (percent), for every command that
/// compares with a baseline.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args)]
pub struct ThresholdSettings {
    /// Size changes within this many percent are noise.
    #[arg(long, default_value_t = 1.0)]
    pub size_threshold: f64,
    /// Start-up changes within this many percent are noise.
    #[arg(long, default_value_t = 5.0)]
    pub startup_threshold: f64,
    /// Significance level of the start-up test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
}

impl ThresholdSettings {
    /// As the comparison takes them (fractions, not percent).
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            size: self.size_threshold / 100.0,
            startup: self.startup_threshold / 100.0,
            alpha: self.alpha,
        }
    }
}

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Worse, significantly and beyond the threshold.
    Regression,
    /// Better, significantly and beyond the threshold.
    Improvement,
    /// Within noise: not significant, or within the threshold.
    NoChange,
    /// In only one of the two runs.
    Missing,
    /// A size that changed together with the .NET version (the two runs resolved different
    /// versions): what the new version brings, not a regression of the same build. Never
    /// fails a job.
    VersionChange,
    /// Start-up of two separate runs: the change is shown, but it was not tested (the
    /// machine's drift between the runs is in it; `--paired-runs` tests it). Never fails a job.
    UntestedDrift,
}

impl Verdict {
    /// The word used in tables.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "no change",
            Verdict::Missing => "missing",
            Verdict::VersionChange => "version change",
            Verdict::UntestedDrift => "untested drift",
        }
    }

    /// The verdict a table word names.
    pub fn from_word(word: &str) -> Option<Verdict> {
        [
            Verdict::Regression,
            Verdict::Improvement,
            Verdict::NoChange,
            Verdict::Missing,
            Verdict::VersionChange,
            Verdict::UntestedDrift,
        ]
        .into_iter()
        .find(|verdict| verdict.word() == word)
    }
}

/// A verdict in a CSV cell: its table word (`no change`, not `no-change`).
mod verdict_word {
    use super::Verdict;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(verdict: &Verdict, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(verdict.word())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Verdict, D::Error> {
        let word = String::deserialize(deserializer)?;
        Verdict::from_word(&word).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "verdict '{word}': allowed values are regression, improvement, no change, missing, version change, untested drift"
            ))
        })
    }
}

/// What a comparison's two numbers come from, and so how far its verdict can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Exact measurements (sizes): any difference is real.
    Exact,
    /// Start-up of two separate runs: the machine's drift between them is in the difference.
    /// Such a verdict is shown, and never fails the job on its own.
    SeparateRuns,
    /// Start-up of the baseline's and the current images measured in the same run, in paired
    /// rounds: the drift of the machine cancels within a round.
    SameRun,
}

impl Basis {
    /// The words in tables and CSV files.
    pub fn words(self) -> &'static str {
        match self {
            Basis::Exact => "exact",
            Basis::SeparateRuns => "separate runs: drift not cancelled",
            Basis::SameRun => "same run, paired rounds",
        }
    }
}

/// One metric of one image, compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricChange {
    /// Plan id of the image.
    pub image: String,
    /// The metric, e.g. `gzip_bytes`, `startup_warm_total_ms`.
    pub metric: String,
    /// Unit of the values (`bytes`, `ms`).
    pub unit: String,
    /// The baseline's value (start-up: mean of the runs).
    pub baseline: Option<f64>,
    /// The current run's value.
    pub current: Option<f64>,
    /// Relative change, `current / baseline - 1` (0.05 = 5% larger / slower).
    pub change: Option<f64>,
    /// Two-sided p-value of the difference (Welch's t-test for start-up; sizes are exact
    /// measurements, p = 0 when they differ, 1 when equal).
    pub p_value: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// What the two numbers come from.
    pub basis: Basis,
}

/// Welch's two-sample t-test: the two-sided p-value that the means differ. `None` when
/// either sample has fewer than two values; 1 when both have no variance and equal means.
pub fn welch_p_value(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let variance = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, variance)
    };
    let (na, ma, va) = moments(a);
    let (nb, mb, vb) = moments(b);
    let se2 = va / na + vb / nb;
    if se2 == 0.0 {
        return Some(if ma == mb { 1.0 } else { 0.0 });
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2.powi(2) / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
    let distribution = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - distribution.cdf(t.abs()))).clamp(0.0, 1.0))
}

fn verdict(change: f64, p_value: f64, threshold: f64, alpha: f64) -> Verdict {
    if p_value < alpha && change > threshold {
        Verdict::Regression
    } else if p_value < alpha && change < -threshold {
        Verdict::Improvement
    } else {
        Verdict::NoChange
    }
}

/// The .NET versions of a baseline run and a run when they differ: `(baseline, current)`.
/// Runs that do not record a version count as unchanged.
pub fn version_change(current: &RunData, baseline: &RunData) -> Option<(String, String)> {
    let (before, after) = (&baseline.info.dotnet.runtime, &current.info.dotnet.runtime);
    (!before.is_empty() && !after.is_empty() && before != after)
        .then(|| (before.clone(), after.clone()))
}

/// A version change in words: `10.0.14 → 10.0.15`.
pub fn version_change_words((before, after): &(String, String)) -> String {
    format!("{before} → {after}")
}

/// Compares a run with a baseline run of the same scenario: per image the content and gzip
/// sizes, and per image and cache mode the start-up total (create to ready) from the raw runs.
/// When the two runs resolved different .NET versions, a size that differs is a
/// [`Verdict::VersionChange`], not a regression or an improvement of the same build.
pub fn against_baseline(
    current: &RunData,
    baseline: &RunData,
    thresholds: Thresholds,
) -> Vec<MetricChange> {
    let versions_differ = version_change(current, baseline).is_some();
    let mut changes = Vec::new();
    let mut images: Vec<&str> = current
        .sizes
        .iter()
        .map(|r| r.image.as_str())
        .chain(baseline.sizes.iter().map(|r| r.image.as_str()))
        .collect();
    images.sort();
    images.dedup();
    for image in images {
        for metric in ["content_bytes", "gzip_bytes"] {
            let value = |data: &RunData| {
                data.size_row(image).map(|row| if metric == "gzip_bytes" { row.gzip_bytes } else { row.content_bytes } as f64)
            };
            let (before, after) = (value(baseline), value(current));
            changes.push(match (before, after) {
                (Some(before), Some(after)) => {
                    let change = if before > 0.0 {
                        after / before - 1.0
                    } else {
                        0.0
                    };
                    let p_value = if after == before { 1.0 } else { 0.0 };
                    MetricChange {
                        image: image.to_string(),
                        metric: metric.to_string(),
                        unit: "bytes".into(),
                        baseline: Some(before),
                        current: Some(after),
                        change: Some(change),
                        p_value: Some(p_value),
                        verdict: if versions_differ && after != before {
                            Verdict::VersionChange
                        } else {
                            verdict(change, p_value, thresholds.size, thresholds.alpha)
                        },
                        basis: Basis::Exact,
                    }
                }
                _ => missing(image, metric, "bytes", before, after, Basis::Exact),
            });
        }
    }
    let mut keys: Vec<(String, String)> = current
        .startup
        .iter()
        .chain(baseline.startup.iter())
        .filter(|row| row.phase == "total")
        .map(|row| (row.image.clone(), row.cache.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    for (image, cache) in keys {
        let metric = format!("startup_{cache}_total_ms");
        let before = baseline.run_values(&image, &cache, "total_ms");
        let after = current.run_values(&image, &cache, "total_ms");
        let mean = |x: &[f64]| (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64);
        changes.push(
            match (mean(&before), mean(&after), welch_p_value(&after, &before)) {
                (Some(b), Some(a), Some(p_value)) => {
                    let change = a / b - 1.0;
                    MetricChange {
                        image: image.clone(),
                        metric,
                        unit: "ms".into(),
                        baseline: Some(b),
                        current: Some(a),
                        change: Some(change),
                        p_value: Some(p_value),
                        // Welch's p of two separate runs tests the machine as much as the
                        // images: no verdict is drawn from it.
                        verdict: Verdict::UntestedDrift,
                        basis: Basis::SeparateRuns,
                    }
                }
                (b, a, _) => missing(&image, &metric, "ms", b, a, Basis::SeparateRuns),
            },
        );
    }
    changes
}

fn missing(
    image: &str,
    metric: &str,
    unit: &str,
    baseline: Option<f64>,
    current: Option<f64>,
    basis: Basis,
) -> MetricChange {
    MetricChange {
        basis,
        image: image.to_string(),
        metric: metric.to_string(),
        unit: unit.to_string(),
        baseline,
        current,
        change: None,
        p_value: None,
        verdict: Verdict::Missing,
    }
}

/// Whether any metric regressed on a basis that can fail a job: exact sizes, or start-up
/// measured in the same run. A start-up regression between two separate runs does not count
/// (the machine's drift is in it).
pub fn has_regression(changes: &[MetricChange]) -> bool {
    changes.iter().any(fails_job)
}

/// Whether this change alone fails a job: a regression that is not from two separate runs.
pub fn fails_job(change: &MetricChange) -> bool {
    change.verdict == Verdict::Regression && change.basis != Basis::SeparateRuns
}

/// Holm's step-down correction over the start-up changes measured in paired rounds (the
/// family of one comparison: every image and cache mode): each one's p-value becomes its
/// Holm-adjusted p-value, and a regression or improvement whose adjusted p is not below
/// `alpha` becomes no change. The chance that any of them is called a change when none changed
/// stays at `alpha`, however many there are. Other changes are left as they are.
pub fn holm(changes: &mut [MetricChange], alpha: f64) {
    let family: Vec<(usize, f64)> = changes
        .iter()
        .enumerate()
        .filter(|(_, change)| change.basis == Basis::SameRun)
        .filter_map(|(index, change)| Some((index, change.p_value?)))
        .collect();
    let p_values: Vec<f64> = family.iter().map(|(_, p)| *p).collect();
    let adjusted = crate::measure::stats::holm_adjusted(&p_values);
    for ((index, _), adjusted) in family.into_iter().zip(adjusted) {
        let change = &mut changes[index];
        change.p_value = Some(adjusted);
        if adjusted >= alpha && matches!(change.verdict, Verdict::Regression | Verdict::Improvement)
        {
            change.verdict = Verdict::NoChange;
        }
    }
}

/// `(baseline, current)` create-to-ready times, ms, of the rounds in which both images ran
/// successfully in `cache` mode, in round order.
pub fn paired_rounds(
    records: &[crate::measure::startup::RunRecord],
    baseline_image: &str,
    image: &str,
    cache: crate::measure::startup::Cache,
) -> Vec<(f64, f64)> {
    let of = |name: &str| -> std::collections::BTreeMap<usize, f64> {
        records
            .iter()
            .filter(|r| r.ok && r.image == name && r.cache == cache)
            .filter_map(|r| Some((r.round, r.total_ms?)))
            .collect()
    };
    let (base, current) = (of(baseline_image), of(image));
    base.iter()
        .filter_map(|(round, b)| Some((*b, *current.get(round)?)))
        .collect()
}

/// Start-up of one image against its baseline image, from rounds of one run that measured both
/// (`pairs`: create-to-ready of the baseline image and of the current image in the same round,
/// ms). The verdict comes from the paired comparison ([`crate::measure::paired::compare`]): a
/// regression when the whole 95% interval says slower, Wilcoxon's signed-rank test agrees
/// (p < alpha) and the slow-down is beyond the threshold.
pub fn paired_startup_change(
    image: &str,
    cache: &str,
    pairs: &[(f64, f64)],
    seed: u64,
    thresholds: Thresholds,
) -> MetricChange {
    use crate::measure::paired::{self, Verdict as Paired};
    let metric = format!("startup_{cache}_total_ms");
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let before = mean(pairs.iter().map(|p| p.0).collect());
    let after = mean(pairs.iter().map(|p| p.1).collect());
    let effect = paired::compare(pairs, seed);
    if effect.verdict == Paired::TooFewRounds {
        return missing(image, &metric, "ms", before, after, Basis::SameRun);
    }
    // `speedup` is baseline / current: the relative change of the time is its inverse - 1.
    let change = 1.0 / effect.speedup - 1.0;
    // Both the interval and Wilcoxon's exact signed-rank test must say so: with few rounds the
    // bootstrap interval can be narrow by chance, while the rank test cannot reach p < 0.05
    // with fewer than 6 rounds (its smallest two-sided p at 5 rounds is 1/16).
    let significant = effect.p_value < thresholds.alpha;
    let verdict = match effect.verdict {
        Paired::Slower if significant && change > thresholds.startup => Verdict::Regression,
        Paired::Faster if significant && change < -thresholds.startup => Verdict::Improvement,
        _ => Verdict::NoChange,
    };
    MetricChange {
        image: image.to_string(),
        metric,
        unit: "ms".into(),
        baseline: before,
        current: after,
        change: Some(change),
        p_value: Some(effect.p_value),
        verdict,
        basis: Basis::SameRun,
    }
}

/// One row of `compare-baseline.csv`: one metric of one image, compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRow {
    /// Plan id of the image.
    pub image: String,
    /// The metric: `content_bytes`, `gzip_bytes`, `startup_<cache>_total_ms`.
    pub metric: String,
    /// Unit of `baseline` and `current`: `bytes` or `ms`.
    pub unit: String,
    /// The baseline's value (bytes, or mean ms), 3 decimals; empty when missing.
    pub baseline: Fixed<3>,
    /// The current run's value (bytes, or mean ms), 3 decimals; empty when missing.
    pub current: Fixed<3>,
    /// `current / baseline - 1`, percent, 2 decimals.
    pub change_percent: Fixed<2>,
    /// Two-sided p-value of the difference (0 or 1 for exact sizes), 4 decimals.
    pub p_value: Fixed<4>,
    /// `regression`, `improvement`, `no change`, `missing` or `version change` (a size that
    /// changed with the runs' .NET version).
    #[serde(with = "verdict_word")]
    pub verdict: Verdict,
    /// What the numbers come from: `exact` (sizes), `same run, paired rounds` (start-up of
    /// both image sets in one run; p is Wilcoxon's signed-rank test), or `separate runs: drift
    /// not cancelled` (start-up of two runs; p is Welch's t-test; never fails a job alone).
    #[serde(default = "separate_runs_words")]
    pub basis: String,
}

fn separate_runs_words() -> String {
    Basis::SeparateRuns.words().to_string()
}

impl From<&MetricChange> for ChangeRow {
    fn from(change: &MetricChange) -> ChangeRow {
        ChangeRow {
            image: change.image.clone(),
            metric: change.metric.clone(),
            unit: change.unit.clone(),
            baseline: Fixed(change.baseline),
            current: Fixed(change.current),
            change_percent: Fixed(change.change.map(|c| c * 100.0)),
            p_value: Fixed(change.p_value),
            verdict: change.verdict,
            basis: change.basis.words().to_string(),
        }
    }
}

/// The comparison as CSV (`compare-baseline.csv`): one [`ChangeRow`] per metric.
pub fn changes_csv(changes: &[MetricChange]) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<ChangeRow> = changes.iter().map(ChangeRow::from).collect();
    rows::to_csv(&rows)
}

/// A run's headline metrics for the history file: per image `content_bytes` and `gzip_bytes`,
/// and per image and cache mode `startup_<cache>_total_median_ms`.
pub fn headline_metrics(data: &RunData) -> Vec<(String, String, f64)> {
    let mut metrics = Vec::new();
    for row in &data.sizes {
        metrics.push((
            row.image.clone(),
            "content_bytes".to_string(),
            row.content_bytes as f64,
        ));
        metrics.push((
            row.image.clone(),
            "gzip_bytes".to_string(),
            row.gzip_bytes as f64,
        ));
    }
    for row in data.startup.iter().filter(|row| row.phase == "total") {
        metrics.push((
            row.image.clone(),
            format!("startup_{}_total_median_ms", row.cache),
            row.median_ms,
        ));
    }
    metrics
}

/// Adds a run's headline metrics to a history CSV (`run_id,image,metric,value,dotnet`), replacing
/// rows the same run wrote before; the file is rewritten whole.
pub fn append_history(path: &Path, data: &RunData) -> Result<(), RunDataError> {
    let mut rows: Vec<HistoryRow> = history::read(path)?.unwrap_or_default();
    rows.retain(|row| row.run_id != data.info.run_id);
    rows.extend(
        headline_metrics(data)
            .into_iter()
            .map(|(image, metric, value)| HistoryRow {
                run_id: data.info.run_id.clone(),
                image,
                metric,
                value,
                dotnet: data.info.dotnet.runtime.clone(),
            }),
    );
    history::write(path, &rows)
}

/// How a published comparison combines its two figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComparisonKind {
    /// numerator / denominator.
    Ratio,
    /// numerator - denominator, MB.
    Delta,
}

impl ComparisonKind {
    /// The word in files and tables: `ratio` or `delta`.
    pub fn word(self) -> &'static str {
        match self {
            ComparisonKind::Ratio => "ratio",
            ComparisonKind::Delta => "delta",
        }
    }
}

impl std::fmt::Display for ComparisonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// One published figure (`results/published/figures.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedFigure {
    /// Row id, referenced by comparisons.
    pub id: String,
    /// Where the figure was published.
    pub source: String,
    /// The report or table it is from.
    pub report: String,
    /// The row's name there.
    pub row: String,
    /// The base image it was measured on.
    pub base: String,
    /// Uncompressed size, MB (10^6 bytes).
    pub uncompressed_mb: Option<f64>,
    /// Compressed size, MB.
    pub compressed_mb: Option<f64>,
}

/// One ratio that carries over between machines (`results/published/comparisons.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedComparison {
    /// Short id.
    pub id: String,
    /// `ratio` (numerator / denominator) or `delta` (numerator - denominator, MB).
    pub kind: ComparisonKind,
    /// What the ratio means.
    pub description: String,
    /// Published figure id of the numerator.
    pub numerator: String,
    /// Published figure id of the denominator.
    pub denominator: String,
    /// `uncompressed` or `compressed`.
    pub figure: String,
    /// Our numerator image: `variant:role` (e.g. `aspnet-composite:webapi`) or a plan id.
    pub ours_numerator: String,
    /// Our denominator image.
    pub ours_denominator: String,
}

/// A published ratio beside ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedGap {
    /// The comparison's id.
    pub id: String,
    /// What the ratio means.
    pub description: String,
    /// `ratio` or `delta` (MB).
    pub kind: ComparisonKind,
    /// `uncompressed` or `compressed`.
    pub figure: String,
    /// The published ratio (or delta, MB).
    pub published: f64,
    /// Our ratio or delta (`None`: the run lacks one of the images).
    pub ours: Option<f64>,
    /// `ours / published - 1`, percent.
    pub gap_percent: Option<f64>,
    /// Sources of the two published figures.
    pub source: String,
    /// Our two images, or why not measured.
    pub ours_images: String,
}

/// Why the published dataset cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PublishedError {
    /// A file could not be read.
    #[error(transparent)]
    Data(#[from] RunDataError),
    /// A file is missing.
    #[error("{0}: missing; the published dataset lives in results/published/")]
    Missing(PathBuf),
    /// A comparison names a figure that is not in figures.csv.
    #[error(
        "{file}: comparison '{comparison}' names figure '{figure}', which {} does not have",
        crate::results::published::FIGURES
    )]
    UnknownFigure {
        /// comparisons.csv.
        file: PathBuf,
        /// The comparison.
        comparison: String,
        /// The missing figure id.
        figure: String,
    },
}

/// Reads the published dataset from `directory` (`figures.csv`, `comparisons.csv`).
pub fn load_published(
    directory: &Path,
) -> Result<(Vec<PublishedFigure>, Vec<PublishedComparison>), PublishedError> {
    let figures_path = directory.join(published::FIGURES);
    let comparisons_path = directory.join(published::COMPARISONS);
    let figures: Vec<PublishedFigure> = read_csv(&figures_path, rows::header::<PublishedFigure>())?
        .ok_or_else(|| PublishedError::Missing(figures_path.clone()))?;
    let comparisons: Vec<PublishedComparison> =
        read_csv(&comparisons_path, rows::header::<PublishedComparison>())?
            .ok_or_else(|| PublishedError::Missing(comparisons_path.clone()))?;
    for comparison in &comparisons {
        for figure in [&comparison.numerator, &comparison.denominator] {
            if !figures.iter().any(|f| &f.id == figure) {
                return Err(PublishedError::UnknownFigure {
                    file: comparisons_path.clone(),
                    comparison: comparison.id.clone(),
                    figure: figure.clone(),
                });
            }
        }
    }
    Ok((figures, comparisons))
}

/// Finds our image for a selector: a plan id, or `variant:role`.
fn select<'a>(data: &'a RunData, selector: &str) -> Option<&'a crate::results::run_data::SizeRow> {
    match selector.split_once(':') {
        Some((variant, role)) => data
            .sizes
            .iter()
            .find(|row| row.role == role && row.variants.split(';').any(|v| v == variant)),
        None => data.size_row(selector),
    }
}

/// The recipes (`<variant>.<recipe>` names) under which a run has images of `variant`.
fn recipes_of(data: &RunData, variant: &str) -> Vec<String> {
    let prefix = format!("{variant}.");
    let mut recipes: Vec<String> = data
        .plan
        .scenario
        .variants
        .iter()
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter(|recipe| !recipe.contains('.'))
        .map(str::to_string)
        .collect();
    recipes.dedup();
    recipes
}

/// The comparisons once more for each composite recipe of the run: a comparison whose
/// numerator is `variant:role` is repeated with `variant.recipe:role` and the id
/// `<id>.<recipe>` for every recipe under which the run built that variant.
fn with_recipes(data: &RunData, comparisons: &[PublishedComparison]) -> Vec<PublishedComparison> {
    let mut all = Vec::new();
    for comparison in comparisons {
        all.push(comparison.clone());
        let Some((variant, role)) = comparison.ours_numerator.split_once(':') else {
            continue;
        };
        for recipe in recipes_of(data, variant) {
            let mut copy = comparison.clone();
            copy.id = format!("{}.{recipe}", comparison.id);
            copy.description = format!("{} (recipe {recipe})", comparison.description);
            copy.ours_numerator = format!("{variant}.{recipe}:{role}");
            all.push(copy);
        }
    }
    all
}

/// Our ratios beside the published ones; a comparison of a composite variant is given once
/// per composite recipe of the run as well (ids `<id>.<recipe>`).
pub fn against_published(
    data: &RunData,
    figures: &[PublishedFigure],
    comparisons: &[PublishedComparison],
) -> Vec<PublishedGap> {
    let figure = |id: &str| figures.iter().find(|f| f.id == id);
    let mut gaps = Vec::new();
    let comparisons = with_recipes(data, comparisons);
    for comparison in &comparisons {
        let (Some(numerator), Some(denominator)) = (
            figure(&comparison.numerator),
            figure(&comparison.denominator),
        ) else {
            continue;
        };
        let compressed = comparison.figure == "compressed";
        let pick = |f: &PublishedFigure| {
            if compressed {
                f.compressed_mb
            } else {
                f.uncompressed_mb
            }
        };
        let (Some(top), Some(bottom)) = (pick(numerator), pick(denominator)) else {
            continue;
        };
        let delta = comparison.kind == ComparisonKind::Delta;
        let combine = |top: f64, bottom: f64| if delta { top - bottom } else { top / bottom };
        let published = combine(top, bottom);
        let ours_pair = select(data, &comparison.ours_numerator)
            .zip(select(data, &comparison.ours_denominator));
        let ours = ours_pair.map(|(n, d)| {
            let value = |row: &crate::results::run_data::SizeRow| if compressed { row.gzip_bytes } else { row.content_bytes } as f64 / crate::report::MB;
            combine(value(n), value(d))
        });
        gaps.push(PublishedGap {
            id: comparison.id.clone(),
            kind: comparison.kind,
            description: comparison.description.clone(),
            figure: comparison.figure.clone(),
            published,
            ours,
            gap_percent: ours.map(|ours| (ours / published - 1.0) * 100.0),
            source: if numerator.source == denominator.source {
                numerator.source.clone()
            } else {
                format!("{}; {}", numerator.source, denominator.source)
            },
            ours_images: match ours_pair {
                Some((n, d)) => format!("{} / {}", n.image, d.image),
                None => format!(
                    "not in this run ({} / {})",
                    comparison.ours_numerator, comparison.ours_denominator
                ),
            },
        });
    }
    gaps
}

/// One row of `compare-published.csv`: a published ratio (or delta) beside ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRow {
    /// The comparison's id.
    pub id: String,
    /// `ratio` or `delta` (MB).
    pub kind: ComparisonKind,
    /// What the ratio means.
    pub description: String,
    /// `compressed` or `uncompressed`.
    pub figure: String,
    /// The published ratio (or delta, MB), 3 decimals.
    pub published: Fixed<3>,
    /// Our ratio (or delta, MB), 3 decimals; empty when the run lacks one of the images.
    pub ours: Fixed<3>,
    /// `ours / published - 1`, percent, 1 decimal with its sign.
    pub gap_percent: Fixed<1, true>,
    /// Our two images (`numerator / denominator`), or why not measured.
    pub our_images: String,
    /// Sources of the two published figures.
    pub source: String,
}

impl From<&PublishedGap> for GapRow {
    fn from(gap: &PublishedGap) -> GapRow {
        GapRow {
            id: gap.id.clone(),
            kind: gap.kind,
            description: gap.description.clone(),
            figure: gap.figure.clone(),
            published: Fixed(Some(gap.published)),
            ours: Fixed(gap.ours),
            gap_percent: Fixed(gap.gap_percent),
            our_images: gap.ours_images.clone(),
            source: gap.source.clone(),
        }
    }
}

/// The published comparison as CSV (`compare-published.csv`): one [`GapRow`] per comparison.
pub fn gaps_csv(gaps: &[PublishedGap]) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<GapRow> = gaps.iter().map(GapRow::from).collect();
    rows::to_csv(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_separates_shifted_samples_and_not_noise() {
        let a = [100.0, 102.0, 98.0, 101.0, 99.0, 100.5, 99.5, 100.2];
        let shifted: Vec<f64> = a.iter().map(|v| v + 10.0).collect();
        assert!(welch_p_value(&a, &shifted).unwrap() < 0.001);
        let same: Vec<f64> = a.iter().rev().copied().collect();
        assert!(welch_p_value(&a, &same).unwrap() > 0.9);
        assert_eq!(welch_p_value(&a[..1], &same), None);
        assert_eq!(welch_p_value(&[5.0, 5.0], &[5.0, 5.0]), Some(1.0));
    }

    #[test]
    fn welch_matches_a_known_value() {
        // Welch: t = -2.074, 10.2 degrees of freedom, two-sided p = 0.0643 (by numerical
        // integration of the t density).
        let a = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
        let b = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7];
        let p = welch_p_value(&a, &b).unwrap();
        assert!((p - 0.0643).abs() < 0.001, "{p}");
    }

    #[test]
    fn change_rows_round_trip() {
        let rows = vec![
            ChangeRow {
                image: "no-composite.webapi".into(),
                metric: "startup_warm_total_ms".into(),
                unit: "ms".into(),
                baseline: Fixed(Some(412.125)),
                current: Fixed(Some(515.5)),
                change_percent: Fixed(Some(25.08)),
                p_value: Fixed(Some(0.0001)),
                verdict: Verdict::Regression,
                basis: Basis::SameRun.words().into(),
            },
            ChangeRow {
                image: "sdk".into(),
                metric: "gzip_bytes".into(),
                unit: "bytes".into(),
                baseline: Fixed(Some(1000.0)),
                current: Fixed(None),
                change_percent: Fixed(None),
                p_value: Fixed(None),
                verdict: Verdict::Missing,
                basis: Basis::Exact.words().into(),
            },
            ChangeRow {
                image: "runtime-deps".into(),
                metric: "content_bytes".into(),
                unit: "bytes".into(),
                baseline: Fixed(Some(80590324.0)),
                current: Fixed(Some(80590324.0)),
                change_percent: Fixed(Some(0.0)),
                p_value: Fixed(Some(1.0)),
                verdict: Verdict::NoChange,
                basis: Basis::Exact.words().into(),
            },
        ];
        let bytes = rows::to_csv(&rows).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "image,metric,unit,baseline,current,change_percent,p_value,verdict,basis\n"
        ));
        assert!(
            text.contains(",412.125,515.500,25.08,0.0001,regression,\"same run, paired rounds\"\n"),
            "{text}"
        );
        assert!(text.contains(",1.0000,no change,exact\n"), "{text}");
        let back: Vec<ChangeRow> = rows::from_csv(&bytes).unwrap();
        assert_eq!(back, rows);
        assert_eq!(rows::to_csv(&back).unwrap(), bytes);
    }

    #[test]
    fn gap_rows_round_trip() {
        let rows = vec![
            GapRow {
                id: "composite-vs-framework-app".into(),
                kind: ComparisonKind::Ratio,
                description: "Composite, relative to the framework-dependent app".into(),
                figure: "compressed".into(),
                published: Fixed(Some(0.828)),
                ours: Fixed(Some(0.815)),
                gap_percent: Fixed(Some(-1.6)),
                our_images: "aspnet-composite.webapi / no-composite.webapi".into(),
                source: "a; b".into(),
            },
            GapRow {
                id: "runtime-layer".into(),
                kind: ComparisonKind::Delta,
                description: "The runtime layer, MB".into(),
                figure: "uncompressed".into(),
                published: Fixed(Some(82.722)),
                ours: Fixed(None),
                gap_percent: Fixed(None),
                our_images: "not in this run (x / y)".into(),
                source: "a".into(),
            },
        ];
        let bytes = rows::to_csv(&rows).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "id,kind,description,figure,published,ours,gap_percent,our_images,source\n"
        ));
        assert!(
            text.contains(",ratio,") && text.contains(",delta,"),
            "{text}"
        );
        assert!(text.contains(",0.828,0.815,-1.6,"), "{text}");
        let back: Vec<GapRow> = rows::from_csv(&bytes).unwrap();
        assert_eq!(back, rows);
        assert_eq!(rows::to_csv(&back).unwrap(), bytes);
    }

    #[test]
    fn verdict_needs_significance_and_size() {
        assert_eq!(verdict(0.10, 0.01, 0.05, 0.05), Verdict::Regression);
        assert_eq!(verdict(-0.10, 0.01, 0.05, 0.05), Verdict::Improvement);
        assert_eq!(verdict(0.10, 0.20, 0.05, 0.05), Verdict::NoChange);
        assert_eq!(verdict(0.02, 0.0001, 0.05, 0.05), Verdict::NoChange);
    }
}

#[cfg(test)]
mod paired_tests {
    use super::*;
    use crate::measure::stats::SeededRandom;

    /// Rounds with a shared drift (the machine) and noise of their own: the candidate takes
    /// `factor` times the baseline's time.
    fn rounds(factor: f64, n: usize, seed: u64) -> Vec<(f64, f64)> {
        let mut random = SeededRandom::new(seed);
        let mut noise =
            move || 1.0 + 0.02 * ((random.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
        (0..n)
            .map(|round| {
                let drift = 250.0 * (1.0 + 0.3 * (round as f64 * 0.7).sin());
                (drift * noise(), drift * factor * noise())
            })
            .collect()
    }

    #[test]
    fn same_run_pairs_find_a_real_slow_down_and_no_change_where_there_is_none() {
        let thresholds = Thresholds::default();
        let slower = paired_startup_change("a", "warm", &rounds(1.10, 12, 1), 7, thresholds);
        assert_eq!(slower.verdict, Verdict::Regression, "{slower:?}");
        assert_eq!(slower.basis, Basis::SameRun);
        assert!((slower.change.unwrap() - 0.10).abs() < 0.02, "{slower:?}");
        assert!(has_regression(&[slower]));
        // A/A at 12 rounds, where a regression can be reached (above), with no threshold to
        // hide behind: only the statistics keep noise from being called a slow-down, at about
        // 2.5% (one side of a 5% two-sided test) or less.
        let bare = Thresholds {
            startup: 0.0,
            ..thresholds
        };
        let nights = 400;
        let false_regressions = (0..nights)
            .filter(|seed| {
                paired_startup_change("a", "warm", &rounds(1.0, 12, *seed), *seed, bare).verdict
                    == Verdict::Regression
            })
            .count();
        assert!(
            false_regressions <= nights as usize / 20,
            "{false_regressions} of {nights} unchanged pairs called a regression"
        );
        // Below the threshold it is no change even when resolved.
        let small = paired_startup_change("a", "warm", &rounds(1.02, 12, 3), 3, thresholds);
        assert_eq!(small.verdict, Verdict::NoChange, "{small:?}");
        // Four rounds cannot make a regression, however large: the rank test cannot reach 5%.
        let four = paired_startup_change("a", "warm", &rounds(1.3, 4, 3), 3, thresholds);
        assert_eq!(four.verdict, Verdict::NoChange, "{four:?}");
        let few = paired_startup_change("a", "warm", &rounds(1.5, 1, 3), 3, thresholds);
        assert_eq!(few.verdict, Verdict::Missing);
    }

    #[test]
    fn rounds_pair_by_round_and_skip_failed_runs() {
        use crate::measure::startup::{Cache, RunRecord, Target};
        let target = |image: &str| Target {
            image: image.into(),
            reference: image.into(),
            variants: vec![],
            kind: crate::model::catalog::AppKind::Console,
            app: "console".into(),
            launch: crate::model::app::Launch::sample(crate::model::catalog::AppKind::Console),
        };
        let run = |image: &str, round: usize, total: f64, ok: bool| RunRecord {
            round,
            ok,
            total_ms: Some(total),
            ..target(image).record(Cache::Warm)
        };
        let records = vec![
            run("b", 1, 100.0, true),
            run("c", 1, 90.0, true),
            run("c", 2, 95.0, true),
            run("b", 2, 105.0, false),
            run("b", 3, 110.0, true),
            run("c", 3, 99.0, true),
        ];
        assert_eq!(
            paired_rounds(&records, "b", "c", Cache::Warm),
            vec![(100.0, 90.0), (110.0, 99.0)]
        );
        assert!(paired_rounds(&records, "b", "c", Cache::Cold).is_empty());
    }

    #[test]
    fn threshold_settings_are_percent_and_thresholds_fractions() {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            settings: ThresholdSettings,
        }
        let parsed = <Command as clap::Parser>::parse_from(["r2r", "--size-threshold", "2"]);
        assert_eq!(
            parsed.settings.thresholds(),
            Thresholds {
                size: 0.02,
                ..Thresholds::default()
            }
        );
    }

    fn paired_change(image: &str, p_value: f64, verdict: Verdict) -> MetricChange {
        MetricChange {
            image: image.into(),
            metric: "startup_warm_total_ms".into(),
            unit: "ms".into(),
            baseline: Some(100.0),
            current: Some(110.0),
            change: Some(0.1),
            p_value: Some(p_value),
            verdict,
            basis: Basis::SameRun,
        }
    }

    #[test]
    fn holm_adjusts_the_paired_family_and_keeps_what_it_still_carries() {
        let mut changes = vec![
            paired_change("a", 0.01, Verdict::Regression),
            paired_change("b", 0.03, Verdict::Regression),
            paired_change("c", 0.04, Verdict::Improvement),
            MetricChange {
                metric: "gzip_bytes".into(),
                basis: Basis::Exact,
                p_value: Some(0.0),
                ..paired_change("a", 0.0, Verdict::Regression)
            },
        ];
        holm(&mut changes, 0.05);
        // Three in the family: 3 × 0.01, then max(0.03, 2 × 0.03), then max(0.06, 1 × 0.04).
        let adjusted: Vec<f64> = changes.iter().map(|c| c.p_value.unwrap()).collect();
        assert!((adjusted[0] - 0.03).abs() < 1e-12 && (adjusted[1] - 0.06).abs() < 1e-12);
        assert!((adjusted[2] - 0.06).abs() < 1e-12, "{adjusted:?}");
        let verdicts: Vec<Verdict> = changes.iter().map(|c| c.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Regression,
                Verdict::NoChange,
                Verdict::NoChange,
                Verdict::Regression
            ]
        );
        assert_eq!(adjusted[3], 0.0, "an exact size is not in the family");
    }

    #[test]
    fn holm_keeps_the_family_wise_rate_where_plain_tests_do_not() {
        // 4000 nights of four unchanged pairs: p-values uniform on (0, 1).
        let mut random = SeededRandom::new(23);
        let (mut plain, mut corrected) = (0, 0);
        let nights = 4000;
        for _ in 0..nights {
            let mut changes: Vec<MetricChange> = (0..4)
                .map(|i| {
                    let p = (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let verdict = if p < 0.05 {
                        Verdict::Regression
                    } else {
                        Verdict::NoChange
                    };
                    paired_change(&format!("image-{i}"), p, verdict)
                })
                .collect();
            plain += usize::from(changes.iter().any(|c| c.verdict == Verdict::Regression));
            holm(&mut changes, 0.05);
            corrected += usize::from(changes.iter().any(|c| c.verdict == Verdict::Regression));
        }
        let rate = |count: usize| count as f64 / nights as f64;
        // 1 - 0.95^4 = 18.5% without a correction; at most 5% with it (binomial sd 0.34%).
        assert!(rate(plain) > 0.16, "{}", rate(plain));
        assert!(rate(corrected) < 0.06, "{}", rate(corrected));
    }
}
