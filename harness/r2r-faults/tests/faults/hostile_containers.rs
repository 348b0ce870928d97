//! Containers that misbehave: one hangs, one floods its output, one eats memory. Each run
//! has a time-out, captured output is capped, memory and process counts are limited; each is
//! recorded as a failed run with its reason while a well-behaved image beside them is measured.
//! And every container r2r starts runs with least privilege: checked from the engine's side
//! (its configuration) and from inside (what the process can do).

use std::collections::BTreeMap;
use std::time::Duration;

use r2r_core::engine::{containers, BuildRequest, Network};
use r2r_core::measure::startup::{self, Cache, StartupOptions, Target};
use r2r_core::model::catalog::AppKind;

use super::*;

const BASE: &str = "r2r/base:bookworm-slim";

/// Builds `r2r/faults:<name>` from the local base with `entrypoint`.
fn image(
    runtime: &tokio::runtime::Runtime,
    engine: &DockerEngine,
    name: &str,
    entrypoint: &[&str],
) -> String {
    let reference = format!("r2r/faults:{name}");
    let dockerfile = format!(
        "FROM {BASE}\nENTRYPOINT {}\n",
        serde_json::to_string(entrypoint).unwrap()
    );
    let mut context = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    context
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    let request = BuildRequest {
        reference: reference.clone(),
        context: context.into_inner().unwrap().into(),
        labels: BTreeMap::new(),
        platform: Default::default(),
    };
    runtime
        .block_on(engine.build_image(request, &|_| {}))
        .unwrap_or_else(|error| panic!("building {reference}: {error}"));
    reference
}

/// Start-up runs of `targets` under `options`, through the engine as `r2r measure startup`
/// makes them (scenario `faults`, nothing printed, nothing written).
fn measure(
    runtime: &tokio::runtime::Runtime,
    engine: &DockerEngine,
    targets: &[Target],
    options: &StartupOptions,
) -> Vec<startup::RunRecord> {
    runtime
        .block_on(startup::measure(
            engine,
            "faults",
            targets,
            options,
            &common::Quiet,
            &mut |_| Ok(()),
            Vec::new(),
        ))
        .unwrap()
}

fn target(name: &str, reference: &str) -> Target {
    Target {
        image: name.into(),
        reference: reference.into(),
        variants: vec![name.into()],
        kind: AppKind::Console,
        app: "console".into(),
        launch: r2r_core::model::app::Launch::sample(AppKind::Console),
    }
}

/// Lines of numbered output a flooding container writes to a stream: about 320 KB, more than
/// the [`LOG_CAP_BYTES`](containers::LOG_CAP_BYTES) r2r reads, while both streams together stay
/// well under the 4 MB log the engine keeps (about 75 bytes a line more as JSON; past 4 MB the
/// engine would start its log afresh), so the engine has all of it and the cut is r2r's.
const FLOOD_LINES: usize = 8_000;

/// Padding that makes a flood line about 40 bytes long.
const PAD: &str = "------------------------";

/// A shell command writing [`FLOOD_LINES`] numbered lines to stdout, then `end`.
fn flood(prefix: &str, end: &str) -> String {
    format!("seq -f '{prefix} %.0f {PAD}' 1 {FLOOD_LINES}; echo {end}")
}

#[test]
#[serial]
fn a_flood_keeps_the_end_of_its_output_capped_and_flagged() {
    let (runtime, engine) = engine();
    let script = format!(
        "{}; {{ {}; }} >&2",
        flood("r2r-out", "r2r-out-end"),
        flood("r2r-err", "r2r-err-end")
    );
    let reference = image(
        &runtime,
        &engine,
        "floods-and-exits",
        &["sh", "-c", &script],
    );
    let options = StartupOptions::default();
    let spec = startup::container_spec("faults", &target("floods-and-exits", &reference), &options);
    let outcome = runtime
        .block_on(containers::run_to_exit(
            &engine,
            &spec,
            Duration::from_secs(60),
        ))
        .unwrap();
    assert_eq!(outcome.exit_code, Some(0));
    let logs = outcome.logs;
    assert!(logs.truncated, "the output was longer than the cap");
    for (stream, text, prefix) in [
        ("stdout", &logs.stdout, "r2r-out"),
        ("stderr", &logs.stderr, "r2r-err"),
    ] {
        // The window is full: the cap, less at most one character cut at its front.
        assert!(
            text.len() <= containers::LOG_CAP_BYTES && text.len() + 4 > containers::LOG_CAP_BYTES,
            "{stream}: {} bytes kept, cap {}",
            text.len(),
            containers::LOG_CAP_BYTES
        );
        assert!(
            text.ends_with(&format!("{prefix} {FLOOD_LINES} {PAD}\n{prefix}-end\n")),
            "{stream} keeps the end of the output: …{}",
            &text[text.len().saturating_sub(200)..]
        );
        assert!(
            !text.contains(&format!("{prefix} 1 {PAD}")),
            "{stream} drops the start of the output"
        );
    }
    assert!(
        containers_of("faults").is_empty(),
        "the container was removed"
    );
}

