//! `stepsim serve` under load: StartExecution over real HTTP (JSON 1.0, loopback) from 16
//! concurrent clients, each waiting for its answer before sending the next call.
//!
//! Target (issue 7): 1,000 StartExecution calls from 16 concurrent clients, all succeeding,
//! with latency percentiles. Before the criterion groups run, one load of 1,000 calls prints
//! p50/p90/p99/max and the throughput; criterion then times whole loads (`load_1000x16`) and a
//! single StartExecution + DescribeExecution round trip (`start_then_describe`).
//!
//! The executions themselves (a Task calling an identity function, then a Pass) are simulated
//! on the server's pool threads while the calls go on, so the figures include that work
//! competing for the same cores.
//!
//! `cargo bench --bench api`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use stepsim::api::{Server, ServerConfig};
use stepsim::handlers::default_catalog;
use stepsim::sim::FunctionRegistry;

const CLIENTS: usize = 16;
const CALLS: usize = 1000;

/// Unique execution names across every load of the run.
static NEXT: AtomicU64 = AtomicU64::new(0);

struct Bench {
    _server: Server,
    url: String,
    machine: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

async fn call(client: &reqwest::Client, url: &str, action: &str, body: &Value) -> (u16, Value) {
    let r = client
        .post(url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AWSStepFunctions.{action}"))
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn setup() -> Bench {
    let functions = FunctionRegistry::from_toml_str(
        "[functions.work]\nhandler = \"identity\"\n",
        "bench",
        &default_catalog(),
    )
    .expect("functions");
    let config = ServerConfig {
        functions,
        log_requests: false,
        max_executions: 1_000_000,
        ..ServerConfig::default()
    };
    let server = Server::start(config, "127.0.0.1:0".parse().expect("addr")).expect("server");
    let url = format!("{}/", server.endpoint());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "work", "Payload.$": "$"}, "ResultPath": "$.r", "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }});
    let (status, v) = rt.block_on(call(
        &client,
        &url,
        "CreateStateMachine",
        &json!({"name": "bench", "definition": definition.to_string(),
                "roleArn": "arn:aws:iam::123456789012:role/bench"}),
    ));
    assert_eq!(status, 200, "{v}");
    let machine = v["stateMachineArn"].as_str().expect("arn").to_string();
    Bench {
        _server: server,
        url,
        machine,
        client,
        rt,
    }
}

/// One load: `CALLS` StartExecution calls from `CLIENTS` clients. Returns every latency and
/// the wall time of the whole load; panics if any call fails.
fn load(b: &Bench) -> (Vec<Duration>, Duration) {
    let url = Arc::new(b.url.clone());
    let machine = Arc::new(b.machine.clone());
    let t0 = Instant::now();
    let latencies = b.rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, url, machine) = (b.client.clone(), url.clone(), machine.clone());
            let n = CALLS / CLIENTS + usize::from(c < CALLS % CLIENTS);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = format!("e{}", NEXT.fetch_add(1, Ordering::Relaxed));
                    let body =
                        json!({"stateMachineArn": *machine, "name": name, "input": "{\"n\": 1}"});
                    let t = Instant::now();
                    let (status, v) = call(&client, &url, "StartExecution", &body).await;
                    lat.push(t.elapsed());
                    assert_eq!(status, 200, "StartExecution failed: {v}");
                }
                lat
            }));
        }
        let mut all = Vec::with_capacity(CALLS);
        for t in tasks {
            all.extend(t.await.expect("client task"));
        }
        all
    });
    (latencies, t0.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(b: &Bench) {
    // One warm-up load (connections, allocator), then the measured one.
    load(b);
    let (mut lat, wall) = load(b);
    lat.sort();
    assert_eq!(lat.len(), CALLS);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "api/StartExecution: {CALLS} calls from {CLIENTS} clients, all 200: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.0} calls/s",
        ms(percentile(&lat, 50.0)),
        ms(percentile(&lat, 90.0)),
        ms(percentile(&lat, 99.0)),
        ms(lat[lat.len() - 1]),
        CALLS as f64 / wall.as_secs_f64()
    );
    // Every execution started must also end well.
    let t0 = Instant::now();
    loop {
        let count = |filter: &str| {
            let (status, v) = b.rt.block_on(call(
                &b.client,
                &b.url,
                "ListExecutions",
                &json!({"stateMachineArn": b.machine, "statusFilter": filter, "maxResults": 1000}),
            ));
            assert_eq!(status, 200, "{v}");
            v["executions"].as_array().map_or(0, Vec::len)
        };
        assert_eq!(count("FAILED"), 0, "some executions failed");
        if count("RUNNING") == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "executions still running"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "api/StartExecution: every execution SUCCEEDED, the last {:.1} ms after its start call",
        t0.elapsed().as_secs_f64() * 1000.0
    );
}

fn benches(c: &mut Criterion) {
    let b = setup();
    report(&b);
    let mut g = c.benchmark_group("api");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("load_1000x16", |bench| {
        bench.iter_custom(|iters| (0..iters).map(|_| load(&b).1).sum())
    });
    g.bench_function("start_then_describe", |bench| {
        bench.iter(|| {
            b.rt.block_on(async {
                let name = format!("one{}", NEXT.fetch_add(1, Ordering::Relaxed));
                let (status, v) = call(
                    &b.client,
                    &b.url,
                    "StartExecution",
                    &json!({"stateMachineArn": b.machine, "name": name}),
                )
                .await;
                assert_eq!(status, 200, "{v}");
                let (status, d) = call(
                    &b.client,
                    &b.url,
                    "DescribeExecution",
                    &json!({"executionArn": v["executionArn"]}),
                )
                .await;
                assert_eq!(status, 200, "{d}");
            })
        })
    });
    g.finish();
}

criterion_group!(api, benches);
criterion_main!(api);
