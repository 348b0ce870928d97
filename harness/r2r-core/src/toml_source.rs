//! Reading TOML files into typed values with errors that name the file, line and column.
//!
//! Both scenarios and the experiment catalog are TOML; this module is the one place that turns
//! a `toml` deserialisation error into a located, human-readable [`SourceError`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A problem in a TOML source file, located by line and column (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line of the problem, when the parser could locate it.
    pub line: Option<usize>,
    /// 1-based column of the problem, when the parser could locate it.
    pub column: Option<usize>,
    /// What is wrong, including the allowed values where there is a fixed set.
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.path.display(), self.message)
            }
            _ => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    /// An error at a byte offset of `text`, converted to line and column.
    pub fn at_offset(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, offset);
        SourceError {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// An error about the whole file (no position).
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        SourceError { path: path.to_path_buf(), line: None, column: None, message: message.into() }
    }
}

/// Converts a byte offset into a 1-based (line, column) pair; offsets past the end point at
/// the last position.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|index| index + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Parses `text` (the contents of `path`) into `T`, locating any error in the file.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, SourceError> {
    toml::from_str::<T>(text).map_err(|error| {
        let message = error.message().trim().to_string();
        match error.span() {
            Some(span) => SourceError::at_offset(path, text, span.start, message),
            None => SourceError::whole_file(path, message),
        }
    })
}

/// Finds the byte offset of the first line that assigns `key` (as `key =`), for errors found
/// after parsing, such as a reference to an app that does not exist.
pub fn key_offset(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - trimmed.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// Finds the byte offset of the first quoted occurrence of `value` (`"value"`) at or after the
/// line that assigns `key`, to point at one bad element of an array.
pub fn value_offset(text: &str, key: &str, value: &str) -> Option<usize> {
    let start = key_offset(text, key)?;
    let needle = format!("\"{value}\"");
    text[start..].find(&needle).map(|index| start + index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 4));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn key_and_value_offsets_point_at_the_assignment() {
        let text = "name = \"x\"\n  apps = [\"console\", \"nope\"]\n";
        let key = key_offset(text, "apps").unwrap();
        assert_eq!(line_column(text, key), (2, 3));
        let value = value_offset(text, "apps", "nope").unwrap();
        assert_eq!(line_column(text, value), (2, 22));
        assert_eq!(key_offset(text, "missing"), None);
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Small {
        count: u32,
    }

    #[test]
    fn parse_errors_carry_position_and_message() {
        let path = Path::new("s.toml");
        let error = parse::<Small>(path, "count = 1\ncolour = 2\n").unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.message.contains("unknown field `colour`"), "{error}");
        assert!(error.message.contains("count"), "allowed fields listed: {error}");
        assert!(error.to_string().starts_with("s.toml:2:1:"), "{error}");
    }
}
