//! Smoke tests of the world model under the real interpreter: a Map whose Lambda calls are
//! throttled by reserved concurrency (absorbed by a Retry, or failing the execution without
//! one), a Task timeout shorter than the function's, and a Distributed Map whose child
//! executions' calls are charged to the parent.

use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::handlers::default_catalog;
use stepsim::sim::{FunctionRegistry, RunReport, Simulation};

const FUNCTIONS: &str = r#"
[functions.work]
handler = "sleep"
reserved_concurrency = 2
timeout_seconds = 10
[functions.work.params]
seconds = 1
[functions.slow]
handler = "sleep"
timeout_seconds = 30
[functions.slow.params]
seconds = 60
"#;

/// Runs `def` once in a simulation with [`FUNCTIONS`]; the simulation is returned for the
/// world's state after the run.
fn run(def: Value, input: Value) -> (RunReport, Simulation) {
    let plan = Plan::compile(&stepsim::asl::load_value(&def).unwrap()).unwrap();
    let reg =
        FunctionRegistry::from_toml_str(FUNCTIONS, "functions.toml", &default_catalog()).unwrap();
    let sim = Simulation::builder()
        .seed(5)
        .functions(reg)
        .build()
        .unwrap();
    let report = sim.run(&plan, input, &ExecutionOptions::default());
    (report, sim)
}

fn map_of_work(retry: bool) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "work", "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": true
    });
    if retry {
        task["Retry"] = json!([{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 10, "BackoffRate": 1.0}]);
    }
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work", "States": {"Work": task}},
        "End": true
    }}})
}

#[test]
fn retry_absorbs_throttles_from_reserved_concurrency() {
    let (report, _) = run(map_of_work(true), json!({"items": [1, 2, 3, 4, 5]}));
    let out = &report.outcome;
    assert_eq!(
        out.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        out.error,
        out.cause
    );
    assert_eq!(out.output, Some(json!([1, 2, 3, 4, 5])));
    let u = &report.usage;
    assert_eq!(u.functions["work"].invocations, 5);
    assert!(
        u.functions["work"].throttles >= 3,
        "{:?}",
        u.functions["work"]
    );
    assert_eq!(
        u.functions["work"].cold_starts, 2,
        "only two environments ever ran"
    );
    let bill = &report.bill;
    assert_eq!(
        bill.line("sfn.transitions").unwrap().quantity as u64,
        out.transitions
    );
    assert_eq!(bill.line("lambda.requests").unwrap().quantity, 5.0);
}

#[test]
fn without_retry_the_throttle_fails_the_execution() {
    let out = run(map_of_work(false), json!({"items": [1, 2, 3, 4, 5]}))
        .0
        .outcome;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error.as_deref(),
        Some("Lambda.TooManyRequestsException")
    );
    assert!(out
        .cause
        .unwrap()
        .starts_with("Rate Exceeded. (Service: AWSLambda; Status Code: 429"));
}

#[test]
fn task_timeout_shorter_than_the_function() {
    // The corpus case errors/test_task_service_lambda.test_invoke_timeout.
    let def = json!({"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 5,
                  "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"},
                  "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "EndWithHandler"}], "Next": "EndWithFinal"},
        "EndWithHandler": {"Type": "Pass", "ResultPath": "$.error", "End": true},
        "EndWithFinal": {"Type": "Pass", "ResultPath": "$.final", "End": true}}});
    let (report, sim) = run(def, json!({"FunctionName": "slow", "Payload": null}));
    let out = report.outcome;
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(
        out.output,
        Some(
            json!({"Error": "States.Timeout", "Cause": "", "error": {"Error": "States.Timeout", "Cause": ""}})
        )
    );
    assert_eq!(out.duration().as_secs(), 5);
    // The world released the slot when the engine gave up.
    assert_eq!(sim.world().in_flight("slow"), Some(0));
}

#[test]
fn distributed_map_children_are_charged_to_the_parent() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "Fan",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true}}},
        "End": true}}});
    let (report, sim) = run(def, json!({"items": [1, 2]}));
    let out = &report.outcome;
    assert_eq!(
        out.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        out.error,
        out.cause
    );
    // Everything was charged to the parent: the run took the parent's usage out of the ledger
    // and no child execution left usage of its own behind.
    assert_eq!(report.usage.execution_arn, out.execution_arn);
    assert!(
        sim.world().executions().is_empty(),
        "{:?}",
        sim.world().executions()
    );
    assert_eq!(report.usage.functions["work"].invocations, 2);
}
