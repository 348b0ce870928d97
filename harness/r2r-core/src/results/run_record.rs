//! `run.json`: what a run directory holds and where it came from — the machine, the engine,
//! the .NET versions, the project's commit, the scenario's content hash — and which steps
//! finished. Readers of a run directory ([`load`]) check its schema version and scenario first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::engine::{EngineInfo, Network};
use crate::model::startup::Cache;
use crate::model::startup::Readiness;

/// The version of the run directory's layout and file columns. Readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 2;

/// The file name of the run record inside a run directory.
pub const FILE: &str = "run.json";

/// The record of one run (`run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Layout version of the run directory ([`SCHEMA_VERSION`] when written).
    pub schema_version: u32,
    /// The r2r version that wrote the run.
    pub r2r_version: String,
    /// The run id (UTC start time, e.g. `20261124T193000Z`); the directory's name.
    pub run_id: String,
    /// The scenario's name.
    pub scenario: String,
    /// SHA-256 (hex) of the scenario file's bytes.
    pub scenario_content_hash: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When the run last finished a step (RFC 3339, UTC); `None` while it runs.
    pub finished_at: Option<String>,
    /// The machine the run measured on.
    pub machine: Machine,
    /// The Docker engine (absent when the run never reached one).
    pub engine: Option<EngineInfo>,
    /// .NET versions.
    pub dotnet: DotnetVersions,
    /// The project's git commit, when the project is a git checkout.
    pub git: Option<GitState>,
    /// Per step (`build`, `verify`, `sizes`, `startup`, `report`, `plot`): how it ended.
    pub steps: BTreeMap<String, StepState>,
    /// The start-up settings the run's start-up step began with (flags, the scenario's
    /// `[startup]` table and the defaults, resolved): a resume measures on with these. Absent
    /// before the step began, and in runs written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupRecord>,
}

/// Start-up settings as a run records them (`run.json`'s `startup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupRecord {
    /// Unrecorded warm-up runs per image and cache mode.
    pub warmup: usize,
    /// Recorded rounds, at least (exactly this many without a precision target).
    pub min_runs: usize,
    /// Rounds are added until this many seconds have passed, at least; seconds.
    pub min_seconds: f64,
    /// The cache modes measured.
    pub caches: Vec<Cache>,
    /// Seed of the run order and of the bootstrap.
    pub seed: u64,
    /// How long a run may take to become ready, seconds.
    pub ready_timeout_seconds: f64,
    /// The web API's readiness signal.
    pub readiness: Readiness,
    /// Memory limit of each container, bytes.
    pub memory_limit_bytes: i64,
    /// Precision target, a fraction (0.03 = ±3%); `None`: exactly `min_runs` rounds.
    pub precision: Option<f64>,
    /// Budget of time, seconds; `None`: none.
    pub max_seconds: Option<f64>,
    /// Budget of rounds; `None`: none.
    pub max_runs: Option<usize>,
    /// The scenario's variants, in order (an app's baseline is its image in the first).
    pub variants: Vec<String>,
    /// The images measured (plan ids; empty: every app image).
    pub only: Vec<String>,
    /// CPUs the app containers ran on; `None`: anywhere.
    pub cpuset: Option<String>,
    /// Idle wait before every run, milliseconds.
    pub pause_ms: u64,
    /// The console app's network.
    pub console_network: Network,
    /// Whether bytes read, major faults and peak memory were counted.
    pub counters: bool,
}

impl StartupRecord {
    /// One line for a report or a console: rounds, target, budgets, caches, seed.
    pub fn describe(&self) -> String {
        let mut text = match self.precision {
            Some(target) => format!(
                "at least {} rounds until ±{}%",
                self.min_runs,
                trim_number(target * 100.0)
            ),
            None => format!("{} rounds", self.min_runs),
        };
        let mut budgets = Vec::new();
        if let Some(seconds) = self.max_seconds {
            budgets.push(format!("{} s", trim_number(seconds)));
        }
        if let Some(rounds) = self.max_runs {
            budgets.push(format!("{rounds} rounds"));
        }
        if !budgets.is_empty() {
            text.push_str(&format!(" or {}", budgets.join(" / ")));
        }
        let caches: Vec<&str> = self.caches.iter().map(|cache| cache.name()).collect();
        text.push_str(&format!(
            "; {} warm-up; caches {}; seed {}",
            self.warmup,
            caches.join(" and "),
            self.seed
        ));
        if let Some(cpuset) = &self.cpuset {
            text.push_str(&format!("; CPUs {cpuset}"));
        }
        if self.pause_ms > 0 {
            text.push_str(&format!("; {} ms pause", self.pause_ms));
        }
        if !self.only.is_empty() {
            text.push_str(&format!("; only {}", self.only.join(", ")));
        }
        text
    }
}

