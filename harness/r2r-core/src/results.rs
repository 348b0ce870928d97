//! Writing result files so that a crash never leaves half a file: each is written to a
//! temporary name beside it and renamed into place.

use std::path::Path;

/// Writes a file whole: to a temporary name beside it, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&temporary, bytes).map_err(|error| std::io::Error::new(error.kind(), format!("{}: {error}", temporary.display())))?;
    std::fs::rename(&temporary, path).map_err(|error| std::io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

/// Sets one top-level key of the run's `summary.json` (each measurement step owns a key).
pub fn update_summary(directory: &Path, key: &str, value: serde_json::Value) -> std::io::Result<()> {
    let path = directory.join("summary.json");
    let mut summary = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).unwrap_or_default(),
        Err(_) => serde_json::Map::new(),
    };
    summary.insert(key.to_string(), value);
    write_atomically(&path, &serde_json::to_vec_pretty(&summary).map_err(std::io::Error::other)?)
}
