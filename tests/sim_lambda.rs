//! The simulated Lambda service driven through the engine's `TaskInvoker`: cold and warm starts,
//! keep-alive, concurrency limits and throttling, timeouts, panics, error shapes, response
//! shapes, CPU share, fault injection.

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::engine::{CallContext, LambdaInvoke, ServiceCall, TaskFailure, TaskInvoker};
use stepsim::handlers::default_catalog;
use stepsim::sim::{
    async_handler_fn, handler_fn, FaultPlan, FunctionConfig, FunctionError, FunctionRegistry,
    Invocation, LambdaSettings, Simulation, SimulationError, World,
};

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:sm:run1";

fn call(resource: &str, parameters: Value) -> ServiceCall {
    let context = CallContext {
        execution_arn: EXEC.into(),
        state_name: "Task".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource(resource, parameters, context).expect("a Lambda call")
}

fn direct(function: &str, payload: Value) -> ServiceCall {
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    call(&arn, payload)
}

fn optimized(parameters: Value) -> ServiceCall {
    call("arn:aws:states:::lambda:invoke", parameters)
}

fn registry(toml: &str) -> FunctionRegistry {
    FunctionRegistry::from_toml_str(toml, "functions.toml", &default_catalog()).unwrap()
}

/// The simulation most tests here use: seed 7, `functions`, and the Lambda `settings` under test.
fn simulation(functions: FunctionRegistry, settings: LambdaSettings) -> Simulation {
    Simulation::builder()
        .seed(7)
        .functions(functions)
        .lambda_settings(settings)
        .build()
        .unwrap()
}

fn elapsed_ms(world: &World, since: stepsim::engine::SimTime) -> i64 {
    (world.now() - since).num_milliseconds()
}

#[test]
fn cold_then_warm_then_cold_after_keep_alive() {
    let sim = simulation(
        registry("[functions.f]\nhandler = \"identity\"\n"),
        LambdaSettings::default(),
    );
    let w = sim.world();
    sim.block_on(async {
        for (i, expect_cold) in [(1, true), (2, false)] {
            let out = w.invoke(direct("f", json!({"i": i}))).await.unwrap();
            assert_eq!(out.into_json()["Payload"], json!({"i": i}));
            let u = w.usage(EXEC).unwrap();
            assert_eq!(u.functions["f"].cold_starts, 1, "after call {i}");
            assert_eq!(u.functions["f"].invocations, i as u64);
            let report = u.report_lines().last().unwrap().message.clone();
            assert_eq!(report.contains("Init Duration"), expect_cold, "{report}");
        }
        assert_eq!(w.warm_environments("f"), Some(1));
        // Idle for just under the keep-alive (600 s): still warm.
        tokio::time::sleep(Duration::from_secs(599)).await;
        assert_eq!(w.warm_environments("f"), Some(1));
        w.invoke(direct("f", json!(3))).await.unwrap();
        assert_eq!(w.usage(EXEC).unwrap().functions["f"].cold_starts, 1);
        // Idle past the keep-alive: the environment expired, the next call is cold.
        tokio::time::sleep(Duration::from_secs(601)).await;
        assert_eq!(w.warm_environments("f"), Some(0));
        w.invoke(direct("f", json!(4))).await.unwrap();
        let u = w.usage(EXEC).unwrap();
        assert_eq!(u.functions["f"].cold_starts, 2);
        assert_eq!(u.functions["f"].invocations, 4);
        // START, END and REPORT per invocation.
        assert_eq!(u.logs.len(), 12);
        assert!(u.logs[0].message.starts_with("START RequestId: "));
        let report = &u.report_lines().next().unwrap().message;
        assert!(
            report.starts_with("REPORT RequestId: ")
                && report.contains("\tDuration: 0.00 ms\tBilled Duration: ")
                && report
                    .contains("\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: "),
            "{report}"
        );
    });
}

#[test]
fn invoke_latency_and_init_spend_virtual_time() {
    let sim = simulation(
        registry("[functions.f]\nhandler = \"identity\"\n"),
        LambdaSettings::default(),
    );
    let w = sim.world();
    sim.block_on(async {
        let wall = std::time::Instant::now();
        let t0 = w.now();
        w.invoke(direct("f", json!(1))).await.unwrap();
        let cold = elapsed_ms(w, t0);
        let t1 = w.now();
        w.invoke(direct("f", json!(2))).await.unwrap();
        let warm = elapsed_ms(w, t1);
        // Latency is tens to hundreds of ms; a cold call adds Python's INIT (~84 ms median).
        assert!((30..1000).contains(&warm), "warm call took {warm} ms");
        assert!(cold > 60, "cold call took {cold} ms");
        let u = w.usage(EXEC).unwrap();
        assert!(
            (50.0..300.0).contains(&u.functions["f"].init_ms),
            "{}",
            u.functions["f"].init_ms
        );
        assert!(wall.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn reserved_concurrency_throttles_concurrent_calls() {
    let sim = simulation(
        registry(
            "[functions.f]\nhandler = \"sleep\"\nreserved_concurrency = 2\ntimeout_seconds = 10\n\
                 [functions.f.params]\nseconds = 1\n",
        ),
        LambdaSettings::without_latency(),
    );
    let w = sim.world();
    sim.block_on(async {
        let calls = (0..5).map(|i| w.invoke(direct("f", json!(i))));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let throttled: Vec<&TaskFailure> =
            results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(ok, 2);
        assert_eq!(throttled.len(), 3);
        for t in &throttled {
            assert_eq!(t.error, "Lambda.TooManyRequestsException");
            assert!(
                t.cause.starts_with(
                    "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: \
                     TooManyRequestsException; Request ID: "
                ) && t.cause.ends_with("; Proxy: null)"),
                "{}",
                t.cause
            );
        }
        let u = w.usage(EXEC).unwrap();
        assert_eq!(u.functions["f"].throttles, 3);
        assert_eq!(u.functions["f"].invocations, 2);
        assert_eq!(w.in_flight("f"), Some(0));
        // Once the slots are free, calls go through again (and reuse the warm environments).
        let again =
            futures::future::join_all((0..2).map(|i| w.invoke(direct("f", json!(i))))).await;
        assert!(again.iter().all(|r| r.is_ok()));
        assert_eq!(w.usage(EXEC).unwrap().functions["f"].cold_starts, 2);
    });
}

#[test]
fn account_concurrency_and_scaling_rate() {
    let mut settings = LambdaSettings::without_latency();
    settings.account_concurrency = 10;
    settings.unreserved_minimum = 0;
    let sim = simulation(
        registry("[functions.f]\nhandler = \"sleep\"\n[functions.f.params]\nseconds = 1\n"),
        settings.clone(),
    );
    let w = sim.world();
    sim.block_on(async {
        let results =
            futures::future::join_all((0..12).map(|i| w.invoke(direct("f", json!(i))))).await;
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 2);
    });

    settings.account_concurrency = 1000;
    settings.scaling_burst = 3;
    let sim = simulation(
        registry("[functions.f]\nhandler = \"sleep\"\n[functions.f.params]\nseconds = 1\n"),
        settings,
    );
    let w = sim.world();
    sim.block_on(async {
        let results =
            futures::future::join_all((0..5).map(|i| w.invoke(direct("f", json!(i))))).await;
        assert_eq!(
            results.iter().filter(|r| r.is_err()).count(),
            2,
            "only 3 new environments"
        );
        let u = w.usage(EXEC).unwrap();
        assert_eq!(
            (u.functions["f"].cold_starts, u.functions["f"].throttles),
            (3, 2)
        );
    });
}

#[test]
fn reserved_concurrency_over_the_account_is_an_error() {
    let reg = registry(
        "[functions.a]\nhandler = \"identity\"\nreserved_concurrency = 600\n\
         [functions.b]\nhandler = \"identity\"\nreserved_concurrency = 350\n",
    );
    // The world refuses the configuration; the simulation passes its error on as it is.
    let err = match Simulation::builder().functions(reg).build() {
        Err(SimulationError::World(e)) => e.to_string(),
        other => panic!("expected a world error, got {other:?}"),
    };
    assert!(
        err.contains("reserved concurrency") && err.contains("100 unreserved"),
        "{err}"
    );
}

#[test]
fn timeout_fails_like_aws() {
    // The corpus case test_invoke_timeout: sleeps 60 s, function timeout 30 s.
    let sim = simulation(
        registry(
            "[functions.slow]\nhandler = \"sleep\"\ntimeout_seconds = 30\n\
                 [functions.slow.params]\nseconds = 60\n",
        ),
        LambdaSettings::without_latency(),
    );
    let w = sim.world();
    sim.block_on(async {
        let t0 = w.now();
        let err = w.invoke(direct("slow", Value::Null)).await.unwrap_err();
        assert_eq!(err.error, "Sandbox.Timedout");
        let cause: Value = serde_json::from_str(&err.cause).unwrap();
        let msg = cause["errorMessage"].as_str().unwrap();
        assert!(
            msg.starts_with("RequestId: ")
                && msg.ends_with(" Error: Task timed out after 30.00 seconds"),
            "{msg}"
        );
        assert_eq!(cause["errorType"], "Sandbox.Timedout");
        assert!(
            err.cause.starts_with("{\"errorMessage\":\"RequestId: "),
            "key order: {}",
            err.cause
        );
        let u = w.usage(EXEC).unwrap();
        let init_ms = u.functions["slow"].init_ms;
        // INIT, then exactly the timeout.
        assert_eq!(elapsed_ms(w, t0), 30_000 + init_ms.floor() as i64 + 1);
        assert_eq!(u.functions["slow"].timeouts, 1);
        assert_eq!(u.functions["slow"].errors, 1);
        let report = &u.report_lines().next().unwrap().message;
        assert!(
            report.contains("\tDuration: 30000.00 ms\t") && report.ends_with("\tStatus: timeout"),
            "{report}"
        );
        assert!(u
            .logs
            .iter()
            .any(|l| l.message.ends_with("Task timed out after 30.00 seconds")));
        // The runtime restarted: the next call is cold again.
        let _ = w.invoke(direct("slow", Value::Null)).await;
        assert_eq!(w.usage(EXEC).unwrap().functions["slow"].cold_starts, 2);
    });
}

#[test]
fn panics_become_lambda_errors_and_the_world_goes_on() {
    let mut reg = FunctionRegistry::new();
    reg.register(
        "boom",
        FunctionConfig::default(),
        handler_fn(|event: Value, _ctx: &mut Invocation| {
            if event == json!("panic") {
                panic!("kaboom");
            }
            Ok(event)
        }),
    )
    .unwrap();
    let sim = simulation(reg, LambdaSettings::without_latency());
    let w = sim.world();
    sim.block_on(async {
        let err = w.invoke(direct("boom", json!("panic"))).await.unwrap_err();
        assert_eq!(err.error, "Lambda.Unknown");
        let cause: Value = serde_json::from_str(&err.cause).unwrap();
        assert_eq!(cause["errorType"], "Runtime.ExitError");
        assert!(cause["errorMessage"].as_str().unwrap().contains("kaboom"));
        assert_eq!(w.in_flight("boom"), Some(0));
        let ok = w.invoke(direct("boom", json!("fine"))).await.unwrap();
        assert_eq!(ok.into_json()["Payload"], "fine");
        let u = w.usage(EXEC).unwrap();
        // The crashed environment was discarded: the second call was cold too.
        assert_eq!(
            (u.functions["boom"].errors, u.functions["boom"].cold_starts),
            (1, 2)
        );
    });
}

#[test]
fn function_errors_have_aws_shape_on_both_integrations() {
    let sim = simulation(
            registry(
                "[functions.raiser]\nhandler = \"raise\"\n[functions.raiser.params]\n\
                 error_type = \"CustomException\"\nstack_trace = [\"  File \\\"/var/task/handler.py\\\", line 9\"]\n",
            ),
            LambdaSettings::without_latency(),
        );
    let w = sim.world();
    sim.block_on(async {
        for c in [
            direct("raiser", Value::Null),
            optimized(json!({"FunctionName": "raiser", "Payload": null})),
        ] {
            let err = w.invoke(c).await.unwrap_err();
            assert_eq!(err.error, "CustomException");
            let cause: Value = serde_json::from_str(&err.cause).unwrap();
            let keys: Vec<&str> = cause
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                ["errorMessage", "errorType", "requestId", "stackTrace"]
            );
            assert_eq!(cause["errorMessage"], "");
            assert_eq!(
                cause["stackTrace"][0],
                "  File \"/var/task/handler.py\", line 9"
            );
            assert_eq!(cause["requestId"].as_str().unwrap().len(), 36);
        }
        let u = w.usage(EXEC).unwrap();
        assert_eq!(u.functions["raiser"].errors, 2);
        assert!(u
            .logs
            .iter()
            .any(|l| l.message == "[ERROR] CustomException: "));
    });
}

#[test]
fn optimized_integration_response_and_payload_rules() {
    let sim = simulation(
            registry(
                "[functions.id]\nhandler = \"identity\"\n\
                 [functions.raw]\nhandler = \"raw_payload\"\n[functions.raw.params]\npayload = '\"HelloWorld!\"'\n",
            ),
            LambdaSettings::without_latency(),
        );
    let w = sim.world();
    sim.block_on(async {
        // Null payload: the function receives {} (corpus: test_lambda_task_service.test_invoke).
        let out = w
            .invoke(optimized(json!({"FunctionName": "id", "Payload": null})))
            .await
            .unwrap()
            .into_json();
        assert_eq!(out["Payload"], json!({}));
        assert_eq!(out["StatusCode"], 200);
        assert_eq!(out["ExecutedVersion"], "$LATEST");
        let rid = out["SdkResponseMetadata"]["RequestId"].as_str().unwrap();
        assert_eq!(
            out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
            rid
        );
        assert_eq!(out["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"], "2");
        assert_eq!(
            out["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"],
            json!(["application/json"])
        );
        assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], 200);
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ExecutedVersion",
                "Payload",
                "SdkHttpMetadata",
                "SdkResponseMetadata",
                "StatusCode"
            ]
        );
        // A string payload is the raw request body (corpus: test_invoke_json_values).
        for (payload, expect) in [
            ("0", json!(0)),
            ("\"HelloWorld\"", json!("HelloWorld")),
            ("true", json!(true)),
            ("0.0", json!(0.0)),
        ] {
            let out = w
                .invoke(optimized(json!({"FunctionName": "id", "Payload": payload})))
                .await
                .unwrap()
                .into_json();
            assert_eq!(out["Payload"], expect);
        }
        let err = w
            .invoke(optimized(
                json!({"FunctionName": "id", "Payload": "not json"}),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.error, "Lambda.InvalidRequestContentException");
        // A direct ARN passes the value as is.
        let out = w
            .invoke(direct("id", json!("HelloWorld")))
            .await
            .unwrap()
            .into_json();
        assert_eq!(out["Payload"], "HelloWorld");
        // Raw bytes that are JSON text come back as that value (test_invoke_bytes_payload).
        let out = w
            .invoke(direct("raw", json!({})))
            .await
            .unwrap()
            .into_json();
        assert_eq!(out["Payload"], "HelloWorld!");
        // Full ARNs, qualifiers and partial ARNs name the same function.
        for name in [
            "arn:aws:lambda:us-east-1:111111111111:function:id",
            "id:$LATEST",
            "111111111111:function:id",
        ] {
            assert!(
                w.invoke(optimized(json!({"FunctionName": name, "Payload": {}})))
                    .await
                    .is_ok(),
                "{name}"
            );
        }
        let out = w
            .invoke(optimized(
                json!({"FunctionName": "id", "Payload": {}, "InvocationType": "Event"}),
            ))
            .await
            .unwrap()
            .into_json();
        assert_eq!(out["StatusCode"], 202);
    });
}

