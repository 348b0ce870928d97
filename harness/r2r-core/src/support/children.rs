//! Child processes (the .NET SDK, crossgen2, the base bootstrap script) that never outlive
//! an interrupted r2r.
//!
//! Each child starts in a process group of its own, recorded here while it runs; on Ctrl-C or
//! SIGTERM the binary calls [`terminate_all`], which signals every recorded group (the SDK's
//! own workers included), so an interrupted build leaves no compiler running.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn running() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Process group ids of the children running now.
pub fn running_groups() -> Vec<i32> {
    running().iter().copied().collect()
}

struct Registered(i32);

impl Drop for Registered {
    fn drop(&mut self) {
        running().remove(&self.0);
    }
}

fn spawn(command: &mut Command) -> std::io::Result<(std::process::Child, Registered)> {
    command.process_group(0);
    let child = command.spawn()?;
    let group = child.id() as i32;
    running().insert(group);
    Ok((child, Registered(group)))
}

/// Runs `command` to completion in its own process group, capturing its output (as
/// [`Command::output`] does).
pub fn output(command: &mut Command) -> std::io::Result<Output> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let (child, _registered) = spawn(command)?;
    child.wait_with_output()
}

/// Runs `command` to completion in its own process group, its output going where r2r's goes
/// (as [`Command::status`] does).
pub fn status(command: &mut Command) -> std::io::Result<ExitStatus> {
    command.stdin(std::process::Stdio::null());
    let (mut child, _registered) = spawn(command)?;
    child.wait()
}

/// Stops every running child: SIGTERM to each process group, then SIGKILL to those still
/// there after `grace`. Returns how many groups were signalled.
pub fn terminate_all(grace: Duration) -> usize {
    let groups = running_groups();
    for group in &groups {
        let _ = killpg(Pid::from_raw(*group), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && groups.iter().any(|group| alive(*group)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for group in &groups {
        if alive(*group) {
            let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
        }
    }
    groups.len()
}

fn alive(group: i32) -> bool {
    killpg(Pid::from_raw(group), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_and_its_own_children_are_stopped() {
        let marker = tempfile::tempdir().unwrap();
        let file = marker.path().join("grandchild");
        let script = format!("sleep 30 & echo $! > {}; wait", file.display());
        let handle = std::thread::spawn(move || status(Command::new("sh").arg("-c").arg(script)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(file.is_file()
            && std::fs::read_to_string(&file)
                .map(|t| t.ends_with('\n'))
                .unwrap_or(false))
        {
            assert!(Instant::now() < deadline, "the child did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let grandchild: i32 = std::fs::read_to_string(&file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(terminate_all(Duration::from_secs(5)), 1);
        let status = handle.join().unwrap().unwrap();
        assert!(!status.success());
        assert!(running_groups().is_empty());
        // The grandchild was in the same group: it is gone too (or a zombie awaiting its reaper).
        let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        assert!(state.is_empty() || state.contains(") Z "), "{state}");
    }
}
