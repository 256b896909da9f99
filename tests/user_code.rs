//! User Lambda code through the Lambda Runtime API, as a user runs it: `stepsim run` on
//! projects whose functions are python (and node) code folders. Results, warm reuse of one
//! process, errors as Lambda reports them (caught by Catch), timeouts that kill the process,
//! determinism, no process left behind, and the load-time checks of functions.toml.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn stepsim_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepsim"));
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("stepsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stepsim run PROJECT --json --logs`, parsed, without the wall-clock field.
fn run_json(project: &Path, env: &[(&str, &str)]) -> Value {
    let (_, out, err) = stepsim_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["run", project.to_str().unwrap(), "--json", "--logs"],
        env,
    );
    let mut v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout {out}\nstderr {err}"));
    v.as_object_mut().unwrap().remove("wall_ms");
    v
}

/// A project folder with one Task state calling function `f` with `payload`.
fn project(functions: &str, files: &[(&str, &str)], payload: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let asl = json!({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": payload},
            "OutputPath": "$.Payload",
            "End": true
        }}
    });
    std::fs::write(dir.path().join("state-machine.asl.json"), asl.to_string()).unwrap();
    std::fs::write(dir.path().join("functions.toml"), functions).unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn python_fn(extra: &str) -> String {
    format!(
        "[functions.f]\nruntime = \"python3.12\"\nhandler = \"app.handler\"\ncode = \"code\"\n{extra}"
    )
}

/// Whether process `pid` is gone (or a zombie nobody waits for), polling up to 3 s: a process
/// killed through PR_SET_PDEATHSIG goes a moment after its parent.
fn gone(pid: u64) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let dead = state.as_deref().is_none_or(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if dead {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/user-code")
}

#[test]
fn python_handler_results_warm_reuse_and_catch() {
    let v = run_json(&fixture(), &[]);
    assert_eq!(v["status"], "SUCCEEDED", "{v:#}");
    let out = &v["output"];
    assert_eq!(out["first"]["greeting"], "hello stepsim");
    assert_eq!(out["first"]["memory"], "256");
    assert_eq!(out["first"]["remaining_ok"], true);
    // Warm reuse: the same process, its module state kept.
    assert_eq!(out["first"]["calls"], 1);
    assert_eq!(out["second"]["calls"], 2);
    assert_eq!(out["first"]["pid"], out["second"]["pid"]);
    assert_ne!(out["first"]["request_id"], out["second"]["request_id"]);
    // The exception reached Step Functions as Lambda reports it, and Catch took it.
    assert_eq!(out["caught"]["Error"], "ValueError");
    let cause: Value = serde_json::from_str(out["caught"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "bad value");
    assert!(cause["stackTrace"][0]
        .as_str()
        .unwrap()
        .starts_with("  File \"/var/task/app.py\""));
    assert_eq!(v["lambda"]["counter"]["cold_starts"], 1);
    assert_eq!(v["lambda"]["counter"]["invocations"], 3);
    // The handler's print() lines are the function's log lines, between START and END.
    let logs: Vec<&str> = v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    let i = logs
        .iter()
        .position(|l| *l == "call 1 of counter")
        .expect("print line");
    assert!(logs[i - 1].starts_with("START RequestId:"), "{logs:?}");
    assert!(logs[i + 1].starts_with("END RequestId:"), "{logs:?}");
    // handler_cpu_ms = 20 at 256 MB: 138.2 ms of modelled Duration per call.
    assert!(
        logs.iter().any(|l| l.contains("Duration: 139.00 ms")),
        "{logs:?}"
    );
    // The process ended with stepsim.
    assert!(gone(out["first"]["pid"].as_u64().unwrap()));
}

#[test]
fn python_runs_are_deterministic() {
    let strip = |mut v: Value| {
        for k in ["first", "second"] {
            v["output"][k].as_object_mut().unwrap().remove("pid");
        }
        v
    };
    let a = strip(run_json(&fixture(), &[]));
    let b = strip(run_json(&fixture(), &[]));
    assert_eq!(a, b);
}

#[test]
fn a_stuck_handler_times_out_and_its_process_is_killed() {
    let code = "import os, time\n\
                def handler(event, context):\n\
                \x20   open(event['pid_file'], 'w').write(str(os.getpid()))\n\
                \x20   time.sleep(60)\n";
    let dir = project(
        &python_fn("timeout_seconds = 1\n"),
        &[("code/app.py", code)],
        json!({}),
    );
    let pid_file = dir.path().join("pid");
    std::fs::write(
        dir.path().join("state-machine.asl.json"),
        json!({"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": {"pid_file": pid_file.to_str().unwrap()}},
            "End": true}}})
        .to_string(),
    )
    .unwrap();
    let started = Instant::now();
    let v = run_json(dir.path(), &[("STEPSIM_USER_CODE_WALL_SECONDS", "1.5")]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(v["status"], "FAILED", "{v:#}");
    assert_eq!(v["error"], "Sandbox.Timedout");
    assert!(v["cause"]
        .as_str()
        .unwrap()
        .contains("Task timed out after 1.00 seconds"));
    assert_eq!(v["lambda"]["f"]["timeouts"], 1);
    let pid: u64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(gone(pid), "process {pid} still runs");
}