#[test]
fn unknown_functions_and_bad_names() {
    let sim = Simulation::builder()
        .account("111111111111")
        .functions(registry("[functions.f]\nhandler = \"identity\"\n"))
        .build()
        .unwrap();
    let w = sim.world();
    sim.block_on(async {
        let err = w.invoke(optimized(json!({"FunctionName": "no_such_lambda_func_u01", "Payload": null}))).await.unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");
        // The corpus text, with its request id placeholder.
        let prefix = "Function not found: arn:aws:lambda:us-east-1:111111111111:function:no_such_lambda_func_u01:$LATEST \
                      (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ";
        assert!(err.cause.starts_with(prefix) && err.cause.ends_with("; Proxy: null)"), "{}", err.cause);
        let err = w.invoke(optimized(json!({"FunctionName": "bad name!"}))).await.unwrap_err();
        assert_eq!(err.error, "Lambda.AWSLambdaException");
        let err = w.invoke(optimized(json!({"FunctionName": 3}))).await.unwrap_err();
        assert_eq!(err.error, "Lambda.AWSLambdaException");
        // Without FunctionName there is no invocation to make: refused before any call.
        let err = LambdaInvoke::from_parameters(json!({"Payload": 1})).unwrap_err();
        assert_eq!(err.error, "States.TaskFailed");
    });
}

