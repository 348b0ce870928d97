//! An engine in memory, for tests of everything above the engine, in one part per trait of
//! [`crate::engine::Engine`] over one shared memory:
//! - [`FakeImages`]: images (built, imported, tagged, listed by label; an image others stand
//!   on cannot be removed, by id or by its last tag — the Docker engine refuses the first and
//!   only untags for the second, the fake refuses both so that the order of removals shows),
//!   `export_images` producing a real `docker save` archive (legacy layout) from small
//!   in-memory layers;
//! - [`FakeContainers`]: containers whose exit code, output and delay are scripted per image;
//! - [`FakeCounters`]: the engine's facts, and the counters scripted per image;
//!
//! and engine loss (every call fails after a chosen point). [`FakeEngine`] is all three: a test
//! sets it up and hands a stage the whole engine, or only the part the stage takes
//! ([`FakeEngine::as_images`], [`FakeEngine::as_containers`], [`FakeEngine::as_counters`]).
//!
//! It is always compiled (it has no dependencies of its own) so that the library's tests, the
//! binary's tests and anything else built on `r2r-core` can use it.
//!
//! Every call is recorded in [`FakeEngine::calls`] (`method argument`), so a test can check
//! the order of removals or of container starts.

mod containers;
mod counters;
mod images;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    BuildRequest, ByteStream, ContainerSpec, Containers, CounterScope, Counters, EngineError,
    EngineInfo, ImageDetails, Images, Logs, ResourceCounters,
};

pub use containers::{FakeContainers, Script};
pub use counters::FakeCounters;
pub use images::{layer_tar, FakeImages};

/// Everything a fake engine holds: its images, its containers, the calls it answered and
/// whether it still answers.
#[derive(Default)]
struct State {
    images: images::Store,
    containers: containers::Store,
    calls: Vec<String>,
    answers_left: Option<usize>,
    starts_left: Option<usize>,
    lost: bool,
}

/// One fake engine's memory, shared by its parts.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<State>>);

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0
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

/// Whether `labels` carry every label of `filter` (`key=value`, or `key` for any value).
fn matches(labels: &BTreeMap<String, String>, filter: &[String]) -> bool {
    filter.iter().all(|wanted| match wanted.split_once('=') {
        Some((key, value)) => labels.get(key).map(String::as_str) == Some(value),
        None => labels.contains_key(wanted.as_str()),
    })
}

/// The in-memory engine: its three parts over one memory. Cheap to create; share it as
/// `&dyn Engine` or in an `Arc`.
pub struct FakeEngine {
    shared: Shared,
    images: FakeImages,
    containers: FakeContainers,
    counters: FakeCounters,
}

impl Default for FakeEngine {
    fn default() -> FakeEngine {
        let shared = Shared::default();
        FakeEngine {
            images: FakeImages::on(shared.clone()),
            containers: FakeContainers::on(shared.clone()),
            counters: FakeCounters::on(shared.clone()),
            shared,
        }
    }
}

impl FakeEngine {
    /// An engine with no images and no containers.
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    /// Its images, for a stage that takes only [`Images`].
    pub fn as_images(&self) -> &FakeImages {
        &self.images
    }

    /// Its containers, for a stage that takes only [`Containers`].
    pub fn as_containers(&self) -> &FakeContainers {
        &self.containers
    }

    /// Its facts and counters, for a stage that takes only [`Counters`].
    pub fn as_counters(&self) -> &FakeCounters {
        &self.counters
    }

    /// Adds an image directly (as a base would be): one layer holding `files`, tagged
    /// `reference`, with `labels`. Returns its id.
    pub fn add_image(
        &self,
        reference: &str,
        labels: BTreeMap<String, String>,
        files: &[(&str, &[u8])],
    ) -> String {
        self.images.add_image(reference, labels, files)
    }

    /// Makes every build of `reference` fail.
    pub fn fail_build(&self, reference: &str) {
        self.images.fail_build(reference);
    }

    /// Sets how containers of `image` (a reference as given to `create_container`) behave.
    pub fn script(&self, image: &str, script: Script) {
        self.containers.script(image, script);
    }

    /// Sets how containers of images without their own script behave.
    pub fn default_script(&self, script: Script) {
        self.containers.default_script(script);
    }

    /// The engine answers `calls` more calls, then stops answering.
    pub fn lose_after(&self, calls: usize) {
        self.shared.state().answers_left = Some(calls);
    }

    /// The engine lets `starts` more containers start, then stops answering while the next
    /// one starts (the start itself succeeds; everything after it fails).
    pub fn lose_after_starts(&self, starts: usize) {
        self.shared.state().starts_left = Some(starts);
    }

    /// The engine stops answering now.
    pub fn lose(&self) {
        self.shared.state().lost = true;
    }

    /// The engine answers again (as after a restart; its images and containers are kept).
    pub fn restore(&self) {
        let mut state = self.shared.state();
        state.lost = false;
        state.answers_left = None;
        state.starts_left = None;
    }

    /// Every call so far, in order, as `method argument` (e.g. `remove_image r2r/x:y`).
    pub fn calls(&self) -> Vec<String> {
        self.shared.state().calls.clone()
    }

