//! Start-up speed-up against the baseline: one row per image and cache mode, the geometric
//! mean of its per-round ratios to the baseline with its 95% interval, against a line at no
//! difference.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, DrawResult, Figure, Marker};
use super::{Charts, Inputs, CACHE_LEGEND};
use crate::results::run_data::StartupRow;

/// Estimates with their intervals per category, against a reference value (drawn as a
/// vertical line): a point at the estimate, a bar from low to high.
#[derive(Debug, Clone)]
pub(super) struct Intervals {
    /// The chart's title.
    pub title: String,
    /// What the values are, with the unit.
    pub value_label: String,
    /// One row per category, top down.
    pub categories: Vec<String>,
    /// (low, estimate, high) per category; a value that is not finite is not drawn.
    pub intervals: Vec<(f64, f64, f64)>,
    /// The colour index of each category.
    pub colours: Vec<usize>,
    /// The legend: the name of each colour index, in order.
    pub legend: &'static [&'static str],
    /// Where the reference line stands.
    pub reference: f64,
}

impl Figure for Intervals {
    fn title(&self) -> &str {
        &self.title
    }

    fn height(&self) -> u32 {
        canvas::rows_height(&self.categories)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n = self.categories.len();
        let values = self
            .intervals
            .iter()
            .flat_map(|(low, mid, high)| [*low, *mid, *high])
            .chain([self.reference])
            .filter(|v| v.is_finite());
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let pad = ((max - min) * 0.08).max(0.005);
        let mut plot = canvas::row_axes(
            root,
            &self.title,
            &self.value_label,
            (min - pad)..(max + pad),
            &self.categories,
        )?;
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(self.reference, -0.5), (self.reference, n as f64 - 0.5)],
            BLACK.mix(0.6).stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
        for (i, (low, mid, high)) in self.intervals.iter().enumerate() {
            let y = i as f64;
            let c = canvas::colour(self.colours.get(i).copied().unwrap_or(0));
            let mut elements: Vec<DynElement<'static, DB, (f64, f64)>> = Vec::new();
            if low.is_finite() && high.is_finite() {
                elements.push(
                    PathElement::new(vec![(*low, y), (*high, y)], c.stroke_width(3)).into_dyn(),
                );
                for end in [*low, *high] {
                    elements.push(
                        PathElement::new(vec![(end, y - 0.2), (end, y + 0.2)], c.stroke_width(2))
                            .into_dyn(),
                    );
                }
            }
            if mid.is_finite() {
                elements.push(Circle::new((*mid, y), 5, c.filled()).into_dyn());
            }
            plot.draw_series(elements).map_err(|e| e.to_string())?;
        }
        canvas::legend(
            &mut plot,
            self.legend.iter().copied(),
            Marker::Dot,
            SeriesLabelPosition::LowerRight,
        )
    }
}

/// Adds the `startup-speedup` chart of every image paired with its baseline (skipped when
/// `startup.csv` has no paired comparison).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let speedups: Vec<&StartupRow> = inputs
        .summary
        .iter()
        .flatten()
        .filter(|r| r.phase == "total" && r.image != r.baseline && r.paired_speedup.is_some())
        .collect();
    if speedups.is_empty() {
        return charts.skip(
            "startup-speedup",
            &format!(
                "no paired comparison in {}",
                crate::results::startup_summary::FILE
            ),
        );
    }
    charts.add(
        "startup-speedup",
        Intervals {
            title: "Start-up speed-up against the baseline, paired by round".into(),
            value_label: "times faster (geometric mean of per-round ratios, 95% interval; line: no difference)".into(),
            categories: speedups
                .iter()
                .map(|r| format!("{} vs {} ({})", r.image, r.baseline, r.cache))
                .collect(),
            intervals: speedups
                .iter()
                .map(|r| {
                    (
                        r.paired_ci95_low.unwrap_or(f64::NAN),
                        r.paired_speedup.unwrap_or(f64::NAN),
                        r.paired_ci95_high.unwrap_or(f64::NAN),
                    )
                })
                .collect(),
            colours: speedups
                .iter()
                .map(|r| usize::from(r.cache == "warm"))
                .collect(),
            legend: &CACHE_LEGEND,
            reference: 1.0,
        },
    );
}
