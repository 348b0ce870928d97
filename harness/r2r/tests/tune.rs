//! `r2r tune` end to end against the real engine, real images and real crossgen2: recordings
//! of the samples in their as-shipped images (made twice, the same), a tuned composite built,
//! verified to root exactly what the app loaded and measured beside as shipped, a recipe that
//! leaves a loaded assembly out named by verify, and the bad inputs refused with one line and
//! nothing written.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{r2r_in_project as r2r, said as text};

/// Writes `<dir>/<name>.toml`: .NET 10.0.12, slim, the apps, as shipped and the aspnet
/// composite; returns its path.
fn scenario(dir: &Path, name: &str, apps: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = {apps}\nvariants = [\"no-composite\", \"aspnet-composite\"]\n"
        ),
    )
    .unwrap();
    path
}

fn tune(scenario: &Path, args: &[&str]) -> Output {
    r2r()
        .arg("tune")
        .arg("--scenario")
        .arg(scenario)
        .args(args)
        .output()
        .unwrap()
}

/// The run directories of `<results>/<name>`, oldest first (`latest` left out).
fn runs(name: &str) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(common::results().join(name))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.is_dir() && !path.ends_with("latest"))
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs
}

/// The assembly lines of a recording (its header left out).
fn assemblies(run: &Path, app: &str) -> Vec<String> {
    let path = run.join(format!("tune/{app}.assemblies.txt"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// The detail of check `check` of image `image` in a verify.json.
fn check(verify: &serde_json::Value, image: &str, check: &str) -> (bool, String) {
    let found = verify
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == image)
        .unwrap_or_else(|| panic!("no {image} in {verify}"));
    let check = found["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == check)
        .unwrap_or_else(|| panic!("no {check} check on {image}: {found}"));
    (
        check["passed"].as_bool().unwrap(),
        check["detail"].as_str().unwrap().to_string(),
    )
}

#[test]
fn two_recordings_of_the_same_apps_and_images_list_the_same_assemblies() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "tune-rec", r#"["console", "webapi"]"#);
    for _ in 0..2 {
        let output = tune(&file, &["--record-only"]);
        assert!(output.status.success(), "{}", text(&output));
    }
    let made = runs("tune-rec-tuned");
    assert_eq!(made.len(), 2, "{made:?}");
    for app in ["console", "webapi"] {
        let (first, second) = (assemblies(&made[0], app), assemblies(&made[1], app));
        assert_eq!(first, second, "{app}: two recordings differ");
        assert!(
            first.contains(&"System.Private.CoreLib  # Microsoft.NETCore.App".to_string()),
            "{first:?}"
        );
    }
    let web = assemblies(&made[0], "webapi");
    let console = assemblies(&made[0], "console");
    assert!(web
        .iter()
        .any(|line| line.ends_with("# Microsoft.AspNetCore.App")));
    assert!(!console
        .iter()
        .any(|line| line.ends_with("# Microsoft.AspNetCore.App")));
    assert!(web.len() > console.len(), "{web:?} vs {console:?}");
    // The run's scenario plans the tuned recipes from its own tune/ (the union's too).
    let output = r2r()
        .args(["plan", "--scenario"])
        .arg(made[1].join("scenario.toml"))
        .output()
        .unwrap();
    let plan = text(&output);
    assert!(output.status.success(), "{plan}");
    for image in [
        "aspnet-composite.tuned-webapi.webapi",
        "aspnet-composite.tuned-console-pgo.console",
        "aspnet-composite.tuned-all.webapi",
        "aspnet-composite.partial-pgo.webapi",
    ] {
        assert!(plan.contains(image), "{image} not in {plan}");
    }
}

#[test]
fn a_tuned_composite_roots_what_the_app_loaded_and_is_measured_against_as_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "tune-e2e", r#"["console"]"#);
    let output = tune(
        &file,
        &[
            "--recipes",
            "full",
            "--runs",
            "3",
            "--cache",
            "warm",
            "--precision",
            "off",
        ],
    );
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    let run = runs("tune-e2e-tuned").pop().expect("a run directory");
    let recorded = assemblies(&run, "console").len();
    let verify = json(&run.join("verify.json"));
    let (passed, detail) = check(&verify, "aspnet-composite.tuned-console.runtime", "recipe");
    assert!(passed, "{detail}");
    assert!(
        detail.contains(&format!(
            "recording: {recorded} of the {recorded} assemblies the app loaded from these frameworks are roots, 0 root(s)"
        )),
        "{detail}"
    );
    // The answer, as data and as a plot, against the app as shipped.
    let answer = std::fs::read_to_string(run.join("answer.csv")).unwrap();
    let header = answer.lines().next().unwrap();
    assert!(
        header.starts_with("app,image,variant,recipe,as_shipped,gzip_bytes"),
        "{header}"
    );
    for image in [
        "no-composite.console,",
        "aspnet-composite.tuned-console.console,",
        "aspnet-composite.tuned-console-pgo.console,",
        "aspnet-composite.console,",
    ] {
        assert!(answer.contains(image), "{image} not in {answer}");
    }
    assert!(run.join("plots/answer-console.svg").is_file());
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("The answer for `console`"), "{report}");

    // A recipe that leaves out an assembly the app loaded is named by verify, with the
    // recording's line.
    let tune_dir = run.join("tune");
    let recording = std::fs::read_to_string(tune_dir.join("console.assemblies.txt")).unwrap();
    let dropped = recording
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| !line.starts_with("System.Private.CoreLib"))
        .unwrap()
        .to_string();
    let kept: String = recording
        .lines()
        .filter(|line| *line != dropped)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(tune_dir.join("edited.roots.txt"), kept).unwrap();
    let recipes = std::fs::read_to_string(tune_dir.join("recipes.toml")).unwrap();
    let edited = recipes.replacen(
        "roots = \"console.assemblies.txt\"",
        "roots = \"edited.roots.txt\"",
        1,
    );
    assert_ne!(edited, recipes);
    std::fs::write(tune_dir.join("recipes.toml"), edited).unwrap();
    let edited_scenario = run.join("scenario.toml");
    let build = r2r()
        .args(["build", "--scenario"])
        .arg(&edited_scenario)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let verified = r2r()
        .args(["verify", "--scenario"])
        .arg(&edited_scenario)
        .output()
        .unwrap();
    let said = text(&verified);
    assert_eq!(verified.status.code(), Some(1), "{said}");
    // The table's detail column (the last), its wrapped lines joined.
    let details: Vec<&str> = said
        .lines()
        .filter_map(|line| line.trim_end_matches('|').rsplit('|').next())
        .map(str::trim)
        .collect();
    let details = details.join(" ");
    let name = dropped.split_whitespace().next().unwrap();
    assert!(
        details.contains("the app loaded but the recipe does not root:")
            && details.contains(&format!("{name} (console.assemblies.txt:")),
        "{said}"
    );
}

