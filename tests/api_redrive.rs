//! RedriveExecution over HTTP: an unsuccessful Standard execution continues from the state
//! that failed (or was stopped), keeps its ARN and start date, appends to its history, and
//! reports redriveCount / redriveDate / redriveStatus in DescribeExecution and ListExecutions.
//! The redrive survives a restart with `--state-dir`.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use stepsim::api::ServerConfig;
use stepsim::sim::{handler_fn, FunctionConfig, FunctionError, FunctionRegistry, Invocation};
use support::api::{config, token_functions, types, TestServer};

const WAIT: Duration = Duration::from_secs(20);

/// Counts of the calls each function got.
#[derive(Default)]
struct Calls {
    prepare: AtomicUsize,
    work: AtomicUsize,
}

/// `prepare` always works; `work` fails until `fixed` is set.
fn functions(fixed: Arc<AtomicBool>, calls: Arc<Calls>) -> FunctionRegistry {
    let mut reg = FunctionRegistry::new();
    let c = calls.clone();
    reg.register(
        "prepare",
        FunctionConfig::default(),
        handler_fn(move |event: Value, _ctx: &mut Invocation| {
            c.prepare.fetch_add(1, Ordering::SeqCst);
            Ok(json!({"prepared": event}))
        }),
    )
    .unwrap();
    reg.register(
        "work",
        FunctionConfig::default(),
        handler_fn(move |event: Value, _ctx: &mut Invocation| {
            calls.work.fetch_add(1, Ordering::SeqCst);
            if fixed.load(Ordering::SeqCst) {
                Ok(json!({"worked": event}))
            } else {
                Err(FunctionError::new("Broken", "work is broken"))
            }
        }),
    )
    .unwrap();
    reg
}

fn machine() -> Value {
    let task = |f: &str, next: Option<&str>| {
        let mut t = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": f, "Payload.$": "$"},
            "ResultSelector": {"out.$": "$.Payload"},
            "OutputPath": "$.out"
        });
        match next {
            Some(n) => t["Next"] = json!(n),
            None => t["End"] = json!(true),
        }
        t
    };
    json!({"StartAt": "Prepare", "States": {
        "Prepare": task("prepare", Some("Work")),
        "Work": task("work", Some("Report")),
        "Report": {"Type": "Pass", "Parameters": {"result.$": "$", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}
    }})
}

struct Setup {
    server: TestServer,
    fixed: Arc<AtomicBool>,
    calls: Arc<Calls>,
    machine: String,
}

async fn setup(adjust: impl FnOnce(&mut ServerConfig)) -> Setup {
    let fixed = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(Calls::default());
    let mut c = config();
    c.functions = functions(fixed.clone(), calls.clone());
    adjust(&mut c);
    let server = TestServer::start(c);
    let machine = server.create_machine("flow", &machine()).await;
    Setup {
        server,
        fixed,
        calls,
        machine,
    }
}

fn ids_are_consecutive(h: &[Value]) {
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e["id"], json!(i as u64 + 1), "{e}");
        assert_eq!(e["previousEventId"], json!(i as u64), "{e}");
    }
}

