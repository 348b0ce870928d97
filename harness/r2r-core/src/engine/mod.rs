//! The one trait in front of the Docker Engine API, in the terms r2r needs (build, import,
//! export, run, remove), and its implementation on `bollard`. [`Engine`] is made of three
//! parts, each a trait of its own: [`Images`], [`Containers`] and [`Counters`], so that a
//! stage asks only for what it uses and its tests fake only that.
//!
//! Everything that talks to an engine goes through [`Engine`]; nothing in r2r runs the
//! docker CLI. [`DockerEngine::connect`] honours `DOCKER_HOST` and negotiates the API version,
//! so an old engine (20.10, API 1.41) and newer ones both work.

pub mod cgroup;
pub mod containers;
pub mod fake;
pub mod readiness;

pub use cgroup::{CounterScope, ResourceCounters};

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answers.
    #[error(
        "no Docker engine answers at {host}: {reason}\n  start one with `bash scripts/engine.sh` \
         (installs Debian's docker.io if needed and runs `dockerd --bridge=none --iptables=false`), \
         or point DOCKER_HOST at a running engine"
    )]
    Unreachable {
        /// Where r2r looked.
        host: String,
        /// What failed.
        reason: String,
    },
    /// An engine answers but r2r cannot work with it (its API is too old, say).
    #[error("{engine} at {host} answers but cannot be used: {reason}\n  {remedy}")]
    Unusable {
        /// Where r2r looked.
        host: String,
        /// Which engine, with its version (`Docker Engine 17.06.0`, `Podman Engine 3.0.1`).
        engine: String,
        /// What is missing.
        reason: String,
        /// What to do about it.
        remedy: String,
    },
    /// A build failed; carries the tail of the build log.
    #[error("building {reference} failed: {message}\n--- build log (last lines) ---\n{log_tail}")]
    Build {
        /// The image being built.
        reference: String,
        /// The engine's error message.
        message: String,
        /// The last lines of the build output.
        log_tail: String,
    },
    /// An image r2r needs is neither present nor pullable.
    #[error("image {reference} is not on this machine and could not be pulled: {message}")]
    MissingImage {
        /// The image reference.
        reference: String,
        /// The engine's message.
        message: String,
    },
    /// Any other engine error, with what r2r was doing.
    #[error("{action}: {source}")]
    Api {
        /// What r2r was doing, e.g. `creating a container from r2r/quick:no-composite-console`.
        action: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// Reading a local file for the engine failed.
    #[error("{action}: {source}")]
    Io {
        /// What r2r was doing.
        action: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The oldest Docker Engine API version r2r works with (Docker 20.10; podman 4 and newer
/// serve it too), as (major, minor).
pub const MINIMUM_API_VERSION: (usize, usize) = (1, 41);

/// Facts about the engine, for results and messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Engine version, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// The engine's API version.
    pub api_version: String,
    /// The API version negotiated with it.
    pub negotiated_api_version: String,
    /// Storage driver, e.g. `overlay2`.
    pub storage_driver: String,
    /// Where the engine was reached.
    pub host: String,
    /// Which engine answers the Docker API: `docker` or `podman` (empty in records made
    /// before it was recorded).
    #[serde(default)]
    pub engine: String,
    /// Where it keeps images: `overlay2` (and other graph drivers) for Docker's classic store,
    /// `containerd snapshotter (<snapshotter>)` for Docker's containerd image store,
    /// `podman storage (<driver>)` for podman (empty in older records).
    #[serde(default)]
    pub image_store: String,
    /// The cgroup version its containers run under, `1` or `2` (empty when the engine does
    /// not say).
    #[serde(default)]
    pub cgroup_version: String,
}

/// What r2r needs to know about an image on the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetails {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The engine's size of the image, bytes (uncompressed, including parent layers).
    pub size_bytes: u64,
    /// Layer diff ids, bottom first.
    pub layers: Vec<String>,
    /// The architecture its config names (`amd64`, `arm64`); empty when the engine did not
    /// say (image listings).
    pub architecture: String,
}

/// A request to build one image from an in-memory context.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The tag given to the result.
    pub reference: String,
    /// The context as an uncompressed tar archive with a `Dockerfile` at its root.
    pub context: Bytes,
    /// Labels put on the image.
    pub labels: BTreeMap<String, String>,
    /// The platform to build for: passed to the engine (its `FROM` must name an image of that
    /// platform) for any platform but the default, so x64 builds are requested as before.
    pub platform: crate::model::platform::Platform,
}

