//! An engine in memory, for tests of everything above the engine: images (built, imported,
//! tagged, listed by label; an image others stand on cannot be removed, by id or by its last
//! tag — the Docker engine refuses the first and only untags for the second, the fake refuses
//! both so that the order of removals shows), containers whose exit code, output and delay are scripted per image,
//! `export_images` producing a real `docker save` archive (legacy layout) from small
//! in-memory layers, and engine loss (every call fails after a chosen point).
//!
//! It is always compiled (it has no dependencies of its own) so that the library's tests, the
//! binary's tests and anything else built on `r2r-core` can use it.
//!
//! Every call is recorded in [`FakeEngine::calls`] (`method argument`), so a test can check
//! the order of removals or of container starts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{
    BuildRequest, ByteStream, ContainerSpec, CounterScope, Engine, EngineError, EngineInfo,
    ImageDetails, Logs, ResourceCounters,
};

/// How a container of an image behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// The exit code `wait_container` returns.
    pub exit_code: i64,
    /// Standard output lines.
    pub stdout: Vec<String>,
    /// Standard error lines.
    pub stderr: Vec<String>,
    /// How long the container runs before it exits.
    pub delay: Duration,
    /// The engine stops answering when this container starts.
    pub lose_engine: bool,
    /// What [`Engine::read_counters`] reports for the container (`None`: the engine counts
    /// nothing for it, and [`Engine::prepare_counters`] returns `None`).
    pub counters: Option<super::ResourceCounters>,
}

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

#[derive(Debug, Clone)]
struct Container {
    image: String,
    labels: BTreeMap<String, String>,
    script: Script,
}

#[derive(Default)]
struct State {
    images: BTreeMap<String, Image>,
    tags: BTreeMap<String, String>,
    containers: BTreeMap<String, Container>,
    next: u64,
    failing_builds: BTreeSet<String>,
    scripts: BTreeMap<String, Script>,
    default_script: Script,
    calls: Vec<String>,
    answers_left: Option<usize>,
    starts_left: Option<usize>,
    lost: bool,
}

/// The in-memory engine. Cheap to create; share it as `&dyn Engine` or in an `Arc`.
#[derive(Default)]
pub struct FakeEngine {
    state: Mutex<State>,
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

fn not_found(action: &str, what: &str) -> EngineError {
    EngineError::Api {
        action: action.to_string(),
        source: bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: format!("No such image or container: {what}"),
        },
    }
}

