//! What a person reads: the report of a run, its plots, and comparisons with a baseline run
//! or the published figures. Everything here reads exported files.

pub mod compare;
pub mod document;
pub mod plot;
pub mod published_rows;
