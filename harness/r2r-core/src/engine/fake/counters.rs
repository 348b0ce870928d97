//! [`Counters`] in memory: a fake engine's facts, and the counters its containers' scripts
//! give them.

use async_trait::async_trait;

use super::{not_found, Shared};
use crate::engine::cgroup::CgroupVersion;
use crate::engine::{
    ContainerSpec, CounterScope, Counters, EngineError, EngineInfo, ResourceCounters,
};

/// The engine facts and counters of a fake engine: part of a [`super::FakeEngine`], whose
/// containers they count.
#[derive(Clone)]
pub struct FakeCounters {
    shared: Shared,
}

impl FakeCounters {
    /// The counters part of the engine `shared`.
    pub(super) fn on(shared: Shared) -> FakeCounters {
        FakeCounters { shared }
    }
}

#[async_trait]
impl Counters for FakeCounters {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        drop(self.shared.call("info".into())?);
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

    async fn peak_memory(&self, id: &str) -> Result<Option<u64>, EngineError> {
        drop(self.shared.call(format!("peak_memory {id}"))?);
        Ok(None)
    }

    /// Counts a container when its image's script has counters: the spec gets the parent
    /// `/r2r-KEY` (the call is recorded as `prepare_counters IMAGE KEY`).
    async fn prepare_counters(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
    ) -> Result<Option<CounterScope>, EngineError> {
        let state = self
            .shared
            .call(format!("prepare_counters {} {key}", spec.image))?;
        if state.containers.script(&spec.image).counters.is_none() {
            return Ok(None);
        }
        let parent = format!("/r2r-{key}");
        spec.cgroup_parent = Some(parent.clone());
        Ok(Some(CounterScope {
            cgroup_parent: parent,
            version: CgroupVersion::V2,
            sample: false,
            engine_group: None,
        }))
    }

    async fn read_counters(
        &self,
        id: &str,
        scope: &CounterScope,
    ) -> Result<ResourceCounters, EngineError> {
        let state = self
            .shared
            .call(format!("read_counters {id} {}", scope.cgroup_parent))?;
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| not_found("reading a container's counters", id))?;
        Ok(container.script.counters.unwrap_or_default())
    }

    async fn release_counters(&self, scope: &CounterScope) -> Result<(), EngineError> {
        drop(
            self.shared
                .call(format!("release_counters {}", scope.cgroup_parent))?,
        );
        Ok(())
    }
}
