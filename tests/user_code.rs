//! User Lambda code through the Lambda Runtime API, as a user runs it: `stepsim run` on
//! projects whose functions are python (and node) code folders. Results, warm reuse of one
//! process, errors as Lambda reports them (caught by Catch), timeouts that kill the process,
//! determinism, no process left behind, and the load-time checks of functions.toml.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn stepsim_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepsim"));
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("stepsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stepsim run PROJECT --json --logs`, parsed, without the wall-clock field.
fn run_json(project: &Path, env: &[(&str, &str)]) -> Value {
    let (_, out, err) = stepsim_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["run", project.to_str().unwrap(), "--json", "--logs"],
        env,
    );
    let mut v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout {out}\nstderr {err}"));
    v.as_object_mut().unwrap().remove("wall_ms");
    v
}

/// A project folder with one Task state calling function `f` with `payload`.
fn project(functions: &str, files: &[(&str, &str)], payload: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let asl = json!({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": payload},
            "OutputPath": "$.Payload",
            "End": true
        }}
    });
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    std::fs::write(dir.path().join("functions.toml"), functions).unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn python_fn(extra: &str) -> String {
    format!(
        "[functions.f]\nruntime = \"python3.12\"\nhandler = \"app.handler\"\ncode = \"code\"\n{extra}"
    )
}

