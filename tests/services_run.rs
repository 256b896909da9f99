//! DynamoDB, SQS, SNS and EventBridge integrations through the world and `stepsim run`:
//! response and error shapes (optimized and aws-sdk), side effects, billing, the
//! `services.toml` project file, determinism, and the Express five-minute limit.

use serde_json::{json, Value};
use stepsim::asl;
use stepsim::engine::{ExecutionOptions, ExecutionStatus, Plan};
use stepsim::sim::{AwsServices, Simulation};

mod support;
use support::cli::{json_without_wall, stepsim};

fn plan(definition: Value) -> Plan {
    let machine = asl::load_value(&definition).expect("definition parses");
    Plan::compile(&machine).expect("definition compiles")
}

fn task(resource: &str, parameters: Value) -> Value {
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource,
        "Parameters": parameters, "End": true}}})
}

fn services_with_table() -> AwsServices {
    let services = AwsServices::default();
    services
        .dynamodb
        .call(
            "CreateTable",
            &json!({"TableName": "T",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}),
            0.0,
        )
        .unwrap();
    services
}

#[test]
fn dynamodb_optimized_responses_and_errors() {
    let services = services_with_table();
    let sim = Simulation::builder()
        .services(services.clone())
        .build()
        .unwrap();
    let opts = ExecutionOptions::default();
    let put = plan(task(
        "arn:aws:states:::dynamodb:putItem",
        json!({"TableName": "T", "Item": {"id": {"S": "a"}, "n": {"N": "1"}}}),
    ));
    let r = sim.run(&put, json!({}), &opts);
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let out = r.outcome.output.unwrap();
    assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert!(out["SdkResponseMetadata"]["RequestId"].is_string());
    assert_eq!(r.usage.services.dynamodb_write_units, 1);
    assert!(r.bill.line("dynamodb.write").is_some());

    let get = plan(task(
        "arn:aws:states:::dynamodb:getItem",
        json!({"TableName": "T", "Key": {"id": {"S": "a"}}}),
    ));
    let r = sim.run(&get, json!({}), &opts);
    assert_eq!(
        r.outcome.output.unwrap()["Item"],
        json!({"id": {"S": "a"}, "n": {"N": "1"}})
    );

    // A failed condition, as Step Functions names it for the optimized integration.
    let conditional = plan(task(
        "arn:aws:states:::dynamodb:putItem",
        json!({"TableName": "T", "Item": {"id": {"S": "a"}},
               "ConditionExpression": "attribute_not_exists(id)"}),
    ));
    let r = sim.run(&conditional, json!({}), &opts);
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("DynamoDB.ConditionalCheckFailedException")
    );
    let cause = r.outcome.cause.unwrap();
    assert!(
        cause.starts_with("The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; Request ID: "),
        "{cause}"
    );
    // The item was not replaced.
    assert_eq!(
        services.dynamodb.items("T").unwrap()[0]["n"],
        json!({"N": "1"})
    );

    let missing = plan(task(
        "arn:aws:states:::dynamodb:getItem",
        json!({"TableName": "Nope", "Key": {"id": {"S": "a"}}}),
    ));
    let r = sim.run(&missing, json!({}), &opts);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("DynamoDB.ResourceNotFoundException")
    );

    let bad = plan(task(
        "arn:aws:states:::dynamodb:updateItem",
        json!({"TableName": "T", "Key": {"id": {"S": "a"}}, "UpdateExpression": "SET n = n +"}),
    ));
    let r = sim.run(&bad, json!({}), &opts);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("DynamoDB.ValidationException")
    );
    assert!(r
        .outcome
        .cause
        .unwrap()
        .contains("Invalid UpdateExpression: Syntax error"));
}

