//! A content-addressed store of layer measurements, so that a layer is compressed and walked
//! once, whatever the number of runs that measure it.
//!
//! A layer is identified by its diff id (the SHA-256 of its uncompressed tar): the same diff
//! id is the same bytes, so its figures (tar, content, gzip, zstd bytes, entries) and what
//! waste is computed from (the paths it writes with their sizes, its whiteouts and opaque
//! directories) never change. Each entry also names the version of the measuring code
//! ([`code_version`]: the compression levels, the block size the compressors are fed, and the
//! sizes the linked gzip and zstd give for a fixed input), so a build that would measure
//! differently never reads another's entries. An image's config is kept under its image id,
//! so an image whose config and layers are all known need not be exported at all; so are an
//! image's anatomy rows ([`crate::measure::anatomy`], keyed by the anatomy code's version).
//!
//! The store is a directory of small files (by default `<work>/sizes-cache`), one per layer
//! (`layers/<hex>`), per image config (`images/<hex>`) and per image anatomy
//! (`anatomy/<hex>`). Each file is written to a
//! temporary file beside it and renamed into place, so a reader sees a whole entry or none,
//! and two r2r processes may fill it at once. Each starts with one line:
//!
//! ```text
//! r2r-layer-measurement <code version> <diff id> <sha-256 of the rest>
//! ```
//!
//! followed by the measurement as JSON (for an image config: its bytes as the engine gave
//! them). An entry whose line or checksum is wrong (corrupt), whose code version differs
//! (foreign), or that is stored under another key than its own is ignored with a warning
//! and measured again; a figure never comes from it. The directory can be deleted at any
//! time: the next run measures everything again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::measure::layers::{self, LayerFigures, LayerFiles};

/// Name of the cache directory under the work directory.
pub const CACHE_DIRECTORY: &str = "sizes-cache";
/// First word of a layer entry.
const LAYER_MAGIC: &str = "r2r-layer-measurement";
/// First word of an image config entry.
const CONFIG_MAGIC: &str = "r2r-image-config";
/// First word of an image anatomy entry.
const ANATOMY_MAGIC: &str = "r2r-image-anatomy";
/// First word of an entry holding how an export stored an image's layers.
const STORED_MAGIC: &str = "r2r-image-stored";

/// The version of the measuring code entries are written by and read for: the compression
/// levels, the block size and the fingerprint of the linked compressors
/// ([`layers::code_version`]).
pub fn code_version() -> &'static str {
    layers::code_version()
}

/// What the cache holds for one layer: its figures and what waste is computed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct LayerMeasurement {
    /// The figures; `figures.diff_id` is the entry's key.
    pub(crate) figures: LayerFigures,
    /// The paths the layer writes, whiteouts and opaque directories.
    pub(crate) files: LayerFiles,
}

/// A directory of layer measurements and image configs, keyed by diff id and image id.
#[derive(Debug)]
pub struct MeasurementCache {
    directory: PathBuf,
    version: String,
    warnings: Mutex<Vec<String>>,
}

/// Why an entry was ignored.
#[derive(Debug, PartialEq, Eq)]
enum Rejection {
    /// The first line is not `<magic> <version> <key> <checksum>`.
    Malformed,
    /// Written by another version of the measuring code.
    Foreign(String),
    /// Stored under another key than its own.
    OtherKey(String),
    /// The checksum does not match the contents.
    Checksum,
    /// The contents are not a measurement.
    Unreadable(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Malformed => write!(f, "not a cache entry (corrupt first line)"),
            Rejection::Foreign(version) => write!(
                f,
                "written by another version of the measuring code ({version})"
            ),
            Rejection::OtherKey(key) => write!(f, "it holds {key}, not the entry named"),
            Rejection::Checksum => write!(f, "its checksum does not match (corrupt)"),
            Rejection::Unreadable(error) => write!(f, "unreadable contents: {error}"),
        }
    }
}

