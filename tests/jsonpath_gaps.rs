//! The JSONPath-side gaps of issue 18 checked end to end: the `States.DataLimitExceeded`
//! cause names an optimized integration by its resource type (`lambda`, `aws-sdk:s3`) and a
//! Lambda ARN by the ARN; `lambda:invoke` with `LogType: Tail` returns `LogResult` (base64
//! of the last 4 KB of that invocation's log) and the `X-Amz-Log-Result` header; a JSONata
//! Map evaluates `{% %}` ItemBatcher limits; ItemReader failures are
//! `States.ItemReaderFailed` that a Catch can take.

use base64::Engine as _;
use serde_json::{json, Value};
use stepsim::engine::{
    CallContext, ExecutionOptions, ExecutionStatus, Plan, ServiceCall, TaskInvoker,
};
use stepsim::sim::{
    handler_fn, FunctionConfig, FunctionRegistry, Invocation, LambdaSettings, Simulation,
};

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:sm:run1";

fn functions() -> FunctionRegistry {
    let mut reg = FunctionRegistry::new();
    reg.register(
        "chatty",
        FunctionConfig::default(),
        handler_fn(|event: Value, ctx: &mut Invocation| {
            let n = event["lines"].as_u64().unwrap_or(1);
            for i in 0..n {
                ctx.log(format!("line {i} {}", "x".repeat(60)));
            }
            Ok(json!({"ok": true}))
        }),
    )
    .unwrap();
    reg.register(
        "big",
        FunctionConfig::default(),
        handler_fn(|_event: Value, _ctx: &mut Invocation| Ok(json!("y".repeat(300_000)))),
    )
    .unwrap();
    reg
}

fn sim(seed: u64) -> Simulation {
    Simulation::builder()
        .seed(seed)
        .functions(functions())
        .lambda_settings(LambdaSettings::without_latency())
        .build()
        .unwrap()
}

fn optimized(parameters: Value) -> ServiceCall {
    let context = CallContext {
        execution_arn: EXEC.into(),
        state_name: "Task".into(),
        ..CallContext::default()
    };
    ServiceCall::for_resource("arn:aws:states:::lambda:invoke", parameters, context)
        .expect("a Lambda call")
}

fn invoke(seed: u64, parameters: Value) -> Value {
    let s = sim(seed);
    let w = s.world().clone();
    s.block_on(async move { w.invoke(optimized(parameters)).await.unwrap().into_json() })
}

fn decoded(v: &Value) -> String {
    let b64 = v["LogResult"].as_str().expect("a LogResult");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn log_type_tail_returns_the_invocations_log() {
    let r = invoke(
        5,
        json!({"FunctionName": "chatty", "Payload": {"lines": 2}, "LogType": "Tail"}),
    );
    let log = decoded(&r);
    let id = r["SdkResponseMetadata"]["RequestId"].as_str().unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], format!("START RequestId: {id} Version: $LATEST"));
    assert!(lines[1].starts_with("line 0 "), "{log}");
    assert!(lines[2].starts_with("line 1 "), "{log}");
    assert_eq!(lines[3], format!("END RequestId: {id}"));
    assert!(lines[4].starts_with(&format!("REPORT RequestId: {id}\tDuration: ")));
    assert!(log.ends_with('\n'));
    // The same text is the X-Amz-Log-Result header, and the keys keep AWS's order.
    assert_eq!(
        r["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"],
        r["LogResult"]
    );
    assert_eq!(
        r["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"],
        json!([r["LogResult"].clone()])
    );
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ExecutedVersion",
            "LogResult",
            "Payload",
            "SdkHttpMetadata",
            "SdkResponseMetadata",
            "StatusCode"
        ]
    );
    // Deterministic: the same seed gives the same bytes.
    let again = invoke(
        5,
        json!({"FunctionName": "chatty", "Payload": {"lines": 2}, "LogType": "Tail"}),
    );
    assert_eq!(r, again);
}

