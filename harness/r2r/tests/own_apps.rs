//! Apps of the user's, end to end against the real engine with real `dotnet publish`,
//! crossgen2 and containers: a project outside the repository measured by `r2r run --app`
//! and by a scenario that names it by a relative path; an app that never becomes ready; a
//! project that does not build; an app that carries a framework assembly of its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{r2r_in_project as r2r, said as text};

fn json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// A web app project in `dir/<name>/`: `/` answers "ok", `/hello` a greeting. With
/// `package`, it references that NuGet package (`Name/Version`).
fn web_project(dir: &Path, name: &str, package: Option<&str>, program: Option<&str>) -> PathBuf {
    let project_dir = dir.join(name);
    std::fs::create_dir_all(&project_dir).unwrap();
    let reference = package
        .map(|package| {
            let (id, version) = package.split_once('/').unwrap();
            format!("<ItemGroup><PackageReference Include=\"{id}\" Version=\"{version}\" /></ItemGroup>")
        })
        .unwrap_or_default();
    std::fs::write(
        project_dir.join(format!("{name}.csproj")),
        format!(
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n  <PropertyGroup>\n    <TargetFramework>net10.0</TargetFramework>\n    <ImplicitUsings>enable</ImplicitUsings>\n    <Nullable>enable</Nullable>\n  </PropertyGroup>\n  {reference}\n</Project>\n"
        ),
    )
    .unwrap();
    std::fs::write(
        project_dir.join("Program.cs"),
        program.unwrap_or(
            "var app = WebApplication.CreateBuilder(args).Build();\napp.MapGet(\"/\", () => \"ok\");\napp.MapGet(\"/hello\", () => new { greeting = \"hello\" });\napp.Run();\n",
        ),
    )
    .unwrap();
    project_dir.join(format!("{name}.csproj"))
}

/// Writes `dir/<name>.toml` (.NET 10.0.12, the slim base, then `body`) and runs
/// `r2r <command> --scenario <that file> <args>`.
fn on_scenario(dir: &Path, name: &str, body: &str, command: &str, args: &[&str]) -> Output {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!("dotnet = \"10.0.12\"\nbase = \"slim\"\n{body}"),
    )
    .unwrap();
    r2r()
        .args([command, "--scenario"])
        .arg(&file)
        .args(args)
        .output()
        .unwrap()
}

