//! The Step Functions API over HTTP: state machines, executions, histories, idempotent starts,
//! task tokens and activities, stops, time scaling, retention, Express and TestState.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stepsim::api::ServerConfig;
use stepsim::handlers::default_catalog;
use stepsim::sim::FunctionRegistry;
use support::api::{config, duration, token_functions, types, TestServer};

fn pass_machine() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": true}, "ResultPath": "$.r", "End": true}}})
}

fn hello_machine() -> Value {
    json!({"StartAt": "Greet", "States": {
        "Greet": {"Type": "Pass", "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }})
}

/// A machine whose task waits for its token (handed to the `notify` function).
fn token_machine(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token", "input.$": "$"}},
        "End": true
    });
    if let (Value::Object(t), Value::Object(e)) = (&mut task, extra) {
        t.extend(e);
    }
    json!({"StartAt": "Approve", "States": {"Approve": task}})
}

/// A server whose `notify` function sends every task token it receives to the test.
fn token_server(adjust: impl FnOnce(&mut ServerConfig)) -> (TestServer, mpsc::Receiver<String>) {
    let (reg, rx) = token_functions();
    let mut c = config();
    c.functions = reg;
    adjust(&mut c);
    (TestServer::start(c), rx)
}

fn next_token(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the task token reached the function")
}

#[tokio::test]
async fn state_machine_lifecycle_and_errors() {
    let t = TestServer::start(config());
    let arn = t.create_machine("pass", &pass_machine()).await;
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:pass"
    );

    // Creating it again with the same definition is idempotent; a different one is refused.
    let again = t
        .ok(
            "CreateStateMachine",
            json!({"name": "pass", "definition": pass_machine().to_string(), "roleArn": "arn:aws:iam::123456789012:role/test"}),
        )
        .await;
    assert_eq!(again["stateMachineArn"], arn.as_str());
    let e = t
        .err(
            "CreateStateMachine",
            json!({"name": "pass", "definition": hello_machine().to_string(), "roleArn": "arn:aws:iam::123456789012:role/test"}),
        )
        .await;
    assert_eq!(
        (e.status, e.code.as_str()),
        (400, "StateMachineAlreadyExists")
    );

    let d = t
        .ok("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await;
    assert_eq!(d["name"], "pass");
    assert_eq!(d["type"], "STANDARD");
    assert_eq!(d["status"], "ACTIVE");
    let def: Value = serde_json::from_str(d["definition"].as_str().unwrap()).unwrap();
    assert_eq!(def["States"]["P"]["Type"], "Pass");
    assert!(d["creationDate"].as_f64().unwrap() > 1.7e9);

    let u = t
        .ok(
            "UpdateStateMachine",
            json!({"stateMachineArn": arn, "definition": hello_machine().to_string()}),
        )
        .await;
    assert!(u["updateDate"].is_number());
    let d = t
        .ok("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await;
    assert!(d["definition"].as_str().unwrap().contains("Nap"));

    t.create_machine("second", &pass_machine()).await;
    let l = t.ok("ListStateMachines", json!({"maxResults": 1})).await;
    assert_eq!(l["stateMachines"].as_array().unwrap().len(), 1);
    let token = l["nextToken"].as_str().unwrap();
    let l2 = t
        .ok(
            "ListStateMachines",
            json!({"maxResults": 1, "nextToken": token}),
        )
        .await;
    assert_eq!(l2["stateMachines"].as_array().unwrap().len(), 1);
    assert!(l2.get("nextToken").is_none());
    assert_ne!(
        l["stateMachines"][0]["name"],
        l2["stateMachines"][0]["name"]
    );

    // Errors, in AWS's shapes.
    let bad = t
        .err(
            "CreateStateMachine",
            json!({"name": "bad", "definition": "{\"StartAt\": \"Nope\", \"States\": {}}", "roleArn": "arn:aws:iam::1:role/r"}),
        )
        .await;
    assert_eq!(bad.code, "InvalidDefinition");
    assert!(
        bad.message
            .starts_with("Invalid State Machine Definition: '"),
        "{}",
        bad.message
    );
    let name = t
        .err(
            "CreateStateMachine",
            json!({"name": "has space", "definition": pass_machine().to_string(), "roleArn": "arn:aws:iam::1:role/r"}),
        )
        .await;
    assert_eq!(name.code, "InvalidName");
    let missing = t
        .err("CreateStateMachine", json!({"name": "x", "roleArn": "r"}))
        .await;
    assert_eq!(missing.code, "ValidationException");
    let arn_err = t
        .err(
            "DescribeStateMachine",
            json!({"stateMachineArn": "not-an-arn"}),
        )
        .await;
    assert_eq!(arn_err.code, "InvalidArn");
    let gone = t
        .err(
            "DescribeStateMachine",
            json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}),
        )
        .await;
    assert_eq!(gone.code, "StateMachineDoesNotExist");

    t.ok("DeleteStateMachine", json!({"stateMachineArn": arn}))
        .await;
    let e = t
        .err("StartExecution", json!({"stateMachineArn": arn}))
        .await;
    assert_eq!(e.code, "StateMachineDoesNotExist");
}

#[tokio::test]
async fn executions_describe_list_and_history() {
    let t = TestServer::start(config());
    let sm = t.create_machine("pass", &pass_machine()).await;
    let a = t.start_exec(&sm, "first", &json!({"x": 1})).await;
    assert_eq!(
        a,
        "arn:aws:states:us-east-1:123456789012:execution:pass:first"
    );
    let d = t.wait_end(&a, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED");
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(out, json!({"x": 1, "r": {"ok": true}}));
    assert_eq!(d["input"], "{\"x\":1}");
    assert_eq!(d["stateMachineArn"], sm.as_str());

    // An unnamed start gets a UUID name.
    let v = t.ok("StartExecution", json!({"stateMachineArn": sm})).await;
    let b = v["executionArn"].as_str().unwrap().to_string();
    let tail = b.rsplit(':').next().unwrap();
    assert_eq!(tail.len(), 36, "{b}");
    t.wait_end(&b, Duration::from_secs(20)).await;

    let l = t.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    let names: Vec<&str> = l["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [tail, "first"], "newest first");
    let none = t
        .ok(
            "ListExecutions",
            json!({"stateMachineArn": sm, "statusFilter": "FAILED"}),
        )
        .await;
    assert!(none["executions"].as_array().unwrap().is_empty());

    // History: pages, reverse order, and without execution data.
    let all = t.history(&a).await;
    assert_eq!(
        types(&all),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(all[0]["executionStartedEventDetails"]["input"], "{\"x\":1}");
    let p1 = t
        .ok(
            "GetExecutionHistory",
            json!({"executionArn": a, "maxResults": 3}),
        )
        .await;
    assert_eq!(p1["events"].as_array().unwrap().len(), 3);
    let p2 = t
        .ok(
            "GetExecutionHistory",
            json!({"executionArn": a, "maxResults": 3, "nextToken": p1["nextToken"]}),
        )
        .await;
    assert_eq!(p2["events"][0]["type"], "ExecutionSucceeded");
    let rev = t
        .ok(
            "GetExecutionHistory",
            json!({"executionArn": a, "reverseOrder": true, "includeExecutionData": false}),
        )
        .await;
    assert_eq!(rev["events"][0]["type"], "ExecutionSucceeded");
    assert!(rev["events"][0]["executionSucceededEventDetails"]
        .get("output")
        .is_none());

    let m = t
        .ok(
            "DescribeStateMachineForExecution",
            json!({"executionArn": a}),
        )
        .await;
    assert_eq!(m["name"], "pass");

    let e = t
        .err(
            "DescribeExecution",
            json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:pass:nope"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionDoesNotExist");
    let e = t
        .err("DescribeExecution", json!({"executionArn": sm}))
        .await;
    assert_eq!(e.code, "InvalidArn");
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "input": "{not json"}),
        )
        .await;
    assert_eq!(e.code, "InvalidExecutionInput");
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "a/b"}),
        )
        .await;
    assert_eq!(e.code, "InvalidName");
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "x".repeat(81)}),
        )
        .await;
    assert_eq!(e.code, "InvalidName");
}

