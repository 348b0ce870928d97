//! End to end against the real Docker engine, with real crossgen2 output and real
//! containers: the `quick` scenario is built, verified, rebuilt without changes, broken on
//! purpose in one role, and cleaned. Needs a running engine (`bash scripts/engine.sh`) and the
//! .NET SDK on PATH.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

use r2r_core::engine::{DockerEngine, Engine};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn r2r(root: &Path) -> Command {
    let mut command = Command::cargo_bin("r2r").unwrap();
    command
        .current_dir(root)
        .env("R2R_WORK_DIR", self::root().join(".r2r/work"))
        .env("R2R_RESULTS_DIR", common::results());
    command
}

fn engine() -> (tokio::runtime::Runtime, DockerEngine) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(DockerEngine::connect())
        .expect("a Docker engine must run for this test: bash scripts/engine.sh");
    (runtime, engine)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "bin" && entry.file_name() != "obj" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn quick_scenario_end_to_end() {
    let root = root();
    let (runtime, engine) = engine();

    // 1. Build and verify everything.
    let output = r2r(&root)
        .args(["run", "--scenario", "quick"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "r2r run failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let latest = common::results().join("quick/latest");
    for file in [
        "run.json",
        "plan.json",
        "engine.json",
        "build.json",
        "verify.json",
        "sizes.csv",
        "layers.csv",
        "sharing.csv",
        "startup-runs.csv",
        "startup.csv",
        "summary.json",
        "report.md",
        "report.html",
        "plots/sizes.svg",
        "plots/startup-console.svg",
    ] {
        assert!(latest.join(file).is_file(), "{file} written by r2r run");
    }
    let summary = read_json(&latest.join("summary.json"));
    assert!(
        summary["sizes"].is_object() && summary["startup"].is_object(),
        "{summary}"
    );
    let verify = read_json(&latest.join("verify.json"));
    let images = verify.as_array().unwrap();
    assert_eq!(images.len(), 7, "{verify:#}");
    for image in images {
        for check in image["checks"].as_array().unwrap() {
            assert_eq!(check["passed"], true, "{}: {check}", image["id"]);
        }
    }
    // The composite runtime is a composite, proven from its files; the baseline is not.
    let composite = images
        .iter()
        .find(|i| i["id"] == "runtime-composite.runtime")
        .unwrap();
    let files = composite["checks"][0]["detail"].as_str().unwrap();
    assert!(
        files.contains(
            "composite usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/framework-r2r.dll"
        ),
        "{files}"
    );
    let baseline = images
        .iter()
        .find(|i| i["id"] == "no-composite.runtime")
        .unwrap();
    assert!(
        baseline["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("as shipped"),
        "{baseline}"
    );
    // The console apps ran and used precompiled code.
    for id in ["no-composite.console", "runtime-composite.console"] {
        let app = images.iter().find(|i| i["id"] == id).unwrap();
        let names: Vec<&str> = app["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["files", "run", "precompiled"], "{app}");
    }

    // 2. Labels on the images, and the same inputs are not rebuilt.
    let details = runtime
        .block_on(engine.inspect_image("r2r/quick:runtime-composite-console"))
        .unwrap()
        .expect("image exists");
    assert_eq!(details.labels["r2r.scenario"], "quick");
    assert_eq!(details.labels["r2r.variants"], "runtime-composite");
    assert_eq!(details.labels["r2r.role"], "console");
    assert_eq!(details.labels["r2r.input-hash"].len(), 64);
    let output = r2r(&root)
        .args(["build", "--scenario", "quick"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.matches("up-to-date").count(), 7, "{stdout}");

    // 3. A broken app layer fails its images only; the rest still builds and the summary says so.
    let broken = tempfile::tempdir().unwrap();
    for dir in ["experiments", "scenarios", "scripts"] {
        copy_dir(&root.join(dir), &broken.path().join(dir));
    }
    let template = broken.path().join("experiments/dockerfiles/app.Dockerfile");
    let text = std::fs::read_to_string(&template).unwrap().replace(
        "COPY app/ /app/",
        "COPY app/ /app/\nCOPY no-such-file /app/",
    );
    std::fs::write(&template, text).unwrap();
    std::fs::copy(
        root.join("scenarios/quick.toml"),
        broken.path().join("scenarios/quick-broken.toml"),
    )
    .unwrap();
    let output = r2r(broken.path())
        .args(["build", "--scenario", "quick-broken"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("2 failed, 0 skipped"), "{stdout}");
    assert!(
        stdout.contains(
            "no-composite.console: building r2r/quick-broken:no-composite-console failed"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("no-such-file"),
        "the log tail names the cause: {stderr}"
    );
    assert_eq!(
        stdout.matches("built").count() + stdout.matches("up-to-date").count(),
        5,
        "{stdout}"
    );

    // 4. Clean removes what r2r made for those scenarios and no container is left.
    r2r(broken.path())
        .args(["clean", "--scenario", "quick-broken"])
        .assert()
        .success();
    let left = runtime
        .block_on(engine.list_images(&["r2r.scenario=quick-broken".into()]))
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let containers = runtime
        .block_on(engine.list_containers(&["r2r.managed=true".into()]))
        .unwrap();
    assert!(
        containers.is_empty(),
        "containers left behind: {containers:?}"
    );
}

/// SIGINT while containers run: r2r removes them and exits 130.
#[test]
fn interrupt_removes_running_containers() {
    let root = root();
    let (runtime, engine) = engine();
    // The images must exist; building them is quick when they are up to date.
    r2r(&root)
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let before = runtime
        .block_on(engine.list_containers(&["r2r.managed=true".into()]))
        .unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("r2r"))
        .current_dir(&root)
        .env("R2R_WORK_DIR", root.join(".r2r/work"))
        .env("R2R_RESULTS_DIR", common::results())
        .args(["verify", "--scenario", "quick"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until r2r has a container, then interrupt it.
    let started = std::time::Instant::now();
    loop {
        let running = runtime
            .block_on(engine.list_containers(&["r2r.scenario=quick".into()]))
            .unwrap();
        if running.iter().any(|id| !before.contains(id)) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "r2r verify never started a container"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopped 0 child process(es), removed 1 container(s)"),
        "{stderr}"
    );
    let left = runtime
        .block_on(engine.list_containers(&["r2r.managed=true".into()]))
        .unwrap();
    let new: Vec<&String> = left.iter().filter(|id| !before.contains(id)).collect();
    assert!(new.is_empty(), "containers left behind: {new:?}");
}

/// SIGINT in the middle of the start-up runs of `r2r run`: the finished steps and runs are
/// kept, and `r2r run --resume` adds only the missing runs and finishes the run.
#[test]
fn interrupted_run_resumes() {
    let root = root();
    let (runtime, engine) = engine();
    r2r(&root)
        .args(["build", "--scenario", "quick"])
        .assert()
        .success();
    let runs = 6;
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("r2r"))
        .current_dir(&root)
        .env("R2R_WORK_DIR", root.join(".r2r/work"))
        .env("R2R_RESULTS_DIR", common::results())
        .args([
            "run",
            "--scenario",
            "quick",
            "--runs",
            &runs.to_string(),
            "--warmup",
            "0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the new run's first recorded start-up runs, then interrupt.
    let started = std::time::Instant::now();
    let latest = common::results().join("quick/latest");
    let run_dir = loop {
        let runs_file = latest.join("startup-runs.csv");
        let recorded = std::fs::read_to_string(&runs_file)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        let fresh = std::fs::metadata(latest.join("run.json"))
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().map(|e| e < started.elapsed()).unwrap_or(false))
            .unwrap_or(false);
        if fresh && recorded >= 3 {
            break latest.canonicalize().unwrap();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "r2r run never recorded start-up runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let before = std::fs::read_to_string(run_dir.join("startup-runs.csv")).unwrap();
    let kept = before.lines().count() - 1;
    assert!(kept >= 3 && kept < 2 * runs, "{kept} runs kept");
    let info = read_json(&run_dir.join("run.json"));
    assert_eq!(info["steps"]["sizes"]["status"], "ok", "{info}");
    assert!(
        info["steps"].get("startup").is_none(),
        "start-up did not finish: {info}"
    );

    let output = r2r(&root)
        .args([
            "run",
            "--scenario",
            "quick",
            "--runs",
            &runs.to_string(),
            "--warmup",
            "0",
            "--resume",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "resuming start-up: {kept} run(s) already recorded"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("sizes: finished before, kept"), "{stderr}");
    let after = std::fs::read_to_string(run_dir.join("startup-runs.csv")).unwrap();
    assert!(
        after.starts_with(&before),
        "the runs recorded before the interruption are kept as they were"
    );
    let rows = common_rows(&run_dir.join("startup-runs.csv"));
    for image in ["no-composite.console", "runtime-composite.console"] {
        let mut numbers: Vec<u64> = rows
            .iter()
            .filter(|r| r["image"] == image && r["cache"] == "warm")
            .map(|r| r["run"].parse().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(
            numbers,
            (1..=runs as u64).collect::<Vec<_>>(),
            "{image}: every run once"
        );
    }
    let info = read_json(&run_dir.join("run.json"));
    for step in ["build", "verify", "sizes", "startup", "report"] {
        assert_eq!(info["steps"][step]["status"], "ok", "{step}: {info}");
    }
    assert!(run_dir.join("report.html").is_file());
    let left = runtime
        .block_on(engine.list_containers(&["r2r.managed=true".into()]))
        .unwrap();
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

fn common_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.deserialize().map(|row| row.unwrap()).collect()
}
