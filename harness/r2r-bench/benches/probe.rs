//! How soon the readiness poll sees a new listener: the time from `listen` on 127.0.0.1 to
//! the probe's accepted connection, with the poll interval start-up measurements use. This is
//! the part of "to ready" that is r2r's own. Run: `cargo bench -p r2r-bench --bench probe`.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use r2r_core::measure::startup::READY_POLL_INTERVAL;
use r2r_core::support::probe;

fn listen_to_accept(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("probe");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("listen_to_accept", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let port = probe::free_port().expect("a free port");
                let server = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    let listener =
                        std::net::TcpListener::bind(("127.0.0.1", port)).expect("listen");
                    let listening = Instant::now();
                    let (mut socket, _) = listener.accept().expect("accept");
                    let accepted = listening.elapsed();
                    let mut buffer = [0u8; 1024];
                    let _ = socket.read(&mut buffer);
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    accepted
                });
                runtime
                    .block_on(probe::wait_for_ok(
                        port,
                        "/",
                        Duration::from_secs(5),
                        READY_POLL_INTERVAL,
                    ))
                    .expect("the server answers");
                total += server.join().expect("the server thread");
            }
            total
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = listen_to_accept
}
criterion_main!(benches);
