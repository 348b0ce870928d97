//! [`Containers`] on the Docker engine: create (least privilege, capped logs), start, wait
//! for, read the output of, list and remove containers.

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{api, is_not_found, label_filters, DockerEngine};
use crate::engine::{
    parse_rfc3339_utc, ByteStream, ContainerSpec, Containers, EngineError, Logs, Network, TMP_BYTES,
};

impl DockerEngine {
    /// The state of container `id` as the engine reports it.
    async fn container_state(
        &self,
        id: &str,
    ) -> Result<Option<bollard::models::ContainerState>, EngineError> {
        let details = self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(api(format!("inspecting container {id}")))?;
        Ok(details.state)
    }
}

#[async_trait]
impl Containers for DockerEngine {
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

    async fn oom_killed(&self, id: &str) -> Result<bool, EngineError> {
        Ok(self
            .container_state(id)
            .await?
            .and_then(|state| state.oom_killed)
            .unwrap_or(false))
    }

    async fn container_started_at(&self, id: &str) -> Result<Option<i128>, EngineError> {
        Ok(self
            .container_state(id)
            .await?
            .and_then(|state| state.started_at)
            .and_then(|started| parse_rfc3339_utc(&started)))
    }

    async fn container_pid(&self, id: &str) -> Result<Option<u32>, EngineError> {
        let pid = self
            .container_state(id)
            .await?
            .and_then(|state| state.pid)
            .filter(|pid| *pid > 0)
            .and_then(|pid| u32::try_from(pid).ok());
        // An engine on another machine, or in another PID namespace, gives a number this
        // host cannot see.
        Ok(pid.filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()))
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
