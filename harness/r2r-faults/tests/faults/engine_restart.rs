//! The engine stops under r2r: in the middle of a build and in the middle of the start-up
//! runs. r2r says so, keeps every finished result, leaves no container behind once the engine
//! is back, and `r2r run --resume` completes the run.

use std::time::Duration;

use super::*;

fn resume_completes(runs: &str) -> PathBuf {
    resume_completes_saying(runs).0
}

/// [`resume_completes`], with what the resumed run wrote to stderr.
fn resume_completes_saying(runs: &str) -> (PathBuf, String) {
    let run = latest_run("quick");
    let output = common::r2r()
        .args([
            "run",
            "--scenario",
            "quick",
            "--resume",
            "--runs",
            runs,
            "--warmup",
            "0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("resuming run"), "{stderr}");
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    for step in ["build", "verify", "sizes", "startup", "report"] {
        assert_eq!(info["steps"][step]["status"], "ok", "{step}: {info:#}");
    }
    assert!(
        containers_of("quick").is_empty(),
        "no container left after the resumed run"
    );
    (run, stderr.into_owned())
}

/// The directories of r2r's counting groups (`r2r-*` at the top of each cgroup hierarchy).
fn r2r_cgroups() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut tops = vec![root.to_path_buf()];
    tops.extend(
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|entry| entry.path()),
    );
    let mut found: Vec<PathBuf> = tops
        .iter()
        .filter(|top| top.is_dir() && !top.is_symlink())
        .flat_map(|top| std::fs::read_dir(top).into_iter().flatten().flatten())
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("r2r-")
        })
        .collect();
    found.sort();
    found
}

/// Starts `r2r run --scenario quick --runs 4` until it has recorded `rows` start-up runs,
/// pauses one live start-up container (so the fault surely meets one), applies `fault` to the
/// engine, waits for r2r to end, starts the engine again and returns r2r's exit code and
/// stderr.
fn engine_fault_during_startup(rows: usize, fault: fn() -> StoppedEngine) -> (Option<i32>, String) {
    let mut first = quick_run_until_rows("4", rows);
    first.wait_for(
        "a start-up container paused while live",
        Duration::from_secs(120),
        |_| pause_live_container("quick"),
    );
    let stopped = fault();
    let ended = first.finish(Duration::from_secs(120));
    stopped.start();
    ended
}

#[test]
#[serial]
fn an_engine_crash_leaves_a_counting_group_that_resume_removes_with_the_process_in_it() {
    build_quick();
    let before = r2r_cgroups();
    let (code, stderr) = engine_fault_during_startup(1, crash_engine);
    assert_eq!(code, Some(2), "{stderr}");
    let left: Vec<PathBuf> = r2r_cgroups()
        .into_iter()
        .filter(|g| !before.contains(g))
        .collect();
    assert!(
        !left.is_empty(),
        "the crash leaves the run's counting group (its container was live in it): {stderr}"
    );
    // A process no engine lists, in the group: what the `runc init` of a container being
    // created when the engine died is.
    let mut orphan = Command::new("sleep").arg("600").spawn().unwrap();
    // (A controller whose group takes no process, cpuset without cpus, is passed over.)
    let placed = left
        .iter()
        .filter(|group| std::fs::write(group.join("cgroup.procs"), orphan.id().to_string()).is_ok())
        .count();
    assert!(placed > 0, "the process could not be put in {left:?}");
    let (_, said) = resume_completes_saying("4");
    let name = left[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        said.contains(&format!("removed cgroup /{name}"))
            && said.contains(&format!(
                "1 process(es) in it killed: {} sleep 600",
                orphan.id()
            )),
        "{said}"
    );
    let status = orphan.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "{status:?}"
    );
    let still: Vec<PathBuf> = left.iter().filter(|g| g.exists()).cloned().collect();
    assert!(still.is_empty(), "left after resume: {still:?}");
}

