//! Running containers so that none is ever left behind.
//!
//! Every container r2r creates is recorded in a process-wide set until it is removed, and so is
//! every counting cgroup until it is released; [`remove_all_live`] removes whatever is still
//! there (the binary calls it on Ctrl-C or SIGTERM), and [`run_to_exit`] removes its container
//! on every path, time-outs included.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::{ContainerSpec, Containers, CounterScope, Counters, Engine, EngineError, Logs};

static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

static COUNTING: Mutex<Vec<CounterScope>> = Mutex::new(Vec::new());

/// Label key naming the r2r process that created a container.
pub const SESSION_LABEL: &str = "r2r.session";

/// This process's session id (process id and start time), put on every container it makes so
/// that an interrupted run can find containers whose creation it did not see complete.
pub fn session() -> &'static str {
    static SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SESSION.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{nanos}", std::process::id())
    })
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ids of the containers created and not yet removed.
pub fn live_containers() -> Vec<String> {
    live().iter().cloned().collect()
}

/// Creates a container with this session's label, recording it as live.
pub async fn create(engine: &dyn Containers, spec: &ContainerSpec) -> Result<String, EngineError> {
    let mut spec = spec.clone();
    spec.labels
        .insert(SESSION_LABEL.to_string(), session().to_string());
    let id = engine.create_container(&spec).await?;
    live().insert(id.clone());
    Ok(id)
}

/// Creates and starts a container, recording it as live. On a start failure the container
/// is removed before the error is returned.
pub async fn start(engine: &dyn Containers, spec: &ContainerSpec) -> Result<String, EngineError> {
    let id = create(engine, spec).await?;
    if let Err(error) = engine.start_container(&id).await {
        remove(engine, &id).await;
        return Err(error);
    }
    Ok(id)
}

fn counting() -> std::sync::MutexGuard<'static, Vec<CounterScope>> {
    COUNTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets up the counters of a container about to be created ([`Counters::prepare_counters`]),
/// recording them until [`release_counters`] so that an interrupted run releases them too.
pub async fn prepare_counters(
    engine: &dyn Counters,
    spec: &mut ContainerSpec,
    key: &str,
) -> Result<Option<CounterScope>, EngineError> {
    let scope = engine.prepare_counters(spec, key).await?;
    if let Some(scope) = &scope {
        counting().push(scope.clone());
    }
    Ok(scope)
}

/// Releases counters set up by [`prepare_counters`] once their container is removed, and
/// forgets them; on an error they stay recorded, for [`remove_all_live`] to try again.
pub async fn release_counters(
    engine: &dyn Counters,
    scope: &CounterScope,
) -> Result<(), EngineError> {
    engine.release_counters(scope).await?;
    counting().retain(|live| live != scope);
    Ok(())
}

/// Removes a container (killing it if needed) and forgets it. Errors are logged, not
/// returned: removal is best effort and is retried by [`remove_all_live`].
pub async fn remove(engine: &dyn Containers, id: &str) {
    match engine.remove_container(id).await {
        Ok(()) => {
            live().remove(id);
        }
        Err(error) => tracing::warn!("could not remove container {id}: {error}"),
    }
}

/// Removes every container of this session: those recorded as live, and those the engine
/// lists with this session's label (a creation interrupted before its answer arrived).
/// Looks again briefly so that a creation still in flight is caught. Returns how many were
/// removed.
pub async fn remove_all_live(engine: &dyn Engine) -> usize {
    let filter = [format!("{SESSION_LABEL}={}", session())];
    let mut removed = BTreeSet::new();
    for attempt in 0..4 {
        let mut ids: BTreeSet<String> = live_containers().into_iter().collect();
        ids.extend(engine.list_containers(&filter).await.unwrap_or_default());
        ids.retain(|id| !removed.contains(id));
        for id in &ids {
            remove(engine, id).await;
        }
        removed.extend(ids);
        if attempt < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        }
    }
    // The counting cgroups of those containers, now empty.
    release_all_counters(engine).await;
    removed.len()
}

