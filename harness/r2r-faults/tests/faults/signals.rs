//! Ctrl-C (SIGINT) and SIGTERM at any point: while the .NET SDK restores packs, while crossgen2
//! compiles a composite, while the base script runs, and during start-up runs with a container
//! live. Every child process (and everything it started) is gone, containers are removed,
//! finished results are kept, the exit code is 130 or 143, and `--resume` finishes the run.

use std::time::Duration;

use super::*;

/// A process seen in `/proc`: its id, its start time (so a reused pid is not taken for it) and
/// its command line.
#[derive(Debug, Clone)]
struct Process {
    pid: u32,
    start_ticks: u64,
    command: String,
}

/// `(ppid, start time)` of a process, from `/proc/<pid>/stat`; `None` when it is gone or a
/// zombie (dead, only not yet reaped).
fn stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces and parentheses).
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    // state (3), ppid (4), ..., starttime (22): indexes 0, 1 and 19 here.
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Every process descended from `pid` (children, their children, ...).
fn descendants(pid: u32) -> Vec<Process> {
    let mut all: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(id) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some((parent, start_ticks)) = stat(id) {
            all.push((id, parent, start_ticks));
        }
    }
    let mut found: Vec<Process> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(id, ppid, start_ticks) in &all {
            if ppid == parent && !found.iter().any(|process| process.pid == id) {
                let command = std::fs::read(format!("/proc/{id}/cmdline"))
                    .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
                    .unwrap_or_default();
                found.push(Process {
                    pid: id,
                    start_ticks,
                    command,
                });
                frontier.push(id);
            }
        }
    }
    found
}

/// Whether `process` still runs (not a zombie, not a new process under its pid).
fn alive(process: &Process) -> bool {
    stat(process.pid).is_some_and(|(_, start_ticks)| start_ticks == process.start_ticks)
}

/// Waits until a process descended from r2r runs a command containing `needle`; returns
/// every descendant at that moment.
fn wait_for_descendant(run: &mut Background, needle: &str, limit: Duration) -> Vec<Process> {
    let pid = run.child.id();
    run.wait_for(&format!("a child process running {needle}"), limit, |_| {
        descendants(pid)
            .iter()
            .any(|process| process.command.contains(needle))
    });
    descendants(pid)
}

/// Signals r2r while `children` run, and checks it stops every one of them (the process
/// itself, not only its group) and exits with `code`.
fn interrupt_and_check(run: Background, signal: i32, code: i32, children: Vec<Process>) -> String {
    run.signal(signal);
    let (exit, stderr) = run.finish(Duration::from_secs(60));
    assert_eq!(exit, Some(code), "{stderr}");
    // At least the one waited for; while a base is made, the packs' restore and crossgen2 may
    // run beside it (the build prepares content meanwhile), and they are stopped too.
    let stopped: usize = stderr
        .split("interrupted: stopped ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no count of stopped children: {stderr}"));
    assert!(stopped >= 1, "{stderr}");
    // r2r waits for its children before it exits; a moment for the kernel to reap orphans.
    let deadline = Instant::now() + Duration::from_secs(5);
    while children.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let survivors: Vec<&Process> = children.iter().filter(|process| alive(process)).collect();
    assert!(survivors.is_empty(), "outlived r2r: {survivors:?}");
    stderr
}

/// The counting cgroups of the r2r process `pid` (`/sys/fs/cgroup/<controller>/r2r-<pid>-*`, or
/// `/sys/fs/cgroup/r2r-<pid>-*` on cgroup v2).
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("r2r-{pid}-");
    let root = Path::new("/sys/fs/cgroup");
    let mut places = vec![root.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(root) {
        places.extend(entries.flatten().map(|entry| entry.path()));
    }
    places
        .iter()
        .filter_map(|place| std::fs::read_dir(place).ok())
        .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
        .filter(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(&prefix))
        })
        .collect()
}

