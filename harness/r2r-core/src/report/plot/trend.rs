//! Trends over nightly runs: one chart per metric of a history file, one line per image over
//! the runs in run-id order, a vertical mark where the runs' .NET version changed.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, Axis, DrawResult, Figure, Marker};
use crate::report::MB;
use crate::results::rows::HistoryRow;

/// Lines over an index (runs).
#[derive(Debug, Clone)]
pub(super) struct Lines {
    /// The chart's title.
    pub title: String,
    /// What y is, with the unit.
    pub y_label: String,
    /// The label of each index along x.
    pub x_labels: Vec<String>,
    /// Named series, one value (or none) per index each.
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Vertical marks before an index with their label (where the .NET version changed).
    pub marks: Vec<(usize, String)>,
}

impl Figure for Lines {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let max = canvas::upper(
            self.series
                .iter()
                .flat_map(|(_, v)| v.iter().flatten().copied()),
        );
        let mut plot = canvas::axes(
            root,
            &self.title,
            Axis::Categories(&self.x_labels),
            Axis::Values {
                description: &self.y_label,
                range: 0.0..max,
            },
        )?;
        for (s, (_, values)) in self.series.iter().enumerate() {
            let c = canvas::colour(s);
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                .collect();
            plot.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            plot.draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                .map_err(|e| e.to_string())?;
        }
        let grey = RGBColor(110, 110, 110);
        for (index, label) in &self.marks {
            let x = *index as f64 - 0.5;
            plot.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, max)],
                grey.stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
            plot.draw_series(std::iter::once(Text::new(
                label.clone(),
                (x, max * 0.97),
                canvas::note_font(&grey),
            )))
            .map_err(|e| e.to_string())?;
        }
        canvas::legend(
            &mut plot,
            self.series.iter().map(|(name, _)| name.as_str()),
            Marker::Line,
            SeriesLabelPosition::LowerLeft,
        )
    }
}

/// Where the .NET version changes along runs (`versions[i]`: run `i`'s version, empty when
/// unknown): `(i, "10.0.14 → 10.0.15")` for each run on another version than the last known.
pub fn version_marks(versions: &[String]) -> Vec<(usize, String)> {
    let mut marks = Vec::new();
    let mut last: Option<&str> = None;
    for (index, version) in versions.iter().enumerate() {
        if version.is_empty() {
            continue;
        }
        if let Some(previous) = last.filter(|previous| previous != version) {
            marks.push((index, format!(".NET {previous} → {version}")));
        }
        last = Some(version);
    }
    marks
}

/// The trend charts of a history's rows, named `trend-<metric>`, in metric order.
pub(super) fn charts(rows: &[HistoryRow]) -> Vec<(String, Lines)> {
    let mut runs: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
    runs.sort();
    runs.dedup();
    // A run's versions: one, or several when it merges machines on different versions.
    let versions: Vec<String> = runs
        .iter()
        .map(|run| {
            let mut versions: Vec<&str> = rows
                .iter()
                .filter(|r| r.run_id == *run && !r.dotnet.is_empty())
                .map(|r| r.dotnet.as_str())
                .collect();
            versions.sort();
            versions.dedup();
            versions.join(", ")
        })
        .collect();
    let marks = version_marks(&versions);
    let mut metrics: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    metrics.sort();
    metrics.dedup();
    metrics
        .into_iter()
        .map(|metric| {
            let mut images: Vec<&str> = rows
                .iter()
                .filter(|r| r.metric == metric)
                .map(|r| r.image.as_str())
                .collect();
            images.sort();
            images.dedup();
            let bytes = metric.ends_with("_bytes");
            let series = images
                .iter()
                .map(|image| {
                    let values = runs
                        .iter()
                        .map(|run| {
                            rows.iter()
                                .find(|r| {
                                    r.run_id == *run && r.image == *image && r.metric == metric
                                })
                                .map(|r| if bytes { r.value / MB } else { r.value })
                        })
                        .collect();
                    (image.to_string(), values)
                })
                .collect();
            let chart = Lines {
                title: format!("Trend: {metric}"),
                y_label: if bytes {
                    "MB (10^6 bytes)".into()
                } else {
                    "ms".into()
                },
                x_labels: runs.iter().map(|r| r.to_string()).collect(),
                series,
                marks: marks.clone(),
            };
            (format!("trend-{}", metric.replace('_', "-")), chart)
        })
        .collect()
}