/// Whether process `pid` is gone (or a zombie nobody waits for), polling up to 3 s: a process
/// killed through PR_SET_PDEATHSIG goes a moment after its parent.
fn gone(pid: u64) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let dead = state.as_deref().is_none_or(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if dead {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/user-code")
}

#[test]
fn python_handler_results_warm_reuse_and_catch() {
    let v = run_json(&fixture(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let out = &v["output"];
    assert_eq!(out["first"]["greeting"], "hello stepsim");
    assert_eq!(out["first"]["memory"], "256");
    assert_eq!(out["first"]["remaining_ok"], true);
    // Warm reuse: the same process, its module state kept.
    assert_eq!(out["first"]["calls"], 1);
    assert_eq!(out["second"]["calls"], 2);
    assert_eq!(out["first"]["pid"], out["second"]["pid"]);
    assert_ne!(out["first"]["request_id"], out["second"]["request_id"]);
    // The exception reached Step Functions as Lambda reports it, and Catch took it.
    assert_eq!(out["caught"]["Error"], "ValueError");
    let cause: Value = serde_json::from_str(out["caught"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "bad value");
    assert!(cause["stackTrace"][0]
        .as_str()
        .unwrap()
        .starts_with("  File \"/var/task/app.py\""));
    assert_eq!(v["lambda"]["counter"]["cold_starts"], 1);
    assert_eq!(v["lambda"]["counter"]["invocations"], 3);
    // The handler's print() lines are the function's log lines, between START and END.
    let logs: Vec<&str> = v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    let i = logs
        .iter()
        .position(|l| *l == "call 1 of counter")
        .expect("print line");
    assert!(logs[i - 1].starts_with("START RequestId:"), "{logs:?}");
    assert!(logs[i + 1].starts_with("END RequestId:"), "{logs:?}");
    // handler_cpu_ms = 20 at 256 MB: 138.2 ms of modelled Duration per call.
    assert!(
        logs.iter().any(|l| l.contains("Duration: 139.00 ms")),
        "{logs:?}"
    );
    // The process ended with stepsim.
    assert!(gone(out["first"]["pid"].as_u64().unwrap()));
}

#[test]
fn python_runs_are_deterministic() {
    let strip = |mut v: Value| {
        for k in ["first", "second"] {
            v["output"][k].as_object_mut().unwrap().remove("pid");
        }
        v
    };
    let a = strip(run_json(&fixture(), &[]));
    let b = strip(run_json(&fixture(), &[]));
    assert_eq!(a, b);
}

#[test]
fn a_stuck_handler_times_out_and_its_process_is_killed() {
    let code = "import os, time\n\
                def handler(event, context):\n\
                \x20   open(event['pid_file'], 'w').write(str(os.getpid()))\n\
                \x20   time.sleep(60)\n";
    let dir = project(
        &python_fn("timeout_seconds = 1\n"),
        &[("code/app.py", code)],
        json!({}),
    );
    let pid_file = dir.path().join("pid");
    std::fs::write(
        dir.path().join("state-machine.asl.json"),
        json!({"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": {"pid_file": pid_file.to_str().unwrap()}},
            "End": true}}})
        .to_string(),
    )
    .unwrap();
    let started = Instant::now();
    let v = run_json(dir.path(), &[("STEPSIM_USER_CODE_WALL_SECONDS", "1.5")]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(v["status"], "FAILED", "{v:#}");
    assert_eq!(v["error"], "Sandbox.Timedout");
    assert!(v["cause"]
        .as_str()
        .unwrap()
        .contains("Task timed out after 1.00 seconds"));
    assert_eq!(v["lambda"]["f"]["timeouts"], 1);
    let pid: u64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(gone(pid), "process {pid} still runs");
}

#[test]
fn modelled_time_past_the_timeout_times_out_too() {
    // 5 s of handler CPU at 1,769 MB is 5 s of Duration: past the 2 s timeout, however fast
    // the host answers.
    let code = "def handler(event, context):\n    return 1\n";
    let dir = project(
        &python_fn("timeout_seconds = 2\nmemory_mb = 1769\nhandler_cpu_ms = 5000\n"),
        &[("code/app.py", code)],
        json!({}),
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["error"], "Sandbox.Timedout", "{v:#}");
}

fn call_error(code: &str, extra: &str) -> (String, String) {
    let dir = project(&python_fn(extra), &[("code/app.py", code)], json!({"x": 1}));
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "FAILED", "{v:#}");
    (
        v["error"].as_str().unwrap().to_string(),
        v["cause"].as_str().unwrap().to_string(),
    )
}

#[test]
fn runtime_errors_are_reported_as_lambda_does() {
    let (e, c) = call_error(
        "import no_such_module_here\ndef handler(e, c):\n    return 1\n",
        "",
    );
    assert_eq!(e, "Runtime.ImportModuleError");
    assert!(c.contains("Unable to import module 'app'"), "{c}");
    let (e, c) = call_error("def other(e, c):\n    return 1\n", "");
    assert_eq!(e, "Runtime.HandlerNotFound");
    assert!(
        c.contains("Handler 'handler' missing on module 'app'"),
        "{c}"
    );
    let (e, c) = call_error("def handler(e, c):\n    return {1, 2}\n", "");
    assert_eq!(e, "Runtime.MarshalError");
    assert!(c.contains("Unable to marshal response"), "{c}");
    let (e, c) = call_error("import os\ndef handler(e, c):\n    os._exit(3)\n", "");
    assert_eq!(e, "Runtime.ExitError");
    assert!(
        c.contains("Runtime exited with error: exit status 3"),
        "{c}"
    );
    let (e, c) = call_error("def handler(e, c):\n    raise KeyError('k')\n", "");
    assert_eq!(e, "KeyError");
    assert!(c.contains("\"errorMessage\":\"'k'\""), "{c}");
}

#[test]
fn bad_function_files_are_clear_errors() {
    let cases = [
        (
            python_fn("").replace("\"code\"", "\"missing\""),
            "does not exist",
            "code",
        ),
        (
            python_fn("").replace("python3.12", "java21"),
            "cannot run user code",
            "runtime",
        ),
        (
            python_fn("").replace("app.handler", "nope.handler"),
            "module `nope` not found",
            "handler",
        ),
        (
            python_fn("duration = \"fast\"\n"),
            "not `model` or `measured`",
            "duration",
        ),
    ];
    for (functions, message, key) in cases {
        let dir = project(
            &functions,
            &[("code/app.py", "def handler(e, c):\n    return 1\n")],
            json!({}),
        );
        let (code, _, err) = stepsim_in(dir.path(), &["run", "."], &[]);
        assert_ne!(code, 0);
        assert!(err.contains(message), "{err}");
        assert!(err.contains(&format!("key `{key}`")), "{err}");
        assert!(
            err.contains("functions.toml") && err.contains("line 1"),
            "{err}"
        );
    }
}

/// Whether a command runs (`python3 -c "import boto3"`, `node --version`).
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn node_handlers_esm_cjs_async_and_callback() {
    let node = std::env::var("STEPSIM_NODE").unwrap_or_else(|_| "node".into());
    if !works(&node, &["--version"]) {
        eprintln!("SKIPPED node_handlers_esm_cjs_async_and_callback: `node` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let call = |name: &str, function: &str, payload: Value, next: Value| {
        let mut s = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": payload},
            "ResultSelector": {"p.$": "$.Payload"},
            "ResultPath": format!("$.{name}"),
        });
        match next {
            Value::Null => s["End"] = json!(true),
            n => s["Next"] = n,
        }
        s
    };
    let mut boom = call("boom", "boom", json!({}), Value::Null);
    boom["Catch"] =
        json!([{"ErrorEquals": ["TypeError"], "ResultPath": "$.caught", "Next": "Done"}]);
    boom["End"] = Value::Null;
    boom.as_object_mut().unwrap().remove("End");
    boom["Next"] = json!("Done");
    let asl = json!({"StartAt": "A", "States": {
        "A": call("a", "esm", json!({"n": 1}), json!("B")),
        "B": call("b", "esm", json!({"n": 2}), json!("C")),
        "C": call("c", "callback", json!({"x": 7}), json!("D")),
        "D": call("d", "plain", json!({"x": 8}), json!("E")),
        "E": boom,
        "Done": {"Type": "Pass", "End": true}
    }});
    let files = [
        (
            "esm/index.mjs",
            "let calls = 0;\n\
             export const handler = async (event, context) => {\n\
             \x20 calls += 1;\n\
             \x20 console.log('esm call', calls);\n\
             \x20 return { calls, n: event.n, fn: context.functionName, pid: process.pid,\n\
             \x20   id: context.awsRequestId, rem: context.getRemainingTimeInMillis() > 0 };\n\
             };\n",
        ),
        (
            "cb/app.js",
            "exports.handler = (event, context, callback) => {\n\
             \x20 setTimeout(() => callback(null, { cb: true, x: event.x }), 5);\n\
             };\n",
        ),
        (
            "plain/app.cjs",
            "module.exports.handler = function (event) { return { sync: event.x * 2 }; };\n",
        ),
        (
            "boom/app.js",
            "exports.handler = async () => { throw new TypeError('nope'); };\n",
        ),
    ];
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    let f = |name: &str, handler: &str, code: &str| {
        format!("[functions.{name}]\nruntime = \"nodejs22.x\"\nhandler = \"{handler}\"\ncode = \"{code}\"\n")
    };
    let functions = [
        f("esm", "index.handler", "esm"),
        f("callback", "app.handler", "cb"),
        f("plain", "app.handler", "plain"),
        f("boom", "app.handler", "boom"),
    ]
    .concat();
    std::fs::write(dir.path().join("functions.toml"), functions).unwrap();
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let out = &v["output"];
    assert_eq!(out["a"]["p"]["calls"], 1);
    assert_eq!(out["b"]["p"]["calls"], 2, "warm reuse keeps module state");
    assert_eq!(out["a"]["p"]["pid"], out["b"]["p"]["pid"]);
    assert_eq!(out["a"]["p"]["fn"], "esm");
    assert_eq!(out["a"]["p"]["rem"], true);
    assert_eq!(out["c"]["p"], json!({"cb": true, "x": 7}));
    assert_eq!(out["d"]["p"], json!({"sync": 16}));
    assert_eq!(out["caught"]["Error"], "TypeError");
    assert!(out["caught"]["Cause"].as_str().unwrap().contains("nope"));
    assert!(v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["message"] == "esm call 2"));
    assert!(gone(out["a"]["p"]["pid"].as_u64().unwrap()));
}