/// Network mode of a container. r2r never uses a bridge network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// No network at all.
    None,
    /// The host's network; apps must bind and be probed on 127.0.0.1 only.
    Host,
}

/// A container to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image reference.
    pub image: String,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Network mode.
    pub network: Network,
    /// Labels on the container.
    pub labels: BTreeMap<String, String>,
    /// Memory limit, bytes.
    pub memory_limit_bytes: i64,
    /// Maximum number of processes in the container.
    pub pids_limit: i64,
    /// The user the process runs as (`uid:gid`); `None` keeps the image's own user.
    pub user: Option<String>,
    /// Mount the image's file system read-only (a small `/tmp` tmpfs is writable).
    pub read_only_root: bool,
    /// CPUs the container may run on (`0`, `1-3`, `0,2`); `None`: any.
    pub cpuset_cpus: Option<String>,
    /// The parent cgroup of the container's cgroup (set by [`Counters::prepare_counters`]).
    pub cgroup_parent: Option<String>,
    /// Read limits, bytes per second, per block device path (set by
    /// [`Counters::prepare_counters`]: a limit far above the disk makes the kernel count reads).
    pub read_bps_limits: Vec<(String, u64)>,
}

/// The user r2r's containers run as: `nobody`, which every Linux image can run as by number
/// (no `/etc/passwd` entry is needed) and which owns nothing in the image.
pub const UNPRIVILEGED_USER: &str = "65534:65534";

/// Size of the writable `/tmp` of a read-only container, bytes.
pub const TMP_BYTES: u64 = 64 << 20;

/// Output of a container, split by stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logs {
    /// Standard output: its last bytes, at most the cap.
    pub stdout: String,
    /// Standard error: its last bytes, at most the cap.
    pub stderr: String,
    /// Whether either stream was longer than the cap (its start was dropped).
    pub truncated: bool,
}

/// How often the default [`Containers::follow_logs`] asks for the output again.
pub const FOLLOW_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

/// A stream of byte chunks.
pub type ByteStream<'a> = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send + 'a>>;

/// Images on the engine: build, import, pull, inspect, list, tag, export, push and remove
/// them. What building images, measuring their sizes and layers, and pushing them to a
/// registry need.
#[async_trait]
pub trait Images: Send + Sync {
    /// An image by reference or id, `None` when it does not exist.
    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageDetails>, EngineError>;
    /// Builds an image from an in-memory context; `on_line` sees every line of build output.
    /// Returns the image id.
    async fn build_image(
        &self,
        request: BuildRequest,
        on_line: &(dyn for<'line> Fn(&'line str) + Send + Sync),
    ) -> Result<String, EngineError>;
    /// Imports a root filesystem tarball as an image with Dockerfile `changes` (e.g. `LABEL`),
    /// its config naming `platform`'s architecture.
    async fn import_rootfs(
        &self,
        tarball: &Path,
        reference: &str,
        changes: &[String],
        platform: crate::model::platform::Platform,
    ) -> Result<(), EngineError>;
    /// Pulls an image from its registry.
    async fn pull_image(&self, reference: &str) -> Result<(), EngineError>;
    /// Pulls an image from its registry, telling `on_progress` each progress message as it
    /// comes: the layer (the engine's short id; empty for the image as a whole) and its status
    /// ("Pulling fs layer", "Downloading", "Download complete", "Extracting", "Pull complete",
    /// "Already exists", ...). A message that reports an error fails the pull. The default
    /// reports nothing.
    async fn pull_image_progress(
        &self,
        reference: &str,
        on_progress: &(dyn for<'a> Fn(&'a str, &'a str) + Send + Sync),
    ) -> Result<(), EngineError> {
        let _ = on_progress;
        self.pull_image(reference).await
    }
    /// Adds a tag (`repo:tag`) to an image.
    async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError>;
    /// Removes an image or tag (without forcing).
    async fn remove_image(&self, reference: &str) -> Result<(), EngineError>;
    /// Ids and tags of images carrying every label in `labels` (`key=value`).
    async fn list_images(&self, labels: &[String]) -> Result<Vec<ImageDetails>, EngineError>;
    /// Images as one `docker save` archive (layers they share appear once), streamed.
    fn export_images<'a>(&'a self, references: &'a [String]) -> ByteStream<'a>;
    /// Pushes an image (tagged `registry/repository:tag`) to its registry.
    async fn push_image(&self, reference: &str) -> Result<(), EngineError>;
}

