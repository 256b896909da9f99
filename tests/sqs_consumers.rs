//! Lambda event source mappings for SQS: a queue declared with `lambda = "FUNCTION"` in
//! `services.toml` hands the messages a workflow sends to that function in batches, on the
//! virtual clock; a failing batch comes back after the visibility timeout and ends in the
//! dead-letter queue; `batchItemFailures` keeps only the messages it names.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::services::AwsServices;
use stepsim::sim::{
    handler_fn, FunctionConfig, FunctionError, FunctionRegistry, Invocation, RunReport, Simulation,
};

const SERVICES: &str = r#"
[queues.work]
lambda = "worker"
batch_size = 2

[queues.poison]
lambda = "failing"
visibility_timeout = 60
dead_letter_queue = "dead"
max_receive_count = 2

[queues.partial]
lambda = "picky"
report_batch_item_failures = true
visibility_timeout = 5
dead_letter_queue = "dead"
max_receive_count = 2

[queues.dead]
"#;

/// What each function was invoked with: (function, virtual ms since the start, event).
type Calls = Arc<Mutex<Vec<(String, i64, Value)>>>;

fn functions(calls: &Calls) -> FunctionRegistry {
    let mut reg = FunctionRegistry::new();
    for name in ["worker", "failing", "picky"] {
        let calls = calls.clone();
        reg.register(
            name,
            FunctionConfig::default(),
            handler_fn(move |event: Value, ctx: &mut Invocation| {
                let at = ctx.now().timestamp_millis();
                calls
                    .lock()
                    .unwrap()
                    .push((name.to_string(), at, event.clone()));
                match name {
                    "failing" => Err(FunctionError::new("Boom", "cannot take it")),
                    // Refuses the messages whose body is "no".
                    "picky" => {
                        let refused: Vec<Value> = event["Records"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|r| r["body"] == "no")
                            .map(|r| json!({"itemIdentifier": r["messageId"]}))
                            .collect();
                        Ok(json!({ "batchItemFailures": refused }))
                    }
                    _ => Ok(json!({})),
                }
            }),
        )
        .unwrap();
    }
    reg
}

fn sender(queue: &str) -> Plan {
    let def = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.bodies", "MaxConcurrency": 1, "End": true,
        "ItemProcessor": {"StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {
                "QueueUrl": format!("https://sqs.us-east-1.amazonaws.com/123456789012/{queue}"),
                "MessageBody.$": "$",
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}}},
            "End": true}}}}}});
    Plan::compile(&stepsim::asl::load_value(&def).unwrap()).unwrap()
}

/// The services `SERVICES` declares.
fn declared() -> AwsServices {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.toml");
    std::fs::write(&file, SERVICES).unwrap();
    let services = AwsServices::default();
    services.load_file(&file, dir.path(), 0.0).unwrap();
    services
}

fn run(queue: &str, bodies: &[&str]) -> (RunReport, AwsServices, Calls) {
    let services = declared();
    let calls: Calls = Arc::default();
    let sim = Simulation::builder()
        .functions(functions(&calls))
        .services(services.clone())
        .build()
        .unwrap();
    let report = sim.run(
        &sender(queue),
        json!({ "bodies": bodies }),
        &ExecutionOptions::default(),
    );
    (report, services, calls)
}

