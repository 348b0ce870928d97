//! What a deployment pays, end to end against the real engine: the console app and the web API,
//! as shipped and on the aspnet composite, pushed to a registry r2r starts, pulled by an empty
//! second engine r2r starts (at loopback speed and through a rate-limited proxy, onto an empty
//! node and one holding the shared layers), started to ready and the first response; the web
//! API under wrk's load from ready. Then what goes wrong: a registry that dies in the middle, a
//! registry and a load generator that are not installed — one line each, the other results
//! kept, nothing left running and nothing left on the engine.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{csv_rows, number, r2r_in_project as r2r, said as text};

/// Writes `<dir>/<name>.toml`: .NET 10.0.12, slim, console and web API, as shipped and the
/// aspnet composite, measuring `measure`; returns its path.
fn scenario(dir: &Path, name: &str, measure: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\", \"webapi\"]\nvariants = [\"no-composite\", \"aspnet-composite\"]\nmeasure = {measure}\n"
        ),
    )
    .unwrap();
    path
}

/// Processes whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(line) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            if line.contains(needle) {
                found.push(line);
            }
        }
    }
    found
}

/// What the measurement starts beside r2r, still running (their command lines).
fn services_left() -> Vec<String> {
    let mut left = processes_with("r2r-registry-");
    left.extend(processes_with("/var/tmp/r2r-node-"));
    // And nothing of the node's is left on disk or mounted.
    left.extend(
        std::fs::read_dir("/var/tmp")
            .unwrap()
            .flatten()
            .map(|e| e.path().display().to_string())
            .filter(|path| path.contains("r2r-node-")),
    );
    left
}

/// Image tags on the engine that name the node's registry.
fn pushed_tags_left() -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("r2r-node/"))
        .map(String::from)
        .collect()
}