/// Containers on the engine: create, start, wait for, read the output of, list and remove
/// them. What running images (verifying them, timing their start-up) needs.
#[async_trait]
pub trait Containers: Send + Sync {
    /// Creates a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError>;
    /// Starts a created container.
    async fn start_container(&self, id: &str) -> Result<(), EngineError>;
    /// Waits for a container to exit; returns its exit code.
    async fn wait_container(&self, id: &str) -> Result<i64, EngineError>;
    /// The container's output so far, each stream capped at `cap_bytes`: its **last**
    /// `cap_bytes` bytes (the end of a flood, where the reason for a failure is), with
    /// [`Logs::truncated`] set when earlier bytes were dropped. (The engine's own log is capped
    /// too: every container keeps at most 4 MB of log.)
    async fn container_logs(&self, id: &str, cap_bytes: usize) -> Result<Logs, EngineError>;
    /// The container's output (standard output and error, interleaved as they come) from its
    /// start, followed as it grows, until the container stops or the stream is dropped.
    ///
    /// The default implementation polls [`Containers::container_logs`] every
    /// [`FOLLOW_POLL_INTERVAL`] and yields what is new (at most [`containers::LOG_CAP_BYTES`]
    /// per stream), and never ends on its own; engines that can stream their logs override it.
    fn follow_logs<'a>(&'a self, id: &'a str) -> ByteStream<'a> {
        Box::pin(futures_util::stream::unfold(
            Some((0usize, 0usize, true)),
            move |state| async move {
                let (mut out_seen, mut err_seen, mut first) = state?;
                loop {
                    if !first {
                        tokio::time::sleep(FOLLOW_POLL_INTERVAL).await;
                    }
                    first = false;
                    let logs = match self.container_logs(id, containers::LOG_CAP_BYTES).await {
                        Ok(logs) => logs,
                        Err(error) => return Some((Err(error), None)),
                    };
                    let mut chunk = Vec::new();
                    if logs.stdout.len() > out_seen {
                        chunk.extend_from_slice(&logs.stdout.as_bytes()[out_seen..]);
                        out_seen = logs.stdout.len();
                    }
                    if logs.stderr.len() > err_seen {
                        chunk.extend_from_slice(&logs.stderr.as_bytes()[err_seen..]);
                        err_seen = logs.stderr.len();
                    }
                    if !chunk.is_empty() {
                        return Some((Ok(Bytes::from(chunk)), Some((out_seen, err_seen, false))));
                    }
                }
            },
        ))
    }
    /// Removes a container, killing it if it runs.
    async fn remove_container(&self, id: &str) -> Result<(), EngineError>;
    /// Ids of containers (running or not) carrying every label in `labels`.
    async fn list_containers(&self, labels: &[String]) -> Result<Vec<String>, EngineError>;
    /// Whether the kernel's out-of-memory killer stopped a container (its memory limit was hit).
    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError>;
    /// When the container's process started, as the engine recorded it: nanoseconds since
    /// the Unix epoch (CLOCK_REALTIME). Docker sets it once the runtime reports the process
    /// running, just after its exec. `None` when the engine does not say (the default).
    async fn container_started_at(&self, id: &str) -> Result<Option<i128>, EngineError> {
        let _ = id;
        Ok(None)
    }
    /// The process id, on this host, of the container's main process while it runs; `None`
    /// when the engine does not say or the process is not visible here (an engine on another
    /// machine). What `r2r tune` reads the mapped files of (the default: `None`).
    async fn container_pid(&self, id: &str) -> Result<Option<u32>, EngineError> {
        let _ = id;
        Ok(None)
    }
}

