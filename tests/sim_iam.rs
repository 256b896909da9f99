//! IAM enforcement in the world: a Task's Lambda invocation checked against its execution's
//! role (a policy that forgets the `:*` versions, a Deny over an Allow), S3 calls of the state
//! machine and of handlers (a bucket outside the policy), unknown roles left unchecked, and
//! `--no-iam` letting everything through.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use stepsim::asl;
use stepsim::engine::{ExecutionOptions, ExecutionOutcome, ExecutionStatus, Plan, TaskFailure};
use stepsim::sim::iam::NewEntity;
use stepsim::sim::{
    async_handler_fn, handler_fn, FunctionConfig, FunctionError, FunctionRegistry, Iam, Invocation,
    Simulation,
};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/runner";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// An IAM with role `name` holding one inline policy per document.
fn iam_with(name: &str, policies: &[Value]) -> Iam {
    let iam = Iam::new();
    let role = NewEntity {
        name,
        path: None,
        document: TRUST,
        description: None,
    };
    iam.create_role(&role, None, stepsim::engine::clock::default_origin())
        .unwrap();
    for (i, p) in policies.iter().enumerate() {
        iam.put_role_policy(name, &format!("p{i}"), &p.to_string())
            .unwrap();
    }
    iam
}

fn plan(definition: Value) -> Plan {
    let machine = asl::load_str(&definition.to_string()).expect("a valid definition");
    Plan::compile(&machine).expect("a plan")
}

fn invoke_machine(function: &str) -> Plan {
    plan(json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": true
    }}}))
}

fn echo_functions() -> FunctionRegistry {
    let mut reg = FunctionRegistry::new();
    reg.register(
        "worker",
        FunctionConfig::default(),
        handler_fn(|event, _ctx| Ok(event)),
    )
    .unwrap();
    reg
}

fn options(role: &str) -> ExecutionOptions {
    ExecutionOptions {
        role_arn: role.to_string(),
        ..ExecutionOptions::default()
    }
}

fn simulation(functions: FunctionRegistry, iam: Option<Iam>) -> Simulation {
    let b = Simulation::builder().functions(functions).account(ACCOUNT);
    match iam {
        Some(iam) => b.iam(iam),
        None => b,
    }
    .build()
    .unwrap()
}

/// The error and cause a failed execution ended with.
fn failure(o: &ExecutionOutcome) -> TaskFailure {
    assert_eq!(o.status, ExecutionStatus::Failed, "{:?}", o.output);
    TaskFailure::new(
        o.error.clone().unwrap_or_default(),
        o.cause.clone().unwrap_or_default(),
    )
}

fn invoke_policy(resources: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": resources
    }]})
}

#[test]
fn a_policy_that_forgets_versions_denies_a_qualified_invoke() {
    let unqualified = "arn:aws:lambda:us-east-1:123456789012:function:worker";
    let iam = iam_with("runner", &[invoke_policy(&[unqualified])]);
    let sim = simulation(echo_functions(), Some(iam.clone()));

    // The unqualified function is what the policy names: allowed.
    let ok = sim.run(&invoke_machine("worker"), json!({"n": 1}), &options(ROLE));
    assert_eq!(ok.outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(ok.outcome.output, Some(json!({"n": 1})));

    // A version is another resource: `function:worker` does not cover `function:worker:1`.
    let denied = sim.run(&invoke_machine("worker:1"), json!({}), &options(ROLE));
    assert_eq!(denied.outcome.status, ExecutionStatus::Failed);
    let f = failure(&denied.outcome);
    assert_eq!(f.error, "Lambda.AWSLambdaException");
    let prefix = "User: arn:aws:sts::123456789012:assumed-role/runner/";
    assert!(f.cause.starts_with(prefix), "{}", f.cause);
    assert!(
        f.cause.contains(
            " is not authorized to perform: lambda:InvokeFunction on resource: \
             arn:aws:lambda:us-east-1:123456789012:function:worker:1 because no identity-based \
             policy allows the lambda:InvokeFunction action (Service: AWSLambda; Status Code: \
             403; Error Code: AccessDeniedException; Request ID: "
        ),
        "{}",
        f.cause
    );
    assert!(f.cause.ends_with("; Proxy: null)"), "{}", f.cause);
    // The function never ran.
    assert!(
        denied.usage.functions.is_empty()
            || denied.usage.functions.values().all(|u| u.invocations == 0)
    );

    // With the versions granted, the same call runs.
    let iam = iam_with(
        "runner",
        &[invoke_policy(&[unqualified, &format!("{unqualified}:*")])],
    );
    let sim = simulation(echo_functions(), Some(iam));
    let ok = sim.run(&invoke_machine("worker:1"), json!({}), &options(ROLE));
    assert_eq!(ok.outcome.status, ExecutionStatus::Succeeded);
}

#[test]
fn an_explicit_deny_wins_and_says_so() {
    let iam = iam_with(
        "runner",
        &[
            json!({"Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Deny", "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:*:*:function:worker*"}]}),
        ],
    );
    let sim = simulation(echo_functions(), Some(iam));
    let r = sim.run(&invoke_machine("worker"), json!({}), &options(ROLE));
    let f = failure(&r.outcome);
    assert_eq!(f.error, "Lambda.AWSLambdaException");
    assert!(
        f.cause
            .contains("function:worker with an explicit deny in an identity-based policy"),
        "{}",
        f.cause
    );
}

