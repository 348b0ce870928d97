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

/// A long-running child (a registry, a second engine) in its own process group, registered
/// like the others (so Ctrl-C stops it) and stopped when dropped: SIGTERM to its group, then
/// SIGKILL to what is left after [`SERVICE_GRACE`]. It is also told SIGTERM by the kernel when
/// r2r itself dies, however it dies.
pub struct Service {
    child: std::process::Child,
    _registered: Registered,
    /// What it is, for messages (e.g. "registry").
    pub name: String,
}

/// How long a stopped service has to exit before it is killed.
pub const SERVICE_GRACE: Duration = Duration::from_secs(20);

impl Service {
    /// Starts `command` as a service named `name`, its output going to `log`.
    pub fn start(
        name: &str,
        command: &mut Command,
        log: &std::path::Path,
    ) -> std::io::Result<Self> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        command
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let (child, registered) = spawn(command)?;
        Ok(Service {
            child,
            _registered: registered,
            name: name.to_string(),
        })
    }

    /// Whether it still runs (`false` once it exited by itself).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        let _ = killpg(Pid::from_raw(group), Signal::SIGTERM);
        let deadline = Instant::now() + SERVICE_GRACE;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(group) {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn alive(group: i32) -> bool {
    killpg(Pid::from_raw(group), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests share the list of running children: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn a_child_and_its_own_children_are_stopped() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
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

    #[test]
    fn a_service_runs_until_dropped_and_is_gone_after() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let directory = tempfile::tempdir().unwrap();
        let log = directory.path().join("service.log");
        let mut service = Service::start(
            "sleeper",
            Command::new("sh").arg("-c").arg("echo up; exec sleep 60"),
            &log,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&log).unwrap().contains("up") {
            assert!(Instant::now() < deadline, "the service did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(service.running());
        let pid = service.pid() as i32;
        assert!(running_groups().contains(&pid));
        drop(service);
        assert!(!running_groups().contains(&pid));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(state.is_empty(), "{state}");
    }
}