#[tokio::test]
async fn a_closed_execution_name_cannot_be_reused() {
    let t = TestServer::start(config());
    let sm = t.create_machine("pass", &pass_machine()).await;
    let a = t.start_exec(&sm, "once", &json!({})).await;
    t.wait_end(&a, Duration::from_secs(20)).await;
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "once", "input": "{}"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionAlreadyExists");
    assert!(e.message.contains(&a), "{}", e.message);
}

#[tokio::test]
async fn task_token_keeps_the_execution_running_until_the_callback() {
    let (t, rx) = token_server(|_| {});
    // A one-hour TimeoutSeconds: on a paused clock an idle runtime would jump straight to it.
    let sm = t
        .create_machine("approve", &token_machine(json!({"TimeoutSeconds": 3600})))
        .await;
    let input = json!({"order": 7});
    let arn = t.start_exec(&sm, "o7", &input).await;
    let token = next_token(&rx);
    assert_eq!(token.len(), 64);

    tokio::time::sleep(Duration::from_millis(400)).await;
    let d = t.describe(&arn).await;
    assert_eq!(d["status"], "RUNNING");
    assert!(d.get("stopDate").is_none());
    let h = t.history(&arn).await;
    assert_eq!(types(&h), ["ExecutionStarted"]);

    // While it is open, the same start is idempotent; another input is refused.
    let same = t
        .ok(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "o7", "input": input.to_string()}),
        )
        .await;
    assert_eq!(same["executionArn"], arn.as_str());
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "o7", "input": "{\"order\": 8}"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionAlreadyExists");

    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"approved\": true}"}),
    )
    .await;
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(out, json!({"approved": true}));
    // The wait took real time, and the simulated clock followed it.
    let secs = duration(&d);
    assert!((0.35..600.0).contains(&secs), "duration {secs}");
    let h = t.history(&arn).await;
    let ty = types(&h);
    assert!(ty.contains(&"TaskSubmitted".to_string()), "{ty:?}");
    assert!(ty.contains(&"TaskSucceeded".to_string()), "{ty:?}");

    // The token is spent.
    let e = t
        .err(
            "SendTaskSuccess",
            json!({"taskToken": token, "output": "{}"}),
        )
        .await;
    assert_eq!(e.code, "TaskTimedOut");
    let e = t
        .err(
            "SendTaskSuccess",
            json!({"taskToken": "garbage", "output": "{}"}),
        )
        .await;
    assert_eq!(e.code, "InvalidToken");
    let e = t
        .err(
            "SendTaskSuccess",
            json!({"taskToken": token, "output": "{no"}),
        )
        .await;
    assert_eq!(e.code, "InvalidOutput");
}

