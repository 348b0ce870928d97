//! The first seconds under load: each web app image is started as for a start-up run, and the
//! moment it is seen ready a load generator (Debian's `wrk`, on 127.0.0.1 only) sends it a
//! fixed load — a set number of connections, each asking for the app's request path again as
//! soon as it is answered — for a set number of seconds. A script of r2r's counts the
//! responses per second since ready; wrk gives the latency percentiles. Every image runs once
//! per round, in a shuffled order, so the rounds pair like start-up rounds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::{containers, readiness, Engine};
use crate::inspect::verify::{ready_within, VerifyOptions};
use crate::measure::startup::{container_spec, StartupOptions, Target};
use crate::measure::stats::{quantile, stream_seed, SeededRandom};
use crate::model::catalog::AppKind;
use crate::results::load_file::{LoadRunRow, LoadSecondRow};

/// The script wrk runs (its text; r2r writes it beside the run's files while it measures).
pub const SCRIPT: &str = include_str!("buckets.lua");

/// The load generator's program name, looked up on PATH.
pub const GENERATOR: &str = "wrk";

/// The settings of `load`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct LoadSettings {
    /// Load: seconds of load after ready, per run (the first 30-60 s are what a new replica
    /// meets)
    #[arg(id = "load_seconds", long = "load-seconds", default_value_t = 30, value_parser = clap::value_parser!(u64).range(5..=600))]
    pub seconds: u64,
    /// Load: connections kept open by the load generator
    #[arg(id = "load_connections", long = "load-connections", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub connections: u64,
    /// Load: rounds (every web app image once per round)
    #[arg(id = "load_rounds", long = "load-rounds", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub rounds: u64,
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            seconds: 30,
            connections: 16,
            rounds: 5,
        }
    }
}

/// Why the load measurement cannot start at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// wrk is not on PATH.
    #[error("the load generator `{GENERATOR}` is not on PATH: install Debian's wrk (`apt-get install wrk`) or leave `load` out")]
    NoGenerator,
    /// No image of the scenario is a web app.
    #[error(
        "no web app image to load (load measures web apps only; the console app gets nothing here)"
    )]
    NoWebApp,
}

/// Where the load generator is, or why not.
pub fn generator() -> Result<PathBuf, LoadError> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|directory| directory.join(GENERATOR))
        .find(|path| path.is_file())
        .ok_or(LoadError::NoGenerator)
}

/// What one wrk run printed, as r2r's script writes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneratorOutput {
    /// Responses per second since ready: `(second, requests, failed)`, in order.
    pub seconds: Vec<(usize, u64, u64)>,
    /// Latency percentiles 50, 90, 99 and the maximum, microseconds.
    pub latency_us: Option<[f64; 4]>,
    /// Responses in all.
    pub requests: Option<u64>,
    /// Socket errors (connect, read, write), bad statuses and time-outs together.
    pub errors: Option<u64>,
}

/// Reads the lines of r2r's script out of wrk's output; other lines are ignored.
pub fn parse_output(text: &str) -> GeneratorOutput {
    let mut output = GeneratorOutput::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let numbers: Vec<f64> = fields
            .iter()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        match fields.first().copied() {
            Some("r2r-second") if numbers.len() == 3 && numbers[0] >= 0.0 => {
                output
                    .seconds
                    .push((numbers[0] as usize, numbers[1] as u64, numbers[2] as u64))
            }
            Some("r2r-latency-us") if numbers.len() >= 4 => {
                output.latency_us = Some([numbers[0], numbers[1], numbers[2], numbers[3]])
            }
            Some("r2r-summary") if numbers.len() == 7 => {
                output.requests = Some(numbers[0] as u64);
                output.errors = Some(numbers[2..].iter().sum::<f64>() as u64);
            }
            _ => {}
        }
    }
    output.seconds.sort_unstable();
    output
}

/// Requests per second for the full seconds `0..seconds` (a second nobody was answered in
/// counts 0; the partial bucket after the end is left out).
pub fn per_second(output: &GeneratorOutput, seconds: usize) -> Vec<u64> {
    let mut counts = vec![0; seconds];
    for &(second, requests, _) in &output.seconds {
        if second < seconds {
            counts[second] += requests;
        }
    }
    counts
}

/// Throughput at the end of a run: the median of the last 10 seconds (the last half of a run
/// shorter than 20 s), requests per second.
pub fn final_rate(counts: &[u64]) -> Option<f64> {
    if counts.is_empty() {
        return None;
    }
    let tail = 10.min(counts.len().div_ceil(2));
    let mut last: Vec<f64> = counts[counts.len() - tail..]
        .iter()
        .map(|&c| c as f64)
        .collect();
    last.sort_by(f64::total_cmp);
    Some(quantile(&last, 0.5))
}

