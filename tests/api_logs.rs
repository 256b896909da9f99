//! The CloudWatch Logs API over HTTP (JSON 1.1): the streams Lambda writes per execution
//! environment, the groups, streams and events a client creates, paging and filter patterns,
//! AWS's errors, the log group a state machine's `loggingConfiguration` names, and the
//! retention bound.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::handlers::default_catalog;
use stepsim::sim::FunctionRegistry;
use support::api::{config, types, TestServer};

const FUNCTIONS: &str = r#"
[functions.inference]
handler = "identity"
runtime = "python3.13"
memory_mb = 128
timeout_seconds = 60

[functions.broken]
handler = "raise"
[functions.broken.params]
error_type = "ValueError"
error_message = "bad input"
"#;

fn server_with(max_log_bytes: u64) -> TestServer {
    let mut c = config();
    c.functions =
        FunctionRegistry::from_toml_str(FUNCTIONS, "functions.toml", &default_catalog()).unwrap();
    c.max_log_bytes = max_log_bytes;
    TestServer::start(c)
}

fn server() -> TestServer {
    server_with(stepsim::sim::logs::DEFAULT_RETENTION_BYTES)
}

/// One Logs call: `(status, content type, body)`.
async fn logs_call(t: &TestServer, action: &str, body: Value) -> (u16, String, Value) {
    let target = format!("Logs_20140328.{action}");
    t.json_call("application/x-amz-json-1.1", &target, body)
        .await
}

async fn logs_ok(t: &TestServer, action: &str, body: Value) -> Value {
    let (status, content_type, v) = logs_call(t, action, body).await;
    assert_eq!(status, 200, "{action} failed: {v}");
    assert_eq!(content_type, "application/x-amz-json-1.1");
    v
}

/// The error code of a call that must fail with 400.
async fn logs_err(t: &TestServer, action: &str, body: Value) -> String {
    let (status, content_type, v) = logs_call(t, action, body).await;
    assert_eq!(status, 400, "{action} should have failed: {v}");
    assert_eq!(content_type, "application/x-amz-json-1.1");
    assert!(v["message"].is_string(), "{v}");
    v["__type"].as_str().unwrap_or_default().to_string()
}

