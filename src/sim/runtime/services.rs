//! The loopback endpoint's services besides S3: what handler code's AWS SDK sends to
//! - DynamoDB (`X-Amz-Target: DynamoDB_20120810.*`, JSON 1.0) and SQS (`AmazonSQS.*`, JSON 1.0,
//!   as current SDKs speak it);
//! - EventBridge (`AWSEvents.PutEvents`, JSON 1.1);
//! - SNS (the query protocol: a form POST of `Action=Publish&...`, XML answers);
//! - Step Functions (`AWSStepFunctions.StartExecution`, and the task-token callbacks
//!   `SendTaskSuccess`/`Failure`/`Heartbeat`);
//! - Lambda's Invoke (`POST /2015-03-31/functions/NAME/invocations`);
//!
//! all on the same `AWS_ENDPOINT_URL` as S3 ([`route`] tells them apart). Each request runs on
//! the simulation thread as one call of the invocation's function: checked against the
//! function's role, billed to its execution and timed on the virtual clock, against the run's
//! tables, queues, topics, buses, machines and functions, which the workflow's own Tasks see
//! too.
//!
//! Errors are shaped as each service answers them: `__type` with the service's namespace
//! (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`), and for SQS the
//! query-compatible code in `x-amzn-query-error`, which the SDKs report.

use serde_json::{json, Value};

use super::http::{query_pairs, Reply, Request};
use crate::engine::PAYLOAD_LIMIT_BYTES;
use crate::sim::handler::Invocation;
use crate::sim::tokens::{callback_message, Callback};

/// The services answered, by target prefix: `(prefix, service, content type)`.
const TARGETS: [(&str, &str, &str); 3] = [
    (
        "DynamoDB_20120810.",
        "dynamodb",
        "application/x-amz-json-1.0",
    ),
    ("AmazonSQS.", "sqs", "application/x-amz-json-1.0"),
    ("AWSEvents.", "events", "application/x-amz-json-1.1"),
];

fn reply(status: u16, content_type: &str, body: &Value) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type", content_type.to_string())],
        body: body.to_string().into_bytes(),
        length_only: None,
    }
}

fn error(status: u16, content_type: &str, code: &str, message: &str) -> Reply {
    reply(
        status,
        content_type,
        &json!({"__type": code, "message": message}),
    )
}

const JSON10: &str = "application/x-amz-json-1.0";

/// Step Functions' answer to a request without a required member.
fn missing(member: &str) -> Reply {
    error(
        400,
        JSON10,
        "ValidationException",
        &format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy \
             constraint: Member must not be null"
        ),
    )
}

/// Step Functions' StartExecution from handler code: the execution runs as a fire-and-forget
/// child of the caller's execution (the machines are the project's, or the server's).
async fn start_execution(ctx: &mut Invocation, req: &Value) -> Reply {
    let Some(machine) = req.get("stateMachineArn").and_then(Value::as_str) else {
        return missing("stateMachineArn");
    };
    let mut params = json!({"StateMachineArn": machine});
    if let Some(input) = req.get("input").and_then(Value::as_str) {
        match serde_json::from_str::<Value>(input) {
            Ok(v) => params["Input"] = v,
            Err(e) => {
                return error(
                    400,
                    JSON10,
                    "InvalidExecutionInput",
                    &format!("Invalid State Machine Execution Input: '{e}'"),
                )
            }
        }
    }
    if let Some(name) = req.get("name").and_then(Value::as_str) {
        params["Name"] = name.into();
    }
    match ctx.start_execution(params).await {
        Ok(answer) => {
            let answer = answer.into_json();
            let start = answer
                .get("StartDate")
                .and_then(Value::as_f64)
                .map_or(Value::Null, |ms| json!(ms / 1000.0));
            reply(
                200,
                JSON10,
                &json!({"executionArn": answer.get("ExecutionArn"), "startDate": start}),
            )
        }
        Err(f) => {
            // `StepFunctions.StateMachineDoesNotExistException` is the API's
            // `StateMachineDoesNotExist`, its message the cause before the SDK's suffix.
            let code = f.error.strip_prefix("StepFunctions.").unwrap_or(&f.error);
            let code = match code {
                "AccessDeniedException" => code,
                c => c.strip_suffix("Exception").unwrap_or(c),
            };
            let message = f.cause.split(" (Service: ").next().unwrap_or(&f.cause);
            error(400, JSON10, code, message)
        }
    }
}

