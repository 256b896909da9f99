//! The JSONata engine against the conformance corpus recorded from AWS: every `{% %}` expression
//! in every case definition must parse, and every simple single-state case (one Pass state in
//! JSONata mode) must produce the recorded output or the recorded error cause. The corpus lives in
//! the project's shared folder; see `support` for where it is looked for.

use serde_json::{json, Value};
use stepsim::query::jsonata::{
    as_expression, Expression, JsonataEnv, JsonataTemplate, Limits, NoVariables,
};
use stepsim::rng::SimRng;

mod support;

fn cases() -> Option<Vec<(String, Value)>> {
    support::corpus_documents("jsonata_corpus")
}

fn collect_expressions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(e) = as_expression(s) {
                out.push(e.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_expressions(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_expressions(i, out)),
        _ => {}
    }
}

#[test]
fn every_corpus_expression_parses() {
    let Some(cases) = cases() else { return };
    let mut all = Vec::new();
    for (_, case) in &cases {
        collect_expressions(&case["definition"], &mut all);
    }
    all.sort();
    all.dedup();
    let failures: Vec<String> = all
        .iter()
        .filter_map(|e| Expression::parse(e).err().map(|err| format!("{e}: {err}")))
        .collect();
    println!(
        "{} distinct JSONata expressions in the corpus; {} parse",
        all.len(),
        all.len() - failures.len()
    );
    assert!(!all.is_empty(), "the corpus has JSONata expressions");
    assert!(
        failures.is_empty(),
        "expressions that do not parse:\n{}",
        failures.join("\n")
    );
}

/// Whether `expected` matches `actual`, treating the corpus's redaction placeholders as wildcards.
fn matches_expected(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches_expected(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| matches_expected(v, w)))
        }
        _ => expected == actual,
    }
}

/// The single Pass state of a JSONata-mode case whose outcome depends only on its Output.
fn single_pass_state(case: &Value) -> Option<(String, &Value)> {
    let def = &case["definition"];
    let states = def["States"].as_object()?;
    if states.len() != 1 {
        return None;
    }
    let (name, state) = states.iter().next()?;
    let language = state
        .get("QueryLanguage")
        .or_else(|| def.get("QueryLanguage"))
        .and_then(Value::as_str)
        .unwrap_or("JSONPath");
    let simple = state["Type"] == "Pass" && language == "JSONata" && state.get("Assign").is_none();
    simple.then_some((name.clone(), state))
}

#[test]
fn single_pass_state_cases_match_aws() {
    let Some(cases) = cases() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, case) in &cases {
        let Some((state_name, state)) = single_pass_state(case) else {
            continue;
        };
        let exact = case["normalization"]["exact"].as_bool().unwrap_or(true);
        let expected = &case["expected"];
        let status = expected["status"].as_str().unwrap_or_default();
        let input = case["input"].clone();
        let output_field = state.get("Output").cloned();
        let states = json!({
            "input": input,
            "context": {"Execution": {"Input": case["input"].clone()}, "State": {"Name": state_name}},
        });
        let mut rng = SimRng::new(42);
        let mut env = JsonataEnv {
            states: &states,
            variables: &NoVariables,
            now_millis: 1_731_690_752_000,
            rng: &mut rng,
            limits: Limits::default(),
        };
        let outcome = match &output_field {
            None => Ok(input.clone()),
            Some(field) => match JsonataTemplate::compile(field) {
                Ok(t) => t.evaluate(&mut env, "Output"),
                Err(errs) => {
                    failures.push(format!("{path}: does not compile: {errs:?}"));
                    continue;
                }
            },
        };
        checked += 1;
        let ok = match (status, &outcome) {
            ("SUCCEEDED", Ok(v)) => !exact || matches_expected(&expected["output"], v),
            ("FAILED", Err(e)) => {
                let prefix = format!("An error occurred while executing the state '{state_name}' (entered at the event id #2). ");
                let cause = format!("{prefix}{}", e.cause);
                expected["error"] == e.error.as_str()
                    && (!exact || expected["cause"] == cause.as_str())
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{path}\n    expected {expected}\n    got      {outcome:?}"
            ));
        }
    }
    println!(
        "{checked} single-Pass-state JSONata cases checked, {} match AWS",
        checked - failures.len()
    );
    assert!(checked > 0, "the corpus has single-state JSONata cases");
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
