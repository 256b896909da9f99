//! End-to-end interpreter tests on hand-written definitions, with an in-test invoker.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use serde_json::{json, Value};
use stepsim::engine::{
    self, clock::default_origin, ExecutionOptions, ExecutionStatus, FunctionName, LambdaInvoke,
    LambdaResponse, Plan, ServiceCall, ServiceRequest, ServiceResponse, ServiceResult, TaskFailure,
    TaskInvoker,
};

mod support;

/// A test function: (function name, payload) to payload or (error, cause).
type TestFn = Box<dyn Fn(&str, Value) -> Result<Value, (String, String)>>;

/// Answers Lambda calls with a closure of (function name, payload), after a fixed latency.
struct FnInvoker {
    f: TestFn,
    calls: RefCell<Vec<String>>,
    latency_ms: u64,
}

impl TaskInvoker for FnInvoker {
    fn invoke(&self, call: ServiceCall) -> LocalBoxFuture<'_, ServiceResult> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(self.latency_ms)).await;
            let ServiceRequest::Lambda(LambdaInvoke {
                function: FunctionName::Text(function),
                payload,
                ..
            }) = call.request
            else {
                return Err(TaskFailure::new("States.TaskFailed", "not a Lambda call"));
            };
            let name = function.rsplit(':').next().unwrap_or("").to_string();
            self.calls.borrow_mut().push(name.clone());
            match (self.f)(&name, payload) {
                Ok(v) => Ok(ServiceResponse::Lambda(LambdaResponse {
                    payload: v,
                    status_code: 200,
                    executed_version: "$LATEST".into(),
                    request_id: String::new(),
                    http: None,
                })),
                Err((e, c)) => Err(TaskFailure::new(e, c)),
            }
        })
    }
}

fn run_with(
    def: Value,
    input: Value,
    f: impl Fn(&str, Value) -> Result<Value, (String, String)> + 'static,
) -> (engine::ExecutionOutcome, Vec<String>) {
    let machine = stepsim::asl::load_value(&def).expect("valid definition");
    let plan = Plan::compile(&machine).expect("compiles");
    let inv = Rc::new(FnInvoker {
        f: Box::new(f),
        calls: RefCell::new(Vec::new()),
        latency_ms: 100,
    });
    let inv2 = inv.clone();
    let out = support::run_with_invoker(
        &plan,
        input,
        &ExecutionOptions::default(),
        default_origin(),
        inv2,
    );
    let calls = inv.calls.borrow().clone();
    (out, calls)
}

fn run(def: Value, input: Value) -> engine::ExecutionOutcome {
    run_with(def, input, |_, p| Ok(p)).0
}

#[test]
fn pass_chain_with_parameters_and_result_path() {
    let out = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"x.$": "$.v", "k": 1}, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Pass", "Result": {"done": true}, "ResultPath": "$.b", "OutputPath": "$.b", "End": true}
        }}),
        json!({"v": 7}),
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(out.output, Some(json!({"done": true})));
    assert_eq!(out.transitions, 2);
    let types: Vec<&str> = out.history.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn wait_an_hour_on_virtual_time() {
    let wall = std::time::Instant::now();
    let out = run(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        json!({}),
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(out.duration().as_secs(), 3600);
    assert!(wall.elapsed().as_secs() < 5);
}

#[test]
fn choice_routes_and_fails_without_default() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"},
            {"And": [{"Variable": "$.s", "IsPresent": true}, {"Variable": "$.s", "StringMatches": "a*"}], "Next": "A"}
        ]},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "A": {"Type": "Pass", "Result": "a", "End": true}
    }});
    assert_eq!(run(def.clone(), json!({"n": 9})).output, Some(json!("big")));
    assert_eq!(
        run(def.clone(), json!({"n": 1, "s": "abc"})).output,
        Some(json!("a"))
    );
    let out = run(def, json!({"n": 1}));
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[test]
fn retry_then_catch_with_backoff_on_virtual_time() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:flaky",
              "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
              "End": true},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let (out, calls) = run_with(def, json!({"in": 1}), |_, _| {
        Err(("Boom".into(), "it broke".into()))
    });
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(calls.len(), 3);
    assert_eq!(
        out.output,
        Some(json!({"in": 1, "err": {"Error": "Boom", "Cause": "it broke"}}))
    );
    // 3 calls x 100 ms latency + retry delays of 2 s and 6 s.
    assert_eq!(out.duration().as_millis(), 8_300);
    // Retries count as transitions: T (+2 retries) and Caught.
    assert_eq!(out.transitions, 4);
}

#[test]
fn parallel_and_inline_map() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": 1, "End": true}}},
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:double", "End": true}}},
                "End": true}}}
        ], "End": true}
    }});
    let (out, calls) = run_with(def, json!({"items": [1, 2, 3]}), |_, p| {
        Ok(json!(
            p["v"].as_i64().unwrap() * 2 + p["i"].as_i64().unwrap() * 100
        ))
    });
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(out.output, Some(json!([1, [2, 104, 206]])));
    assert_eq!(calls.len(), 3);
    // The three items run concurrently: one latency, not three.
    assert_eq!(out.duration().as_millis(), 100);
}