#[tokio::test]
async fn a_failed_execution_is_redriven_from_the_failed_state() {
    let s = setup(|_| {}).await;
    let t = &s.server;
    let arn = t.start_exec(&s.machine, "run-1", &json!({"n": 7})).await;
    let first = t.wait_end(&arn, WAIT).await;
    assert_eq!(first["status"], "FAILED");
    assert_eq!(first["error"], "Broken");
    assert_eq!(first["redriveCount"], 0);
    assert_eq!(first["redriveStatus"], "REDRIVABLE");
    assert!(first.get("redriveStatusReason").is_none());
    assert!(first.get("redriveDate").is_none());
    let first_history = t.history(&arn).await;

    s.fixed.store(true, Ordering::SeqCst);
    let r = t.ok("RedriveExecution", json!({"executionArn": arn})).await;
    let date = r["redriveDate"].as_f64().expect("a redriveDate");
    assert!(date >= first["stopDate"].as_f64().unwrap());
    let done = t.wait_end(&arn, WAIT).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        done["startDate"], first["startDate"],
        "the start date stays"
    );
    assert_eq!(done["redriveCount"], 1);
    assert_eq!(done["redriveDate"].as_f64(), Some(date));
    assert_eq!(done["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        done["redriveStatusReason"],
        "Execution is SUCCEEDED and cannot be redriven."
    );
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["redrives"], 1, "$$.Execution.RedriveCount");
    assert_eq!(
        output["result"]["worked"]["prepared"],
        json!({"n": 7}),
        "Work got Prepare's output from the first attempt"
    );
    assert_eq!(
        s.calls.prepare.load(Ordering::SeqCst),
        1,
        "Prepare is not rerun"
    );
    assert_eq!(s.calls.work.load(Ordering::SeqCst), 2);

    // The history goes on from the first attempt's.
    let h = t.history(&arn).await;
    assert_eq!(&h[..first_history.len()], &first_history[..]);
    ids_are_consecutive(&h);
    let ty = types(&h);
    let at = first_history.len();
    assert_eq!(ty[at - 1], "ExecutionFailed");
    assert_eq!(ty[at], "ExecutionRedriven");
    assert_eq!(h[at]["executionRedrivenEventDetails"]["redriveCount"], 1);
    assert_eq!(ty[at + 1], "TaskStateEntered");
    assert_eq!(h[at + 1]["stateEnteredEventDetails"]["name"], "Work");
    assert_eq!(ty.last().unwrap(), "ExecutionSucceeded");

    // Listed as redriven.
    let list = |filter: &str| json!({"stateMachineArn": s.machine, "redriveFilter": filter});
    let redriven = t.ok("ListExecutions", list("REDRIVEN")).await;
    assert_eq!(redriven["executions"].as_array().unwrap().len(), 1);
    assert_eq!(redriven["executions"][0]["redriveCount"], 1);
    assert_eq!(
        redriven["executions"][0]["redriveDate"].as_f64(),
        Some(date)
    );
    // The web console says so too.
    let console: Value = t
        .client
        .get(format!("{}/console/api/executions", t.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(console["executions"][0]["redriveCount"], 1, "{console}");
    let not = t.ok("ListExecutions", list("NOT_REDRIVEN")).await;
    assert!(not["executions"].as_array().unwrap().is_empty());
    let e = t.err("ListExecutions", list("SOMETIMES")).await;
    assert_eq!(e.code, "ValidationException");

    // A succeeded execution, an unknown one, a bad token.
    let e = t
        .err("RedriveExecution", json!({"executionArn": arn}))
        .await;
    assert_eq!(e.code, "ExecutionNotRedrivable");
    assert!(e.message.contains("SUCCEEDED"), "{}", e.message);
    let missing = arn.replace("run-1", "nope");
    let e = t
        .err("RedriveExecution", json!({"executionArn": missing}))
        .await;
    assert_eq!(e.code, "ExecutionDoesNotExist");
    let e = t
        .err(
            "RedriveExecution",
            json!({"executionArn": arn, "clientToken": "x".repeat(65)}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");

    // A failed execution of a deleted machine is not redrivable.
    s.fixed.store(false, Ordering::SeqCst);
    let broken = t.start_exec(&s.machine, "run-2", &json!({"n": 8})).await;
    assert_eq!(t.wait_end(&broken, WAIT).await["status"], "FAILED");
    t.ok("DeleteStateMachine", json!({"stateMachineArn": s.machine}))
        .await;
    let d = t.describe(&broken).await;
    assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        d["redriveStatusReason"],
        "State machine is in DELETING status."
    );
    let e = t
        .err("RedriveExecution", json!({"executionArn": broken}))
        .await;
    assert_eq!(e.code, "ExecutionNotRedrivable");
}

#[tokio::test]
async fn a_client_token_answers_its_redrive_again_and_a_new_one_redrives_again() {
    let s = setup(|_| {}).await;
    let t = &s.server;
    let arn = t.start_exec(&s.machine, "run-2", &json!({})).await;
    t.wait_end(&arn, WAIT).await;
    let first = t
        .ok(
            "RedriveExecution",
            json!({"executionArn": arn, "clientToken": "t1"}),
        )
        .await;
    let d = t.wait_end(&arn, WAIT).await;
    assert_eq!(d["status"], "FAILED", "still broken");
    assert_eq!(d["redriveCount"], 1);
    assert_eq!(d["redriveStatus"], "REDRIVABLE");
    let again = t
        .ok(
            "RedriveExecution",
            json!({"executionArn": arn, "clientToken": "t1"}),
        )
        .await;
    assert_eq!(again["redriveDate"], first["redriveDate"]);
    assert_eq!(t.describe(&arn).await["redriveCount"], 1, "nothing started");

    s.fixed.store(true, Ordering::SeqCst);
    t.ok(
        "RedriveExecution",
        json!({"executionArn": arn, "clientToken": "t2"}),
    )
    .await;
    let d = t.wait_end(&arn, WAIT).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["redriveCount"], 2);
    let h = t.history(&arn).await;
    ids_are_consecutive(&h);
    let redriven: Vec<&Value> = h
        .iter()
        .filter(|e| e["type"] == "ExecutionRedriven")
        .collect();
    assert_eq!(redriven.len(), 2);
    assert_eq!(
        redriven[1]["executionRedrivenEventDetails"]["redriveCount"],
        2
    );
    assert_eq!(s.calls.work.load(Ordering::SeqCst), 3);
    assert_eq!(s.calls.prepare.load(Ordering::SeqCst), 1);
}

/// A machine whose task waits for its token (handed to the `notify` function).
#[tokio::test]
async fn a_stopped_execution_is_redriven_at_the_task_it_was_waiting_in() {
    let (reg, rx) = token_functions();
    let mut c = config();
    c.functions = reg;
    let t = TestServer::start(c);
    let def = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": "one", "ResultPath": "$.first", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
            "ResultPath": "$.approved", "End": true}
    }});
    let sm = t.create_machine("approve", &def).await;
    let arn = t.start_exec(&sm, "stopped", &json!({})).await;
    let first_token = rx.recv_timeout(WAIT).unwrap();
    t.ok("StopExecution", json!({"executionArn": arn})).await;
    let d = t.wait_end(&arn, WAIT).await;
    assert_eq!(d["status"], "ABORTED");
    assert_eq!(d["redriveStatus"], "REDRIVABLE", "{d}");

    t.ok("RedriveExecution", json!({"executionArn": arn})).await;
    assert_eq!(t.describe(&arn).await["status"], "RUNNING");
    let running = t.describe(&arn).await;
    assert_eq!(running["redriveCount"], 1);
    assert_eq!(running["redriveStatus"], "NOT_REDRIVABLE");
    let token = rx.recv_timeout(WAIT).expect("the task runs again");
    assert_ne!(token, first_token, "a new token for the new attempt");
    // While it waits, the history shows the first attempt and the redrive.
    let h = t.history(&arn).await;
    let ty = types(&h);
    assert!(ty.contains(&"ExecutionAborted".to_string()));
    assert_eq!(ty.last().unwrap(), "ExecutionRedriven", "{ty:?}");
    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"yes\":true}"}),
    )
    .await;
    let d = t.wait_end(&arn, WAIT).await;
    assert_eq!(d["status"], "SUCCEEDED");
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(out, json!({"first": "one", "approved": {"yes": true}}));
    let h = t.history(&arn).await;
    ids_are_consecutive(&h);
    let passes = types(&h)
        .iter()
        .filter(|t| *t == "PassStateEntered")
        .count();
    assert_eq!(passes, 1, "First is not rerun");
}