/// `sha256:<64 lowercase hex>`'s hex part, or `None` for anything else (never a path).
fn digest_hex(key: &str) -> Option<&str> {
    let hex = key.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

impl MeasurementCache {
    /// The cache in `directory` (made when the first entry is written), for the running
    /// measuring code.
    pub fn open(directory: &Path) -> MeasurementCache {
        Self::with_version(directory, code_version())
    }

    /// The cache in `directory` as the measuring code of `version` reads and writes it.
    fn with_version(directory: &Path, version: &str) -> MeasurementCache {
        MeasurementCache {
            directory: directory.to_path_buf(),
            version: version.to_string(),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The cache's directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Where temporary copies of layers wait for the compressors (made on demand).
    pub(crate) fn spool_directory(&self) -> PathBuf {
        self.directory.join("spool")
    }

    /// The warnings given so far (ignored entries, entries that could not be written).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.warnings
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(message);
    }

    fn path(&self, kind: &str, key: &str) -> Option<PathBuf> {
        digest_hex(key).map(|hex| self.directory.join(kind).join(hex))
    }

    /// The measurement of the layer `diff_id`, if a valid entry holds it.
    pub(crate) fn layer(&self, diff_id: &str) -> Option<LayerMeasurement> {
        let (path, payload) = self.read("layers", LAYER_MAGIC, &self.version, diff_id)?;
        match serde_json::from_slice::<LayerMeasurement>(&payload) {
            Ok(measurement) if measurement.figures.diff_id == diff_id => Some(measurement),
            Ok(measurement) => {
                self.reject(&path, Rejection::OtherKey(measurement.figures.diff_id));
                None
            }
            Err(error) => {
                self.reject(&path, Rejection::Unreadable(error.to_string()));
                None
            }
        }
    }

    /// Whether an entry for the layer `diff_id` exists (valid or not).
    pub(crate) fn has_layer(&self, diff_id: &str) -> bool {
        self.path("layers", diff_id)
            .is_some_and(|path| path.is_file())
    }

    /// Keeps a layer's measurement (a failure is a warning: the cache only saves work).
    pub(crate) fn store_layer(&self, measurement: &LayerMeasurement) {
        match serde_json::to_vec(measurement) {
            Ok(payload) => self.write(
                "layers",
                LAYER_MAGIC,
                &self.version,
                &measurement.figures.diff_id,
                &payload,
            ),
            Err(error) => self.warn(format!("not caching a layer measurement: {error}")),
        }
    }

    /// The config of the image `image_id`, if a valid entry holds it.
    pub(crate) fn image_config(&self, image_id: &str) -> Option<Vec<u8>> {
        self.read("images", CONFIG_MAGIC, &self.version, image_id)
            .map(|(_, payload)| payload)
    }

    /// Keeps an image's config under its image id.
    pub(crate) fn store_image_config(&self, image_id: &str, config: &[u8]) {
        self.write("images", CONFIG_MAGIC, &self.version, image_id, config);
    }

    /// How the engine's export stored the layers of the image `image_id` (JSON of
    /// `Vec<Option<StoredBlob>>`, bottom layer first), if a valid entry holds it.
    pub(crate) fn image_stored(&self, image_id: &str) -> Option<Vec<u8>> {
        self.read("stored", STORED_MAGIC, &self.version, image_id)
            .map(|(_, payload)| payload)
    }

    /// Keeps how the export stored an image's layers (JSON) under its image id.
    pub(crate) fn store_image_stored(&self, image_id: &str, stored: &[u8]) {
        self.write("stored", STORED_MAGIC, &self.version, image_id, stored);
    }

    /// The anatomy rows of the image `image_id` as the anatomy code of `version` made them
    /// (JSON), if a valid entry holds them.
    pub(crate) fn anatomy(&self, version: &str, image_id: &str) -> Option<Vec<u8>> {
        self.read("anatomy", ANATOMY_MAGIC, version, image_id)
            .map(|(_, payload)| payload)
    }

    /// Keeps an image's anatomy rows (JSON) under its image id.
    pub(crate) fn store_anatomy(&self, version: &str, image_id: &str, rows: &[u8]) {
        self.write("anatomy", ANATOMY_MAGIC, version, image_id, rows);
    }

    /// Reports an entry as ignored.
    pub(crate) fn reject_entry(&self, kind: &str, key: &str, reason: &str) {
        if let Some(path) = self.path(kind, key) {
            self.warn(format!(
                "ignoring size cache entry {}: {reason}; measuring again",
                path.display()
            ));
        }
    }

    fn reject(&self, path: &Path, rejection: Rejection) {
        self.warn(format!(
            "ignoring size cache entry {}: {rejection}; measuring again",
            path.display()
        ));
    }

    fn read(
        &self,
        kind: &str,
        magic: &str,
        version: &str,
        key: &str,
    ) -> Option<(PathBuf, Vec<u8>)> {
        let path = self.path(kind, key)?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                self.warn(format!(
                    "cannot read size cache entry {}: {error}; measuring again",
                    path.display()
                ));
                return None;
            }
        };
        match parse_entry(&bytes, magic, version, key) {
            Ok(payload) => Some((path, payload.to_vec())),
            Err(rejection) => {
                self.reject(&path, rejection);
                None
            }
        }
    }

    fn write(&self, kind: &str, magic: &str, version: &str, key: &str, payload: &[u8]) {
        let Some(path) = self.path(kind, key) else {
            self.warn(format!("not caching `{key}`: not a sha256 digest"));
            return;
        };
        let entry = entry_bytes(magic, version, key, payload);
        let written = (|| {
            let directory = path.parent().unwrap_or(&self.directory);
            std::fs::create_dir_all(directory)?;
            let mut file = tempfile::NamedTempFile::new_in(directory)?;
            file.write_all(&entry)?;
            file.persist(&path).map_err(|error| error.error)?;
            Ok::<(), std::io::Error>(())
        })();
        if let Err(error) = written {
            self.warn(format!(
                "cannot write size cache entry {}: {error}",
                path.display()
            ));
        }
    }
}