fn left(services: &AwsServices, queue: &str) -> (String, String) {
    let a = services
        .sqs
        .call(
            "GetQueueAttributes",
            &json!({"QueueUrl": services.sqs.url_of(queue)}),
            0.0,
        )
        .unwrap();
    (
        a["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .unwrap()
            .to_string(),
        a["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[test]
fn a_consumer_gets_the_messages_in_batches_and_they_are_deleted() {
    let (r, services, calls) = run("work", &["a", "b", "c"]);
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let calls = calls.lock().unwrap().clone();
    let bodies: Vec<Vec<String>> = calls
        .iter()
        .map(|(f, _, e)| {
            assert_eq!(f, "worker");
            e["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["body"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        bodies.concat(),
        ["a", "b", "c"],
        "every message once, in order"
    );
    assert!(bodies.iter().all(|b| b.len() <= 2), "{bodies:?}");
    let rec = &calls[0].2["Records"][0];
    assert_eq!(rec["eventSource"], "aws:sqs");
    assert_eq!(
        rec["eventSourceARN"],
        "arn:aws:sqs:us-east-1:123456789012:work"
    );
    assert_eq!(rec["attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(rec["messageAttributes"]["kind"]["stringValue"], "test");
    assert_eq!(left(&services, "work"), ("0".into(), "0".into()));
    // The invocations and the poller's requests are the execution's.
    assert_eq!(
        r.usage.functions["worker"].invocations as usize,
        calls.len()
    );
    assert!(r.usage.services.sqs_requests >= 3 + calls.len() as u64 * 2);
}

#[test]
fn a_failing_batch_is_retried_after_the_visibility_timeout_then_dead_lettered() {
    let (r, services, calls) = run("poison", &["x"]);
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "received twice (maxReceiveCount 2)");
    let gap = calls[1].1 - calls[0].1;
    // Seen from inside the handler: the first call's cold start shortens the gap a little.
    assert!(
        (59_000..61_000).contains(&gap),
        "again after the 60 s visibility timeout: {gap} ms"
    );
    assert_eq!(
        calls[1].2["Records"][0]["attributes"]["ApproximateReceiveCount"],
        "2"
    );
    assert_eq!(left(&services, "poison"), ("0".into(), "0".into()));
    assert_eq!(services.sqs.waiting("dead").unwrap()[0].body, "x");
}

#[test]
fn batch_item_failures_keep_only_the_refused_messages() {
    let (_, services, calls) = run("partial", &["yes", "no"]);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].2["Records"].as_array().unwrap().len(), 2);
    let again: Vec<&str> = calls[1].2["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(again, ["no"], "only the refused message comes back");
    let dead: Vec<String> = services
        .sqs
        .waiting("dead")
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(dead, ["no"]);
}

#[test]
fn consumers_run_the_same_way_twice() {
    let a = run("work", &["a", "b", "c"]);
    let b = run("work", &["a", "b", "c"]);
    let doc = |r: &RunReport| {
        let mut v = r.to_json(true, true);
        v["wall_ms"] = Value::Null;
        v.to_string()
    };
    assert_eq!(doc(&a.0), doc(&b.0));
    assert_eq!(*a.2.lock().unwrap(), *b.2.lock().unwrap());
}

#[test]
fn declarations_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.toml");
    for (text, needle) in [
        (
            "[queues.q]\nlambda = \"f\"\nbatch_size = 11\n",
            "batch_size",
        ),
        ("[queues.q]\nbatch_size = 2\n", "need `lambda`"),
        (
            "[queues.q]\nlambda = \"f\"\nbatching_window = 301\n",
            "batching_window",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let e = AwsServices::default()
            .load_file(&file, dir.path(), 0.0)
            .unwrap_err();
        assert!(e.contains("queues.q") && e.contains(needle), "{e}");
    }
}

/// `stepsim run` refuses a project whose queue names a consumer it does not have.
#[test]
fn a_consumer_must_be_a_function_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state-machine.asl.json"),
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("input.json"), "{}").unwrap();
    std::fs::write(
        dir.path().join("services.toml"),
        "[queues.q]\nlambda = \"ghost\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .arg("run")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("services.toml") && err.contains("queues.q: lambda `ghost`"),
        "{err}"
    );
}

/// Under `serve`, what a client sends with SendMessage reaches the queue's consumer too (its
/// own simulation on the server's pool); a failing one ends in the dead-letter queue.
#[tokio::test]
async fn under_serve_a_clients_messages_reach_the_consumer() {
    let services = declared();
    let calls: Calls = Arc::default();
    let mut c = support::api::config();
    c.functions = functions(&calls);
    c.services = services.clone();
    let t = support::api::TestServer::start(c);
    let sqs = |action: &str, body: Value| {
        let t = &t;
        let target = format!("AmazonSQS.{action}");
        async move {
            t.json_call("application/x-amz-json-1.0", &target, body)
                .await
        }
    };
    let url = services.sqs.url_of("work");
    for body in ["one", "two", "three"] {
        let (status, _, v) =
            sqs("SendMessage", json!({"QueueUrl": url, "MessageBody": body})).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, _, _) = sqs(
        "SendMessage",
        json!({"QueueUrl": services.sqs.url_of("poison"), "MessageBody": "bad"}),
    )
    .await;
    assert_eq!(status, 200);
    // The consumers run in the background; wait (bounded) until every message is handled.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let done = left(&services, "work") == ("0".into(), "0".into())
            && services.sqs.waiting("dead").unwrap_or_default().len() == 1;
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumers did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let calls = calls.lock().unwrap().clone();
    let mut worked: Vec<String> = calls
        .iter()
        .filter(|(f, _, _)| f == "worker")
        .flat_map(|(_, _, e)| {
            e["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["body"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    worked.sort();
    assert_eq!(worked, ["one", "three", "two"]);
    assert_eq!(calls.iter().filter(|(f, _, _)| f == "failing").count(), 2);
    // Their log lines reached CloudWatch Logs.
    let (status, _, groups) = t
        .json_call(
            "application/x-amz-json-1.1",
            "Logs_20140328.DescribeLogGroups",
            json!({"logGroupNamePrefix": "/aws/lambda/worker"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(groups["logGroups"].as_array().unwrap().len(), 1, "{groups}");
}
