//! `stepsim eval`: the command line users evaluate JSONata expressions with, and its exact
//! `--json` output (`{"value":V}`, `{"undefined":true}`, `{"error":"CODE","message":"..."}`).

use std::process::Command;

use serde_json::{json, Value};

fn eval(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepsim"))
        .arg("eval")
        .args(args)
        .output()
        .expect("run stepsim eval");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eval_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = eval(&all);
    let v = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout:?} {stderr:?}"));
    (code, v)
}

#[test]
fn values_undefined_and_errors_print_as_one_object() {
    assert_eq!(eval_json(&["1 + 2"]), (0, json!({"value": 3})));
    assert_eq!(eval_json(&["nothing"]), (0, json!({"undefined": true})));
    let (code, v) = eval_json(&["$sum(1, 2)"]);
    assert_eq!(code, 1);
    assert_eq!(v["error"], "T0410");
    assert!(v["message"].as_str().unwrap().contains("sum"), "{v}");
    let (code, v) = eval_json(&["(1"]);
    assert_eq!((code, v["error"].clone()), (1, json!("S0203")));
}

#[test]
fn the_input_is_dollar_and_double_dollar() {
    let input = r#"{"a": [1, 2], "b": {"c": "x"}}"#;
    assert_eq!(
        eval_json(&["--input", input, "$$.a"]),
        (0, json!({"value": [1, 2]}))
    );
    assert_eq!(
        eval_json(&["--input", input, "b.(c & $$.b.c)"]),
        (0, json!({"value": "xx"}))
    );
    // An array input is one context item, as in jsonata-js.
    assert_eq!(
        eval_json(&["--input", "[{\"a\":[1,2]},{\"a\":[3]}]", "a[0]"]),
        (0, json!({"value": 1}))
    );
    // The input may be a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.json");
    std::fs::write(&path, input).unwrap();
    assert_eq!(
        eval_json(&["--input", path.to_str().unwrap(), "$count(a)"]),
        (0, json!({"value": 2}))
    );
}

#[test]
fn bindings_and_states() {
    assert_eq!(
        eval_json(&["--bind", "x=5", "--bind", "$y=[1,2]", "$x + $sum($y)"]),
        (0, json!({"value": 8}))
    );
    assert_eq!(
        eval_json(&["--states", r#"{"input": {"n": 4}}"#, "$states.input.n * 2"]),
        (0, json!({"value": 8}))
    );
    let (code, _, stderr) = eval(&["--bind", "novalue", "1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("NAME=JSON"), "{stderr}");
}

#[test]
fn limits_and_leading_minus() {
    assert_eq!(eval_json(&["-1 - 2"]), (0, json!({"value": -3})));
    let deep = "($f := function($n){$n <= 0 ? 0 : 1 + $f($n - 1)}; $f(500))";
    assert_eq!(eval_json(&[deep]), (0, json!({"value": 500})));
    let (code, v) = eval_json(&["--max-depth", "50", deep]);
    assert_eq!((code, v["error"].clone()), (1, json!("U1001")));
    let (code, v) = eval_json(&[
        "--time-limit-ms",
        "300",
        "--max-steps",
        "100000000000",
        "--max-depth",
        "100000000",
        "($f := function($n){$f($n + 1)}; $f(0))",
    ]);
    assert_eq!((code, v["error"].clone()), (1, json!("U1001")));
}

#[test]
fn same_command_same_bytes() {
    let args = [
        "--seed",
        "7",
        "--now-millis",
        "1700000000000",
        "--json",
        "[$random(), $uuid(), $now()]",
    ];
    assert_eq!(eval(&args), eval(&args));
    let (_, v) = eval_json(&["--now-millis", "1521801216617", "$now()"]);
    assert_eq!(v, json!({"value": "2018-03-23T10:33:36.617Z"}));
}

#[test]
fn text_output_without_json() {
    let (code, stdout, _) = eval(&["{'a': 1}"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"a": 1})
    );
    let (code, _, stderr) = eval(&["$error('boom')"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("D3137") && stderr.contains("boom"),
        "{stderr}"
    );
}
