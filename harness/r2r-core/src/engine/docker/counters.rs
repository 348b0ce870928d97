//! [`Counters`] on the Docker engine: what the engine is, and the cgroup counters of its
//! containers when the engine runs on this machine with cgroups r2r can read.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use super::{api, DockerEngine};
use crate::engine::{
    cgroup, ContainerSpec, CounterScope, Counters, EngineError, EngineInfo, ResourceCounters,
    SweptGroup,
};

/// Where this engine's containers can be counted: its cgroups are this machine's.
#[derive(Debug, Clone)]
pub(super) struct Counting {
    hierarchy: cgroup::Hierarchy,
    /// The block device of the engine's data root (cgroup v1: reads are counted on it).
    device: Option<std::path::PathBuf>,
    /// The engine is podman, which puts the container's monitor (conmon) in a child group
    /// `conmon` of the container's cgroup parent.
    podman: bool,
}

/// The read limit that makes a v1 kernel count a container's reads without slowing them:
/// 1 TiB/s, far above any disk.
pub const COUNTING_READ_BPS: u64 = 1 << 40;

impl DockerEngine {
    /// How this engine's containers are counted, `None` when they cannot be: the engine is not
    /// on this machine (not a unix socket), its cgroup driver is not `cgroupfs` (a parent cgroup
    /// would have to be a systemd slice), or no cgroup hierarchy with the memory controller is
    /// mounted at `/sys/fs/cgroup` (or `/sys/fs/cgroup/unified`).
    async fn counting(&self) -> Option<&Counting> {
        self.counting
            .get_or_init(|| async {
                if !self.host.starts_with("unix://") {
                    return None;
                }
                let info = self.docker.info().await.ok()?;
                let driver = info
                    .cgroup_driver
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                if driver != "cgroupfs" {
                    tracing::info!("cgroup driver {driver}: start-up counters are not read");
                    return None;
                }
                let version = info
                    .cgroup_version
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                let roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];
                let hierarchy = roots
                    .iter()
                    .filter_map(|root| cgroup::Hierarchy::detect(Path::new(root)))
                    .find(|h| match h.version {
                        cgroup::CgroupVersion::V1 => version != "2",
                        cgroup::CgroupVersion::V2 => version != "1",
                    })?;
                let device = match info.docker_root_dir.as_deref() {
                    Some(root) => data_root_device(&self.host, Path::new(root)).await,
                    None => None,
                };
                let podman = self
                    .docker
                    .version()
                    .await
                    .is_ok_and(|version| is_podman(&version));
                Some(Counting {
                    hierarchy,
                    device,
                    podman,
                })
            })
            .await
            .as_ref()
    }
}

/// The block device holding an engine's data root, `root` as the engine names it. An engine in a
/// mount namespace of its own (a chroot, a pivot_root) names a path of its own root, so the path
/// is looked up through `/proc/<pid>/root` of the process answering on the socket (its peer
/// credentials); as given when that process cannot be seen.
async fn data_root_device(host: &str, root: &Path) -> Option<std::path::PathBuf> {
    let engine_pid = match host.strip_prefix("unix://") {
        Some(socket) => match tokio::net::UnixStream::connect(socket).await {
            Ok(stream) => stream.peer_cred().ok().and_then(|cred| cred.pid()),
            Err(_) => None,
        },
        None => None,
    };
    let seen = engine_pid.map(|pid| {
        Path::new(&format!("/proc/{pid}/root")).join(root.strip_prefix("/").unwrap_or(root))
    });
    let device = seen
        .as_deref()
        .and_then(cgroup::block_device_of)
        .or_else(|| cgroup::block_device_of(root));
    if device.is_none() {
        tracing::info!(
            "no block device found under the engine's data root {}: bytes read are not counted",
            root.display()
        );
    }
    device
}

/// Whether the engine answering is podman (its Docker-compatible service names itself so).
fn is_podman(version: &bollard::models::SystemVersion) -> bool {
    version
        .components
        .iter()
        .flatten()
        .any(|component| component.name.contains("Podman"))
        || version
            .platform
            .as_ref()
            .is_some_and(|platform| platform.name.contains("Podman"))
}

/// How [`EngineInfo::image_store`] names an engine's store.
fn image_store(podman: bool, containerd_store: bool, driver: &str) -> String {
    if podman {
        format!("podman storage ({driver})")
    } else if containerd_store {
        format!("containerd snapshotter ({driver})")
    } else {
        driver.to_string()
    }
}