#[test]
fn unknown_roles_and_worlds_without_iam_check_nothing() {
    let iam = iam_with("runner", &[]);
    // The role denies everything, but the execution runs under another role IAM does not know.
    let sim = simulation(echo_functions(), Some(iam));
    let other = "arn:aws:iam::123456789012:role/somebody-else";
    let r = sim.run(&invoke_machine("worker"), json!({}), &options(other));
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    // A role of another account is not this IAM's either.
    let r = sim.run(
        &invoke_machine("worker"),
        json!({}),
        &options("arn:aws:iam::999999999999:role/runner"),
    );
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    // Without IAM (`--no-iam`), the known role is not checked.
    let sim = simulation(echo_functions(), None);
    let r = sim.run(&invoke_machine("worker"), json!({}), &options(ROLE));
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
}

fn bucket_policy(bucket: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]
    }]})
}

#[test]
fn a_bucket_outside_the_policy_is_access_denied_for_the_state_machine() {
    let iam = iam_with("runner", &[bucket_policy("mine")]);
    let sim = simulation(FunctionRegistry::new(), Some(iam));
    sim.block_on(async {
        for b in ["mine", "theirs"] {
            let store = sim.world().store();
            store.create_bucket(b).await.unwrap();
            store
                .put(b, "k.json", "{}".into(), sim.now())
                .await
                .unwrap();
        }
    });
    let get = |bucket: &str| {
        plan(json!({"StartAt": "Get", "States": {"Get": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": bucket, "Key": "k.json"}, "End": true
        }}}))
    };
    let ok = sim.run(&get("mine"), json!({}), &options(ROLE));
    assert_eq!(ok.outcome.status, ExecutionStatus::Succeeded);
    let denied = sim.run(&get("theirs"), json!({}), &options(ROLE));
    let f = failure(&denied.outcome);
    assert_eq!(f.error, "S3.S3Exception");
    assert!(
        f.cause.contains(
            "is not authorized to perform: s3:GetObject on resource: \
             \"arn:aws:s3:::theirs/k.json\" because no identity-based policy allows the \
             s3:GetObject action (Service: S3, Status Code: 403, Request ID: "
        ),
        "{}",
        f.cause
    );
    // The refused request reached no object and was not billed.
    assert_eq!(denied.usage.s3.get_requests, 0);
}

