//! Waiting for a started app to be ready by its rule ([`ReadyRule`]): it exited with its
//! code, a line of its output matched, a path answered; then its first request. Shared by
//! the start-up runs and verification, so an image is verified by the rule it is timed by.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::engine::containers::exit_reason;
use crate::engine::Engine;
use crate::model::app::{AppKind, Launch, ReadyRule};
use crate::model::startup::Readiness;
use crate::support::app_output::monotonic_ns;
use crate::support::probe;

/// Where a run of an app of `kind` listens, and the environment it starts with: a web app's
/// fixed port, or a free port on 127.0.0.1 picked for this run and passed as `PORT` and
/// `ASPNETCORE_URLS` ([`Launch::environment`]).
pub fn port_and_env(
    kind: AppKind,
    launch: &Launch,
) -> Result<(Option<u16>, BTreeMap<String, String>), String> {
    let picked = match (kind, launch.port) {
        (AppKind::Webapi, None) => Some(
            probe::free_port().map_err(|error| format!("no free port on 127.0.0.1: {error}"))?,
        ),
        _ => None,
    };
    Ok((picked.or(launch.port), launch.environment(kind, picked)))
}

/// What the wait saw of a ready app.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ready {
    /// CLOCK_MONOTONIC when r2r saw it ready, ns.
    pub seen_ns: u64,
    /// The time from sending the first request to its answer, when the app has one.
    pub first_request: Option<Duration>,
}

/// Waits for the started container `id` to be ready by `launch`'s rule (the caller bounds
/// the wait with a timeout). Web apps listen on 127.0.0.1:`port`. With both a log line and a
/// path in the rule, `readiness` says which counts: [`Readiness::LogLine`] the line alone,
/// [`Readiness::Http`] the line and then the path. A container that exits while r2r waits
/// for a path or a line is not ready: the error gives its exit code. Whether the output of
/// an app that exited holds its `log` line is for the caller to check
/// ([`ReadyRule::log_seen`]), once it has the whole output.
pub async fn wait_ready(
    engine: &dyn Engine,
    id: &str,
    launch: &Launch,
    port: Option<u16>,
    readiness: Readiness,
    poll: Duration,
    memory_limit_bytes: i64,
) -> Result<Ready, String> {
    let rule = &launch.ready;
    if let Some(expected) = rule.exit {
        let code = engine
            .wait_container(id)
            .await
            .map_err(|error| error.to_string())?;
        let seen_ns = monotonic_ns();
        if code != expected {
            let reason = exit_reason(engine, id, code, memory_limit_bytes).await;
            return Err(if expected == 0 {
                reason
            } else {
                format!("{reason}, not {expected}")
            });
        }
        return Ok(Ready {
            seen_ns,
            first_request: None,
        });
    }
    if let Some(pattern) = &rule.log {
        // The line is awaited on the followed output (no polling, no CPU taken from the
        // starting app).
        let regex = regex::Regex::new(pattern).map_err(|error| error.to_string())?;
        let mut stream = engine.follow_logs(id);
        let mut output = String::new();
        let seen: Result<(), Option<String>> = loop {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    output.push_str(&String::from_utf8_lossy(&chunk));
                    if output.lines().any(|line| regex.is_match(line)) {
                        break Ok(());
                    }
                }
                Some(Err(error)) => break Err(Some(error.to_string())),
                None => break Err(None),
            }
        };
        drop(stream);
        match seen {
            Ok(()) => {}
            Err(Some(error)) => return Err(error),
            Err(None) => {
                return Err(exited_before(
                    engine,
                    id,
                    &format!("a line matched /{pattern}/"),
                    memory_limit_bytes,
                )
                .await)
            }
        }
    }
    let port = port.unwrap_or(0);
    if let Some(path) = &rule.http {
        if rule.log.is_none() || readiness == Readiness::Http {
            let status = rule.http_status();
            let answered =
                async { probe::wait_for_status(port, path, status, Duration::MAX, poll).await };
            tokio::select! {
                biased;
                answer = answered => {
                    answer.ok_or_else(|| format!("no HTTP {status} from GET {path} on 127.0.0.1:{port}"))?;
                }
                _ = engine.wait_container(id) => {
                    return Err(exited_before(engine, id, &format!("GET {path} answered {status}"), memory_limit_bytes).await);
                }
            }
        }
    }
    let seen_ns = monotonic_ns();
    let first_request = match &launch.request {
        Some(path) => {
            let sent = Instant::now();
            let response = probe::get(port, path, Duration::from_secs(10))
                .await
                .map_err(|error| format!("GET {path}: {error}"))?;
            if response.status != 200 {
                return Err(format!("{path} answered {}", response.status));
            }
            Some(sent.elapsed())
        }
        None => None,
    };
    Ok(Ready {
        seen_ns,
        first_request,
    })
}

/// Why a container that should still run is not ready: it exited (with its code).
async fn exited_before(
    engine: &dyn Engine,
    id: &str,
    what: &str,
    memory_limit_bytes: i64,
) -> String {
    match tokio::time::timeout(Duration::from_secs(5), engine.wait_container(id)).await {
        Ok(Ok(code)) => format!(
            "{} before {what}",
            exit_reason(engine, id, code, memory_limit_bytes).await
        ),
        _ => format!("the output ended before {what}"),
    }
}

/// Whether the output of a ready app is as its rule wants: an app ready by its exit must
/// have printed its `log` line. `Err` says what is missing.
pub fn check_output(rule: &ReadyRule, output: &str) -> Result<(), String> {
    match (&rule.exit, &rule.log) {
        (Some(_), Some(pattern)) if !rule.log_seen(output) => {
            Err(format!("no line matched /{pattern}/"))
        }
        _ => Ok(()),
    }
}