#[tokio::test]
async fn task_failure_heartbeat_and_timeouts() {
    let (t, rx) = token_server(|_| {});
    let plain = t.create_machine("plain", &token_machine(json!({}))).await;
    let arn = t.start_exec(&plain, "f", &json!({})).await;
    let token = next_token(&rx);
    t.ok(
        "SendTaskFailure",
        json!({"taskToken": token, "error": "Rejected", "cause": "no budget"}),
    )
    .await;
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "Rejected");
    assert_eq!(d["cause"], "no budget");

    // Heartbeats keep a task alive past its HeartbeatSeconds.
    let beat = t
        .create_machine(
            "beat",
            &token_machine(json!({"HeartbeatSeconds": 1, "TimeoutSeconds": 60})),
        )
        .await;
    let arn = t.start_exec(&beat, "alive", &json!({})).await;
    let token = next_token(&rx);
    let t0 = Instant::now();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        t.ok("SendTaskHeartbeat", json!({"taskToken": token})).await;
    }
    assert!(t0.elapsed() > Duration::from_millis(1500));
    assert_eq!(t.describe(&arn).await["status"], "RUNNING");
    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "1"}),
    )
    .await;
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");

    // Without heartbeats it fails after HeartbeatSeconds of real time.
    let arn = t.start_exec(&beat, "silent", &json!({})).await;
    let _ = next_token(&rx);
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "States.HeartbeatTimeout");
    let secs = duration(&d);
    assert!((0.9..10.0).contains(&secs), "duration {secs}");

    // TimeoutSeconds, likewise.
    let short = t
        .create_machine("short", &token_machine(json!({"TimeoutSeconds": 1})))
        .await;
    let arn = t.start_exec(&short, "late", &json!({})).await;
    let _ = next_token(&rx);
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "States.Timeout");
    let secs = duration(&d);
    assert!((0.9..10.0).contains(&secs), "duration {secs}");
}