/// A number without trailing zeros (`3`, `2.5`).
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The machine a run measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs available to r2r.
    pub cores: usize,
    /// Total memory, bytes (`/proc/meminfo`).
    pub memory_bytes: u64,
    /// Kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel: String,
    /// Operating system (`PRETTY_NAME` of `/etc/os-release`).
    pub os: String,
    /// The host's architecture as container platforms name it (`amd64`, `arm64`); empty in
    /// runs recorded before it was (those ran on amd64: see [`Machine::platform`]).
    #[serde(default)]
    pub architecture: String,
    /// The host's name (`/proc/sys/kernel/hostname`); empty in runs recorded before it was.
    #[serde(default)]
    pub hostname: String,
}

/// .NET versions of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DotnetVersions {
    /// The exact runtime version of the images' frameworks: the scenario's `dotnet` as it
    /// resolved when the run started.
    pub runtime: String,
    /// The scenario's `dotnet` as written, when it is a band (`10.0`) rather than the exact
    /// version; absent for exact versions and in runs recorded before bands existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The host SDK that published the apps (`dotnet --version`), when found.
    pub sdk: Option<String>,
    /// How the apps were compiled for this runtime with that SDK (the framework they target,
    /// and whether they were pinned to a runtime newer than the SDK); absent in runs recorded
    /// before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps: Option<crate::build::dotnet::AppCompilation>,
}

/// The project's git state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitState {
    /// `HEAD`'s commit id.
    pub commit: String,
    /// Whether the working tree had uncommitted changes.
    pub dirty: bool,
}

/// How a step ended, as `run.json` spells it (`ok`, `failed`, `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Finished, everything passed.
    Ok,
    /// Finished with failures; its results are kept.
    Failed,
    /// Did not finish (an error stopped it); a resumed run does it again.
    Error,
}

impl StepStatus {
    /// The name written to `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
            StepStatus::Error => "error",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    /// `ok`, `failed` (finished with failures; its results are kept) or `error` (did not finish).
    pub status: StepStatus,
    /// Wall time of the step, seconds.
    pub seconds: f64,
    /// What went wrong, if anything.
    pub detail: Option<String>,
}

/// Why a run directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RunInfoError {
    /// No run.json: not a run directory, or one written before run.json existed.
    #[error("{path}: no run.json; this is not an r2r run directory, or one written by an older r2r (before run.json existed); run the scenario again")]
    Missing {
        /// The directory.
        path: PathBuf,
    },
    /// run.json is not valid.
    #[error("{path}: not a valid run.json: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// Written with another layout version.
    #[error("{path}: schema version {found}, this r2r reads version {SCHEMA_VERSION}; run the scenario again with this r2r")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u32,
    },
    /// A run of another scenario.
    #[error("{path}: a run of scenario '{found}', not '{expected}'")]
    Scenario {
        /// The file.
        path: PathBuf,
        /// The scenario it records.
        found: String,
        /// The scenario asked for.
        expected: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Machine {
    /// Reads this machine's description from /proc and /etc/os-release (empty fields where
    /// unavailable).
    pub fn current() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .unwrap_or(0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|line| line.strip_prefix("PRETTY_NAME="))
            .map(|value| value.trim_matches('"').to_string())
            .unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os,
            architecture: oci_architecture(std::env::consts::ARCH).to_string(),
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        }
    }

    /// The platform the host's images are for (`linux/amd64`, `linux/arm64`). Runs recorded
    /// before the architecture was are `linux/amd64`: r2r built only for linux-x64 then.
    pub fn platform(&self) -> String {
        let architecture = if self.architecture.is_empty() {
            "amd64"
        } else {
            &self.architecture
        };
        format!("linux/{architecture}")
    }
}

/// A Rust target architecture (`std::env::consts::ARCH`) as container platforms name it.
pub fn oci_architecture(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl GitState {
    /// The git state of `root`, or `None` when it is not a checkout or git is missing.
    pub fn of(root: &Path) -> Option<GitState> {
        let output = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let dirty = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false);
        Some(GitState { commit, dirty })
    }
}

/// The host SDK's version (`dotnet --version` of the `dotnet` that publishes the apps), when
/// there is one.
pub fn sdk_version() -> Option<String> {
    use crate::build::dotnet::{find_dotnet, sdk_version_of};
    find_dotnet()
        .ok()
        .and_then(|dotnet| sdk_version_of(&dotnet))
}

impl RunInfo {
    /// Records a step's end.
    pub fn step(&mut self, name: &str, status: StepStatus, seconds: f64, detail: Option<String>) {
        self.steps.insert(
            name.to_string(),
            StepState {
                status,
                seconds,
                detail,
            },
        );
    }

