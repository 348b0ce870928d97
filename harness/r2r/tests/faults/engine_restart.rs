//! The engine stops under r2r: in the middle of a build and in the middle of the start-up
//! runs. r2r says so, keeps every finished result, leaves no container behind once the engine
//! is back, and `r2r run --resume` completes the run.

use std::time::Duration;

use super::*;

fn resume_completes(runs: &str) -> PathBuf {
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
    run
}

#[test]
#[serial]
fn the_engine_stops_during_startup_runs_and_resume_completes_them() {
    build_quick();
    let first = quick_run_until_rows("4", 3);
    let stopped = stop_engine();
    let (code, stderr) = first.finish(Duration::from_secs(120));
    stopped.start();
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

/// Container ids the engine creates from now on, as it reports them (`docker events`): the
/// classic builder runs every step of a Dockerfile in a container of its own.
fn container_creations() -> (std::sync::mpsc::Receiver<String>, Child) {
    let mut events = Command::new("docker")
        .args([
            "events",
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--format",
            "{{.ID}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (receive, events)
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
    // and the engine has started a step of a Dockerfile (a build container).
    first.wait_for(
        "the second image's build",
        Duration::from_secs(600),
        |background| background.stderr().contains("[2/"),
    );
    let (creations, mut events) = container_creations();
    let deadline = Instant::now() + Duration::from_secs(600);
    let step = loop {
        if let Ok(id) = creations.recv_timeout(Duration::from_millis(50)) {
            break id;
        }
        if let Some(status) = first.child.try_wait().unwrap() {
            panic!(
                "r2r ended ({status}) before a build step:\n{}",
                first.stderr()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no build step within 600 s:\n{}",
            first.stderr()
        );
    };
    let stopped = stop_engine();
    let _ = events.kill();
    let _ = events.wait();
    let (code, stderr) = first.finish(Duration::from_secs(120));
    stopped.start();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the Docker engine stopped answering during build"),
        "cut during the build step in container {step}: {stderr}"
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
