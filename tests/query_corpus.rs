//! Checks the query layer against the conformance corpus recorded on AWS:
//! (a) every `.$` value, payload template and path field in every definition outside the
//!     `validation` category parses, and the `validation` case with an illegal intrinsic
//!     escape is rejected;
//! (b) every case whose definition is a single Pass state with Parameters (all 105
//!     `intrinsic_functions` cases and a few from other categories) gives the recorded output
//!     when its template is evaluated on its input.
//!
//! The corpus lives outside the repository; see `support` for where it is looked for and what
//! happens when it is absent.

use serde_json::{json, Value};
use stepsim::query::{
    parse_intrinsic, Env, JsonPath, NoVariables, ReferencePath, Template, TemplateProblem,
};
use stepsim::rng::SimRng;

mod support;

/// Fields whose value is a payload template in JSONPath states.
const TEMPLATE_FIELDS: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ItemSelector",
    "Assign",
    "BatchInput",
];

#[derive(Default)]
struct Checked {
    templates: usize,
    paths: usize,
    failures: Vec<String>,
}

fn check_path_field(key: &str, text: &str, at: &str, c: &mut Checked) {
    c.paths += 1;
    let result = if key == "ResultPath" {
        ReferencePath::parse(text).map(|_| ())
    } else if (key == "ErrorPath" || key == "CausePath") && text.starts_with("States.") {
        parse_intrinsic(text)
            .map(|_| ())
            .map_err(|e| stepsim::query::PathSyntaxError {
                offset: e.offset,
                message: e.message,
            })
    } else {
        JsonPath::parse(text).map(|_| ())
    };
    if let Err(e) = result {
        c.failures.push(format!("{at}/{key} = {text:?}: {e}"));
    }
}

fn walk(node: &Value, jsonata: bool, at: &str, c: &mut Checked) {
    match node {
        Value::Object(map) => {
            let jsonata = match map.get("QueryLanguage").and_then(Value::as_str) {
                Some("JSONata") => true,
                Some(_) => false,
                None => jsonata,
            };
            for (key, value) in map {
                let here = format!("{at}/{key}");
                if key == "Result" {
                    continue; // literal JSON: `.$` keys there are plain keys
                }
                if !jsonata && TEMPLATE_FIELDS.contains(&key.as_str()) {
                    c.templates += 1;
                    if let Err(problems) = Template::compile(value) {
                        for TemplateProblem { pointer, message } in problems {
                            c.failures.push(format!("{here}{pointer}: {message}"));
                        }
                    }
                    continue;
                }
                if !jsonata && (key.ends_with("Path") || key == "Variable") {
                    if let Some(text) = value.as_str() {
                        check_path_field(key, text, at, c);
                        continue;
                    }
                }
                walk(value, jsonata, &here, c);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, jsonata, &format!("{at}/{i}"), c);
            }
        }
        _ => {}
    }
}

#[test]
fn every_path_and_template_in_the_corpus_parses() {
    let Some(cases) = support::corpus_documents("every_path_and_template_in_the_corpus_parses")
    else {
        return;
    };
    assert!(!cases.is_empty(), "no cases in the corpus");
    let mut c = Checked::default();
    for (name, case) in &cases {
        if name.starts_with("validation") {
            continue;
        }
        let def = &case["definition"];
        let jsonata = def.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
        walk(def, jsonata, name, &mut c);
    }
    println!(
        "checked {} templates and {} path fields in {} cases",
        c.templates,
        c.paths,
        cases.len()
    );
    assert!(c.templates > 100 && c.paths > 100, "walked too little");
    assert!(c.failures.is_empty(), "{}", c.failures.join("\n"));
}

#[test]
fn validation_case_with_illegal_escape_is_rejected() {
    let Some(dir) = support::corpus_dir("validation_case_with_illegal_escape_is_rejected") else {
        return;
    };
    let file = dir.join(
        "cases/validation/test_base_scenarios.test_illegal_escapes__ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION.json",
    );
    let Ok(text) = std::fs::read_to_string(&file) else {
        println!("{} not found; skipping", file.display());
        return;
    };
    let case: Value = serde_json::from_str(&text).expect("valid JSON");
    let params = &case["definition"]["States"]["IntrinsicEscape"]["Parameters"];
    let problems = Template::compile(params).expect_err("AWS rejects this definition");
    assert_eq!(problems[0].pointer, "/parsed.$");
}