/// The first second at which throughput reaches 95% of `final_rate`, by its 3-second moving
/// mean (the mean at second `s` is over `s..s+3`, so one lucky second does not count);
/// `None` when it never does or nothing was answered. A dip later in the run (a collection,
/// the load generator's own pause) does not move it: on two shared cores the plateau itself
/// varies by about ±5%.
pub fn settle_second(counts: &[u64], final_rate: f64) -> Option<usize> {
    if final_rate <= 0.0 || counts.len() < 3 {
        return None;
    }
    let floor = 0.95 * final_rate;
    counts
        .windows(3)
        .position(|w| w.iter().sum::<u64>() as f64 / 3.0 >= floor)
}

/// The web app images of `targets` (the others get no load).
pub fn loaded(targets: Vec<Target>) -> Vec<Target> {
    targets
        .into_iter()
        .filter(|target| target.kind == AppKind::Webapi)
        .collect()
}

/// One run of `target` under load: start, ready, load, remove. The rows of its seconds and
/// the row of the run (its `error` says why a run has no figures).
pub async fn load_once(
    engine: &dyn Engine,
    scenario: &str,
    target: &Target,
    (settings, startup): (&LoadSettings, &StartupOptions),
    (generator, script): (&Path, &Path),
    round: usize,
) -> (Vec<LoadSecondRow>, LoadRunRow) {
    let seconds = settings.seconds as usize;
    let mut run = LoadRunRow {
        round,
        app: target.app.clone(),
        image: target.image.clone(),
        variants: target.variants.join(";"),
        seconds,
        connections: settings.connections as usize,
        requests: None,
        failed: None,
        first_5s_rps: None,
        final_rps: None,
        settle_s: None,
        latency_p50_ms: None,
        latency_p90_ms: None,
        latency_p99_ms: None,
        latency_max_ms: None,
        error: String::new(),
    };
    let output = match generate(
        engine,
        scenario,
        target,
        (settings, startup),
        (generator, script),
    )
    .await
    {
        Ok(output) => output,
        Err(error) => {
            run.error = error;
            return (Vec::new(), run);
        }
    };
    let counts = per_second(&output, seconds);
    let failed_at = |second: usize| {
        output
            .seconds
            .iter()
            .filter(|(s, _, _)| *s == second)
            .map(|(_, _, failed)| failed)
            .sum()
    };
    let rows = counts
        .iter()
        .enumerate()
        .map(|(second, &requests)| LoadSecondRow {
            round,
            app: target.app.clone(),
            image: target.image.clone(),
            variants: run.variants.clone(),
            second,
            requests,
            failed: failed_at(second),
        })
        .collect();
    let final_rps = final_rate(&counts);
    run.requests = output.requests;
    run.failed = output.errors;
    run.first_5s_rps = Some(counts.iter().take(5).sum::<u64>() as f64 / 5f64.min(seconds as f64));
    run.final_rps = final_rps;
    run.settle_s = final_rps.and_then(|rate| settle_second(&counts, rate).map(|s| s as f64));
    if let Some([p50, p90, p99, max]) = output.latency_us {
        run.latency_p50_ms = Some(p50 / 1000.0);
        run.latency_p90_ms = Some(p90 / 1000.0);
        run.latency_p99_ms = Some(p99 / 1000.0);
        run.latency_max_ms = Some(max / 1000.0);
    }
    if output.requests.unwrap_or(0) == 0 {
        run.error = "the load generator got no response".to_string();
    }
    (rows, run)
}