fn task_on(function: &str) -> Value {
    json!({"StartAt": "T", "States": {"T": {
        "Type": "Task",
        "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        "End": true}}})
}

fn messages(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lambda_writes_one_stream_per_environment() {
    let t = server();
    let machine = t.create_machine("infer", &task_on("inference")).await;
    let exec = t.start_exec(&machine, "first", &json!({"x": 1})).await;
    let d = t.wait_end(&exec, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");

    // The notebook's call: the latest stream of the function.
    let latest = logs_ok(
        &t,
        "DescribeLogStreams",
        json!({"logGroupName": "/aws/lambda/inference", "orderBy": "LastEventTime",
               "descending": true, "limit": 1}),
    )
    .await;
    let streams = latest["logStreams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    let name = s["logStreamName"].as_str().unwrap();
    let (date, id) = name.split_once("/[$LATEST]").expect("Lambda's stream name");
    assert_eq!(date.len(), 10, "{name}");
    assert_eq!(id.len(), 32, "{name}");
    let start_ms = d["startDate"].as_f64().unwrap() * 1000.0;
    let stop_ms = d["stopDate"].as_f64().unwrap() * 1000.0;
    let last = s["lastEventTimestamp"].as_f64().unwrap();
    assert!(
        start_ms <= last && last <= stop_ms,
        "{start_ms} <= {last} <= {stop_ms}"
    );
    assert!(s["firstEventTimestamp"].as_f64().unwrap() <= last);
    assert!(s["storedBytes"].as_u64().unwrap() > 0);
    assert!(s["uploadSequenceToken"].is_string());
    assert_eq!(
        s["arn"],
        format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/inference:log-stream:{name}"
        )
    );

    let events = logs_ok(
        &t,
        "GetLogEvents",
        json!({"logGroupName": "/aws/lambda/inference", "logStreamName": name,
               "startFromHead": true}),
    )
    .await;
    let lines = messages(&events["events"]);
    assert!(lines[0].starts_with("START RequestId: "), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("REPORT RequestId: "));
    assert!(lines.iter().any(|l| l.starts_with("END RequestId: ")));
    assert!(events["nextForwardToken"]
        .as_str()
        .unwrap()
        .starts_with("f/"));
    assert!(events["nextBackwardToken"]
        .as_str()
        .unwrap()
        .starts_with("b/"));

    // A Lambda Invoke call runs on a fresh (cold) environment: a second stream.
    let r = t
        .client
        .post(format!(
            "{}/2015-03-31/functions/inference/invocations",
            t.url
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let all = logs_ok(
        &t,
        "DescribeLogStreams",
        json!({"logGroupName": "/aws/lambda/inference"}),
    )
    .await;
    assert_eq!(all["logStreams"].as_array().unwrap().len(), 2);
    let reports = logs_ok(
        &t,
        "FilterLogEvents",
        json!({"logGroupName": "/aws/lambda/inference", "filterPattern": "REPORT \"Billed Duration\""}),
    )
    .await;
    assert_eq!(reports["events"].as_array().unwrap().len(), 2);
    assert!(reports.get("nextToken").is_none());

    let groups = logs_ok(
        &t,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/aws/lambda/"}),
    )
    .await;
    let names: Vec<_> = groups["logGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["logGroupName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["/aws/lambda/inference"]);
}

#[tokio::test]
async fn groups_streams_and_events_through_the_api() {
    let t = server();
    for g in ["/app/a", "/app/b", "/app/c"] {
        logs_ok(&t, "CreateLogGroup", json!({"logGroupName": g})).await;
    }
    assert_eq!(
        logs_err(&t, "CreateLogGroup", json!({"logGroupName": "/app/a"})).await,
        "ResourceAlreadyExistsException"
    );
    let first = logs_ok(
        &t,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/app/", "limit": 2}),
    )
    .await;
    assert_eq!(first["logGroups"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().unwrap();
    let rest = logs_ok(
        &t,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/app/", "limit": 2, "nextToken": token}),
    )
    .await;
    assert_eq!(rest["logGroups"][0]["logGroupName"], "/app/c");
    assert!(rest.get("nextToken").is_none());

    logs_ok(
        &t,
        "CreateLogStream",
        json!({"logGroupName": "/app/a", "logStreamName": "s1"}),
    )
    .await;
    assert_eq!(
        logs_err(
            &t,
            "CreateLogStream",
            json!({"logGroupName": "/app/a", "logStreamName": "s1"})
        )
        .await,
        "ResourceAlreadyExistsException"
    );
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"timestamp": 1_700_000_000_000_i64 + i, "message": format!("line {i} disk full")}))
        .collect();
    let put = logs_ok(
        &t,
        "PutLogEvents",
        json!({"logGroupName": "/app/a", "logStreamName": "s1", "logEvents": events}),
    )
    .await;
    assert!(put["nextSequenceToken"].is_string());

    // Paging backwards from the tail, then forwards from the head.
    let tail = logs_ok(
        &t,
        "GetLogEvents",
        json!({"logGroupName": "/app/a", "logStreamName": "s1", "limit": 2}),
    )
    .await;
    assert_eq!(
        messages(&tail["events"]),
        ["line 3 disk full", "line 4 disk full"]
    );
    let before = logs_ok(
        &t,
        "GetLogEvents",
        json!({"logGroupName": "/app/a", "logStreamName": "s1", "limit": 2,
               "nextToken": tail["nextBackwardToken"]}),
    )
    .await;
    assert_eq!(
        messages(&before["events"]),
        ["line 1 disk full", "line 2 disk full"]
    );
    let window = logs_ok(
        &t,
        "GetLogEvents",
        json!({"logGroupName": "/app/a", "logStreamName": "s1", "startFromHead": true,
               "startTime": 1_700_000_000_001_i64, "endTime": 1_700_000_000_003_i64}),
    )
    .await;
    assert_eq!(window["events"].as_array().unwrap().len(), 2);

    let filtered = logs_ok(
        &t,
        "FilterLogEvents",
        json!({"logGroupName": "/app/a", "filterPattern": "\"3 disk\" full", "logStreamNames": ["s1"]}),
    )
    .await;
    assert_eq!(messages(&filtered["events"]), ["line 3 disk full"]);
    assert_eq!(filtered["events"][0]["logStreamName"], "s1");
    let paged = logs_ok(
        &t,
        "FilterLogEvents",
        json!({"logGroupName": "/app/a", "limit": 3}),
    )
    .await;
    assert_eq!(paged["events"].as_array().unwrap().len(), 3);
    let more = logs_ok(
        &t,
        "FilterLogEvents",
        json!({"logGroupName": "/app/a", "limit": 3, "nextToken": paged["nextToken"]}),
    )
    .await;
    assert_eq!(
        messages(&more["events"]),
        ["line 3 disk full", "line 4 disk full"]
    );

    // Errors, as AWS names them.
    let out_of_order = json!({"logGroupName": "/app/a", "logStreamName": "s1", "logEvents": [
        {"timestamp": 5, "message": "b"}, {"timestamp": 1, "message": "a"}]});
    assert_eq!(
        logs_err(&t, "PutLogEvents", out_of_order).await,
        "InvalidParameterException"
    );
    assert_eq!(
        logs_err(
            &t,
            "DescribeLogStreams",
            json!({"logGroupName": "/app/a", "limit": 0})
        )
        .await,
        "InvalidParameterException"
    );
    assert_eq!(
        logs_err(
            &t,
            "DescribeLogStreams",
            json!({"logGroupName": "/app/a", "orderBy": "Size"})
        )
        .await,
        "InvalidParameterException"
    );
    assert_eq!(
        logs_err(
            &t,
            "GetLogEvents",
            json!({"logGroupName": "/app/a", "logStreamName": "nope"})
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        logs_err(
            &t,
            "FilterLogEvents",
            json!({"logGroupName": "/app/a", "filterPattern": "{ $.a = 1 }"})
        )
        .await,
        "InvalidParameterException"
    );
    assert_eq!(
        logs_err(&t, "DescribeLogGroups", json!({"nextToken": "bogus"})).await,
        "InvalidParameterException"
    );
    assert_eq!(
        logs_err(&t, "TagLogGroup", json!({})).await,
        "UnknownOperationException"
    );
    let (status, _, v) = logs_call(&t, "DescribeLogGroups", json!("not an object")).await;
    assert_eq!(
        (status, v["__type"].as_str()),
        (400, Some("SerializationException"))
    );

    logs_ok(&t, "DeleteLogGroup", json!({"logGroupName": "/app/a"})).await;
    assert_eq!(
        logs_err(&t, "DescribeLogStreams", json!({"logGroupName": "/app/a"})).await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        logs_err(&t, "DeleteLogGroup", json!({"logGroupName": "/app/a"})).await,
        "ResourceNotFoundException"
    );
}

async fn logged_machine(t: &TestServer, name: &str, definition: &Value, level: &str) -> String {
    let group =
        format!("arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/{name}:*");
    let logging = json!({"loggingConfiguration": {
        "level": level,
        "includeExecutionData": true,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]
    }});
    t.create_machine_with(name, definition, logging).await
}

/// Every event of a group, parsed.
async fn group_events(t: &TestServer, group: &str) -> Vec<Value> {
    let v = logs_ok(t, "FilterLogEvents", json!({"logGroupName": group})).await;
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn state_machine_logging_writes_the_history() {
    let t = server();
    let machine = logged_machine(&t, "logged", &task_on("inference"), "ALL").await;
    let exec = t.start_exec(&machine, "run1", &json!({"k": "v"})).await;
    t.wait_end(&exec, Duration::from_secs(20)).await;
    let history = t.history(&exec).await;
    let logged = group_events(&t, "/aws/vendedlogs/states/logged").await;
    let logged_types: Vec<String> = logged
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(logged_types, types(&history));
    assert!(logged.iter().all(|e| e["execution_arn"] == exec.as_str()));
    assert_eq!(logged[0]["id"], "1");
    assert_eq!(logged[0]["previous_event_id"], "0");
    assert_eq!(logged[0]["details"]["input"], r#"{"k":"v"}"#);
    let ts = logged[0]["event_timestamp"].as_str().unwrap();
    assert_eq!(
        ts.parse::<f64>().unwrap(),
        (history[0]["timestamp"].as_f64().unwrap() * 1000.0).round()
    );
    let streams = logs_ok(
        &t,
        "DescribeLogStreams",
        json!({"logGroupName": "/aws/vendedlogs/states/logged"}),
    )
    .await;
    let stream = streams["logStreams"][0]["logStreamName"].as_str().unwrap();
    assert!(stream.starts_with("states/logged/"), "{stream}");

    // ERROR: only the failure events of a failed execution; nothing for a successful one.
    let failing = logged_machine(&t, "errors", &task_on("broken"), "ERROR").await;
    let exec = t.start_exec(&failing, "bad", &json!({})).await;
    let d = t.wait_end(&exec, Duration::from_secs(20)).await;
    assert_eq!(d["status"], "FAILED");
    let logged = group_events(&t, "/aws/vendedlogs/states/errors").await;
    let logged_types: Vec<_> = logged.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        logged_types,
        [json!("LambdaFunctionFailed"), json!("ExecutionFailed")]
    );
}

#[tokio::test]
async fn retention_bounds_the_stored_bytes() {
    let t = server_with(1000);
    logs_ok(&t, "CreateLogGroup", json!({"logGroupName": "g"})).await;
    logs_ok(
        &t,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    for i in 0..20 {
        let message = format!("{i:02} {}", "x".repeat(70));
        logs_ok(
            &t,
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s",
                   "logEvents": [{"timestamp": 1000 + i, "message": message}]}),
        )
        .await;
    }
    let s = logs_ok(&t, "DescribeLogStreams", json!({"logGroupName": "g"})).await;
    let stored = s["logStreams"][0]["storedBytes"].as_u64().unwrap();
    assert!(stored <= 1000, "{stored}");
    let events = logs_ok(
        &t,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true}),
    )
    .await;
    let lines = messages(&events["events"]);
    // Each event is 73 + 26 bytes: ten fit, the ten oldest are gone.
    assert_eq!(lines.len(), 10);
    assert!(lines[0].starts_with("10 "), "{lines:?}");
}
