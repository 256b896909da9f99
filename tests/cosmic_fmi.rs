//! FMI collectives inside simulated Lambda invocations: completion times follow the channel
//! model, results are right, communicators never mix between Map runs, executions or worlds,
//! and a peer that never arrives ends in a clear error at the function's timeout.

use std::sync::mpsc;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};
use stepsim::engine::SimTime;
use stepsim::sim::fmi::{Collective, FmiChannel, FmiSpec, ReduceOp};
use stepsim::sim::{
    async_handler_fn, FunctionConfig, FunctionError, FunctionRegistry, Invocation, LambdaSettings,
    Simulation, World,
};

const TIMEOUT_S: u64 = 10;

/// A rank that joins the communicator its event describes and runs its `ops` in order:
/// `"barrier"`, `"allreduce"` (sum of `values`), `"reduce"` (max at root 0), `"gather"`,
/// `"bcast"` (from root 0), `"fail"` (raise before the next collective). It returns, per op,
/// the time it finished (ms since the epoch of the simulation) and its result.
async fn rank_handler(event: Value, ctx: &mut Invocation) -> Result<Value, FunctionError> {
    let spec = FmiSpec {
        endpoint: event["endpoint"].as_str().unwrap_or("rv:10000").to_string(),
        comm_name: event["comm"].as_str().unwrap_or("test").to_string(),
        world_size: event["world_size"].as_u64().unwrap_or(1) as u32,
        rank: event["rank"].as_u64().unwrap_or(0) as u32,
        channel: FmiChannel::parse(event["channel"].as_str().unwrap_or("direct")).unwrap(),
    };
    let values: Vec<f64> = event["values"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let mut comm = ctx.fmi_communicator(spec)?;
    let mut out = Vec::new();
    let arrived = ctx.now();
    for op in event["ops"].as_array().cloned().unwrap_or_default() {
        let result = match op.as_str().unwrap_or("") {
            "barrier" => {
                comm.barrier().await?;
                Value::Null
            }
            "allreduce" => json!(comm.allreduce(&values, ReduceOp::Sum).await?),
            "reduce" => json!(comm.reduce(&values, ReduceOp::Max, 0).await?),
            "gather" => json!(comm.gather(&values, 0).await?),
            "bcast" => json!(comm.bcast(&values, 0).await?),
            "fail" => return Err(FunctionError::new("RuntimeError", "rank crashed")),
            other => panic!("unknown op {other}"),
        };
        out.push(json!({"t_ms": ms(ctx.now()), "result": result}));
    }
    Ok(json!({"arrived_ms": ms(arrived), "ops": out,
              "collectives": comm.stats().collectives}))
}

fn ms(t: SimTime) -> f64 {
    t.timestamp_micros() as f64 / 1000.0
}

/// A simulation whose only function is `rank`, without platform latency.
fn simulation() -> Simulation {
    let mut reg = FunctionRegistry::new();
    let config = FunctionConfig {
        timeout: Duration::from_secs(TIMEOUT_S),
        ..FunctionConfig::default()
    };
    reg.register("rank", config, async_handler_fn(rank_handler))
        .unwrap();
    Simulation::builder()
        .seed(3)
        .functions(reg)
        .lambda_settings(LambdaSettings::without_latency())
        .build()
        .unwrap()
}

/// Runs `f` (which builds its own simulation) in another thread; a hang becomes a test failure.
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the simulation hung (or panicked)")
}

/// Invokes `rank` once per event, all at the same simulated instant, on execution `arn`.
async fn invoke_all(
    w: &World,
    events: Vec<Value>,
    arn: &str,
) -> Vec<Result<Value, (String, String)>> {
    join_all(events.into_iter().map(|e| {
        let w = w.clone();
        let arn = arn.to_string();
        async move {
            w.invoke_function("rank", e, &arn)
                .await
                .map(|ok| ok.payload)
                .map_err(|f| (f.error, f.cause))
        }
    }))
    .await
}

fn events(world_size: u32, ranks: impl IntoIterator<Item = u32>, extra: Value) -> Vec<Value> {
    ranks
        .into_iter()
        .map(|r| {
            let mut e = json!({"rank": r, "world_size": world_size,
                               "values": [f64::from(r) + 1.0, 10.0 * f64::from(r)]});
            if let Value::Object(m) = &extra {
                for (k, v) in m {
                    e[k] = v.clone();
                }
            }
            e
        })
        .collect()
}

