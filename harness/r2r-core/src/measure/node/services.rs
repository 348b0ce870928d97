//! What a new-node measurement runs beside r2r, each started here and stopped when dropped
//! (also when r2r is interrupted or dies): a registry on 127.0.0.1 (Debian's
//! `docker-registry`) with storage of its own, and the node — a second Docker Engine of this
//! machine's `dockerd` with a data root, exec root and socket of its own, that starts with no
//! image at all.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::engine::DockerEngine;
use crate::measure::registry;
use crate::support::children::Service;
use crate::support::probe;

/// The registry's program, looked up on PATH.
pub const REGISTRY_PROGRAM: &str = "docker-registry";
/// The engine's program, looked up on PATH.
pub const ENGINE_PROGRAM: &str = "dockerd";
/// How long a service has to answer after it is started.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a service could not be started; each says which and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The program is not installed.
    #[error("`{program}` is not on PATH: {remedy}")]
    Missing {
        /// The program.
        program: &'static str,
        /// What to do.
        remedy: &'static str,
    },
    /// It could not be started.
    #[error("starting {what}: {source}")]
    Start {
        /// Which service.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// It did not answer in time, or exited.
    #[error("{what} did not answer within {seconds} s ({reason}); last lines of {log}: {tail}")]
    NoAnswer {
        /// Which service.
        what: &'static str,
        /// The time waited.
        seconds: u64,
        /// What was seen.
        reason: String,
        /// Its log.
        log: String,
        /// The log's last lines.
        tail: String,
    },
}

fn on_path(program: &'static str, remedy: &'static str) -> Result<PathBuf, ServiceError> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|directory| directory.join(program))
        .find(|path| path.is_file())
        .ok_or(ServiceError::Missing { program, remedy })
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// A registry on 127.0.0.1 of r2r's own, its storage in a temporary directory.
pub struct Registry {
    /// Where it answers.
    pub address: SocketAddr,
    service: Service,
    _directory: tempfile::TempDir,
}

impl Registry {
    /// Starts one and waits until its API answers.
    pub async fn start() -> Result<Registry, ServiceError> {
        let program = on_path(
            REGISTRY_PROGRAM,
            "install Debian's docker-registry (`apt-get install docker-registry`)",
        )?;
        let io = |source| ServiceError::Start {
            what: "the registry",
            source,
        };
        let directory = tempfile::Builder::new()
            .prefix("r2r-registry-")
            .tempdir_in(std::env::temp_dir())
            .map_err(io)?;
        let port = probe::free_port().map_err(io)?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let config = directory.path().join("config.yml");
        let storage = directory.path().join("storage");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                storage.display()
            ),
        )
        .map_err(io)?;
        let log = directory.path().join("registry.log");
        let mut service = Service::start(
            "registry",
            Command::new(program).arg("serve").arg(&config),
            &log,
        )
        .map_err(io)?;
        let started = Instant::now();
        loop {
            let answer = registry::check(address).await;
            if answer.is_ok() {
                break;
            }
            if !service.running() || started.elapsed() > START_TIMEOUT {
                return Err(ServiceError::NoAnswer {
                    what: "the registry",
                    seconds: START_TIMEOUT.as_secs(),
                    reason: answer.err().map(|e| e.to_string()).unwrap_or_default(),
                    log: log.display().to_string(),
                    tail: tail(&log),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Registry {
            address,
            service,
            _directory: directory,
        })
    }

    /// Why the registry is down (its process ended, or it no longer answers), or `None`
    /// while it runs and answers.
    pub async fn down(&mut self) -> Option<String> {
        if !self.service.running() {
            return Some(format!(
                "the registry on {} stopped (its process ended)",
                self.address
            ));
        }
        registry::check(self.address).await.err().map(|error| {
            format!(
                "the registry on {} stopped answering: {error}",
                self.address
            )
        })
    }
}

/// A second Docker Engine of this machine, empty when it starts, with everything of its own
/// in a temporary directory under `/var/tmp` (its data root needs a file system that takes
/// overlay mounts).
pub struct NodeEngine {
    /// The engine.
    pub engine: DockerEngine,
    /// Its socket.
    pub socket: PathBuf,
    // On drop: the engine's process stops, what it left mounted is unmounted, then its
    // directory goes.
    service: Option<Service>,
    directory: tempfile::TempDir,
}

impl Drop for NodeEngine {
    fn drop(&mut self) {
        drop(self.service.take());
        // dockerd leaves its network namespace's bind mount (exec/netns/default) behind.
        for mount in mounts_under(self.directory.path()).iter().rev() {
            if let Ok(path) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) {
                // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks.
                unsafe {
                    nix::libc::umount2(path.as_ptr(), nix::libc::MNT_DETACH);
                }
            }
        }
    }
}

/// Mount points at or under `root`, in the order the kernel lists them (parents first).
fn mounts_under(root: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(root))
        .collect()
}

impl NodeEngine {
    /// Starts one (as `dockerd --bridge=none --iptables=false`, the way r2r's engine runs)
    /// and waits until it answers.
    pub async fn start() -> Result<NodeEngine, ServiceError> {
        let program = on_path(
            ENGINE_PROGRAM,
            "install Debian's docker.io (`bash scripts/engine.sh` does, as root)",
        )?;
        let io = |source| ServiceError::Start {
            what: "the node's engine",
            source,
        };
        let directory = tempfile::Builder::new()
            .prefix("r2r-node-")
            .tempdir_in("/var/tmp")
            .map_err(io)?;
        let root = directory.path();
        let socket = root.join("docker.sock");
        let log = root.join("dockerd.log");
        let mut command = Command::new(program);
        command
            .arg(format!("--data-root={}", root.join("data").display()))
            .arg(format!("--exec-root={}", root.join("exec").display()))
            .arg(format!("--pidfile={}", root.join("dockerd.pid").display()))
            .arg(format!("--host=unix://{}", socket.display()))
            .arg("--bridge=none")
            .arg("--iptables=false");
        let mut service = Service::start("node engine", &mut command, &log).map_err(io)?;
        let started = Instant::now();
        let engine = loop {
            let seen = if socket.exists() {
                DockerEngine::connect_unix(&socket)
                    .await
                    .map_err(|e| e.to_string())
            } else {
                Err("no socket yet".to_string())
            };
            match seen {
                Ok(engine) => break engine,
                Err(reason) if !service.running() || started.elapsed() > START_TIMEOUT => {
                    return Err(ServiceError::NoAnswer {
                        what: "the node's engine",
                        seconds: START_TIMEOUT.as_secs(),
                        reason,
                        log: log.display().to_string(),
                        tail: tail(&log),
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Ok(NodeEngine {
            engine,
            socket,
            service: Some(service),
            directory,
        })
    }

    /// Whether its process still runs.
    pub fn running(&mut self) -> bool {
        self.service.as_mut().is_some_and(Service::running)
    }
}
