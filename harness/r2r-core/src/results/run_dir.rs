//! A run directory and every file in it: [`RunDir`] hands out each result file's path (the
//! names live in the files' own modules), and [`CsvFile`] ties a row type to its file, so a
//! CSV file is written and read through its row type alone.

use std::path::{Path, PathBuf};

use crate::results::reading::{self, RunDataError};

pub use crate::results::csv_rows::CsvFile;
use crate::results::files;

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

    /// `run.json`.
    pub fn run_json(&self) -> std::path::PathBuf {
        self.path(crate::results::run_record::FILE)
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
    use crate::results::{rows, startup_runs};

    #[test]
    fn every_file_is_named_in_its_module() {
        let run = RunDir::new("/r/quick/20261124T000000Z");
        let names: Vec<String> = [
            run.run_json(),
            run.plan_json(),
            run.scenario_toml(),
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
            run.answer_csv(),
            run.tune_recipes(),
            run.tune_recording("webapi"),
        ]
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
        assert_eq!(
            names.join(" "),
            "run.json plan.json scenario.toml engine.json build.json verify.json summary.json sizes.csv \
             layers.csv sharing.csv anatomy.csv startup.csv startup-runs.csv report.md \
             report.html compare-baseline.csv compare-published.csv compare-startup-runs.csv \
             merged.json answer.csv recipes.toml webapi.assemblies.txt"
        );
        assert_eq!(run.tune_recipes().parent(), Some(run.tune_dir().as_path()));
        assert_eq!(run.csv_path::<rows::SizeRow>(), run.sizes_csv());
        assert_eq!(
            run.csv_path::<startup_runs::RunRecord>(),
            run.startup_runs_csv()
        );
    }
}
