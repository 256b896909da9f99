//! Step Functions Local's mock files and `stepsim test` for users' workflows: AWS's own
//! LambdaSQSIntegration example (HappyPath, RetryPath, HybridPath) through `stepsim run` and
//! `serve`; mocks for direct Lambda ARNs, `.waitForTaskToken`, Map and Parallel; bad files;
//! random valid files never panic; test files with diffs, JUnit (read back with quick-xml),
//! JSON, coverage, and byte-identical reports.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::project::{Project, RunOptions};
use stepsim::sim::mock_config::{MockConfig, TestCaseMocks};
use stepsim::testing::{load_test_case, run_mocked};

const EXAMPLE: &str = "asl-examples/mock-testing";
const MOCKS: &str = "asl-examples/mock-testing/MockConfigFile.json";

fn stepsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SFN_MOCK_CONFIG")
        .output()
        .expect("stepsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_case(case: &str) -> (i32, Value) {
    let (code, out, err) = stepsim(&[
        "run",
        EXAMPLE,
        "--mock-config",
        MOCKS,
        "--test-case",
        case,
        "--json",
        "--history",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    (code, serde_json::from_str(&out).expect("JSON report"))
}

/// `(type, timestamp)` of every event.
fn events(report: &Value) -> Vec<(String, String)> {
    report["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["timestamp"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn aws_example_happy_path() {
    let (code, v) = run_case("HappyPath");
    assert_eq!(code, 0);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(
        v["output"],
        json!({"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
               "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"})
    );
    let types: Vec<String> = events(&v).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    // The mocked Lambda answer is the task's result as written, StatusCode and Payload.
    let lambda_out = &v["history"][4]["taskSucceededEventDetails"]["output"];
    let lambda_out: Value = serde_json::from_str(lambda_out.as_str().unwrap()).unwrap();
    assert_eq!(lambda_out["Payload"]["body"], "Hello from Lambda!");
    // Mocked calls take no time, invoke nothing and cost nothing: two transitions only.
    assert_eq!(v["duration_ms"], 0);
    assert_eq!(v["lambda"], json!({}));
    assert_eq!(v["bill"]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(v["bill"]["total_usd"], "0.000050000000");
}

#[test]
fn aws_example_retry_path_consumes_invocations_with_backoff() {
    let (code, v) = run_case("RetryPath");
    assert_eq!(code, 0);
    assert_eq!(v["status"], "SUCCEEDED");
    let ev = events(&v);
    let at = |ty: &str| -> Vec<String> {
        ev.iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, ts)| ts.clone())
            .collect()
    };
    // Invocation 0 and 1-2 throw, 3 returns: 4 calls, retried after 2, 4 and 8 s.
    assert_eq!(
        at("TaskScheduled")[..4],
        [
            "2025-07-21T19:45:00.000Z",
            "2025-07-21T19:45:02.000Z",
            "2025-07-21T19:45:06.000Z",
            "2025-07-21T19:45:14.000Z"
        ]
    );
    assert_eq!(at("TaskFailed").len(), 3);
    let errors: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["taskFailedEventDetails"]["error"].as_str())
        .collect();
    assert_eq!(
        errors,
        [
            "Lambda.ResourceNotReadyException",
            "Lambda.TimeoutException",
            "Lambda.TimeoutException"
        ]
    );
    assert_eq!(v["duration_ms"], 14_000);
    // The backoff is waiting, not work: still only transitions on the bill.
    assert_eq!(v["bill"]["lines"].as_array().unwrap().len(), 1);
}

#[test]
fn aws_example_hybrid_path_reaches_the_world() {
    let (_, v) = run_case("HybridPath");
    let mocked_sqs = json!({"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
                            "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"});
    // LambdaState is mocked; SQSState is not: the simulated SQS (the example's services.toml
    // declares myQueue) answers it with its own message id and bills the request.
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    assert_ne!(v["output"], mocked_sqs);
    assert!(v["output"]["MessageId"].is_string(), "{}", v["output"]);
    let sqs_scheduled = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .filter(|e| e["taskScheduledEventDetails"]["resourceType"] == "sqs")
        .count();
    assert_eq!(sqs_scheduled, 1);
    assert_eq!(
        v["services"]["sqs"]["queues"]["myQueue"]["messages"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{}",
        v["services"]
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A machine with a direct-ARN Lambda inside a Map, a `.waitForTaskToken` task inside a
/// Parallel, and an unmocked Pass.
fn nested_machine() -> Value {
    json!({"StartAt": "Fan", "States": {
    "Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"StartAt": "Work", "States": {"Work": {
                "Type": "Task", "End": true,
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
                "Caught": {"Type": "Pass", "Result": "caught", "End": true}}}}}},
        {"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task", "End": true,
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}}}
    ]}}})
}

