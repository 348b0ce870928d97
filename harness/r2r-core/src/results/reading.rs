//! Reading result files back: one CSV file into typed rows (checking the columns a reader
//! needs are there) or one JSON file into a typed value, with errors that name the file and
//! line. [`crate::results::run_data`] reads whole run directories with these.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::results::run_record::RunInfoError;

/// Why a result file (or a run directory) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RunDataError {
    /// `run.json` is missing, of another schema or scenario.
    #[error(transparent)]
    Info(#[from] RunInfoError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file is not what this r2r writes.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A CSV file lacks a column or has a bad cell.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<u64>,
        /// What is wrong.
        message: String,
    },
}

/// Reads a CSV file of typed rows; `Ok(None)` when the file does not exist.
pub fn read_csv<T: DeserializeOwned>(
    path: &Path,
    required: &[&str],
) -> Result<Option<Vec<T>>, RunDataError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RunDataError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let csv_error = |error: csv::Error| RunDataError::Csv {
        path: path.to_path_buf(),
        line: error.position().map(csv::Position::line),
        message: match error.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
            _ => error.to_string(),
        },
    };
    let mut reader = csv::Reader::from_reader(file);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|column| !headers.iter().any(|h| h == *column))
        .collect();
    if !missing.is_empty() {
        return Err(RunDataError::Csv {
            path: path.to_path_buf(),
            line: Some(1),
            message: format!(
                "missing column(s) {}; the header has: {}",
                missing.join(", "),
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        rows.push(row.map_err(csv_error)?);
    }
    Ok(Some(rows))
}

/// Reads a JSON file of this r2r's own types; `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RunDataError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| RunDataError::Json {
                path: path.to_path_buf(),
                message: error.to_string(),
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RunDataError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
