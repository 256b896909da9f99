//! Interpreter speed on the shapes the peer benchmarks use (../shared/peers/bench), so the
//! figures can be set beside aws-local-stepfunctions, moto and LocalStack:
//! - `pass_chain`: 1,000 Pass states with Parameters and ResultPath;
//! - `map_10k`: an inline Map over 10,000 items with a 2-state iterator;
//! - `executions_1k`: 1,000 executions of a 5-state machine (Pass/Choice/Pass/Pass/Succeed).
//!
//! Each shape runs with full history (what `stepsim run --history` keeps) and with counts
//! only (what sweeps keep). The history limit is lifted for map_10k: AWS would stop that
//! execution at 25,000 events, and so does stepsim by default.

use std::rc::Rc;

use criterion::{criterion_group, criterion_main, Criterion};

// The same allocator as the `stepsim` binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde_json::{json, Map, Value};
use stepsim::engine::{
    self, Clock, ExecutionOptions, FunctionName, HistoryMode, LambdaResponse, NoServices, Plan,
    ServiceRequest, TaskInvoker,
};
use stepsim::sim::Simulation;

fn pass_chain() -> Value {
    let mut states = Map::new();
    for i in 0..1000 {
        let mut s = json!({
            "Type": "Pass",
            "Parameters": {"value.$": "$.acc.value", "prev.$": "$.acc.step", "a.$": "$.data.a", "step": i},
            "ResultPath": "$.acc"
        });
        if i == 999 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

fn map_10k() -> Value {
    json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P1", "States": {
                  "P1": {"Type": "Pass", "Parameters": {"id.$": "$", "tag": "p1"}, "Next": "P2"},
                  "P2": {"Type": "Pass", "Parameters": {"out.$": "$.id", "tag": "p2"}, "OutputPath": "$.out", "End": true}}},
              "ResultPath": "$.results", "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.results)", "first.$": "$.results[0]", "last.$": "$.results[9999]"}, "End": true}
    }})
}

fn five_states() -> Value {
    json!({"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Parameters": {"x.$": "$.x", "tag": "prep"}, "Next": "Decide"},
        "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericGreaterThan": 5, "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Done"},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }})
}

fn choice_loop() -> Value {
    json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Parameters": {"i": 0, "acc": 0, "n.$": "$.n"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Incr"}], "Default": "Done"},
        "Incr": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "acc.$": "States.MathAdd($.acc, $.i)", "n.$": "$.n"}, "Next": "Check"},
        "Done": {"Type": "Succeed"}
    }})
}

fn lambda_fanout() -> Value {
    let task = |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    json!({"StartAt": "Produce", "States": {
        "Produce": {"Type": "Task", "Resource": task("produce"), "Parameters": {"n.$": "$.n"}, "ResultPath": "$.lambda_result", "Next": "Fanout"},
        "Fanout": {"Type": "Map", "ItemsPath": "$.lambda_result.body", "MaxConcurrency": 0,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work",
                "States": {"Work": {"Type": "Task", "Resource": task("work"), "End": true}}},
            "ResultPath": "$.work_results", "Next": "Summarize"},
        "Summarize": {"Type": "Task", "Resource": task("summarize"), "Parameters": {"results.$": "$.work_results"}, "End": true}
    }})
}

/// A simulation whose world holds the peer benchmark's three local handlers, in the simulated
/// Lambda service.
fn fanout_simulation() -> Simulation {
    use stepsim::sim::{handler_fn, FunctionConfig, FunctionRegistry};
    let mut reg = FunctionRegistry::new();
    let cfg = FunctionConfig::default();
    reg.register(
        "produce",
        cfg.clone(),
        handler_fn(|ev, _| {
            let n = ev["n"].as_u64().unwrap_or(0);
            Ok(json!({"body": (0..n).map(|i| json!({"rank": i})).collect::<Vec<_>>()}))
        }),
    )
    .unwrap();
    reg.register(
        "work",
        cfg.clone(),
        handler_fn(|ev, _| {
            let r = ev["rank"].as_i64().unwrap_or(0);
            Ok(json!({"rank": r, "sq": r * r, "worker": "ok"}))
        }),
    )
    .unwrap();
    reg.register(
        "summarize",
        cfg,
        handler_fn(|ev, _| {
            let rs = ev["results"].as_array().cloned().unwrap_or_default();
            Ok(json!({
                "count": rs.len(),
                "sum_sq": rs.iter().map(|r| r["sq"].as_i64().unwrap_or(0)).sum::<i64>(),
                "max_rank": rs.iter().map(|r| r["rank"].as_i64().unwrap_or(-1)).max().unwrap_or(-1)
            }))
        }),
    )
    .unwrap();
    Simulation::builder()
        .functions(reg)
        .log_capture(stepsim::sim::LogCapture::Off)
        .build()
        .unwrap()
}

/// The same handlers called directly, with no Lambda model: what aws-local-stepfunctions does.
struct DirectHandlers;