const NESTED_MOCKS: &str = r#"{
  "StateMachines": {"nested": {"TestCases": {"T": {"Work": "Seq", "Ask": "Answer"}}}},
  "MockedResponses": {
    "Seq": {"0": {"Return": {"n": 0}}, "1": {"Throw": {"Error": "Boom", "Cause": "no"}},
            "2": {"Return": {"n": 2}}},
    "Answer": {"0": {"Return": {"approved": true}}}
  }
}"#;

#[test]
fn mocks_work_for_direct_lambda_task_tokens_map_and_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let def = write(dir.path(), "nested.asl.json", &nested_machine().to_string());
    let mocks = write(dir.path(), "mocks.json", NESTED_MOCKS);
    let project = Project::load(&def).unwrap();
    let case = load_test_case(&project, &mocks, None, "T").unwrap();
    let opts = RunOptions::default();
    let run = run_mocked(&project, json!({"items": [1, 2, 3]}), &opts, case).unwrap();
    let o = &run.report.outcome;
    assert_eq!(
        o.status.as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        o.error,
        o.cause
    );
    // Map iterations share the state's invocation counter: 0, 1 (throws, caught), 2.
    assert_eq!(
        o.output,
        Some(json!([[{"n": 0}, "caught", {"n": 2}], {"approved": true}]))
    );
    let types: Vec<&str> = o.history.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionSucceeded")
            .count(),
        2
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionFailed")
            .count(),
        1
    );
    // The task-token task completed with its mock, without a callback.
    assert!(types.contains(&"TaskSubmitted"));
    assert_eq!(run.calls["Work"].calls, 3);
    assert_eq!(run.calls["Work"].mocked, 3);
    assert_eq!(run.calls["Ask"].calls, 1);
    assert_eq!(o.duration(), Duration::ZERO);
}

#[test]
fn mocks_stand_in_front_of_every_service_integration() {
    // DynamoDB, a nested execution (.sync), SNS and EventBridge: with the mocks, none of them
    // reaches the simulated services (no table, machine or topic exists here at all).
    let def = json!({"StartAt": "Get", "States": {
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "Orders", "Key": {"id": {"S": "1"}}},
                "ResultSelector": {"status.$": "$.Item.status.S"}, "ResultPath": "$.order",
                "Next": "Child"},
        "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Ship",
                                 "Input": {}},
                  "ResultSelector": {"shipped.$": "$.Output.shipped"}, "ResultPath": "$.child",
                  "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 3, "MaxAttempts": 1}],
                  "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                   "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m"},
                   "ResultPath": null, "Next": "Emit"},
        "Emit": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                 "Parameters": {"Entries": [{"Source": "s", "DetailType": "d", "Detail": {}}]},
                 "ResultSelector": {"failed.$": "$.FailedEntryCount"}, "ResultPath": "$.events",
                 "End": true}}});
    let mocks = r#"{
      "StateMachines": {"orders": {"TestCases": {"T": {
        "Get": "Item", "Child": "ChildFlaky", "Notify": "Published", "Emit": "Emitted"}}}},
      "MockedResponses": {
        "Item": {"0": {"Return": {"Item": {"id": {"S": "1"}, "status": {"S": "PAID"}}}}},
        "ChildFlaky": {"0": {"Throw": {"Error": "States.TaskFailed", "Cause": "child failed"}},
                       "1": {"Return": {"Output": {"shipped": true}, "Status": "SUCCEEDED"}}},
        "Published": {"0": {"Return": {"MessageId": "m-1"}}},
        "Emitted": {"0": {"Return": {"Entries": [{"EventId": "e-1"}], "FailedEntryCount": 0}}}
      }
    }"#;
    let dir = tempfile::tempdir().unwrap();
    let def = write(dir.path(), "orders.asl.json", &def.to_string());
    let mocks = write(dir.path(), "mocks.json", mocks);
    let project = Project::load(&def).unwrap();
    let case = load_test_case(&project, &mocks, None, "T").unwrap();
    let run = run_mocked(&project, json!({}), &RunOptions::default(), case).unwrap();
    let o = &run.report.outcome;
    assert_eq!(
        o.status.as_str(),
        "SUCCEEDED",
        "{:?} {:?}",
        o.error,
        o.cause
    );
    assert_eq!(
        o.output,
        Some(
            json!({"order": {"status": "PAID"}, "child": {"shipped": true},
                    "events": {"failed": 0}})
        )
    );
    // The child's retry consumed invocation 0 (Throw) and 1 (Return), 3 s apart on the clock.
    assert_eq!(run.calls["Child"].calls, 2);
    assert_eq!(o.duration(), Duration::from_secs(3));
    for state in ["Get", "Child", "Notify", "Emit"] {
        assert_eq!(run.calls[state].mocked, run.calls[state].calls, "{state}");
    }
}

