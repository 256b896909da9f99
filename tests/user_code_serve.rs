//! `stepsim serve` runs code uploaded with CreateFunction / UpdateFunctionCode (a zip), driven
//! by boto3 (tests/compat/user_code_serve.py). Skipped, with a message, when boto3 is missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn boto3_creates_and_updates_functions_from_zips() {
    let python = std::env::var("STEPSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_boto3 = Command::new(&python)
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_boto3 {
        eprintln!("SKIPPED boto3_creates_and_updates_functions_from_zips: boto3 is not importable");
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .args(["serve", "--port", "0", "-q", "--bucket", "user-code"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("stepsim serve starts");
    let banner = child.stdout.take().unwrap();
    let server = Server(child);
    // The banner's first line names the URL.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(banner).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        for _ in lines {}
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints its URL");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/compat/user_code_serve.py"
    );
    let started = Instant::now();
    let out = Command::new(&python)
        .args([script, &url])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("OK"),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    drop(server);
}