#[async_trait]
impl Counters for DockerEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let version = self
            .docker
            .version()
            .await
            .map_err(api("reading the engine version"))?;
        let info = self
            .docker
            .info()
            .await
            .map_err(api("reading engine information"))?;
        let podman = is_podman(&version);
        let driver = info.driver.unwrap_or_default();
        let containerd_store = info.driver_status.iter().flatten().any(|pair| {
            pair.first().map(String::as_str) == Some("driver-type")
                && pair
                    .get(1)
                    .is_some_and(|value| value.contains("containerd.snapshotter"))
        });
        let image_store = image_store(podman, containerd_store, &driver);
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            negotiated_api_version: self.docker.client_version().to_string(),
            storage_driver: driver,
            host: self.host.clone(),
            engine: if podman { "podman" } else { "docker" }.to_string(),
            image_store,
            cgroup_version: info
                .cgroup_version
                .map(|version| version.to_string())
                .unwrap_or_default(),
        })
    }

    async fn peak_memory(&self, id: &str) -> Result<Option<u64>, EngineError> {
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(id, Some(options));
        match stream.next().await {
            Some(Ok(stats)) => Ok(stats
                .memory_stats
                .and_then(|memory| memory.max_usage.filter(|bytes| *bytes > 0))),
            Some(Err(error)) => Err(api(format!("reading statistics of container {id}"))(error)),
            None => Ok(None),
        }
    }

    async fn prepare_counters(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
    ) -> Result<Option<CounterScope>, EngineError> {
        let Some(counting) = self.counting().await else {
            return Ok(None);
        };
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let parent = format!("/r2r-{key}");
        spec.cgroup_parent = Some(parent.clone());
        let version = counting.hierarchy.version;
        if version == cgroup::CgroupVersion::V1 {
            if let Some(device) = &counting.device {
                spec.read_bps_limits
                    .push((device.display().to_string(), COUNTING_READ_BPS));
            }
        }
        // podman's monitor shares the parent: counters are known only while its group is
        // there (see `Hierarchy::read_without`), so they are sampled on every version.
        let engine_group = counting.podman.then(|| format!("{parent}/conmon"));
        Ok(Some(CounterScope {
            cgroup_parent: parent,
            version,
            sample: version == cgroup::CgroupVersion::V1 || engine_group.is_some(),
            engine_group,
        }))
    }

    async fn read_counters(
        &self,
        _id: &str,
        scope: &CounterScope,
    ) -> Result<ResourceCounters, EngineError> {
        let Some(counting) = self.counting().await else {
            return Ok(ResourceCounters::default());
        };
        let mut counters = match &scope.engine_group {
            Some(engine_group) => counting
                .hierarchy
                .read_without(&scope.cgroup_parent, engine_group),
            None => counting.hierarchy.read(&scope.cgroup_parent),
        };
        if scope.version == cgroup::CgroupVersion::V1 && counting.device.is_none() {
            // Without a read limit the kernel does not count v1 block I/O: 0 would be a lie.
            counters.read_bytes = None;
        }
        Ok(counters)
    }

    async fn release_counters(&self, scope: &CounterScope) -> Result<(), EngineError> {
        let Some(counting) = self.counting().await else {
            return Ok(());
        };
        // The runtime may still be tearing the container's own group down (its last process
        // being reaped) when the engine reports the container removed: a busy group is tried
        // again for up to a second.
        let mut attempts = 0;
        loop {
            match counting.hierarchy.remove(&scope.cgroup_parent) {
                Ok(_) => return Ok(()),
                Err(source)
                    if source.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32)
                        && attempts < 50 =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(source) => {
                    return Err(EngineError::Io {
                        action: format!("removing cgroup {}", scope.cgroup_parent),
                        source,
                    })
                }
            }
        }
    }

    async fn remove_leftover_counters(&self) -> Result<Vec<SweptGroup>, EngineError> {
        let Some(counting) = self.counting().await else {
            return Ok(Vec::new());
        };
        let alive =
            |pid: u32| pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        let mut swept = Vec::new();
        for leftover in counting.hierarchy.leftover_groups(alive) {
            let processes: Vec<(u32, String)> = leftover
                .processes
                .iter()
                .map(|pid| (*pid, command_line_of(*pid)))
                .collect();
            let mut error = None;
            for (pid, _) in &processes {
                let pid = nix::unistd::Pid::from_raw(*pid as i32);
                match nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                    Err(errno) => {
                        error.get_or_insert(format!("killing process {pid}: {errno}"));
                    }
                }
            }
            // A killed process leaves its group when the kernel has reaped it: up to 2 s.
            for _ in 0..100 {
                if counting.hierarchy.processes(&leftover.group).is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let removed = match counting.hierarchy.remove(&leftover.group) {
                Ok(_) => true,
                Err(source) => {
                    error.get_or_insert(source.to_string());
                    false
                }
            };
            swept.push(SweptGroup {
                group: leftover.group,
                processes,
                removed,
                error,
            });
        }
        Ok(swept)
    }
}

/// A process's command line, its arguments joined by spaces and cut to 80 characters; `?` when
/// it cannot be read (the process is gone).
fn command_line_of(pid: u32) -> String {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) if !bytes.is_empty() => {
            let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
            text.trim().chars().take(80).collect()
        }
        _ => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::image_store;

    #[test]
    fn each_engine_store_is_named() {
        assert_eq!(image_store(false, false, "overlay2"), "overlay2");
        assert_eq!(
            image_store(false, true, "overlayfs"),
            "containerd snapshotter (overlayfs)"
        );
        assert_eq!(
            image_store(true, false, "overlay"),
            "podman storage (overlay)"
        );
    }
}
