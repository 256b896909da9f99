//! `stepsim serve`'s DynamoDB, SQS, SNS and EventBridge endpoints: boto3 (when python3 and
//! boto3 are installed) runs tests/compat/services_flow.py against a server, including a
//! workflow whose writes boto3 reads back; the JSON protocols are also checked directly.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{boto3_available, config, run_compat_script, TestServer};

#[test]
fn boto3_sees_services_and_what_a_workflow_wrote() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_compat_script("services_flow.py", &[]);
}

#[tokio::test]
async fn json_protocol_errors_have_aws_shapes() {
    let t = TestServer::start(config());
    let (status, _, body) = t
        .json_call(
            "application/x-amz-json-1.0",
            "DynamoDB_20120810.GetItem",
            json!({"TableName": "Nope", "Key": {"id": {"S": "a"}}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    );
    let (status, _, body) = t
        .json_call(
            "application/x-amz-json-1.0",
            "AmazonSQS.GetQueueUrl",
            json!({"QueueName": "none"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    let (status, ct, body) = t
        .json_call(
            "application/x-amz-json-1.1",
            "AWSEvents.PutEvents",
            json!({"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
        )
        .await;
    assert_eq!((status, ct.as_str()), (200, "application/x-amz-json-1.1"));
    assert_eq!(body["FailedEntryCount"], 0);
    assert_eq!(t.server.state().services.events.deliveries().len(), 1);
}

#[tokio::test]
async fn a_child_machine_runs_as_an_execution_of_its_own() {
    let t = TestServer::start(config());
    let child = t
        .create_machine(
            "child",
            &json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
                "Parameters": {"got.$": "$.x"}, "End": true}}}),
        )
        .await;
    let parent = t
        .create_machine(
            "parent",
            &json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {"x.$": "$.x"}},
                "OutputPath": "$.Output", "End": true}}}),
        )
        .await;
    let exec = t.start_exec(&parent, "p1", &json!({"x": 7})).await;
    let d = t.wait_end(&exec, Duration::from_secs(30)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let output: serde_json::Value = serde_json::from_str(d["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"got": 7}));
    // The child is listed under its machine, with its own history.
    let listed = t
        .ok("ListExecutions", json!({"stateMachineArn": child}))
        .await;
    let executions = listed["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "{listed}");
    assert_eq!(executions[0]["status"], "SUCCEEDED");
    let child_exec = executions[0]["executionArn"].as_str().unwrap();
    let events = t.history(child_exec).await;
    assert_eq!(events.first().unwrap()["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
    // A machine that does not exist.
    let orphan = t
        .create_machine(
            "orphan",
            &json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:none"},
                "End": true}}}),
        )
        .await;
    let exec = t.start_exec(&orphan, "o1", &json!({})).await;
    let d = t.wait_end(&exec, Duration::from_secs(30)).await;
    assert_eq!(
        d["error"], "StepFunctions.StateMachineDoesNotExistException",
        "{d}"
    );
}

#[tokio::test]
async fn sqs_wait_for_task_token_is_answered_by_a_client() {
    let t = TestServer::start(config());
    let (_, _, q) = t
        .json_call(
            "application/x-amz-json-1.0",
            "AmazonSQS.CreateQueue",
            json!({"QueueName": "tasks"}),
        )
        .await;
    let url = q["QueueUrl"].as_str().unwrap().to_string();
    let machine = t
        .create_machine(
            "callback",
            &json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url,
                               "MessageBody": {"token.$": "$$.Task.Token", "x.$": "$.x"}},
                "End": true}}}),
        )
        .await;
    let exec = t.start_exec(&machine, "c1", &json!({"x": 3})).await;
    // The worker: receive the message, answer with its token.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (_, _, r) = t
            .json_call(
                "application/x-amz-json-1.0",
                "AmazonSQS.ReceiveMessage",
                json!({"QueueUrl": url}),
            )
            .await;
        if let Some(m) = r["Messages"].get(0) {
            break m["Body"].as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no message arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let msg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(msg["x"], 3);
    t.ok(
        "SendTaskSuccess",
        json!({"taskToken": msg["token"], "output": "{\"done\": true}"}),
    )
    .await;
    let d = t.wait_end(&exec, Duration::from_secs(30)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["output"], "{\"done\":true}");
}

#[tokio::test]
async fn start_sync_execution_stops_express_runs_at_five_minutes() {
    let t = TestServer::start(config());
    let machine = t
        .create_machine_typed(
            "long",
            &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1200, "End": true}}}),
            "EXPRESS",
        )
        .await;
    let (status, v) = t
        .sfn(
            "StartSyncExecution",
            json!({"stateMachineArn": machine, "input": "{}"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "TIMED_OUT", "{v}");
    assert_eq!(v["error"], "States.Timeout");
    let start = v["startDate"].as_f64().unwrap();
    let stop = v["stopDate"].as_f64().unwrap();
    assert!((stop - start - 300.0).abs() < 1.0, "{start} {stop}");
}
