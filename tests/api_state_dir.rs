//! `stepsim serve --state-dir DIR`: state machines, executions and histories survive a
//! `kill -9` and a restart; a torn last journal line is tolerated; a bad line in the middle
//! refuses to start with `FILE:LINE`. Loopback only, every wait bounded.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::api::{config, TestServer};

/// A `stepsim serve --state-dir` process and the endpoint it printed.
struct Served {
    child: Child,
    url: String,
    client: reqwest::Client,
    /// The banner's `state dir` line.
    restored: String,
}

impl Served {
    fn start(dir: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepsim"))
            .args([
                "serve",
                "--port",
                "0",
                "--quiet",
                "--seed",
                "7",
                "--state-dir",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("stepsim starts");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let mut url = None;
        let restored = loop {
            let line = lines
                .next()
                .expect("the banner says what was restored")
                .expect("stdout reads");
            if let Some(rest) = line.split(" on ").nth(1) {
                if rest.starts_with("http://") && url.is_none() {
                    url = Some(rest.trim().to_string());
                }
            }
            if line.trim_start().starts_with("state dir ") {
                break line;
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Served {
            child,
            url: url.expect("the banner names the endpoint"),
            client: reqwest::Client::new(),
            restored,
        }
    }

    async fn call(&self, action: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/", self.url))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AWSStepFunctions.{action}"))
            .body(body.to_string())
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON answer"))
    }

    async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, v) = self.call(action, body).await;
        assert_eq!(status, 200, "{action} failed: {v}");
        v
    }

    async fn wait_end(&self, arn: &str) -> Value {
        let t0 = Instant::now();
        loop {
            let d = self
                .ok("DescribeExecution", json!({"executionArn": arn}))
                .await;
            if d["status"] != "RUNNING" {
                return d;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "still running: {d}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What a client can read of the server's machines and executions.
    async fn snapshot(&self, machines: &[&str], executions: &[&str]) -> Vec<Value> {
        let mut out = vec![self.ok("ListStateMachines", json!({})).await];
        for m in machines {
            out.push(
                self.ok("DescribeStateMachine", json!({"stateMachineArn": m}))
                    .await,
            );
            out.push(
                self.ok("ListExecutions", json!({"stateMachineArn": m}))
                    .await,
            );
        }
        for e in executions {
            out.push(
                self.ok("DescribeExecution", json!({"executionArn": e}))
                    .await,
            );
            out.push(
                self.ok(
                    "DescribeStateMachineForExecution",
                    json!({"executionArn": e}),
                )
                .await,
            );
            out.push(
                self.ok(
                    "GetExecutionHistory",
                    json!({"executionArn": e, "maxResults": 1000}),
                )
                .await,
            );
        }
        out
    }

    /// `kill -9`: nothing gets a chance to flush.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ROLE: &str = "arn:aws:iam::123456789012:role/test";

fn pass_chain() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"big": "y"}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Wait", "Seconds": 5, "Next": "C"},
        "C": {"Type": "Pass", "End": true}}})
}

