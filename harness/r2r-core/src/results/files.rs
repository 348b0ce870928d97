//! Writing result files so that a crash, a full disk or a second r2r never leaves half a
//! file: whole files are written to a temporary name beside them, flushed and renamed into
//! place; appended rows are rolled back when they cannot be written whole; a lock file keeps
//! two r2r processes out of one scenario's results.

use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Writes a file whole: to a temporary name beside it, flushed to disk, then renamed over it.
/// On any failure the temporary file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = partial_path(path);
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(std::io::Error::new(
            error.kind(),
            format!("writing {}: {error}", path.display()),
        ));
    }
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
    })
}

/// The temporary name [`write_atomically`] writes `path` under: `.<name>.partial` beside it.
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// Appends `bytes` (whole rows) to an open file. When they cannot all be written (a full
/// disk), the file is cut back to its length before the call, so it never ends in half a row.
pub fn append_whole(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    let before = file.seek(std::io::SeekFrom::End(0))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_data());
    if let Err(error) = written {
        let _ = file.set_len(before);
        let _ = file.seek(std::io::SeekFrom::Start(before));
        return Err(error);
    }
    Ok(())
}

/// Writes rows as a whole CSV file (the header from the row type, then one line per row).
pub fn write_csv<T: Serialize + DeserializeOwned>(path: &Path, rows: &[T]) -> std::io::Result<()> {
    let bytes = crate::results::csv_rows::to_csv(rows)
        .map_err(|error| std::io::Error::other(format!("writing {}: {error}", path.display())))?;
    write_atomically(path, &bytes)
}

/// Writes a value as a whole JSON file (pretty-printed).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|error| std::io::Error::other(format!("writing {}: {error}", path.display())))?;
    write_atomically(path, &bytes)
}

/// Name of the lock file in a scenario's results directory.
pub const LOCK_FILE: &str = ".lock";

/// Why a scenario's results could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("{path} is locked by another r2r ({holder}); wait for it to finish, or stop it (its results are kept and `--resume` finishes them)")]
    Held {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into the lock file (its process id and command).
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("locking {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An exclusive lock on a scenario's results directory, held until dropped (or the process
/// ends: the kernel releases it, so a killed r2r never leaves a stale lock).
#[derive(Debug)]
pub struct ResultsLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

/// Locks `directory` (created if missing) for this process, or fails at once naming the
/// process that holds it. `what` (e.g. the command line) is written into the lock file for
/// that message.
pub fn lock(directory: &Path, what: &str) -> Result<ResultsLock, LockError> {
    let path = directory.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(directory).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_string();
            let holder = if holder.is_empty() {
                "process unknown".to_string()
            } else {
                holder
            };
            return Err(LockError::Held { path, holder });
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
    }
    let note = format!("pid {}: {what}\n", std::process::id());
    let written = file
        .set_len(0)
        .and_then(|()| file.write_all(note.as_bytes()))
        .and_then(|()| file.flush());
    written.map_err(io)?;
    Ok(ResultsLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_released_on_drop() {
        let directory = tempfile::tempdir().unwrap();
        let first = lock(directory.path(), "r2r run --scenario quick").unwrap();
        let error = lock(directory.path(), "r2r run --scenario quick").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "pid {}: r2r run --scenario quick",
                std::process::id()
            )),
            "{message}"
        );
        assert!(
            message.contains(".lock is locked by another r2r"),
            "{message}"
        );
        drop(first);
        lock(directory.path(), "again").unwrap();
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporary() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sizes.csv");
        write_atomically(&path, b"a\n1\n").unwrap();
        write_atomically(&path, b"a\n2\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a\n2\n");
        assert!(!partial_path(&path).exists());
        // A directory where the file should be: an error naming it, no temporary left.
        let blocked = directory.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        let error = write_atomically(&blocked, b"x").unwrap_err();
        assert!(error.to_string().contains("blocked"), "{error}");
        assert!(!partial_path(&blocked).exists());
    }

    #[test]
    fn appends_add_whole_rows() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("runs.csv");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        append_whole(&mut file, b"h\n").unwrap();
        append_whole(&mut file, b"1\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"h\n1\n");
    }
}