/// The ids and `run` checks of a run's verify.json.
fn run_checks(run: &Path) -> Vec<(String, bool, String)> {
    let verify = json(&run.join("verify.json"));
    verify
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|image| {
            let id = image["id"].as_str().unwrap().to_string();
            image["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|check| check["name"] == "run")
                .map(move |check| {
                    (
                        id.clone(),
                        check["passed"].as_bool().unwrap(),
                        check["detail"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn containers_of(scenario: &str) -> String {
    let output = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=r2r.scenario={scenario}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn an_app_outside_the_repository_is_measured_by_run_app_and_by_a_scenario_naming_it() {
    let outside = tempfile::tempdir().unwrap();
    let project = web_project(outside.path(), "Hello", None, None);

    // 1. `r2r run --app`: the scenario is made, kept in the run directory, and run.
    let output = r2r()
        .args(["run", "--app"])
        .arg(&project)
        .args([
            "--variants",
            "no-composite,aspnet-composite",
            "--dotnet",
            "10.0.12",
            "--runs",
            "2",
            "--precision",
            "off",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let run = common::latest_run("app-hello");
    let scenario = std::fs::read_to_string(run.join("scenario.toml")).unwrap();
    assert!(
        scenario.contains(&format!("project = \"{}\"", project.display())),
        "{scenario}"
    );
    let checks = run_checks(&run);
    for id in ["no-composite.hello", "aspnet-composite.hello"] {
        let (_, passed, detail) = checks
            .iter()
            .find(|(image, ..)| image == id)
            .unwrap_or_else(|| panic!("{id} verified: {checks:?}"));
        assert!(passed, "{id}: {detail}");
        assert!(detail.contains("ready (GET / answers 200)"), "{detail}");
    }
    let startup = std::fs::read_to_string(run.join("startup.csv")).unwrap();
    assert!(
        startup
            .lines()
            .any(|line| line.starts_with("aspnet-composite.hello,")),
        "{startup}"
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("aspnet-composite.hello"), "{report}");
    // The scenario kept in the run runs again as it is.
    let again = r2r()
        .args(["plan", "--scenario"])
        .arg(run.join("scenario.toml"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));

    // 2. A scenario beside the project names it by a relative path, with a rule of its own,
    // and with a second app that never becomes ready: that app's images fail, the first
    // app's results are kept, the exit code says so, no container is left.
    let output = on_scenario(
        outside.path(),
        "mine",
        "apps = [\n  { project = \"Hello/Hello.csproj\", ready = { http = \"/hello\" }, request = \"/\" },\n  { name = \"never\", project = \"Hello/Hello.csproj\", kind = \"web\", ready = { http = \"/nowhere\" } },\n]\nvariants = [\"no-composite\"]\nmeasure = [\"startup\"]\n",
        "run",
        &["--runs", "2", "--precision", "off", "--timeout", "15"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let run = common::latest_run("mine");
    let checks = run_checks(&run);
    let hello = checks
        .iter()
        .find(|(id, ..)| id == "no-composite.hello")
        .unwrap();
    assert!(hello.1, "{hello:?}");
    assert!(
        hello.2.contains("GET /hello answers 200") && hello.2.contains("GET / 200"),
        "{hello:?}"
    );
    let never = checks
        .iter()
        .find(|(id, ..)| id == "no-composite.never")
        .unwrap();
    assert!(!never.1, "{never:?}");
    assert!(
        never.2.contains("not ready (GET /nowhere answers 200)"),
        "{never:?}"
    );
    let runs = std::fs::read_to_string(run.join("startup-runs.csv")).unwrap();
    assert!(
        runs.lines()
            .any(|line| line.starts_with("no-composite.hello,") && line.contains(",true,")),
        "{runs}"
    );
    assert_eq!(containers_of("mine"), "", "no container left");
}

#[test]
fn bad_apps_get_one_clear_line_each() {
    let outside = tempfile::tempdir().unwrap();
    // A project path that does not exist: the scenario's line, before anything is built.
    let output = on_scenario(
        outside.path(),
        "missing",
        "apps = [\n  \"console\",\n  { project = \"nowhere/App.csproj\" },\n]\nvariants = [\"no-composite\"]\n",
        "run",
        &[],
    );
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing.toml:5") && stderr.contains("no project file at"),
        "{stderr}"
    );
    // An unknown readiness rule, named with its line.
    let output = on_scenario(
        outside.path(),
        "missing",
        "apps = [\n  { project = \"nowhere/App.csproj\", ready = { tcp = 80 } },\n]\nvariants = [\"no-composite\"]\n",
        "plan",
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing.toml:4") && stderr.contains("unknown field `tcp`"),
        "{}",
        text(&output)
    );

    // A project that does not build, beside the console sample: the sample is measured,
    // the broken app's image fails with the compiler's line.
    web_project(
        outside.path(),
        "Broken",
        None,
        Some("var app = WebApplication.CreateBuilder(args).Build()\napp.Run();\n"),
    );
    let output = on_scenario(
        outside.path(),
        "broken",
        "apps = [\"console\", { project = \"Broken/Broken.csproj\" }]\nvariants = [\"no-composite\"]\nmeasure = [\"sizes\"]\n",
        "run",
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        format!("{stdout}{stderr}").contains("Broken/Program.cs(1,")
            && format!("{stdout}{stderr}").contains(": error CS"),
        "{}",
        text(&output)
    );
    let run = common::latest_run("broken");
    let sizes = std::fs::read_to_string(run.join("sizes.csv")).unwrap();
    assert!(
        sizes
            .lines()
            .any(|line| line.contains("no-composite.console")),
        "{sizes}"
    );
    assert_eq!(containers_of("broken"), "", "no container left");
}

#[test]
fn an_app_carrying_a_composite_assembly_is_refused_on_that_composite_and_runs_elsewhere() {
    let outside = tempfile::tempdir().unwrap();
    // A newer Microsoft.Extensions.Hosting.Abstractions than the 10.0.12 framework's: the app
    // carries its own copy, which the ASP.NET Core composite also contains.
    web_project(
        outside.path(),
        "Collide",
        Some("Microsoft.Extensions.Hosting.Abstractions/11.0.0"),
        None,
    );
    let output = on_scenario(
        outside.path(),
        "collide",
        "apps = [{ project = \"Collide/Collide.csproj\" }]\nvariants = [\"no-composite\", \"aspnet-composite\"]\nmeasure = [\"sizes\"]\n",
        "run",
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let all = text(&output);
    assert!(
        all.contains("app `collide` carries its own")
            && all.contains("Microsoft.Extensions.Hosting.Abstractions.dll")
            && all.contains("framework-aspnetcore-r2r.dll")
            && all.contains("MVID mismatch"),
        "{all}"
    );
    let run = common::latest_run("collide");
    let build = json(&run.join("build.json"));
    let status = |id: &str| {
        build
            .as_array()
            .unwrap()
            .iter()
            .find(|image| image["id"] == id)
            .map(|image| image["status"]["status"].clone())
    };
    assert_eq!(
        status("aspnet-composite.collide"),
        Some("failed".into()),
        "{build:#}"
    );
    let checks = run_checks(&run);
    let fine = checks
        .iter()
        .find(|(id, ..)| id == "no-composite.collide")
        .unwrap();
    assert!(fine.1, "the app runs on the framework as shipped: {fine:?}");
    assert!(
        !checks
            .iter()
            .any(|(id, ..)| id == "aspnet-composite.collide"),
        "a refused image is not verified as if it ran: {checks:?}"
    );
    assert_eq!(containers_of("collide"), "", "no container left");
}