#[test]
fn boto3_in_a_python_handler_reaches_the_runs_s3() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED boto3_in_a_python_handler_reaches_the_runs_s3: boto3 is not importable");
        return;
    }
    let code = r#"
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")

def handler(event, context):
    body = s3.get_object(Bucket="data", Key="in/numbers.txt")["Body"].read().decode()
    total = sum(int(x) for x in body.split())
    s3.put_object(Bucket="data", Key="out/total.txt", Body=str(total).encode())
    s3.put_object(Bucket="data", Key="out/tmp.txt", Body=b"x")
    s3.delete_object(Bucket="data", Key="out/tmp.txt")
    head = s3.head_object(Bucket="data", Key="out/total.txt")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="out/")["Contents"]]
    try:
        s3.get_object(Bucket="data", Key="missing")
        missing = "found?"
    except ClientError as e:
        missing = e.response["Error"]["Code"]
    return {"total": total, "size": head["ContentLength"], "keys": keys, "missing": missing}
"#;
    let dir = project(
        &python_fn("memory_mb = 512\ntimeout_seconds = 30\n"),
        &[
            ("code/app.py", code),
            ("seed/data/in/numbers.txt", "1 2 3 4\n"),
        ],
        json!({}),
    );
    // The object the handler wrote is visible to the rest of the workflow.
    let asl = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "f", "Payload": {}},
                 "ResultSelector": {"p.$": "$.Payload"}, "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket": "data", "Key": "out/total.txt"},
                 "ResultSelector": {"body.$": "$.Body"}, "ResultPath": "$.read", "End": true}
    }});
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let p = &v["output"]["p"];
    assert_eq!(p["total"], 10);
    assert_eq!(p["size"], 2);
    assert_eq!(p["keys"], json!(["out/total.txt"]));
    assert_eq!(p["missing"], "NoSuchKey");
    assert_eq!(v["output"]["read"]["body"], "10");
    // Every SDK call was an S3 request of the run: GET numbers, GET missing, HEAD (billed as
    // GET) and the workflow's own GET; 2 PUTs; 1 LIST.
    assert_eq!(v["s3"]["get_requests"], 4, "{:#}", v["s3"]);
    assert_eq!(v["s3"]["put_requests"], 2);
    assert_eq!(v["s3"]["list_requests"], 1);
    // Same seed, same bytes.
    assert_eq!(run_json(dir.path(), &[]), v);
}

