//! The files a process has mapped, read from the host's `/proc`: what `r2r tune` records of
//! an app, from outside it. A running process is read at once ([`mapped_files`]); one that
//! exits on its own (a console app) is held at its exit, read, and let go
//! ([`mapped_at_exit`]), so nothing it loaded is missed.

use std::collections::BTreeSet;

/// The files mapped by process `pid` and its descendants: absolute paths as the process
/// sees them (inside a container: the container's paths), sorted, each once.
pub fn mapped_files(pid: u32) -> std::io::Result<Vec<String>> {
    let mut files = BTreeSet::new();
    let mut pending = vec![pid];
    let mut seen = BTreeSet::new();
    while let Some(pid) = pending.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let maps = match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(maps) => maps,
            // A descendant that ended meanwhile mapped nothing that matters now.
            Err(_) if !files.is_empty() => continue,
            Err(error) => return Err(error),
        };
        files.extend(paths_in_maps(&maps));
        pending.extend(children(pid));
    }
    Ok(files.into_iter().collect())
}

/// The paths named in the text of a `/proc/<pid>/maps` file.
pub fn paths_in_maps(maps: &str) -> BTreeSet<String> {
    maps.lines()
        .filter_map(|line| {
            // address perms offset dev inode pathname (the path may contain spaces)
            let path = line.splitn(6, char::is_whitespace).nth(5)?.trim_start();
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            path.starts_with('/').then(|| path.to_string())
        })
        .collect()
}

/// The child processes of `pid` (of each of its threads).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Whether process `pid` exists and has not exited (is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // pid (comm) state ...: the state follows the last `)`.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Why the mapped files of an exiting process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MappedError {
    /// The process is gone before r2r could hold it (it ran too briefly, or is not visible).
    #[error("process {pid} ended before r2r could hold it at its exit")]
    Gone {
        /// The process.
        pid: u32,
        /// The error of the attach.
        #[source]
        source: nix::Error,
    },
    /// The kernel refused a step (permissions: r2r needs to run as root, or to be allowed to
    /// trace the process).
    #[error("tracing process {pid}: {what}")]
    Trace {
        /// The process.
        pid: u32,
        /// The step.
        what: &'static str,
        /// The error.
        #[source]
        source: nix::Error,
    },
    /// The process ended without the kernel reporting its exit to r2r.
    #[error("process {pid} ended without stopping at its exit")]
    Unheld {
        /// The process.
        pid: u32,
    },
    /// Its maps could not be read while it was held.
    #[error("reading /proc/{pid}/maps")]
    Read {
        /// The process.
        pid: u32,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Holds process `pid` when it exits (ptrace's exit event: the process has ended its work,
/// its memory is still mapped), reads its mapped files, and lets it finish. Blocks until the
/// process exits: call it on a thread of its own, before the process can exit. Signals the
/// process receives meanwhile are passed on unchanged.
pub fn mapped_at_exit(pid: u32) -> Result<Vec<String>, MappedError> {
    use nix::sys::ptrace::{self, Event, Options};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    let target = Pid::from_raw(pid as i32);
    ptrace::seize(target, Options::PTRACE_O_TRACEEXIT).map_err(|source| {
        // A process that exited is refused (ESRCH once reaped, EPERM while a zombie).
        if source == nix::Error::ESRCH || !running(pid) {
            MappedError::Gone { pid, source }
        } else {
            MappedError::Trace {
                pid,
                what: "attaching",
                source,
            }
        }
    })?;
    let trace = |what, source| MappedError::Trace { pid, what, source };
    loop {
        match waitpid(target, Some(WaitPidFlag::__WALL)).map_err(|e| trace("waiting", e))? {
            WaitStatus::PtraceEvent(_, _, event) if event == Event::PTRACE_EVENT_EXIT as i32 => {
                let files = mapped_files(pid).map_err(|source| MappedError::Read { pid, source });
                // Let it finish whatever happened to the read.
                let _ = ptrace::detach(target, None);
                return files;
            }
            WaitStatus::Stopped(_, signal) => {
                ptrace::cont(target, Some(signal)).map_err(|e| trace("resuming", e))?
            }
            WaitStatus::PtraceEvent(..)
            | WaitStatus::PtraceSyscall(_)
            | WaitStatus::Continued(_) => {
                ptrace::cont(target, None).map_err(|e| trace("resuming", e))?
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                return Err(MappedError::Unheld { pid })
            }
            WaitStatus::StillAlive => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_from_maps_lines_with_spaces_and_deleted_files() {
        let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /usr/share/dotnet/dotnet
7f00-7f01 r--s 00000000 00:2a 99 /usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Runtime.dll
7f02-7f03 rw-p 00000000 00:00 0 
7f04-7f05 rw-p 00000000 00:00 0                          [heap]
7f06-7f07 r--p 00000000 08:01 77 /tmp/a file (deleted)
";
        let paths: Vec<String> = paths_in_maps(maps).into_iter().collect();
        assert_eq!(
            paths,
            [
                "/tmp/a file",
                "/usr/share/dotnet/dotnet",
                "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Runtime.dll"
            ]
        );
    }

    #[test]
    fn a_running_process_and_one_held_at_its_exit_show_their_mapped_files() {
        // This test process maps its own executable.
        let own = std::env::current_exe().unwrap().display().to_string();
        let files = mapped_files(std::process::id()).unwrap();
        assert!(files.contains(&own), "{own} not in {files:?}");
        // A child that sleeps briefly, then exits: held at its exit, its libc is mapped.
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let pid = child.id();
        let held = std::thread::spawn(move || mapped_at_exit(pid));
        let files = held.join().unwrap();
        let status = child.wait().unwrap();
        match files {
            Ok(files) => {
                assert!(status.success());
                assert!(
                    files.iter().any(|f| f.ends_with("/sleep")),
                    "the exiting process's own executable is among {files:?}"
                );
            }
            // Without the right to trace (not root, or Yama's ptrace_scope = 3) the error says
            // which step the kernel refused.
            Err(MappedError::Trace { what, .. }) => assert_eq!(what, "attaching"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn a_process_that_is_gone_is_named() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let error = mapped_at_exit(pid).unwrap_err();
        assert!(matches!(error, MappedError::Gone { .. }), "{error}");
    }
}