#[test]
fn bad_mock_files_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let def = write(d, "nested.asl.json", &nested_machine().to_string());
    let def = def.to_str().unwrap();
    let cases: [(&str, &str, &str); 6] = [
        (NESTED_MOCKS, "Nope", "$.StateMachines.nested.TestCases: unknown test case 'Nope' (the machine has: T)"),
        (
            r#"{"StateMachines": {"nested": {"TestCases": {"T": {"Missing": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": 1}}}}"#,
            "T",
            "$.StateMachines.nested.TestCases.T.Missing: the definition has no state 'Missing' (its Task states: Ask, Work)",
        ),
        (
            r#"{"StateMachines": {"nested": {"TestCases": {"T": {"Caught": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": 1}}}}"#,
            "T",
            "$.StateMachines.nested.TestCases.T.Caught: 'Caught' is a Pass state; only Task states are mocked",
        ),
        (
            r#"{"StateMachines": {"nested": {"TestCases": {"T": {"Work": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": 1}, "1-2": {"Return": 1, "Throw": {"Error": "E"}}}}}"#,
            "T",
            "$.MockedResponses.R[\"1-2\"]: both Return and Throw",
        ),
        (
            r#"{"StateMachines": {"nested": {"TestCases": {"T": {"Work": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": 1}, "3": {"Return": 1}}}}"#,
            "T",
            "$.MockedResponses.R[\"3\"]: invocations 1-2 have no response",
        ),
        (
            r#"{"StateMachines": {"other": {"TestCases": {}}, "more": {"TestCases": {}}}}"#,
            "T",
            "$.StateMachines: no state machine named 'nested' or 'StateMachine' (the file has: more, other)",
        ),
    ];
    for (i, (text, case, want)) in cases.iter().enumerate() {
        let file = write(d, &format!("m{i}.json"), text);
        let file = file.to_str().unwrap();
        let (code, _, err) = stepsim(&["run", def, "--mock-config", file, "--test-case", case]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("m{i}.json: {want}")),
            "{err}\nwant {want}"
        );
    }
    let (code, _, err) = stepsim(&[
        "run",
        def,
        "--mock-config",
        "nowhere.json",
        "--test-case",
        "T",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nowhere.json: $: cannot read the file"),
        "{err}"
    );
}