#[test]
fn boto3_in_a_python_handler_reaches_the_runs_dynamodb_sqs_sns_and_eventbridge() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED boto3 services test: boto3 is not importable");
        return;
    }
    let code = r#"
import json
import boto3
from botocore.exceptions import ClientError

ddb = boto3.client("dynamodb")
sqs = boto3.client("sqs")
events = boto3.client("events")
sns = boto3.client("sns")

def code_of(call):
    try:
        call()
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]

def handler(event, context):
    ddb.put_item(TableName="Orders", Item={"orderId": {"S": event["id"]}, "n": {"N": "3"}})
    ddb.update_item(TableName="Orders", Key={"orderId": {"S": event["id"]}},
                    UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}})
    item = ddb.get_item(TableName="Orders", Key={"orderId": {"S": event["id"]}})["Item"]
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": event["id"]}))
    put = events.put_events(Entries=[{"Source": "orders", "DetailType": "placed", "Detail": "{}"}])
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="placed o-1", Subject="order")
    try:
        ddb.transact_write_items(TransactItems=[{"Put": {
            "TableName": "Orders", "Item": {"orderId": {"S": event["id"]}},
            "ConditionExpression": "attribute_not_exists(orderId)"}}])
        reasons = None
    except ClientError as e:
        reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
    return {
        "reasons": reasons,
        "topic": topic,
        "missing_topic": code_of(lambda: sns.publish(TopicArn=topic + "-nope", Message="x")),
        "n": item["n"]["N"],
        "missing_table": code_of(lambda: ddb.get_item(TableName="Nope", Key={"k": {"S": "x"}})),
        "missing_queue": code_of(lambda: sqs.get_queue_url(QueueName="nope")),
        "failed_events": put["FailedEntryCount"],
    }
"#;
    let dir = project(
        &python_fn("memory_mb = 512\ntimeout_seconds = 30\n"),
        &[
            ("code/app.py", code),
            (
                "services.toml",
                "[tables.Orders]\npartition_key = \"orderId\"\n\n[queues.jobs]\n\n\
                 [topics.alerts]\nraw_sqs = [\"jobs\"]\n",
            ),
        ],
        json!({"id": "o-1"}),
    );
    // What the handler wrote is what the workflow's own Task reads.
    let asl = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "f", "Payload": {"id": "o-1"}},
                 "ResultSelector": {"p.$": "$.Payload"}, "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                 "Parameters": {"TableName": "Orders", "Key": {"orderId": {"S": "o-1"}}},
                 "ResultSelector": {"n.$": "$.Item.n.N"}, "ResultPath": "$.read", "End": true}
    }});
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let p = &v["output"]["p"];
    assert_eq!(p["n"], "4", "{v:#}");
    assert_eq!(p["missing_table"], "ResourceNotFoundException");
    assert_eq!(
        p["missing_queue"],
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    assert_eq!(p["failed_events"], 0);
    assert_eq!(p["topic"], "arn:aws:sns:us-east-1:123456789012:alerts");
    assert_eq!(p["missing_topic"], "NotFound");
    assert_eq!(p["reasons"], json!(["ConditionalCheckFailed"]));
    assert_eq!(v["output"]["read"]["n"], "4");
    let services = &v["services"];
    assert_eq!(
        services["sqs"]["queues"]["jobs"]["messages"],
        json!(["{\"order\": \"o-1\"}", "placed o-1"]),
        "{services:#}"
    );
    assert_eq!(services["sns"]["published"][0]["subject"], "order");
    assert_eq!(services["events"]["entries"][0]["source"], "orders");
    // Billed to the run: the handler's 5 DynamoDB calls (one refused for a missing table and
    // one cancelled transaction are still requests) and the workflow's GetItem; 3 SQS requests.
    let usage = &services["usage"];
    assert_eq!(usage["dynamodb_requests"], 6, "{usage:#}");
    assert_eq!(usage["sqs_requests"], 3, "{usage:#}");
    assert_eq!(usage["events"], 1, "{usage:#}");
    // Both publishes are requests, the one to a missing topic too.
    assert_eq!(usage["sns_publishes"], 2, "{usage:#}");
    // Same seed, same bytes.
    assert_eq!(run_json(dir.path(), &[]), v);
}

