//! The published dataset (`results/published/`): the figures of published reports and the
//! comparisons between them that a run is checked against (read by the report stage's
//! `r2r compare --published`).

/// The published figures: one row per published image size.
pub const FIGURES: &str = "figures.csv";

/// The published comparisons: ratios (or deltas) between two published figures.
pub const COMPARISONS: &str = "comparisons.csv";

/// Which of r2r's images (`variant:role`) rebuilds each published row.
pub const ROWS: &str = "rows.csv";

/// The published figures as compiled in, so that a report of any run directory can print
/// them.
pub const FIGURES_TEXT: &str = include_str!("../../../../results/published/figures.csv");

/// The published rows' mapping to r2r's images, as compiled in.
pub const ROWS_TEXT: &str = include_str!("../../../../results/published/rows.csv");