#[test]
fn collectives_complete_at_the_last_arrival_plus_the_channel_time() {
    for channel in [FmiChannel::Direct, FmiChannel::Redis, FmiChannel::S3] {
        let results = within_a_minute(move || {
            let sim = simulation();
            let w = sim.world();
            sim.block_on(async {
                let ops = json!({"channel": channel.as_str(),
                                 "ops": ["barrier", "allreduce", "reduce", "gather", "bcast"]});
                let out = invoke_all(w, events(4, 0..4, ops), "exec-a").await;
                assert_eq!(w.open_fmi_communicators(), 0);
                out
            })
        });
        let model = channel.model();
        let ok: Vec<Value> = results.into_iter().map(|r| r.unwrap()).collect();
        // Ranks start after different cold-start INITs; the barrier ends for all of them at the
        // last arrival plus the barrier's time.
        let last = ok
            .iter()
            .map(|o| o["arrived_ms"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        let firsts: Vec<f64> = ok
            .iter()
            .map(|o| o["arrived_ms"].as_f64().unwrap())
            .collect();
        assert!(
            firsts.iter().any(|&a| a < last),
            "arrivals should differ: {firsts:?}"
        );
        // The runtime's timer ticks in whole milliseconds, so a wait ends on the first tick at
        // or after its instant: each collective takes its model time rounded up to the tick.
        let mut prev = last;
        for (i, (op, bytes)) in [
            (Collective::Barrier, 1),
            (Collective::Allreduce, 16),
            (Collective::Reduce, 16),
            (Collective::Gather, 16),
            (Collective::Bcast, 16),
        ]
        .into_iter()
        .enumerate()
        {
            let model_ms = model.collective_seconds(op, 4, bytes) * 1000.0;
            let t = ok[0]["ops"][i]["t_ms"].as_f64().unwrap();
            for o in &ok {
                assert_eq!(
                    o["ops"][i]["t_ms"].as_f64().unwrap(),
                    t,
                    "every rank resumes together"
                );
            }
            assert!(
                t - prev >= model_ms - 1e-6 && t - prev < model_ms + 1.0,
                "{channel} {op:?}: took {} ms, model {model_ms} ms",
                t - prev
            );
            prev = t;
        }
        // The results.
        for (r, o) in ok.iter().enumerate() {
            assert_eq!(o["ops"][1]["result"], json!([10.0, 60.0]), "allreduce sum");
            let reduce = &o["ops"][2]["result"];
            let gather = &o["ops"][3]["result"];
            if r == 0 {
                assert_eq!(reduce, &json!([4.0, 30.0]));
                assert_eq!(
                    gather,
                    &json!([[1.0, 0.0], [2.0, 10.0], [3.0, 20.0], [4.0, 30.0]])
                );
            } else {
                assert!(reduce.is_null() && gather.is_null());
            }
            assert_eq!(
                o["ops"][4]["result"],
                json!([1.0, 0.0]),
                "bcast from rank 0"
            );
            assert_eq!(o["collectives"], 5);
        }
    }
}

#[test]
fn one_rank_needs_no_communication_on_direct() {
    let ok = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            invoke_all(
                w,
                events(1, [0], json!({"ops": ["barrier", "allreduce"]})),
                "e",
            )
            .await
        })
    });
    let o = ok[0].as_ref().unwrap();
    assert_eq!(o["ops"][1]["t_ms"], o["arrived_ms"]);
    assert_eq!(o["ops"][1]["result"], json!([1.0, 0.0]));
}

#[test]
fn a_missing_peer_ends_in_a_clear_error_at_the_timeout() {
    let (results, usage, open) = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            // world_size 3, but only ranks 0 and 1 ever start (as under MaxConcurrency 2).
            let out = invoke_all(w, events(3, 0..2, json!({"ops": ["barrier"]})), "exec-m").await;
            (out, w.usage("exec-m").unwrap(), w.open_fmi_communicators())
        })
    });
    for r in &results {
        let (error, cause) = r.as_ref().unwrap_err();
        assert_eq!(error, "FmiTimeoutError");
        let cause: Value = serde_json::from_str(cause).unwrap();
        let msg = cause["errorMessage"].as_str().unwrap();
        assert!(
            msg.contains("FMI barrier #0")
                && msg.contains("rank(s) 2 of world_size 3")
                && msg.contains("arrived: 0, 1")
                && msg.contains("MaxConcurrency"),
            "{msg}"
        );
    }
    // The whole timeout is billed: the wait ended at the function's deadline.
    let f = &usage.functions["rank"];
    assert_eq!((f.invocations, f.errors, f.timeouts), (2, 2, 0));
    for line in usage.report_lines() {
        assert!(
            line.message
                .contains(&format!("Duration: {}.00 ms", TIMEOUT_S * 1000)),
            "{}",
            line.message
        );
    }
    assert_eq!(open, 0, "the failed communicator is gone");
}

#[test]
fn a_crashed_rank_leaves_its_peers_waiting_until_their_timeout() {
    let results = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            let mut evs = events(3, 0..3, json!({"ops": ["barrier", "allreduce"]}));
            evs[2]["ops"] = json!(["barrier", "fail"]);
            invoke_all(w, evs, "exec-c").await
        })
    });
    assert_eq!(results[2].as_ref().unwrap_err().0, "RuntimeError");
    for r in &results[..2] {
        let (error, cause) = r.as_ref().unwrap_err();
        assert_eq!(error, "FmiTimeoutError");
        assert!(
            cause.contains("allreduce #1") && cause.contains("rank(s) 2"),
            "{cause}"
        );
    }
}