#[tokio::test]
async fn kill_9_and_restart_list_what_the_server_had() {
    let dir = tempfile::tempdir().unwrap();
    let s = Served::start(dir.path());
    assert!(s
        .restored
        .contains("restored 0 state machine(s) and 0 execution(s)"));
    let create = |name: &str, def: Value| json!({"name": name, "definition": def.to_string(), "roleArn": ROLE});
    let m = s
        .ok("CreateStateMachine", create("kept", pass_chain()))
        .await;
    let m = m["stateMachineArn"].as_str().unwrap().to_string();
    let gone = s
        .ok("CreateStateMachine", create("gone", pass_chain()))
        .await;
    let gone = gone["stateMachineArn"].as_str().unwrap().to_string();
    let input = json!({"blob": "x".repeat(300), "n": 1}).to_string();
    let e1 = s
        .ok(
            "StartExecution",
            json!({"stateMachineArn": m, "name": "one", "input": input}),
        )
        .await;
    let e1 = e1["executionArn"].as_str().unwrap().to_string();
    assert_eq!(s.wait_end(&e1).await["status"], "SUCCEEDED");
    // A new version after the execution: the execution keeps the one it ran.
    let updated = json!({"StartAt": "Z", "States": {"Z": {"Type": "Succeed"}}});
    s.ok(
        "UpdateStateMachine",
        json!({"stateMachineArn": m, "definition": updated.to_string()}),
    )
    .await;
    let unnamed = s.ok("StartExecution", json!({"stateMachineArn": m})).await;
    let e2 = unnamed["executionArn"].as_str().unwrap().to_string();
    assert_eq!(s.wait_end(&e2).await["status"], "SUCCEEDED");
    s.ok("DeleteStateMachine", json!({"stateMachineArn": gone}))
        .await;
    // One that waits for an activity worker: running when the server dies.
    let act = s.ok("CreateActivity", json!({"name": "review"})).await;
    let waits = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": act["activityArn"], "End": true}}});
    let w = s.ok("CreateStateMachine", create("waits", waits)).await;
    let w = w["stateMachineArn"].as_str().unwrap().to_string();
    let e3 = s
        .ok(
            "StartExecution",
            json!({"stateMachineArn": w, "name": "stuck"}),
        )
        .await;
    let e3 = e3["executionArn"].as_str().unwrap().to_string();
    let d3 = s.ok("DescribeExecution", json!({"executionArn": e3})).await;
    assert_eq!(d3["status"], "RUNNING");

    let before = s.snapshot(&[&m], &[&e1, &e2]).await;
    s.kill();

    let s = Served::start(dir.path());
    assert!(
        s.restored
            .contains("restored 2 state machine(s) and 3 execution(s) (1 that were running"),
        "{}",
        s.restored
    );
    let after = s.snapshot(&[&m], &[&e1, &e2]).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    assert_eq!(after[0]["stateMachines"].as_array().unwrap().len(), 2);
    assert!(!after[0].to_string().contains(":gone\""));
    let history = &after[after.len() - 4]["events"];
    // ExecutionStarted, A, B (with the 5 s wait), C, ExecutionSucceeded.
    assert_eq!(history.as_array().unwrap().len(), 8);
    // The lost run is ABORTED, with a stop date and a closed history.
    let d3 = s.ok("DescribeExecution", json!({"executionArn": e3})).await;
    assert_eq!(d3["status"], "ABORTED");
    assert_eq!(d3["error"], "States.Runtime");
    assert!(d3["stopDate"].as_f64().unwrap() >= d3["startDate"].as_f64().unwrap());
    let h3 = s
        .ok("GetExecutionHistory", json!({"executionArn": e3}))
        .await;
    let types: Vec<&str> = h3["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ExecutionStarted", "ExecutionAborted"]);
    // New work goes on; an unnamed start does not collide with a restored name.
    let again = s.ok("StartExecution", json!({"stateMachineArn": m})).await;
    let e4 = again["executionArn"].as_str().unwrap().to_string();
    assert_ne!(e4, e2);
    assert_eq!(s.wait_end(&e4).await["status"], "SUCCEEDED");
    let listed = s.ok("ListExecutions", json!({"stateMachineArn": m})).await;
    assert_eq!(listed["executions"].as_array().unwrap().len(), 3);
    s.kill();

    // A third start shows the same ABORTED stop date (the end was journaled).
    let s = Served::start(dir.path());
    let d3b = s.ok("DescribeExecution", json!({"executionArn": e3})).await;
    assert_eq!(d3b, d3);
}