/// One random valid mocked response: contiguous ranges from 0.
fn response() -> impl Strategy<Value = Value> {
    prop::collection::vec((1u64..4, any::<bool>(), 0i64..100), 1..5).prop_map(|parts| {
        let mut obj = serde_json::Map::new();
        let mut at = 0;
        for (len, ret, n) in parts {
            let key = if len == 1 {
                format!("{at}")
            } else {
                format!("{at}-{}", at + len - 1)
            };
            let step = if ret {
                json!({"Return": {"StatusCode": 200, "Payload": {"n": n}}})
            } else {
                json!({"Throw": {"Error": format!("E{n}"), "Cause": "c"}})
            };
            obj.insert(key, step);
            at += len;
        }
        Value::Object(obj)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random valid files run (or stop with an error), never panic, and give the same bytes
    /// twice.
    #[test]
    fn random_valid_mock_files_never_panic(
        lambda in response(),
        sqs in response(),
        mock_sqs in any::<bool>(),
    ) {
        let mut case = serde_json::Map::new();
        case.insert("LambdaState".into(), json!("L"));
        if mock_sqs {
            case.insert("SQSState".into(), json!("S"));
        }
        let file = json!({
            "StateMachines": {"LambdaSQSIntegration": {"TestCases": {"T": case}}},
            "MockedResponses": {"L": lambda, "S": sqs}
        });
        let config = MockConfig::parse(&file.to_string(), Path::new("random.json")).unwrap();
        let project = Project::load(Path::new(EXAMPLE)).unwrap();
        let mocks: TestCaseMocks = config
            .test_case("LambdaSQSIntegration", "T", Some(&project.machine))
            .unwrap();
        let opts = RunOptions::default();
        let a = run_mocked(&project, json!({}), &opts, mocks.clone()).unwrap();
        let b = run_mocked(&project, json!({}), &opts, mocks).unwrap();
        prop_assert_eq!(a.report.to_json(true, false)["history"].clone(),
                        b.report.to_json(true, false)["history"].clone());
        prop_assert!(a.calls["LambdaState"].calls >= 1 && a.calls["LambdaState"].calls <= 4);
    }

    /// Arbitrary text is refused with an error, never a panic.
    #[test]
    fn arbitrary_mock_text_never_panics(text in ".{0,200}", key in "[0-9a-z-]{0,6}") {
        let _ = MockConfig::parse(&text, Path::new("x.json"));
        let doc = json!({"MockedResponses": {"R": {key: {"Return": 1}}}}).to_string();
        let _ = MockConfig::parse(&doc, Path::new("x.json"));
    }
}

/// A router with a Choice (2 rules + Default) and a Task with two catchers.
fn router() -> Value {
    json!({"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.kind", "StringEquals": "a", "Next": "DoA"},
            {"Variable": "$.kind", "StringEquals": "b", "Next": "DoB"}],
            "Default": "Fallback"},
        "DoA": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true,
                "Catch": [{"ErrorEquals": ["Custom.Err"], "Next": "Handled"},
                          {"ErrorEquals": ["States.ALL"], "Next": "Handled2"}]},
        "DoB": {"Type": "Pass", "Result": {"x": 2}, "End": true},
        "Handled": {"Type": "Pass", "Result": "handled", "End": true},
        "Handled2": {"Type": "Pass", "End": true},
        "Fallback": {"Type": "Pass", "End": true}}})
}

const ROUTER_MOCKS: &str = r#"{
  "StateMachines": {"router": {"TestCases": {
      "OkA": {"DoA": "Ok"}, "FailA": {"DoA": "Custom"}}}},
  "MockedResponses": {
    "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"done": true}}}},
    "Custom": {"0": {"Throw": {"Error": "Custom.Err", "Cause": "bad input"}}}
  }
}"#;

const ROUTER_TESTS: &str = r#"
mock_config = "mocks.json"

[[case]]
name = "a succeeds"
mock = "OkA"
input = { kind = "a" }
[case.expect]
path = ["Route", "DoA"]
output_has = { "$.Payload.done" = true, "$.StatusCode" = 200 }
attempts = { DoA = 1 }

[[case]]
name = "a fails and is caught"
mock = "FailA"
input = { kind = "a" }
[case.expect]
output_json = '"handled"'
path = ["Route", "DoA", "Handled"]

[[case]]
name = "b gives the wrong output"
input = { kind = "b" }
[case.expect]
output = { x = 3, y = 1 }
duration_seconds = { max = 0 }
"#;

fn router_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "router.asl.json", &router().to_string());
    write(dir.path(), "mocks.json", ROUTER_MOCKS);
    write(dir.path(), "router.test.toml", ROUTER_TESTS);
    dir
}

