//! boto3 through `stepsim serve` (when python3 and boto3 are installed): DynamoDB batch
//! operations, transactions and secondary indexes, and SQS FIFO queues
//! (tests/compat/services_more.py).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::api::{config, TestServer};

fn boto3_available() -> bool {
    Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs the script against a fresh server; its stdout and stderr when it fails.
fn run_script(extra: &[&str]) {
    let t = TestServer::start(config());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/services_more.py");
    let mut args = vec![script, t.url.as_str()];
    args.extend_from_slice(extra);
    let mut child = Command::new("python3")
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 starts");
    // Bounded wait: the script makes a few dozen local requests.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
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

#[test]
fn boto3_batches_transacts_and_queries_indexes() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_script(&["--no-fifo"]);
}

#[test]
fn boto3_uses_fifo_queues() {
    if !boto3_available() {
        eprintln!("skipped: python3 with boto3 is not installed");
        return;
    }
    run_script(&[]);
}
