//! Ctrl-C (SIGINT) and SIGTERM at any point: during a build (the .NET SDK running as a child)
//! and during start-up runs. Containers and child processes are gone, finished results are
//! kept, the exit code is 130 or 143, and `--resume` finishes the run.

use std::time::Duration;

use super::*;

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces) start with state, ppid.
        let Some(rest) = stat.rsplit_once(") ").map(|(_, rest)| rest) else {
            continue;
        };
        if rest
            .split(' ')
            .nth(1)
            .and_then(|ppid| ppid.parse::<u32>().ok())
            == Some(pid)
        {
            found.push(child);
        }
    }
    found
}

/// Whether any process is in process group `group`.
fn group_alive(group: u32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    unsafe { libc::kill(-(group as i32), 0) == 0 }
}

#[test]
fn sigterm_during_a_build_stops_the_sdk_and_exits_143() {
    // A new work directory: the build starts by restoring packs with the .NET SDK.
    let work = tempfile::tempdir().unwrap();
    let mut build = Background::start(
        &["build", "--scenario", "quick"],
        &[("R2R_WORK_DIR", work.path())],
    );
    let pid = build.child.id();
    build.wait_for(
        "a child process (the .NET SDK)",
        Duration::from_secs(300),
        |_| !children_of(pid).is_empty(),
    );
    let children = children_of(pid);
    build.signal(libc::SIGTERM);
    let (code, stderr) = build.finish(Duration::from_secs(60));
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopped 1 child process(es)"),
        "{stderr}"
    );
    for child in children {
        assert!(
            !group_alive(child),
            "child process group {child} outlived r2r"
        );
    }
    assert!(containers_of("quick").is_empty());
}

#[test]
fn sigint_during_startup_runs_keeps_them_and_resume_finishes() {
    build_quick();
    let run = quick_run_until_rows("3", 2);
    run.signal(libc::SIGINT);
    let (code, stderr) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("finished results are kept"), "{stderr}");
    assert!(
        containers_of("quick").is_empty(),
        "containers are removed on Ctrl-C"
    );
    let directory = latest_run("quick");
    let kept = whole_rows(&directory.join("startup-runs.csv"));
    assert!(kept.len() >= 2);
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
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = whole_rows(&directory.join("startup-runs.csv"));
    let caches = if rows.iter().any(|row| row["cache"] == "cold") {
        2
    } else {
        1
    };
    assert_eq!(rows.len(), 2 * caches * 3);
}
