//! Fire-and-forget `arn:aws:states:::states:startExecution`: the parent goes on once
//! StartExecution answers while the child runs beside it on the virtual clock; children still
//! running when the parent ends are run to their end (and billed) before `run` reports;
//! `serve` lists such a child as RUNNING, then with its end.

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::nested::ProjectMachines;
use stepsim::sim::Simulation;

mod support;
use support::api::{config, TestServer};
use support::cli::{json_without_wall, stepsim};

const CHILD_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:child";

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Parent: Pass -> startExecution (fire and forget) -> Wait 1 s; child: Wait 100 s.
fn project(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stepsim-fire-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir,
        "machines/child.asl.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "Next": "P"},
            "P": {"Type": "Pass", "Result": "child done", "End": true}}}"#,
    );
    let parent = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"n": 1}, "Next": "Fire"},
        "Fire": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                 "Parameters": {"StateMachineArn": CHILD_ARN, "Name": "bg", "Input.$": "$"},
                 "ResultSelector": {"arn.$": "$.ExecutionArn", "start.$": "$.StartDate"},
                 "ResultPath": "$.fired", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "End": true}}});
    write(&dir, "state-machine.asl.json", &parent.to_string());
    dir
}

fn millis(date: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn the_parent_does_not_wait_for_a_fire_and_forget_child() {
    let dir = project("run");
    let (code, out, err) = stepsim(&["run", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v = json_without_wall(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    // 1 s of Wait plus StartExecution's 40 ms: the child's 100 s are not the parent's.
    assert_eq!(v["duration_ms"], 1_040, "{v}");
    let fired = &v["output"]["fired"];
    assert_eq!(
        fired["arn"],
        "arn:aws:states:us-east-1:123456789012:execution:child:bg"
    );
    // The child was drained: it ended, 100 s after it started, long after its parent.
    let children = v["services"]["stepfunctions"]["executions"]
        .as_array()
        .unwrap();
    assert_eq!(children.len(), 1);
    let c = &children[0];
    assert_eq!(c["status"], "SUCCEEDED");
    assert_eq!(c["output"], "child done");
    assert_eq!(c["input"], json!({"n": 1}));
    assert_eq!(millis(&c["stop_date"]) - millis(&c["start_date"]), 100_000);
    // It started when the Task asked (the answer's StartDate), before the parent's end.
    assert_eq!(fired["start"].as_i64().unwrap(), millis(&c["start_date"]));
    assert_eq!(millis(&c["start_date"]) - millis(&v["start_date"]), 0);
    assert!(millis(&c["stop_date"]) > millis(&v["stop_date"]) + 98_000);
    // Its transitions are billed with the parent's (3 of the parent, 2 of the child).
    assert_eq!(v["transitions"], 3);
    assert_eq!(v["services"]["usage"]["child_executions"], 1);
    let sfn = &v["bill"]["lines"][0];
    assert_eq!(sfn["quantity"].as_f64().unwrap() as u64, 5, "{sfn}");
    // Same project, same bytes.
    let (_, again, _) = stepsim(&["run", dir.to_str().unwrap(), "--json"]);
    assert_eq!(
        serde_json::to_string(&json_without_wall(&again)).unwrap(),
        serde_json::to_string(&v).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn plan(definition: Value) -> Plan {
    let machine = stepsim::asl::load_value(&definition).expect("definition parses");
    Plan::compile(&machine).expect("definition compiles")
}

#[test]
fn children_run_side_by_side_and_grandchildren_too() {
    let dir = std::env::temp_dir().join(format!("stepsim-fire-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // `child` waits 10 s, fires `leaf` (30 s) and fails; `leaf` succeeds.
    write(
        &dir,
        "child.asl.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "Next": "Leaf"},
            "Leaf": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                     "Parameters": {"StateMachineArn": "leaf"}, "Next": "F"},
            "F": {"Type": "Fail", "Error": "Boom", "Cause": "child fails"}}}"#,
    );
    write(
        &dir,
        "leaf.asl.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}"#,
    );
    let machines = ProjectMachines::load(&dir, "us-east-1", "123456789012").unwrap();
    let sim = Simulation::builder()
        .machines(std::sync::Arc::new(machines))
        .build()
        .unwrap();
    // Two children fired one after the other run at the same time.
    let parent = plan(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
              "Parameters": {"StateMachineArn": CHILD_ARN, "Name": "one"}, "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
              "Parameters": {"StateMachineArn": CHILD_ARN, "Name": "two"}, "End": true}}}));
    let run = || {
        let r = sim.run(&parent, json!({}), &ExecutionOptions::default());
        let children = r.services["stepfunctions"]["executions"].clone();
        (r, children)
    };
    let (r, children) = run();
    // A failing child does not fail its parent (nobody waits for it).
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(r.outcome.duration(), Duration::from_millis(80));
    let list = children.as_array().unwrap();
    let summary: Vec<(String, String)> = list
        .iter()
        .map(|c| {
            let arn = c["execution_arn"].as_str().unwrap();
            let name = arn.rsplit(':').nth(1).unwrap_or_default().to_string();
            (name, c["status"].as_str().unwrap().to_string())
        })
        .collect();
    // Both children end at 10 s (+ the second's 40 ms); their leaves 30 s later.
    assert_eq!(
        summary,
        vec![
            ("child".to_string(), "FAILED".to_string()),
            ("child".to_string(), "FAILED".to_string()),
            ("leaf".to_string(), "SUCCEEDED".to_string()),
            ("leaf".to_string(), "SUCCEEDED".to_string()),
        ]
    );
    assert_eq!(list[0]["parent"], r.outcome.execution_arn);
    assert_eq!(
        list[2]["parent"],
        "arn:aws:states:us-east-1:123456789012:execution:child:one"
    );
    let t = |c: &Value, k: &str| {
        chrono::DateTime::parse_from_rfc3339(c[k].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(t(&list[1], "start_date") - t(&list[0], "start_date"), 40);
    assert_eq!(t(&list[0], "stop_date") - t(&list[0], "start_date"), 10_040);
    assert_eq!(t(&list[2], "stop_date") - t(&list[0], "start_date"), 40_000);
    assert_eq!(r.usage.services.child_executions, 4);
    // The simulation's clock went on to the last leaf's end (read inside its runtime).
    let now = sim.block_on(async { sim.now() });
    assert_eq!((now - r.outcome.start_date).num_milliseconds(), 40_040);
    // A second run on the same simulation starts after the drain and answers the same way.
    let (again, children_again) = run();
    assert_eq!(again.outcome.duration(), r.outcome.duration());
    assert_eq!(children_again.as_array().unwrap().len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_lists_a_running_child_then_its_end() {
    // 100 simulated seconds per real second: the child's 100 s take about a real second.
    let mut cfg = config();
    cfg.time_scale = Some(100.0);
    let t = TestServer::start(cfg);
    let child = t
        .create_machine(
            "child",
            &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}),
        )
        .await;
    let parent = t
        .create_machine(
            "parent",
            &json!({"StartAt": "Fire", "States": {
                "Fire": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                         "Parameters": {"StateMachineArn": child, "Name": "kid"}, "Next": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 1, "End": true}}}),
        )
        .await;
    let exec = t.start_exec(&parent, "p", &json!({})).await;
    let d = t.wait_end(&exec, Duration::from_secs(30)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert!((support::api::duration(&d) - 1.04).abs() < 0.01, "{d}");
    let kid = "arn:aws:states:us-east-1:123456789012:execution:child:kid";
    // The parent has ended; its child is still running (about a real second to go).
    let running = t.describe(kid).await;
    assert_eq!(running["status"], "RUNNING", "{running}");
    let listed = t
        .ok("ListExecutions", json!({"stateMachineArn": child}))
        .await;
    assert_eq!(listed["executions"][0]["status"], "RUNNING", "{listed}");
    let ended = t.wait_end(kid, Duration::from_secs(30)).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    assert!(
        (support::api::duration(&ended) - 100.0).abs() < 0.01,
        "{ended}"
    );
    assert_eq!(ended["startDate"], running["startDate"]);
    let events = t.history(kid).await;
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
}