#[test]
fn test_file_reports_diffs_junit_and_coverage() {
    let dir = router_project();
    let file = dir.path().join("router.test.toml");
    let junit = dir.path().join("junit.xml");
    let (code, out, err) = stepsim(&[
        "test",
        file.to_str().unwrap(),
        "--coverage",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("  PASS a succeeds [mock OkA]"), "{out}");
    assert!(
        out.contains("  PASS a fails and is caught [mock FailA]"),
        "{out}"
    );
    assert!(out.contains("  FAIL b gives the wrong output"), "{out}");
    assert!(out.contains("$.x: expected 3, got 2"), "{out}");
    assert!(out.contains("$.y: missing (expected 1)"), "{out}");
    assert!(out.contains("2 of 3 cases passed, FAILED"), "{out}");
    // Coverage: what the three cases never did.
    assert!(
        out.contains("coverage: states 4/6, Choice branches 2/3, catchers 1/2"),
        "{out}"
    );
    assert!(out.contains("state never entered: Handled2"), "{out}");
    assert!(out.contains("state never entered: Fallback"), "{out}");
    assert!(
        out.contains("Choice branch never taken: Route Default -> Fallback"),
        "{out}"
    );
    assert!(
        out.contains("catcher never used: DoA Catch #2 [States.ALL] -> Handled2"),
        "{out}"
    );

    // The JUnit file, read back with quick-xml.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut testcases, mut failures, mut suites_attr) = (0, 0, None);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => testcases += 1,
                    b"failure" => failures += 1,
                    b"testsuites" => {
                        let attr = |n: &str| {
                            e.try_get_attribute(n)
                                .unwrap()
                                .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        };
                        suites_attr = Some((attr("tests"), attr("failures"), attr("errors")));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!((testcases, failures), (3, 1), "{xml}");
    assert_eq!(
        suites_attr,
        Some((Some("3".into()), Some("1".into()), Some("0".into())))
    );
    assert!(xml.contains("$.x: expected 3, got 2"), "{xml}");
}

#[test]
fn test_file_json_has_coverage_and_is_byte_identical() {
    let dir = router_project();
    let file = dir.path().join("router.test.toml");
    let args = ["test", file.to_str().unwrap(), "--json", "--coverage"];
    let (code, a, err) = stepsim(&args);
    assert_eq!(code, 1, "{err}");
    let (_, b, _) = stepsim(&args);
    assert_eq!(a, b, "same files, same bytes");
    let v: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(
        (v["total"].clone(), v["passed"].clone()),
        (json!(3), json!(2))
    );
    let f = &v["files"][0];
    assert_eq!(
        f["coverage"]["states"]["never_entered"],
        json!(["Handled2", "Fallback"])
    );
    assert_eq!(
        f["coverage"]["choice_branches"]["never_taken"],
        json!([{"state": "Route", "branch": "Default", "next": "Fallback"}])
    );
    assert_eq!(
        f["coverage"]["catchers"]["never_used"],
        json!([{"state": "DoA", "catcher": 2, "error_equals": ["States.ALL"], "next": "Handled2"}])
    );
    let failed = &f["cases"][2];
    assert_eq!(failed["passed"], false);
    assert_eq!(failed["failures"][0]["check"], "output");
    assert_eq!(
        failed["failures"][0]["diff"],
        json!([{"path": "$.x", "expected": 3, "actual": 2},
               {"path": "$.y", "expected": 1, "actual": null}])
    );
    assert_eq!(f["cases"][0]["observed"]["attempts"], json!({"DoA": 1}));
}

#[test]
fn example_test_file_passes_and_is_deterministic() {
    let (code, a, err) = stepsim(&["test", EXAMPLE, "--json", "--coverage"]);
    assert_eq!(code, 0, "{a}{err}");
    let (_, b, _) = stepsim(&["test", EXAMPLE, "--json", "--coverage"]);
    assert_eq!(a, b);
    let v: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["passed"], 4);
    let (code, out, _) = stepsim(&["test", EXAMPLE]);
    assert_eq!(code, 0);
    assert!(out.contains("4 of 4 cases passed"), "{out}");
}

#[test]
fn bad_test_files_are_usage_errors() {
    let dir = router_project();
    let d = dir.path();
    let cases = [
        (
            "[[case]]\nname = \"x\"\nmock = \"OkA\"\n",
            "has no mock_config",
        ),
        (
            "mock_config = \"mocks.json\"\n[[case]]\nname = \"x\"\nmock = \"Nope\"\n",
            "case 'x': ",
        ),
        (
            "[[case]]\nname = \"x\"\nexpectt = {}\n",
            "unknown field `expectt`",
        ),
        ("definition = \"router.asl.json\"\n", "no [[case]]"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = write(d, &format!("bad{i}.test.toml"), text);
        let file = if i == 3 {
            file
        } else {
            // Point at the router definition explicitly.
            let t = format!("definition = \"router.asl.json\"\n{text}");
            write(d, &format!("bad{i}.test.toml"), &t)
        };
        let (code, _, err) = stepsim(&["test", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "{err}\nwant {want}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_test_cases_from_the_arn() {
    use support::api::{config, TestServer};
    let mocks = MockConfig::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/asl-examples/mock-testing/MockConfigFile.json"
    )))
    .unwrap();
    let server = TestServer::start(stepsim::api::ServerConfig {
        mock_config: Some(std::sync::Arc::new(mocks)),
        ..config()
    });
    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/asl-examples/mock-testing/state-machine.asl.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let arn = server
        .create_machine("LambdaSQSIntegration", &definition)
        .await;
    let exec = server
        .start_exec(&format!("{arn}#RetryPath"), "retry", &json!({}))
        .await;
    let d = server.wait_end(&exec, Duration::from_secs(30)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["stateMachineArn"], arn);
    let history = server.history(&exec).await;
    let failed = history.iter().filter(|e| e["type"] == "TaskFailed").count();
    assert_eq!(failed, 3);
    let out: Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(out["MessageId"], "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51");

    let e = server
        .err(
            "StartExecution",
            json!({"stateMachineArn": format!("{arn}#Nope"), "input": "{}"}),
        )
        .await;
    assert_eq!(e.code, "ValidationException");
    assert!(
        e.message.contains("unknown test case 'Nope'"),
        "{}",
        e.message
    );

    // StartSyncExecution on an Express machine takes the test case the same way; the mock
    // file knows machines by name only.
    let express = server
        .create_machine_typed("LambdaSQSIntegration-express", &definition, "EXPRESS")
        .await;
    let e = server
        .err(
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{express}#HappyPath"), "input": "{}"}),
        )
        .await;
    assert!(
        e.message
            .contains("unknown state machine 'LambdaSQSIntegration-express'"),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_start_sync_execution_runs_a_test_case() {
    use support::api::{config, TestServer};
    let mocks = MockConfig::parse(
        r#"{"StateMachines": {"Quick": {"TestCases": {"Fails": {"LambdaState": "Boom"}}}},
            "MockedResponses": {"Boom": {"0": {"Throw": {"Error": "Custom.Boom", "Cause": "mocked"}}}}}"#,
        Path::new("inline.json"),
    )
    .unwrap();
    let server = TestServer::start(stepsim::api::ServerConfig {
        mock_config: Some(std::sync::Arc::new(mocks)),
        ..config()
    });
    let definition = json!({"StartAt": "LambdaState", "States": {"LambdaState": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "nowhere", "Payload.$": "$"}, "End": true}}});
    let arn = server
        .create_machine_typed("Quick", &definition, "EXPRESS")
        .await;
    let r = server
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{arn}#Fails"), "input": "{}"}),
        )
        .await;
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(r["error"], "Custom.Boom");
    assert_eq!(r["cause"], "mocked");
    // Without the test case, the same machine calls the (absent) function.
    let r = server
        .ok(
            "StartSyncExecution",
            json!({"stateMachineArn": arn, "input": "{}"}),
        )
        .await;
    assert_eq!(r["status"], "FAILED");
    assert_ne!(r["error"], "Custom.Boom");
}

/// The conformance corpus passes out of the box (the checkout's known-differences.toml is the
/// default), and a failure shows where it differs.
#[test]
fn conformance_uses_known_differences_by_default_and_shows_where() {
    let Some(dir) = support::corpus_dir("conformance_uses_known_differences_by_default") else {
        return;
    };
    let dir = dir.to_str().unwrap();
    let (code, out, err) = stepsim(&["test", dir]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = stepsim(&[
        "test",
        dir,
        "--filter",
        "test_context_object.test_result_selector",
    ]);
    // This case is a known difference today; if it ever passes, there is nothing to show.
    if out.contains("output differs") {
        assert!(
            out.contains("    at $.LambdaOutput.SdkHttpMetadata.AllHttpHeaders[\"Content-Length\"][0]: first difference at character 0"),
            "{out}"
        );
    }
}
