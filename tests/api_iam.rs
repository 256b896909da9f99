//! The IAM query API of `stepsim serve` over HTTP (form-encoded requests, XML answers,
//! URL-encoded policy documents, IAM's error documents), the enforcement of the roles it holds
//! on executions, and CreateStateMachine's idempotency whatever the role.

use std::time::Duration;

use serde_json::{json, Value};
use stepsim::api::ServerConfig;
use stepsim::sim::{handler_fn, FunctionConfig, FunctionRegistry};

mod support;
use support::api::{config, TestServer};

const TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;
const NS: &str = "xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"";

/// One IAM call: `(status, XML)`. Signed for `iam` as boto3 signs (the signature is not checked).
async fn iam(t: &TestServer, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", "2010-05-08")];
    form.extend_from_slice(params);
    let body: String = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let r = t
        .client
        .post(format!("{}/", t.url))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250721/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=00",
        )
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body read"))
}

async fn ok(t: &TestServer, action: &str, params: &[(&str, &str)]) -> String {
    let (status, xml) = iam(t, action, params).await;
    assert_eq!(status, 200, "{action}: {xml}");
    assert!(xml.contains(&format!("<{action}Response {NS}>")), "{xml}");
    xml
}

/// The error code and status of a refused call.
async fn err(t: &TestServer, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let (status, xml) = iam(t, action, params).await;
    assert!(xml.contains(&format!("<ErrorResponse {NS}>")), "{xml}");
    assert!(xml.contains("<Type>Sender</Type>"), "{xml}");
    (status, tag(&xml, "Code").unwrap_or_default())
}

/// The text of the first `<name>` element.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + end].to_string())
}

/// Every `<name>` element's text.
fn tags(xml: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(t) = tag(rest, name) {
        let open = format!("<{name}>");
        let at = rest.find(&open).unwrap() + open.len() + t.len();
        out.push(t);
        rest = &rest[at..];
    }
    out
}