/// A project of two python functions (`store` and `approve`, module `app`) and a definition.
fn callback_project(code: &str, asl: Value, services: &str) -> tempfile::TempDir {
    let functions = "[functions.store]\nruntime = \"python3.12\"\nhandler = \"app.store\"\ncode = \"code\"\ntimeout_seconds = 30\n\n\
                     [functions.approve]\nruntime = \"python3.12\"\nhandler = \"app.approve\"\ncode = \"code\"\ntimeout_seconds = 30\n";
    let dir = project(
        functions,
        &[("code/app.py", code), ("services.toml", services)],
        json!({}),
    );
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    dir
}

#[test]
fn handler_callbacks_complete_wait_for_task_token_tasks() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED callback test: boto3 is not importable");
        return;
    }
    let code = r#"
import json
import boto3
from botocore.exceptions import ClientError

sfn = boto3.client("stepfunctions")
ddb = boto3.client("dynamodb")

def store(event, context):
    if event.get("mode") == "answer-now":
        sfn.send_task_success(taskToken=event["token"], output=json.dumps({"now": True}))
    elif event.get("mode") == "fail-now":
        sfn.send_task_failure(taskToken=event["token"], error="Rejected", cause="by the handler")
    elif event.get("mode") == "store":
        ddb.put_item(TableName="Tokens", Item={"id": {"S": "t"}, "token": {"S": event["token"]}})
    return {"stored": True}

def approve(event, context):
    token = ddb.get_item(TableName="Tokens", Key={"id": {"S": "t"}})["Item"]["token"]["S"]
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": event["who"]}))
    codes = []
    for bad in [token, "not-a-token"]:
        try:
            sfn.send_task_success(taskToken=bad, output="{}")
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])
    return {"codes": codes}
"#;
    let wait = |mode: &str, extra: Value| {
        let mut t = json!({"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "store", "Payload": {"token.$": "$$.Task.Token", "mode": mode}},
            "End": true});
        if let (Some(t), Value::Object(e)) = (t.as_object_mut(), extra) {
            t.extend(e);
        }
        t
    };
    let services = "[tables.Tokens]\npartition_key = \"id\"\n";

    // The handler answers during its own invocation.
    let dir = callback_project(
        code,
        json!({"StartAt": "W", "States": {"W": wait("answer-now", json!({}))}}),
        services,
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(v["output"], json!({"now": true}));

    // SendTaskFailure fails the Task with the handler's error, which Catch sees.
    let asl = json!({"StartAt": "W", "States": {
        "W": wait("fail-now", json!({"End": null, "Next": "Done",
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.err", "Next": "Caught"}]})),
        "Done": {"Type": "Succeed"},
        "Caught": {"Type": "Pass", "OutputPath": "$.err", "End": true}}});
    let mut asl = asl;
    asl["States"]["W"].as_object_mut().unwrap().remove("End");
    let dir = callback_project(code, asl, services);
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(
        v["output"],
        json!({"Error": "Rejected", "Cause": "by the handler"})
    );

    // Another branch answers later: the waiting branch ends when the approval arrives.
    let asl = json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "W", "States": {"W": wait("store", json!({"HeartbeatSeconds": 600}))}},
        {"StartAt": "Later", "States": {
            "Later": {"Type": "Wait", "Seconds": 120, "Next": "Approve"},
            "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "approve", "Payload": {"who": "ops"}},
                        "OutputPath": "$.Payload", "End": true}}}
    ]}}});
    let dir = callback_project(code, asl, services);
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(v["output"][0], json!({"approved": "ops"}));
    // A second answer to the same token, and a token of the wrong shape, are refused as AWS does.
    assert_eq!(
        v["output"][1]["codes"],
        json!(["TaskTimedOut", "InvalidToken"])
    );
    assert!(
        v["duration_ms"].as_u64().unwrap() >= 120_000,
        "{}",
        v["duration_ms"]
    );
    assert_eq!(run_json(dir.path(), &[]), v, "same seed, same bytes");

    // Nobody answers: TimeoutSeconds, then HeartbeatSeconds, end the wait on the virtual clock.
    let dir = callback_project(
        code,
        json!({"StartAt": "W", "States": {"W": wait("store", json!({"TimeoutSeconds": 30}))}}),
        services,
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(
        (v["status"].clone(), v["error"].clone()),
        (json!("FAILED"), json!("States.Timeout")),
        "{v:#}"
    );
    assert_eq!(v["duration_ms"], 30_000);
    let dir = callback_project(
        code,
        json!({"StartAt": "W", "States": {"W": wait("store", json!({"HeartbeatSeconds": 45}))}}),
        services,
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["error"], "States.HeartbeatTimeout", "{v:#}");
}

