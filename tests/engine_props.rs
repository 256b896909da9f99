//! The interpreter never panics or hangs on user input: random definitions (those the validator
//! accepts) with random inputs, every corpus definition with random inputs, and the bad inputs
//! AWS answers with an ASL error.

use std::rc::Rc;

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::engine::{
    self, clock::default_origin, ExecutionOptions, ExecutionStatus, HistoryMode, NoServices, Plan,
};

mod support;

fn run(def: &Value, input: Value) -> Option<engine::ExecutionOutcome> {
    let machine = stepsim::asl::load_value(def).ok()?;
    let plan = Plan::compile(&machine).ok()?;
    let opts = ExecutionOptions {
        max_transitions: 500,
        history: HistoryMode::CountOnly,
        ..Default::default()
    };
    Some(support::run_with_invoker(
        &plan,
        input,
        &opts,
        default_origin(),
        Rc::new(NoServices),
    ))
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i64..1000).prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop::sample::select(vec!["a", "", "2016-03-14T01:59:00Z", "x*y", "$.a", "{}"])
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["a", "b", "items", "n", "ts"]),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn arb_state(next: Option<String>) -> impl Strategy<Value = Value> {
    let path = prop::sample::select(vec![
        "$",
        "$.a",
        "$.b",
        "$.items",
        "$.n",
        "$.a[0]",
        "$..a",
        "$.items[*]",
        "$$.Execution.Input",
    ]);
    let transition = move |mut s: Value| {
        match &next {
            Some(n) => s["Next"] = json!(n),
            None => s["End"] = json!(true),
        }
        s
    };
    let t2 = transition.clone();
    let t3 = transition.clone();
    let t4 = transition.clone();
    prop_oneof![
        (path.clone(), path.clone(), arb_value()).prop_map(move |(i, r, v)| transition(json!({
            "Type": "Pass", "InputPath": i, "ResultPath": r.replace("..", ".").replace("[*]", "").replace("$$.Execution.Input", "$.c"), "Result": v
        }))),
        (path.clone(), path.clone()).prop_map(move |(p, q)| t2(json!({
            "Type": "Pass", "Parameters": {"x.$": p, "y.$": format!("States.JsonToString({q})"), "z.$": "States.ArrayLength($.items)"}
        }))),
        (path.clone(), prop::sample::select(vec!["NumericLessThan", "StringEquals", "TimestampLessThan", "IsPresent", "BooleanEquals", "StringMatches"]), arb_value())
            .prop_map(move |(v, op, x)| {
                let operand = match op {
                    "IsPresent" | "BooleanEquals" => json!(x.is_null()),
                    "NumericLessThan" => json!(x.as_f64().unwrap_or(1.0)),
                    "TimestampLessThan" => json!("2020-01-01T00:00:00Z"),
                    _ => json!(x.as_str().unwrap_or("a")),
                };
                json!({"Type": "Choice", "Choices": [{"Variable": v, op: operand, "Next": "Z"}], "Default": "Z"})
            }),
        (path.clone(), 0i64..5).prop_map(move |(p, c)| t3(json!({
            "Type": "Map", "ItemsPath": p.replace("..", ".").replace("[*]", ""), "MaxConcurrency": c,
            "ToleratedFailurePercentage": 50,
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}}
        }))),
        (prop::sample::select(vec!["$.n", "$.ts", "$.a"])).prop_map(move |p| t4(json!({
            "Type": "Wait", if p == "$.ts" { "TimestampPath" } else { "SecondsPath" }: p
        }))),
        Just(json!({"Type": "Fail", "ErrorPath": "$.a", "Cause": "c"})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_machines_never_panic(a in arb_state(Some("B".into())), b in arb_state(Some("Z".into())), input in arb_value()) {
        let def = json!({"StartAt": "A", "States": {"A": a, "B": b, "Z": {"Type": "Succeed"}}});
        if let Some(out) = run(&def, input) {
            prop_assert!(matches!(out.status, ExecutionStatus::Succeeded | ExecutionStatus::Failed));
            // A failure always says why (Fail states here always carry a Cause).
            if out.status == ExecutionStatus::Failed {
                prop_assert!(out.cause.is_some(), "{:?}", out.error);
            }
        }
    }
}

#[test]
fn corpus_definitions_with_random_inputs_never_panic() {
    let Some(cases) = support::corpus_cases("corpus_definitions_with_random_inputs_never_panic")
    else {
        return;
    };
    let inputs = [
        json!(null),
        json!(1),
        json!("s"),
        json!([1, 2]),
        json!({"a": {"b": []}}),
    ];
    for c in cases
        .iter()
        .filter(|c| c.doc["lambdas"].as_object().is_none_or(|m| m.is_empty()))
    {
        for i in &inputs {
            let _ = run(c.definition(), i.clone());
        }
    }
}

#[test]
fn bad_inputs_become_asl_errors() {
    let big = json!({"blob": "x".repeat(300 * 1024)});
    let out = run(
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        big,
    )
    .unwrap();
    assert_eq!(out.error.as_deref(), Some("States.DataLimitExceeded"));

    let grow = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"r.$": "States.ArrayRange(1, 1000, 1)", "s.$": "States.Format('{}{}{}{}{}{}{}{}', $.s, $.s, $.s, $.s, $.s, $.s, $.s, $.s)"}, "End": true}}});
    let out = run(&grow, json!({"s": "y".repeat(40_000)})).unwrap();
    assert_eq!(
        out.error.as_deref(),
        Some("States.DataLimitExceeded"),
        "{:?}",
        out.cause
    );

    let miss = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.nope"}, "End": true}}});
    assert_eq!(
        run(&miss, json!({})).unwrap().error.as_deref(),
        Some("States.Runtime")
    );

    let cmp = json!({"StartAt": "C", "States": {"C": {"Type": "Choice",
        "Choices": [{"Variable": "$.v", "NumericGreaterThan": 1, "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Pass", "Result": "y", "End": true}, "N": {"Type": "Pass", "Result": "n", "End": true}}});
    assert_eq!(
        run(&cmp, json!({"v": "10"})).unwrap().output,
        Some(json!("n"))
    );

    let ts = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}});
    let out = run(&ts, json!({"t": "yesterday"})).unwrap();
    assert_eq!(out.error.as_deref(), Some("States.Runtime"));
    assert!(out.cause.unwrap().contains("ISO-8601"));

    let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}}});
    let out = run(&map, json!({"items": {"not": "an array"}})).unwrap();
    assert_eq!(out.error.as_deref(), Some("States.Runtime"));
}
