//! Result files: written whole, recorded in `run.json`, and read back as typed rows.

pub mod files;
pub mod reading;
pub mod rows;
pub mod run_data;
pub mod run_record;
pub mod runs;