/// AWS's "wait for a callback with a task token" example: the Task sends its token to an SQS
/// queue, the queue's consumer (an event source mapping in `services.toml`) answers it.
#[test]
fn an_sqs_consumer_answers_the_token_a_task_sent_to_its_queue() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED SQS consumer test: boto3 is not importable");
        return;
    }
    let code = r#"
import json
import boto3

sfn = boto3.client("stepfunctions")

def store(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        sfn.send_task_success(taskToken=body["token"],
                              output=json.dumps({"shipped": body["order"], "via": record["eventSourceARN"]}))
    return {}

def approve(event, context):
    return {}
"#;
    let asl = json!({"StartAt": "Ship", "States": {"Ship": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/shipping",
                       "MessageBody": {"token.$": "$$.Task.Token", "order": 7}},
        "TimeoutSeconds": 300, "End": true}}});
    let dir = callback_project(code, asl, "[queues.shipping]\nlambda = \"store\"\n");
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(
        v["output"],
        json!({"shipped": 7, "via": "arn:aws:sqs:us-east-1:123456789012:shipping"})
    );
    assert!(
        v["duration_ms"].as_u64().unwrap() < 300_000,
        "answered before the timeout"
    );
    assert_eq!(run_json(dir.path(), &[]), v, "same seed, same bytes");
}

#[test]
fn a_handler_invokes_another_function_through_lambdas_api() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED lambda invoke test: boto3 is not importable");
        return;
    }
    let code = r#"
import json
import boto3
from botocore.exceptions import ClientError

lam = boto3.client("lambda")

def helper(event, context):
    if event.get("boom"):
        raise ValueError("helper says no")
    return {"doubled": event["n"] * 2, "me": context.function_name}

def front(event, context):
    r = lam.invoke(FunctionName="helper", Payload=json.dumps({"n": event["n"]}))
    ok = json.loads(r["Payload"].read())
    r = lam.invoke(FunctionName="helper", Payload=json.dumps({"boom": True}))
    err = {"function_error": r.get("FunctionError"), "body": json.loads(r["Payload"].read())}
    r = lam.invoke(FunctionName="helper", InvocationType="Event", Payload=json.dumps({"n": 1}))
    try:
        lam.invoke(FunctionName="nobody", Payload=b"{}")
        missing = None
    except ClientError as e:
        missing = e.response["Error"]["Code"]
    return {"ok": ok, "err": err, "event_status": r["StatusCode"], "missing": missing}

def loop(event, context):
    depth = event.get("depth", 0)
    try:
        r = lam.invoke(FunctionName="looper", Payload=json.dumps({"depth": depth + 1}))
    except ClientError as e:
        return {"stopped_at": depth, "code": e.response["Error"]["Code"]}
    return json.loads(r["Payload"].read())
"#;
    let functions = "[functions.f]\nruntime = \"python3.12\"\nhandler = \"app.front\"\ncode = \"code\"\ntimeout_seconds = 30\n\n\
                     [functions.helper]\nruntime = \"python3.12\"\nhandler = \"app.helper\"\ncode = \"code\"\nhandler_cpu_ms = 500\nmemory_mb = 1769\n";
    let dir = project(functions, &[("code/app.py", code)], json!({"n": 21}));
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let out = &v["output"];
    assert_eq!(out["ok"], json!({"doubled": 42, "me": "helper"}));
    assert_eq!(out["err"]["function_error"], "Unhandled");
    assert_eq!(out["err"]["body"]["errorType"], "ValueError");
    assert_eq!(out["err"]["body"]["errorMessage"], "helper says no");
    assert_eq!(out["event_status"], 202);
    assert_eq!(out["missing"], "ResourceNotFoundException");
    // Four invocations were billed (the front and three of the helper), and the helper's
    // modelled work (3 x 500 ms at one full vCPU) is inside the front's duration.
    let lines: Vec<&Value> = v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("REPORT"))
        })
        .collect();
    assert_eq!(lines.len(), 4, "{:#}", v["logs"]);
    assert!(
        v["duration_ms"].as_u64().unwrap() >= 1_500,
        "{}",
        v["duration_ms"]
    );
    assert_eq!(run_json(dir.path(), &[]), v, "same seed, same bytes");

    // A function invoking itself without end is stopped, as Lambda's loop detection does.
    let functions = "[functions.f]\nruntime = \"python3.12\"\nhandler = \"app.loop\"\ncode = \"code\"\ntimeout_seconds = 60\n\n\
                     [functions.looper]\nruntime = \"python3.12\"\nhandler = \"app.loop\"\ncode = \"code\"\ntimeout_seconds = 60\n";
    let dir = project(functions, &[("code/app.py", code)], json!({}));
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(
        v["output"],
        json!({"stopped_at": 16, "code": "RecursiveInvocationException"})
    );
}

