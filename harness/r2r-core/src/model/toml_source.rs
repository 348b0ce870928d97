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
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.path.display(),
                    self.message
                )
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
        SourceError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: message.into(),
        }
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
        let message = printable(error.message().trim());
        match error.span() {
            Some(span) => SourceError::at_offset(path, text, span.start, message),
            None => SourceError::whole_file(path, message),
        }
    })
}

/// One step of a path into a TOML document, for [`locate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// A key of a table (however the table is written: header, dotted key or inline).
    Key(&'a str),
    /// An element of an array, from 0.
    Index(usize),
}

/// Finds the byte offset of what `path` names in `text`: the key for a [`Step::Key`], the
/// element for a [`Step::Index`]. When the path goes further than the document, the offset
/// of the deepest part that exists; `None` when the document does not parse or not even the
/// first step exists.
pub fn locate(text: &str, path: &[Step<'_>]) -> Option<usize> {
    let document = toml::de::DeValue::Table(toml::de::DeTable::parse(text).ok()?.into_inner());
    let mut value = &document;
    let mut found = None;
    for step in path {
        let next = match (step, value) {
            (Step::Key(key), toml::de::DeValue::Table(table)) => table
                .iter()
                .find(|(name, _)| name.get_ref().as_ref() == *key)
                .map(|(name, item)| (name.span().start, item.get_ref())),
            (Step::Index(index), toml::de::DeValue::Array(array)) => array
                .get(*index)
                .map(|item| (item.span().start, item.get_ref())),
            _ => None,
        };
        match next {
            Some((offset, item)) => {
                found = Some(offset);
                value = item;
            }
            None => break,
        }
    }
    found
}

/// A parser message made safe to print: the parts in backticks (values from the file) as
/// [`crate::model::names::shown`] shows them, escaped and cut; control characters elsewhere escaped;
/// and a message still longer than [`LONGEST_MESSAGE`] characters cut in the middle, so that
/// the start (what is wrong) and the end (what is expected) remain.
fn printable(message: &str) -> String {
    let escaped = message
        .split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                let shown = crate::model::names::shown(part);
                shown[1..shown.len() - 1].to_string()
            } else {
                part.chars()
                    .map(|c| {
                        if c.is_control() {
                            c.escape_default().to_string()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            }
        })
        .collect::<Vec<_>>()
        .join("`");
    let length = escaped.chars().count();
    if length <= LONGEST_MESSAGE {
        return escaped;
    }
    let half = LONGEST_MESSAGE / 2;
    let start: String = escaped.chars().take(half).collect();
    let end: String = escaped.chars().skip(length - half).collect();
    format!(
        "{start} ... ({} characters left out) ... {end}",
        length - 2 * half
    )
}

/// Characters of a parser message shown whole; see [`printable`].
const LONGEST_MESSAGE: usize = 450;

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
        assert!(
            error.message.contains("count"),
            "allowed fields listed: {error}"
        );
        assert!(error.to_string().starts_with("s.toml:2:1:"), "{error}");
    }
}