#[test]
#[serial]
fn the_engine_stops_during_startup_runs_and_resume_completes_them() {
    build_quick();
    // The engine stops while a start-up container is certainly live.
    let (code, stderr) = engine_fault_during_startup(3, stop_engine);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the Docker engine stopped answering"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--resume"),
        "the message says how to finish: {stderr}"
    );
    let run = latest_run("quick");
    let kept = whole_rows(&run.join("startup-runs.csv"));
    assert!(kept.len() >= 3, "finished runs are kept: {}", kept.len());
    assert!(
        kept.iter().all(|row| row["ok"] == "true"),
        "a run cut by the engine is not recorded as the app's failure: {kept:?}"
    );
    let run = resume_completes("4");
    let rows = whole_rows(&run.join("startup-runs.csv"));
    let caches = if rows.iter().any(|row| row["cache"] == "cold") {
        2
    } else {
        1
    };
    assert_eq!(
        rows.len(),
        2 * caches * 4,
        "two images x cache modes x four runs: {rows:?}"
    );
    assert!(rows.iter().all(|row| row["ok"] == "true"));
    assert_eq!(
        &rows[..kept.len()],
        &kept[..],
        "the runs before the stop are the first rows"
    );
}

/// The engine's data root (`docker info`), where a build keeps the context it receives.
fn engine_data_root() -> PathBuf {
    let output = Command::new("docker")
        .args(["info", "--format", "{{.DockerRootDir}}"])
        .output()
        .unwrap();
    assert!(output.status.success(), "docker info");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Whether the engine is in the middle of a build: the classic builder holds the context of a
/// build it is receiving or running in `<data root>/tmp/docker-builder*` until the build ends.
fn engine_is_building(data_root: &Path) -> bool {
    std::fs::read_dir(data_root.join("tmp")).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("docker-builder")
        })
    })
}

#[test]
#[serial]
fn the_engine_stops_during_a_build_and_resume_completes_the_run() {
    build_quick();
    let mut first = Background::start(
        &[
            "run",
            "--scenario",
            "quick",
            "--rebuild",
            "--runs",
            "2",
            "--warmup",
            "0",
        ],
        &[],
    );
    // Stop the engine in the middle of a build stream: once the second image is under way
    // and the engine holds a build's context (it is receiving or running that build).
    let data_root = engine_data_root();
    first.wait_for(
        "the second image's build",
        Duration::from_secs(600),
        |background| background.stderr().contains("[2/"),
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while !engine_is_building(&data_root) {
        if let Some(status) = first.child.try_wait().unwrap() {
            panic!("r2r ended ({status}) before a build:\n{}", first.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "no build within 600 s:\n{}",
            first.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = stop_engine();
    let (code, stderr) = first.finish(Duration::from_secs(120));
    stopped.start();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the Docker engine stopped answering during build"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--resume"),
        "the message says how to finish: {stderr}"
    );
    let run = latest_run("quick");
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["steps"]["build"]["status"], "error", "{info:#}");
    assert!(
        info["steps"]["startup"].is_null(),
        "nothing ran after the build: {info:#}"
    );
    resume_completes("2");
}

#[test]
fn a_pid_file_naming_another_process_is_not_signalled() {
    let state = tempfile::tempdir().unwrap();
    // This test's own pid: running, and not a dockerd.
    std::fs::write(
        state.path().join("dockerd.pid"),
        std::process::id().to_string(),
    )
    .unwrap();
    let refused = std::panic::catch_unwind(|| dockerd_pid_in(state.path())).unwrap_err();
    let message = refused
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("is not a running dockerd"), "{message}");
}

#[test]
#[serial]
fn a_test_failing_while_the_engine_is_stopped_starts_it_again() {
    let failed = std::panic::catch_unwind(|| {
        let _stopped = stop_engine();
        panic!("a test fails while the engine is stopped");
    });
    assert!(failed.is_err());
    let (runtime, engine) = engine();
    runtime
        .block_on(engine.list_containers(&[]))
        .expect("the engine answers again");
    // And it is the engine the tests stop: its pid file names a running dockerd.
    dockerd_pid();
}