#[test]
fn compute_is_scaled_by_memory() {
    let mut reg = FunctionRegistry::new();
    for (name, mb) in [("small", 128), ("one_vcpu", 1769), ("big", 10240)] {
        let config = FunctionConfig {
            memory_mb: mb,
            timeout: Duration::from_secs(900),
            provisioned_concurrency: 1,
            ..FunctionConfig::default()
        };
        reg.register(
            name,
            config,
            async_handler_fn(async |_event: Value, ctx: &mut Invocation| {
                let t0 = ctx.now();
                ctx.compute(1.0).await;
                let parallel = (ctx.now() - t0).num_milliseconds();
                let t1 = ctx.now();
                ctx.compute_threads(1.0, 1).await;
                let single = (ctx.now() - t1).num_milliseconds();
                Ok::<_, FunctionError>(json!([parallel, single]))
            }),
        )
        .unwrap();
    }
    let sim = simulation(reg, LambdaSettings::without_latency());
    let w = sim.world();
    sim.block_on(async {
        let ms = |v: &Value| (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
        let small = w
            .invoke(direct("small", Value::Null))
            .await
            .unwrap()
            .into_json();
        // 1,769 / 128 = 13.82x slower than one vCPU (tokio timers resolve to 1 ms).
        assert!(
            (13_819..=13_821).contains(&ms(&small["Payload"]).0),
            "{small}"
        );
        let one = w
            .invoke(direct("one_vcpu", Value::Null))
            .await
            .unwrap()
            .into_json();
        assert_eq!(ms(&one["Payload"]), (1000, 1000));
        let big = w
            .invoke(direct("big", Value::Null))
            .await
            .unwrap()
            .into_json();
        // 10,240 MB = 5.79 vCPUs; single-threaded work gets one.
        assert_eq!(ms(&big["Payload"]), (173, 1000));
        // Provisioned: no cold start.
        assert_eq!(w.usage(EXEC).unwrap().functions["big"].cold_starts, 0);
    });
}

#[test]
fn handler_cpu_ms_is_charged_at_the_cpu_share_inside_the_timeout() {
    let sim = simulation(
        registry(
            "[functions.small]\nhandler = \"identity\"\nhandler_cpu_ms = 100\n\
                 provisioned_concurrency = 1\n\
                 [functions.vcpu]\nhandler = \"identity\"\nhandler_cpu_ms = 100\n\
                 memory_mb = 1769\nprovisioned_concurrency = 1\n\
                 [functions.tight]\nhandler = \"identity\"\nhandler_cpu_ms = 100.5\n\
                 timeout_seconds = 1\nprovisioned_concurrency = 1\n\
                 [functions.plain]\nhandler = \"identity\"\nprovisioned_concurrency = 1\n",
        ),
        LambdaSettings::without_latency(),
    );
    let w = sim.world();
    sim.block_on(async {
        let mut took = Vec::new();
        for f in ["small", "vcpu", "plain"] {
            let t0 = w.now();
            let out = w.invoke(direct(f, json!({"f": f}))).await.unwrap();
            // The handler still runs, after the fixed work.
            assert_eq!(out.into_json()["Payload"], json!({"f": f}));
            took.push(elapsed_ms(w, t0));
        }
        // 100 CPU-ms at 128/1769 of a vCPU is 1,382.03 ms (tokio timers resolve to 1 ms); at
        // one vCPU 100 ms; nothing without it.
        assert!((1382..=1383).contains(&took[0]), "{took:?}");
        assert_eq!(took[1..], [100, 0]);
        let u = w.usage(EXEC).unwrap();
        assert!((u.functions["small"].duration_ms - 1382.0).abs() <= 1.0);
        assert!((1382..=1383).contains(&u.functions["small"].billed_ms));
        // It counts against the timeout like any handler time: 1,389 ms > 1 s.
        let err = w.invoke(direct("tight", Value::Null)).await.unwrap_err();
        assert_eq!(err.error, "Sandbox.Timedout");
    });
    // Bad values are refused with the key named.
    for (value, needle) in [
        ("-1", "from 0 to 900000"),
        ("nan", "from 0 to 900000"),
        ("1e9", "from 0 to 900000"),
        ("\"fast\"", "expected a number, found string"),
    ] {
        let text = format!("[functions.f]\nhandler = \"identity\"\nhandler_cpu_ms = {value}\n");
        let e = FunctionRegistry::from_toml_str(&text, "functions.toml", &default_catalog())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("handler_cpu_ms") && e.contains(needle),
            "{value}: {e}"
        );
    }
}

