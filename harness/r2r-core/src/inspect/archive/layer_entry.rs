//! What one entry of a layer tar is and does to the image: the path, whiteout and link rules
//! of the [`archive`](super) module doc.

use std::io;

use serde::{Deserialize, Serialize};

use super::tar_stream::TarEntry;
use super::{normalise, ArchiveError};

/// What a path is in the final view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link; recorded, never followed.
    Symlink {
        /// Where it points, as written in the layer (it may be absolute, or climb with `..`).
        target: String,
    },
    /// A hard link to another path of the same layer set.
    Hardlink {
        /// The linked path, normalised like every path of the image.
        target: String,
    },
    /// Anything else (device, fifo).
    Other,
}

/// What one entry of a layer tar does to the image.
pub(crate) enum LayerChange {
    /// Nothing (the root directory, a PAX global header).
    Nothing,
    /// Hides everything the layers below have under this directory.
    Opaque(String),
    /// Deletes this path (and what is under it) from the layers below.
    Whiteout(String),
    /// Writes this path.
    Write {
        /// The normalised path.
        path: String,
        /// What it is.
        file_type: FileType,
    },
}

/// Applies the path rules of the [`archive`](super) module doc to one entry of `layer`: its name is
/// normalised (an escape is [`ArchiveError::LayerEscape`]), whiteouts must name a file, a hard
/// link's target is normalised (an escape is an error too), a symbolic link's is kept as written.
pub(crate) fn layer_change(layer: &str, entry: &TarEntry<'_>) -> Result<LayerChange, ArchiveError> {
    let refuse = |reason: &str| ArchiveError::Layer {
        layer: layer.to_string(),
        entry: entry.path.to_string(),
        source: io::Error::other(reason.to_string()),
    };
    let escape = |path: &str| ArchiveError::LayerEscape {
        layer: layer.to_string(),
        entry: entry.path.to_string(),
        path: path.to_string(),
    };
    if entry.kind == tar::EntryType::XGlobalHeader {
        return Ok(LayerChange::Nothing);
    }
    let path = normalise(entry.path).ok_or_else(|| escape(entry.path))?;
    if path.is_empty() {
        return match entry.kind {
            tar::EntryType::Directory => Ok(LayerChange::Nothing),
            _ => Err(refuse(
                "an entry that is not a directory names the image root",
            )),
        };
    }
    let (parent, file_name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    if file_name == ".wh..wh..opq" {
        return Ok(LayerChange::Opaque(parent.to_string()));
    }
    if let Some(hidden) = file_name.strip_prefix(".wh.") {
        if matches!(hidden, "" | "." | "..") {
            return Err(refuse("a whiteout that names no file"));
        }
        return Ok(LayerChange::Whiteout(if parent.is_empty() {
            hidden.to_string()
        } else {
            format!("{parent}/{hidden}")
        }));
    }
    let link = || String::from_utf8_lossy(entry.link.unwrap_or_default()).into_owned();
    let file_type = match entry.kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => FileType::Regular,
        tar::EntryType::Directory => FileType::Directory,
        tar::EntryType::Symlink => FileType::Symlink { target: link() },
        tar::EntryType::Link => {
            let written = link();
            let target = normalise(&written).ok_or_else(|| escape(&written))?;
            if target.is_empty() {
                return Err(refuse("a hard link without a target"));
            }
            FileType::Hardlink { target }
        }
        _ => FileType::Other,
    };
    Ok(LayerChange::Write { path, file_type })
}