#[test]
fn handlers_are_checked_against_their_functions_role() {
    let handler = || {
        async_handler_fn(async |event: Value, ctx: &mut Invocation| {
            let bucket = event["bucket"].as_str().unwrap_or_default().to_string();
            let got = ctx.s3_get(&bucket, "k.json").await;
            Ok::<_, FunctionError>(json!({
                "code": got.as_ref().err().map(|e| e.code.clone()),
                "message": got.err().map(|e| e.message),
            }))
        })
    };
    let mut reg = FunctionRegistry::new();
    let with_role = FunctionConfig {
        timeout: Duration::from_secs(10),
        role: Some("reader".into()),
        ..FunctionConfig::default()
    };
    reg.register("reader", with_role, handler()).unwrap();
    reg.register("roleless", FunctionConfig::default(), handler())
        .unwrap();
    // The function's role (a bare name: a role of the world's account) reads `mine` only.
    let iam = iam_with("reader", &[bucket_policy("mine")]);
    let sim = simulation(reg, Some(iam));
    sim.block_on(async {
        for b in ["mine", "theirs"] {
            let store = sim.world().store();
            store.create_bucket(b).await.unwrap();
            store
                .put(b, "k.json", "{}".into(), sim.now())
                .await
                .unwrap();
        }
    });
    let call = |function: &str, bucket: &str| {
        let (r, _) = sim.invoke_function(function, json!({"bucket": bucket}));
        r.expect("the handler ran").payload
    };
    assert_eq!(call("reader", "mine")["code"], Value::Null);
    let denied = call("reader", "theirs");
    assert_eq!(denied["code"], "AccessDenied");
    assert_eq!(
        denied["message"],
        "User: arn:aws:sts::123456789012:assumed-role/reader/reader is not authorized to \
         perform: s3:GetObject on resource: \"arn:aws:s3:::theirs/k.json\" because no \
         identity-based policy allows the s3:GetObject action"
    );
    // A function without a role is not checked.
    assert_eq!(call("roleless", "theirs")["code"], Value::Null);
}

#[test]
fn managed_policies_count_too() {
    let iam = iam_with("runner", &[]);
    let p = iam
        .create_policy(
            &NewEntity {
                name: "invoke-all",
                path: None,
                document: r#"{"Statement":{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}}"#,
                description: None,
            },
            stepsim::engine::clock::default_origin(),
        )
        .unwrap();
    let sim = simulation(echo_functions(), Some(iam.clone()));
    let denied = sim.run(&invoke_machine("worker"), json!({}), &options(ROLE));
    assert_eq!(denied.outcome.status, ExecutionStatus::Failed);
    iam.attach_role_policy(ACCOUNT, "runner", &p.arn(ACCOUNT))
        .unwrap();
    let ok = sim.run(&invoke_machine("worker"), json!({}), &options(ROLE));
    assert_eq!(ok.outcome.status, ExecutionStatus::Succeeded);
}

/// A project whose role may invoke `worker` but not its versions, and a machine that calls
/// version 1.
fn denied_project(dir: &Path) {
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "state-machine.asl.json",
        json!({"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "worker:1", "Payload.$": "$"},
            "OutputPath": "$.Payload", "End": true
        }}})
        .to_string(),
    );
    write("input.json", json!({"x": 1}).to_string());
    write(
        "functions.toml",
        "[functions.worker]\nhandler = \"identity\"\n".to_string(),
    );
    write("project.toml", "role = \"runner\"\n".to_string());
    write(
        "iam/roles/runner.json",
        json!({
            "AssumeRolePolicyDocument": serde_json::from_str::<Value>(TRUST).unwrap(),
            "Policies": [{"PolicyName": "invoke", "PolicyDocument": invoke_policy(&[
                "arn:aws:lambda:us-east-1:123456789012:function:worker"
            ])}]
        })
        .to_string(),
    );
}

fn stepsim(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(args)
        .output()
        .expect("stepsim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout.into_owned()));
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_denied_task_fails_the_run_and_no_iam_lets_it_through() {
    let dir = tempfile::tempdir().unwrap();
    denied_project(dir.path());
    let path = dir.path().to_str().unwrap();

    let (code, v, err) = stepsim(&["run", path, "--json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["status"], "FAILED", "{v}");
    assert_eq!(v["error"], "Lambda.AWSLambdaException", "{v}");
    let cause = v["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("assumed-role/runner/")
            && cause.contains(
                "is not authorized to perform: lambda:InvokeFunction on resource: \
             arn:aws:lambda:us-east-1:123456789012:function:worker:1 because no identity-based \
             policy allows the lambda:InvokeFunction action"
            ),
        "{cause}"
    );

    let (code, v, err) = stepsim(&["run", path, "--json", "--no-iam"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    assert_eq!(v["output"], json!({"x": 1}));
}