/// Numbers compare by value (1 == 1.0); a string placeholder in `expected` matches anything
/// of the right shape.
fn matches_expected(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches_expected(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| matches_expected(x, v)))
        }
        (Value::Number(_), Value::String(s)) => s == "RandomNumberGenerated",
        _ => actual == expected,
    }
}

#[test]
fn single_pass_parameter_cases_produce_the_recorded_outputs() {
    let Some(cases) =
        support::corpus_documents("single_pass_parameter_cases_produce_the_recorded_outputs")
    else {
        return;
    };
    let mut ran = 0;
    let mut failures = Vec::new();
    let mut intrinsic_cases = 0;
    for (name, case) in cases.iter().filter(|(n, _)| !n.starts_with("validation")) {
        let Some(states) = case["definition"]["States"].as_object() else {
            continue;
        };
        let [state] = states.values().collect::<Vec<_>>()[..] else {
            continue;
        };
        // A lone Pass state whose output is exactly its Parameters evaluated on the input.
        let plain = state["Type"] == "Pass"
            && state.get("Parameters").is_some()
            && [
                "InputPath",
                "ResultPath",
                "OutputPath",
                "QueryLanguage",
                "Assign",
            ]
            .iter()
            .all(|k| state.get(*k).is_none())
            && case["definition"].get("QueryLanguage").is_none();
        if !plain {
            continue;
        }
        if name.starts_with("intrinsic_functions") {
            intrinsic_cases += 1;
        }
        let template = match Template::compile(&state["Parameters"]) {
            Ok(t) => t,
            Err(p) => {
                failures.push(format!("{name}: does not compile: {p:?}"));
                continue;
            }
        };
        let input = &case["input"];
        // The recorder replaced the state machine and execution names with placeholders;
        // using the placeholders as the names makes the expected outputs exact.
        let context = json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
                "Name": "<ExecArnPart_0idx>",
                "Input": input,
                "RoleArn": "snf_role_arn",
                "StartTime": "date",
            },
            "StateMachine": {
                "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:<ArnPart_0idx>",
                "Name": "<ArnPart_0idx>",
            },
            "State": {"Name": states.keys().next(), "EnteredTime": "date", "RetryCount": 0},
        });
        let mut rng = SimRng::derived(7, name);
        let mut env = Env::new(input, &context, &NoVariables, &mut rng);
        let expected = &case["expected"];
        ran += 1;
        match (template.eval(&mut env), expected["status"].as_str()) {
            (Ok(out), Some("SUCCEEDED")) => {
                if !matches_expected(&out, &expected["output"]) {
                    failures.push(format!(
                        "{name}: got {out}, expected {}",
                        expected["output"]
                    ));
                }
            }
            (Err(e), Some("FAILED")) => {
                if Some(e.error.as_str()) != expected["error"].as_str() {
                    failures.push(format!(
                        "{name}: error {} vs {}",
                        e.error, expected["error"]
                    ));
                }
            }
            (got, want) => failures.push(format!("{name}: got {got:?}, expected status {want:?}")),
        }
    }
    println!("evaluated {ran} single-Pass cases, {intrinsic_cases} of them intrinsic_functions");
    assert!(
        intrinsic_cases >= 100,
        "expected the 105 intrinsic cases, ran {intrinsic_cases}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recorded_path_miss_causes() {
    // These texts are from the errors/ and retry_catch/ categories of the corpus.
    let empty = json!({});
    assert_eq!(
        JsonPath::parse("$.NoSuchInputPath")
            .unwrap()
            .describe_miss(&empty),
        "No results for path: $['NoSuchInputPath']"
    );
    assert_eq!(
        JsonPath::parse("$.no.such.result.path")
            .unwrap()
            .describe_miss(&empty),
        "Missing property in path $['no']"
    );
}
