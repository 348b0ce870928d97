//! A TCP proxy on 127.0.0.1 whose answers (upstream to client) share one byte rate: the
//! link of a node that pulls images, whatever number of connections the pull opens. Requests
//! (client to upstream) pass unlimited. It runs as tasks of this process and stops when its
//! [`Throttle`] is dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Most bytes sent in one piece.
const CHUNK: usize = 16 * 1024;

/// The bucket's depth in time at the rate. A wait is slept on tokio's timer, which wakes a
/// millisecond late or more; a bucket shallower than the bytes of such a wait would lose what
/// accrues during it, and cap the rate below the limit at high rates (at 1 Gbit/s, 64 KiB is
/// half a millisecond). 10 ms of the rate refills across any late wake-up, and bounds a burst
/// to 10 ms of data.
const DEPTH: Duration = Duration::from_millis(10);

/// The smallest depth, bytes: a few pieces, at low rates.
const MIN_DEPTH: usize = 4 * CHUNK;

/// A token bucket: `rate` bytes per second, at most `depth` bytes ahead.
struct Bucket {
    rate: f64,
    depth: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// How long to wait before `bytes` may be sent (zero: now); takes them.
    fn take(&mut self, bytes: usize) -> Duration {
        self.take_at(bytes, Instant::now())
    }

    /// [`Bucket::take`] at `now`.
    fn take_at(&mut self, bytes: usize, now: Instant) -> Duration {
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.depth);
        self.at = now;
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// A running proxy: connect to [`Throttle::address`] to reach the upstream at the rate.
pub struct Throttle {
    /// Where it listens (127.0.0.1, a free port).
    pub address: SocketAddr,
    /// The rate of the answers, bytes per second.
    pub bytes_per_second: f64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Throttle {
    /// Starts a proxy to `upstream` (a loopback address) whose answers together never pass
    /// `bytes_per_second` (beyond a burst of 10 ms of the rate, at least 64 KiB).
    pub async fn start(upstream: SocketAddr, bytes_per_second: f64) -> std::io::Result<Self> {
        if !upstream.ip().is_loopback() {
            return Err(std::io::Error::other(format!(
                "the throttle only forwards to 127.0.0.1, not {upstream}"
            )));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let bucket = Arc::new(Mutex::new(Bucket {
            rate: bytes_per_second,
            depth: (bytes_per_second * DEPTH.as_secs_f64()).max(MIN_DEPTH as f64),
            tokens: 0.0,
            at: Instant::now(),
        }));
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let bucket = bucket.clone();
                connections.spawn(async move {
                    let _ = forward(client, upstream, bucket).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Throttle {
            address,
            bytes_per_second,
            task,
        })
    }
}

/// One connection: requests pass as they come, answers at the shared rate.
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    bucket: Arc<Mutex<Bucket>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let copied = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
        copied
    };
    let answers = async {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = server_read.read(&mut buffer).await?;
            if read == 0 {
                let _ = client_write.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            let wait = bucket.lock().await.take(read);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            client_write.write_all(&buffer[..read]).await?;
        }
    };
    let (requests, answers) = tokio::join!(requests, answers);
    requests?;
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_lets_a_burst_through_then_paces_at_the_rate() {
        let mut bucket = Bucket {
            rate: 1_000_000.0,
            depth: 65_536.0,
            tokens: 65_536.0,
            at: Instant::now(),
        };
        assert_eq!(bucket.take(60_000), Duration::ZERO);
        // 5,536 tokens left: 100,000 bytes more wait about 94.5 ms at 1 MB/s.
        let wait = bucket.take(100_000).as_secs_f64();
        assert!((0.090..=0.095).contains(&wait), "{wait}");
    }

    #[tokio::test]
    async fn answers_of_two_connections_share_the_rate_and_arrive_whole() {
        // An upstream that sends 200 KB to each connection.
        let upstream = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let upstream_address = upstream.local_addr().unwrap();
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = payload.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = upstream.accept().await.unwrap();
                let sent = sent.clone();
                tokio::spawn(async move {
                    let _ = socket.write_all(&sent).await;
                });
            }
        });
        let throttle = Throttle::start(upstream_address, 1_000_000.0)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let fetch = |address| async move {
            let mut socket = TcpStream::connect(address).await.unwrap();
            let mut got = Vec::new();
            socket.read_to_end(&mut got).await.unwrap();
            got
        };
        let (a, b) = tokio::join!(fetch(throttle.address), fetch(throttle.address));
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(a, payload);
        assert_eq!(b, payload);
        // 400 KB at 1 MB/s shared: at least 0.4 s less the 64 KiB burst.
        assert!(seconds >= 0.33, "{seconds}");
    }

    /// Seconds to send `total` bytes in pieces through a bucket of `depth` at `rate` when every
    /// wait wakes 1 ms late (tokio's timer), on a simulated clock.
    fn seconds_with_late_wake_ups(rate: f64, depth: f64, total: usize) -> f64 {
        let start = Instant::now();
        let mut bucket = Bucket {
            rate,
            depth,
            tokens: 0.0,
            at: start,
        };
        let (mut now, mut sent) = (start, 0);
        while sent < total {
            let wait = bucket.take_at(CHUNK, now);
            sent += CHUNK;
            if !wait.is_zero() {
                now += wait + Duration::from_millis(1);
            }
        }
        now.duration_since(start).as_secs_f64()
    }

    #[test]
    fn a_bucket_of_10_ms_keeps_a_high_rate_across_late_wake_ups() {
        // 125 MB at 1 Gbit/s: 1 s. A 64 KiB bucket loses what accrues while the sender
        // oversleeps, and takes about twice as long; 10 ms of the rate does not.
        let rate = 125_000_000.0;
        let shallow = seconds_with_late_wake_ups(rate, MIN_DEPTH as f64, 125_000_000);
        let deep = seconds_with_late_wake_ups(rate, rate * DEPTH.as_secs_f64(), 125_000_000);
        assert!(shallow > 1.5, "{shallow}");
        assert!((0.98..1.03).contains(&deep), "{deep}");
        // At 100 Mbit/s the 64 KiB floor is deeper than 10 ms: the rate holds too.
        let slow = seconds_with_late_wake_ups(12_500_000.0, MIN_DEPTH as f64, 12_500_000);
        assert!((0.98..1.03).contains(&slow), "{slow}");
    }

    #[tokio::test]
    async fn refuses_an_upstream_off_this_machine() {
        let far: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert!(Throttle::start(far, 1.0).await.is_err());
    }
}
