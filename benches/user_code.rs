//! Host cost of user Lambda code run through the Lambda Runtime API (issue 14): one invocation
//! of a python (and, when `node` is installed, a node) handler that returns its event, through
//! the whole model (`World::invoke`: admission, the Runtime API round trip with the JSON event
//! and result, the virtual-clock sleeps, accounting).
//!
//! - `python_warm` / `node_warm`: the environment's process is reused (target: <= 2 ms per
//!   invocation, including the JSON round trip);
//! - `python_cold`: keep-alive 0, so every call spawns a process and imports the handler
//!   (process spawn + interpreter start + import), reported separately.
//!
//! `cargo bench --bench user_code`

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use stepsim::engine::{CallContext, ServiceCall, TaskInvoker};
use stepsim::handlers::default_catalog;
use stepsim::sim::{FunctionRegistry, LambdaSettings, LogCapture, Simulation};

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:bench:run";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

/// A simulation whose function `f` is the code in `dir` (written there first).
fn simulation(
    dir: &Path,
    runtime: &str,
    file: &str,
    code: &str,
    settings: LambdaSettings,
) -> Simulation {
    std::fs::create_dir_all(dir.join("code")).expect("code folder");
    std::fs::write(dir.join("code").join(file), code).expect("handler file");
    let handler = if runtime.starts_with("python") {
        "app.handler"
    } else {
        "index.handler"
    };
    let functions = dir.join("functions.toml");
    std::fs::write(
        &functions,
        format!("[functions.f]\nruntime = \"{runtime}\"\nhandler = \"{handler}\"\ncode = \"code\"\ntimeout_seconds = 30\n"),
    )
    .expect("functions file");
    let reg = FunctionRegistry::load(&functions, &default_catalog()).expect("functions");
    Simulation::builder()
        .seed(1)
        .functions(reg)
        .log_capture(LogCapture::Off)
        .lambda_settings(settings)
        .build()
        .expect("simulation")
}

fn call(i: u64) -> ServiceCall {
    let context = CallContext {
        execution_arn: EXEC.into(),
        state_name: "Invoke".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource(
        ARN,
        json!({"i": i, "items": [1, 2, 3], "name": "bench"}),
        context,
    )
    .expect("a direct call")
}

/// Times `iters` sequential invocations of `sim`'s function.
fn sequential(c: &mut Criterion, name: &str, sim: &Simulation) {
    let w = sim.world();
    // The first call starts the environment; warm figures leave it out.
    assert!(
        sim.block_on(w.invoke(call(0))).is_ok(),
        "{name}: the handler answers"
    );
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            sim.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let r = w.invoke(call(i)).await;
                    assert!(r.is_ok(), "{name}: {:?}", r.err());
                }
                start.elapsed()
            })
        })
    });
}

fn benches(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let py = "def handler(event, context):\n    return event\n";
    let warm = simulation(
        &tmp.path().join("py-warm"),
        "python3.12",
        "app.py",
        py,
        LambdaSettings::without_latency(),
    );
    sequential(c, "python_warm", &warm);
    let cold_settings = LambdaSettings {
        keep_alive: Duration::ZERO,
        ..LambdaSettings::without_latency()
    };
    let cold = simulation(
        &tmp.path().join("py-cold"),
        "python3.12",
        "app.py",
        py,
        cold_settings,
    );
    let mut g = c.benchmark_group("cold");
    g.sample_size(10);
    g.bench_function("python_cold", |b| {
        let w = cold.world();
        b.iter_custom(|iters| {
            cold.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    assert!(w.invoke(call(i)).await.is_ok());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    let has_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_node {
        let js = "export const handler = async (event) => event;\n";
        let node = simulation(
            &tmp.path().join("node-warm"),
            "nodejs22.x",
            "index.mjs",
            js,
            LambdaSettings::without_latency(),
        );
        sequential(c, "node_warm", &node);
    } else {
        eprintln!("SKIPPED node_warm: `node` is not installed");
    }
}

criterion_group!(user_code, benches);
criterion_main!(user_code);
