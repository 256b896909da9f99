//! Bad input never kills the server: malformed bodies, unknown actions, wrong member types,
//! huge payloads and random requests all answer 4xx in the service's own error shape, and
//! the server keeps serving.

mod support;

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::api::{build_state, http::dispatch};
use support::api::{config, TestServer};

async fn raw_sfn(t: &TestServer, target: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = t
        .client
        .post(format!("{}/", t.url))
        .header("content-type", "application/x-amz-json-1.0")
        .body(body);
    if let Some(target) = target {
        req = req.header("x-amz-target", target);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_requests_answer_4xx_and_the_server_keeps_serving() {
    let t = TestServer::start(config());
    let target = Some("AWSStepFunctions.StartExecution");
    let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (target, b"{not json".to_vec(), "SerializationException"),
        (target, b"[1, 2]".to_vec(), "SerializationException"),
        (target, vec![0xff, 0xfe, 0x00], "SerializationException"),
        (
            target,
            br#"{"stateMachineArn": 5}"#.to_vec(),
            "SerializationException",
        ),
        (target, b"{}".to_vec(), "ValidationException"),
        (
            Some("AWSStepFunctions.DescribeExecution"),
            br#"{"executionArn": {"deep": [1]}}"#.to_vec(),
            "SerializationException",
        ),
        (
            Some("AWSStepFunctions.GetExecutionHistory"),
            br#"{"executionArn": "arn:aws:states:us-east-1:1:execution:a:b", "maxResults": -4}"#
                .to_vec(),
            "ValidationException",
        ),
        (
            Some("AWSStepFunctions.Launch"),
            b"{}".to_vec(),
            "UnknownOperationException",
        ),
        (
            Some("SomethingElse.Describe"),
            b"{}".to_vec(),
            "UnknownOperationException",
        ),
    ];
    for (target, body, code) in cases {
        let (status, v) = raw_sfn(&t, target, body.clone()).await;
        assert_eq!(
            status,
            400,
            "{target:?} {:?}: {v}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(v["__type"], code, "{target:?}: {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    // Deeply nested input is data, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _) = raw_sfn(
        &t,
        target,
        json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "input": deep})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    // A huge body is refused before it is parsed.
    let huge = vec![b' '; 5 * 1024 * 1024];
    let (status, v) = raw_sfn(&t, target, huge).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["__type"], "ValidationException");

    let (status, v) = raw_sfn(
        &t,
        Some("AWSStepFunctions.ListStateMachines"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["stateMachines"].is_array());
}

fn action() -> impl Strategy<Value = String> {
    prop::sample::select(stepsim::api::sfn::ACTIONS.to_vec()).prop_map(str::to_string)
}

fn member_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            "arn:aws:states:us-east-1:123456789012:execution:m:e",
            "arn:aws:states:us-east-1:123456789012:activity:a",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:1",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:prod",
            "arn:aws:states:us-east-1:123456789012:mapRun:m/M:1",
            "{\"StartAt\": \"P\", \"States\": {\"P\": {\"Type\": \"Pass\", \"End\": true}}}",
            "{\"Type\": \"Pass\", \"End\": true}",
            "{}",
            "EXPRESS",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        Just(json!({"nested": [1, {"a": null}]})),
        Just(json!([{"key": "k", "value": "v"}, {"key": 3}])),
        Just(
            json!([{"stateMachineVersionArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m:1", "weight": 100}])
        ),
        Just(json!([{"weight": -1}, "x"])),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let members = prop::sample::select(vec![
        "name",
        "definition",
        "roleArn",
        "type",
        "stateMachineArn",
        "executionArn",
        "input",
        "output",
        "taskToken",
        "maxResults",
        "nextToken",
        "reverseOrder",
        "activityArn",
        "statusFilter",
        "error",
        "cause",
        "variables",
        "stateName",
        "inspectionLevel",
        "publish",
        "versionDescription",
        "revisionId",
        "description",
        "routingConfiguration",
        "stateMachineVersionArn",
        "stateMachineAliasArn",
        "resourceArn",
        "tags",
        "tagKeys",
        "mapRunArn",
        "maxConcurrency",
        "toleratedFailurePercentage",
        "toleratedFailureCount",
        "clientToken",
        "redriveFilter",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::btree_map(members, member_value(), 0..6).prop_map(|m| {
            let obj: serde_json::Map<String, Value> =
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            Value::Object(obj).to_string().into_bytes()
        }),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        "/[a-z0-9.-]{0,12}".prop_map(|s| s),
        "/[a-z0-9-]{3,8}/[a-zA-Z0-9/%+. -]{0,20}".prop_map(|s| s.replace(' ', "%20")),
        "/2015-03-31/functions(/[a-zA-Z0-9%:_-]{0,20}){0,3}",
        "/[a-z]{3,6}\\?(list-type=2|delete|location|max-keys=[a-z0-9]{0,3}|continuation-token=[a-zA-Z0-9%]{0,8}|encoding-type=[a-z]{0,4})",
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, .. ProptestConfig::default() })]

    /// Whatever arrives, the answer is an HTTP response below 500 (S3's NotImplemented is the
    /// one 5xx, for operations this server does not offer), and nothing panics.
    #[test]
    fn random_requests_never_break_the_server(
        action in action(),
        sfn_body in body(),
        path in path(),
        method in method(),
        rest_body in prop::collection::vec(any::<u8>(), 0..64),
        headers in prop::collection::vec((
            prop::sample::select(vec!["x-amz-invocation-type", "content-encoding", "range",
                "x-amz-copy-source", "x-amz-decoded-content-length", "x-amz-log-type"]),
            "[ -~]{0,16}"), 0..3),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut c = config();
        c.activity_poll = std::time::Duration::from_millis(1);
        let state = build_state(c);
        rt.block_on(async {
            let req = Request::builder()
                .method("POST")
                .uri("/")
                .header("x-amz-target", format!("AWSStepFunctions.{action}"))
                .body(Body::from(sfn_body))
                .unwrap();
            let r = dispatch(State(state.clone()), req).await;
            prop_assert!(r.status().is_client_error() || r.status().is_success(), "{} -> {}", action, r.status());

            let mut req = Request::builder().method(method).uri(&path);
            for (k, v) in &headers {
                req = req.header(*k, v.as_str());
            }
            if let Ok(req) = req.body(Body::from(rest_body)) {
                let r = dispatch(State(state.clone()), req).await;
                prop_assert!(r.status().as_u16() < 500 || r.status().as_u16() == 501,
                    "{} {} -> {}", method, path, r.status());
            }
            Ok(())
        })?;
    }
}