#[test]
fn log_result_is_the_last_4_kb_and_only_when_asked() {
    let r = invoke(
        6,
        json!({"FunctionName": "chatty", "Payload": {"lines": 200}, "LogType": "Tail"}),
    );
    let log = decoded(&r);
    assert_eq!(log.len(), 4096);
    assert!(log.contains("line 199 "), "the newest lines are kept");
    assert!(!log.contains("START RequestId"), "the oldest are cut");
    assert!(log
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("REPORT RequestId: "));
    for params in [
        json!({"FunctionName": "chatty"}),
        json!({"FunctionName": "chatty", "LogType": "None"}),
        json!({"FunctionName": "chatty", "LogType": "Tail", "InvocationType": "Event"}),
    ] {
        let r = invoke(6, params.clone());
        assert!(r.get("LogResult").is_none(), "{params}");
        assert!(r["SdkHttpMetadata"]["HttpHeaders"]
            .get("X-Amz-Log-Result")
            .is_none());
    }
}

fn run(def: Value, input: Value) -> stepsim::engine::ExecutionOutcome {
    let plan = Plan::compile(&stepsim::asl::load_value(&def).expect("valid")).unwrap();
    let s = sim(3);
    s.run(&plan, input, &ExecutionOptions::default()).outcome
}

#[test]
fn data_limit_cause_names_the_resource_type_of_an_integration() {
    let task = |resource: &str, params: Value| {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
            "Parameters": params, "End": true}}})
    };
    let out = run(
        task(
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "big"}),
        ),
        json!({}),
    );
    assert_eq!(out.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        out.cause.as_deref(),
        Some("The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit.")
    );
    // A function ARN as the resource is named by the ARN (the public recordings' form).
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:big";
    let out = run(task(arn, json!({})), json!({}));
    assert_eq!(
        out.cause,
        Some(format!("The state/task '{arn}' returned a result with a size exceeding the maximum number of bytes service limit."))
    );
}

#[test]
fn jsonata_item_batcher_limits_are_expressions() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map",
        "Items": "{% $states.input.items %}",
        "ItemBatcher": {
            "MaxItemsPerBatch": "{% $states.input.per %}",
            "MaxInputBytesPerBatch": "{% 1000 * 256 %}",
            "BatchInput": {"tag": "{% $states.input.tag %}"}
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let out = run(
        def.clone(),
        json!({"items": [1, 2, 3, 4, 5], "per": 2, "tag": "t"}),
    );
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.cause);
    assert_eq!(
        out.output,
        Some(json!([
            {"BatchInput": {"tag": "t"}, "Items": [1, 2]},
            {"BatchInput": {"tag": "t"}, "Items": [3, 4]},
            {"BatchInput": {"tag": "t"}, "Items": [5]}
        ]))
    );
    // Not an integer: the expression's result type is a States.QueryEvaluationError.
    let out = run(def, json!({"items": [1], "per": "two", "tag": "t"}));
    assert_eq!(out.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(
        out.cause
            .as_deref()
            .unwrap_or("")
            .contains("ItemBatcher/MaxItemsPerBatch"),
        "{:?}",
        out.cause
    );
}

#[test]
fn item_reader_failures_are_catchable_item_reader_failed() {
    let body_of = |kind: &str| match kind {
        "JSON" => "{not json",
        _ => "a,a\n1,2\n",
    };
    for (input_type, key, present) in [
        ("JSON", "missing.json", false),
        ("JSON", "bad.json", true),
        ("CSV", "dup.csv", true),
    ] {
        let mut reader = json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": input_type},
            "Parameters": {"Bucket": "bkt", "Key": key}});
        if input_type == "CSV" {
            reader["ReaderConfig"]["CSVHeaderLocation"] = json!("FIRST_ROW");
        }
        let def = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemReader": reader,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "Catch": [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}],
                "End": true},
            "Caught": {"Type": "Pass", "End": true}}});
        let plan = Plan::compile(&stepsim::asl::load_value(&def).expect("valid")).unwrap();
        let s = sim(4);
        s.block_on(async {
            let store = s.world().store();
            let _ = store.create_bucket("bkt").await;
            if present {
                store
                    .put(
                        "bkt",
                        key,
                        body_of(input_type).as_bytes().to_vec().into(),
                        s.now(),
                    )
                    .await
                    .unwrap();
            }
        });
        let out = s
            .run(&plan, json!({}), &ExecutionOptions::default())
            .outcome;
        assert_eq!(
            out.status,
            ExecutionStatus::Succeeded,
            "{key}: {:?}",
            out.cause
        );
        let caught = out.output.unwrap_or_default();
        assert_eq!(
            caught["Error"], "States.ItemReaderFailed",
            "{key}: {caught}"
        );
        assert!(
            caught["Cause"].as_str().is_some_and(|c| !c.is_empty()),
            "{key}"
        );
    }
}