fn decoded(s: &str) -> Value {
    let text = percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("UTF-8");
    serde_json::from_str(&text).expect("a JSON document")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_policies_through_the_query_api() {
    let t = TestServer::start(config());
    let xml = ok(
        &t,
        "CreateRole",
        &[
            ("RoleName", "runner"),
            ("AssumeRolePolicyDocument", TRUST),
            ("Description", "runs things"),
        ],
    )
    .await;
    let id = tag(&xml, "RoleId").unwrap();
    assert!(id.starts_with("AROA") && id.len() == 21, "{id}");
    assert_eq!(
        tag(&xml, "Arn").unwrap(),
        "arn:aws:iam::123456789012:role/runner"
    );
    assert_eq!(
        err(
            &t,
            "CreateRole",
            &[("RoleName", "runner"), ("AssumeRolePolicyDocument", TRUST)]
        )
        .await,
        (409, "EntityAlreadyExists".to_string())
    );
    assert_eq!(
        err(
            &t,
            "CreateRole",
            &[("RoleName", "bad"), ("AssumeRolePolicyDocument", "{nope")]
        )
        .await,
        (400, "MalformedPolicyDocument".to_string())
    );

    let xml = ok(&t, "GetRole", &[("RoleName", "runner")]).await;
    assert_eq!(tag(&xml, "RoleId").unwrap(), id);
    assert_eq!(tag(&xml, "MaxSessionDuration").unwrap(), "3600");
    // The document comes back URL-encoded, as given.
    let doc = tag(&xml, "AssumeRolePolicyDocument").unwrap();
    assert!(
        doc.starts_with("%7B%22Version%22%3A%20%222012-10-17%22"),
        "{doc}"
    );
    assert_eq!(
        percent_encoding::percent_decode_str(&doc)
            .decode_utf8()
            .unwrap(),
        TRUST
    );
    assert_eq!(
        err(&t, "GetRole", &[("RoleName", "nobody")]).await,
        (404, "NoSuchEntity".to_string())
    );
    let xml = ok(&t, "ListRoles", &[]).await;
    assert_eq!(tags(&xml, "RoleName"), ["runner"]);
    assert_eq!(tag(&xml, "IsTruncated").unwrap(), "false");

    let invoke = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}"#;
    for name in ["z-invoke", "a-invoke"] {
        ok(
            &t,
            "PutRolePolicy",
            &[
                ("RoleName", "runner"),
                ("PolicyName", name),
                ("PolicyDocument", invoke),
            ],
        )
        .await;
    }
    let bad = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#;
    assert_eq!(
        err(
            &t,
            "PutRolePolicy",
            &[
                ("RoleName", "runner"),
                ("PolicyName", "bad"),
                ("PolicyDocument", bad)
            ],
        )
        .await,
        (400, "MalformedPolicyDocument".to_string())
    );
    let xml = ok(&t, "ListRolePolicies", &[("RoleName", "runner")]).await;
    assert_eq!(tags(&xml, "member"), ["a-invoke", "z-invoke"]);
    let xml = ok(
        &t,
        "GetRolePolicy",
        &[("RoleName", "runner"), ("PolicyName", "a-invoke")],
    )
    .await;
    assert_eq!(tag(&xml, "PolicyName").unwrap(), "a-invoke");
    assert_eq!(
        decoded(&tag(&xml, "PolicyDocument").unwrap()),
        serde_json::from_str::<Value>(invoke).unwrap()
    );
    assert_eq!(
        err(
            &t,
            "GetRolePolicy",
            &[("RoleName", "runner"), ("PolicyName", "nope")]
        )
        .await,
        (404, "NoSuchEntity".to_string())
    );

    let xml = ok(
        &t,
        "CreatePolicy",
        &[
            ("PolicyName", "read-data"),
            ("Path", "/team/"),
            ("PolicyDocument", invoke),
        ],
    )
    .await;
    let arn = tag(&xml, "Arn").unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/team/read-data");
    assert!(tag(&xml, "PolicyId").unwrap().starts_with("ANPA"));
    assert_eq!(tag(&xml, "DefaultVersionId").unwrap(), "v1");
    assert_eq!(
        err(
            &t,
            "CreatePolicy",
            &[("PolicyName", "read-data"), ("PolicyDocument", invoke)]
        )
        .await,
        (409, "EntityAlreadyExists".to_string())
    );
    ok(
        &t,
        "AttachRolePolicy",
        &[("RoleName", "runner"), ("PolicyArn", &arn)],
    )
    .await;
    let xml = ok(&t, "GetPolicy", &[("PolicyArn", &arn)]).await;
    assert_eq!(tag(&xml, "AttachmentCount").unwrap(), "1");
    let xml = ok(
        &t,
        "GetPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v1")],
    )
    .await;
    assert_eq!(tag(&xml, "IsDefaultVersion").unwrap(), "true");
    assert_eq!(
        decoded(&tag(&xml, "Document").unwrap()),
        serde_json::from_str::<Value>(invoke).unwrap()
    );
    let xml = ok(&t, "ListAttachedRolePolicies", &[("RoleName", "runner")]).await;
    assert_eq!(tags(&xml, "PolicyArn"), [arn.as_str()]);
    assert_eq!(tags(&xml, "PolicyName"), ["read-data"]);
    assert_eq!(
        err(
            &t,
            "AttachRolePolicy",
            &[
                ("RoleName", "runner"),
                ("PolicyArn", "arn:aws:iam::aws:policy/Nope")
            ],
        )
        .await,
        (404, "NoSuchEntity".to_string())
    );
    assert_eq!(
        err(
            &t,
            "GetPolicy",
            &[("PolicyArn", "arn:aws:iam::123456789012:policy/nope")]
        )
        .await,
        (404, "NoSuchEntity".to_string())
    );

    // A role with policies cannot be deleted.
    assert_eq!(
        err(&t, "DeleteRole", &[("RoleName", "runner")]).await,
        (409, "DeleteConflict".to_string())
    );
    for name in ["a-invoke", "z-invoke"] {
        ok(
            &t,
            "DeleteRolePolicy",
            &[("RoleName", "runner"), ("PolicyName", name)],
        )
        .await;
    }
    let xml = ok(&t, "ListRolePolicies", &[("RoleName", "runner")]).await;
    assert!(tags(&xml, "member").is_empty());

    // Requests IAM cannot read.
    assert_eq!(
        err(&t, "GetRole", &[]).await,
        (400, "ValidationError".to_string())
    );
    assert_eq!(
        err(&t, "CreateUser", &[("UserName", "u")]).await,
        (400, "InvalidAction".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_roles_pages() {
    let t = TestServer::start(config());
    for name in ["a", "b", "c"] {
        ok(
            &t,
            "CreateRole",
            &[("RoleName", name), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
    }
    let first = ok(&t, "ListRoles", &[("MaxItems", "2")]).await;
    assert_eq!(tags(&first, "RoleName"), ["a", "b"]);
    assert_eq!(tag(&first, "IsTruncated").unwrap(), "true");
    let marker = tag(&first, "Marker").unwrap();
    let second = ok(&t, "ListRoles", &[("MaxItems", "2"), ("Marker", &marker)]).await;
    assert_eq!(tags(&second, "RoleName"), ["c"]);
    assert_eq!(tag(&second, "IsTruncated").unwrap(), "false");
}

fn worker_config(enforce_iam: bool) -> ServerConfig {
    let mut functions = FunctionRegistry::new();
    functions
        .register(
            "worker",
            FunctionConfig::default(),
            handler_fn(|event, _ctx| Ok(event)),
        )
        .unwrap();
    ServerConfig {
        functions,
        enforce_iam,
        ..config()
    }
}

fn calls_version_one() -> Value {
    json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "worker:1", "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": true
    }}})
}

