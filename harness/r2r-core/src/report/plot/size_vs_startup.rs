//! Compressed size against warm start-up: one labelled point per image with both.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, Axis, DrawResult, Figure};
use super::{Charts, Inputs};
use crate::report::MB;

/// Labelled points.
#[derive(Debug, Clone)]
pub(super) struct Scatter {
    /// The chart's title.
    pub title: String,
    /// What x is, with the unit.
    pub x_label: String,
    /// What y is, with the unit.
    pub y_label: String,
    /// (label, x, y) per point.
    pub points: Vec<(String, f64, f64)>,
}

impl Figure for Scatter {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let mut plot = canvas::axes(
            root,
            &self.title,
            Axis::Values {
                description: &self.x_label,
                range: 0.0..canvas::upper(self.points.iter().map(|p| p.1)),
            },
            Axis::Values {
                description: &self.y_label,
                range: 0.0..canvas::upper(self.points.iter().map(|p| p.2)),
            },
        )?;
        plot.draw_series(self.points.iter().enumerate().map(|(i, (name, x, y))| {
            EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 5, canvas::colour(i).filled())
                + Text::new(name.clone(), (7, -14), canvas::note_font(&BLACK))
        }))
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// Adds the `size-vs-startup` chart (skipped when no image has both a size and a warm
/// start-up).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let summary = inputs.summary.as_deref().unwrap_or_default();
    let points: Vec<(String, f64, f64)> = inputs
        .sizes
        .iter()
        .flatten()
        .filter_map(|size| {
            let warm = summary
                .iter()
                .find(|r| r.image == size.image && r.phase == "total" && r.cache == "warm")?;
            Some((
                size.image.clone(),
                size.gzip_bytes as f64 / MB,
                warm.median_ms,
            ))
        })
        .collect();
    if points.is_empty() {
        return charts.skip(
            "size-vs-startup",
            "no image has both a size and a warm start-up",
        );
    }
    charts.add(
        "size-vs-startup",
        Scatter {
            title: "Compressed size against warm start-up".into(),
            x_label: "gzip MB (10^6 bytes)".into(),
            y_label: "median warm start-up, ms".into(),
            points,
        },
    );
}