#[test]
fn modelled_time_past_the_timeout_times_out_too() {
    // 5 s of handler CPU at 1,769 MB is 5 s of Duration: past the 2 s timeout, however fast
    // the host answers.
    let code = "def handler(event, context):\n    return 1\n";
    let dir = project(
        &python_fn("timeout_seconds = 2\nmemory_mb = 1769\nhandler_cpu_ms = 5000\n"),
        &[("code/app.py", code)],
        json!({}),
    );
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["error"], "Sandbox.Timedout", "{v:#}");
}

fn call_error(code: &str, extra: &str) -> (String, String) {
    let dir = project(&python_fn(extra), &[("code/app.py", code)], json!({"x": 1}));
    let v = run_json(dir.path(), &[]);
    assert_eq!(v["status"], "FAILED", "{v:#}");
    (
        v["error"].as_str().unwrap().to_string(),
        v["cause"].as_str().unwrap().to_string(),
    )
}

#[test]
fn runtime_errors_are_reported_as_lambda_does() {
    let (e, c) = call_error(
        "import no_such_module_here\ndef handler(e, c):\n    return 1\n",
        "",
    );
    assert_eq!(e, "Runtime.ImportModuleError");
    assert!(c.contains("Unable to import module 'app'"), "{c}");
    let (e, c) = call_error("def other(e, c):\n    return 1\n", "");
    assert_eq!(e, "Runtime.HandlerNotFound");
    assert!(
        c.contains("Handler 'handler' missing on module 'app'"),
        "{c}"
    );
    let (e, c) = call_error("def handler(e, c):\n    return {1, 2}\n", "");
    assert_eq!(e, "Runtime.MarshalError");
    assert!(c.contains("Unable to marshal response"), "{c}");
    let (e, c) = call_error("import os\ndef handler(e, c):\n    os._exit(3)\n", "");
    assert_eq!(e, "Runtime.ExitError");
    assert!(
        c.contains("Runtime exited with error: exit status 3"),
        "{c}"
    );
    let (e, c) = call_error("def handler(e, c):\n    raise KeyError('k')\n", "");
    assert_eq!(e, "KeyError");
    assert!(c.contains("\"errorMessage\":\"'k'\""), "{c}");
}

#[test]
fn bad_function_files_are_clear_errors() {
    let cases = [
        (
            python_fn("").replace("\"code\"", "\"missing\""),
            "does not exist",
            "code",
        ),
        (
            python_fn("").replace("python3.12", "java21"),
            "cannot run user code",
            "runtime",
        ),
        (
            python_fn("").replace("app.handler", "nope.handler"),
            "module `nope` not found",
            "handler",
        ),
        (
            python_fn("duration = \"fast\"\n"),
            "not `model` or `measured`",
            "duration",
        ),
    ];
    for (functions, message, key) in cases {
        let dir = project(
            &functions,
            &[("code/app.py", "def handler(e, c):\n    return 1\n")],
            json!({}),
        );
        let (code, _, err) = stepsim_in(dir.path(), &["run", "."], &[]);
        assert_ne!(code, 0);
        assert!(err.contains(message), "{err}");
        assert!(err.contains(&format!("key `{key}`")), "{err}");
        assert!(
            err.contains("functions.toml") && err.contains("line 1"),
            "{err}"
        );
    }
}