/// An entry: its first line, then the payload.
fn entry_bytes(magic: &str, version: &str, key: &str, payload: &[u8]) -> Vec<u8> {
    let checksum = hex::encode(Sha256::digest(payload));
    let mut bytes = format!("{magic} {version} {key} {checksum}\n").into_bytes();
    bytes.extend_from_slice(payload);
    bytes
}

/// Checks an entry's first line and checksum; returns its payload.
fn parse_entry<'a>(
    bytes: &'a [u8],
    magic: &str,
    version: &str,
    key: &str,
) -> Result<&'a [u8], Rejection> {
    let end = bytes
        .iter()
        .take(4096)
        .position(|byte| *byte == b'\n')
        .ok_or(Rejection::Malformed)?;
    let line = std::str::from_utf8(&bytes[..end]).map_err(|_| Rejection::Malformed)?;
    let payload = &bytes[end + 1..];
    let fields: Vec<&str> = line.split(' ').collect();
    let &[found_magic, found_version, found_key, checksum] = fields.as_slice() else {
        return Err(Rejection::Malformed);
    };
    if found_magic != magic {
        return Err(Rejection::Malformed);
    }
    if found_version != version {
        return Err(Rejection::Foreign(found_version.to_string()));
    }
    if found_key != key {
        return Err(Rejection::OtherKey(found_key.to_string()));
    }
    if hex::encode(Sha256::digest(payload)) != checksum {
        return Err(Rejection::Checksum);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(seed: u8) -> LayerMeasurement {
        let diff_id = format!("sha256:{}", hex::encode(Sha256::digest([seed])));
        LayerMeasurement {
            figures: LayerFigures {
                diff_id,
                tar_bytes: 10_240 + seed as u64,
                content_bytes: 5,
                gzip_bytes: 300,
                zstd_bytes: 280,
                entries: 2,
            },
            files: LayerFiles {
                written: vec![("etc/a".into(), 5), ("etc/b".into(), 0)],
                whiteouts: vec!["usr/gone".into()],
                opaque: vec!["opt/d".into()],
            },
        }
    }

    #[test]
    fn entries_survive_and_are_keyed_by_diff_id_and_version() {
        let directory = tempfile::tempdir().unwrap();
        let cache = MeasurementCache::open(directory.path());
        let first = measurement(1);
        assert_eq!(cache.layer(&first.figures.diff_id), None);
        cache.store_layer(&first);
        // Another handle (another run) reads it back whole.
        let again = MeasurementCache::open(directory.path());
        assert_eq!(again.layer(&first.figures.diff_id), Some(first.clone()));
        assert_eq!(again.layer(&measurement(2).figures.diff_id), None);
        // The code of another version neither reads it nor takes it silently.
        let other = MeasurementCache::with_version(directory.path(), "m0-other");
        assert_eq!(other.layer(&first.figures.diff_id), None);
        let warnings = other.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("another version") && warnings[0].contains(code_version()),
            "{warnings:?}"
        );
        assert!(cache.warnings().is_empty() && again.warnings().is_empty());
        // Configs by image id, as given.
        let image = format!("sha256:{}", hex::encode(Sha256::digest(b"config")));
        cache.store_image_config(&image, b"{\"history\":[]}");
        assert_eq!(
            again.image_config(&image).as_deref(),
            Some(&b"{\"history\":[]}"[..])
        );
        // Keys that are not digests are never paths.
        assert_eq!(cache.layer("sha256:../../etc/passwd"), None);
        assert_eq!(cache.image_config("latest"), None);
    }

    #[test]
    fn corrupt_and_misplaced_entries_are_ignored_with_a_warning() {
        let directory = tempfile::tempdir().unwrap();
        let cache = MeasurementCache::open(directory.path());
        let (first, second) = (measurement(1), measurement(2));
        cache.store_layer(&first);
        cache.store_layer(&second);
        let path = |m: &LayerMeasurement| {
            directory
                .path()
                .join("layers")
                .join(digest_hex(&m.figures.diff_id).unwrap())
        };
        let good = std::fs::read(path(&first)).unwrap();
        let expect_ignored = |m: &LayerMeasurement, bytes: &[u8], reason: &str| {
            std::fs::write(path(m), bytes).unwrap();
            let reader = MeasurementCache::open(directory.path());
            assert_eq!(reader.layer(&m.figures.diff_id), None, "{reason}");
            let warnings = reader.warnings();
            assert_eq!(warnings.len(), 1, "{reason}: {warnings:?}");
            assert!(warnings[0].contains(reason), "{warnings:?}");
            assert!(
                warnings[0].contains(&path(m).display().to_string()),
                "{warnings:?}"
            );
        };
        // One changed figure: the checksum no longer matches.
        let tampered = String::from_utf8(good.clone())
            .unwrap()
            .replace("\"gzip_bytes\":300", "\"gzip_bytes\":301");
        assert_ne!(tampered.as_bytes(), good.as_slice());
        expect_ignored(&first, tampered.as_bytes(), "checksum");
        // Cut short.
        expect_ignored(&first, &good[..good.len() - 7], "checksum");
        // Not an entry at all, or an empty file.
        expect_ignored(&first, b"garbage", "not a cache entry");
        expect_ignored(&first, b"", "not a cache entry");
        // Another layer's entry under this layer's name.
        let other = std::fs::read(path(&second)).unwrap();
        expect_ignored(&first, &other, "not the entry named");
        // A valid line and checksum around contents whose key differs.
        let mut lying = second.clone();
        lying.figures.diff_id = first.figures.diff_id.clone();
        let mut payload = serde_json::to_value(&lying).unwrap();
        payload["figures"]["diff_id"] = second.figures.diff_id.clone().into();
        let payload = serde_json::to_vec(&payload).unwrap();
        let entry = entry_bytes(
            LAYER_MAGIC,
            code_version(),
            &first.figures.diff_id,
            &payload,
        );
        expect_ignored(&first, &entry, "not the entry named");
        // Valid framing, contents that are not a measurement.
        let entry = entry_bytes(
            LAYER_MAGIC,
            code_version(),
            &first.figures.diff_id,
            b"[1,2]",
        );
        expect_ignored(&first, &entry, "unreadable");
        // A foreign entry (another code version), then a fresh one replaces it.
        let entry = entry_bytes(
            LAYER_MAGIC,
            "m0-gzip6-zstd3-b1048576-000",
            &first.figures.diff_id,
            &serde_json::to_vec(&first).unwrap(),
        );
        expect_ignored(&first, &entry, "another version");
        cache.store_layer(&first);
        let reader = MeasurementCache::open(directory.path());
        assert_eq!(reader.layer(&first.figures.diff_id), Some(first));
        assert!(reader.warnings().is_empty());
        // The second entry was never touched.
        assert_eq!(reader.layer(&second.figures.diff_id), Some(second));
    }

    #[test]
    fn an_unwritable_cache_only_warns() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        // Its directory is a regular file: nothing can be written under it.
        let cache = MeasurementCache::open(&file);
        let first = measurement(1);
        cache.store_layer(&first);
        assert_eq!(cache.layer(&first.figures.diff_id), None);
        assert!(
            cache.warnings().iter().any(|w| w.contains("cannot write")),
            "{:?}",
            cache.warnings()
        );
    }
}