#[tokio::test]
async fn stop_execution_aborts_a_waiting_execution() {
    let (t, rx) = token_server(|_| {});
    let sm = t
        .create_machine("approve", &token_machine(json!({"TimeoutSeconds": 3600})))
        .await;
    let arn = t.start_exec(&sm, "s", &json!({"n": 1})).await;
    let token = next_token(&rx);
    let stop = t
        .ok(
            "StopExecution",
            json!({"executionArn": arn, "error": "Halt", "cause": "by test"}),
        )
        .await;
    assert!(stop["stopDate"].is_number());
    let d = t.describe(&arn).await;
    assert_eq!(d["status"], "ABORTED");
    assert_eq!(d["error"], "Halt");
    assert!(d.get("output").is_none());
    let h = t.history(&arn).await;
    let ty = types(&h);
    assert_eq!(
        ty.last().map(String::as_str),
        Some("ExecutionAborted"),
        "{ty:?}"
    );
    assert!(!ty.iter().any(|x| x.ends_with("Failed")), "{ty:?}");
    let last = h.last().unwrap();
    assert_eq!(last["executionAbortedEventDetails"]["cause"], "by test");
    assert_eq!(
        last["previousEventId"].as_u64().unwrap() + 1,
        last["id"].as_u64().unwrap()
    );
    let e = t
        .err(
            "SendTaskSuccess",
            json!({"taskToken": token, "output": "{}"}),
        )
        .await;
    assert_eq!(e.code, "TaskTimedOut");
    // Stopping again answers the same stop date; the name stays taken.
    let again = t.ok("StopExecution", json!({"executionArn": arn})).await;
    assert_eq!(again["stopDate"], stop["stopDate"]);
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "s", "input": "{\"n\":1}"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionAlreadyExists");
}

#[tokio::test]
async fn activities_hand_tasks_to_workers() {
    let mut c = config();
    c.activity_poll = Duration::from_millis(300);
    let t = TestServer::start(c);
    let act = t.ok("CreateActivity", json!({"name": "review"})).await;
    let act_arn = act["activityArn"].as_str().unwrap().to_string();
    assert_eq!(
        act_arn,
        "arn:aws:states:us-east-1:123456789012:activity:review"
    );
    // Nothing queued yet: the long poll ends empty.
    let empty = t
        .ok("GetActivityTask", json!({"activityArn": act_arn}))
        .await;
    assert!(empty.get("taskToken").is_none());

    let def = json!({"StartAt": "Review", "States": {"Review": {
        "Type": "Task", "Resource": act_arn, "TimeoutSeconds": 300, "End": true}}});
    let sm = t.create_machine("reviewed", &def).await;
    let arn = t.start_exec(&sm, "r1", &json!({"doc": "a"})).await;
    let task = loop {
        let v = t
            .ok(
                "GetActivityTask",
                json!({"activityArn": act_arn, "workerName": "w"}),
            )
            .await;
        if v.get("taskToken").is_some() {
            break v;
        }
    };
    let input: Value = serde_json::from_str(task["input"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"doc": "a"}));
    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": task["taskToken"], "output": "{\"ok\": 1}"}),
    )
    .await;
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["output"], "{\"ok\":1}");

    let l = t.ok("ListActivities", json!({})).await;
    assert_eq!(l["activities"][0]["name"], "review");
    t.ok("DeleteActivity", json!({"activityArn": act_arn}))
        .await;
    let e = t
        .err("DescribeActivity", json!({"activityArn": act_arn}))
        .await;
    assert_eq!(e.code, "ActivityDoesNotExist");
}

const SLOW_FUNCTIONS: &str = r#"
[functions.work]
handler = "sleep"
timeout_seconds = 30
[functions.work.params]
seconds = 2
"#;

