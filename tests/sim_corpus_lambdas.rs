//! Every `lambdas` entry of the conformance corpus builds into a function, and the built-in
//! handlers reproduce what the corpus recorded for them: error names and causes (request ids and
//! stack traces aside, as the corpus README says), payloads, and the timeout.
//!
//! Skipped when the corpus is absent outside CI (see `support` for where it is looked for).

use serde_json::{json, Value};
use stepsim::engine::{CallContext, ServiceCall, TaskInvoker};
use stepsim::handlers::builtin::corpus_function;
use stepsim::sim::FunctionRegistry;

mod support;

fn direct(function: &str, payload: Value) -> ServiceCall {
    let arn = format!("arn:aws:lambda:us-east-1:111111111111:function:{function}");
    let context = CallContext {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:sm:e".into(),
        state_name: "S".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource(&arn, payload, context).expect("a direct Lambda call")
}

#[test]
fn every_corpus_lambda_builds_and_behaves() {
    let Some(cases) = support::corpus_cases("every_corpus_lambda_builds_and_behaves") else {
        return;
    };
    let mut built = 0;
    let mut raise_checked = 0;
    for case in &cases {
        let Some(lambdas) = case.doc["lambdas"].as_object() else {
            continue;
        };
        let mut reg = FunctionRegistry::new();
        for (name, entry) in lambdas {
            let spec =
                corpus_function(name, entry).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            reg.register_spec(spec).unwrap();
            built += 1;
        }
        // Cases that fail with a function error: the handler gives the recorded error and cause.
        let expected = &case.doc["expected"];
        if case.doc["lambdas"]
            .as_object()
            .unwrap()
            .values()
            .any(|l| l["kind"] == "raise")
            && expected["status"] == "FAILED"
            && expected["cause"].is_object()
        {
            let (name, _) = lambdas.iter().find(|(_, l)| l["kind"] == "raise").unwrap();
            let sim = support::simulation(reg.clone());
            let w = sim.world();
            sim.block_on(async {
                let err = w.invoke(direct(name, Value::Null)).await.unwrap_err();
                assert_eq!(err.error, expected["error"], "{}", case.name);
                let mut cause: Value = serde_json::from_str(&err.cause).unwrap();
                let mut want = expected["cause"].clone();
                for v in [&mut cause, &mut want] {
                    v["requestId"] = Value::Null;
                }
                // Our stack trace is Python's for these one-line handlers.
                assert_eq!(cause, want, "{}", case.name);
            });
            raise_checked += 1;
        }
    }
    assert!(built >= 70, "only {built} lambdas in the corpus?");
    assert!(raise_checked >= 3, "{raise_checked}");
}

#[test]
fn corpus_behaviours() {
    let entry = |kind: &str, source: &str| json!({"kind": kind, "runtime": "python3.12", "timeout_seconds": 30, "source": source});
    let mut reg = FunctionRegistry::new();
    for (name, e) in [
        ("constant", entry("constant", "def handler(event, ctx):\n    return {\"Return\": \"HelloWorld\"}\n")),
        ("bytes", entry("raw_payload", "def handler(event, context):\n    return b'\"HelloWorld!\"'\n")),
        ("big", entry("raw_payload", "def handler(event, context):\n    # Returns > 256 KB of data as a UTF-8 encoded string.\n    size_in_bytes = 257 * 1024\n    ascii_string = \"a\" * size_in_bytes\n    utf8_encoded_string = ascii_string.encode(\"utf-8\")\n    return utf8_encoded_string\n")),
        ("custom", entry("raise", "class CustomException(Exception):\n    message: str\n\n    def __init__(self):\n        self.message = \"CustomException message\"\n\n\ndef handler(event, context):\n    raise CustomException()\n")),
        ("slow", entry("sleep", "import time\n\n\ndef handler(event, context):\n    time.sleep(60)\n    return event\n")),
    ] {
        reg.register_spec(corpus_function(name, &e).unwrap()).unwrap();
    }
    assert!(corpus_function("x", &entry("mystery", "")).is_err());
    assert!(corpus_function(
        "x",
        &entry("constant", "def handler(e, c):\n    return make()\n")
    )
    .is_err());
    let sim = support::simulation(reg);
    let w = sim.world();
    sim.block_on(async {
        let out = w.invoke(direct("constant", json!({}))).await.unwrap().into_json();
        assert_eq!(out["Payload"], json!({"Return": "HelloWorld"}));
        let out = w.invoke(direct("bytes", json!({}))).await.unwrap().into_json();
        assert_eq!(out["Payload"], "HelloWorld!");
        let out = w.invoke(direct("big", json!({}))).await.unwrap().into_json();
        assert_eq!(out["Payload"].as_str().unwrap().len(), 257 * 1024);
        let err = w.invoke(direct("custom", json!({}))).await.unwrap_err();
        assert_eq!(err.error, "CustomException");
        // A direct-ARN task sees the body as the Python runtime wrote it (json.dumps spacing),
        // as recorded in errors/test_task_lambda.test_raise_custom_exception.
        assert!(err.cause.starts_with("{\"errorMessage\": \"\", \"errorType\": \"CustomException\", \"requestId\": \""), "{}", err.cause);
        assert!(err.cause.ends_with(", \"stackTrace\": [\"  File \\\"/var/task/handler.py\\\", line 9, in handler\\n    raise CustomException()\\n\"]}"), "{}", err.cause);
        let err = w.invoke(direct("slow", json!({}))).await.unwrap_err();
        assert_eq!(err.error, "Sandbox.Timedout");
        assert!(err.cause.contains("Task timed out after 30.00 seconds"));
    });
}
