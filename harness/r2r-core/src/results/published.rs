//! The published dataset (`results/published/`): the figures of published reports and the
//! comparisons between them that a run is checked against (read by the report stage's
//! `r2r compare --published`).

/// The published figures: one row per published image size.
pub const FIGURES: &str = "figures.csv";

/// The published comparisons: ratios (or deltas) between two published figures.
pub const COMPARISONS: &str = "comparisons.csv";
