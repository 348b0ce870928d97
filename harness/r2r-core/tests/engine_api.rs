//! An engine that answers but is not usable: a server on a unix socket that speaks the Docker
//! API as an old engine would (API 1.24, podman 3) gets one message naming the engine, what is
//! missing and what to do, from `DockerEngine::connect`, before anything is written.

use std::path::Path;

use r2r_core::engine::{DockerEngine, EngineError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers every request on `socket` as an engine of `api_version` would: `/_ping` with `OK`,
/// anything else with its version document.
async fn old_engine(socket: &Path, api_version: &'static str) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(count) => request.extend_from_slice(&buffer[..count]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let (kind, body) = if line.starts_with("GET /_ping") || line.contains("/_ping ") {
                    ("text/plain", "OK".to_string())
                } else {
                    (
                        "application/json",
                        format!(
                            r#"{{"Version":"3.0.1","ApiVersion":"{api_version}","MinAPIVersion":"1.12","Components":[{{"Name":"Podman Engine","Version":"3.0.1"}}]}}"#
                        ),
                    )
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nApi-Version: {api_version}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
}

#[tokio::test]
async fn an_engine_with_too_old_an_api_is_named_with_what_to_do() {
    let directory = tempfile::tempdir().unwrap();
    let socket = directory.path().join("old.sock");
    old_engine(&socket, "1.24").await;
    // The only test of this binary: nothing else reads DOCKER_HOST meanwhile.
    std::env::set_var("DOCKER_HOST", format!("unix://{}", socket.display()));
    let error = match DockerEngine::connect().await {
        Ok(_) => panic!("an engine of API 1.24 was accepted"),
        Err(error) => error,
    };
    let message = error.to_string();
    match &error {
        EngineError::Unusable { engine, reason, .. } => {
            assert_eq!(engine, "Podman Engine 3.0.1", "{message}");
            assert!(
                reason.contains("1.24") && reason.contains("1.41"),
                "{message}"
            );
        }
        other => panic!("expected the engine named as unusable, got: {other}"),
    }
    assert!(message.contains(&socket.display().to_string()), "{message}");
    assert!(message.contains("upgrade"), "{message}");
    // Nothing was written beside the socket.
    let entries: Vec<_> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, [std::ffi::OsString::from("old.sock")]);
}