#[tokio::test]
async fn a_redrive_and_its_resume_point_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(|c| c.state_dir = Some(dir.path().to_path_buf())).await;
    let arn = s
        .server
        .start_exec(&s.machine, "kept", &json!({"k": 1}))
        .await;
    let failed = s.server.wait_end(&arn, WAIT).await;
    assert_eq!(failed["status"], "FAILED");
    let Setup {
        server,
        fixed,
        calls,
        ..
    } = s;
    drop(server);

    // After a restart the failed execution can still be redriven from its failed state.
    let mut c = config();
    c.functions = functions(fixed.clone(), calls.clone());
    c.state_dir = Some(dir.path().to_path_buf());
    let t = TestServer::start(c.clone());
    let d = t.describe(&arn).await;
    assert_eq!(d["redriveStatus"], "REDRIVABLE", "{d}");
    fixed.store(true, Ordering::SeqCst);
    t.ok("RedriveExecution", json!({"executionArn": arn})).await;
    let done = t.wait_end(&arn, WAIT).await;
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(calls.prepare.load(Ordering::SeqCst), 1);
    let h = t.history(&arn).await;
    drop(t);

    let t = TestServer::start(c);
    let d = t.describe(&arn).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["redriveCount"], 1);
    assert_eq!(d["redriveDate"], done["redriveDate"]);
    assert_eq!(t.history(&arn).await, h);
}