async fn machine_with_role(t: &TestServer, role: &str) -> String {
    let v = t
        .ok(
            "CreateStateMachine",
            json!({"name": "calls", "definition": calls_version_one().to_string(), "roleArn": role}),
        )
        .await;
    v["stateMachineArn"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_checked_against_the_roles_iam_holds() {
    let unqualified = "arn:aws:lambda:us-east-1:123456789012:function:worker";
    let forgets_versions = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": unqualified
    }]})
    .to_string();
    let role = "arn:aws:iam::123456789012:role/runner";
    for enforce in [true, false] {
        let t = TestServer::start(worker_config(enforce));
        ok(
            &t,
            "CreateRole",
            &[("RoleName", "runner"), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
        ok(
            &t,
            "PutRolePolicy",
            &[
                ("RoleName", "runner"),
                ("PolicyName", "invoke"),
                ("PolicyDocument", &forgets_versions),
            ],
        )
        .await;
        let machine = machine_with_role(&t, role).await;
        let exec = t.start_exec(&machine, "first", &json!({"x": 1})).await;
        let d = t.wait_end(&exec, Duration::from_secs(30)).await;
        if !enforce {
            // `--no-iam`: the role is not consulted.
            assert_eq!(d["status"], "SUCCEEDED", "{d}");
            continue;
        }
        assert_eq!(d["status"], "FAILED", "{d}");
        assert_eq!(d["error"], "Lambda.AWSLambdaException");
        let cause = d["cause"].as_str().unwrap();
        assert!(
            cause.starts_with("User: arn:aws:sts::123456789012:assumed-role/runner/")
                && cause.contains(&format!(
                    " is not authorized to perform: lambda:InvokeFunction on resource: \
                     {unqualified}:1 because no identity-based policy allows the \
                     lambda:InvokeFunction action (Service: AWSLambda; Status Code: 403; Error \
                     Code: AccessDeniedException; Request ID: "
                )),
            "{cause}"
        );
        // Granting the versions through the API lets the next execution run.
        let with_versions = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": [unqualified, format!("{unqualified}:*")]
        }]})
        .to_string();
        ok(
            &t,
            "PutRolePolicy",
            &[
                ("RoleName", "runner"),
                ("PolicyName", "invoke"),
                ("PolicyDocument", &with_versions),
            ],
        )
        .await;
        let exec = t.start_exec(&machine, "second", &json!({"x": 2})).await;
        let d = t.wait_end(&exec, Duration::from_secs(30)).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        assert_eq!(d["output"], json!({"x": 2}).to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_state_machine_is_idempotent_whatever_the_role() {
    let t = TestServer::start(config());
    let definition = calls_version_one().to_string();
    let first = t
        .ok(
            "CreateStateMachine",
            json!({"name": "m", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/first"}),
        )
        .await;
    // Another role (and tags): the same machine, which keeps its first role.
    let again = t
        .ok(
            "CreateStateMachine",
            json!({"name": "m", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/second",
                   "tags": [{"key": "team", "value": "2"}]}),
        )
        .await;
    assert_eq!(again, first);
    let d = t
        .ok(
            "DescribeStateMachine",
            json!({"stateMachineArn": first["stateMachineArn"]}),
        )
        .await;
    assert_eq!(d["roleArn"], "arn:aws:iam::123456789012:role/first");
    // Another type, logging or tracing is another machine under the same name: refused.
    for extra in [
        json!({"type": "EXPRESS"}),
        json!({"loggingConfiguration": {"level": "ALL", "includeExecutionData": true}}),
        json!({"tracingConfiguration": {"enabled": true}}),
    ] {
        let mut req = json!({"name": "m", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/first"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let e = t.err("CreateStateMachine", req).await;
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "StateMachineAlreadyExists")
        );
    }
}