#[tokio::test]
async fn a_torn_last_line_is_ignored_and_a_bad_line_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = Served::start(dir.path());
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let m = s
        .ok(
            "CreateStateMachine",
            json!({"name": "m", "definition": def.to_string(), "roleArn": ROLE}),
        )
        .await;
    let m = m["stateMachineArn"].as_str().unwrap().to_string();
    let e = s
        .ok("StartExecution", json!({"stateMachineArn": m, "name": "e"}))
        .await;
    let e = e["executionArn"].as_str().unwrap().to_string();
    s.wait_end(&e).await;
    let before = s.snapshot(&[&m], &[&e]).await;
    s.kill();

    // A crash in the middle of a write: the last line has no end.
    let file = dir.path().join("journal.jsonl");
    let whole = std::fs::read(&file).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(br#"{"t":"start","arn":"arn:aws:states:us-east-1:1234"#);
    std::fs::write(&file, &torn).unwrap();
    let s = Served::start(dir.path());
    assert!(
        s.restored.contains("dropped a torn last line"),
        "{}",
        s.restored
    );
    assert_eq!(s.snapshot(&[&m], &[&e]).await, before);
    s.kill();
    assert!(std::fs::read(&file).unwrap().ends_with(b"\n"));

    // A line that does not read in the middle: no start, the file and line named, and the
    // journal left as it was.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    lines.insert(1, "this is not JSON");
    let bad = lines.join("\n") + "\n";
    std::fs::write(&file, &bad).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(["serve", "--port", "0", "--quiet", "--state-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a bad journal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    let named = format!("{}:2:", file.display());
    assert!(stderr.contains(&named), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
}

#[tokio::test]
async fn an_in_process_server_restores_and_applies_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.state_dir = Some(dir.path().to_path_buf());
    let t = TestServer::start(c.clone());
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let m = t.create_machine("m", &def).await;
    let mut arns = Vec::new();
    for i in 0..5 {
        let arn = t.start_exec(&m, &format!("e{i}"), &json!({"i": i})).await;
        t.wait_end(&arn, Duration::from_secs(20)).await;
        arns.push(arn);
    }
    let h = t.history(&arns[4]).await;
    drop(t);

    // Fewer executions allowed now: the oldest ended ones go.
    c.max_executions = 3;
    let t = TestServer::start(c.clone());
    assert_eq!(t.server.restored().unwrap().executions, 3);
    let listed = t.ok("ListExecutions", json!({"stateMachineArn": m})).await;
    let names: Vec<&str> = listed["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["e4", "e3", "e2"]);
    assert_eq!(t.history(&arns[4]).await, h);
    drop(t);
    // The drops were journaled: a start with the old limit does not bring them back.
    c.max_executions = 1000;
    let t = TestServer::start(c);
    assert_eq!(t.server.restored().unwrap().executions, 3);
}

#[tokio::test]
async fn a_redrive_lost_to_a_kill_ends_aborted_and_can_be_redriven_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = Served::start(dir.path());
    let activity = s.ok("CreateActivity", json!({"name": "approve"})).await["activityArn"]
        .as_str()
        .unwrap()
        .to_string();
    let def = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": 1, "ResultPath": "$.first", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": activity, "ResultPath": "$.approved", "End": true}}});
    let m = s
        .ok(
            "CreateStateMachine",
            json!({"name": "approval", "definition": def.to_string(), "roleArn": ROLE}),
        )
        .await["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let arn = s
        .ok(
            "StartExecution",
            json!({"stateMachineArn": m, "name": "lost", "input": "{}"}),
        )
        .await["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    s.ok("StopExecution", json!({"executionArn": arn})).await;
    assert_eq!(s.wait_end(&arn).await["status"], "ABORTED");
    s.ok("RedriveExecution", json!({"executionArn": arn})).await;
    let running = s
        .ok("DescribeExecution", json!({"executionArn": arn}))
        .await;
    assert_eq!(
        running["status"], "RUNNING",
        "waits for its activity worker"
    );
    s.kill();

    let s = Served::start(dir.path());
    let d = s
        .ok("DescribeExecution", json!({"executionArn": arn}))
        .await;
    assert_eq!(
        d["status"], "ABORTED",
        "the lost redrive ended with the server: {d}"
    );
    assert_eq!(d["redriveCount"], 1);
    assert_eq!(d["redriveStatus"], "REDRIVABLE", "{d}");
    let h = s
        .ok(
            "GetExecutionHistory",
            json!({"executionArn": arn, "maxResults": 1000}),
        )
        .await["events"]
        .as_array()
        .unwrap()
        .clone();
    let types: Vec<&str> = h.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        &types[types.len() - 2..],
        ["ExecutionRedriven", "ExecutionAborted"],
        "{types:?}"
    );
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1));
    }

    // Activities are not journaled: create it again, then redrive once more.
    s.ok("CreateActivity", json!({"name": "approve"})).await;
    s.ok("RedriveExecution", json!({"executionArn": arn})).await;
    let task = s
        .ok("GetActivityTask", json!({"activityArn": activity}))
        .await;
    let token = task["taskToken"]
        .as_str()
        .expect("the task is queued again");
    s.ok(
        "SendTaskSuccess",
        json!({"taskToken": token, "output": "{\"ok\":true}"}),
    )
    .await;
    let d = s.wait_end(&arn).await;
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["redriveCount"], 2);
    assert_eq!(d["output"], "{\"first\":1,\"approved\":{\"ok\":true}}");
}
