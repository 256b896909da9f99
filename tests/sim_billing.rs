//! Bills computed from simulated runs: worked examples checked against hand calculations to the
//! pico-dollar, the CAI paper's table in both memory modes, the INIT billing rules, and
//! byte-identical output for identical seeds.

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::engine::{CallContext, ServiceCall, TaskInvoker};
use stepsim::handlers::default_catalog;
use stepsim::sim::{
    async_handler_fn, Bill, BillingOptions, FaultPlan, FunctionConfig, FunctionError,
    FunctionRegistry, InitBilling, Invocation, MemoryBasis, Money, PackageType, Simulation,
    WorkflowKind,
};

mod support;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:sm:bill";

fn call(service: &str, action: &str, parameters: Value, exec: &str) -> ServiceCall {
    let context = CallContext {
        execution_arn: exec.into(),
        state_name: "S".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource(
        &format!("arn:aws:states:::{service}:{action}"),
        parameters,
        context,
    )
    .expect("a valid call")
}

/// A handler that sleeps `event.ms` milliseconds and reports `event.mb` extra memory.
fn sleeper(config: FunctionConfig, name: &str, reg: &mut FunctionRegistry) {
    reg.register(
        name,
        config,
        async_handler_fn(async |event: Value, ctx: &mut Invocation| {
            ctx.use_memory_mb(event["mb"].as_u64().unwrap_or(0));
            ctx.sleep(Duration::from_millis(event["ms"].as_u64().unwrap_or(0)))
                .await;
            Ok::<_, FunctionError>(Value::Null)
        }),
    )
    .unwrap();
}

fn warm(memory_mb: u32, provisioned: u32) -> FunctionConfig {
    FunctionConfig {
        memory_mb,
        timeout: Duration::from_secs(900),
        provisioned_concurrency: provisioned,
        ..FunctionConfig::default()
    }
}

/// Standard, by hand (provisioned functions, so no INIT; no invoke latency):
/// - 9 transitions × 25,000,000 p$ = 225,000,000 p$
/// - 4 Lambda requests × 200,000 p$ = 800,000 p$
/// - 128 MB × (101 + 57 + 1,234) ms + 1,024 MB × 250 ms = 434,176 MB·ms = 0.424 GB-s;
///   × 16,666,700 p$ = 7,066,680.8 → 7,066,681 p$
/// - S3: 2 GETs × 400,000 = 800,000 p$; 1 PUT + 1 LIST × 5,000,000 = 10,000,000 p$
/// - total: 243,666,681 p$ ($0.000243666681)
#[test]
fn standard_worked_example_through_the_world() {
    let mut reg = FunctionRegistry::new();
    sleeper(warm(128, 1), "small", &mut reg);
    sleeper(warm(1024, 1), "large", &mut reg);
    let sim = support::simulation(reg);
    let w = sim.world();
    sim.block_on(async {
        w.begin_execution(EXEC, WorkflowKind::Standard);
        for ms in [101, 57, 1234] {
            w.invoke_function("small", json!({"ms": ms}), EXEC)
                .await
                .unwrap();
        }
        w.invoke_function("large", json!({"ms": 250}), EXEC)
            .await
            .unwrap();
        w.store().create_bucket("bkt").await.unwrap();
        w.invoke(call(
            "s3",
            "putObject",
            json!({"Bucket": "bkt", "Key": "k", "Body": "v"}),
            EXEC,
        ))
        .await
        .unwrap();
        for _ in 0..2 {
            w.invoke(call(
                "s3",
                "getObject",
                json!({"Bucket": "bkt", "Key": "k"}),
                EXEC,
            ))
            .await
            .unwrap();
        }
        w.invoke(call("s3", "listObjectsV2", json!({"Bucket": "bkt"}), EXEC))
            .await
            .unwrap();
        w.record_transitions(EXEC, 9);

        let bill = w.bill(EXEC, &BillingOptions::default()).unwrap();
        let amount = |c: &str| bill.line(c).unwrap().amount.picodollars();
        assert_eq!(amount("sfn.transitions"), 225_000_000);
        assert_eq!(amount("lambda.requests"), 800_000);
        assert_eq!(amount("lambda.duration.x86_64"), 7_066_681);
        assert_eq!(amount("s3.get"), 800_000);
        assert_eq!(amount("s3.put"), 10_000_000);
        assert_eq!(bill.total, Money::from_picodollars(243_666_681));
        assert_eq!(bill.total.to_string(), "$0.000243666681");
        // The REPORT lines agree with what was billed.
        let u = w.usage(EXEC).unwrap();
        let billed: Vec<&str> = u
            .report_lines()
            .map(|l| {
                l.message
                    .split("Billed Duration: ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(billed, ["101", "57", "1234", "250"]);
        let json = serde_json::to_value(&bill).unwrap();
        assert_eq!(json["total_picodollars"], 243_666_681);
        assert_eq!(json["total_usd"], "0.000243666681");
    });
}

/// Express, by hand: 1 request = 1,000,000 p$; 130 MB → 192 MB, 1,234 ms → 1,300 ms:
/// 249,600 MB·ms = 0.24375 GB-s × 16,670,000 p$ = 4,063,312.5 → 4,063,313 p$;
/// plus one 128 MB Lambda call billed 300 ms: 200,000 p$ + 38,400 MB·ms × 16,666,700 / 1,024,000
/// = 625,001.25 → 625,001 p$. Total 5,888,314 p$.
#[test]
fn express_worked_example_through_the_world() {
    let mut reg = FunctionRegistry::new();
    sleeper(warm(128, 1), "f", &mut reg);
    let sim = support::simulation(reg);
    let w = sim.world();
    sim.block_on(async {
        let arn = "arn:aws:states:us-east-1:123456789012:express:sm:run:0f8c";
        w.invoke_function("f", json!({"ms": 300}), arn)
            .await
            .unwrap();
        w.record_transitions(arn, 12);
        w.record_express(arn, Duration::from_millis(1234), 130);
        let bill = w.bill(arn, &BillingOptions::default()).unwrap();
        assert!(bill.line("sfn.transitions").is_none());
        assert_eq!(
            bill.line("sfn.express.requests")
                .unwrap()
                .amount
                .picodollars(),
            1_000_000
        );
        assert_eq!(
            bill.line("sfn.express.duration")
                .unwrap()
                .amount
                .picodollars(),
            4_063_313
        );
        assert_eq!(
            bill.line("lambda.duration.x86_64")
                .unwrap()
                .amount
                .picodollars(),
            625_001
        );
        assert_eq!(bill.total.picodollars(), 5_888_314);
    });
}

/// The CAI paper's cost table (CALIBRATION.md, "The COSMIC-AI workload"): 517 invocations of
/// 5.70 s at 2.8 GB max memory used, on 10,240 MB functions.
///
/// By hand, on AWS's price ($0.0000166667 per GB-s) plus $0.20 per million requests:
/// - max-memory mode: 517 × 5,700 ms × 2,867 MB = 8,448,762,300 MB·ms = 8,250.744 GB-s
///   → 137,512,682,251 p$, plus 103,400,000 p$ of requests = $0.137616
/// - configured memory: 517 × 5,700 ms × 10,240 MB = 29,469 GB-s → 491,150,982,300 p$,
///   plus requests = $0.491254
///
/// CALIBRATION.md quotes the paper's table as "about $0.16" and "about $1.09" for this run. The
/// same inputs at AWS's published price give $0.138 and $0.491, so those two figures include
/// something the stated inputs do not ($1.09 at 10 GB would need 12.7 s per invocation). The
/// model reproduces the published *method*, and says which memory basis each bill uses.
#[test]
fn cai_table_in_both_memory_modes() {
    let mut reg = FunctionRegistry::new();
    // Provisioned, so that no INIT enters the comparison (the paper priced run time only).
    sleeper(warm(10_240, 517), "executor", &mut reg);
    let sim = support::simulation(reg);
    let w = sim.world();
    sim.block_on(async {
        // 2.8 GB = 2,867 MB max used = the Python baseline (40 MB) + 2,827 MB.
        let calls =
            (0..517).map(|_| w.invoke_function("executor", json!({"ms": 5700, "mb": 2827}), EXEC));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| r.is_ok()));
        // All 517 ran at once: the run took 5.7 s of simulated time.
        let u = w.usage(EXEC).unwrap();
        assert_eq!(u.functions["executor"].invocations, 517);
        assert!(u
            .report_lines()
            .all(|l| l.message.contains("Max Memory Used: 2867 MB")));

        let max_used = w
            .bill(
                EXEC,
                &BillingOptions {
                    memory: MemoryBasis::MaxUsed,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            max_used
                .line("lambda.duration.x86_64")
                .unwrap()
                .amount
                .picodollars(),
            137_512_682_251
        );
        assert_eq!(max_used.total.picodollars(), 137_616_082_251);
        assert!(max_used
            .note
            .as_deref()
            .unwrap()
            .contains("max memory used"));
        assert!(max_used
            .line("lambda.duration.x86_64")
            .unwrap()
            .description
            .contains("max memory used"));

        let configured = w.bill(EXEC, &BillingOptions::default()).unwrap();
        assert_eq!(
            configured
                .line("lambda.duration.x86_64")
                .unwrap()
                .amount
                .picodollars(),
            491_150_982_300
        );
        assert_eq!(configured.total.picodollars(), 491_254_382_300);
        assert!(configured.note.is_none());
        assert_eq!(format!("{:.2}", configured.total.usd()), "0.49");
        assert_eq!(format!("{:.2}", max_used.total.usd()), "0.14");
        // Pricing configured memory costs 10,240 / 2,867 times more duration.
        let ratio = configured.line("lambda.duration.x86_64").unwrap().quantity
            / max_used.line("lambda.duration.x86_64").unwrap().quantity;
        assert!((ratio - 10_240.0 / 2_867.0).abs() < 1e-9);
    });
}

#[test]
fn init_billing_rules() {
    let mut reg = FunctionRegistry::new();
    sleeper(warm(1024, 0), "zip_python", &mut reg);
    sleeper(
        FunctionConfig {
            package_type: PackageType::Image,
            ..warm(1024, 0)
        },
        "image",
        &mut reg,
    );
    sleeper(
        FunctionConfig {
            runtime: "provided.al2023".into(),
            ..warm(1024, 0)
        },
        "custom",
        &mut reg,
    );
    let sim = support::simulation(reg);
    let w = sim.world();
    sim.block_on(async {
        for f in ["zip_python", "image", "custom"] {
            let arn = format!("{EXEC}-{f}");
            w.invoke_function(f, json!({"ms": 1000}), &arn)
                .await
                .unwrap();
            let u = w.usage(&arn).unwrap();
            let init = u.functions[f].init_ms;
            assert!(init > 5.0, "{f}: cold start INIT {init}");
            let gbs = |init: InitBilling| {
                w.bill(
                    &arn,
                    &BillingOptions {
                        init,
                        ..Default::default()
                    },
                )
                .unwrap()
                .line("lambda.duration.x86_64")
                .unwrap()
                .quantity
            };
            let now_rule = gbs(InitBilling::Since2025_08_01);
            let legacy = gbs(InitBilling::Legacy);
            // Since 2025-08-01 INIT is billed for all: 1 GB × (1 s + INIT rounded up to 1 ms).
            assert!(
                (now_rule - (1000.0 + init).ceil() / 1000.0).abs() < 1e-9,
                "{f}"
            );
            if f == "zip_python" {
                // Before, zip + managed runtime had free INIT.
                assert!((legacy - 1.0).abs() < 1e-9, "{f}");
            } else {
                assert_eq!(legacy, now_rule, "{f}");
            }
            let report = &u.report_lines().next().unwrap().message;
            let billed: u64 = report
                .split("Billed Duration: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(billed, (1000.0 + init).ceil() as u64, "{report}");
        }
    });
}

/// A scenario with cold starts, concurrency, throttles, faults, S3 and logs; returns every
/// output a run would print.
fn scenario(seed: u64) -> String {
    let reg = FunctionRegistry::from_toml_str(
        r#"
            [functions.worker]
            handler = "sleep"
            reserved_concurrency = 3
            timeout_seconds = 5
            [functions.worker.params]
            seconds = 0.5
            [functions.flaky]
            handler = "identity"
            runtime = "nodejs22.x"
            package_type = "image"
            "#,
        "functions.toml",
        &default_catalog(),
    )
    .unwrap();
    let faults = FaultPlan::from_toml_str(
            "[functions.flaky]\nerror_rate = 0.3\nerror_type = \"States.Flaky\"\n[s3]\nerror_rate = 0.2\n",
        )
        .unwrap();
    let sim = Simulation::builder()
        .seed(seed)
        .functions(reg)
        .faults(faults)
        .build()
        .unwrap();
    let w = sim.world();
    sim.block_on(async {
        w.store().create_bucket("bkt").await.unwrap();
        w.begin_execution(EXEC, WorkflowKind::Standard);
        let mut outputs = Vec::new();
        for round in 0..3 {
            let calls = (0..5).map(|i| {
                let c = call(
                    "lambda",
                    "invoke",
                    json!({"FunctionName": "worker", "Payload": {"i": i}}),
                    &format!("{EXEC}/map:{i}"),
                );
                w.invoke(c)
            });
            for r in futures::future::join_all(calls).await {
                outputs.push(match r {
                    Ok(o) => o.into_json().to_string(),
                    Err(e) => format!("{}|{}", e.error, e.cause),
                });
            }
            for i in 0..4 {
                let r = w
                    .invoke_function("flaky", json!({"round": round, "i": i}), EXEC)
                    .await;
                outputs.push(format!("{r:?}"));
                let r = w
                    .invoke(call(
                        "s3",
                        "putObject",
                        json!({"Bucket": "bkt", "Key": format!("r{round}/{i}"), "Body": "x"}),
                        EXEC,
                    ))
                    .await;
                outputs.push(format!("{:?}", r.map(|o| o.into_json())));
            }
            tokio::time::sleep(Duration::from_secs(300 * round)).await;
        }
        w.record_transitions(EXEC, 57);
        let u = w.usage(EXEC).unwrap();
        let bill: Bill = w.bill(EXEC, &BillingOptions::default()).unwrap();
        serde_json::to_string(&json!({
            "outputs": outputs,
            "summary": u.summary_json(),
            "logs": u.logs_json(),
            "bill": bill,
        }))
        .unwrap()
    })
}

#[test]
fn identical_bytes_for_identical_seeds() {
    let a = scenario(42);
    let b = scenario(42);
    assert_eq!(a, b);
    assert_ne!(a, scenario(43));
    // The scenario exercised what it meant to.
    let v: Value = serde_json::from_str(&a).unwrap();
    let lambda = &v["summary"]["lambda"];
    assert!(
        lambda["worker"]["throttles"].as_u64().unwrap() > 0,
        "{lambda}"
    );
    assert!(
        lambda["worker"]["cold_starts"].as_u64().unwrap() >= 3,
        "{lambda}"
    );
    assert!(lambda["flaky"]["errors"].as_u64().unwrap() > 0, "{lambda}");
    assert!(v["logs"].as_array().unwrap().len() > 40);
    assert!(v["bill"]["total_picodollars"].as_u64().unwrap() > 0);
}
