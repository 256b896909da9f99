//! `stepsim run` as a user runs it: exit codes, `--set`, `--json` fields, and byte-identical
//! output for the same seed.

mod support;
use support::cli::{json_without_wall, stepsim};

#[test]
fn runs_a_folder_and_reports_json() {
    let (code, out, err) = stepsim(&["run", "tests/fixtures/lambda-chain", "--json", "--logs"]);
    assert_eq!(code, 0, "{err}");
    let v = json_without_wall(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    // The sleep handler returns its event, so the Map gives back the items.
    assert_eq!(v["output"], serde_json::json!([1, 2, 3]));
    // 3 items slept 2 s each, concurrently; plus the 30 s Wait and invoke latencies.
    let ms = v["duration_ms"].as_u64().unwrap();
    assert!((32_000..33_500).contains(&ms), "{ms}");
    assert_eq!(v["lambda"]["work"]["invocations"], 3);
    assert_eq!(v["lambda"]["work"]["cold_starts"], 3);
    assert_eq!(v["lambda"]["echo"]["invocations"], 1);
    assert!(v["bill"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["component"] == "lambda.requests"));
    assert!(v["logs"].as_array().unwrap().iter().any(|l| l["message"]
        .as_str()
        .unwrap()
        .starts_with("REPORT RequestId:")));
    for key in [
        "start_date",
        "stop_date",
        "transitions",
        "execution_arn",
        "error",
        "cause",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_latencies() {
    let a = stepsim(&[
        "run",
        "tests/fixtures/lambda-chain",
        "--json",
        "--history",
        "--seed",
        "7",
    ]);
    let b = stepsim(&[
        "run",
        "tests/fixtures/lambda-chain",
        "--json",
        "--history",
        "--seed",
        "7",
    ]);
    let c = stepsim(&[
        "run",
        "tests/fixtures/lambda-chain",
        "--json",
        "--history",
        "--seed",
        "8",
    ]);
    let (a, b, c) = (
        json_without_wall(&a.1),
        json_without_wall(&b.1),
        json_without_wall(&c.1),
    );
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert_ne!(a["duration_ms"], c["duration_ms"]);
}

#[test]
fn set_overrides_input_and_failures_exit_1() {
    let (code, out, _) = stepsim(&[
        "run",
        "tests/fixtures/lambda-chain",
        "--json",
        "--set",
        "items=[4,5]",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json_without_wall(&out)["lambda"]["work"]["invocations"], 2);
    // Items that are not an array fail the Map: exit 1 with the ASL error.
    let (code, out, _) = stepsim(&[
        "run",
        "tests/fixtures/lambda-chain",
        "--json",
        "--set",
        "items=\"nope\"",
    ]);
    assert_eq!(code, 1);
    let v = json_without_wall(&out);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "States.Runtime");
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let (code, _, err) = stepsim(&["run", "no/such/folder"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/folder"), "{err}");
    let (code, _, err) = stepsim(&["run", "tests/fixtures/lambda-chain", "--input", "{oops"]);
    assert_eq!(code, 2);
    assert!(err.contains("neither a file nor valid JSON"), "{err}");
    let (code, _, err) = stepsim(&["run", "tests/fixtures/lambda-chain", "--set", "noequals"]);
    assert_eq!(code, 2);
    assert!(err.contains("NAME=VALUE"), "{err}");
    let (code, _, err) = stepsim(&["run", "tests/fixtures/lambda-chain", "--store", "s3://b"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_distributed_maps_run_is_reported() {
    let (code, out, err) = stepsim(&["run", "asl-examples/cosmic-ai", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json_without_wall(&out);
    let runs = v["map_runs"].as_array().expect("map_runs");
    assert_eq!(runs.len(), 1, "{}", v["map_runs"]);
    let r = &runs[0];
    assert_eq!(r["status"], "SUCCEEDED");
    assert!(r["map_run_arn"].as_str().unwrap().contains(":mapRun:"));
    // One child per rank: the example's world size.
    let ranks = v["child_executions"].as_u64().unwrap();
    assert_eq!(r["executions"]["total"].as_u64(), Some(ranks));
    assert_eq!(r["executions"]["succeeded"].as_u64(), Some(ranks));
    assert!(r["start_date"].as_str() <= r["stop_date"].as_str());
    let (code, text, _) = stepsim(&["run", "asl-examples/cosmic-ai"]);
    assert_eq!(code, 0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("map run") && l.contains("SUCCEEDED")),
        "{text}"
    );
    // A run without a Distributed Map has no `map_runs`.
    let (_, out, _) = stepsim(&["run", "tests/fixtures/lambda-chain", "--json"]);
    assert!(json_without_wall(&out).get("map_runs").is_none());
}