/// Releases every counter set up by [`prepare_counters`] and not yet released: those of a run
/// cut short by an error (the engine lost, say) or a signal. Errors are logged.
pub async fn release_all_counters(engine: &dyn Counters) {
    let scopes: Vec<CounterScope> = counting().clone();
    for scope in &scopes {
        if let Err(error) = release_counters(engine, scope).await {
            tracing::warn!("{error}");
        }
    }
}

/// Removes containers of a scenario (label `r2r.scenario`) that no running r2r owns: those an
/// earlier r2r left when it was killed, or when the engine stopped under it (an engine keeps
/// stopped containers across a restart). Call it while holding the scenario's results lock,
/// so no other r2r is working on the scenario. Returns the ids removed.
pub async fn remove_leftovers(
    engine: &dyn Containers,
    scenario: &str,
) -> Result<Vec<String>, EngineError> {
    let filter = [
        format!("{}=true", crate::model::plan::labels::MANAGED),
        format!("{}={scenario}", crate::model::plan::labels::SCENARIO),
    ];
    let mine: BTreeSet<String> = engine
        .list_containers(&[format!("{SESSION_LABEL}={}", session())])
        .await?
        .into_iter()
        .collect();
    let mut removed = Vec::new();
    for id in engine.list_containers(&filter).await? {
        if !mine.contains(&id) {
            engine.remove_container(&id).await?;
            removed.push(id);
        }
    }
    Ok(removed)
}

/// How a run-to-exit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitOutcome {
    /// The exit code, `None` when the container was stopped at the time-out.
    pub exit_code: Option<i64>,
    /// The container's output (capped).
    pub logs: Logs,
    /// Wall time from create to exit (or time-out).
    pub elapsed: Duration,
}

/// Cap on captured output per stream, bytes.
pub const LOG_CAP_BYTES: usize = 256 * 1024;

/// Creates, starts and waits for a container, then collects its output and removes it.
pub async fn run_to_exit(
    engine: &dyn Containers,
    spec: &ContainerSpec,
    timeout: Duration,
) -> Result<ExitOutcome, EngineError> {
    let started = Instant::now();
    let id = start(engine, spec).await?;
    let waited = tokio::time::timeout(timeout, engine.wait_container(&id)).await;
    let elapsed = started.elapsed();
    let logs = engine.container_logs(&id, LOG_CAP_BYTES).await;
    remove(engine, &id).await;
    let exit_code = match waited {
        Ok(code) => Some(code?),
        Err(_) => None,
    };
    Ok(ExitOutcome {
        exit_code,
        logs: logs?,
        elapsed,
    })
}

/// Longest tail [`tail`] returns, characters: a flood on one line stays readable.
pub const TAIL_CHARS: usize = 4000;

/// The last `lines` lines of `text`, at most [`TAIL_CHARS`] characters of them (cut at the
/// front, marked with `…`).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let joined = all[all.len().saturating_sub(lines)..].join("\n");
    let count = joined.chars().count();
    if count <= TAIL_CHARS {
        return joined;
    }
    let cut: String = joined.chars().skip(count - TAIL_CHARS).collect();
    format!("…{cut}")
}

/// Why a container exited with `code`: its code, and the memory limit when the kernel's
/// out-of-memory killer stopped it.
pub async fn exit_reason(
    engine: &dyn Containers,
    id: &str,
    code: i64,
    memory_limit_bytes: i64,
) -> String {
    if engine.oom_killed(id).await.unwrap_or(false) {
        format!(
            "exited with code {code}: killed at its memory limit of {} MiB",
            memory_limit_bytes >> 20
        )
    } else {
        format!("exited with code {code}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
        let flood = "x".repeat(10 * TAIL_CHARS);
        assert_eq!(tail(&flood, 8).chars().count(), TAIL_CHARS + 1);
    }
}
