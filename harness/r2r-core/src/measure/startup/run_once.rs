//! One start-up run: create, start, ready, (first request), remove, with the container's
//! counters read before it is removed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::engine::containers;
use crate::engine::readiness::{self, Ready};
use crate::engine::{ContainerSpec, CounterScope, Engine, Network, ResourceCounters};
use crate::measure::startup::clock::{
    drop_page_cache, interval_ms, milliseconds, monotonic_ns, realtime_offset_ns,
};
use crate::measure::startup::options::StartupOptions;
use crate::measure::startup::targets::Target;
use crate::model::catalog::AppKind;
use crate::model::plan::labels;
use crate::results::startup_runs::{Cache, RunRecord};
use crate::support::app_output::{integer_after, round_ms};

/// The container of one start-up run of `target`: labelled with the scenario and image, with
/// the run's limits, as an unprivileged user on a read-only root.
pub fn container_spec(
    plan_scenario: &str,
    target: &Target,
    options: &StartupOptions,
) -> ContainerSpec {
    ContainerSpec {
        image: target.reference.clone(),
        entrypoint: None,
        command: (!target.launch.args.is_empty()).then(|| target.launch.args.clone()),
        env: BTreeMap::new(),
        network: match target.kind {
            AppKind::Webapi => Network::Host,
            AppKind::Console | AppKind::Worker => options.console_network,
        },
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), plan_scenario.to_string()),
            (labels::IMAGE.to_string(), target.image.clone()),
        ]),
        memory_limit_bytes: options.memory_limit_bytes,
        pids_limit: 512,
        user: Some(crate::engine::UNPRIVILEGED_USER.to_string()),
        read_only_root: true,
        cpuset_cpus: options.cpuset.clone(),
        cgroup_parent: None,
        read_bps_limits: Vec::new(),
    }
}

/// How often a container's counters are sampled while it runs where they vanish with it
/// (cgroup v1 block I/O).
pub const COUNTER_SAMPLE_INTERVAL: Duration = Duration::from_millis(2);

/// A key unique to one run of this process (for the run's counting cgroup).
fn counter_key() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", containers::session())
}

/// How often the web API's port is polled for readiness. A refused connect on the loopback
/// interface costs a few microseconds; the wait between attempts is slept precisely (not on
/// tokio's millisecond timer, which rounds 2 ms up to 2-3 ms), so readiness is seen within
/// about this long of the app answering.
pub const READY_POLL_INTERVAL: Duration = Duration::from_micros(250);

