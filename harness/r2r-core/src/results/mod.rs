//! Result files: the run directory and every file in it. Each file has one module here that
//! names it, defines its row (or holds its value) once with serde, and says how it is written
//! (whole and atomically, or appended row by row) and read back; [`RunDir`] hands out the
//! paths. The measurement, run and report stages write and read through these modules, so a
//! file's name and columns are stated in one place.
//!
//! The bottom of the pipeline's output side: nothing here uses the measurement, run or report
//! stages (they use this); it only names the plan, the engine's description and the builds it
//! stores.

pub mod anatomy;
pub mod answer_file;
pub mod build_file;
pub mod calibration;
pub mod compare_files;
pub mod csv_rows;
pub mod engine_file;
pub mod files;
pub mod history;
pub mod layers;
pub mod load_file;
pub mod node_file;
pub mod plan_file;
pub mod published;
pub mod reading;
pub mod report_files;
pub mod rows;
pub mod run_data;
pub mod run_dir;
pub mod run_record;
pub mod runs;
pub mod scenario_file;
pub mod sharing;
pub mod sizes;
pub mod startup_runs;
pub mod startup_summary;
pub mod summary_file;
pub mod tune_files;
pub mod verify_file;

pub use csv_rows::CsvFile;
pub use run_dir::RunDir;
