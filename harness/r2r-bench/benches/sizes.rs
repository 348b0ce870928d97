//! Throughput of the size analysis (SHA-256, tar walk, gzip and zstd of every layer) on a real
//! image archive. The archive is `R2R_BENCH_ARCHIVE` if set, else the `quick` scenario's
//! composite runtime image exported through the engine (build it first with
//! `r2r build --scenario quick`). Run: `cargo bench -p r2r-bench --bench sizes`.

use std::io::Write;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;
use r2r_core::engine::{DockerEngine, Engine};

fn archive() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(path) = std::env::var_os("R2R_BENCH_ARCHIVE") {
        return (PathBuf::from(path), None);
    }
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("image.tar");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let engine = DockerEngine::connect()
            .await
            .expect("a Docker engine (bash scripts/engine.sh)");
        let references = ["r2r/quick:runtime-composite-runtime".to_string()];
        let mut stream = engine.export_images(&references);
        let mut file = std::fs::File::create(&path).expect("archive file");
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk.expect("export (build the quick scenario first)"))
                .expect("write");
        }
    });
    (path, Some(directory))
}

fn analysis(c: &mut Criterion) {
    let (path, _keep) = archive();
    let bytes = std::fs::metadata(&path).expect("archive").len();
    let mut group = c.benchmark_group("sizes");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("analyze_archive", |b| {
        b.iter(|| {
            let file = std::io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(&path).expect("archive"),
            );
            r2r_core::measure::layers::analyze_archive(file).expect("analysis")
        })
    });
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
