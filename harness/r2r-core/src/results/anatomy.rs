//! `anatomy.csv`: where the bytes of each image go, per assembly (the sizes step), one
//! [`AnatomyRow`] per assembly file, composite share or group of other files.

use serde::{Deserialize, Serialize};

use crate::results::csv_rows::CsvFile;

/// The file's name in a run directory.
pub const FILE: &str = "anatomy.csv";

/// What the bytes of an anatomy row are, as the `kind` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnatomyKind {
    /// `r2r`: an assembly with its own ReadyToRun code.
    #[serde(rename = "r2r")]
    ReadyToRun,
    /// `il-only`: an assembly without precompiled code.
    #[serde(rename = "il-only")]
    IlOnly,
    /// `component`: an assembly whose code lives in a composite image.
    #[serde(rename = "component")]
    Component,
    /// `composite`: a composite image that could not be split by component.
    #[serde(rename = "composite")]
    Composite,
    /// `composite-part`: one component's share of a composite image file.
    #[serde(rename = "composite-part")]
    CompositePart,
    /// `composite-shared`: the part of a composite image no single component owns.
    #[serde(rename = "composite-shared")]
    CompositeShared,
    /// `native-pe`: a PE file that is not a managed assembly.
    #[serde(rename = "native-pe")]
    NativePe,
    /// `not-pe`: not a PE file.
    #[serde(rename = "not-pe")]
    NotPe,
    /// `unreadable`: an assembly file that could not be read (its bytes counted as other).
    #[serde(rename = "unreadable")]
    Unreadable,
    /// `other-files`: every file of the image that is not an inspected assembly.
    #[serde(rename = "other-files")]
    OtherFiles,
}

impl AnatomyKind {
    /// The name the `kind` column writes.
    pub fn name(self) -> &'static str {
        match self {
            AnatomyKind::ReadyToRun => "r2r",
            AnatomyKind::IlOnly => "il-only",
            AnatomyKind::Component => "component",
            AnatomyKind::Composite => "composite",
            AnatomyKind::CompositePart => "composite-part",
            AnatomyKind::CompositeShared => "composite-shared",
            AnatomyKind::NativePe => "native-pe",
            AnatomyKind::NotPe => "not-pe",
            AnatomyKind::Unreadable => "unreadable",
            AnatomyKind::OtherFiles => "other-files",
        }
    }
}

/// A `kind` cell that names no [`AnatomyKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown anatomy kind '{0}'")]
pub struct UnknownAnatomyKind(pub String);

impl std::str::FromStr for AnatomyKind {
    type Err = UnknownAnatomyKind;

    fn from_str(text: &str) -> Result<AnatomyKind, UnknownAnatomyKind> {
        serde_json::from_value(serde_json::Value::from(text))
            .map_err(|_| UnknownAnatomyKind(text.to_string()))
    }
}

/// A kind reads as the name the column writes (`kind.starts_with("composite")`).
impl std::ops::Deref for AnatomyKind {
    type Target = str;

    fn deref(&self) -> &str {
        self.name()
    }
}

/// A kind equals the name the column writes for it.
impl PartialEq<str> for AnatomyKind {
    fn eq(&self, name: &str) -> bool {
        self.name() == name
    }
}

/// A kind equals the name the column writes for it.
impl PartialEq<&str> for AnatomyKind {
    fn eq(&self, name: &&str) -> bool {
        self.name() == *name
    }
}

impl std::fmt::Display for AnatomyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of `anatomy.csv`: the bytes of one assembly file, one component's share of a
/// composite image, a composite's shared part, or an image's other files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnatomyRow {
    /// Plan id of the image.
    pub image: String,
    /// The file's path in the image (no leading `/`); empty for the other-files row.
    pub path: String,
    /// The assembly's simple name (file name without `.dll`, or the component's name);
    /// `(shared/unattributed)` for a composite's shared part; `(other files)`.
    pub assembly: String,
    /// What the row's bytes are.
    pub kind: AnatomyKind,
    /// The row's bytes: the sum of the part columns below, bytes.
    pub bytes: u64,
    /// IL + metadata: `metadata_bytes + il_bytes + resources_bytes`, bytes.
    pub il_metadata_bytes: u64,
    /// Precompiled native code (ReadyToRun runtime functions), bytes.
    pub native_code_bytes: u64,
    /// Everything else: `bytes - il_metadata_bytes - native_code_bytes`, bytes.
    pub rest_bytes: u64,
    /// DOS and PE headers and section table, bytes.
    pub headers_bytes: u64,
    /// CLI header and ECMA-335 metadata, bytes.
    pub metadata_bytes: u64,
    /// IL method bodies, bytes.
    pub il_bytes: u64,
    /// Managed resources and strong-name signature, bytes.
    pub resources_bytes: u64,
    /// ReadyToRun headers and the sections they list, bytes.
    pub readytorun_bytes: u64,
    /// Authenticode certificate table, bytes.
    pub signature_bytes: u64,
    /// Unwind and GC info, field data, relocations, padding; all of a non-assembly file,
    /// bytes.
    pub other_bytes: u64,
    /// For a `composite-part` row: the methods whose main body is attributed to the
    /// component (count); empty otherwise.
    pub methods: Option<u64>,
}

impl CsvFile for AnatomyRow {
    const NAME: &'static str = FILE;
    const REQUIRED: &'static [&'static str] = &[
        "image",
        "path",
        "assembly",
        "kind",
        "bytes",
        "il_metadata_bytes",
        "native_code_bytes",
        "rest_bytes",
        "readytorun_bytes",
    ];
}

impl crate::results::run_dir::RunDir {
    /// `anatomy.csv`.
    pub fn anatomy_csv(&self) -> std::path::PathBuf {
        self.path(FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_spelled_as_the_column_has_them() {
        let kinds = [
            AnatomyKind::ReadyToRun,
            AnatomyKind::IlOnly,
            AnatomyKind::Component,
            AnatomyKind::Composite,
            AnatomyKind::CompositePart,
            AnatomyKind::CompositeShared,
            AnatomyKind::NativePe,
            AnatomyKind::NotPe,
            AnatomyKind::Unreadable,
            AnatomyKind::OtherFiles,
        ];
        let names: Vec<String> = kinds
            .iter()
            .map(|kind| {
                serde_json::to_value(kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names.join(" "),
            "r2r il-only component composite composite-part composite-shared native-pe not-pe \
             unreadable other-files"
        );
    }
}