#[test]
fn handler_context_and_memory_report() {
    let mut reg = FunctionRegistry::new();
    reg.register(
        "ctx",
        FunctionConfig {
            memory_mb: 512,
            ..FunctionConfig::default()
        },
        handler_fn(|_event: Value, ctx: &mut Invocation| {
            ctx.log("hello from the handler");
            ctx.use_memory_mb(300);
            ctx.use_memory_mb(100);
            let r = ctx.rng().next_u64();
            Ok(json!({
                "name": ctx.function_name(),
                "cold": ctx.is_cold_start(),
                "remaining_ms": ctx.remaining_time().as_millis() as u64,
                "memory": ctx.config().memory_mb,
                "exec": ctx.execution_arn(),
                "rid_len": ctx.request_id().len(),
                "r": r.to_string(),
            }))
        }),
    )
    .unwrap();
    let sim = simulation(reg, LambdaSettings::without_latency());
    let w = sim.world();
    sim.block_on(async {
        let a = w
            .invoke(direct("ctx", Value::Null))
            .await
            .unwrap()
            .into_json()["Payload"]
            .clone();
        let b = w
            .invoke(direct("ctx", Value::Null))
            .await
            .unwrap()
            .into_json()["Payload"]
            .clone();
        assert_eq!(a["name"], "ctx");
        assert_eq!(
            (a["cold"].clone(), b["cold"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(a["remaining_ms"], 3000);
        assert_eq!(a["exec"], EXEC);
        assert_eq!(a["rid_len"], 36);
        assert_ne!(a["r"], b["r"], "each invocation has its own random stream");
        let u = w.usage(EXEC).unwrap();
        assert!(u
            .logs
            .iter()
            .any(|l| l.message == "hello from the handler" && l.function == "ctx"));
        assert!(u
            .report_lines()
            .all(|l| l.message.contains("Max Memory Used: 340 MB")));
    });
}

#[test]
fn dropped_invocation_releases_its_slot() {
    let sim = simulation(
        registry(
            "[functions.f]\nhandler = \"sleep\"\nreserved_concurrency = 1\ntimeout_seconds = 100\n\
                 [functions.f.params]\nseconds = 60\n",
        ),
        LambdaSettings::without_latency(),
    );
    let w = sim.world();
    sim.block_on(async {
        // A Task TimeoutSeconds of 5 s: the engine drops the call.
        let r =
            tokio::time::timeout(Duration::from_secs(5), w.invoke(direct("f", Value::Null))).await;
        assert!(r.is_err());
        assert_eq!(w.in_flight("f"), Some(0));
        let u = w.usage(EXEC).unwrap();
        assert_eq!(u.functions["f"].invocations, 1);
        assert!(
            u.functions["f"].billed_ms >= 4_800,
            "{}",
            u.functions["f"].billed_ms
        );
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(w.in_flight("f"), Some(0));
        assert!(w.invoke(direct("f", Value::Null)).await.is_ok());
    });
}

#[test]
fn child_executions_are_charged_to_their_parent() {
    let sim = simulation(
        registry("[functions.f]\nhandler = \"identity\"\n"),
        LambdaSettings::without_latency(),
    );
    let w = sim.world();
    sim.block_on(async {
        w.begin_execution(EXEC, stepsim::sim::WorkflowKind::Standard);
        for child in [
            format!("{EXEC}/map:1"),
            format!("{EXEC}:iter-2"),
            EXEC.to_string(),
            // A Distributed Map child, named as the engine (and AWS) names them.
            "arn:aws:states:us-east-1:123456789012:execution:sm/Map:run1-0b3ea7c4-4c7a-4bb0-9d47-2f4c6d0e8a11"
                .to_string(),
            // A nested child whose ARN says nothing about its parent: the open execution.
            "arn:aws:states:us-east-1:123456789012:express:sm/Inner:abc-0b3ea7c4-4c7a-4bb0-9d47-2f4c6d0e8a11:x"
                .to_string(),
        ] {
            let mut c = direct("f", json!(1));
            c.context.execution_arn = child;
            w.invoke(c).await.unwrap();
        }
        w.end_execution(EXEC);
        let other = "arn:aws:states:us-east-1:123456789012:execution:sm:other";
        let mut c = direct("f", json!(1));
        c.context.execution_arn = other.into();
        w.invoke(c).await.unwrap();
        assert_eq!(w.usage(EXEC).unwrap().functions["f"].invocations, 5);
        assert_eq!(w.executions().len(), 2);
        // Environments stay warm across executions.
        assert_eq!(w.usage(other).unwrap().functions["f"].cold_starts, 0);
        let taken = w.take_usage(other).unwrap();
        assert_eq!(taken.functions["f"].invocations, 1);
        assert_eq!(w.executions(), [EXEC]);
    });
}

fn fault_pattern(seed: u64) -> Vec<String> {
    let faults = FaultPlan::from_toml_str(
        "[functions.f]\nerror_rate = 0.3\nerror_type = \"Lambda.ServiceException\"\n\
             [functions.g]\nerror_rate = 0.3\nerror_type = \"MyError\"\nerror_message = \"boom\"\n\
             [[throttle_bursts]]\nfunction = \"f\"\nstart_seconds = 5\nduration_seconds = 2\n",
    )
    .unwrap();
    let sim = Simulation::builder()
        .seed(seed)
        .functions(registry(
            "[functions.f]\nhandler = \"identity\"\n[functions.g]\nhandler = \"identity\"\n",
        ))
        .faults(faults)
        .lambda_settings(LambdaSettings::without_latency())
        .build()
        .unwrap();
    let w = sim.world();
    sim.block_on(async {
        let mut out = Vec::new();
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            for f in ["f", "g"] {
                out.push(match w.invoke(direct(f, json!(i))).await {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e.error,
                });
            }
        }
        out
    })
}

#[test]
fn fault_injection_is_deterministic() {
    let a = fault_pattern(1);
    assert_eq!(a, fault_pattern(1));
    assert_ne!(a, fault_pattern(2));
    let count = |s: &str| a.iter().filter(|x| x.as_str() == s).count();
    assert!(count("Lambda.ServiceException") > 2);
    assert!(count("MyError") > 2);
    // The 2 s throttle window covers 8 calls of f (one every 250 ms).
    assert_eq!(count("Lambda.TooManyRequestsException"), 8);
    // Calls of f inside the window (t = 5.0 .. 6.75 s) are all throttled.
    for i in 19..27 {
        assert_eq!(a[2 * i], "Lambda.TooManyRequestsException", "call {i}");
    }
}