#[tokio::test]
async fn simulated_durations_are_deterministic() {
    let mut c = config();
    c.functions =
        FunctionRegistry::from_toml_str(SLOW_FUNCTIONS, "functions.toml", &default_catalog())
            .unwrap();
    let t = TestServer::start(c);
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "work", "Payload.$": "$"}, "ResultPath": null, "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "work", "Payload.$": "$"}, "ResultPath": null, "End": true}
    }});
    let sm = t.create_machine("work", &def).await;
    let t0 = Instant::now();
    let mut durations = Vec::new();
    for i in 0..3 {
        let arn = t
            .start_exec(&sm, &format!("run{i}"), &json!({"i": 1}))
            .await;
        let d = t.wait_end(&arn, Duration::from_secs(20)).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        durations.push(duration(&d));
    }
    // Two 2-second handlers plus cold starts and latency, in simulated time...
    assert!(durations[0] > 4.0, "{durations:?}");
    // ...the same for every run, whatever the host did...
    assert!(
        durations.iter().all(|d| (d - durations[0]).abs() < 1e-9),
        "{durations:?}"
    );
    // ...and far less in real time.
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn time_scale_reveals_results_at_the_scaled_simulated_end() {
    let mut c = config();
    // One real second is one simulated hour.
    c.time_scale = Some(3600.0);
    let t = TestServer::start(c);
    // A two-hour Wait: two real seconds.
    let mut two_hours = hello_machine();
    two_hours["States"]["Nap"]["Seconds"] = json!(7200);
    let sm = t.create_machine("hello", &two_hours).await;
    let t0 = Instant::now();
    let arn = t.start_exec(&sm, "slow", &json!({})).await;
    // Once simulated (at once, on an idle host), the events show as their time comes.
    let ty = loop {
        let d = t.describe(&arn).await;
        assert_eq!(d["status"], "RUNNING");
        let ty = types(&t.history(&arn).await);
        if ty.len() > 1 || t0.elapsed() > Duration::from_millis(1500) {
            break ty;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(ty.contains(&"WaitStateEntered".to_string()), "{ty:?}");
    assert!(!ty.contains(&"WaitStateExited".to_string()), "{ty:?}");
    let d = t.wait_end(&arn, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t0.elapsed()
    );
    assert!((duration(&d) - 7200.0).abs() < 1.0);

    // Stopping one midway ends it where the client's view of it is (a ten-hour Wait shows
    // for ten seconds, leaving room for a slow host).
    let mut long = hello_machine();
    long["States"]["Nap"]["Seconds"] = json!(36_000);
    let sm = t.create_machine("long", &long).await;
    let arn = t.start_exec(&sm, "stopped", &json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    t.ok("StopExecution", json!({"executionArn": arn})).await;
    let d = t.describe(&arn).await;
    assert_eq!(d["status"], "ABORTED");
    let secs = duration(&d);
    assert!((100.0..35_000.0).contains(&secs), "{secs}");
    let ty = types(&t.history(&arn).await);
    assert_eq!(ty.last().map(String::as_str), Some("ExecutionAborted"));
    assert!(!ty.contains(&"WaitStateExited".to_string()), "{ty:?}");
}

#[tokio::test]
async fn retention_keeps_the_newest_and_refuses_when_all_are_open() {
    let mut c = config();
    c.max_executions = 3;
    let t = TestServer::start(c);
    let sm = t.create_machine("pass", &pass_machine()).await;
    let mut arns = Vec::new();
    for i in 0..5 {
        let a = t.start_exec(&sm, &format!("e{i}"), &json!({})).await;
        t.wait_end(&a, Duration::from_secs(20)).await;
        arns.push(a);
    }
    for (i, a) in arns.iter().enumerate() {
        let (status, v) = t.sfn("DescribeExecution", json!({"executionArn": a})).await;
        if i < 2 {
            assert_eq!(v["__type"], "ExecutionDoesNotExist", "{i}");
        } else {
            assert_eq!(status, 200, "{i}: {v}");
        }
    }
    let l = t.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(l["executions"].as_array().unwrap().len(), 3);

    let (t, rx) = token_server(|c| c.max_executions = 1);
    let sm = t.create_machine("approve", &token_machine(json!({}))).await;
    let _open = t.start_exec(&sm, "open", &json!({})).await;
    let token = next_token(&rx);
    let e = t
        .err(
            "StartExecution",
            json!({"stateMachineArn": sm, "name": "more"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionLimitExceeded");
    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{}"}),
    )
    .await;
    t.wait_end(&_open, Duration::from_secs(20)).await;
    t.start_exec(&sm, "more", &json!({})).await;
}

#[tokio::test]
async fn express_machines_run_synchronously() {
    let t = TestServer::start(config());
    let ex = t
        .create_machine_typed("fast", &pass_machine(), "EXPRESS")
        .await;
    let r = t
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": ex, "input": "{\"a\": 2}"}),
        )
        .await;
    assert_eq!(r["status"], "SUCCEEDED");
    assert_eq!(r["output"], "{\"a\":2,\"r\":{\"ok\":true}}");
    assert!(r["executionArn"]
        .as_str()
        .unwrap()
        .contains(":express:fast:"));
    assert!(
        r["billingDetails"]["billedDurationInMilliseconds"]
            .as_u64()
            .unwrap()
            >= 100
    );
    // Two unnamed runs get different ARNs.
    let r2 = t
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": ex, "name": "n"}),
        )
        .await;
    let r3 = t
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": ex, "name": "n"}),
        )
        .await;
    assert_ne!(r2["executionArn"], r3["executionArn"]);

    let std = t.create_machine("standard", &pass_machine()).await;
    let e = t
        .err("StartSyncExecution", json!({"stateMachineArn": std}))
        .await;
    assert_eq!(e.code, "StateMachineTypeNotSupported");
}

#[tokio::test]
async fn validate_and_test_state() {
    let t = TestServer::start(config());
    let ok = t
        .ok(
            "ValidateStateMachineDefinition",
            json!({"definition": pass_machine().to_string()}),
        )
        .await;
    assert_eq!(ok["result"], "OK");
    assert!(ok["diagnostics"].as_array().unwrap().is_empty());
    let bad = t
        .ok(
            "ValidateStateMachineDefinition",
            json!({"definition": "{\"StartAt\": \"X\", \"States\": {\"Y\": {\"Type\": \"Pass\", \"End\": true}}}"}),
        )
        .await;
    assert_eq!(bad["result"], "FAIL");
    let diags = bad["diagnostics"].as_array().unwrap();
    assert!(!diags.is_empty());
    assert_eq!(diags[0]["severity"], "ERROR");
    assert!(diags[0]["location"].as_str().unwrap().starts_with('/'));

    let pass = t
        .ok(
            "TestState",
            json!({"definition": "{\"Type\": \"Pass\", \"Result\": 5, \"ResultPath\": \"$.v\", \"Next\": \"After\"}",
                   "input": "{\"a\": 1}"}),
        )
        .await;
    assert_eq!(pass["status"], "SUCCEEDED");
    assert_eq!(pass["nextState"], "After");
    assert_eq!(pass["output"], "{\"a\":1,\"v\":5}");

    let choice = t
        .ok(
            "TestState",
            json!({"definition": json!({"Type": "Choice", "Choices": [
                        {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}], "Default": "Small"}).to_string(),
                   "input": "{\"n\": 9}"}),
        )
        .await;
    assert_eq!(choice["nextState"], "Big");

    let fail = t
        .ok(
            "TestState",
            json!({"definition": "{\"Type\": \"Fail\", \"Error\": \"Oops\", \"Cause\": \"why\"}"}),
        )
        .await;
    assert_eq!(fail["status"], "FAILED");
    assert_eq!(fail["error"], "Oops");

    let caught = t
        .ok(
            "TestState",
            json!({"definition": json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "missing"},
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}], "End": true}).to_string()}),
        )
        .await;
    assert_eq!(caught["status"], "CAUGHT_ERROR", "{caught}");
    assert_eq!(caught["nextState"], "Handler");
    assert_eq!(caught["error"], "Lambda.ResourceNotFoundException");

    let e = t
        .err("TestState", json!({"definition": "{\"Type\": \"Nope\"}"}))
        .await;
    assert_eq!(e.code, "InvalidDefinition");
}
