//! Horizontal bars, one row per category, the series side by side or stacked: the chart of
//! sizes, of owned and shared layers, of where the bytes go and of the start-up phases.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{self, DrawResult, Figure, Marker};

/// Horizontal bars per category, grouped or stacked.
#[derive(Debug, Clone)]
pub(super) struct Bars {
    /// The chart's title.
    pub title: String,
    /// What the bars measure, with the unit.
    pub value_label: String,
    /// One row per category, top down.
    pub categories: Vec<String>,
    /// Named series, one value per category each.
    pub series: Vec<(String, Vec<f64>)>,
    /// Whether the series stack end to end (else they stand side by side).
    pub stacked: bool,
}

impl Bars {
    /// The value of series `series` in category `category` (0 when it has none).
    fn value(&self, series: usize, category: usize) -> f64 {
        self.series[series].1.get(category).copied().unwrap_or(0.0)
    }

    /// The sum of the series before `series` in category `category`: where a stacked bar starts.
    fn below(&self, series: usize, category: usize) -> f64 {
        (0..series).map(|s| self.value(s, category)).sum()
    }
}

impl Figure for Bars {
    fn title(&self) -> &str {
        &self.title
    }

    fn height(&self) -> u32 {
        canvas::rows_height(&self.categories)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let max = if self.stacked {
            canvas::upper((0..self.categories.len()).map(|i| self.below(self.series.len(), i)))
        } else {
            canvas::upper(self.series.iter().flat_map(|(_, v)| v.iter().copied()))
        };
        let mut plot = canvas::row_axes(
            root,
            &self.title,
            &self.value_label,
            0.0..max,
            &self.categories,
        )?;
        let groups = self.series.len().max(1) as f64;
        for (s, (_, values)) in self.series.iter().enumerate() {
            let fill = canvas::colour(s).filled();
            let bars = values.iter().enumerate().map(|(i, value)| {
                let (low, high, left) = if self.stacked {
                    (i as f64 - 0.35, i as f64 + 0.35, self.below(s, i))
                } else {
                    let width = 0.8 / groups;
                    let top = i as f64 - 0.4 + width * s as f64;
                    (top, top + width * 0.92, 0.0)
                };
                Rectangle::new([(left, low), (left + value.max(0.0), high)], fill)
            });
            plot.draw_series(bars).map_err(|e| e.to_string())?;
        }
        canvas::legend(
            &mut plot,
            self.series.iter().map(|(name, _)| name.as_str()),
            Marker::Square,
            SeriesLabelPosition::LowerRight,
        )
    }
}
