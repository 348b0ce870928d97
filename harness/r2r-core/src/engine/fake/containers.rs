//! [`Containers`] in memory: containers of the fake's images whose exit code, output and delay
//! are scripted per image, one of which may take the engine down as it starts.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::{matches, not_found, Shared};
use crate::engine::{ContainerSpec, Containers, EngineError, Logs, ResourceCounters};

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
    /// What [`crate::engine::Counters::read_counters`] reports for the container (`None`: the
    /// engine counts nothing for it, and [`crate::engine::Counters::prepare_counters`] returns
    /// `None`).
    pub counters: Option<ResourceCounters>,
}

#[derive(Debug, Clone)]
pub(super) struct Container {
    image: String,
    labels: BTreeMap<String, String>,
    /// How it behaves.
    pub(super) script: Script,
}

/// The containers of a fake engine, and how they behave.
#[derive(Debug, Default)]
pub(super) struct Store {
    containers: BTreeMap<String, Container>,
    next: u64,
    scripts: BTreeMap<String, Script>,
    default_script: Script,
}

impl Store {
    /// Whether a container uses the image `id`.
    pub(super) fn uses(&self, id: &str) -> bool {
        self.containers.values().any(|c| c.image == id)
    }

    /// How containers of `image` (a reference as given to `create_container`) behave.
    pub(super) fn script(&self, image: &str) -> &Script {
        self.scripts.get(image).unwrap_or(&self.default_script)
    }

    /// The container `id`.
    pub(super) fn get(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }
}

/// The containers of a fake engine: part of a [`super::FakeEngine`], whose images they run.
#[derive(Clone)]
pub struct FakeContainers {
    shared: Shared,
}

impl FakeContainers {
    /// The containers part of the engine `shared`.
    pub(super) fn on(shared: Shared) -> FakeContainers {
        FakeContainers { shared }
    }

    /// Sets how containers of `image` (a reference as given to `create_container`) behave.
    pub fn script(&self, image: &str, script: Script) {
        self.shared
            .state()
            .containers
            .scripts
            .insert(image.to_string(), script);
    }

    /// Sets how containers of images without their own script behave.
    pub fn default_script(&self, script: Script) {
        self.shared.state().containers.default_script = script;
    }

    /// Ids of the containers that exist.
    pub fn containers(&self) -> Vec<String> {
        self.shared
            .state()
            .containers
            .containers
            .keys()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Containers for FakeContainers {
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut state = self
            .shared
            .call(format!("create_container {}", spec.image))?;
        let image = state
            .images
            .resolve(&spec.image)
            .ok_or_else(|| not_found("creating a container", &spec.image))?;
        let store = &mut state.containers;
        let script = store.script(&spec.image).clone();
        store.next += 1;
        let id = format!("fake{:012}", store.next);
        store.containers.insert(
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
        let mut state = self.shared.call(format!("start_container {id}"))?;
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
            let state = self.shared.call(format!("wait_container {id}"))?;
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
        let state = self.shared.call(format!("container_logs {id}"))?;
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
        let mut state = self.shared.call(format!("remove_container {id}"))?;
        state
            .containers
            .containers
            .remove(id)
            .map(drop)
            .ok_or_else(|| not_found("removing a container", id))
    }

    async fn list_containers(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let state = self
            .shared
            .call(format!("list_containers {}", labels.join(",")))?;
        Ok(state
            .containers
            .containers
            .iter()
            .filter(|(_, container)| matches(&container.labels, labels))
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError> {
        drop(self.shared.call(format!("oom_killed {id}"))?);
        Ok(false)
    }
}
