//! The disk fills under r2r (a tiny tmpfs as the results directory): a clear error that names
//! the file, and no half-written results file.

use std::time::Duration;

use super::*;

/// A tmpfs of `bytes` mounted on a new temporary directory, unmounted when dropped.
struct Tmpfs {
    directory: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Tmpfs {
        let directory = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(directory.path())
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs needs root");
        Tmpfs { directory }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    /// Fills the file system until `room` bytes are left.
    fn fill(&self, room: u64) {
        let stats = nix_free_bytes(self.path());
        let filler = vec![0u8; stats.saturating_sub(room) as usize];
        std::fs::write(self.path().join("filler"), filler).unwrap();
    }
}

fn nix_free_bytes(path: &Path) -> u64 {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.directory.path()).status();
    }
}

#[test]
#[serial]
fn a_full_disk_during_startup_runs_keeps_whole_rows_and_says_so() {
    build_quick();
    let disk = Tmpfs::mount(1 << 20);
    disk.fill(4096);
    let out = disk.path().join("run");
    let output = common::r2r()
        .args([
            "measure",
            "startup",
            "--scenario",
            "quick",
            "--cache",
            "warm",
            "--runs",
            "40",
            "--warmup",
            "0",
            "--output",
        ])
        .arg(&out)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("startup-runs.csv"),
        "{stderr}"
    );
    assert!(
        stderr.contains("every run recorded before is kept"),
        "{stderr}"
    );
    let rows = whole_rows(&out.join("startup-runs.csv"));
    assert!(
        !rows.is_empty() && rows.len() < 80,
        "the disk held some rows, not all: {}",
        rows.len()
    );
    assert!(rows.iter().all(|row| row["ok"] == "true"));
    assert!(partial_files(&out).is_empty(), "{:?}", partial_files(&out));
    assert!(containers_of("quick").is_empty());
}

#[test]
#[serial]
fn a_full_disk_while_writing_size_results_leaves_only_whole_files() {
    build_quick();
    let archive = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("docker")
        .args(["save", "-o"])
        .arg(archive.path())
        .arg("r2r/quick:runtime-composite-console")
        .status()
        .unwrap();
    assert!(status.success());
    // Room for some of the result files, not all.
    let disk = Tmpfs::mount(1 << 20);
    disk.fill(12 * 1024);
    let out = disk.path().join("sizes");
    let output = common::r2r()
        .args(["measure", "sizes", "--archive"])
        .arg(archive.path())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let named = ["sizes.csv", "layers.csv", "sharing.csv", "summary.json"]
        .iter()
        .any(|name| stderr.contains(&format!("writing {}: ", out.join(name).display())));
    assert!(
        named,
        "the error names the file it could not write: {stderr}"
    );
    assert!(partial_files(&out).is_empty(), "{:?}", partial_files(&out));
    // Whatever was written is whole.
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            Some("csv") => {
                whole_rows(&path);
            }
            _ => {}
        }
    }
}