#[test]
fn disagreeing_ranks_fail_at_once_with_both_values() {
    let results = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            let mut evs = events(2, 0..2, json!({"ops": ["barrier"]}));
            evs[1]["endpoint"] = json!("other.example.com:10000");
            let a = invoke_all(w, evs, "exec-e").await;
            let mut evs = events(2, 0..2, json!({"ops": ["barrier"]}));
            evs[1]["world_size"] = json!(3);
            let b = invoke_all(w, evs, "exec-w").await;
            let mut evs = events(2, 0..2, json!({"ops": ["barrier"]}));
            evs[1]["ops"] = json!(["allreduce"]);
            let c = invoke_all(w, evs, "exec-o").await;
            let t = w.now();
            (a, b, c, t)
        })
    });
    let (a, b, c, t) = results;
    for r in &a {
        let (error, cause) = r.as_ref().unwrap_err();
        assert_eq!(error, "FmiError");
        assert!(
            cause.contains("rv:10000") && cause.contains("other.example.com:10000"),
            "{cause}"
        );
    }
    for r in &b {
        assert!(r.as_ref().unwrap_err().1.contains("world_size 3"), "{r:?}");
    }
    for r in &c {
        let cause = &r.as_ref().unwrap_err().1;
        assert!(
            cause.contains("disagree") && cause.contains("barrier"),
            "{cause}"
        );
    }
    // All of it well before any timeout.
    assert!(t < stepsim::engine::clock::default_origin() + chrono::Duration::seconds(5));
}

#[test]
fn communicators_never_mix() {
    let (same_run, runs) = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            // Two Distributed Map children of one Map run meet.
            let base = "arn:aws:states:us-east-1:1:execution:SM/Distributed:run-7";
            let kids = [
                format!("{base}-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"),
                format!("{base}-1f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"),
            ];
            let evs = events(2, 0..2, json!({"ops": ["allreduce"]}));
            let same_run = join_all(evs.into_iter().zip(&kids).map(|(e, arn)| {
                let w = w.clone();
                async move { w.invoke_function("rank", e, arn).await.map(|o| o.payload) }
            }))
            .await;
            // Two executions with the same communicator name at the same time stay apart: each
            // sums only its own ranks.
            let mut a = events(2, 0..2, json!({"ops": ["allreduce"]}));
            let mut b = events(2, 0..2, json!({"ops": ["allreduce"]}));
            for e in a.iter_mut() {
                e["values"] = json!([1.0]);
            }
            for e in b.iter_mut() {
                e["values"] = json!([100.0]);
            }
            let (ra, rb) = futures::join!(invoke_all(w, a, "exec-1"), invoke_all(w, b, "exec-2"));
            (same_run, (ra, rb))
        })
    });
    for r in same_run {
        assert_eq!(r.unwrap()["ops"][0]["result"], json!([3.0, 10.0]));
    }
    let (ra, rb) = runs;
    for r in ra {
        assert_eq!(r.unwrap()["ops"][0]["result"], json!([2.0]));
    }
    for r in rb {
        assert_eq!(r.unwrap()["ops"][0]["result"], json!([200.0]));
    }
}

#[test]
fn worlds_on_other_threads_never_mix() {
    // Two worlds run the same execution ARN and communicator on two threads at once; each must
    // complete on its own (a shared registry would give three or four arrivals, or none).
    let handles: Vec<_> = (0..2)
        .map(|k| {
            std::thread::spawn(move || {
                let sim = simulation();
                let w = sim.world();
                sim.block_on(async {
                    let mut evs = events(2, 0..2, json!({"ops": ["allreduce"]}));
                    for e in evs.iter_mut() {
                        e["values"] = json!([f64::from(k)]);
                    }
                    invoke_all(w, evs, "same-arn").await
                })
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        for r in h.join().unwrap() {
            assert_eq!(r.unwrap()["ops"][0]["result"], json!([2.0 * k as f64]));
        }
    }
}

#[test]
fn bad_specs_are_rejected() {
    let results = within_a_minute(|| {
        let sim = simulation();
        let w = sim.world();
        sim.block_on(async {
            let a = invoke_all(w, events(2, [5], json!({"ops": []})), "x").await;
            let b = invoke_all(w, events(0, [0], json!({"ops": []})), "y").await;
            let c = invoke_all(w, events(1, [0], json!({"endpoint": " ", "ops": []})), "z").await;
            // The same rank twice.
            let d = invoke_all(w, events(2, [0, 0], json!({"ops": ["barrier"]})), "d").await;
            (a, b, c, d)
        })
    });
    let (a, b, c, d) = results;
    assert!(a[0]
        .as_ref()
        .unwrap_err()
        .1
        .contains("rank 5 is outside 0..1"));
    assert!(b[0].as_ref().unwrap_err().1.contains("at least 1"));
    assert!(c[0].as_ref().unwrap_err().1.contains("rendezvous endpoint"));
    assert!(d.iter().any(|r| r
        .as_ref()
        .is_err_and(|e| e.1.contains("joined communicator 'test' twice"))));
}