fn matches(labels: &BTreeMap<String, String>, filter: &[String]) -> bool {
    filter.iter().all(|wanted| match wanted.split_once('=') {
        Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
        None => labels.contains_key(wanted.as_str()),
    })
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

impl FakeEngine {
    /// An engine with no images and no containers.
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a call; fails when the engine is lost (or is lost by this call).
    fn call(&self, text: String) -> Result<MutexGuard<'_, State>, EngineError> {
        let mut state = self.state();
        state.calls.push(text);
        if let Some(left) = state.answers_left.as_mut() {
            if *left == 0 {
                state.lost = true;
            } else {
                *left -= 1;
            }
        }
        if state.lost {
            return Err(EngineError::Unreachable {
                host: "fake://engine".into(),
                reason: "the engine stopped answering".into(),
            });
        }
        Ok(state)
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
        let mut state = self.state();
        state.images.insert(
            id.clone(),
            Image {
                id: id.clone(),
                parent: None,
                labels,
                layers: vec![layer],
                history: vec![format!("ADD {reference}")],
                architecture: "amd64".into(),
            },
        );
        state.tags.insert(reference.to_string(), id.clone());
        id
    }

    /// Makes every build of `reference` fail.
    pub fn fail_build(&self, reference: &str) {
        self.state().failing_builds.insert(reference.to_string());
    }

    /// Sets how containers of `image` (a reference as given to `create_container`) behave.
    pub fn script(&self, image: &str, script: Script) {
        self.state().scripts.insert(image.to_string(), script);
    }

    /// Sets how containers of images without their own script behave.
    pub fn default_script(&self, script: Script) {
        self.state().default_script = script;
    }

    /// The engine answers `calls` more calls, then stops answering.
    pub fn lose_after(&self, calls: usize) {
        self.state().answers_left = Some(calls);
    }

    /// The engine lets `starts` more containers start, then stops answering while the next
    /// one starts (the start itself succeeds; everything after it fails).
    pub fn lose_after_starts(&self, starts: usize) {
        self.state().starts_left = Some(starts);
    }

    /// The engine stops answering now.
    pub fn lose(&self) {
        self.state().lost = true;
    }

    /// The engine answers again (as after a restart; its images and containers are kept).
    pub fn restore(&self) {
        let mut state = self.state();
        state.lost = false;
        state.answers_left = None;
        state.starts_left = None;
    }

    /// Every call so far, in order, as `method argument` (e.g. `remove_image r2r/x:y`).
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// The tags of every image, sorted.
    pub fn references(&self) -> Vec<String> {
        self.state().tags.keys().cloned().collect()
    }

    /// Ids of the containers that exist.
    pub fn containers(&self) -> Vec<String> {
        self.state().containers.keys().cloned().collect()
    }

    fn details(state: &State, image: &Image) -> ImageDetails {
        ImageDetails {
            id: image.id.clone(),
            tags: state
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

    fn resolve(state: &State, reference: &str) -> Option<String> {
        if state.images.contains_key(reference) {
            return Some(reference.to_string());
        }
        state.tags.get(reference).cloned()
    }

    /// A `docker save` archive (legacy layout: `manifest.json`, one config and one
    /// `<dir>/layer.tar` per layer, shared layers once) of the given images.
    pub fn save(&self, references: &[String]) -> Result<Vec<u8>, EngineError> {
        let state = self.state();
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
            let id = Self::resolve(&state, reference)
                .ok_or_else(|| not_found("exporting images", reference))?;
            let image = &state.images[&id];
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
}

#[async_trait]
impl Engine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let _state = self.call("info".into())?;
        Ok(EngineInfo {
            version: "fake".into(),
            api_version: "1.41".into(),
            negotiated_api_version: "1.41".into(),
            storage_driver: "memory".into(),
            host: "fake://engine".into(),
            engine: "fake".into(),
            image_store: "memory".into(),
            cgroup_version: String::new(),
        })
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageDetails>, EngineError> {
        let state = self.call(format!("inspect_image {reference}"))?;
        Ok(Self::resolve(&state, reference).map(|id| Self::details(&state, &state.images[&id])))
    }

    async fn build_image(
        &self,
        request: BuildRequest,
        on_line: &(dyn for<'line> Fn(&'line str) + Send + Sync),
    ) -> Result<String, EngineError> {
        let parent = from_line(&request.context);
        let mut state = self.call(format!("build_image {}", request.reference))?;
        let failure = |message: String| EngineError::Build {
            reference: request.reference.clone(),
            message,
            log_tail: "Step 2/2 : RUN false".into(),
        };
        if state.failing_builds.contains(&request.reference) {
            return Err(failure(
                "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            ));
        }
        let parent = parent.ok_or_else(|| failure("the Dockerfile has no FROM line".into()))?;
        let parent_id = Self::resolve(&state, &parent)
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
        let parent_image = state.images[&parent_id].clone();
        let id = sha256(format!("{parent_id} {} {:?}", layer.diff_id, request.labels).as_bytes());
        let mut layers = parent_image.layers.clone();
        layers.push(layer);
        let mut history = parent_image.history.clone();
        history.push(format!("COPY . / # {}", request.reference));
        state.images.insert(
            id.clone(),
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
        state.tags.insert(request.reference.clone(), id.clone());
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
        drop(self.call(format!("import_rootfs {reference}"))?);
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
        let mut state = self.state();
        state.images.insert(
            id.clone(),
            Image {
                id: id.clone(),
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
        state.tags.insert(reference.to_string(), id);
        Ok(())
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        drop(self.call(format!("pull_image {reference}"))?);
        Err(EngineError::MissingImage {
            reference: reference.to_string(),
            message: "the fake engine has no registry".into(),
        })
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        let mut state = self.call(format!("tag_image {image} {reference}"))?;
        let id = Self::resolve(&state, image).ok_or_else(|| not_found("tagging", image))?;
        state.tags.insert(reference.to_string(), id);
        Ok(())
    }

    async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let mut state = self.call(format!("remove_image {reference}"))?;
        let id = Self::resolve(&state, reference)
            .ok_or_else(|| not_found("removing an image", reference))?;
        let tags: Vec<String> = state
            .tags
            .iter()
            .filter(|(_, tagged)| **tagged == id)
            .map(|(tag, _)| tag.clone())
            .collect();
        let by_tag = state.tags.contains_key(reference);
        if by_tag && tags.len() > 1 {
            state.tags.remove(reference);
            return Ok(());
        }
        if !by_tag && tags.len() > 1 {
            return Err(conflict(format!(
                "conflict: unable to delete {reference} (must be forced) - image is referenced in multiple repositories"
            )));
        }
        if state
            .images
            .values()
            .any(|image| image.parent.as_deref() == Some(id.as_str()))
        {
            return Err(conflict(format!(
                "conflict: unable to delete {reference} (cannot be forced) - image has dependent child images"
            )));
        }
        if state.containers.values().any(|c| c.image == id) {
            return Err(conflict(format!(
                "conflict: unable to remove {reference} (must force) - container is using its referenced image"
            )));
        }
        state.tags.retain(|_, tagged| *tagged != id);
        state.images.remove(&id);
        Ok(())
    }

    async fn list_images(&self, labels: &[String]) -> Result<Vec<ImageDetails>, EngineError> {
        let state = self.call(format!("list_images {}", labels.join(",")))?;
        Ok(state
            .images
            .values()
            .filter(|image| matches(&image.labels, labels))
            .map(|image| Self::details(&state, image))
            .collect())
    }

    fn export_images<'a>(&'a self, references: &'a [String]) -> ByteStream<'a> {
        let archive = self
            .call(format!("export_images {}", references.join(",")))
            .map(drop)
            .and_then(|()| self.save(references));
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
        drop(self.call(format!("push_image {reference}"))?);
        Err(not_found("pushing", reference))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut state = self.call(format!("create_container {}", spec.image))?;
        let image = Self::resolve(&state, &spec.image)
            .ok_or_else(|| not_found("creating a container", &spec.image))?;
        let script = state
            .scripts
            .get(&spec.image)
            .cloned()
            .unwrap_or_else(|| state.default_script.clone());
        state.next += 1;
        let id = format!("fake{:012}", state.next);
        state.containers.insert(
            id.clone(),
            Container {
                image,
                labels: spec.labels.clone(),
                script,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.call(format!("start_container {id}"))?;
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| not_found("starting a container", id))?;
        let mut lose = container.script.lose_engine;
        if let Some(left) = state.starts_left.as_mut() {
            if *left == 0 {
                lose = true;
            } else {
                *left -= 1;
            }
        }
        if lose {
            state.lost = true;
        }
        Ok(())
    }

    async fn wait_container(&self, id: &str) -> Result<i64, EngineError> {
        let (delay, code) = {
            let state = self.call(format!("wait_container {id}"))?;
            let container = state
                .containers
                .get(id)
                .ok_or_else(|| not_found("waiting for a container", id))?;
            (container.script.delay, container.script.exit_code)
        };
        tokio::time::sleep(delay).await;
        Ok(code)
    }

    async fn container_logs(&self, id: &str, cap_bytes: usize) -> Result<Logs, EngineError> {
        let state = self.call(format!("container_logs {id}"))?;
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| not_found("reading a container's logs", id))?;
        let join = |lines: &[String]| {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            let cut = text.len() > cap_bytes;
            let mut end = cap_bytes.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (text[..end].to_string(), cut)
        };
        let (stdout, cut_out) = join(&container.script.stdout);
        let (stderr, cut_err) = join(&container.script.stderr);
        Ok(Logs {
            stdout,
            stderr,
            truncated: cut_out || cut_err,
        })
    }

    async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.call(format!("remove_container {id}"))?;
        state
            .containers
            .remove(id)
            .map(drop)
            .ok_or_else(|| not_found("removing a container", id))
    }

    async fn list_containers(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let state = self.call(format!("list_containers {}", labels.join(",")))?;
        Ok(state
            .containers
            .iter()
            .filter(|(_, container)| matches(&container.labels, labels))
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError> {
        drop(self.call(format!("oom_killed {id}"))?);
        Ok(false)
    }

    async fn peak_memory(&self, id: &str) -> Result<Option<u64>, EngineError> {
        drop(self.call(format!("peak_memory {id}"))?);
        Ok(None)
    }

    /// Counts a container when its image's script has counters: the spec gets the parent
    /// `/r2r-KEY` (the call is recorded as `prepare_counters IMAGE KEY`).
    async fn prepare_counters(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
    ) -> Result<Option<CounterScope>, EngineError> {
        let state = self.call(format!("prepare_counters {} {key}", spec.image))?;
        let script = state
            .scripts
            .get(&spec.image)
            .unwrap_or(&state.default_script);
        if script.counters.is_none() {
            return Ok(None);
        }
        let parent = format!("/r2r-{key}");
        spec.cgroup_parent = Some(parent.clone());
        Ok(Some(CounterScope {
            cgroup_parent: parent,
            version: super::cgroup::CgroupVersion::V2,
            sample: false,
            engine_group: None,
        }))
    }

    async fn read_counters(
        &self,
        id: &str,
        scope: &CounterScope,
    ) -> Result<ResourceCounters, EngineError> {
        let state = self.call(format!("read_counters {id} {}", scope.cgroup_parent))?;
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| not_found("reading a container's counters", id))?;
        Ok(container.script.counters.unwrap_or_default())
    }

    async fn release_counters(&self, scope: &CounterScope) -> Result<(), EngineError> {
        drop(self.call(format!("release_counters {}", scope.cgroup_parent))?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn context(from: &str) -> Bytes {
        layer_tar(&[("Dockerfile", format!("FROM {from}\n").as_bytes())])
    }

    #[tokio::test]
    async fn builds_on_parents_and_refuses_to_remove_a_parent_first() {
        let engine = FakeEngine::new();
        engine.add_image("base:1", labels(&[("k", "base")]), &[("etc/os", b"x")]);
        let quiet = |_: &str| {};
        let child = engine
            .build_image(
                BuildRequest {
                    reference: "child:1".into(),
                    context: context("base:1"),
                    labels: labels(&[("k", "child")]),
                    platform: Default::default(),
                },
                &quiet,
            )
            .await
            .unwrap();
        let details = engine.inspect_image("child:1").await.unwrap().unwrap();
        assert_eq!(details.id, child);
        assert_eq!(details.layers.len(), 2);
        assert_eq!(
            engine.list_images(&["k=child".into()]).await.unwrap().len(),
            1
        );
        let error = engine.remove_image("base:1").await.unwrap_err().to_string();
        assert!(error.contains("dependent child images"), "{error}");
        engine.remove_image("child:1").await.unwrap();
        engine.remove_image("base:1").await.unwrap();
        assert!(engine.references().is_empty());
        engine.fail_build("broken:1");
        let error = engine
            .build_image(
                BuildRequest {
                    reference: "broken:1".into(),
                    context: context("base:1"),
                    labels: BTreeMap::new(),
                    platform: Default::default(),
                },
                &quiet,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, EngineError::Build { .. }));
    }

    #[tokio::test]
    async fn exports_an_archive_the_size_analysis_reads() {
        let engine = FakeEngine::new();
        engine.add_image("base:1", BTreeMap::new(), &[("etc/os", b"debian")]);
        let quiet = |_: &str| {};
        engine
            .build_image(
                BuildRequest {
                    reference: "app:1".into(),
                    context: context("base:1"),
                    labels: BTreeMap::new(),
                    platform: Default::default(),
                },
                &quiet,
            )
            .await
            .unwrap();
        let references = vec!["base:1".to_string(), "app:1".to_string()];
        let images = crate::inspect::archive::parse_export(&engine, &references, |reader| {
            crate::measure::sizes::analyze_reader(reader)
        })
        .await
        .unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[1].analysis.layers.len(), 2);
        // The shared bottom layer is the same layer in both images.
        assert_eq!(
            images[0].analysis.layers[0].figures.diff_id,
            images[1].analysis.layers[0].figures.diff_id
        );
    }

    #[tokio::test]
    async fn scripted_containers_and_engine_loss() {
        let engine = FakeEngine::new();
        engine.add_image("app:1", BTreeMap::new(), &[("app/x", b"1")]);
        engine.script(
            "app:1",
            Script {
                exit_code: 3,
                stdout: vec!["hello".into()],
                ..Default::default()
            },
        );
        let spec = ContainerSpec {
            image: "app:1".into(),
            entrypoint: None,
            command: None,
            env: BTreeMap::new(),
            network: crate::engine::Network::None,
            labels: labels(&[("r2r.scenario", "t")]),
            memory_limit_bytes: 0,
            pids_limit: 0,
            user: None,
            read_only_root: true,
            cpuset_cpus: None,
            cgroup_parent: None,
            read_bps_limits: Vec::new(),
        };
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        assert_eq!(engine.wait_container(&id).await.unwrap(), 3);
        assert_eq!(
            engine.container_logs(&id, 100).await.unwrap().stdout,
            "hello\n"
        );
        assert_eq!(
            engine
                .list_containers(&["r2r.scenario=t".into()])
                .await
                .unwrap(),
            vec![id.clone()]
        );
        engine.lose_after(1);
        assert!(engine.info().await.is_ok());
        assert!(matches!(
            engine.info().await,
            Err(EngineError::Unreachable { .. })
        ));
        assert!(engine.remove_container(&id).await.is_err());
        engine.restore();
        engine.remove_container(&id).await.unwrap();
        assert!(engine.containers().is_empty());
    }
}