#[test]
#[serial]
fn hanging_flooding_and_memory_eating_containers_fail_alone() {
    build_quick();
    let (runtime, engine) = engine();
    let targets = vec![
        target("well-behaved", "r2r/quick:no-composite-console"),
        target(
            "hangs",
            &image(&runtime, &engine, "hangs", &["sleep", "600"]),
        ),
        target(
            "floods",
            &image(
                &runtime,
                &engine,
                "floods",
                // Numbered lines, one line longer than the tail keeps, an end marker, then hangs.
                &[
                    "sh",
                    "-c",
                    &format!(
                        "{}; head -c {} /dev/zero | tr '\\0' x; echo; echo r2r-flood-last; exec sleep 600",
                        flood("r2r-flood", "r2r-flood-end"),
                        4 * containers::TAIL_CHARS
                    ),
                ],
            ),
        ),
        target(
            "eats-memory",
            &image(&runtime, &engine, "eats-memory", &["tail", "/dev/zero"]),
        ),
    ];
    let options = StartupOptions {
        warmup: 0,
        min_runs: 2,
        caches: vec![Cache::Warm],
        // Room for the memory eater to reach its limit on a busy machine.
        ready_timeout: Duration::from_secs(10),
        memory_limit_bytes: 256 << 20,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let records = measure(&runtime, &engine, &targets, &options);
    let of = |image: &str| {
        records
            .iter()
            .filter(|record| record.image == image)
            .collect::<Vec<_>>()
    };
    assert_eq!(records.len(), 8);
    assert!(
        of("well-behaved").iter().all(|record| record.ok),
        "{:?}",
        of("well-behaved")
    );
    for record in of("hangs") {
        assert!(
            !record.ok && record.error.starts_with("not ready within 10s"),
            "{}",
            record.error
        );
    }
    for record in of("floods") {
        assert!(
            !record.ok && record.error.starts_with("not ready within 10s"),
            "{}",
            record.error
        );
        // The tail is the end of the output (past the first LOG_CAP_BYTES), the last eight
        // lines cut to TAIL_CHARS characters at the front: the long line's end and the marker.
        assert!(
            record.error.ends_with("xxxx\nr2r-flood-last"),
            "the end of the output is kept: …{}",
            &record.error[record.error.len().saturating_sub(300)..]
        );
        let tail = record.error.split_once("output: ").unwrap().1;
        assert!(
            tail.starts_with('…') && tail.chars().count() == containers::TAIL_CHARS + 1,
            "the log tail is cut to {} characters: {} characters",
            containers::TAIL_CHARS,
            tail.chars().count()
        );
    }
    for record in of("eats-memory") {
        assert!(
            !record.ok
                && record
                    .error
                    .contains("killed at its memory limit of 256 MiB"),
            "{}",
            record.error
        );
    }
    // Two time-outs per hanging image bound the whole measurement.
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    assert!(
        containers_of("faults").is_empty(),
        "every container was removed"
    );
}

/// A fork bomb in a start-up container: its processes stop at the container's pids limit
/// (512) instead of taking the machine's, and the run fails alone with what it printed.
#[test]
#[serial]
fn a_fork_bomb_stops_at_the_pids_limit() {
    let (runtime, engine) = engine();
    // An inner shell starts up to 2,000 sleepers and dies at the first fork the limit refuses
    // (dash gives up there); the outer one then counts the processes it sees without forking
    // (a glob and builtins).
    let script = "sh -c 'i=0; while [ $i -lt 2000 ]; do sleep 60 & i=$((i+1)); done' 2>/dev/null; \
                  set -- /proc/[0-9]*; echo r2r-processes=$#; exit 1";
    let bomb = image(&runtime, &engine, "fork-bomb", &["sh", "-c", script]);
    let options = StartupOptions {
        warmup: 0,
        min_runs: 1,
        caches: vec![Cache::Warm],
        ready_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let records = measure(&runtime, &engine, &[target("fork-bomb", &bomb)], &options);
    let record = &records[0];
    assert!(!record.ok, "{record:?}");
    let processes: usize = record
        .error
        .split("r2r-processes=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no process count in: {}", record.error));
    // The limit was reached (the bomb is real) and held (2,000 were asked for).
    assert!(
        (450..=512).contains(&processes),
        "{processes} processes in a container limited to 512"
    );
    assert!(
        containers_of("faults").is_empty(),
        "the container and its sleepers were removed"
    );
}

/// What `docker inspect` says of a container.
fn inspect(id: &str) -> serde_json::Value {
    let output = Command::new("docker")
        .args(["inspect", id])
        .output()
        .unwrap();
    assert!(output.status.success());
    serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()[0].clone()
}

#[test]
#[serial]
fn every_container_runs_with_least_privilege() {
    build_quick();
    let (runtime, engine) = engine();
    // From inside: prints what the process may do, and the console app's success line only when
    // it may do nothing more than it needs.
    let script = r#"
        uid=$(id -u); caps=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status); nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status)
        if touch /r2r-probe 2>/dev/null; then root=writable; else root=read-only; fi
        if touch /tmp/r2r-probe; then tmp=writable; else tmp=read-only; fi
        echo "uid=$uid caps=$caps no_new_privs=$nnp root=$root tmp=$tmp"
        [ "$uid" != 0 ] && [ "$caps" = 0000000000000000 ] && [ "$nnp" = 1 ] && [ $root = read-only ] && [ $tmp = writable ] && echo r2r-console-ok
    "#;
    let probe = image(&runtime, &engine, "privileges", &["sh", "-c", script]);
    let options = StartupOptions {
        warmup: 0,
        min_runs: 1,
        caches: vec![Cache::Warm],
        ..Default::default()
    };
    let records = measure(&runtime, &engine, &[target("privileges", &probe)], &options);
    assert!(
        records[0].ok,
        "a start-up run has least privilege: {}",
        records[0].error
    );

    // From the engine's side, for the start-up and the verification containers.
    let catalog =
        r2r_core::model::catalog::Catalog::load(&common::root().join("experiments")).unwrap();
    let scenario =
        r2r_core::model::scenario::load(&common::root().join("scenarios/quick.toml"), &catalog)
            .unwrap();
    let plan = r2r_core::model::plan::expand(&scenario, &catalog);
    let console = plan
        .images
        .iter()
        .find(|image| image.id == "no-composite.console")
        .unwrap();
    let specs = [
        startup::container_spec("faults", &target("privileges", &probe), &options),
        r2r_core::inspect::verify::container_spec(
            &plan,
            console,
            &Default::default(),
            Network::None,
        ),
    ];
    let podman = runtime.block_on(engine.info()).unwrap().engine == "podman";
    for spec in specs {
        let id = runtime
            .block_on(r2r_core::engine::containers::create(&engine, &spec))
            .unwrap();
        let details = inspect(&id);
        runtime.block_on(r2r_core::engine::containers::remove(&engine, &id));
        let host = &details["HostConfig"];
        let empty = |value: &serde_json::Value| {
            value.is_null() || value.as_array().is_some_and(|items| items.is_empty())
        };
        assert_eq!(details["Config"]["User"], "65534:65534", "{details:#}");
        // Docker records the drop as `ALL`; podman records, one by one, the capabilities it
        // would otherwise have given (none is left: CapEff is 0 inside, checked above).
        if podman {
            let dropped = host["CapDrop"].as_array().cloned().unwrap_or_default();
            assert!(
                dropped.contains(&"SETUID".into()) && dropped.contains(&"CHOWN".into()),
                "{host:#}"
            );
        } else {
            assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]), "{host:#}");
        }
        assert!(empty(&host["CapAdd"]), "{host:#}");
        assert_eq!(host["Privileged"], false);
        assert_eq!(host["ReadonlyRootfs"], true);
        assert!(
            host["SecurityOpt"]
                .as_array()
                .is_some_and(|options| options.contains(&"no-new-privileges".into())),
            "{host:#}"
        );
        assert!(
            empty(&host["Binds"]) && empty(&host["Mounts"]),
            "no host mounts: {host:#}"
        );
        assert_eq!(host["NetworkMode"], "none");
        assert!(host["Memory"].as_i64().unwrap() > 0 && host["PidsLimit"].as_i64().unwrap() > 0);
        // podman's Docker-compatible API takes no log size per container (its inspect shows
        // none): there the engine's own `log_size_max` bounds the log (scripts/engine.sh sets
        // 4 MiB).
        if !podman {
            assert_eq!(host["LogConfig"]["Config"]["max-size"], "4m");
        }
        assert!(host["Tmpfs"]["/tmp"].as_str().unwrap().contains("size="));
    }
}