#[test]
fn bad_input_is_refused_with_one_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |output: &Output, expected: &str| {
        let said = text(output);
        assert_eq!(output.status.code(), Some(2), "{said}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error_lines.len(), 1, "{said}");
        assert!(
            error_lines[0].contains(expected),
            "`{expected}` not in {said}"
        );
    };
    // An app that never becomes ready: its readiness path answers 404.
    let never = dir.path().join("never.toml");
    std::fs::write(
        &never,
        format!(
            "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [{{ project = \"{}\", name = \"never\", ready = {{ http = \"/missing\" }} }}]\nvariants = [\"no-composite\"]\n",
            common::root().join("experiments/apps/webapi/WebApi.csproj").display()
        ),
    )
    .unwrap();
    let output = r2r()
        .args(["tune", "--scenario"])
        .arg(&never)
        .args(["--record-only", "--timeout", "20"])
        .output()
        .unwrap();
    refused(&output, "did not become ready");
    assert!(runs("never-tuned").is_empty());

    // An image that is not as shipped.
    let file = scenario(dir.path(), "tune-bad", r#"["console"]"#);
    let build = r2r()
        .args(["build", "--scenario"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let output = tune(&file, &["--image", "r2r/tune-bad:aspnet-composite-console"]);
    refused(&output, "not as shipped");

    // No recording where one is read from.
    let empty = dir.path().join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    let output = tune(&file, &["--from", empty.to_str().unwrap()]);
    refused(&output, "has no recording");

    // A recording that names an assembly the framework lacks: refused at its line.
    let output = tune(&file, &["--record-only"]);
    assert!(output.status.success(), "{}", text(&output));
    let recorded = runs("tune-bad-tuned").pop().unwrap();
    let forged = dir.path().join("forged");
    std::fs::create_dir_all(forged.join("tune")).unwrap();
    let mut lines = std::fs::read_to_string(recorded.join("tune/console.assemblies.txt")).unwrap();
    let line = lines.lines().count() + 1;
    lines.push_str("System.Not.In.The.Framework  # Microsoft.NETCore.App\n");
    std::fs::write(forged.join("tune/console.assemblies.txt"), lines).unwrap();
    let before = runs("tune-bad-tuned").len();
    let output = tune(
        &file,
        &["--from", forged.to_str().unwrap(), "--record-only"],
    );
    refused(&output, &format!("console.assemblies.txt:{line}"));
    assert!(text(&output).contains("System.Not.In.The.Framework"));
    assert_eq!(runs("tune-bad-tuned").len(), before, "nothing written");
}