/// One run: create, start, ready, (first request), remove. The record's place in the
/// schedule (`round`, `run`, `primed_by`) is left for the caller to fill in.
pub async fn run_once(
    engine: &dyn Engine,
    scenario: &str,
    target: &Target,
    cache: Cache,
    options: &StartupOptions,
) -> RunRecord {
    let mut record = target.record(cache);
    if cache == Cache::Cold {
        if let Err(error) = drop_page_cache() {
            record.error = error.to_string();
            return record;
        }
    }
    if !options.pause.is_zero() {
        tokio::time::sleep(options.pause).await;
    }
    let mut spec = container_spec(scenario, target, options);
    let port = match readiness::port_and_env(target.kind, &target.launch) {
        Ok((port, env)) => {
            spec.env = env;
            port
        }
        Err(error) => {
            record.error = error;
            return record;
        }
    };
    let scope: Option<CounterScope> = if options.counters {
        match containers::prepare_counters(engine, &mut spec, &counter_key()).await {
            Ok(scope) => scope,
            Err(error) => {
                tracing::warn!("counters not read: {error}");
                None
            }
        }
    } else {
        None
    };
    let created = Instant::now();
    let id = match containers::create(engine, &spec).await {
        Ok(id) => id,
        Err(error) => {
            record.error = error.to_string();
            if let Some(scope) = &scope {
                let _ = containers::release_counters(engine, scope).await;
            }
            return record;
        }
    };
    record.create_ms = Some(milliseconds(created.elapsed()));
    let offset = realtime_offset_ns();
    let start_request = monotonic_ns();
    let ready = async {
        engine
            .start_container(&id)
            .await
            .map_err(|error| error.to_string())?;
        readiness::wait_ready(
            engine,
            &id,
            &target.launch,
            port,
            options.readiness,
            READY_POLL_INTERVAL,
            options.memory_limit_bytes,
        )
        .await
    };
    // Where a counter vanishes with the container (cgroup v1 block I/O), it is sampled while
    // the container runs; the largest sample is kept (the counters only grow).
    let mut sampled = ResourceCounters::default();
    let outcome = {
        let sampling = async {
            match &scope {
                Some(scope) if scope.sample => loop {
                    if let Ok(counters) = engine.read_counters(&id, scope).await {
                        sampled = sampled.max(counters);
                    }
                    tokio::time::sleep(COUNTER_SAMPLE_INTERVAL).await;
                },
                _ => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            outcome = tokio::time::timeout(options.ready_timeout, ready) => outcome,
            () = sampling => unreachable!("sampling never ends"),
        }
    };
    let total = created.elapsed();
    if let Some(scope) = &scope {
        // Read before the removal: a web API is still running; a console app has exited, and
        // its parent cgroup keeps what it did.
        if let Ok(counters) = engine.read_counters(&id, scope).await {
            sampled = sampled.max(counters);
        }
        record.peak_memory_bytes = sampled.peak_memory_bytes;
        record.read_bytes = sampled.read_bytes;
        record.major_faults = sampled.major_faults;
    }
    let started_at = engine.container_started_at(&id).await.ok().flatten();
    let logs = engine
        .container_logs(&id, containers::LOG_CAP_BYTES)
        .await
        .unwrap_or_default();
    let removing = Instant::now();
    containers::remove(engine, &id).await;
    record.remove_ms = Some(milliseconds(removing.elapsed()));
    if let Some(scope) = &scope {
        if let Err(error) = containers::release_counters(engine, scope).await {
            tracing::warn!("{error}");
        }
    }
    let output = format!("{}{}", logs.stdout, logs.stderr);
    record.start_request_ns = Some(start_request);
    record.main_ns = integer_after(&output, "r2r-main-ns=");
    // The engine records the start when its runtime reports it, after the exec: on a loaded
    // machine that can come after the app's own Main. Such a time is not the exec's: left out.
    record.exec_ns = started_at
        .map(|real| real - offset)
        .filter(|exec| *exec >= start_request as i128)
        .map(|exec| exec as u64)
        .filter(|exec| record.main_ns.is_none_or(|main| *exec <= main));
    record.ready_ns = integer_after(&output, "r2r-ready-ns=");
    match outcome {
        Ok(Ok(Ready {
            seen_ns: seen,
            first_request,
        })) => {
            let checked = readiness::check_output(&target.launch.ready, &output);
            record.ok = checked.is_ok();
            let start_to_ready = interval_ms(start_request, seen);
            record.start_to_ready_ms = Some(start_to_ready);
            record.first_request_ms = first_request.map(milliseconds);
            record.total_ms = Some(round_ms(record.create_ms.unwrap_or(0.0) + start_to_ready));
            record.time_to_main_ms = record.main_ns.map(|main| interval_ms(start_request, main));
            record.start_to_exec_ms = record.exec_ns.map(|exec| interval_ms(start_request, exec));
            if let (Some(exec), Some(main)) = (record.exec_ns, record.main_ns) {
                record.exec_to_main_ms = Some(interval_ms(exec, main));
            }
            if let (Some(main), Some(ready)) = (record.main_ns, record.ready_ns) {
                record.main_to_ready_ms = Some(interval_ms(main, ready));
            }
            record.ready_seen_ms = record.ready_ns.map(|ready| interval_ms(ready, seen));
            if let Err(missing) = checked {
                record.error = format!("{missing}; output: {}", containers::tail(&output, 8));
            }
        }
        Ok(Err(error)) => {
            record.error = format!("{error}; output: {}", containers::tail(&output, 8))
        }
        Err(_) => {
            record.error = format!(
                "not ready within {:?} ({:.0?} total); output: {}",
                options.ready_timeout,
                total,
                containers::tail(&output, 8)
            )
        }
    }
    record
}

pub use crate::engine::containers::exit_reason;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe;

    /// The readiness poll finds a listener that appears after it started polling, sends its
    /// request there once, and reports the answer. (How soon it sees the listener is a
    /// benchmark: `cargo bench -p r2r-bench --bench probe`.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readiness_polling_finds_a_late_listener() {
        for _ in 0..3 {
            let port = probe::free_port().unwrap();
            let server = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                let (mut socket, _) = listener.accept().unwrap();
                use std::io::{Read, Write};
                let mut buffer = [0u8; 1024];
                let read = socket.read(&mut buffer).unwrap();
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                String::from_utf8_lossy(&buffer[..read]).into_owned()
            });
            probe::wait_for_ok(port, "/", Duration::from_secs(5), READY_POLL_INTERVAL)
                .await
                .expect("the server answers");
            let request = server.join().unwrap();
            assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request:?}");
        }
    }

    /// Counters are prepared before the container is created, read before it is removed
    /// (every app, not only the web API), and released after; an engine that cannot count
    /// leaves the columns empty.
    #[tokio::test]
    async fn every_run_reads_its_counters_before_removal_and_releases_them_after() {
        use crate::engine::fake::{FakeEngine, Script};
        let engine = FakeEngine::new();
        engine.add_image("r:counted", BTreeMap::new(), &[("app", b"x")]);
        engine.add_image("r:plain", BTreeMap::new(), &[("app", b"x")]);
        let console = |counters| Script {
            stdout: vec![
                "r2r-main-ns=1".into(),
                "r2r-console-ok jit_methods=3".into(),
                "r2r-ready-ns=2".into(),
            ],
            counters,
            ..Default::default()
        };
        let counted = ResourceCounters {
            read_bytes: Some(31_457_280),
            major_faults: Some(27),
            peak_memory_bytes: Some(41_099_264),
        };
        engine.script("r:counted", console(Some(counted)));
        engine.script("r:plain", console(None));
        let target = |reference: &str| Target {
            image: reference.replace("r:", ""),
            reference: reference.into(),
            variants: vec!["v".into()],
            kind: AppKind::Console,
            app: "app".into(),
            launch: crate::model::app::Launch::sample(AppKind::Console),
        };
        let options = StartupOptions {
            cpuset: Some("1".into()),
            ..Default::default()
        };
        let record = run_once(&engine, "s", &target("r:counted"), Cache::Warm, &options).await;
        assert!(record.ok, "{record:?}");
        assert_eq!(
            (
                record.read_bytes,
                record.major_faults,
                record.peak_memory_bytes
            ),
            (Some(31_457_280), Some(27), Some(41_099_264))
        );
        let calls = engine.calls();
        let position = |prefix: &str| {
            calls
                .iter()
                .position(|call| call.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {calls:?}"))
        };
        assert!(position("prepare_counters r:counted") < position("create_container"));
        assert!(position("read_counters") < position("remove_container"));
        assert!(position("remove_container") < position("release_counters /r2r-"));
        let plain = run_once(&engine, "s", &target("r:plain"), Cache::Warm, &options).await;
        assert!(plain.ok, "{plain:?}");
        assert_eq!(
            (
                plain.read_bytes,
                plain.major_faults,
                plain.peak_memory_bytes
            ),
            (None, None, None)
        );
        // The spec carries the CPU placement.
        assert_eq!(
            container_spec("s", &target("r:plain"), &options).cpuset_cpus,
            Some("1".to_string())
        );
        assert!(engine.containers().is_empty(), "no container left behind");
    }
}
