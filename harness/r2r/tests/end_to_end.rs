//! End to end against the real Docker engine, with real crossgen2 output and real
//! containers: the `quick` scenario is built, verified, rebuilt without changes, broken on
//! purpose in one role, and cleaned. Needs a running engine (`bash scripts/engine.sh`) and the
//! .NET SDK on PATH.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

use r2r_core::engine::{Containers, DockerEngine, Images};

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

/// The values at `path` of a JSON document: segments split by `.`, `*` for every value of a
/// map, a `[*]` suffix for every element of the array found.
fn json_nodes<'a>(value: &'a serde_json::Value, path: &str) -> Vec<&'a serde_json::Value> {
    let mut current = vec![value];
    for segment in path.split('.').filter(|segment| !segment.is_empty()) {
        let (name, each) = match segment.strip_suffix("[*]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        let mut next = Vec::new();
        for node in current {
            let children: Vec<&serde_json::Value> = match name {
                "*" => node
                    .as_object()
                    .map(|map| map.values().collect())
                    .unwrap_or_default(),
                "" => vec![node],
                name => node.get(name).into_iter().collect(),
            };
            for child in children {
                if each {
                    next.extend(child.as_array().into_iter().flatten());
                } else {
                    next.push(child);
                }
            }
        }
        current = next;
    }
    current
}

/// Every CSV header and JSON key set of the run directory is the one captured from a run of
/// the quick scenario (`harness/r2r-core/tests/data/formats-quick.txt`): a change of any
/// result file's format shows here, on a real run.
fn assert_formats_as_captured(run: &Path) {
    let fixture = root().join("harness/r2r-core/tests/data/formats-quick.txt");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let (left, expected) = line.split_once(": ").unwrap();
        let (file, path) = left.split_once(' ').unwrap_or((left, ""));
        let found = if file.ends_with(".csv") {
            let content = std::fs::read_to_string(run.join(file)).unwrap();
            content.lines().next().unwrap_or_default().to_string()
        } else {
            let document = read_json(&run.join(file));
            let keys: std::collections::BTreeSet<&str> = json_nodes(&document, path)
                .into_iter()
                .filter_map(|node| node.as_object())
                .flat_map(|map| map.keys().map(String::as_str))
                .collect();
            keys.into_iter().collect::<Vec<_>>().join(",")
        };
        assert_eq!(
            found,
            expected,
            "{file} {path}: the format of {}",
            run.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "{checked} formats checked from {}",
        fixture.display()
    );
}

#[test]
fn quick_scenario_end_to_end() {
    let root = root();
    let (runtime, engine) = engine();

    // 1. Build and verify everything.
    let output = r2r(&root)
        // Three recorded runs per image and cache mode are enough to prove every file is
        // written; the statistics themselves are tested on their own.
        .args(["run", "--scenario", "quick", "--runs", "3"])
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
    assert_formats_as_captured(&latest);
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

/// A runtime newer than the SDK here (.NET 11 with the .NET 10 SDK): the framework images and
/// the runtime composite are built from the packs, the console app is compiled for the SDK's
/// newest framework and pinned to the newer runtime, verified and started on it; run.json and
/// the report say how the app was compiled. Native AOT, which needs the newer SDK, is refused
/// with one line naming it.
#[test]
fn a_runtime_newer_than_the_sdk_is_built_and_run_with_apps_pinned_to_it() {
    let root = root();
    let latest = common::run_warm("quick-net11");
    let info = read_json(&latest.join("run.json"));
    let runtime = info["dotnet"]["runtime"].as_str().unwrap();
    assert!(runtime.starts_with("11."), "{info:#}");
    let apps = &info["dotnet"]["apps"];
    assert_eq!(apps["rolled_forward"], true, "{info:#}");
    let sdk_major = apps["sdk"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        apps["target_framework"],
        format!("net{sdk_major}.0"),
        "{info:#}"
    );
    for image in read_json(&latest.join("verify.json")).as_array().unwrap() {
        for check in image["checks"].as_array().unwrap() {
            assert_eq!(check["passed"], true, "{}: {check}", image["id"]);
        }
    }
    let rows = std::fs::read_to_string(latest.join("startup-runs.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 2 * 2, "{rows}");
    assert!(
        rows.lines().skip(1).all(|row| row.contains(",true,")),
        "{rows}"
    );
    let report = std::fs::read_to_string(latest.join("report.md")).unwrap();
    assert!(
        report.contains(&format!("pinned to run on {runtime}")),
        "{report}"
    );

    // Native AOT needs an SDK of the runtime's own version.
    let scenario = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(
        scenario.path(),
        "description = \"aot\"\ndotnet = \"11.0\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\", \"native-aot\"]\nmeasure = [\"sizes\"]\n",
    )
    .unwrap();
    let output = r2r(&root)
        .args(["build", "--scenario"])
        .arg(scenario.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "Native AOT (publish profile `native-aot`) for .NET {runtime} needs the .NET 11 SDK; this machine has the"
        )),
        "{text}"
    );
}