/// The work directory r2r uses when none is given.
fn default_work_dir() -> PathBuf {
    std::env::var_os("R2R_WORK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join(".r2r/work"))
}

#[test]
#[serial]
fn sigterm_while_the_sdk_restores_stops_it_and_exits_143() {
    // A new work directory: the build starts by restoring packs with the .NET SDK.
    let work = tempfile::tempdir().unwrap();
    let mut build = Background::start(
        &["build", "--scenario", "quick"],
        &[("R2R_WORK_DIR", work.path())],
    );
    // `dotnet restore` itself: loading the scenario also runs short `dotnet` commands (the
    // NuGet feed list, the SDK version), which may end before the signal arrives.
    let children = wait_for_descendant(&mut build, "dotnet restore", Duration::from_secs(300));
    interrupt_and_check(build, libc::SIGTERM, 143, children);
    assert!(containers_of("quick").is_empty());
}

#[test]
#[serial]
fn sigint_while_crossgen2_compiles_stops_it_and_exits_130() {
    // Packs restored, apps published and the base made, but no composite: the build runs
    // crossgen2 again for the runtime composite.
    build_quick();
    let from = default_work_dir();
    let work = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "rootfs" {
            continue;
        }
        let status = Command::new("cp")
            .arg("-a")
            .arg(entry.path())
            .arg(work.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut build = Background::start(
        &["build", "--scenario", "quick", "--rebuild"],
        &[("R2R_WORK_DIR", work.path())],
    );
    // The compile, named by its response file: before it, the build asks crossgen2 for its
    // `--help` to check the recipe, a process that ends within a second.
    let children = wait_for_descendant(&mut build, ".crossgen2.rsp", Duration::from_secs(600));
    interrupt_and_check(build, libc::SIGINT, 130, children);
    assert!(containers_of("quick").is_empty());
}

#[test]
#[serial]
fn sigterm_while_the_base_script_runs_stops_it_and_exits_143() {
    // A copy of the project whose slim base has a name the engine lacks, and a new work
    // directory: the build starts by running scripts/bootstrap-base.sh.
    let project = tempfile::tempdir().unwrap();
    for part in ["experiments", "scenarios", "scripts"] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(common::root().join(part))
            .arg(project.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let catalog = project.path().join("experiments/dotnet.toml");
    let text = std::fs::read_to_string(&catalog).unwrap();
    let renamed = text.replace(
        "image = \"r2r/base:bookworm-slim\"",
        "image = \"r2r/faults:signals-base\"",
    );
    assert_ne!(text, renamed, "the slim base is in {}", catalog.display());
    std::fs::write(&catalog, renamed).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut build = Background::start(
        &["build", "--scenario", "quick"],
        &[("R2R_ROOT", project.path()), ("R2R_WORK_DIR", work.path())],
    );
    let children = wait_for_descendant(&mut build, "bootstrap-base.sh", Duration::from_secs(120));
    interrupt_and_check(build, libc::SIGTERM, 143, children);
    assert!(containers_of("quick").is_empty());
}

#[test]
#[serial]
fn sigint_during_startup_runs_keeps_them_and_resume_finishes() {
    build_quick();
    let mut run = quick_run_until_rows("3", 2);
    // Signal while a start-up container is certainly live, so that r2r has one to remove.
    run.wait_for(
        "a start-up container paused while live",
        Duration::from_secs(120),
        |_| pause_live_container("quick"),
    );
    assert!(!containers_of("quick").is_empty());
    let pid = run.child.id();
    run.signal(libc::SIGINT);
    let (code, stderr) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("finished results are kept"), "{stderr}");
    assert!(
        containers_of("quick").is_empty(),
        "containers are removed on Ctrl-C"
    );
    // And the cgroup the live container was counted in (`r2r-<pid>-...` in each controller).
    let left = cgroups_of(pid);
    assert!(left.is_empty(), "cgroups left on Ctrl-C: {left:?}");
    let directory = latest_run("quick");
    let before = std::fs::read_to_string(directory.join("startup-runs.csv")).unwrap();
    let kept = whole_rows(&directory.join("startup-runs.csv"));
    assert!(kept.len() >= 2);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["steps"]["sizes"]["status"], "ok", "{info}");
    assert!(
        info["steps"].get("startup").is_none(),
        "start-up did not finish: {info}"
    );
    let output = common::r2r()
        .args([
            "run",
            "--scenario",
            "quick",
            "--resume",
            "--runs",
            "3",
            "--warmup",
            "0",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "resuming start-up: {} run(s) already recorded",
            kept.len()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("sizes: finished before, kept"), "{stderr}");
    let after = std::fs::read_to_string(directory.join("startup-runs.csv")).unwrap();
    assert!(
        after.starts_with(&before),
        "the runs recorded before the interruption are kept as they were"
    );
    let rows = whole_rows(&directory.join("startup-runs.csv"));
    let caches: std::collections::BTreeSet<&str> =
        rows.iter().map(|row| row["cache"].as_str()).collect();
    assert_eq!(rows.len(), 2 * caches.len() * 3);
    // Every image ran every run number once per cache mode.
    for image in ["no-composite.console", "runtime-composite.console"] {
        for cache in &caches {
            let mut numbers: Vec<u64> = rows
                .iter()
                .filter(|row| row["image"] == image && row["cache"] == *cache)
                .map(|row| row["run"].parse().unwrap())
                .collect();
            numbers.sort();
            assert_eq!(numbers, vec![1, 2, 3], "{image} {cache}: every run once");
        }
    }
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.join("run.json")).unwrap()).unwrap();
    for step in ["build", "verify", "sizes", "startup", "report"] {
        assert_eq!(info["steps"][step]["status"], "ok", "{step}: {info}");
    }
}
