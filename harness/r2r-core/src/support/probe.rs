//! A minimal HTTP/1.1 client for readiness probes on the loopback interface.
//!
//! Probes go to 127.0.0.1 only: containers run with host networking and bind the loopback
//! address, so nothing ever reaches a container bridge address.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A probe's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body (capped at 1 MiB).
    pub body: String,
}

/// Sends one `GET path` to `127.0.0.1:port` and reads the whole response.
pub async fn get(port: u16, path: &str, timeout: Duration) -> std::io::Result<HttpResponse> {
    request(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        path,
        &[],
        timeout,
    )
    .await
}

/// Sends one `GET path` with extra headers to a loopback address and reads the whole
/// response. Any other address is refused.
pub async fn request(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<HttpResponse> {
    if !address.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{address} is not a loopback address"),
        ));
    }
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(1 << 20).read_to_end(&mut raw).await?;
        parse_response(&raw)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let status_line = text.lines().next().ok_or_else(invalid)?;
    let mut parts = status_line.split_whitespace();
    if !parts
        .next()
        .is_some_and(|version| version.starts_with("HTTP/1."))
    {
        return Err(invalid());
    }
    let status = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(HttpResponse { status, body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Sleeps `duration`, precisely: below 2 ms on a blocking thread (`nanosleep` overshoots by
/// tens of microseconds), where tokio's millisecond timer would round up to the next tick and
/// beyond (a 2 ms sleep takes 2-3 ms); longer pauses on tokio's timer.
pub async fn pause(duration: Duration) {
    let precise = duration < Duration::from_millis(2)
        && tokio::task::spawn_blocking(move || std::thread::sleep(duration))
            .await
            .is_ok();
    if !precise {
        tokio::time::sleep(duration).await;
    }
}

/// Polls `GET path` until it answers 200 or `timeout` passes; returns the answer and the
/// time it took. Between attempts it pauses `interval` (see [`pause`]): a refused connect on
/// the loopback interface returns at once, so the answer is seen within about `interval` of
/// the server listening.
pub async fn wait_for_ok(
    port: u16,
    path: &str,
    timeout: Duration,
    interval: Duration,
) -> Option<(HttpResponse, Duration)> {
    wait_for_status(port, path, 200, timeout, interval).await
}

/// Polls `GET path` until it answers `status` (see [`wait_for_ok`]).
pub async fn wait_for_status(
    port: u16,
    path: &str,
    status: u16,
    timeout: Duration,
    interval: Duration,
) -> Option<(HttpResponse, Duration)> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(response) = get(port, path, Duration::from_secs(2)).await {
            if response.status == status {
                return Some((response, started.elapsed()));
            }
        }
        pause(interval).await;
    }
    None
}

/// A free TCP port on 127.0.0.1 (bound and released; a race with other processes is possible
/// and shows up as the app failing to bind).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]").unwrap();
        assert_eq!(
            plain,
            HttpResponse {
                status: 200,
                body: "[]".into()
            }
        );
        let chunked = parse_response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(
            chunked,
            HttpResponse {
                status: 404,
                body: "abcde".into()
            }
        );
        assert!(parse_response(b"SSH-2.0-x\r\n").is_err());
    }

    #[tokio::test]
    async fn probes_a_real_loopback_server() {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in [
                "HTTP/1.1 503 Busy\r\n\r\n",
                "HTTP/1.1 200 OK\r\n\r\n{\"ok\":true}",
            ] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let (response, _) =
            wait_for_ok(port, "/", Duration::from_secs(5), Duration::from_millis(10))
                .await
                .unwrap();
        assert_eq!(response.body, "{\"ok\":true}");
        assert!(wait_for_ok(
            free_port().unwrap(),
            "/",
            Duration::from_millis(100),
            Duration::from_millis(10)
        )
        .await
        .is_none());
    }
}
