//! Evaluator tests: language semantics, the Step Functions functions, limits and templates.

use serde_json::{json, Value};

use super::*;
use crate::rng::SimRng;

const NOW: i64 = 1_731_690_752_000; // 2024-11-15T17:12:32.000Z

fn run_with(
    expr: &str,
    states: &Value,
    vars: &dyn VariableLookup,
) -> Result<Option<Value>, JsonataError> {
    let e = Expression::parse(expr).unwrap_or_else(|err| panic!("parse {expr}: {err}"));
    let mut rng = SimRng::new(7);
    let mut env = JsonataEnv {
        states,
        variables: vars,
        now_millis: NOW,
        rng: &mut rng,
        limits: Limits::default(),
    };
    e.evaluate(&mut env)
}

fn run(expr: &str) -> Result<Option<Value>, JsonataError> {
    run_with(expr, &json!({"input": {"a": 1}}), &NoVariables)
}

fn val(expr: &str) -> Value {
    match run(expr) {
        Ok(Some(v)) => v,
        other => panic!("{expr}: {other:?}"),
    }
}

#[test]
fn basics() {
    assert_eq!(val("1 + 2"), json!(3));
    assert_eq!(val("$states.input.a"), json!(1));
}
