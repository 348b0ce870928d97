//! Size against start-up per app (`answer-<app>`): one point per image of the app, at its
//! compressed size and its paired cold speed-up against the app as shipped, with the 95%
//! interval as a vertical bar; the app as shipped sits on the line at 1.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, Axis, DrawResult, Figure};
use super::{Charts, Inputs};
use crate::report::MB;

/// Points with vertical intervals around a reference line at y = 1.
#[derive(Debug, Clone)]
pub(super) struct Tradeoff {
    /// The chart's title.
    pub title: String,
    /// What y is.
    pub y_label: String,
    /// (label, gzip MB, speed-up, interval low, interval high) per image.
    pub points: Vec<(String, f64, f64, f64, f64)>,
}

impl Figure for Tradeoff {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let low = self.points.iter().map(|p| p.3).fold(1.0_f64, f64::min);
        let high = self.points.iter().map(|p| p.4).fold(1.0_f64, f64::max);
        let margin = ((high - low) * 0.15).max(0.02);
        let mut plot = canvas::axes(
            root,
            &self.title,
            Axis::Values {
                description: "compressed size, gzip MB (10^6 bytes)",
                range: 0.0..canvas::upper(self.points.iter().map(|p| p.1)),
            },
            Axis::Values {
                description: &self.y_label,
                range: (low - margin)..(high + margin),
            },
        )?;
        let right = canvas::upper(self.points.iter().map(|p| p.1));
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 1.0), (right, 1.0)],
            BLACK.mix(0.5),
        )))
        .map_err(|e| e.to_string())?;
        plot.draw_series(
            self.points
                .iter()
                .enumerate()
                .map(|(i, (_, x, _, lo, hi))| {
                    PathElement::new(
                        vec![(*x, *lo), (*x, *hi)],
                        canvas::colour(i).stroke_width(2),
                    )
                }),
        )
        .map_err(|e| e.to_string())?;
        plot.draw_series(
            self.points
                .iter()
                .enumerate()
                .map(|(i, (name, x, y, _, _))| {
                    EmptyElement::at((*x, *y))
                        + Circle::new((0, 0), 5, canvas::colour(i).filled())
                        + Text::new(name.clone(), (7, -14), canvas::note_font(&BLACK))
                }),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// Adds one `answer-<app>` chart per app of `answer.csv` with at least one timed image
/// besides as shipped: the cold speed-up, or the warm one in a run that timed warm starts
/// only.
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let rows = inputs.answer.as_deref().unwrap_or_default();
    let cold = rows.iter().any(|row| row.cold_speedup.is_some());
    let cache = if cold { "cold" } else { "warm" };
    let mut apps: Vec<&str> = rows.iter().map(|row| row.app.as_str()).collect();
    apps.dedup();
    for app in apps {
        let points: Vec<(String, f64, f64, f64, f64)> = rows
            .iter()
            .filter(|row| row.app == app)
            .filter_map(|row| {
                let mb = row.gzip_bytes? as f64 / MB;
                let label = match row.recipe.as_str() {
                    "" if row.as_shipped => "as shipped".to_string(),
                    "" => row.variant.clone(),
                    recipe => recipe.to_string(),
                };
                if row.as_shipped {
                    return Some((label, mb, 1.0, 1.0, 1.0));
                }
                let (speedup, low, high) = if cold {
                    (row.cold_speedup?, row.cold_ci95_low, row.cold_ci95_high)
                } else {
                    (row.warm_speedup?, row.warm_ci95_low, row.warm_ci95_high)
                };
                Some((
                    label,
                    mb,
                    speedup,
                    low.unwrap_or(speedup),
                    high.unwrap_or(speedup),
                ))
            })
            .collect();
        let name = format!("answer-{app}");
        if points.len() < 2 {
            charts.skip(
                &name,
                "fewer than two images with a size and a paired start-up",
            );
            continue;
        }
        charts.add(
            name,
            Tradeoff {
                title: format!("{app}: compressed size against {cache} start-up, per image"),
                y_label: format!("{cache} start, times faster than as shipped (95% interval)"),
                points,
            },
        );
    }
}
