//! The main job's speed: the COSMIC-AI study (20 points x 5 repetitions = 100 executions), run
//! the way `stepsim sweep` runs it, with every core and with one.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

// The same allocator as the `stepsim` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use stepsim::project::Project;
use stepsim::sweep::{run, SweepOptions, SweepSpec};

fn bench(c: &mut Criterion) {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("asl-examples/cosmic-ai/sweep.toml");
    let spec = SweepSpec::load(&spec_path).expect("spec");
    let project = Project::load(&spec.definition).expect("project");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for jobs in [1, cores] {
        let opts = SweepOptions {
            jobs,
            store: "memory".into(),
        };
        c.bench_function(&format!("cosmic_sweep_100_executions/jobs={jobs}"), |b| {
            b.iter(|| {
                let rows = run::run(&spec, &project, &opts, &|_, _| {}).expect("sweep");
                assert_eq!(rows.len(), 100);
                rows
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