#[tokio::test]
async fn a_distributed_map_redrive_reruns_the_failed_child_in_the_same_map_run() {
    let s = setup(|_| {}).await;
    let t = &s.server;
    let def = json!({"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Fan", "ItemsPath": "$.items", "End": true,
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Pick", "States": {
            "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 2, "Next": "Work"}], "Default": "Skip"},
            "Skip": {"Type": "Pass", "End": true},
            "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "work", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}
        }}}}});
    let sm = t.create_machine("fan", &def).await;
    let input = json!({"items": [{"v": 1}, {"v": 2}, {"v": 3}]});
    let arn = t.start_exec(&sm, "fan-1", &input).await;
    assert_eq!(t.wait_end(&arn, WAIT).await["status"], "FAILED");
    let runs = t.ok("ListMapRuns", json!({"executionArn": arn})).await;
    let run_arn = runs["mapRuns"][0]["mapRunArn"]
        .as_str()
        .unwrap()
        .to_string();

    s.fixed.store(true, Ordering::SeqCst);
    t.ok("RedriveExecution", json!({"executionArn": arn})).await;
    let d = t.wait_end(&arn, WAIT).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(out, json!([{"v": 1}, {"worked": {"v": 2}}, {"v": 3}]));
    assert_eq!(s.calls.work.load(Ordering::SeqCst), 2);

    let runs = t.ok("ListMapRuns", json!({"executionArn": arn})).await;
    assert_eq!(runs["mapRuns"].as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs["mapRuns"][0]["mapRunArn"], json!(run_arn));
    let run = t.ok("DescribeMapRun", json!({"mapRunArn": run_arn})).await;
    assert_eq!(run["status"], "SUCCEEDED");
    assert_eq!(run["redriveCount"], 1);
    assert!(run["redriveDate"].is_number(), "{run}");
    assert_eq!(run["executionCounts"]["succeeded"], 3);
    let kids = t.ok("ListExecutions", json!({"mapRunArn": run_arn})).await;
    assert_eq!(kids["executions"].as_array().unwrap().len(), 3, "{kids}");
    let h = t.history(&arn).await;
    ids_are_consecutive(&h);
    let ty = types(&h);
    assert_eq!(ty.iter().filter(|x| *x == "MapRunStarted").count(), 1);
    assert_eq!(ty.iter().filter(|x| *x == "MapRunRedriven").count(), 1);
}