    /// The tags of every image, sorted.
    pub fn references(&self) -> Vec<String> {
        self.images.references()
    }

    /// Ids of the containers that exist.
    pub fn containers(&self) -> Vec<String> {
        self.containers.containers()
    }

    /// A `docker save` archive (legacy layout: `manifest.json`, one config and one
    /// `<dir>/layer.tar` per layer, shared layers once) of the given images.
    pub fn save(&self, references: &[String]) -> Result<Vec<u8>, EngineError> {
        self.images.save(references)
    }
}

/// A test calls a `FakeEngine` as a stage sees it, as the `dyn Engine` it is: every method of
/// the engine's parts with only [`crate::engine::Engine`] in scope.
impl std::ops::Deref for FakeEngine {
    type Target = dyn super::Engine;

    fn deref(&self) -> &(dyn super::Engine + 'static) {
        self
    }
}

#[async_trait]
impl Images for FakeEngine {
    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageDetails>, EngineError> {
        self.images.inspect_image(reference).await
    }

    async fn build_image(
        &self,
        request: BuildRequest,
        on_line: &(dyn for<'line> Fn(&'line str) + Send + Sync),
    ) -> Result<String, EngineError> {
        self.images.build_image(request, on_line).await
    }

    async fn import_rootfs(
        &self,
        tarball: &Path,
        reference: &str,
        changes: &[String],
        platform: crate::model::platform::Platform,
    ) -> Result<(), EngineError> {
        self.images
            .import_rootfs(tarball, reference, changes, platform)
            .await
    }

    async fn pull_image(&self, reference: &str) -> Result<(), EngineError> {
        self.images.pull_image(reference).await
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        self.images.tag_image(image, reference).await
    }

    async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        self.images.remove_image(reference).await
    }

    async fn list_images(&self, labels: &[String]) -> Result<Vec<ImageDetails>, EngineError> {
        self.images.list_images(labels).await
    }

    fn export_images<'a>(&'a self, references: &'a [String]) -> ByteStream<'a> {
        self.images.export_images(references)
    }

    async fn push_image(&self, reference: &str) -> Result<(), EngineError> {
        self.images.push_image(reference).await
    }
}

#[async_trait]
impl Containers for FakeEngine {
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.containers.create_container(spec).await
    }

    async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        self.containers.start_container(id).await
    }

    async fn wait_container(&self, id: &str) -> Result<i64, EngineError> {
        self.containers.wait_container(id).await
    }

    async fn container_logs(&self, id: &str, cap_bytes: usize) -> Result<Logs, EngineError> {
        self.containers.container_logs(id, cap_bytes).await
    }

    fn follow_logs<'a>(&'a self, id: &'a str) -> ByteStream<'a> {
        self.containers.follow_logs(id)
    }

    async fn remove_container(&self, id: &str) -> Result<(), EngineError> {
        self.containers.remove_container(id).await
    }

    async fn list_containers(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        self.containers.list_containers(labels).await
    }

    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError> {
        self.containers.oom_killed(id).await
    }

    async fn container_started_at(&self, id: &str) -> Result<Option<i128>, EngineError> {
        self.containers.container_started_at(id).await
    }
}

#[async_trait]
impl Counters for FakeEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        self.counters.info().await
    }

    async fn peak_memory(&self, id: &str) -> Result<Option<u64>, EngineError> {
        self.counters.peak_memory(id).await
    }

    async fn prepare_counters(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
    ) -> Result<Option<CounterScope>, EngineError> {
        self.counters.prepare_counters(spec, key).await
    }

    async fn read_counters(
        &self,
        id: &str,
        scope: &CounterScope,
    ) -> Result<ResourceCounters, EngineError> {
        self.counters.read_counters(id, scope).await
    }

    async fn release_counters(&self, scope: &CounterScope) -> Result<(), EngineError> {
        self.counters.release_counters(scope).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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
        // The images part alone: exporting needs nothing else.
        let engine = FakeImages::new();
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
    async fn the_parts_of_an_engine_share_its_images_containers_and_calls() {
        let engine = FakeEngine::new();
        engine.add_image("app:1", BTreeMap::new(), &[("app/x", b"1")]);
        let spec = ContainerSpec {
            image: "app:1".into(),
            entrypoint: None,
            command: None,
            env: BTreeMap::new(),
            network: crate::engine::Network::None,
            labels: BTreeMap::new(),
            memory_limit_bytes: 0,
            pids_limit: 0,
            user: None,
            read_only_root: true,
            cpuset_cpus: None,
            cgroup_parent: None,
            read_bps_limits: Vec::new(),
        };
        let containers: &dyn Containers = engine.as_containers();
        let id = containers.create_container(&spec).await.unwrap();
        let images: &dyn Images = engine.as_images();
        let error = images.remove_image("app:1").await.unwrap_err().to_string();
        assert!(error.contains("container is using"), "{error}");
        let counters: &dyn Counters = engine.as_counters();
        counters.info().await.unwrap();
        assert_eq!(
            engine.calls(),
            [
                "create_container app:1".to_string(),
                "remove_image app:1".to_string(),
                "info".to_string()
            ]
        );
        assert_eq!(engine.containers(), [id]);
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
