//! Start-up phases: one row per image and cache mode, the medians of its phases (create,
//! start to ready, first request) stacked.

use super::bars::Bars;
use super::{Charts, Inputs};
use crate::results::run_data::StartupRow;

/// The phases stacked, in order (as `startup.csv` names them).
const PHASES: [&str; 3] = ["create", "start_to_ready", "first_request"];

/// Adds the `startup-phases` chart (skipped when the run has no `startup.csv`).
pub(super) fn add(inputs: &Inputs, charts: &mut Charts) {
    let summary = inputs.summary.as_deref().unwrap_or_default();
    let totals: Vec<&StartupRow> = summary.iter().filter(|r| r.phase == "total").collect();
    if totals.is_empty() {
        return charts.skip(
            "startup-phases",
            &format!("no {} in the run", crate::results::startup_summary::FILE),
        );
    }
    let median = |total: &StartupRow, phase: &str| {
        summary
            .iter()
            .find(|r| r.image == total.image && r.cache == total.cache && r.phase == phase)
            .map(|r| r.median_ms)
            .unwrap_or(0.0)
    };
    charts.add(
        "startup-phases",
        Bars {
            title: "Start-up phases (medians)".into(),
            value_label: "ms".into(),
            categories: totals
                .iter()
                .map(|r| format!("{} ({})", r.image, r.cache))
                .collect(),
            series: PHASES
                .iter()
                .map(|phase| {
                    (
                        phase.replace('_', " "),
                        totals.iter().map(|r| median(r, phase)).collect(),
                    )
                })
                .collect(),
            stacked: true,
        },
    );
}