#[test]
fn dynamodb_sdk_integration_query_scan_and_errors() {
    let services = services_with_table();
    let sim = Simulation::builder().services(services).build().unwrap();
    let opts = ExecutionOptions::default();
    for id in ["a", "b", "c"] {
        let put = plan(task(
            "arn:aws:states:::aws-sdk:dynamodb:putItem",
            json!({"TableName": "T", "Item": {"id": {"S": id}, "tag": {"S": format!("t-{id}")}}}),
        ));
        let r = sim.run(&put, json!({}), &opts);
        // The SDK integration returns the plain SDK response.
        assert_eq!(r.outcome.output, Some(json!({})));
    }
    let scan = plan(task(
        "arn:aws:states:::aws-sdk:dynamodb:scan",
        json!({"TableName": "T", "FilterExpression": "begins_with(tag, :p) AND id <> :b",
               "ExpressionAttributeValues": {":p": {"S": "t-"}, ":b": {"S": "b"}}}),
    ));
    let r = sim.run(&scan, json!({}), &opts);
    let out = r.outcome.output.unwrap();
    assert_eq!(
        (out["Count"].clone(), out["ScannedCount"].clone()),
        (json!(2), json!(3))
    );
    let query = plan(task(
        "arn:aws:states:::aws-sdk:dynamodb:query",
        json!({"TableName": "T", "KeyConditionExpression": "id = :a",
               "ExpressionAttributeValues": {":a": {"S": "a"}}}),
    ));
    let out = sim.run(&query, json!({}), &opts).outcome.output.unwrap();
    assert_eq!(out["Items"][0]["tag"], json!({"S": "t-a"}));

    let conditional = plan(task(
        "arn:aws:states:::aws-sdk:dynamodb:deleteItem",
        json!({"TableName": "T", "Key": {"id": {"S": "a"}},
               "ConditionExpression": "tag = :x", "ExpressionAttributeValues": {":x": {"S": "no"}}}),
    ));
    let r = sim.run(&conditional, json!({}), &opts);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("DynamoDb.ConditionalCheckFailedException")
    );
    assert!(r.outcome.cause.unwrap().starts_with(
        "The conditional request failed (Service: DynamoDb, Status Code: 400, Request ID: "
    ));
}

#[test]
fn sqs_sns_and_events_record_their_effects() {
    let services = AwsServices::default();
    let url = services.sqs.create_queue("q", None, 0.0).unwrap();
    let topic = services.sns.create_topic("t");
    services
        .sns
        .call(
            "Subscribe",
            &json!({"TopicArn": topic, "Protocol": "sqs", "Endpoint": url,
                    "Attributes": {"RawMessageDelivery": "true"}}),
            0.0,
        )
        .unwrap();
    let sim = Simulation::builder()
        .services(services.clone())
        .build()
        .unwrap();
    let opts = ExecutionOptions::default();
    let def = json!({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": {"n": 1}}, "ResultPath": "$.sent", "Next": "Pub"},
        "Pub": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": topic, "Message": "hello"}, "ResultPath": "$.pub", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"Source": "s", "DetailType": "d", "Detail": {"k": true}}]}, "End": true}}});
    let r = sim.run(&plan(def), json!({}), &opts);
    assert_eq!(
        r.outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        r.outcome.cause
    );
    let out = r.outcome.output.unwrap();
    assert_eq!(
        out["Entries"][0]["EventId"].as_str().map(str::len),
        Some(36)
    );
    assert_eq!(out["FailedEntryCount"], 0);
    let bodies: Vec<String> = services
        .sqs
        .waiting("q")
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec!["{\"n\":1}".to_string(), "hello".to_string()]);
    assert_eq!(services.events.deliveries()[0].detail, "{\"k\":true}");
    assert_eq!(r.usage.services.sqs_requests, 1);
    assert_eq!(r.usage.services.sns_publishes, 1);
    assert_eq!(r.usage.services.events, 1);
    assert_eq!(r.services["sns"]["published"][0]["message"], "hello");

    let missing = plan(task(
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/none", "MessageBody": "x"}),
    ));
    let r = sim.run(&missing, json!({}), &opts);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("SQS.QueueDoesNotExistException")
    );
    let unknown = plan(task(
        "arn:aws:states:::sns:publish",
        json!({"TopicArn": "arn:aws:sns:us-east-1:123456789012:none", "Message": "x"}),
    ));
    let r = sim.run(&unknown, json!({}), &opts);
    assert_eq!(r.outcome.error.as_deref(), Some("SNS.NotFoundException"));
}

