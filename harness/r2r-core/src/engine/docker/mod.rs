//! [`super::Engine`] on a real Docker engine (or one that speaks its API) through `bollard`:
//! connecting here, and one part of the engine in each module ([`super::Images`],
//! [`super::Containers`], [`super::Counters`]).

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;

use super::{EngineError, MINIMUM_API_VERSION};

mod containers;
mod counters;
mod images;

use counters::Counting;

/// [`super::Engine`] on a real Docker engine through `bollard`.
pub struct DockerEngine {
    docker: Docker,
    host: String,
    /// How containers are counted on this machine, found on first use.
    counting: tokio::sync::OnceCell<Option<Counting>>,
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    let action = action.into();
    move |source| EngineError::Api { action, source }
}

fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn label_filters(labels: &[String]) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), labels.to_vec())])
}

impl DockerEngine {
    /// Connects to the engine named by `DOCKER_HOST` (default: the local socket), checks it
    /// answers and negotiates the API version.
    pub async fn connect() -> Result<DockerEngine, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let unreachable = |reason: String| EngineError::Unreachable {
            host: host.clone(),
            reason,
        };
        let docker =
            Docker::connect_with_defaults().map_err(|error| unreachable(error.to_string()))?;
        Self::checked(docker, host).await
    }

    /// Connects to an engine on a unix socket (a second engine of this machine), as
    /// [`DockerEngine::connect`] does.
    pub async fn connect_unix(socket: &std::path::Path) -> Result<DockerEngine, EngineError> {
        let host = format!("unix://{}", socket.display());
        let docker =
            Docker::connect_with_unix(&socket.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)
                .map_err(|error| EngineError::Unreachable {
                    host: host.clone(),
                    reason: error.to_string(),
                })?;
        Self::checked(docker, host).await
    }

    async fn checked(docker: Docker, host: String) -> Result<DockerEngine, EngineError> {
        let unreachable = |reason: String| EngineError::Unreachable {
            host: host.clone(),
            reason,
        };
        // Builds of large contexts and long container waits exceed bollard's 2-minute default.
        let docker = docker.with_timeout(Duration::from_secs(3600));
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let negotiated = docker.client_version();
        let (major, minor) = MINIMUM_API_VERSION;
        if (negotiated.major_version, negotiated.minor_version) < (major, minor) {
            let version = docker.version().await.ok();
            let engine = version
                .as_ref()
                .map(|version| {
                    let product = version
                        .components
                        .iter()
                        .flatten()
                        .map(|component| component.name.as_str())
                        .find(|name| name.contains("Engine"))
                        .unwrap_or("Docker Engine");
                    format!("{product} {}", version.version.as_deref().unwrap_or("?"))
                })
                .unwrap_or_else(|| "the engine".to_string());
            return Err(EngineError::Unusable {
                host,
                engine,
                reason: format!(
                    "it speaks Docker API {negotiated}, and r2r needs {major}.{minor} or newer"
                ),
                remedy: "upgrade it (Docker 20.10 or newer, or podman 4 or newer with `podman system service`), \
                         or point DOCKER_HOST at another engine; `bash scripts/engine.sh --engine docker-containerd|podman` starts one"
                    .to_string(),
            });
        }
        // A rootless engine on cgroup v1 cannot limit a container's memory or processes, and
        // every container r2r starts has both limits.
        if let Ok(info) = docker.info().await {
            let rootless = info
                .security_options
                .iter()
                .flatten()
                .any(|option| option.contains("name=rootless"));
            let version = info
                .cgroup_version
                .map(|version| version.to_string())
                .unwrap_or_default();
            if rootless && version == "1" {
                return Err(EngineError::Unusable {
                    host,
                    engine: format!(
                        "a rootless engine ({})",
                        info.server_version.as_deref().unwrap_or("?")
                    ),
                    reason: "on cgroup v1 it cannot limit a container's memory and processes, and r2r limits both in every container".to_string(),
                    remedy: "use a rootful engine (`bash scripts/engine.sh` starts one), or a cgroup v2 host that delegates the memory and pids controllers to the user".to_string(),
                });
            }
        }
        Ok(DockerEngine {
            docker,
            host,
            counting: tokio::sync::OnceCell::new(),
        })
    }
}
