//! [`Images`] in memory: images built on their parents (one small layer each), imported,
//! tagged, listed by label, exported as a real `docker save` archive, and removed in the order
//! an engine allows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{matches, not_found, Shared, State};
use crate::engine::{BuildRequest, ByteStream, EngineError, ImageDetails, Images};

#[derive(Debug, Clone)]
struct Layer {
    diff_id: String,
    tar: Bytes,
}

#[derive(Debug, Clone)]
struct Image {
    id: String,
    parent: Option<String>,
    labels: BTreeMap<String, String>,
    layers: Vec<Layer>,
    history: Vec<String>,
    architecture: String,
}

/// The images of a fake engine.
#[derive(Debug, Default)]
pub(super) struct Store {
    images: BTreeMap<String, Image>,
    tags: BTreeMap<String, String>,
    failing_builds: BTreeSet<String>,
}

impl Store {
    /// The id of an image given by id or tag.
    pub(super) fn resolve(&self, reference: &str) -> Option<String> {
        if self.images.contains_key(reference) {
            return Some(reference.to_string());
        }
        self.tags.get(reference).cloned()
    }

    fn details(&self, image: &Image) -> ImageDetails {
        ImageDetails {
            id: image.id.clone(),
            tags: self
                .tags
                .iter()
                .filter(|(_, id)| **id == image.id)
                .map(|(tag, _)| tag.clone())
                .collect(),
            labels: image.labels.clone(),
            size_bytes: image.layers.iter().map(|l| l.tar.len() as u64).sum(),
            layers: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
            architecture: image.architecture.clone(),
        }
    }

    fn insert(&mut self, reference: &str, image: Image) {
        self.tags.insert(reference.to_string(), image.id.clone());
        self.images.insert(image.id.clone(), image);
    }
}

/// A small layer tar holding `files` (path, content), every entry a regular file.
pub fn layer_tar(files: &[(&str, &[u8])]) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, *content)
            .expect("writing to memory does not fail");
    }
    Bytes::from(
        builder
            .into_inner()
            .expect("writing to memory does not fail"),
    )
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn conflict(message: String) -> EngineError {
    EngineError::Api {
        action: "removing an image".into(),
        source: bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        },
    }
}

/// The `FROM` reference of the Dockerfile at the root of a build context.
fn from_line(context: &[u8]) -> Option<String> {
    let mut archive = tar::Archive::new(context);
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        if entry.path().ok()?.to_string_lossy() != "Dockerfile" {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).ok()?;
        return text.lines().find_map(|line| {
            line.trim()
                .strip_prefix("FROM ")
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        });
    }
    None
}

/// The images of a fake engine, alone or as part of a [`super::FakeEngine`].
#[derive(Clone, Default)]
pub struct FakeImages {
    shared: Shared,
}

impl FakeImages {
    /// An engine's images part with no images, on an engine of its own.
    pub fn new() -> FakeImages {
        FakeImages::default()
    }

    /// The images part of the engine `shared`.
    pub(super) fn on(shared: Shared) -> FakeImages {
        FakeImages { shared }
    }

    /// Adds an image directly (as a base would be): one layer holding `files`, tagged
    /// `reference`, with `labels`. Returns its id.
    pub fn add_image(
        &self,
        reference: &str,
        labels: BTreeMap<String, String>,
        files: &[(&str, &[u8])],
    ) -> String {
        let tar = layer_tar(files);
        let layer = Layer {
            diff_id: sha256(&tar),
            tar,
        };
        let id = sha256(format!("{reference} {} {labels:?}", layer.diff_id).as_bytes());
        self.shared.state().images.insert(
            reference,
            Image {
                id: id.clone(),
                parent: None,
                labels,
                layers: vec![layer],
                history: vec![format!("ADD {reference}")],
                architecture: "amd64".into(),
            },
        );
        id
    }

    /// Makes every build of `reference` fail.
    pub fn fail_build(&self, reference: &str) {
        self.shared
            .state()
            .images
            .failing_builds
            .insert(reference.to_string());
    }