    /// Whether a step finished (with or without failures), so that a resumed run skips it.
    pub fn finished(&self, name: &str) -> bool {
        self.steps
            .get(name)
            .is_some_and(|step| step.status != StepStatus::Error)
    }

    /// Writes `run.json` into `directory` (whole, atomically).
    pub fn save(&self, directory: &Path) -> Result<(), RunInfoError> {
        let path = directory.join(FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|error| RunInfoError::Invalid {
            path: path.clone(),
            message: error.to_string(),
        })?;
        crate::results::files::write_atomically(&path, &bytes)
            .map_err(|source| RunInfoError::Io { path, source })
    }
}

/// Reads a run directory's `run.json`, checking its schema version and, when given, its
/// scenario.
pub fn load(directory: &Path, expected_scenario: Option<&str>) -> Result<RunInfo, RunInfoError> {
    let path = directory.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunInfoError::Missing {
                path: directory.to_path_buf(),
            })
        }
        Err(source) => return Err(RunInfoError::Io { path, source }),
    };
    // The version is checked before the rest, so that an older layout gets its own message.
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| RunInfoError::Invalid {
            path: path.clone(),
            message: error.to_string(),
        })?;
    let found = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    if found != SCHEMA_VERSION {
        return Err(RunInfoError::Schema { path, found });
    }
    let info: RunInfo = serde_json::from_value(value).map_err(|error| RunInfoError::Invalid {
        path: path.clone(),
        message: error.to_string(),
    })?;
    if let Some(expected) = expected_scenario {
        if info.scenario != expected {
            return Err(RunInfoError::Scenario {
                path,
                found: info.scenario,
                expected: expected.to_string(),
            });
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunInfo {
        RunInfo {
            schema_version: SCHEMA_VERSION,
            r2r_version: "0.1.0".into(),
            run_id: "20261124T000000Z".into(),
            scenario: "quick".into(),
            scenario_content_hash: "ab".into(),
            started_at: "2026-11-24T00:00:00Z".into(),
            finished_at: None,
            machine: Machine::current(),
            engine: None,
            dotnet: DotnetVersions {
                runtime: "10.0.15".into(),
                requested: Some("10.0".into()),
                sdk: None,
                apps: None,
            },
            git: None,
            steps: BTreeMap::new(),
            startup: None,
        }
    }

    #[test]
    fn round_trips_and_checks_scenario_and_schema() {
        let directory = tempfile::tempdir().unwrap();
        let mut info = sample();
        info.step("sizes", StepStatus::Ok, 1.5, None);
        let text = serde_json::to_string(&info).unwrap();
        assert!(text.contains(r#""status":"ok""#), "{text}");
        info.save(directory.path()).unwrap();
        assert_eq!(load(directory.path(), Some("quick")).unwrap(), info);
        assert!(info.finished("sizes") && !info.finished("startup"));
        let error = load(directory.path(), Some("composite"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("scenario 'quick', not 'composite'"),
            "{error}"
        );
        info.schema_version = 0;
        info.save(directory.path()).unwrap();
        let error = load(directory.path(), None).unwrap_err().to_string();
        assert!(
            error.contains("schema version 0") && error.contains("reads version 2"),
            "{error}"
        );
    }

    #[test]
    fn missing_and_invalid_files_say_so() {
        let directory = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(directory.path(), None),
            Err(RunInfoError::Missing { .. })
        ));
        std::fs::write(directory.path().join(FILE), "{ not json").unwrap();
        let error = load(directory.path(), None).unwrap_err().to_string();
        assert!(
            error.contains("run.json") && error.contains("line 1"),
            "{error}"
        );
    }

    #[test]
    fn reads_this_machine() {
        let machine = Machine::current();
        assert!(machine.cores >= 1);
        assert!(machine.memory_bytes > 0);
        assert!(!machine.kernel.is_empty());
        assert_eq!(
            machine.architecture,
            oci_architecture(std::env::consts::ARCH)
        );
        assert!(machine.platform().starts_with("linux/"));
        assert!(!machine.hostname.is_empty());
    }

    #[test]
    fn runs_recorded_before_the_architecture_are_amd64() {
        let old = r#"{"cpu":"x","cores":2,"memory_bytes":1,"kernel":"6","os":"Debian"}"#;
        let machine: Machine = serde_json::from_str(old).unwrap();
        assert_eq!(machine.platform(), "linux/amd64");
        let arm = Machine {
            architecture: "arm64".into(),
            ..machine
        };
        assert_eq!(arm.platform(), "linux/arm64");
        assert_eq!(oci_architecture("aarch64"), "arm64");
        assert_eq!(oci_architecture("x86_64"), "amd64");
    }
}