fn containers_of(scenario: &str) -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=r2r.scenario={scenario}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_new_node_pulls_starts_and_answers_and_the_web_api_is_measured_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "deploy-both", "[\"node\", \"load\"]");
    let output = r2r()
        .arg("run")
        .arg("--scenario")
        .arg(&file)
        .args(["--node-rates", "loopback,400mbit", "--node-rounds", "2"])
        .args(["--load-seconds", "6", "--load-rounds", "2"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let run = common::latest_run("deploy-both");

    // Every image, rate, node state and round has a row with figures.
    let node = csv_rows(&run.join("node.csv"));
    assert_eq!(node.len(), 4 * 2 * 2 * 2, "{node:?}");
    for row in &node {
        assert_eq!(row["error"], "", "{row:?}");
        for column in ["pull_s", "download_s", "extract_s", "ready_ms", "total_s"] {
            assert!(number::<f64>(row, column) > 0.0, "{column} of {row:?}");
        }
        let web = row["app"] == "webapi";
        assert_eq!(!row["first_response_ms"].is_empty(), web, "{row:?}");
    }
    let pulled =
        |row: &std::collections::BTreeMap<String, String>| number::<u64>(row, "bytes_pulled");
    for row in node.iter().filter(|r| r["node"] == "empty") {
        // An empty node pulls the base and the runtime at least.
        assert!(pulled(row) > 20_000_000, "{row:?}");
        assert_eq!(row["layers_present"], "0", "{row:?}");
        // Through the proxy, no pull can be faster than its bytes at the rate.
        if row["rate"] == "400mbit" {
            let floor = pulled(row) as f64 * 8.0 / 400e6;
            assert!(
                number::<f64>(row, "pull_s") >= floor,
                "{row:?} (floor {floor:.2} s)"
            );
        }
    }
    for row in node.iter().filter(|r| r["node"] == "shared") {
        // What stands under the app is there already: only the app's own layers come.
        let empty = node
            .iter()
            .find(|r| r["node"] == "empty" && r["image"] == row["image"])
            .unwrap();
        assert!(pulled(row) < pulled(empty) / 4, "{row:?} against {empty:?}");
        assert!(number::<u64>(row, "layers_present") > 0, "{row:?}");
    }

    // Load: the web API only, every second of every run answered.
    let seconds = csv_rows(&run.join("load.csv"));
    assert_eq!(seconds.len(), 2 * 2 * 6, "{seconds:?}");
    assert!(seconds.iter().all(|r| r["app"] == "webapi"));
    assert!(
        seconds.iter().all(|r| number::<u64>(r, "requests") > 0),
        "{seconds:?}"
    );
    let runs = csv_rows(&run.join("load-runs.csv"));
    assert_eq!(runs.len(), 2 * 2);
    for row in &runs {
        assert_eq!(row["error"], "", "{row:?}");
        let total: u64 = seconds
            .iter()
            .filter(|s| s["image"] == row["image"] && s["round"] == row["round"])
            .map(|s| number::<u64>(s, "requests"))
            .sum();
        // The full seconds hold nearly every response of the run (the rest: after the end).
        let requests = number::<u64>(row, "requests");
        assert!(
            total <= requests && total * 10 >= requests * 9,
            "{total} of {row:?}"
        );
        let p50 = number::<f64>(row, "latency_p50_ms");
        assert!(
            p50 > 0.0 && p50 <= number::<f64>(row, "latency_p99_ms"),
            "{row:?}"
        );
    }

    // The report answers with both, and draws both.
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for heading in [
        "`console` on a new node",
        "`webapi` on a new node",
        "`webapi` under load",
    ] {
        assert!(report.contains(heading), "{heading} missing:\n{report}");
    }
    assert!(!report.contains("`console` under load"), "{report}");
    assert!(
        report.contains("| On a new node | Under load |"),
        "{report}"
    );
    let answer = csv_rows(&run.join("answer.csv"));
    let composite = answer
        .iter()
        .find(|r| r["image"] == "aspnet-composite.webapi")
        .unwrap();
    assert_eq!(composite["new_node_rate"], "400mbit", "{composite:?}");
    assert!(!composite["new_node_verdict"].is_empty(), "{composite:?}");
    assert!(!composite["load_verdict"].is_empty(), "{composite:?}");
    for plot in ["node-console.svg", "node-webapi.svg", "load-webapi.svg"] {
        assert!(run.join("plots").join(plot).is_file(), "{plot}");
    }
    assert!(!run.join("plots/load-console.svg").exists());

    // Nothing left: no registry, no node, no pushed tag, no container.
    assert_eq!(services_left(), Vec::<String>::new());
    assert_eq!(pushed_tags_left(), Vec::<String>::new());
    assert_eq!(containers_of("deploy-both"), Vec::<String>::new());
}

#[test]
fn a_registry_that_dies_stops_the_node_with_one_line_and_keeps_the_rows_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "deploy-down", "[]");
    let built = r2r()
        .arg("build")
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built));
    let child = std::process::Command::new(common::r2r_exe())
        .current_dir(common::root())
        .env("R2R_RESULTS_DIR", common::results())
        .env("R2R_WORK_DIR", common::root().join(".r2r/work"))
        .arg("measure")
        .arg("node")
        .arg("--scenario")
        .arg(&file)
        .args([
            "--node-rates",
            "100mbit",
            "--node-rounds",
            "3",
            "--node-empty-only",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first row is written, the registry is killed.
    let deadline = Instant::now() + Duration::from_secs(300);
    let results = common::results().join("deploy-down");
    loop {
        // The run is named `latest` only once it ends: its directory is the one being written.
        let rows: usize = std::fs::read_dir(&results)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path().join("node.csv"))
            .filter(|path| path.is_file())
            .map(|path| csv_rows(&path).len())
            .sum();
        if rows >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no row within 300 s in {}",
            results.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", "docker-registry serve .*r2r-registry-"])
        .status()
        .unwrap();
    assert!(killed.success(), "no registry to kill");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said_down: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("the registry on 127.0.0.1:"))
        .collect();
    assert_eq!(said_down.len(), 1, "{}", text(&output));
    assert!(said_down[0].contains("kept in"), "{}", text(&output));
    let rows = csv_rows(&common::latest_run("deploy-down").join("node.csv"));
    assert!(rows.iter().any(|r| r["error"].is_empty()), "{rows:?}");
    assert!(
        rows.last().is_some_and(|r| !r["error"].is_empty()),
        "{rows:?}"
    );
    assert!(rows.len() < 4 * 3, "{rows:?}");
    assert_eq!(services_left(), Vec::<String>::new());
    assert_eq!(pushed_tags_left(), Vec::<String>::new());
    assert_eq!(containers_of("deploy-down"), Vec::<String>::new());
}

/// A directory of links to every program on PATH but `left_out`.
fn path_without(dir: &Path, left_out: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for directory in std::env::split_paths(&std::env::var_os("PATH").unwrap()) {
        for entry in std::fs::read_dir(&directory)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            if left_out.iter().any(|l| name == *l) || bin.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(entry.path(), bin.join(&name));
        }
    }
    bin
}

#[test]
fn a_missing_registry_and_load_generator_are_one_line_each_and_the_sizes_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "deploy-missing",
        "[\"sizes\", \"node\", \"load\"]",
    );
    let bin = path_without(dir.path(), &["docker-registry", "wrk"]);
    let output = r2r()
        .env("PATH", &bin)
        .arg("run")
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = |needle: &str| all.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(lines("`docker-registry` is not on PATH"), 1, "{all}");
    assert_eq!(lines("`wrk` is not on PATH"), 1, "{all}");
    let run = common::latest_run("deploy-missing");
    assert!(!csv_rows(&run.join("sizes.csv")).is_empty());
    assert!(run.join("report.md").is_file());
    assert!(!run.join("node.csv").exists() && !run.join("load.csv").exists());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["steps"]["sizes"]["status"], "ok", "{record}");
    assert_eq!(record["steps"]["node"]["status"], "error", "{record}");
    assert_eq!(record["steps"]["load"]["status"], "error", "{record}");
    assert_eq!(services_left(), Vec::<String>::new());
    assert_eq!(pushed_tags_left(), Vec::<String>::new());
}