/// Step Functions from handler code: StartExecution, and the task-token callbacks
/// (`SendTask*`: the Task waiting for the token gets the answer, see [`crate::sim::tokens`]).
async fn step_functions(ctx: &mut Invocation, action: &str, body: &[u8]) -> Reply {
    let req: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(400, JSON10, "SerializationException", &e.to_string()),
    };
    let kind = match action {
        "StartExecution" => return start_execution(ctx, &req).await,
        "SendTaskSuccess" => Callback::Success,
        "SendTaskFailure" => Callback::Failure,
        "SendTaskHeartbeat" => Callback::Heartbeat,
        other => {
            return error(
                400,
                JSON10,
                "UnknownOperationException",
                &format!(
                    "Step Functions {other} is not available from a handler in stepsim \
                     (StartExecution, SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat \
                     are)"
                ),
            )
        }
    };
    let text = |k: &str| req.get(k).and_then(Value::as_str);
    let Some(token) = text("taskToken") else {
        return missing("taskToken");
    };
    let message = match callback_message(
        kind,
        token,
        text("output"),
        text("error"),
        text("cause"),
        PAYLOAD_LIMIT_BYTES,
    ) {
        Ok(m) => m,
        Err(e) => return error(400, JSON10, e.code, &e.message),
    };
    match ctx.task_callback(kind, token, message) {
        Ok(()) => reply(200, JSON10, &json!({})),
        Err(e) => error(400, JSON10, e.code, &e.message),
    }
}

/// Answers one request of handler code: DynamoDB, SQS, EventBridge and Step Functions name
/// an `X-Amz-Target`, SNS posts a form, Lambda's Invoke has its path; the rest is S3's.
pub(crate) async fn route(ctx: &mut Invocation, req: &Request) -> Reply {
    if let Some(target) = req.header("x-amz-target") {
        return execute(ctx, target, &req.body).await;
    }
    if is_sns_query(&req.method, req.header("content-type"), &req.body) {
        return execute_sns(ctx, &req.body).await;
    }
    if let Some(function) = lambda_invoke_target(&req.method, &req.path) {
        let kind = req.header("x-amz-invocation-type");
        return execute_lambda(ctx, &function, kind, &req.body).await;
    }
    super::s3::execute(ctx, req).await
}

/// Answers one request carrying `X-Amz-Target: target`.
async fn execute(ctx: &mut Invocation, target: &str, body: &[u8]) -> Reply {
    if let Some(action) = target.strip_prefix("AWSStepFunctions.") {
        return step_functions(ctx, action, body).await;
    }
    let Some((prefix, service, content_type)) =
        TARGETS.iter().find(|(p, _, _)| target.starts_with(p))
    else {
        return error(
            400,
            "application/x-amz-json-1.0",
            "UnknownOperationException",
            &format!(
                "{target}: a handler in stepsim reaches S3, DynamoDB, SQS, SNS, EventBridge, \
                 Lambda and Step Functions through AWS_ENDPOINT_URL"
            ),
        );
    };
    let action = &target[prefix.len()..];
    let mut params: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return error(400, content_type, "SerializationException", &e.to_string());
            }
        }
    };
    let action = match *service {
        // ReceiveMessage's long poll is answered at once: nothing else runs while the
        // simulation waits on this handler, so the queue cannot fill meanwhile.
        "sqs" => {
            if let Some(m) = params.as_object_mut() {
                m.remove("WaitTimeSeconds");
            }
            action.to_string()
        }
        "events" if action != "PutEvents" => {
            return error(
                400,
                content_type,
                "UnknownOperationException",
                &format!("EventBridge {action} is not available from a handler in stepsim"),
            );
        }
        "events" => "putEvents".to_string(),
        _ => action.to_string(),
    };
    match ctx.service_call(service, &action, &params).await {
        Ok(out) => reply(200, content_type, &out),
        Err(f) => match *service {
            "dynamodb" => {
                let code = format!("com.amazonaws.dynamodb.v20120810#{}", f.code);
                let mut body = json!({"__type": code, "message": f.message});
                // A cancelled transaction says why, item by item.
                if let Some(reasons) = f.cancellation_reasons {
                    body["CancellationReasons"] = *reasons;
                }
                reply(f.status, content_type, &body)
            }
            "sqs" => {
                let query_code = crate::sim::sqs_error::query_code(&f.code);
                let mut r = error(
                    f.status,
                    content_type,
                    &format!("com.amazonaws.sqs#{}", f.code),
                    &f.message,
                );
                r.headers
                    .push(("x-amzn-query-error", format!("{query_code};Sender")));
                r
            }
            _ => error(f.status, content_type, &f.code, &f.message),
        },
    }
}