#[test]
fn a_handler_starts_an_execution_of_a_project_machine() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    if !works(&python, &["-c", "import boto3"]) {
        eprintln!("SKIPPED start execution test: boto3 is not importable");
        return;
    }
    let code = r#"
import json
import boto3
from botocore.exceptions import ClientError

sfn = boto3.client("stepfunctions")
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"

def handler(event, context):
    r = sfn.start_execution(stateMachineArn=ARN + "child", name="from-handler",
                            input=json.dumps({"x": event["x"]}))
    try:
        sfn.start_execution(stateMachineArn=ARN + "nobody", input="{}")
        missing = None
    except ClientError as e:
        missing = e.response["Error"]["Code"]
    return {"arn": r["executionArn"], "has_date": r["startDate"] is not None, "missing": missing}
"#;
    let child = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": true}}});
    let dir = project(
        &python_fn("timeout_seconds = 30\n"),
        &[
            ("code/app.py", code),
            ("machines/child.asl.json", &child.to_string()),
        ],
        json!({"x": 5}),
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let out = &v["output"];
    assert_eq!(
        out["arn"],
        "arn:aws:states:us-east-1:123456789012:execution:child:from-handler"
    );
    assert_eq!(out["has_date"], true);
    assert_eq!(out["missing"], "StateMachineDoesNotExist");
    // The child ran to its end beside the parent, as a fire-and-forget start does.
    let children = v["services"]["stepfunctions"]["executions"]
        .as_array()
        .unwrap();
    assert_eq!(children.len(), 1, "{:#}", v["services"]);
    assert_eq!(children[0]["status"], "SUCCEEDED");
    assert_eq!(children[0]["output"], json!({"got": 5}));
    assert_eq!(run_json(dir.path(), &[]), v, "same seed, same bytes");
}

#[test]
fn the_example_project_runs() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let node = std::env::var("STEPSIM_NODE").unwrap_or_else(|_| "node".into());
    if !works(&python, &["-c", "import boto3"]) || !works(&node, &["--version"]) {
        eprintln!("SKIPPED the_example_project_runs: needs boto3 and node");
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("asl-examples/user-code");
    let v = run_json(&example, &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let stats = &v["output"]["stats"]["summary"];
    assert_eq!(stats["count"], 1000);
    assert!(v["output"]["report"]["report"]["line"]
        .as_str()
        .unwrap()
        .starts_with("1000 numbers, mean"));
    assert_eq!(v["s3"]["put_requests"], 1);
    assert_eq!(v["s3"]["get_requests"], 1);
    // A ValueError from produce is caught and ends in the Fail state.
    let (code, out, err) = stepsim_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["run", example.to_str().unwrap(), "--set", "count=0"],
        &[],
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        out.contains("BadInput") && out.contains("count must be positive"),
        "{out}"
    );
}

