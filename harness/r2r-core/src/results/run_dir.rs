//! A run directory and every file in it: [`RunDir`] hands out each result file's path (the
//! names live in the files' own modules), and [`CsvFile`] ties a row type to its file, so a
//! CSV file is written and read through its row type alone.

use std::path::{Path, PathBuf};

use crate::results::reading::{self, RunDataError};

pub use crate::results::csv_rows::CsvFile;
use crate::results::{
    anatomy, build_file, compare_files, engine_file, files, layers, plan_file, report_files,
    run_record, sharing, sizes, startup_runs, startup_summary, summary_file, verify_file,
};

/// One run's directory (`<results>/<scenario>/<run-id>/`) and the paths of its files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunDir {
    directory: PathBuf,
}

impl RunDir {
    /// The run directory at `directory`.
    pub fn new(directory: impl Into<PathBuf>) -> RunDir {
        RunDir {
            directory: directory.into(),
        }
    }

    /// The directory itself.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The path of the file named `name` in the directory (a name from a file's module,
    /// e.g. [`sizes::FILE`]).
    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }

    /// The path of the CSV file of row type `T`.
    pub fn csv_path<T: CsvFile>(&self) -> PathBuf {
        self.path(T::NAME)
    }

    /// Writes the CSV file of row type `T` whole (header from the type, then the rows).
    pub fn write_rows<T: CsvFile>(&self, rows: &[T]) -> std::io::Result<()> {
        files::write_csv(&self.csv_path::<T>(), rows)
    }

    /// Reads the CSV file of row type `T`; `Ok(None)` when the run has none.
    pub fn read_rows<T: CsvFile>(&self) -> Result<Option<Vec<T>>, RunDataError> {
        reading::read_csv(&self.csv_path::<T>(), T::REQUIRED)
    }

    /// `run.json`.
    pub fn run_json(&self) -> PathBuf {
        self.path(run_record::FILE)
    }

    /// `plan.json`.
    pub fn plan_json(&self) -> PathBuf {
        self.path(plan_file::FILE)
    }

    /// `engine.json`.
    pub fn engine_json(&self) -> PathBuf {
        self.path(engine_file::FILE)
    }

    /// `build.json`.
    pub fn build_json(&self) -> PathBuf {
        self.path(build_file::FILE)
    }

    /// `verify.json`.
    pub fn verify_json(&self) -> PathBuf {
        self.path(verify_file::FILE)
    }

    /// `summary.json`.
    pub fn summary_json(&self) -> PathBuf {
        self.path(summary_file::FILE)
    }

    /// `sizes.csv`.
    pub fn sizes_csv(&self) -> PathBuf {
        self.path(sizes::FILE)
    }

    /// `layers.csv`.
    pub fn layers_csv(&self) -> PathBuf {
        self.path(layers::FILE)
    }

    /// `sharing.csv`.
    pub fn sharing_csv(&self) -> PathBuf {
        self.path(sharing::FILE)
    }

    /// `anatomy.csv`.
    pub fn anatomy_csv(&self) -> PathBuf {
        self.path(anatomy::FILE)
    }

    /// `startup.csv`.
    pub fn startup_csv(&self) -> PathBuf {
        self.path(startup_summary::FILE)
    }

    /// `startup-runs.csv`.
    pub fn startup_runs_csv(&self) -> PathBuf {
        self.path(startup_runs::FILE)
    }

    /// `report.md`.
    pub fn report_md(&self) -> PathBuf {
        self.path(report_files::MARKDOWN)
    }

    /// `report.html`.
    pub fn report_html(&self) -> PathBuf {
        self.path(report_files::HTML)
    }

    /// The `plots` folder.
    pub fn plots(&self) -> PathBuf {
        self.path(report_files::PLOTS)
    }

    /// `compare-baseline.csv` (`r2r compare --baseline`, `r2r merge --baseline`).
    pub fn compare_baseline_csv(&self) -> PathBuf {
        self.path(compare_files::BASELINE)
    }

    /// `compare-published.csv` (`r2r compare --published`).
    pub fn compare_published_csv(&self) -> PathBuf {
        self.path(compare_files::PUBLISHED)
    }

    /// `compare-startup-runs.csv` (`r2r compare --startup-runs`).
    pub fn compare_startup_runs_csv(&self) -> PathBuf {
        self.path(compare_files::STARTUP_RUNS)
    }

    /// `merged.json` (a merged directory).
    pub fn merged_json(&self) -> PathBuf {
        self.path(compare_files::MERGED)
    }
}

impl AsRef<Path> for RunDir {
    fn as_ref(&self) -> &Path {
        &self.directory
    }
}

impl From<&Path> for RunDir {
    fn from(directory: &Path) -> RunDir {
        RunDir::new(directory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::rows;

    #[test]
    fn every_file_is_named_in_its_module() {
        let run = RunDir::new("/r/quick/20261124T000000Z");
        let names: Vec<String> = [
            run.run_json(),
            run.plan_json(),
            run.engine_json(),
            run.build_json(),
            run.verify_json(),
            run.summary_json(),
            run.sizes_csv(),
            run.layers_csv(),
            run.sharing_csv(),
            run.anatomy_csv(),
            run.startup_csv(),
            run.startup_runs_csv(),
            run.report_md(),
            run.report_html(),
            run.compare_baseline_csv(),
            run.compare_published_csv(),
            run.compare_startup_runs_csv(),
            run.merged_json(),
        ]
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
        assert_eq!(
            names.join(" "),
            "run.json plan.json engine.json build.json verify.json summary.json sizes.csv \
             layers.csv sharing.csv anatomy.csv startup.csv startup-runs.csv report.md \
             report.html compare-baseline.csv compare-published.csv compare-startup-runs.csv \
             merged.json"
        );
        assert_eq!(run.csv_path::<rows::SizeRow>(), run.sizes_csv());
        assert_eq!(
            run.csv_path::<startup_runs::RunRecord>(),
            run.startup_runs_csv()
        );
    }
}
