//! The whole experiment, for real: every variant of the `composite` (.NET 10) and
//! `composite-net8` (.NET 8) scenarios is built through the engine and verified: composite
//! files and component headers read from the images, apps run in containers, and precompiled
//! code shown to be used.

mod common;

fn run_and_check(scenario: &str, version: &str) {
    let run = common::run_warm(scenario);
    let path = run.join("verify.json");
    let verify: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let images = verify.as_array().unwrap();
    assert_eq!(images.len(), 15, "{verify:#}");
    let find = |id: &str| {
        images
            .iter()
            .find(|image| image["id"] == id)
            .unwrap_or_else(|| panic!("{id} verified"))
    };
    let detail = |id: &str| {
        find(id)["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for image in images {
        assert!(
            image["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|check| check["passed"] == true),
            "{image:#}"
        );
    }
    let shared = format!("usr/share/dotnet/shared/Microsoft.NETCore.App/{version}");
    // Runtime + ASP.NET Core in one composite, found beside System.Private.CoreLib.
    let single = detail("aspnet-composite.aspnet");
    assert_eq!(
        single
            .matches(&format!("composite {shared}/framework-aspnetcore-r2r.dll"))
            .count(),
        2,
        "{single}"
    );
    // Two composites, one per layer.
    let composed = detail("composed-composite.webapi");
    assert!(
        composed.contains(&format!("composite {shared}/framework-r2r.dll")),
        "{composed}"
    );
    assert!(
        composed.contains("Microsoft.AspNetCore.App/") && composed.contains("/aspnetcore-r2r.dll"),
        "{composed}"
    );
    // App and runtime in one composite in /app.
    assert!(detail("selfcontained-composite.webapi").contains("composite app/app-r2r.dll"));
    // Apps answered: the console printed its line, the web API served JSON on 127.0.0.1.
    for id in [
        "no-composite.webapi",
        "aspnet-composite.webapi",
        "composed-composite.webapi",
        "selfcontained-composite.webapi",
    ] {
        let run = find(id)["checks"][1]["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(run.starts_with("HTTP 200 on 127.0.0.1:"), "{id}: {run}");
    }
}

#[test]
#[ignore = "full suite: every variant of .NET 10, about 7 minutes of crossgen2 on 2 cores"]
fn dotnet10_all_five_variants_build_and_verify() {
    run_and_check("composite", "10.0.12");
    // The web APIs' start-up with the alternative readiness signal: the ready line in the logs.
    let directory = tempfile::tempdir().unwrap();
    let output = common::r2r()
        .env("R2R_RESULTS_DIR", directory.path())
        .args([
            "measure",
            "startup",
            "--scenario",
            "composite",
            "--cache",
            "warm",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--ready",
            "log",
            "--output",
        ])
        .arg(directory.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let runs = std::fs::read_to_string(directory.path().join("startup-runs.csv")).unwrap();
    let web: Vec<&str> = runs
        .lines()
        .filter(|line| line.contains(",webapi,"))
        .collect();
    assert_eq!(web.len(), 5 * 2, "{runs}");
    assert!(web.iter().all(|line| line.contains(",true,")), "{runs}");
}

#[test]
#[ignore = "full suite: every variant of .NET 8, about 6 minutes of crossgen2 on 2 cores"]
fn dotnet8_all_five_variants_build_and_verify() {
    run_and_check("composite-net8", "8.0.33");
}