#[test]
fn keep_alive_expiry_ends_the_process() {
    // Two calls 700 s apart (past the 600 s keep-alive): the second is a cold start in a new
    // process, and the first process was killed when the service dropped its environment.
    let code = "import os\n\
                CALLS = 0\n\
                def handler(event, context):\n\
                \x20   global CALLS\n\
                \x20   CALLS += 1\n\
                \x20   old = event.get('old')\n\
                \x20   alive = old is not None and os.path.exists('/proc/%d' % old)\n\
                \x20   return {'pid': os.getpid(), 'calls': CALLS, 'old_alive': alive}\n";
    let dir = project(&python_fn(""), &[("code/app.py", code)], json!({}));
    let asl = json!({"StartAt": "One", "States": {
        "One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload": {}},
                "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.one", "Next": "Idle"},
        "Idle": {"Type": "Wait", "Seconds": 700, "Next": "Two"},
        "Two": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload": {"old.$": "$.one.p.pid"}},
                "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.two", "End": true}
    }});
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let (one, two) = (&v["output"]["one"]["p"], &v["output"]["two"]["p"]);
    assert_ne!(one["pid"], two["pid"]);
    assert_eq!(two["calls"], 1, "a new process: module state starts over");
    assert_eq!(
        two["old_alive"], false,
        "the expired environment's process was killed"
    );
    assert_eq!(v["lambda"]["f"]["cold_starts"], 2);
}

/// A `provided.al2023` function: the folder's own `bootstrap` executable runs.
fn provided(bootstrap: &str, extra: &str) -> tempfile::TempDir {
    let functions = format!(
        "[functions.f]\nruntime = \"provided.al2023\"\nhandler = \"app.handler\"\ncode = \"code\"\n{extra}"
    );
    let dir = project(
        &functions,
        &[
            ("code/bootstrap", bootstrap),
            (
                "code/app.py",
                "def handler(event, context):\n    return {'provided': event['x']}\n",
            ),
        ],
        json!({"x": 5}),
    );
    use std::os::unix::fs::PermissionsExt;
    let boot = dir.path().join("code/bootstrap");
    std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn provided_runtimes_run_the_folders_bootstrap() {
    // A custom runtime written in shell that hands over to a Runtime API client: here stepsim's
    // own python one (LAMBDA_RUNTIME_DIR), as a user's would be awslambdaric or a Rust binary.
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let boot = format!("#!/bin/sh\nexec {python} -u \"$LAMBDA_RUNTIME_DIR/bootstrap.py\"\n");
    let dir = provided(&boot, "");
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_eq!(v["output"], json!({"provided": 5}));

    // A bootstrap that never asks for an invocation: a clear error, no hang, no process left.
    let dir = provided("#!/bin/sh\nsleep 60\n", "timeout_seconds = 1\n");
    let started = Instant::now();
    let v = run_json(dir.path(), &[("STEPSIM_USER_CODE_WALL_SECONDS", "1")]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(v["error"], "Runtime.ExitError", "{v:#}");
    assert!(v["cause"]
        .as_str()
        .unwrap()
        .contains("never asked for an invocation"));
}

#[test]
fn sweeps_with_user_code_do_not_depend_on_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("sweep.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"user code\"\ndefinition = {:?}\nrepetitions = 2\nseed = 3\n\
             [grid]\n\"functions.counter.memory_mb\" = [256, 1024]\n",
            fixture().display().to_string()
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let out = tmp.path().join(format!("out-{jobs}"));
        let (code, _, err) = stepsim_in(
            tmp.path(),
            &[
                "sweep",
                spec.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--jobs",
                jobs,
                "-q",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        outputs.push(std::fs::read_to_string(out.join("summary.csv")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    // Two memory sizes, two runs each, every one succeeded.
    assert_eq!(outputs[0].lines().count(), 3, "{}", outputs[0]);
    assert!(
        outputs[0].lines().skip(1).all(|l| l.contains(",2,2,")),
        "{}",
        outputs[0]
    );
}

#[test]
fn measured_duration_charges_the_processs_cpu_time() {
    // About 0.3 s of CPU in the handler. By default (`duration = "model"`) it costs nothing
    // (handler_cpu_ms is 0); measured, it is charged at 128 MB's CPU share (128 / 1,769 of a
    // vCPU), so it shows as several simulated seconds.
    let code = "import time\n\
                def handler(event, context):\n\
                \x20   end = time.process_time() + 0.3\n\
                \x20   n = 0\n\
                \x20   while time.process_time() < end:\n\
                \x20       n += 1\n\
                \x20   return n > 0\n";
    let duration = |extra: &str| {
        let dir = project(
            &python_fn(&format!("memory_mb = 128\ntimeout_seconds = 60\n{extra}")),
            &[("code/app.py", code)],
            json!({}),
        );
        let v = run_json(dir.path(), &[]);
        assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
        v["lambda"]["f"]["duration_ms"].as_f64().unwrap()
    };
    let modelled = duration("");
    let measured = duration("duration = \"measured\"\n");
    assert!(modelled < 100.0, "modelled {modelled} ms");
    assert!(
        measured > 1500.0,
        "measured {measured} ms (0.3 s of CPU at a 0.072 share)"
    );
}
