//! Per-run distributions of start-up: for each app and each measure (the time to ready, to
//! `Main`, of the first request, and what the container did underneath: bytes read, major
//! faults, peak memory), one row per image and cache mode with every run as a point over its
//! box (quartiles), whiskers (min to max) and median.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, DrawResult, Figure, Marker};
use super::{Charts, Inputs, CACHE_LEGEND};
use crate::report::MB;
use crate::results::run_data::StartupRunRow;

/// Distributions per category: points, box (quartiles), whiskers (min..max), median.
#[derive(Debug, Clone)]
pub(super) struct Strips {
    /// The chart's title.
    pub title: String,
    /// What the values are, with the unit.
    pub value_label: String,
    /// One row per category, top down.
    pub categories: Vec<String>,
    /// The values of each category.
    pub samples: Vec<Vec<f64>>,
    /// The colour index of each category.
    pub colours: Vec<usize>,
    /// The legend: the name of each colour index, in order.
    pub legend: &'static [&'static str],
}

impl Figure for Strips {
    fn title(&self) -> &str {
        &self.title
    }

    fn height(&self) -> u32 {
        canvas::rows_height(&self.categories)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let max = canvas::upper(self.samples.iter().flat_map(|s| s.iter().copied()));
        let mut plot = canvas::row_axes(
            root,
            &self.title,
            &self.value_label,
            0.0..max,
            &self.categories,
        )?;
        for (i, values) in self.samples.iter().enumerate() {
            if values.is_empty() {
                continue;
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let q = |p: f64| crate::measure::stats::quantile(&sorted, p);
            let y = i as f64;
            let c = canvas::colour(self.colours.get(i).copied().unwrap_or(0));
            let elements: Vec<DynElement<'static, DB, (f64, f64)>> = vec![
                PathElement::new(
                    vec![(sorted[0], y), (sorted[sorted.len() - 1], y)],
                    c.stroke_width(1),
                )
                .into_dyn(),
                Rectangle::new(
                    [(q(0.25), y - 0.25), (q(0.75), y + 0.25)],
                    c.mix(0.25).filled(),
                )
                .into_dyn(),
                Rectangle::new(
                    [(q(0.25), y - 0.25), (q(0.75), y + 0.25)],
                    c.stroke_width(1),
                )
                .into_dyn(),
                PathElement::new(
                    vec![(q(0.5), y - 0.32), (q(0.5), y + 0.32)],
                    BLACK.stroke_width(3),
                )
                .into_dyn(),
            ];
            plot.draw_series(elements).map_err(|e| e.to_string())?;
            // Points spread vertically in a fixed pattern so that equal values stay visible.
            let points = values.iter().enumerate().map(|(k, v)| {
                Circle::new(
                    (*v, y - 0.18 + 0.36 * ((k * 7 % 11) as f64 / 10.0)),
                    3,
                    c.filled(),
                )
            });
            plot.draw_series(points).map_err(|e| e.to_string())?;
        }
        canvas::legend(
            &mut plot,
            self.legend.iter().copied(),
            Marker::Dot,
            SeriesLabelPosition::LowerLeft,
        )
    }
}

/// A measure of a run drawn as its own chart.
struct Measure {
    /// The chart name's suffix after `startup-<app>`.
    suffix: &'static str,
    /// What is measured (the title's end).
    what: &'static str,
    /// The unit of the values.
    unit: &'static str,
    /// The run's value, in `unit` (`None` when not measured).
    value: fn(&StartupRunRow) -> Option<f64>,
}

/// The measures after the total time, each as its own chart.
const MEASURES: [Measure; 5] = [
    Measure {
        suffix: "-time-to-main",
        what: "start request to Main, on the monotonic clock",
        unit: "ms",
        value: |run| run.time_to_main_ms,
    },
    Measure {
        suffix: "-first-request",
        what: "one request once ready",
        unit: "ms",
        value: |run| run.first_request_ms,
    },
    Measure {
        suffix: "-read",
        what: "bytes read from disk (cgroup)",
        unit: "MB (10^6 bytes)",
        value: |run| run.read_bytes.map(|b| b as f64 / MB),
    },
    Measure {
        suffix: "-major-faults",
        what: "major page faults (cgroup)",
        unit: "faults",
        value: |run| run.major_faults.map(|f| f as f64),
    },
    Measure {
        suffix: "-peak-memory",
        what: "peak memory (cgroup, page cache included)",
        unit: "MB (10^6 bytes)",
        value: |run| run.peak_memory_bytes.map(|b| b as f64 / MB),
    },
];

/// Adds per app a `startup-<app>` chart of the total times and one chart per other measure
/// the runs have (skipped when no run succeeded).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let runs: Vec<&StartupRunRow> = inputs
        .runs
        .iter()
        .flatten()
        .filter(|r| r.ok && r.total_ms.is_some())
        .collect();
    if runs.is_empty() {
        charts.skip(
            "startup",
            &format!(
                "no successful runs in {}",
                crate::results::startup_runs::FILE
            ),
        );
    }
    let mut apps: Vec<&str> = runs.iter().map(|r| r.app.name()).collect();
    apps.sort();
    apps.dedup();
    for app in apps {
        let runs: Vec<&StartupRunRow> = runs
            .iter()
            .copied()
            .filter(|r| r.app.name() == app)
            .collect();
        let total = Measure {
            suffix: "",
            what: if app == "console" {
                "create to exit"
            } else {
                "create to first HTTP 200"
            },
            unit: "ms",
            value: |run| run.total_ms,
        };
        for measure in std::iter::once(&total).chain(&MEASURES) {
            if let Some(strips) = strips(app, &runs, measure) {
                charts.add(format!("startup-{app}{}", measure.suffix), strips);
            }
        }
    }
}

/// One app's chart of `measure`: a row per image (in the order of the runs) and cache mode
/// with values (`None` when no run has one).
fn strips(app: &str, runs: &[&StartupRunRow], measure: &Measure) -> Option<Strips> {
    let mut images: Vec<&str> = Vec::new();
    for run in runs {
        if !images.contains(&run.image.as_str()) {
            images.push(&run.image);
        }
    }
    let mut categories = Vec::new();
    let mut samples = Vec::new();
    let mut colours = Vec::new();
    for image in images {
        for (index, cache) in ["cold", "warm"].iter().enumerate() {
            let values: Vec<f64> = runs
                .iter()
                .filter(|r| r.image == image && r.cache.name() == *cache)
                .filter_map(|r| (measure.value)(r))
                .collect();
            if !values.is_empty() {
                categories.push(format!("{image} ({cache})"));
                samples.push(values);
                colours.push(index);
            }
        }
    }
    if samples.is_empty() {
        return None;
    }
    Some(Strips {
        title: format!("Start-up of the {app} app: {}", measure.what),
        value_label: format!(
            "{} (box: quartiles, line: min to max, bar: median)",
            measure.unit
        ),
        categories,
        samples,
        colours,
        legend: &CACHE_LEGEND,
    })
}
