//! [`Images`] on the Docker engine: build, import (or load), pull, inspect, list, tag,
//! export, push and remove images.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};

use super::{api, is_not_found, label_filters, DockerEngine};
use crate::engine::{BuildRequest, ByteStream, EngineError, ImageDetails, Images};

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
impl Images for DockerEngine {
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

    async fn pull_image_progress(
        &self,
        reference: &str,
        on_progress: &(dyn for<'a> Fn(&'a str, &'a str) + Send + Sync),
    ) -> Result<(), EngineError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(reference)
            .build();
        let failed = |message: String| EngineError::MissingImage {
            reference: reference.to_string(),
            message,
        };
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| failed(error.to_string()))?;
            if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
                return Err(failed(message));
            }
            if let Some(status) = info.status.as_deref() {
                on_progress(info.id.as_deref().unwrap_or_default(), status);
            }
        }
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
}
