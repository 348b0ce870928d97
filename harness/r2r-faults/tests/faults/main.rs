//! Faults on purpose, against the real engine: the engine stopped under a build and under a
//! start-up measurement, a full disk, two r2r on one scenario, Ctrl-C and SIGTERM, containers
//! that hang, flood their output or eat memory, least privilege inside every container, and
//! hostile archives and scenario files given to the binary.
//!
//! These tests stop and start the engine, so they need one that `scripts/engine.sh` started,
//! and root (tmpfs mounts, page cache). They find it as the script does: `DOCKER_HOST` (default
//! the local socket) and the pid file in `R2R_STATE_DIR` (default `/var/tmp/r2r`); to run them
//! beside an engine others use, start a second one for them, e.g.
//!
//! ```text
//! export DOCKER_HOST=unix:///run/r2r-faults/docker.sock R2R_STATE_DIR=/var/tmp/r2r-faults
//! R2R_DOCKERD_ARGS="--data-root=/var/lib/docker-faults --exec-root=/run/r2r-faults-exec" \
//!   bash scripts/engine.sh
//! cargo test -p r2r-faults
//! ```
//!
//! `scripts/test.sh` does that for the whole suite: these tests against an engine of their own
//! while the others run against the first.
//!
//! Every test that uses the engine or a scenario's results is `#[serial]`: they run one at a
//! time whatever `--test-threads` says, so a test never finds the engine stopped by another.

#[path = "../../../r2r/tests/common/mod.rs"]
mod common;

mod concurrency;
mod disk_full;
mod engine_restart;
mod hostile_containers;
mod hostile_input;
mod signals;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use r2r_core::engine::{Containers, Counters, DockerEngine, Images};
pub use serial_test::serial;

