//! What a person reads: the report of a run, its plots, and comparisons with a baseline run
//! or the published figures. Everything here reads exported files.

pub mod answer;
pub mod calibration;
pub mod compare;
pub mod deploy;
pub mod document;
pub mod engines;
pub mod merge;
pub mod nightly;
pub mod plot;
pub mod published_rows;
pub mod show;

/// Bytes per MB in every table (10^6, as the published reports use).
pub const MB: f64 = 1e6;

/// A table with a title and a note under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Heading.
    pub title: String,
    /// One sentence on what the table shows.
    pub note: String,
    /// Column headers (with units).
    pub headers: Vec<String>,
    /// Cells, row by row, already formatted.
    pub rows: Vec<Vec<String>>,
}