    /// The tags of every image, sorted.
    pub fn references(&self) -> Vec<String> {
        self.shared.state().images.tags.keys().cloned().collect()
    }

    /// A `docker save` archive (legacy layout: `manifest.json`, one config and one
    /// `<dir>/layer.tar` per layer, shared layers once) of the given images.
    pub fn save(&self, references: &[String]) -> Result<Vec<u8>, EngineError> {
        save(&self.shared.state(), references)
    }
}

fn save(state: &State, references: &[String]) -> Result<Vec<u8>, EngineError> {
    let store = &state.images;
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder
            .append_data(&mut header, name, bytes)
            .map_err(|source| EngineError::Io {
                action: format!("writing {name} of an archive"),
                source,
            })
    };
    let mut written = BTreeSet::new();
    let mut manifest = Vec::new();
    for reference in references {
        let id = store
            .resolve(reference)
            .ok_or_else(|| not_found("exporting images", reference))?;
        let image = &store.images[&id];
        let mut layer_names = Vec::new();
        for layer in &image.layers {
            let directory = layer.diff_id.trim_start_matches("sha256:");
            let name = format!("{directory}/layer.tar");
            if written.insert(name.clone()) {
                add(&name, &layer.tar)?;
            }
            layer_names.push(name);
        }
        let config = serde_json::json!({
            "rootfs": {
                "type": "layers",
                "diff_ids": image.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "config": { "Labels": image.labels },
            "history": image.history.iter().map(|h| serde_json::json!({ "created_by": h })).collect::<Vec<_>>(),
        })
        .to_string();
        let config_name = format!("{}.json", id.trim_start_matches("sha256:"));
        if written.insert(config_name.clone()) {
            add(&config_name, config.as_bytes())?;
        }
        manifest.push(serde_json::json!({
            "Config": config_name,
            "RepoTags": [reference],
            "Layers": layer_names,
        }));
    }
    add(
        "manifest.json",
        serde_json::Value::Array(manifest).to_string().as_bytes(),
    )?;
    builder.into_inner().map_err(|source| EngineError::Io {
        action: "finishing an archive".into(),
        source,
    })
}

#[async_trait]
impl Images for FakeImages {
    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageDetails>, EngineError> {
        let state = self.shared.call(format!("inspect_image {reference}"))?;
        let store = &state.images;
        Ok(store
            .resolve(reference)
            .map(|id| store.details(&store.images[&id])))
    }