#[test]
fn fail_state_and_runtime_errors_are_reported() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}),
        json!({}),
    );
    assert_eq!(
        (out.error.as_deref(), out.cause.as_deref()),
        (Some("E"), Some("C"))
    );
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}),
        json!({}),
    );
    assert_eq!(out.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        out.cause.as_deref(),
        Some("An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']")
    );
}

#[test]
fn execution_timeout_and_transition_cap() {
    let out = run(
        json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        json!({}),
    );
    assert_eq!(out.status, ExecutionStatus::TimedOut);
    assert_eq!(out.duration().as_secs(), 5);
    let def = json!({"StartAt": "L", "States": {"L": {"Type": "Pass", "Next": "L"}}});
    let machine = stepsim::asl::load_value(&def).unwrap();
    let plan = Plan::compile(&machine).unwrap();
    let opts = ExecutionOptions {
        max_transitions: 50,
        history: engine::HistoryMode::CountOnly,
        ..Default::default()
    };
    let out = support::run_with_invoker(
        &plan,
        json!({}),
        &opts,
        default_origin(),
        Rc::new(engine::NoServices),
    );
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error.as_deref(),
        Some("Stepsim.TransitionLimitExceeded")
    );
}

#[test]
fn same_seed_same_bytes() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"u.$": "States.UUID()", "r.$": "States.MathRandom(1, 1000)"}, "End": true}}});
    let a = run(def.clone(), json!({}));
    let b = run(def, json!({}));
    assert_eq!(a.output, b.output);
    let ha: Vec<Value> = a
        .history
        .iter()
        .map(|e| e.to_json(engine::TimestampFormat::Rfc3339))
        .collect();
    let hb: Vec<Value> = b
        .history
        .iter()
        .map(|e| e.to_json(engine::TimestampFormat::Rfc3339))
        .collect();
    assert_eq!(
        serde_json::to_string(&ha).unwrap(),
        serde_json::to_string(&hb).unwrap()
    );
}

#[test]
fn inner_scopes_read_outer_variables_and_their_assignments_stay_inside() {
    // Recorded on AWS (test_parallel_catch_error[..VARIABLE_SAMPLING]): a branch may assign a
    // name the outer scope assigned; the outer value is unchanged afterwards.
    let out = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": "outer"}, "Next": "P"},
            "P": {"Type": "Parallel", "ResultPath": "$.branches", "Next": "After", "Branches": [
                {"StartAt": "Read", "States": {"Read": {"Type": "Pass",
                    "Parameters": {"seen.$": "$x"}, "Assign": {"x": "inner"}, "Next": "ReadAgain"},
                    "ReadAgain": {"Type": "Pass", "Parameters": {"now.$": "$x"}, "End": true}}}
            ]},
            "After": {"Type": "Pass", "Parameters": {"x.$": "$x", "branches.$": "$.branches"}, "End": true}
        }}),
        json!({}),
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(
        out.output,
        Some(json!({"x": "outer", "branches": [{"now": "inner"}]}))
    );
}

fn event_types(out: &engine::ExecutionOutcome) -> Vec<&'static str> {
    out.history.iter().map(|e| e.event_type).collect()
}

#[test]
fn map_and_parallel_record_their_final_failure_once_as_aws_does() {
    // A Map retried twice: MapStateStarted per attempt, MapStateFailed only after the last.
    let fail = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom"}}});
    let out = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": fail.clone(),
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "End": true}}}),
        json!([1]),
    );
    assert_eq!(out.status, ExecutionStatus::Failed);
    let t = event_types(&out);
    assert_eq!(t.iter().filter(|e| **e == "MapStateStarted").count(), 2);
    assert_eq!(t.iter().filter(|e| **e == "MapStateFailed").count(), 1);
    assert_eq!(t[t.len() - 2..], ["MapStateFailed", "ExecutionFailed"]);

    // A caught Map still records MapStateFailed before it exits.
    let out = run(
        json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": fail.clone(),
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "Next": "Done"},
            "Done": {"Type": "Succeed"}}}),
        json!([1]),
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    let t = event_types(&out);
    let i = t
        .iter()
        .position(|e| *e == "MapStateFailed")
        .expect("MapStateFailed");
    assert_eq!(
        t[i - 1..=i + 1],
        ["MapIterationFailed", "MapStateFailed", "MapStateExited"]
    );

    // A Parallel that succeeds records no ParallelStateSucceeded; one that fails records
    // ParallelStateFailed once, after its retries.
    let ok = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}}),
        json!({}),
    );
    assert!(!event_types(&ok).contains(&"ParallelStateSucceeded"));
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
            "Branches": [fail]}}}),
        json!({}),
    );
    let t = event_types(&out);
    assert_eq!(
        t.iter().filter(|e| **e == "ParallelStateStarted").count(),
        3
    );
    assert_eq!(t.iter().filter(|e| **e == "ParallelStateFailed").count(), 1);
}

