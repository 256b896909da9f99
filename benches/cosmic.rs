//! Host cost of the COSMIC-AI example: one whole execution of the team's state machine (W = 4,
//! B = 128, test mode, FMI on the Direct channel) in a fresh simulation with the seeded store,
//! what a sweep point pays; the seed generator for the large set (1,253 galaxies in 20 files);
//! and one FMI allreduce among 64 ranks inside simulated invocations.
//!
//! Measured (`cargo bench --bench cosmic`, 2-core shared machine): a whole example run 0.70 ms,
//! the large seed 0.34 ms, the 64-rank allreduce 0.16 ms (2.5 µs per rank, invocation included).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use futures::future::join_all;
use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, Plan};
use stepsim::handlers::cosmic::generate_seed_objects;
use stepsim::handlers::default_catalog;
use stepsim::sim::fmi::{FmiChannel, FmiSpec, ReduceOp};
use stepsim::sim::{
    async_handler_fn, FunctionConfig, FunctionError, FunctionRegistry, Invocation, LogCapture,
    Simulation,
};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asl-examples/cosmic-ai")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(example().join(name)).expect("example file")
}

fn bench_example(c: &mut Criterion) {
    let plan =
        Plan::compile(&stepsim::asl::load_str(&read("state-machine.asl.json")).expect("asl"))
            .expect("plan");
    let input: Value = serde_json::from_str(&read("input.json")).expect("input");
    let functions = FunctionRegistry::from_toml_str(
        &read("functions.toml"),
        "functions.toml",
        &default_catalog(),
    )
    .expect("functions");
    let seed = generate_seed_objects(&json!({})).expect("seed");
    c.bench_function("cosmic/example_run_w4", |b| {
        b.iter(|| {
            let sim = Simulation::builder()
                .functions(functions.clone())
                .log_capture(LogCapture::Reports)
                .build()
                .expect("simulation");
            sim.block_on(async {
                let store = sim.world().store();
                for (bucket, key, bytes) in &seed {
                    store.create_bucket(bucket).await.expect("bucket");
                    store
                        .put(bucket, key, bytes.clone().into(), sim.now())
                        .await
                        .expect("put");
                }
            });
            let report = sim.run(&plan, input.clone(), &ExecutionOptions::default());
            assert!(report.outcome.output.is_some());
        })
    });
    c.bench_function("cosmic/seed_large", |b| {
        b.iter(|| generate_seed_objects(&json!({"data_size": "large"})).expect("seed"))
    });
}

async fn rank(event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
    let mut comm = ctx.fmi_communicator(FmiSpec {
        endpoint: "rv:1".into(),
        comm_name: "bench".into(),
        world_size: 64,
        rank: event.as_u64().unwrap_or(0) as u32,
        channel: FmiChannel::Direct,
    })?;
    let sum = comm.allreduce(&[1.0; 8], ReduceOp::Sum).await?;
    Ok(json!(sum[0]))
}

fn bench_fmi(c: &mut Criterion) {
    let mut reg = FunctionRegistry::new();
    reg.register("rank", FunctionConfig::default(), async_handler_fn(rank))
        .expect("register");
    c.bench_function("cosmic/fmi_allreduce_64_ranks", |b| {
        let sim = Simulation::builder()
            .functions(reg.clone())
            .log_capture(LogCapture::Off)
            .build()
            .expect("simulation");
        let w = sim.world();
        b.iter(|| {
            sim.block_on(async {
                let calls = (0..64u64).map(|r| w.invoke_function("rank", json!(r), "bench"));
                let out = join_all(calls).await;
                assert!(out
                    .iter()
                    .all(|r| r.as_ref().is_ok_and(|o| o.payload == json!(64.0))));
            })
        })
    });
}

criterion_group!(benches, bench_example, bench_fmi);
criterion_main!(benches);