#[test]
fn the_example_project_runs_and_reports_its_services() {
    let (code, out, err) = stepsim(&["run", "asl-examples/services", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json_without_wall(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(
        v["output"]["order"],
        json!({"status": "CLAIMED", "total": "42.5"})
    );
    let orders = &v["services"]["dynamodb"]["tables"]["Orders"]["items"][0];
    assert_eq!(orders["status"], json!({"S": "CLAIMED"}));
    assert_eq!(orders["attempts"], json!({"N": "1"}));
    assert_eq!(
        v["services"]["sqs"]["queues"]["shipping"]["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // SNS delivered the notification envelope to its subscribed queue.
    let audit = v["services"]["sqs"]["queues"]["audit"]["messages"][0]
        .as_str()
        .unwrap();
    assert!(audit.contains("\"Type\":\"Notification\""), "{audit}");
    // The child workflow ran (.sync:2) and its write is billed with the parent's.
    assert_eq!(
        v["output"]["audit"],
        json!({"status": "SUCCEEDED", "output": {"recorded": true}})
    );
    let events = v["services"]["dynamodb"]["tables"]["Events"]["items"]
        .as_array()
        .unwrap();
    assert_eq!(events[1]["by"]["S"], v["execution_arn"]);
    assert_eq!(
        v["services"]["stepfunctions"]["executions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(v["services"]["usage"]["dynamodb_write_units"], 3);
    let components: Vec<&str> = v["bill"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["component"].as_str().unwrap())
        .collect();
    for c in [
        "dynamodb.read",
        "dynamodb.write",
        "sqs.requests",
        "sns.publishes",
        "eventbridge.events",
    ] {
        assert!(components.contains(&c), "{c} in {components:?}");
    }
    // Same inputs and seed, same bytes (ids included).
    let (_, again, _) = stepsim(&["run", "asl-examples/services", "--json"]);
    assert_eq!(json_without_wall(&again), v);
    // A missing order fails its condition and is caught.
    let (code, out, _) = stepsim(&[
        "run",
        "asl-examples/services",
        "--input",
        "{\"orderId\": \"o-9\", \"customer\": \"x\"}",
        "--json",
    ]);
    assert_ne!(code, 0);
    let v = json_without_wall(&out);
    assert_eq!(v["error"], "OrderAlreadyClaimed");
}

#[test]
fn a_bad_services_file_names_file_and_key() {
    let dir = std::env::temp_dir().join(format!("stepsim-services-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state-machine.asl.json"),
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("services.toml"),
        "[tables.T]\npartition_key = \"id:X\"\n",
    )
    .unwrap();
    let (code, _, err) = stepsim(&["run", dir.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("services.toml") && err.contains("tables.T"),
        "{err}"
    );
    std::fs::write(dir.join("services.toml"), "[topics.t]\nsqs = [\"nope\"]\n").unwrap();
    let (code, _, err) = stepsim(&["run", dir.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("topics.t") && err.contains("nope"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn express_runs_stop_at_five_minutes() {
    let dir = std::env::temp_dir().join(format!("stepsim-express-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let def = dir.join("long.asl.json");
    std::fs::write(
        &def,
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1200, "End": true}}}"#,
    )
    .unwrap();
    let (_, out, err) = stepsim(&["run", def.to_str().unwrap(), "--express", "--json"]);
    let v = json_without_wall(&out);
    assert_eq!(v["status"], "TIMED_OUT", "{err}");
    assert_eq!(v["error"], "States.Timeout");
    assert_eq!(v["duration_ms"], 300_000);
    let (_, out, _) = stepsim(&["run", def.to_str().unwrap(), "--json"]);
    assert_eq!(json_without_wall(&out)["status"], "SUCCEEDED");
    let _ = std::fs::remove_dir_all(&dir);
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn nested_executions_run_project_machines() {
    let dir = std::env::temp_dir().join(format!("stepsim-nested-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir,
        "machines/child.asl.json",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "F"}], "Default": "P"},
            "P": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)", "by.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}, "End": true},
            "F": {"Type": "Fail", "Error": "ChildError", "Cause": "asked to fail"}}}"#,
    );
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:child";
    let definition = json!({"StartAt": "Sync2", "States": {
        "Sync2": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": arn, "Name": "c1",
                                 "Input": {"n": 21, "fail": false, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                  "ResultSelector": {"out.$": "$.Output", "status.$": "$.Status"}, "ResultPath": "$.sync2", "Next": "Sync"},
        "Sync": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                 "Parameters": {"StateMachineArn": arn, "Input": {"n": 1, "fail": false, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}},
                 "ResultSelector": {"out.$": "$.Output"}, "ResultPath": "$.sync", "Next": "Fire"},
        "Fire": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                 "Parameters": {"StateMachineArn": arn, "Input": {"n": 1, "fail": false, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x"}},
                 "ResultSelector": {"arn.$": "$.ExecutionArn"}, "ResultPath": "$.fire", "Next": "Failing"},
        "Failing": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": arn, "Input": {"fail": true}},
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Missing"}], "End": true},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:none"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.missing", "Next": "Done"}], "End": true},
        "Done": {"Type": "Succeed"}}});
    write(&dir, "state-machine.asl.json", &definition.to_string());
    let (code, out, err) = stepsim(&["run", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v = json_without_wall(&out);
    let o = &v["output"];
    // .sync:2 parses the child's output; the parent's id reached the child's input.
    assert_eq!(o["sync2"]["status"], "SUCCEEDED");
    assert_eq!(o["sync2"]["out"]["doubled"], 42);
    assert_eq!(
        o["sync2"]["out"]["by"], v["execution_arn"],
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
    );
    // .sync gives it as JSON text.
    assert_eq!(o["sync"]["out"], "{\"doubled\":2,\"by\":\"x\"}");
    assert!(o["fire"]["arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:states:us-east-1:123456789012:execution:child:"));
    // A failed child fails the Task with States.TaskFailed and DescribeExecution as the cause.
    assert_eq!(o["failed"]["Error"], "States.TaskFailed");
    let cause: Value = serde_json::from_str(o["failed"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["Status"], "FAILED");
    assert_eq!(cause["Error"], "ChildError");
    assert_eq!(cause["Cause"], "asked to fail");
    assert_eq!(
        o["missing"]["Error"],
        "StepFunctions.StateMachineDoesNotExistException"
    );
    assert!(o["missing"]["Cause"].as_str().unwrap().starts_with(
        "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:none'"
    ));
    // Four children of 5 s each ran on the parent's clock, and their transitions are billed;
    // the parent waited for the three `.sync` ones only (the fire-and-forget child ran beside
    // it, answered after StartExecution's 40 ms).
    assert_eq!(
        v["duration_ms"].as_u64().unwrap(),
        15_040,
        "{}",
        v["duration_ms"]
    );
    assert_eq!(v["services"]["usage"]["child_executions"], 4);
    // Each child is listed with its machine, parent, status and history size.
    let children = v["services"]["stepfunctions"]["executions"]
        .as_array()
        .unwrap();
    assert_eq!(children.len(), 4);
    assert_eq!(
        children[0]["execution_arn"],
        "arn:aws:states:us-east-1:123456789012:execution:child:c1"
    );
    assert_eq!(children[0]["parent"], v["execution_arn"]);
    assert_eq!(children[3]["status"], "FAILED");
    assert!(children[0]["history_events"].as_u64().unwrap() >= 8);
    assert!(
        v["transitions"].as_u64().unwrap()
            < v["bill"]["lines"][0]["quantity"].as_f64().unwrap() as u64
    );
    let (_, again, _) = stepsim(&["run", dir.to_str().unwrap(), "--json"]);
    assert_eq!(json_without_wall(&again), v);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_execution_role_must_allow_service_calls() {
    use stepsim::sim::iam::NewEntity;
    use stepsim::sim::Iam;
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let iam = Iam::new();
    let role = NewEntity {
        name: "runner",
        path: None,
        document: TRUST,
        description: None,
    };
    iam.create_role(&role, None, stepsim::engine::clock::default_origin())
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem",
         "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/T"}]});
    iam.put_role_policy("runner", "p", &policy.to_string())
        .unwrap();
    let sim = Simulation::builder()
        .iam(iam)
        .account("123456789012")
        .services(services_with_table())
        .build()
        .unwrap();
    let opts = ExecutionOptions {
        account: "123456789012".into(),
        role_arn: "arn:aws:iam::123456789012:role/runner".into(),
        ..Default::default()
    };
    let get = plan(task(
        "arn:aws:states:::dynamodb:getItem",
        json!({"TableName": "T", "Key": {"id": {"S": "a"}}}),
    ));
    let r = sim.run(&get, json!({}), &opts);
    assert_eq!(
        r.outcome.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        r.outcome.cause
    );
    let put = plan(task(
        "arn:aws:states:::dynamodb:putItem",
        json!({"TableName": "T", "Item": {"id": {"S": "a"}}}),
    ));
    let r = sim.run(&put, json!({}), &opts);
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("DynamoDB.AmazonDynamoDBException")
    );
    let cause = r.outcome.cause.unwrap();
    assert!(
        cause.contains("is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T")
            && cause.contains("Error Code: AccessDeniedException"),
        "{cause}"
    );
    // Refused calls are not billed.
    assert_eq!(r.usage.services.dynamodb_write_units, 0);
    let send = plan(task(
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"}),
    ));
    let r = sim.run(&send, json!({}), &opts);
    assert_eq!(r.outcome.error.as_deref(), Some("SQS.AmazonSQSException"));
}