/// Starts the app, waits until it is ready, runs the load generator from then, removes the
/// container whatever happened.
async fn generate(
    engine: &dyn Engine,
    scenario: &str,
    target: &Target,
    (settings, startup): (&LoadSettings, &StartupOptions),
    (generator, script): (&Path, &Path),
) -> Result<GeneratorOutput, String> {
    let mut spec = container_spec(scenario, target, startup);
    let (port, env) = readiness::port_and_env(target.kind, &target.launch)?;
    spec.env = env;
    let port = port.ok_or("the app listens on no port")?;
    let id = containers::start(engine, &spec)
        .await
        .map_err(|error| error.to_string())?;
    let verify = VerifyOptions {
        run_timeout: startup.ready_timeout,
        memory_limit_bytes: startup.memory_limit_bytes,
    };
    let result = match ready_within(engine, &id, &target.launch, Some(port), &verify).await {
        Err(reason) => Err(format!(
            "not ready: {}",
            reason.unwrap_or_else(|| format!("not within {:?}", startup.ready_timeout))
        )),
        Ok(ready) => {
            let path = target.launch.request.as_deref().unwrap_or("/");
            let url = format!("http://127.0.0.1:{port}{path}");
            let origin = ready.seen_ns as f64 / 1e9;
            let mut command = tokio::process::Command::new(generator);
            command
                .arg("-t1")
                .arg(format!("-c{}", settings.connections))
                .arg(format!("-d{}s", settings.seconds))
                .arg("--timeout")
                .arg("5s")
                .arg("-s")
                .arg(script)
                .arg(&url)
                .arg("--")
                .arg(format!("{origin:.6}"))
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            let limit = Duration::from_secs(settings.seconds + 30);
            match tokio::time::timeout(limit, command.output()).await {
                Err(_) => Err(format!("the load generator did not end within {limit:?}")),
                Ok(Err(error)) => Err(format!("running {}: {error}", generator.display())),
                Ok(Ok(out)) if !out.status.success() => Err(format!(
                    "the load generator failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Ok(Ok(out)) => Ok(parse_output(&String::from_utf8_lossy(&out.stdout))),
            }
        }
    };
    containers::remove(engine, &id).await;
    result
}

/// The order of round `round`: every target once, shuffled by the seed.
pub fn round_order(targets: &[Target], seed: u64, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    let round_name = round.to_string();
    SeededRandom::new(stream_seed(seed, &["load", &round_name])).shuffle(&mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINTED: &str =
        "Running 3s test @ http://127.0.0.1:18080/\n  1 threads and 4 connections\n\
r2r-second 2 1709 3\nr2r-second 0 1996 0\nr2r-second 1 1957 0\nr2r-second 3 22 0\n\
r2r-latency-us 1971 2858 3934 5702 2047\nr2r-summary 5684 3000983 0 1 0 3 2\n";

    #[test]
    fn reads_the_scripts_lines_in_order_and_ignores_the_rest() {
        let output = parse_output(PRINTED);
        assert_eq!(
            output.seconds,
            vec![(0, 1996, 0), (1, 1957, 0), (2, 1709, 3), (3, 22, 0)]
        );
        assert_eq!(output.latency_us, Some([1971.0, 2858.0, 3934.0, 5702.0]));
        assert_eq!(output.requests, Some(5684));
        assert_eq!(output.errors, Some(6));
        // The partial bucket after the end is left out; a silent second counts 0.
        assert_eq!(per_second(&output, 3), vec![1996, 1957, 1709]);
        assert_eq!(per_second(&output, 5), vec![1996, 1957, 1709, 22, 0]);
    }

    #[test]
    fn the_final_rate_is_the_median_of_the_last_ten_seconds() {
        let mut counts = vec![100; 10];
        counts.extend([1000, 1010, 990, 1005, 995, 1004, 1002, 998, 1001, 999]);
        assert_eq!(final_rate(&counts), Some(1000.5));
        // A short run: its last half.
        assert_eq!(final_rate(&[1, 2, 3, 4]), Some(3.5));
        assert_eq!(final_rate(&[]), None);
    }

    #[test]
    fn settling_is_where_the_moving_mean_first_reaches_95_percent() {
        // Warming up over the first seconds, then flat at 1000.
        let counts = [200, 500, 800, 900, 1000, 1000, 1000, 1000, 1000, 1000];
        // Means from second 2: (800+900+1000)/3 = 900 < 950; from 3: 966 >= 950.
        assert_eq!(settle_second(&counts, 1000.0), Some(3));
        // Already there from the first second.
        assert_eq!(settle_second(&[1000; 10], 1000.0), Some(0));
        // One lucky second is not enough: (300+1000+300)/3 < 950.
        let lucky = [300, 1000, 300, 1000, 1000, 1000, 1000];
        assert_eq!(settle_second(&lucky, 1000.0), Some(3));
        // A dip late in the run does not move it.
        let dip = [500, 1000, 1000, 1000, 500, 1000, 1000, 1000, 1000, 1000];
        assert_eq!(settle_second(&dip, 1000.0), Some(1));
        // Never there: no second.
        assert_eq!(settle_second(&[100, 100, 100, 100, 100], 1000.0), None);
        assert_eq!(settle_second(&[0, 0, 0], 0.0), None);
    }

    #[test]
    fn every_round_runs_every_image_once() {
        let targets: Vec<Target> = (0..5)
            .map(|i| Target::sample(&format!("v{i}.webapi"), "r", &["v"], AppKind::Webapi))
            .collect();
        let mut first = round_order(&targets, 7, 1);
        assert_eq!(first, round_order(&targets, 7, 1));
        first.sort_unstable();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
    }
}
