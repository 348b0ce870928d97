//! [`Engine`] on a real Docker engine (or one that speaks its API) through `bollard`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};

use super::*;

/// [`Engine`] on a real Docker engine through `bollard`.
pub struct DockerEngine {
    docker: Docker,
    host: String,
    /// How containers are counted on this machine, found on first use.
    counting: tokio::sync::OnceCell<Option<Counting>>,
}

/// Where this engine's containers can be counted: its cgroups are this machine's.
#[derive(Debug, Clone)]
struct Counting {
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

#[cfg(test)]
mod store_tests {
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

fn image_details(inspect: bollard::models::ImageInspect) -> ImageDetails {
    ImageDetails {
        id: inspect.id.unwrap_or_default(),
        tags: inspect.repo_tags.unwrap_or_default(),
        labels: inspect
            .config
            .and_then(|config| config.labels)
            .map(|labels| labels.into_iter().collect())
            .unwrap_or_default(),
        size_bytes: inspect.size.unwrap_or_default().max(0) as u64,
        layers: inspect
            .root_fs
            .and_then(|root| root.layers)
            .unwrap_or_default(),
        architecture: inspect.architecture.unwrap_or_default(),
    }
}

impl DockerEngine {
    /// Loads a root file system tarball as a one-layer image (the `docker save` layout: its
    /// config with the platform's OS and architecture, `ENV` and `LABEL` changes applied, the
    /// tarball as the layer), through a temporary archive next to the tarball.
    async fn load_rootfs(
        &self,
        tarball: &Path,
        reference: &str,
        changes: &[String],
        platform: crate::model::platform::Platform,
    ) -> Result<(), EngineError> {
        use sha2::Digest;
        let io = |action: String| move |source: std::io::Error| EngineError::Io { action, source };
        let archive = tarball.with_extension(format!("load-{}.tar", std::process::id()));
        let (tarball_owned, archive_owned) = (tarball.to_path_buf(), archive.clone());
        let (reference_owned, changes_owned) = (reference.to_string(), changes.to_vec());
        tokio::task::spawn_blocking(move || -> Result<(), EngineError> {
            let tarball = tarball_owned;
            let mut file = std::fs::File::open(&tarball)
                .map_err(io(format!("opening {}", tarball.display())))?;
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut file, &mut hasher)
                .map_err(io(format!("reading {}", tarball.display())))?;
            let diff_id = format!("sha256:{:x}", hasher.finalize());
            let mut env = Vec::new();
            let mut labels = serde_json::Map::new();
            for change in &changes_owned {
                if let Some(rest) = change.strip_prefix("ENV ") {
                    env.push(rest.to_string());
                } else if let Some((key, value)) = change
                    .strip_prefix("LABEL ")
                    .and_then(|rest| rest.split_once('='))
                {
                    labels.insert(key.to_string(), serde_json::Value::from(value));
                }
            }
            let config = serde_json::json!({
                "architecture": platform.architecture(),
                "os": "linux",
                "config": { "Env": env, "Labels": labels },
                "rootfs": { "type": "layers", "diff_ids": [diff_id] },
                "history": [{ "created_by": "r2r: root file system of a local base" }],
            });
            let config_bytes = serde_json::to_vec(&config).expect("JSON values serialise");
            let config_name = format!("{:x}.json", sha2::Sha256::digest(&config_bytes));
            let manifest = serde_json::json!([{
                "Config": config_name,
                "RepoTags": [reference_owned],
                "Layers": ["layer/layer.tar"],
            }]);
            let manifest_bytes = serde_json::to_vec(&manifest).expect("JSON values serialise");
            let write = || -> std::io::Result<()> {
                let mut builder = tar::Builder::new(std::fs::File::create(&archive_owned)?);
                let entry = |name: &str, size: u64| {
                    let mut header = tar::Header::new_gnu();
                    header.set_path(name)?;
                    header.set_size(size);
                    header.set_mode(0o644);
                    header.set_cksum();
                    Ok::<_, std::io::Error>(header)
                };
                builder.append(
                    &entry(&config_name, config_bytes.len() as u64)?,
                    &config_bytes[..],
                )?;
                let layer = std::fs::File::open(&tarball)?;
                let size = layer.metadata()?.len();
                builder.append(&entry("layer/layer.tar", size)?, layer)?;
                builder.append(
                    &entry("manifest.json", manifest_bytes.len() as u64)?,
                    &manifest_bytes[..],
                )?;
                builder.into_inner()?.sync_all()
            };
            write().map_err(io(format!("writing {}", archive_owned.display())))
        })
        .await
        .map_err(|error| EngineError::Io {
            action: "making the image archive".into(),
            source: std::io::Error::other(error.to_string()),
        })??;
        let file = tokio::fs::File::open(&archive)
            .await
            .map_err(io(format!("opening {}", archive.display())))?;
        let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
        let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
            .quiet(true)
            .build();
        let loaded = self
            .docker
            .import_image(options, body, None)
            .try_collect::<Vec<_>>()
            .await;
        let _ = std::fs::remove_file(&archive);
        loaded.map_err(api(format!(
            "loading {} as {reference} ({platform})",
            tarball.display()
        )))?;
        Ok(())
    }
}

#[async_trait]
impl Engine for DockerEngine {
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

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageDetails>, EngineError> {
        match self.docker.inspect_image(reference).await {
            Ok(inspect) => Ok(Some(image_details(inspect))),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(api(format!("inspecting image {reference}"))(error)),
        }
    }

