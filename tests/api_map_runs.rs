//! Distributed Map runs over HTTP: ListMapRuns, DescribeMapRun (status, limits, item and
//! execution counts), ListExecutions by `mapRunArn`, UpdateMapRun's refusal, AWS's error codes, and the runs surviving a
//! restart with `--state-dir`.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::api::{config, TestServer};

/// A Distributed Map over `$.items` in batches of two; a batch holding `3` fails.
fn batch_machine(tolerated: u64) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "MaxConcurrency": 2,
        "ToleratedFailureCount": tolerated,
        "Label": "Fan",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice", "Choices": [
                    {"Variable": "$.Items[0]", "NumericEquals": 3, "Next": "Bad"}
                ], "Default": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 5, "End": true},
                "Bad": {"Type": "Fail", "Error": "Three", "Cause": "three is bad"}
            }
        },
        "End": true
    }}})
}

fn items() -> Value {
    json!({"items": [1, 2, 3, 4, 5]})
}

/// The map run ARN the history's MapRunStarted event names.
async fn started_map_run(t: &TestServer, exec: &str) -> String {
    let h = t.history(exec).await;
    let e = h
        .iter()
        .find(|e| e["type"] == "MapRunStarted")
        .expect("a MapRunStarted event");
    e["mapRunStartedEventDetails"]["mapRunArn"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `[total, succeeded, failed]` of a map run's counts.
fn ended(c: &Value) -> [u64; 3] {
    ["total", "succeeded", "failed"].map(|k| c[k].as_u64().unwrap_or(u64::MAX))
}

#[tokio::test]
async fn a_finished_map_run_is_listed_and_described_with_its_counts() {
    let t = TestServer::start(config());
    let sm = t.create_machine("fan", &batch_machine(2)).await;
    let exec = t.start_exec(&sm, "e1", &items()).await;
    let d = t.wait_end(&exec, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let run_arn = started_map_run(&t, &exec).await;
    assert!(run_arn.contains(":mapRun:fan/Fan:"), "{run_arn}");

    let list = t.ok("ListMapRuns", json!({"executionArn": exec})).await;
    let runs = list["mapRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{list}");
    let r = &runs[0];
    assert_eq!(r["mapRunArn"], run_arn.as_str());
    assert_eq!(r["executionArn"], exec.as_str());
    assert_eq!(r["stateMachineArn"], format!("{sm}/Fan").as_str());
    assert!(r["startDate"].as_f64().unwrap() <= r["stopDate"].as_f64().unwrap());
    assert!(list.get("nextToken").is_none());

    let m = t.ok("DescribeMapRun", json!({"mapRunArn": run_arn})).await;
    assert_eq!(m["status"], "SUCCEEDED", "{m}");
    assert_eq!(m["executionArn"], exec.as_str());
    assert_eq!(m["maxConcurrency"], 2);
    assert_eq!(m["toleratedFailureCount"], 2);
    assert_eq!(m["toleratedFailurePercentage"].as_f64(), Some(0.0));
    // Batches [1, 2], [3, 4], [5]: the second fails with both its items.
    let (ex, it) = (&m["executionCounts"], &m["itemCounts"]);
    assert_eq!(ended(ex), [3, 2, 1], "{m}");
    assert_eq!(ended(it), [5, 3, 2], "{m}");
    for c in [ex, it] {
        assert_eq!(
            (c["running"].clone(), c["pending"].clone()),
            (json!(0), json!(0))
        );
        assert_eq!(c["resultsWritten"], 0);
    }
    // Two children at a time: the failing batch ends at once and frees its slot, so the two
    // 5 s waits run side by side (one at a time would take 10 s).
    let span = m["stopDate"].as_f64().unwrap() - m["startDate"].as_f64().unwrap();
    assert!((5.0..10.0).contains(&span), "{span}");

    // ListExecutions by the map run lists its children, newest first, with their status.
    let kids = t.ok("ListExecutions", json!({"mapRunArn": run_arn})).await;
    let kids = kids["executions"].as_array().unwrap();
    assert_eq!(kids.len(), 3, "{kids:?}");
    let statuses: Vec<&str> = kids.iter().map(|k| k["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "FAILED").count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == "SUCCEEDED").count(), 2);
    for k in kids {
        assert_eq!(k["mapRunArn"], run_arn.as_str());
        assert_eq!(k["stateMachineArn"], format!("{sm}/Fan").as_str());
        assert!(k["executionArn"]
            .as_str()
            .unwrap()
            .ends_with(k["name"].as_str().unwrap()));
        assert!(k["startDate"].as_f64().unwrap() <= k["stopDate"].as_f64().unwrap());
    }
    let starts: Vec<f64> = kids
        .iter()
        .map(|k| k["startDate"].as_f64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {starts:?}"
    );
    let failed = t
        .ok(
            "ListExecutions",
            json!({"mapRunArn": run_arn, "statusFilter": "FAILED", "maxResults": 1}),
        )
        .await;
    assert_eq!(failed["executions"].as_array().unwrap().len(), 1);
    assert!(failed.get("nextToken").is_none());
    let e = t
        .err(
            "ListExecutions",
            json!({"mapRunArn": run_arn, "stateMachineArn": sm}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");

    // An ended map run cannot be updated.
    let e = t
        .err(
            "UpdateMapRun",
            json!({"mapRunArn": run_arn, "maxConcurrency": 5}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");
    assert!(e.message.contains("SUCCEEDED"), "{}", e.message);
}

#[tokio::test]
async fn a_run_over_its_threshold_fails_and_pages_list_every_run() {
    let t = TestServer::start(config());
    let two_maps = json!({"StartAt": "A", "States": {
        "A": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": null, "Label": "A",
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
              "Next": "B"},
        "B": batch_machine(0)["States"]["Fan"].clone()
    }});
    let sm = t.create_machine("two", &two_maps).await;
    let exec = t.start_exec(&sm, "e", &items()).await;
    let d = t.wait_end(&exec, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "FAILED", "{d}");
    assert_eq!(d["error"], "States.ExceedToleratedFailureThreshold");

    let first = t
        .ok(
            "ListMapRuns",
            json!({"executionArn": exec, "maxResults": 1}),
        )
        .await;
    let token = first["nextToken"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second = t
        .ok(
            "ListMapRuns",
            json!({"executionArn": exec, "maxResults": 1, "nextToken": token}),
        )
        .await;
    assert!(second.get("nextToken").is_none(), "{second}");
    let a = first["mapRuns"][0]["mapRunArn"]
        .as_str()
        .unwrap()
        .to_string();
    let b = second["mapRuns"][0]["mapRunArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        a.contains(":mapRun:two/A:") && b.contains(":mapRun:two/Fan:"),
        "{a} {b}"
    );

    let ma = t.ok("DescribeMapRun", json!({"mapRunArn": a})).await;
    assert_eq!(ma["status"], "SUCCEEDED");
    assert_eq!(ma["executionCounts"]["succeeded"], 5);
    let mb = t.ok("DescribeMapRun", json!({"mapRunArn": b})).await;
    assert_eq!(mb["status"], "FAILED", "{mb}");
    assert_eq!(mb["executionCounts"]["failed"], 1);
    assert_eq!(mb["toleratedFailureCount"], 0);
}

#[tokio::test]
async fn map_run_errors_use_aws_codes() {
    let t = TestServer::start(config());
    let unknown = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:0000";
    let e = t.err("DescribeMapRun", json!({"mapRunArn": unknown})).await;
    assert_eq!((e.status, e.code.as_str()), (400, "ResourceNotFound"));
    let e = t
        .err(
            "DescribeMapRun",
            json!({"mapRunArn": "arn:aws:states:us-east-1:123456789012:execution:m:e"}),
        )
        .await;
    assert_eq!(e.code, "InvalidArn");
    let e = t.err("DescribeMapRun", json!({})).await;
    assert_eq!(e.code, "ValidationException");
    let e = t
        .err(
            "ListMapRuns",
            json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:none"}),
        )
        .await;
    assert_eq!(e.code, "ExecutionDoesNotExist");
    let e = t
        .err(
            "UpdateMapRun",
            json!({"mapRunArn": unknown, "toleratedFailurePercentage": 150}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");
    assert!(
        e.message.contains("toleratedFailurePercentage"),
        "{}",
        e.message
    );
    let e = t
        .err(
            "UpdateMapRun",
            json!({"mapRunArn": unknown, "maxConcurrency": 3}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFound");
}

#[tokio::test]
async fn a_running_map_run_shows_running_until_its_end_is_revealed() {
    // One simulated second per 20 ms: the 15 s run stays visible as running for ~300 ms.
    let mut c = config();
    c.time_scale = Some(50.0);
    let t = TestServer::start(c);
    let sm = t.create_machine("slow", &batch_machine(2)).await;
    let exec = t.start_exec(&sm, "e", &items()).await;
    let mut saw_running = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = t.ok("ListMapRuns", json!({"executionArn": exec})).await;
        if let Some(r) = list["mapRuns"].as_array().and_then(|a| a.first()) {
            let arn = r["mapRunArn"].as_str().unwrap();
            let m = t.ok("DescribeMapRun", json!({"mapRunArn": arn})).await;
            if m["status"] == "RUNNING" {
                saw_running = true;
                // Children already started are listed; those still going have no stopDate.
                let kids = t.ok("ListExecutions", json!({"mapRunArn": arn})).await;
                for k in kids["executions"].as_array().unwrap() {
                    assert_eq!(k["status"] == "RUNNING", k.get("stopDate").is_none(), "{k}");
                }
                assert!(m.get("stopDate").is_none() && r.get("stopDate").is_none());
                assert_eq!(
                    m["executionCounts"]["running"],
                    m["executionCounts"]["total"]
                );
                let e = t
                    .err(
                        "UpdateMapRun",
                        json!({"mapRunArn": arn, "maxConcurrency": 1}),
                    )
                    .await;
                assert_eq!(e.code, "ValidationException");
            } else {
                assert_eq!(m["status"], "SUCCEEDED", "{m}");
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_running, "the map run was never seen running");
}

#[tokio::test]
async fn map_runs_survive_a_restart_with_a_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.state_dir = Some(dir.path().to_path_buf());
    let t = TestServer::start(c);
    let sm = t.create_machine("kept", &batch_machine(2)).await;
    let exec = t.start_exec(&sm, "e", &items()).await;
    t.wait_end(&exec, Duration::from_secs(20)).await;
    let run_arn = started_map_run(&t, &exec).await;
    let before = t.ok("DescribeMapRun", json!({"mapRunArn": run_arn})).await;
    t.server.stop();

    let mut c = config();
    c.state_dir = Some(dir.path().to_path_buf());
    let t = TestServer::start(c);
    let after = t.ok("DescribeMapRun", json!({"mapRunArn": run_arn})).await;
    assert_eq!(after, before);
    let list = t.ok("ListMapRuns", json!({"executionArn": exec})).await;
    assert_eq!(list["mapRuns"][0]["mapRunArn"], run_arn.as_str());
    let kids = t.ok("ListExecutions", json!({"mapRunArn": run_arn})).await;
    assert_eq!(kids["executions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn standard_children_can_be_described_and_their_histories_read() {
    let t = TestServer::start(config());
    let sm = t.create_machine("fan", &batch_machine(1)).await;
    let exec = t.start_exec(&sm, "kids", &items()).await;
    assert_eq!(
        t.wait_end(&exec, Duration::from_secs(20)).await["status"],
        "SUCCEEDED"
    );
    let run = started_map_run(&t, &exec).await;
    let kids = t.ok("ListExecutions", json!({"mapRunArn": run})).await;
    let kids = kids["executions"].as_array().unwrap().clone();
    assert_eq!(kids.len(), 3);
    let failed = kids.iter().find(|k| k["status"] == "FAILED").unwrap();
    let ok = kids.iter().find(|k| k["status"] == "SUCCEEDED").unwrap();

    let d = t.describe(failed["executionArn"].as_str().unwrap()).await;
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["error"], "Three");
    assert_eq!(d["cause"], "three is bad");
    assert_eq!(d["mapRunArn"], json!(run));
    assert_eq!(d["stateMachineArn"], failed["stateMachineArn"]);
    assert_eq!(d["startDate"], failed["startDate"]);
    assert_eq!(d["redriveStatus"], "REDRIVABLE_BY_MAP_RUN");
    let input: Value = serde_json::from_str(d["input"].as_str().unwrap()).unwrap();
    assert_eq!(input["Items"], json!([3, 4]), "{d}");
    let h = t.history(failed["executionArn"].as_str().unwrap()).await;
    let types: Vec<&str> = h.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionFailed"));
    assert!(types.contains(&"FailStateEntered"), "{types:?}");

    let d = t.describe(ok["executionArn"].as_str().unwrap()).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert!(d["output"].is_string(), "{d}");
    assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");
    let h = t.history(ok["executionArn"].as_str().unwrap()).await;
    assert!(h.iter().any(|e| e["type"] == "WaitStateEntered"));

    // A child ARN that the run does not list is unknown.
    let known = failed["executionArn"].as_str().unwrap();
    let stranger = format!("{}000000000000", &known[..known.len() - 12]);
    let e = t
        .err("DescribeExecution", json!({"executionArn": stranger}))
        .await;
    assert_eq!(e.code, "ExecutionDoesNotExist");
}