#[test]
fn map_limits_fail_before_map_state_started_and_skip_map_state_failed() {
    // A bad MaxConcurrencyPath is a States.Runtime error: AWS records neither MapStateStarted
    // nor MapStateFailed.
    let out = run(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.v",
            "MaxConcurrencyPath": "$.c", "End": true,
            "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}}}}),
        json!({"v": [1, 2], "c": "many"}),
    );
    assert_eq!(out.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        event_types(&out),
        ["ExecutionStarted", "MapStateEntered", "ExecutionFailed"]
    );
}

#[test]
fn jsonata_evaluation_errors_are_recorded_once_with_their_field() {
    let out = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "Items": "{% 'not an array' %}", "End": true,
            "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}}}}),
        json!({}),
    );
    assert_eq!(out.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        event_types(&out),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    let details = out.history[2].to_json(engine::TimestampFormat::Rfc3339);
    let d = &details["evaluationFailedEventDetails"];
    assert_eq!(d["location"], "Items");
    assert_eq!(d["state"], "M");
    assert_eq!(d["error"], "States.QueryEvaluationError");

    // Raised inside an iteration, it is recorded there, not again by the Map.
    let out = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "End": true, "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass",
                "Output": "{% $undefinedThing %}", "End": true}}}}}}),
        json!([1]),
    );
    let t = event_types(&out);
    assert_eq!(
        t.iter().filter(|e| **e == "EvaluationFailed").count(),
        1,
        "{t:?}"
    );
    let i = t.iter().position(|e| *e == "EvaluationFailed").unwrap();
    assert_eq!(
        t[i - 1..=i + 1],
        ["PassStateEntered", "EvaluationFailed", "MapIterationFailed"]
    );
}

/// A Choice loop carrying `blob` and a counter for `iterations` rounds.
fn blob_loop(blob: &str, iterations: u32) -> engine::ExecutionOutcome {
    run(
        json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.i", "NumericLessThan": iterations, "Next": "Incr"}], "Default": "Done"},
            "Incr": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "blob.$": "$.blob"},
                     "Next": "Check"},
            "Done": {"Type": "Succeed"}
        }}),
        json!({"i": 0, "blob": blob}),
    )
}

/// The last SucceedStateExited event as GetExecutionHistory shows it.
fn last_exit_shown(out: &engine::ExecutionOutcome) -> serde_json::Value {
    out.history
        .iter()
        .rev()
        .find(|e| e.event_type == "SucceedStateExited")
        .unwrap()
        .to_json(engine::history::TimestampFormat::EpochSeconds)
}

/// The payloads of the state entered/exited events, in order.
fn state_payloads(out: &engine::ExecutionOutcome) -> Vec<&engine::history::Payload> {
    out.history
        .iter()
        .filter_map(|e| match &e.details {
            engine::history::Details::StateEntered { input, .. } => Some(input),
            engine::history::Details::StateExited { output, .. } => Some(output),
            _ => None,
        })
        .collect()
}

#[test]
fn a_history_keeps_one_copy_of_a_payload_several_events_show() {
    // A Choice loop carrying a 64 KB document: per iteration the Choice's input and output and
    // the Pass's input are the same value, and only the Pass's output is new.
    let blob = "x".repeat(64 * 1024);
    let out = blob_loop(&blob, 50);
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    let all = state_payloads(&out);
    let events = all.len();
    let mut payloads: Vec<usize> = all.iter().map(|p| p.identity()).collect();
    payloads.sort_unstable();
    payloads.dedup();
    // 50 iterations x 4 state events, plus the last Check and Done: 1 copy per new document.
    assert_eq!(events, 50 * 4 + 4);
    assert_eq!(payloads.len(), 51, "one payload per distinct document");
    // Shared payloads still render in full.
    let shown = last_exit_shown(&out);
    assert!(shown.to_string().len() > 64 * 1024);
}

#[test]
fn a_loop_carrying_a_large_document_holds_its_unchanged_parts_once() {
    // Issue 19: a Choice loop carrying 250 KB (3,000 iterations there; 500 here to keep the
    // debug build quick). Every iteration makes a new document (the counter changes), but the
    // blob in it is the same: the history must hold it once, not once per iteration.
    let blob = "y".repeat(250 * 1024);
    let out = blob_loop(&blob, 500);
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    let leaf = |v: &serde_json::Value| serde_json::to_string(v).map_or(0, |s| s.len() as u64);
    let mut seen = std::collections::HashSet::new();
    let all = state_payloads(&out);
    let payloads = all.len();
    let held: u64 = all
        .iter()
        .map(|p| p.unique_bytes(&mut seen, &leaf, 48))
        .sum();
    assert_eq!(payloads, 500 * 4 + 4);
    // One blob (256,002 bytes of JSON) plus a few hundred bytes per iteration, against
    // 501 x 256 KB = 128 MB kept whole.
    assert!(held < 256_002 + 501 * 400, "{held} bytes held");
    // Every payload still renders in full, the last one with the final counter.
    let shown = last_exit_shown(&out);
    let output: serde_json::Value =
        serde_json::from_str(shown["stateExitedEventDetails"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["i"], 500);
    assert_eq!(output["blob"].as_str().unwrap().len(), 250 * 1024);
}
