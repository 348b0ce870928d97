//! Throughput of the size analysis (SHA-256, tar walk, gzip and zstd of every layer) on a real
//! image archive. The archive is `R2R_BENCH_ARCHIVE` if set, else the `quick` scenario's
//! composite runtime image exported through the engine (build it first with
//! `r2r build --scenario quick`). Run: `cargo bench -p r2r-bench --bench sizes`.
//!
//! Beside the whole analysis, its two compressors alone on the same bytes (one core each):
//! what a first run of `r2r measure sizes` cannot go below, whatever the rest of it does.

mod common;

use std::io::Write;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;
use r2r_core::engine::{DockerEngine, Images};

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

    // The bytes in memory, so that only compression is timed.
    let whole = std::fs::read(&path).expect("archive");
    let mut group = c.benchmark_group("compressors");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("gzip_level_6", |b| {
        b.iter(|| r2r_core::measure::layers::gzip_size(&whole).expect("gzip"))
    });
    group.bench_function("zstd_level_3", |b| {
        b.iter(|| r2r_core::measure::layers::zstd_size(&whole).expect("zstd"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = analysis
}
criterion_main!(benches);