    async fn build_image(
        &self,
        request: BuildRequest,
        on_line: &(dyn for<'line> Fn(&'line str) + Send + Sync),
    ) -> Result<String, EngineError> {
        let labels: HashMap<String, String> = request.labels.clone().into_iter().collect();
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(&request.reference)
            .labels(&labels)
            .rm(true)
            .forcerm(true)
            .networkmode("none");
        if !request.platform.is_default() || request.platform.is_emulated() {
            // The classic builder looks `FROM` up for this platform (and the image it commits
            // inherits its parent's architecture).
            options = options.platform(request.platform.name());
        }
        let options = options.build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(request.context)));
        let mut log: Vec<String> = Vec::new();
        let mut image_id = None;
        let failure = |message: String, log: &[String]| EngineError::Build {
            reference: request.reference.clone(),
            message,
            log_tail: log[log.len().saturating_sub(25)..].join("\n"),
        };
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| failure(error.to_string(), &log))?;
            if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    on_line(line);
                    log.push(line.to_string());
                }
            }
            if let Some(detail) = info.error_detail {
                return Err(failure(detail.message.unwrap_or_default(), &log));
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        match image_id {
            Some(id) => Ok(id),
            None => match self.inspect_image(&request.reference).await? {
                Some(details) => Ok(details.id),
                None => Err(failure("the engine reported no image".to_string(), &log)),
            },
        }
    }

    async fn import_rootfs(
        &self,
        tarball: &Path,
        reference: &str,
        changes: &[String],
        platform: crate::model::platform::Platform,
    ) -> Result<(), EngineError> {
        if !platform.is_default() || platform.is_emulated() {
            // dockerd 20.10's import writes its own architecture whatever `platform` says (it
            // passes the OS on, not the architecture): load the root file system as an image
            // archive whose config names the platform instead.
            return self
                .load_rootfs(tarball, reference, changes, platform)
                .await;
        }
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let file = tokio::fs::File::open(tarball)
            .await
            .map_err(|source| EngineError::Io {
                action: format!("opening {}", tarball.display()),
                source,
            })?;
        let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
        let mut options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes.to_vec());
        if !platform.is_default() || platform.is_emulated() {
            // The engine writes the platform's OS and architecture into the image config
            // (without it, its own).
            options = options.platform(platform.name());
        }
        let options = options.build();
        self.docker
            .create_image(Some(options), Some(body), None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(api(format!(
                "importing {} as {reference}",
                tarball.display()
            )))?;
        Ok(())
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(reference)
            .build();
        self.docker
            .create_image(Some(options), None, None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|error| EngineError::MissingImage {
                reference: reference.to_string(),
                message: error.to_string(),
            })?;
        Ok(())
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(api(format!("tagging {image} as {reference}")))
    }

    async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(api(format!("removing image {reference}"))(error)),
        }
    }

    async fn list_images(&self, labels: &[String]) -> Result<Vec<ImageDetails>, EngineError> {
        let options = ListImagesOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let summaries = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(api("listing images"))?;
        Ok(summaries
            .into_iter()
            .map(|summary| ImageDetails {
                id: summary.id,
                tags: summary
                    .repo_tags
                    .into_iter()
                    .filter(|tag| tag != "<none>:<none>")
                    .collect(),
                labels: summary.labels.into_iter().collect(),
                size_bytes: summary.size.max(0) as u64,
                layers: Vec::new(),
                architecture: String::new(),
            })
            .collect())
    }

    fn export_images<'a>(&'a self, references: &'a [String]) -> ByteStream<'a> {
        let names: Vec<&str> = references.iter().map(String::as_str).collect();
        let action = format!("exporting {}", references.join(", "));
        Box::pin(
            self.docker
                .export_images(&names)
                .map_err(move |source| EngineError::Api {
                    action: action.clone(),
                    source,
                }),
        )
    }

    async fn push_image(&self, reference: &str) -> Result<(), EngineError> {
        let (repository, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let options = bollard::query_parameters::PushImageOptionsBuilder::default()
            .tag(tag)
            .build();
        let mut stream = self.docker.push_image(repository, Some(options), None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(api(format!("pushing {reference}")))?;
            if let Some(error) = info.error_detail.and_then(|detail| detail.message) {
                return Err(EngineError::Api {
                    action: format!("pushing {reference}"),
                    source: bollard::errors::Error::DockerStreamError { error },
                });
            }
        }
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let host_config = HostConfig {
            network_mode: Some(match spec.network {
                Network::None => "none".to_string(),
                Network::Host => "host".to_string(),
            }),
            memory: Some(spec.memory_limit_bytes),
            // No swap beyond the memory limit: a container that eats memory is stopped, not slowed.
            memory_swap: Some(spec.memory_limit_bytes),
            pids_limit: Some(spec.pids_limit),
            // Least privilege: no capabilities, no privilege gain through set-uid files, no
            // privileged mode, no host mounts; the only writable place is a small tmpfs.
            privileged: Some(false),
            cap_drop: Some(vec!["ALL".to_string()]),
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            readonly_rootfs: Some(spec.read_only_root),
            tmpfs: spec.read_only_root.then(|| {
                HashMap::from([(
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={TMP_BYTES}"),
                )])
            }),
            binds: None,
            mounts: None,
            cpuset_cpus: spec.cpuset_cpus.clone(),
            cgroup_parent: spec.cgroup_parent.clone(),
            blkio_device_read_bps: (!spec.read_bps_limits.is_empty()).then(|| {
                spec.read_bps_limits
                    .iter()
                    .map(|(path, rate)| bollard::models::ThrottleDevice {
                        path: Some(path.clone()),
                        rate: Some(*rate as i64),
                    })
                    .collect()
            }),
            // A container that floods its output fills at most this much of the engine's disk.
            log_config: Some(bollard::models::HostConfigLogConfig {
                typ: Some("json-file".to_string()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), "4m".to_string()),
                    ("max-file".to_string(), "1".to_string()),
                ])),
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            user: spec.user.clone(),
            cmd: spec.command.clone(),
            env: Some(
                spec.env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect(),
            ),
            labels: Some(spec.labels.clone().into_iter().collect()),
            host_config: Some(host_config),
            ..Default::default()
        };
        let response = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(api(format!("creating a container from {}", spec.image)))?;
        Ok(response.id)
    }

    async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(api(format!("starting container {id}")))
    }

    async fn wait_container(&self, id: &str) -> Result<i64, EngineError> {
        let mut stream = self
            .docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(error)) => Err(api(format!("waiting for container {id}"))(error)),
            None => Err(EngineError::Api {
                action: format!("waiting for container {id}"),
                source: bollard::errors::Error::DockerStreamError {
                    error: "no wait response".to_string(),
                },
            }),
        }
    }

    async fn container_logs(&self, id: &str, cap_bytes: usize) -> Result<Logs, EngineError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(false)
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut stdout = LogTail::new(cap_bytes);
        let mut stderr = LogTail::new(cap_bytes);
        while let Some(item) = stream.next().await {
            match item.map_err(api(format!("reading logs of container {id}")))? {
                bollard::container::LogOutput::StdErr { message } => stderr.push(&message),
                bollard::container::LogOutput::StdOut { message }
                | bollard::container::LogOutput::Console { message } => stdout.push(&message),
                bollard::container::LogOutput::StdIn { .. } => {}
            }
        }
        let (stdout, stdout_cut) = stdout.finish();
        let (stderr, stderr_cut) = stderr.finish();
        Ok(Logs {
            stdout,
            stderr,
            truncated: stdout_cut || stderr_cut,
        })
    }

    fn follow_logs<'a>(&'a self, id: &'a str) -> ByteStream<'a> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .build();
        Box::pin(
            self.docker
                .logs(id, Some(options))
                .filter_map(move |item| async move {
                    match item {
                        Ok(bollard::container::LogOutput::StdIn { .. }) => None,
                        Ok(output) => Some(Ok(output.into_bytes())),
                        Err(error) => {
                            Some(Err(api(format!("following logs of container {id}"))(error)))
                        }
                    }
                }),
        )
    }

    async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            // 409: removal already in progress.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(error) => Err(api(format!("removing container {id}"))(error)),
        }
    }

    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError> {
        let details = self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(api(format!("inspecting container {id}")))?;
        Ok(details
            .state
            .and_then(|state| state.oom_killed)
            .unwrap_or(false))
    }

    async fn container_started_at(&self, id: &str) -> Result<Option<i128>, EngineError> {
        let details = self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(api(format!("inspecting container {id}")))?;
        Ok(details
            .state
            .and_then(|state| state.started_at)
            .and_then(|started| parse_rfc3339_utc(&started)))
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

    async fn list_containers(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(api("listing containers"))?;
        Ok(containers
            .into_iter()
            .filter_map(|container| container.id)
            .collect())
    }
}