impl TaskInvoker for DirectHandlers {
    fn invoke(
        &self,
        call: stepsim::engine::ServiceCall,
    ) -> futures::future::LocalBoxFuture<'_, stepsim::engine::ServiceResult> {
        Box::pin(async move {
            let (function, ev) = match &call.request {
                ServiceRequest::Lambda(l) => match &l.function {
                    FunctionName::Text(f) => (f.as_str(), &l.payload),
                    FunctionName::NotText(_) => ("", &l.payload),
                },
                _ => ("", &Value::Null),
            };
            let name = function.rsplit(':').next().unwrap_or("").to_string();
            let payload = match name.as_str() {
                "produce" => {
                    let n = ev["n"].as_u64().unwrap_or(0);
                    json!({"body": (0..n).map(|i| json!({"rank": i})).collect::<Vec<_>>()})
                }
                "work" => {
                    let r = ev["rank"].as_i64().unwrap_or(0);
                    json!({"rank": r, "sq": r * r, "worker": "ok"})
                }
                _ => {
                    let rs = ev["results"].as_array().cloned().unwrap_or_default();
                    json!({"count": rs.len(), "sum_sq": rs.iter().map(|r| r["sq"].as_i64().unwrap_or(0)).sum::<i64>()})
                }
            };
            Ok(stepsim::engine::ServiceResponse::Lambda(LambdaResponse {
                payload,
                status_code: 200,
                executed_version: "$LATEST".into(),
                request_id: String::new(),
                http: None,
            }))
        })
    }
}

fn plan(def: &Value) -> Plan {
    let m = stepsim::asl::load_value(def).expect("valid");
    Plan::compile(&m).expect("compiles")
}

fn opts(history: HistoryMode) -> ExecutionOptions {
    ExecutionOptions {
        history,
        history_limit: None,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    // The simulation provides the paused runtime and the virtual clock; the figures below time
    // the interpreter itself (`engine::execute`), without the per-execution bill.
    let rt = Simulation::builder().build().unwrap();
    let clock: Rc<dyn Clock> = rt.clock();
    let invoker: Rc<dyn TaskInvoker> = Rc::new(NoServices);

    let chain = plan(&pass_chain());
    let chain_input = json!({"acc": {"value": 0, "step": -1}, "data": {"a": 1}});
    let map = plan(&map_10k());
    let items: Vec<i64> = (1..=10_000).collect();
    let map_input = json!({ "items": items });
    let five = plan(&five_states());
    let looping = plan(&choice_loop());
    let fanout = plan(&lambda_fanout());

    let one = plan(&json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}));
    let o = opts(HistoryMode::CountOnly);
    // The fixed cost of an execution, for reading the 5-state figure.
    c.bench_function("overhead/1k_one_state_executions", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..1000 {
                    let out =
                        engine::execute(&one, json!({"x": 1}), &o, clock.clone(), invoker.clone())
                            .await;
                    std::hint::black_box(out);
                }
            })
        })
    });

    {
        let o = ExecutionOptions {
            history: HistoryMode::CountOnly,
            history_limit: None,
            ..Default::default()
        };
        c.bench_function("choice_loop_1000/counts", |b| {
            b.iter(|| {
                rt.block_on(engine::execute(
                    &looping,
                    json!({"n": 1000}),
                    &o,
                    clock.clone(),
                    invoker.clone(),
                ))
            })
        });
        c.bench_function("lambda_fanout_1000/direct_handlers", |b| {
            let inv: Rc<dyn TaskInvoker> = Rc::new(DirectHandlers);
            b.iter(|| {
                rt.block_on(engine::execute(
                    &fanout,
                    json!({"n": 1000}),
                    &o,
                    clock.clone(),
                    inv.clone(),
                ))
            })
        });
        // Lambda tasks go through the whole simulated Lambda service (pools, cold starts,
        // concurrency, latency on the virtual clock, billing ledger).
        let mut fanout_sim = fanout_simulation();
        c.bench_function("lambda_fanout_1000/counts", |b| {
            b.iter(|| {
                // A fresh world each iteration (seed 0, as built), so every run starts cold.
                fanout_sim.fresh_world(0, None).unwrap();
                let inv: Rc<dyn TaskInvoker> = Rc::new(fanout_sim.world().clone());
                fanout_sim.block_on(engine::execute(
                    &fanout,
                    json!({"n": 1000}),
                    &o,
                    fanout_sim.clock(),
                    inv,
                ))
            })
        });
    }

    for (label, mode) in [
        ("full", HistoryMode::Full),
        ("counts", HistoryMode::CountOnly),
    ] {
        let o = opts(mode);
        c.bench_function(&format!("pass_chain/{label}"), |b| {
            b.iter(|| {
                rt.block_on(engine::execute(
                    &chain,
                    chain_input.clone(),
                    &o,
                    clock.clone(),
                    invoker.clone(),
                ))
            })
        });
        c.bench_function(&format!("map_10k/{label}"), |b| {
            b.iter(|| {
                rt.block_on(engine::execute(
                    &map,
                    map_input.clone(),
                    &o,
                    clock.clone(),
                    invoker.clone(),
                ))
            })
        });
        c.bench_function(&format!("executions_1k/{label}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..1000 {
                        let out = engine::execute(
                            &five,
                            json!({"x": i % 10}),
                            &o,
                            clock.clone(),
                            invoker.clone(),
                        )
                        .await;
                        std::hint::black_box(out);
                    }
                })
            })
        });
    }

    // What `serve` runs: Standard executions keep track of where every body stands, so that
    // an unsuccessful one can be redriven (compare with map_10k/full and pass_chain/full).
    let tracked = ExecutionOptions {
        track_progress: true,
        ..opts(HistoryMode::Full)
    };
    c.bench_function("map_10k/full_tracked", |b| {
        b.iter(|| {
            rt.block_on(engine::execute(
                &map,
                map_input.clone(),
                &tracked,
                clock.clone(),
                invoker.clone(),
            ))
        })
    });
    c.bench_function("pass_chain/full_tracked", |b| {
        b.iter(|| {
            rt.block_on(engine::execute(
                &chain,
                chain_input.clone(),
                &tracked,
                clock.clone(),
                invoker.clone(),
            ))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