const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_reply(status: u16, xml: String) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type", "text/xml".to_string())],
        body: xml.into_bytes(),
        length_only: None,
    }
}

fn sns_error(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
    xml_reply(
        status,
        format!(
            "<ErrorResponse xmlns=\"{SNS_XMLNS}\"><Error><Type>Sender</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            xml_escape(code),
            xml_escape(message),
            request_id
        ),
    )
}

/// Whether a request is an SNS query-protocol call (a form POST naming an `Action`).
fn is_sns_query(method: &str, content_type: Option<&str>, body: &[u8]) -> bool {
    method == "POST"
        && content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        && body.starts_with(b"Action=")
}

/// Answers an SNS query-protocol request: `Publish`, `CreateTopic` and `Subscribe` (their
/// answers are flat), as one SNS call of the invocation.
async fn execute_sns(ctx: &mut Invocation, body: &[u8]) -> Reply {
    let request_id = ctx.request_id().to_string();
    let params = query_pairs(&String::from_utf8_lossy(body));
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map_or("", |(_, v)| v.as_str())
        .to_string();
    if !matches!(action.as_str(), "Publish" | "CreateTopic" | "Subscribe") {
        return sns_error(
            400,
            "InvalidAction",
            &format!(
                "SNS {action} is not available from a handler in stepsim (Publish, CreateTopic \
                 and Subscribe are)"
            ),
            &request_id,
        );
    }
    let req = crate::sim::sns::form_request(&params);
    match ctx.service_call("sns", &action, &req).await {
        Ok(answer) => {
            let mut fields = String::new();
            if let Some(m) = answer.as_object() {
                for (k, v) in m {
                    if let Some(text) = v.as_str() {
                        fields += &format!("<{k}>{}</{k}>", xml_escape(text));
                    }
                }
            }
            xml_reply(
                200,
                format!(
                    "<{action}Response xmlns=\"{SNS_XMLNS}\"><{action}Result>{fields}\
                     </{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId>\
                     </ResponseMetadata></{action}Response>"
                ),
            )
        }
        Err(f) => sns_error(f.status, &f.code, &f.message, &request_id),
    }
}

/// The function a Lambda Invoke request names (`/2015-03-31/functions/NAME/invocations`).
fn lambda_invoke_target(method: &str, path: &str) -> Option<String> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    (method == "POST" && !name.is_empty()).then(|| super::http::percent_decode(name))
}

fn lambda_error(status: u16, code: &str, message: &str) -> Reply {
    let mut r = reply(
        status,
        "application/json",
        &json!({"Type": "User", "message": message}),
    );
    r.headers.push(("x-amzn-ErrorType", code.to_string()));
    r
}

/// Answers Lambda's Invoke: the function runs inside this invocation (an `Event` invocation
/// too, answered 202 once it has run, as the workflow's own `Event` invokes are), charged to the
/// same execution. A function error answers 200 with `X-Amz-Function-Error: Unhandled`, as
/// Lambda does; a service error (no such function, throttled, denied) its HTTP error.
async fn execute_lambda(
    ctx: &mut Invocation,
    function: &str,
    invocation_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let invocation_type = invocation_type.unwrap_or("RequestResponse");
    if !matches!(invocation_type, "RequestResponse" | "Event") {
        return lambda_error(
            400,
            "InvalidParameterValueException",
            &format!("InvocationType {invocation_type} is not available from a handler in stepsim"),
        );
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(e) => {
                return lambda_error(
                    400,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                )
            }
        }
    };
    let result = ctx.invoke_function(function, payload).await;
    let event = invocation_type == "Event";
    match result {
        Ok(_) if event => Reply {
            status: 202,
            ..Reply::default()
        },
        Ok(ok) => {
            let mut r = reply(200, "application/json", &ok.payload);
            r.headers
                .push(("X-Amz-Executed-Version", "$LATEST".to_string()));
            r
        }
        Err(f) => match crate::sim::lambda_error::split_service_cause(&f.cause) {
            Some((status, code, message)) => lambda_error(status, &code, &message),
            // An asynchronous invocation's function error is not the caller's.
            None if event => Reply {
                status: 202,
                ..Reply::default()
            },
            None => {
                let mut r = Reply {
                    status: 200,
                    headers: vec![("Content-Type", "application/json".to_string())],
                    body: f.cause.into_bytes(),
                    length_only: None,
                };
                r.headers
                    .push(("X-Amz-Function-Error", "Unhandled".to_string()));
                r
            }
        },
    }
}