/// An `r2r` process running in the background, its stderr collected as it comes.
pub struct Background {
    pub child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts `r2r` with `arguments` in the project root.
    pub fn start(arguments: &[&str], env: &[(&str, &Path)]) -> Background {
        let mut command = Command::new(common::r2r_exe());
        command
            .args(arguments)
            .current_dir(common::root())
            .env("R2R_RESULTS_DIR", common::results())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Background {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// The stderr collected so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `ready()` holds (checked every 50 ms), failing after `limit`.
    pub fn wait_for(&mut self, what: &str, limit: Duration, ready: impl Fn(&Background) -> bool) {
        let deadline = Instant::now() + limit;
        while !ready(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("r2r ended ({status}) before {what}:\n{}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on a child of this process, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the process to end (at most `limit`); its exit code and the whole stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("r2r did not end within {limit:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status.code(), self.stderr())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tokio runtime and an engine client.
pub fn engine() -> (tokio::runtime::Runtime, DockerEngine) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(DockerEngine::connect())
        .expect("a Docker engine (bash scripts/engine.sh)");
    (runtime, engine)
}

/// Containers of a scenario the engine still has (running or not).
pub fn containers_of(scenario: &str) -> Vec<String> {
    let (runtime, engine) = engine();
    runtime
        .block_on(engine.list_containers(&[format!("r2r.scenario={scenario}")]))
        .unwrap()
}

/// Pauses one live container of `scenario` (`docker pause`); whether one was. A start-up
/// container of the console app lives a few hundred milliseconds: a paused one stays until it
/// is removed, so a fault injected after this surely meets a live container.
pub fn pause_live_container(scenario: &str) -> bool {
    containers_of(scenario).iter().any(|id| {
        std::process::Command::new("docker")
            .args(["pause", id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// The directory `scripts/engine.sh` keeps its pid file in.
fn state_dir() -> PathBuf {
    std::env::var_os("R2R_STATE_DIR")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/r2r"))
}

/// The pid of the dockerd `scripts/engine.sh` started for `DOCKER_HOST`: read from its pid
/// file, and checked to be a running dockerd listening where `DOCKER_HOST` points (a stale pid
/// file, or one of another engine, must not make a test stop some other process).
pub fn dockerd_pid() -> i32 {
    dockerd_pid_in(&state_dir())
}

/// [`dockerd_pid`] with the pid file in `state`.
pub fn dockerd_pid_in(state: &Path) -> i32 {
    let file = state.join("dockerd.pid");
    let pid: i32 = std::fs::read_to_string(&file)
        .unwrap_or_else(|error| {
            panic!(
                "{}: {error}; these tests need an engine scripts/engine.sh started \
                 (with the same R2R_STATE_DIR)",
                file.display()
            )
        })
        .trim()
        .parse()
        .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(
        comm.trim(),
        "dockerd",
        "pid {pid} of {} is not a running dockerd",
        file.display()
    );
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let arguments: Vec<String> = cmdline
        .split(|byte| *byte == 0)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let hosts: Vec<&str> = arguments
        .iter()
        .filter_map(|argument| argument.strip_prefix("--host="))
        .collect();
    match std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
    {
        Some(host) => assert!(
            hosts.contains(&host.as_str()),
            "dockerd {pid} ({arguments:?}) does not listen on DOCKER_HOST={host}"
        ),
        None => assert!(
            hosts.is_empty() || hosts.contains(&"unix:///var/run/docker.sock"),
            "dockerd {pid} ({arguments:?}) is not the engine on the default socket; set DOCKER_HOST"
        ),
    }
    pid
}

/// The engine, stopped by [`stop_engine`]. It is started again by [`StoppedEngine::start`], or
/// when this is dropped, so a test that fails while the engine is down does not leave it
/// down for the tests after it.
#[must_use = "the engine starts again when this is dropped"]
pub struct StoppedEngine {
    started: bool,
}

impl StoppedEngine {
    /// Starts the engine again with `scripts/engine.sh`.
    pub fn start(mut self) {
        self.started = true;
        assert!(
            run_engine_script(),
            "scripts/engine.sh could not start the engine again"
        );
    }
}

impl Drop for StoppedEngine {
    fn drop(&mut self) {
        if !self.started && !run_engine_script() {
            eprintln!("scripts/engine.sh could not start the engine again");
        }
    }
}

/// Stops the engine started by `scripts/engine.sh` (SIGTERM, as a service manager would) and
/// waits until it is gone.
pub fn stop_engine() -> StoppedEngine {
    signal_engine(libc::SIGTERM)
}

/// Kills the engine started by `scripts/engine.sh` (SIGKILL: a crash, nothing cleaned up) and
/// waits until it is gone. The container runtime's shims outlive it.
pub fn crash_engine() -> StoppedEngine {
    signal_engine(libc::SIGKILL)
}

fn signal_engine(signal: i32) -> StoppedEngine {
    let pid = dockerd_pid();
    // From here on the engine is started again whatever happens.
    let stopped = StoppedEngine { started: false };
    // SAFETY: kill(2) with the pid of the running dockerd checked above.
    assert_eq!(
        unsafe { libc::kill(pid, signal) },
        0,
        "signalling dockerd {pid}"
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid) {
        assert!(Instant::now() < deadline, "dockerd {pid} did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    stopped
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.contains(") Z "))
        .unwrap_or(true)
}

/// Runs `scripts/engine.sh` (which honours `DOCKER_HOST`, `R2R_STATE_DIR` and
/// `R2R_DOCKERD_ARGS` from this process's environment); whether it succeeded.
fn run_engine_script() -> bool {
    Command::new("bash")
        .arg(common::root().join("scripts/engine.sh"))
        .status()
        .is_ok_and(|status| status.success())
}

/// Builds the `quick` scenario's images (unchanged ones are kept).
pub fn build_quick() {
    common::r2r()
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
}

/// The data rows of a CSV file; panics on a half-written row.
pub fn whole_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in half a row",
        path.display()
    );
    common::csv_rows(path)
}

/// Files whose names mark a write that did not finish.
pub fn partial_files(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(partial_files(&path));
        } else if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .contains(".partial")
        {
            found.push(path);
        }
    }
    found
}

pub use common::{latest_run, latest_run_if_any};

/// Where `r2r run` writes the runs of `scenario`: this test's own results root.
pub fn scenario_results(scenario: &str) -> PathBuf {
    common::results().join(scenario)
}

/// Recorded start-up runs of the newest run of `scenario`, when it is not `before`.
pub fn new_run_rows(scenario: &str, before: &Option<PathBuf>) -> Option<usize> {
    let run = latest_run_if_any(scenario).filter(|run| Some(run) != before.as_ref())?;
    let text = std::fs::read_to_string(run.join("startup-runs.csv")).ok()?;
    Some(text.lines().count().saturating_sub(1))
}

/// Starts `r2r run --scenario quick --runs RUNS --warmup 0` and waits until its new run
/// directory holds `rows` recorded start-up runs.
pub fn quick_run_until_rows(runs: &str, rows: usize) -> Background {
    let before = latest_run_if_any("quick");
    let mut run = Background::start(
        &[
            "run",
            "--scenario",
            "quick",
            "--runs",
            runs,
            "--warmup",
            "0",
        ],
        &[],
    );
    run.wait_for(
        &format!("{rows} recorded start-up runs"),
        Duration::from_secs(600),
        |_| new_run_rows("quick", &before).is_some_and(|count| count >= rows),
    );
    run
}