/// The engine itself and what its containers do underneath: facts about the engine (which
/// also show it still answers), and the host's counters of a container (bytes read, major
/// page faults, peak memory), read from the cgroups the engine puts it in.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Facts about the engine.
    async fn info(&self) -> Result<EngineInfo, EngineError>;
    /// Peak memory use of a running container so far, bytes (cgroup figures; `None` when the
    /// engine does not report it, e.g. on cgroup v2 or after exit).
    async fn peak_memory(&self, id: &str) -> Result<Option<u64>, EngineError>;
    /// Prepares counting what the container about to be created from `spec` does underneath
    /// (bytes read, major page faults, peak memory): may give it a parent cgroup of its own
    /// (named after `key`, unique per run) whose counters outlive the container, and whatever
    /// else the host needs to count. `None` (the default) when this engine cannot count, e.g.
    /// a remote engine or one whose cgroups r2r cannot read.
    async fn prepare_counters(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
    ) -> Result<Option<CounterScope>, EngineError> {
        let _ = (spec, key);
        Ok(None)
    }
    /// The counters of a container prepared with [`Counters::prepare_counters`], so far: while it
    /// runs, after it exited, and after it was removed (until [`Counters::release_counters`]).
    /// Counters the host does not report are `None` (the default: all).
    async fn read_counters(
        &self,
        id: &str,
        scope: &CounterScope,
    ) -> Result<ResourceCounters, EngineError> {
        let _ = (id, scope);
        Ok(ResourceCounters::default())
    }
    /// Releases what [`Counters::prepare_counters`] set up (the parent cgroup), once the
    /// container is removed.
    async fn release_counters(&self, scope: &CounterScope) -> Result<(), EngineError> {
        let _ = scope;
        Ok(())
    }
    /// Finds what counting left on this machine for r2r processes that are no longer running
    /// (their parent cgroups, kept busy by processes no engine lists, such as the `runc init`
    /// of a container whose engine died while creating it), kills those processes and removes
    /// the groups. Call it after the engine's own leftover containers are removed. The default
    /// has nothing to find.
    async fn remove_leftover_counters(&self) -> Result<Vec<SweptGroup>, EngineError> {
        Ok(Vec::new())
    }
}

/// A counting group an r2r that is no longer running left behind, and what became of it
/// ([`Counters::remove_leftover_counters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptGroup {
    /// The group, relative to the cgroup hierarchy (`/r2r-<pid>-...`).
    pub group: String,
    /// The processes that were in it: id and command line (cut to 80 characters).
    pub processes: Vec<(u32, String)>,
    /// Whether the group is gone now.
    pub removed: bool,
    /// Why it could not be removed (or a process killed), when it could not.
    pub error: Option<String>,
}

impl SweptGroup {
    /// One line for people: "removed cgroup /r2r-1-2-3 (an r2r that is gone left it), with 1
    /// process killed: 4242 runc init".
    pub fn describe(&self) -> String {
        let processes = match self.processes.len() {
            0 => String::new(),
            count => format!(
                ", with {count} process(es) in it killed: {}",
                self.processes
                    .iter()
                    .map(|(pid, command)| format!("{pid} {command}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        match (&self.error, self.removed) {
            (None, true) => format!(
                "removed cgroup {} (an r2r that is gone left it){processes}",
                self.group
            ),
            (error, _) => format!(
                "could not remove cgroup {} (an r2r that is gone left it){processes}: {}",
                self.group,
                error.as_deref().unwrap_or("still there")
            ),
        }
    }
}

/// The Docker Engine, in r2r's terms: every part of it. Anything that implements the parts is
/// an engine; a stage that needs one part takes `&dyn Images`, `&dyn Containers` or
/// `&dyn Counters` (an `&dyn Engine` gives each).
pub trait Engine: Images + Containers + Counters {}

impl<T: Images + Containers + Counters + ?Sized> Engine for T {}

mod docker;
pub use docker::DockerEngine;

/// Nanoseconds since the Unix epoch of an RFC 3339 time in UTC (`2026-11-30T05:28:02.123456789Z`,
/// as the Docker API writes it); `None` for another form or the zero time.
pub fn parse_rfc3339_utc(text: &str) -> Option<i128> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = clock.splitn(3, ':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !fraction.chars().all(|c| c.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let nanos: i128 = format!("{fraction:0<9}").parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds as i128 * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times_parse_to_the_nanosecond() {
        assert_eq!(
            parse_rfc3339_utc("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(
            parse_rfc3339_utc("2026-11-30T05:28:02.123456789Z"),
            Some(1_796_016_482_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_utc("2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000_000)
        );
        assert_eq!(parse_rfc3339_utc("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_utc("2026-11-30 05:28:02Z"), None);
    }
}
