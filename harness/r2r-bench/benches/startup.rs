//! Container start-up of each app image of a scenario as criterion benchmarks, one fresh
//! container per iteration (create -> start -> ready), so that nightly jobs can keep criterion
//! baselines (`--save-baseline`, `--baseline`). The scenario is `R2R_BENCH_SCENARIO`
//! (default `quick`); its images must be built. Run: `cargo bench -p r2r-bench --bench startup`.

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use r2r_core::engine::DockerEngine;
use r2r_core::measure::startup::{self, Cache, StartupOptions};
use r2r_core::model::catalog::Catalog;

fn startup_benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let catalog = Catalog::load(&root.join("experiments")).expect("the experiment catalog");
    let name = std::env::var("R2R_BENCH_SCENARIO").unwrap_or_else(|_| "quick".to_string());
    let path = r2r_core::model::scenario::resolve_path(&name, &root.join("scenarios"))
        .expect("a scenario");
    let scenario = r2r_core::model::scenario::load(&path, &catalog).expect("a valid scenario");
    let plan = r2r_core::model::plan::expand(&scenario, &catalog);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let engine = runtime
        .block_on(DockerEngine::connect())
        .expect("a Docker engine (bash scripts/engine.sh)");
    let options = StartupOptions {
        caches: vec![Cache::Warm],
        ready_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let mut group = c.benchmark_group(format!("startup/{}", scenario.name));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for target in startup::targets(&plan) {
        group.bench_function(target.image.clone(), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let record = runtime.block_on(startup::run_once(
                        &engine,
                        &scenario.name,
                        &target,
                        Cache::Warm,
                        &options,
                    ));
                    assert!(record.ok, "{}: {}", target.image, record.error);
                    total += Duration::from_secs_f64(record.total_ms.unwrap_or(0.0) / 1000.0);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = startup_benches
}
criterion_main!(benches);