    async fn build_image(
        &self,
        request: BuildRequest,
        on_line: &(dyn for<'line> Fn(&'line str) + Send + Sync),
    ) -> Result<String, EngineError> {
        let parent = from_line(&request.context);
        let mut state = self
            .shared
            .call(format!("build_image {}", request.reference))?;
        let store = &mut state.images;
        let failure = |message: String| EngineError::Build {
            reference: request.reference.clone(),
            message,
            log_tail: "Step 2/2 : RUN false".into(),
        };
        if store.failing_builds.contains(&request.reference) {
            return Err(failure(
                "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            ));
        }
        let parent = parent.ok_or_else(|| failure("the Dockerfile has no FROM line".into()))?;
        let parent_id = store
            .resolve(&parent)
            .ok_or_else(|| failure(format!("pull access denied for {parent}")))?;
        on_line(&format!("Step 1/2 : FROM {parent}"));
        let tar = layer_tar(&[(
            &format!("fake/{}", request.reference.replace([':', '/'], "-")),
            &Sha256::digest(&request.context)[..],
        )]);
        let layer = Layer {
            diff_id: sha256(&tar),
            tar,
        };
        let parent_image = store.images[&parent_id].clone();
        let id = sha256(format!("{parent_id} {} {:?}", layer.diff_id, request.labels).as_bytes());
        let mut layers = parent_image.layers.clone();
        layers.push(layer);
        let mut history = parent_image.history.clone();
        history.push(format!("COPY . / # {}", request.reference));
        store.insert(
            &request.reference,
            Image {
                id: id.clone(),
                parent: Some(parent_id),
                labels: request.labels.clone(),
                layers,
                history,
                // As the engine's builder does: the architecture of the parent.
                architecture: parent_image.architecture.clone(),
            },
        );
        on_line(&format!("Successfully built {id}"));
        Ok(id)
    }

    async fn import_rootfs(
        &self,
        tarball: &Path,
        reference: &str,
        changes: &[String],
        platform: crate::model::platform::Platform,
    ) -> Result<(), EngineError> {
        drop(self.shared.call(format!("import_rootfs {reference}"))?);
        let bytes = std::fs::read(tarball).map_err(|source| EngineError::Io {
            action: format!("reading {}", tarball.display()),
            source,
        })?;
        let labels = changes
            .iter()
            .filter_map(|change| change.strip_prefix("LABEL "))
            .filter_map(|label| label.split_once('='))
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let diff_id = sha256(&bytes);
        let id = sha256(format!("{reference} {diff_id}").as_bytes());
        self.shared.state().images.insert(
            reference,
            Image {
                id,
                parent: None,
                labels,
                layers: vec![Layer {
                    diff_id,
                    tar: Bytes::from(bytes),
                }],
                history: vec!["import".into()],
                architecture: platform.architecture().to_string(),
            },
        );
        Ok(())
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        drop(self.shared.call(format!("pull_image {reference}"))?);
        Err(EngineError::MissingImage {
            reference: reference.to_string(),
            message: "the fake engine has no registry".into(),
        })
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        let mut state = self.shared.call(format!("tag_image {image} {reference}"))?;
        let store = &mut state.images;
        let id = store
            .resolve(image)
            .ok_or_else(|| not_found("tagging", image))?;
        store.tags.insert(reference.to_string(), id);
        Ok(())
    }

    async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let mut state = self.shared.call(format!("remove_image {reference}"))?;
        let id = state
            .images
            .resolve(reference)
            .ok_or_else(|| not_found("removing an image", reference))?;
        let in_use = state.containers.uses(&id);
        let store = &mut state.images;
        let tags: Vec<String> = store
            .tags
            .iter()
            .filter(|(_, tagged)| **tagged == id)
            .map(|(tag, _)| tag.clone())
            .collect();
        let by_tag = store.tags.contains_key(reference);
        if by_tag && tags.len() > 1 {
            store.tags.remove(reference);
            return Ok(());
        }
        if !by_tag && tags.len() > 1 {
            return Err(conflict(format!(
                "conflict: unable to delete {reference} (must be forced) - image is referenced in multiple repositories"
            )));
        }
        if store
            .images
            .values()
            .any(|image| image.parent.as_deref() == Some(id.as_str()))
        {
            return Err(conflict(format!(
                "conflict: unable to delete {reference} (cannot be forced) - image has dependent child images"
            )));
        }
        if in_use {
            return Err(conflict(format!(
                "conflict: unable to remove {reference} (must force) - container is using its referenced image"
            )));
        }
        store.tags.retain(|_, tagged| *tagged != id);
        store.images.remove(&id);
        Ok(())
    }

    async fn list_images(&self, labels: &[String]) -> Result<Vec<ImageDetails>, EngineError> {
        let state = self
            .shared
            .call(format!("list_images {}", labels.join(",")))?;
        let store = &state.images;
        Ok(store
            .images
            .values()
            .filter(|image| matches(&image.labels, labels))
            .map(|image| store.details(image))
            .collect())
    }

    fn export_images<'a>(&'a self, references: &'a [String]) -> ByteStream<'a> {
        let archive = self
            .shared
            .call(format!("export_images {}", references.join(",")))
            .and_then(|state| save(&state, references));
        let chunks: Vec<Result<Bytes, EngineError>> = match archive {
            Ok(bytes) => bytes
                .chunks(64 * 1024)
                .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
                .collect(),
            Err(error) => vec![Err(error)],
        };
        Box::pin(futures_util::stream::iter(chunks))
    }

    async fn push_image(&self, reference: &str) -> Result<(), EngineError> {
        drop(self.shared.call(format!("push_image {reference}"))?);
        Err(not_found("pushing", reference))
    }
}
