//! Shared helpers of the `api_*` integration tests: a server on an ephemeral port and a real
//! HTTP client speaking the AWS protocols (JSON 1.0 for Step Functions, REST for Lambda and
//! S3), with no credentials at all.

#![allow(dead_code)] // each test crate uses a different subset of these helpers

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stepsim::api::{Server, ServerConfig};

/// A quiet configuration: no request log.
pub fn config() -> ServerConfig {
    ServerConfig {
        log_requests: false,
        ..ServerConfig::default()
    }
}

/// A running server and a client for it.
pub struct TestServer {
    pub server: Server,
    pub client: reqwest::Client,
    pub url: String,
}

/// A Step Functions error answer.
#[derive(Debug)]
pub struct SfnError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl TestServer {
    pub fn start(config: ServerConfig) -> TestServer {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::start(config, addr).expect("server starts");
        let url = server.endpoint();
        TestServer {
            server,
            client: reqwest::Client::new(),
            url,
        }
    }

    /// One call of a JSON-protocol API (`X-Amz-Target`): `(status, content type, body)`.
    pub async fn json_call(
        &self,
        content_type: &str,
        target: &str,
        body: Value,
    ) -> (u16, String, Value) {
        let r = self
            .client
            .post(format!("{}/", self.url))
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        let returned_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = r.text().await.expect("body read");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, returned_type, v)
    }

    /// One Step Functions call: `(status, body)`.
    pub async fn sfn(&self, action: &str, body: Value) -> (u16, Value) {
        let target = format!("AWSStepFunctions.{action}");
        let (status, _, v) = self
            .json_call("application/x-amz-json-1.0", &target, body)
            .await;
        (status, v)
    }

    /// A call that must succeed.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, v) = self.sfn(action, body).await;
        assert_eq!(status, 200, "{action} failed: {v}");
        v
    }

    /// A call that must fail.
    pub async fn err(&self, action: &str, body: Value) -> SfnError {
        let (status, v) = self.sfn(action, body).await;
        assert_ne!(status, 200, "{action} should have failed: {v}");
        SfnError {
            status,
            code: v["__type"].as_str().unwrap_or_default().to_string(),
            message: v["message"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Creates a state machine and returns its ARN.
    pub async fn create_machine(&self, name: &str, definition: &Value) -> String {
        self.create_machine_typed(name, definition, "STANDARD")
            .await
    }

    pub async fn create_machine_typed(&self, name: &str, definition: &Value, ty: &str) -> String {
        self.create_machine_with(name, definition, json!({"type": ty}))
            .await
    }

    /// Creates a state machine with more CreateStateMachine fields (`extra`, an object) and
    /// returns its ARN.
    pub async fn create_machine_with(
        &self,
        name: &str,
        definition: &Value,
        extra: Value,
    ) -> String {
        let mut request = json!({
            "name": name,
            "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/test",
        });
        if let (Some(r), Value::Object(extra)) = (request.as_object_mut(), extra) {
            r.extend(extra);
        }
        let v = self.ok("CreateStateMachine", request).await;
        v["stateMachineArn"].as_str().unwrap().to_string()
    }

    /// Starts an execution and returns its ARN.
    pub async fn start_exec(&self, machine: &str, name: &str, input: &Value) -> String {
        let v = self
            .ok(
                "StartExecution",
                json!({"stateMachineArn": machine, "name": name, "input": input.to_string()}),
            )
            .await;
        v["executionArn"].as_str().unwrap().to_string()
    }

    pub async fn describe(&self, execution: &str) -> Value {
        self.ok("DescribeExecution", json!({"executionArn": execution}))
            .await
    }

    /// Polls DescribeExecution until the execution is no longer RUNNING.
    pub async fn wait_end(&self, execution: &str, limit: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let d = self.describe(execution).await;
            if d["status"] != "RUNNING" {
                return d;
            }
            assert!(t0.elapsed() < limit, "still running after {limit:?}: {d}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every history event (all pages).
    pub async fn history(&self, execution: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = json!({"executionArn": execution, "maxResults": 1000});
            if let Some(t) = &token {
                req["nextToken"] = json!(t);
            }
            let v = self.ok("GetExecutionHistory", req).await;
            events.extend(v["events"].as_array().unwrap().iter().cloned());
            match v["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return events,
            }
        }
    }
}

/// The event types of a history.
pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Simulated seconds between startDate and stopDate of a description.
pub fn duration(d: &Value) -> f64 {
    d["stopDate"].as_f64().unwrap() - d["startDate"].as_f64().unwrap()
}

/// Whether python3 with boto3 is installed (the boto3 compatibility scripts need it).
pub fn boto3_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `tests/compat/SCRIPT ENDPOINT ARGS...` against a fresh server, waiting at most 120 s
/// (the scripts make a few dozen local requests), and asserts it printed "all checks passed";
/// on failure the message holds its stdout and stderr.
pub fn run_compat_script(script: &str, args: &[&str]) {
    let t = TestServer::start(config());
    let path = format!("{}/tests/compat/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![path.as_str(), t.url.as_str()];
    all.extend_from_slice(args);
    let mut child = std::process::Command::new("python3")
        .args(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if child.try_wait().expect("wait").is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "{stdout}\n{stderr}"
    );
}

/// A function registry whose `notify` function sends every task token it receives (the
/// event's `token`) to the returned receiver.
pub fn token_functions() -> (
    stepsim::sim::FunctionRegistry,
    std::sync::mpsc::Receiver<String>,
) {
    use stepsim::sim::{handler_fn, FunctionConfig, FunctionRegistry, Invocation};
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut reg = FunctionRegistry::new();
    reg.register(
        "notify",
        FunctionConfig::default(),
        handler_fn(move |event: Value, _ctx: &mut Invocation| {
            if let Some(t) = event["token"].as_str() {
                let _ = tx.send(t.to_string());
            }
            Ok(json!({}))
        }),
    )
    .expect("notify registers");
    (reg, rx)
}