/// The last `cap` bytes of a stream read in chunks (a rolling window: the start of a flood is
/// dropped, its end kept), in at most twice `cap` bytes of memory.
struct LogTail {
    cap: usize,
    bytes: Vec<u8>,
    cut: bool,
}

impl LogTail {
    fn new(cap: usize) -> LogTail {
        LogTail {
            cap,
            bytes: Vec::new(),
            cut: false,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= self.cap {
            self.cut |= chunk.len() > self.cap || !self.bytes.is_empty();
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[chunk.len() - self.cap..]);
            return;
        }
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > 2 * self.cap {
            self.drop_front();
        }
    }

    fn drop_front(&mut self) {
        if self.bytes.len() > self.cap {
            self.cut = true;
            let excess = self.bytes.len() - self.cap;
            self.bytes.drain(..excess);
        }
    }

    /// The kept bytes as text (a character cut at the front is dropped whole), and whether
    /// bytes before them were dropped.
    fn finish(mut self) -> (String, bool) {
        self.drop_front();
        let mut start = 0;
        if self.cut {
            // UTF-8 continuation bytes (10xxxxxx) of a character whose start was dropped.
            while start < self.bytes.len().min(3) && self.bytes[start] & 0xC0 == 0x80 {
                start += 1;
            }
        }
        (
            String::from_utf8_lossy(&self.bytes[start..]).into_owned(),
            self.cut,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::LogTail;

    fn tail_of(chunks: &[&[u8]], cap: usize) -> (String, bool) {
        let mut tail = LogTail::new(cap);
        for chunk in chunks {
            tail.push(chunk);
        }
        tail.finish()
    }

    #[test]
    fn the_last_bytes_are_kept_and_the_cut_is_flagged() {
        assert_eq!(tail_of(&[b"abc", b"de"], 8), ("abcde".into(), false));
        assert_eq!(tail_of(&[b"abcd", b"efgh"], 8), ("abcdefgh".into(), false));
        assert_eq!(tail_of(&[b"abcd", b"efghi"], 8), ("bcdefghi".into(), true));
        assert_eq!(tail_of(&[b"0123456789"], 4), ("6789".into(), true));
        assert_eq!(tail_of(&[b"ab", b"0123"], 4), ("0123".into(), true));
        assert_eq!(tail_of(&[b"0123"], 4), ("0123".into(), false));
        // Many small chunks: the window rolls, memory stays within twice the cap.
        let mut tail = LogTail::new(100);
        for line in 0..10_000 {
            tail.push(format!("line {line}\n").as_bytes());
            assert!(tail.bytes.len() <= 200);
        }
        let (text, cut) = tail.finish();
        assert!(cut);
        assert!(text.len() <= 100 && text.ends_with("line 9999\n"), "{text}");
    }

    #[test]
    fn a_character_cut_at_the_front_is_dropped_whole() {
        // "é" is two bytes; a cap of 4 keeps its second byte and "xyz".
        assert_eq!(tail_of(&["aé".as_bytes(), b"xyz"], 4), ("xyz".into(), true));
        assert_eq!(tail_of(&["é".as_bytes(), b"xy"], 4), ("éxy".into(), false));
    }
}