/// Members and values the versions, aliases, tags and map-run actions read, including ARNs
/// that exist in the state the test sets up.
fn versions_body() -> impl Strategy<Value = Vec<u8>> {
    let m = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
    let values = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        (-5.0f64..205.0).prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            m.to_string(),
            format!("{m}:1"),
            format!("{m}:2"),
            format!("{m}:9"),
            format!("{m}:live"),
            format!("{m}:gone"),
            format!("{m}:"),
            "arn:aws:states:us-east-1:123456789012:mapRun:m/M:1".to_string(),
            "live".to_string(),
            "123".to_string(),
        ])
        .prop_map(Value::String),
        Just(
            json!([{"stateMachineVersionArn": format!("{m}:1"), "weight": 50},
                    {"stateMachineVersionArn": format!("{m}:2"), "weight": 50}])
        ),
        Just(json!([{"stateMachineVersionArn": format!("{m}:2"), "weight": 100}])),
        Just(json!([{"stateMachineVersionArn": format!("{m}:1"), "weight": 101}])),
        Just(json!([{"key": "k", "value": "v"}, {"key": "team"}])),
        Just(json!(["team", 3, null])),
        Just(json!({"nested": [1]})),
    ];
    let members = prop::sample::select(vec![
        "stateMachineArn",
        "stateMachineVersionArn",
        "stateMachineAliasArn",
        "name",
        "description",
        "revisionId",
        "routingConfiguration",
        "resourceArn",
        "tags",
        "tagKeys",
        "mapRunArn",
        "executionArn",
        "maxConcurrency",
        "toleratedFailurePercentage",
        "toleratedFailureCount",
        "maxResults",
        "nextToken",
        "definition",
        "publish",
        "versionDescription",
    ]);
    prop::collection::btree_map(members, values, 0..6).prop_map(|m| {
        let obj: serde_json::Map<String, Value> =
            m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Value::Object(obj).to_string().into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// With a machine that has versions, an alias and tags, random requests to the version,
    /// alias, tag and map-run actions answer 2xx or 4xx, and the state stays usable.
    #[test]
    fn versions_aliases_tags_and_map_runs_never_break_the_server(
        steps in prop::collection::vec((
            prop::sample::select(vec![
                "PublishStateMachineVersion", "ListStateMachineVersions",
                "DeleteStateMachineVersion", "CreateStateMachineAlias",
                "DescribeStateMachineAlias", "UpdateStateMachineAlias",
                "DeleteStateMachineAlias", "ListStateMachineAliases", "TagResource",
                "UntagResource", "ListTagsForResource", "ListMapRuns", "DescribeMapRun",
                "UpdateMapRun", "DescribeStateMachine", "UpdateStateMachine",
                "ListExecutions", "StartExecution",
            ]),
            versions_body(),
        ), 1..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let state = build_state(config());
        let call = |action: &str, body: Vec<u8>| {
            Request::builder()
                .method("POST")
                .uri("/")
                .header("x-amz-target", format!("AWSStepFunctions.{action}"))
                .body(Body::from(body))
                .unwrap()
        };
        rt.block_on(async {
            let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
            let m = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
            for (action, body) in [
                ("CreateStateMachine", json!({"name": "m", "definition": def.to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/r", "publish": true,
                    "tags": [{"key": "team", "value": "a"}]})),
                ("UpdateStateMachine", json!({"stateMachineArn": m,
                    "definition": def.to_string(), "publish": true})),
                ("CreateStateMachineAlias", json!({"name": "live", "routingConfiguration":
                    [{"stateMachineVersionArn": format!("{m}:1"), "weight": 100}]})),
            ] {
                let r = dispatch(State(state.clone()), call(action, body.to_string().into_bytes())).await;
                prop_assert!(r.status().is_success(), "setup {} -> {}", action, r.status());
            }
            for (action, body) in steps {
                let r = dispatch(State(state.clone()), call(action, body)).await;
                prop_assert!(r.status().is_client_error() || r.status().is_success(),
                    "{} -> {}", action, r.status());
            }
            // Still answering.
            let r = dispatch(State(state.clone()), call("ListStateMachineVersions",
                json!({"stateMachineArn": m}).to_string().into_bytes())).await;
            prop_assert!(r.status().is_success());
            Ok(())
        })?;
    }

    /// Random redrives, stops and reads of a failed execution (and of ARNs that do not exist)
    /// answer 2xx or 4xx, and the execution's history stays whole: ids 1..n in order, each
    /// attempt after the first opened by one `ExecutionRedriven`.
    #[test]
    fn redrives_never_break_an_execution(
        steps in prop::collection::vec((
            prop::sample::select(vec![
                "RedriveExecution", "RedriveExecution", "DescribeExecution", "StopExecution",
                "ListExecutions", "GetExecutionHistory",
            ]),
            prop::collection::btree_map(
                prop::sample::select(vec!["executionArn", "clientToken", "redriveFilter",
                    "stateMachineArn", "maxResults"]),
                prop_oneof![
                    Just(json!("arn:aws:states:us-east-1:123456789012:execution:m:e")),
                    Just(json!("arn:aws:states:us-east-1:123456789012:execution:m:other")),
                    Just(json!("arn:aws:states:us-east-1:123456789012:stateMachine:m")),
                    Just(json!("REDRIVEN")),
                    Just(json!("NOT_REDRIVEN")),
                    ".{0,70}".prop_map(Value::String),
                    any::<i64>().prop_map(Value::from),
                    Just(Value::Null),
                ],
                0..4,
            ),
        ), 1..10),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let state = build_state(config());
        let call = |action: &str, body: Value| {
            Request::builder()
                .method("POST")
                .uri("/")
                .header("x-amz-target", format!("AWSStepFunctions.{action}"))
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let exec = "arn:aws:states:us-east-1:123456789012:execution:m:e";
        rt.block_on(async {
            let def = json!({"StartAt": "W", "States": {
                "W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                "F": {"Type": "Fail", "Error": "E"}}});
            for (action, body) in [
                ("CreateStateMachine", json!({"name": "m", "definition": def.to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/r"})),
                ("StartExecution", json!({"stateMachineArn":
                    "arn:aws:states:us-east-1:123456789012:stateMachine:m", "name": "e"})),
            ] {
                let r = dispatch(State(state.clone()), call(action, body)).await;
                prop_assert!(r.status().is_success(), "setup {} -> {}", action, r.status());
            }
            for (action, members) in steps {
                let body = Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
                let r = dispatch(State(state.clone()), call(action, body)).await;
                prop_assert!(r.status().is_client_error() || r.status().is_success(),
                    "{} -> {}", action, r.status());
            }
            // Let every attempt end, then read the history.
            let mut history = Value::Null;
            for _ in 0..500 {
                let r = dispatch(State(state.clone()), call("DescribeExecution",
                    json!({"executionArn": exec}))).await;
                let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                let d: Value = serde_json::from_slice(&bytes).unwrap();
                if d["status"] != "RUNNING" {
                    let r = dispatch(State(state.clone()), call("GetExecutionHistory",
                        json!({"executionArn": exec, "maxResults": 1000}))).await;
                    let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
                    history = serde_json::from_slice(&bytes).unwrap();
                    let events = history["events"].as_array().unwrap();
                    let redriven = events.iter().filter(|e| e["type"] == "ExecutionRedriven").count();
                    prop_assert_eq!(d["redriveCount"].as_u64(), Some(redriven as u64));
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let events = history["events"].as_array().expect("the execution ended");
            for (i, e) in events.iter().enumerate() {
                prop_assert_eq!(e["id"].as_u64(), Some(i as u64 + 1));
                prop_assert_eq!(e["previousEventId"].as_u64(), Some(i as u64));
            }
            prop_assert_eq!(&events[0]["type"], "ExecutionStarted");
            Ok(())
        })?;
    }
}
