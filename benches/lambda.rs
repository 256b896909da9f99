//! Host time per simulated Lambda invocation through the whole model: a `ServiceCall` through
//! `World`'s `TaskInvoker`, function lookup, execution attribution, latency draw, warm-pool
//! lookup (or cold start), concurrency accounting, the handler, the virtual-clock sleep, billing
//! counters and (optionally) the START/END/REPORT log lines. Target: under 5 µs per invocation.
//!
//! Shapes:
//! - `warm_direct`: a direct function ARN, warm environment, logs off;
//! - `warm_direct_logs`: the same, keeping every log line;
//! - `warm_optimized`: `arn:aws:states:::lambda:invoke`, with its SDK-shaped response;
//! - `cold_direct`: keep-alive 0, so every call starts an environment (INIT draw);
//! - `fanout_100`: 100 concurrent invocations per iteration (a Map step), per invocation.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use stepsim::engine::{CallContext, ServiceCall, TaskInvoker};
use stepsim::handlers::default_catalog;
use stepsim::sim::{FunctionRegistry, LambdaSettings, LogCapture, Simulation};

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:bench:run";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

/// A simulation (paused runtime, virtual clock, world) holding the one function `f`.
fn simulation(logs: LogCapture, settings: LambdaSettings) -> Simulation {
    let reg = FunctionRegistry::from_toml_str(
        "[functions.f]\nhandler = \"identity\"\n",
        "bench",
        &default_catalog(),
    )
    .expect("functions");
    Simulation::builder()
        .seed(1)
        .functions(reg)
        .log_capture(logs)
        .lambda_settings(settings)
        .build()
        .expect("simulation")
}

fn context() -> CallContext {
    CallContext {
        execution_arn: EXEC.into(),
        state_name: "Invoke".into(),
        ..CallContext::default()
    }
}

fn direct_call(payload: Value) -> ServiceCall {
    ServiceCall::for_resource(ARN, payload, context()).expect("a direct call")
}

fn optimized_call(payload: Value) -> ServiceCall {
    ServiceCall::for_resource(
        "arn:aws:states:::lambda:invoke",
        json!({"FunctionName": "f", "Payload": payload}),
        context(),
    )
    .expect("an optimized call")
}

/// Times `iters` sequential invocations built by `make`.
fn sequential(
    c: &mut Criterion,
    name: &str,
    logs: LogCapture,
    settings: LambdaSettings,
    make: fn(Value) -> ServiceCall,
) {
    let sim = simulation(logs, settings);
    let w = sim.world();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            sim.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let r = w.invoke(make(json!({"i": i}))).await;
                    std::hint::black_box(r.is_ok());
                }
                let t = start.elapsed();
                // Keep the ledger small between batches.
                w.take_usage(EXEC);
                t
            })
        })
    });
}

fn benches(c: &mut Criterion) {
    sequential(
        c,
        "lambda/warm_direct",
        LogCapture::Off,
        LambdaSettings::default(),
        direct_call,
    );
    sequential(
        c,
        "lambda/warm_direct_logs",
        LogCapture::All,
        LambdaSettings::default(),
        direct_call,
    );
    sequential(
        c,
        "lambda/warm_optimized",
        LogCapture::Off,
        LambdaSettings::default(),
        optimized_call,
    );
    let cold = LambdaSettings {
        keep_alive: Duration::ZERO,
        ..LambdaSettings::default()
    };
    sequential(c, "lambda/cold_direct", LogCapture::Off, cold, direct_call);

    let sim = simulation(LogCapture::Off, LambdaSettings::default());
    let w = sim.world();
    c.bench_function("lambda/fanout_100_per_invocation", |b| {
        b.iter_custom(|iters| {
            sim.block_on(async {
                let start = Instant::now();
                for _ in 0..iters.div_ceil(100) {
                    let calls = (0..100).map(|i| w.invoke(direct_call(json!({"i": i}))));
                    let rs = futures::future::join_all(calls).await;
                    std::hint::black_box(rs.len());
                }
                let t = start.elapsed();
                w.take_usage(EXEC);
                // Report per invocation.
                t.mul_f64(iters as f64 / (iters.div_ceil(100) * 100) as f64)
            })
        })
    });
}

criterion_group!(lambda, benches);
criterion_main!(lambda);
