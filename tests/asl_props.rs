//! The parser and validator never panic or hang: arbitrary text, arbitrary JSON, definitions
//! mutated from a valid one, and very deep or very large documents all end in diagnostics.

use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "$",
            "$.a",
            "$$",
            "$$.Execution.Id",
            "States.Format('{}', $.a)",
            "{% $x %}",
            "Pass",
            "Task",
            "Choice",
            "Map",
            "Parallel",
            "Wait",
            "Fail",
            "Succeed",
            "arn:aws:states:::lambda:invoke",
            "JSONata",
            "JSONPath",
            "A",
            "B",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "Type",
                        "Next",
                        "End",
                        "StartAt",
                        "States",
                        "Parameters",
                        "InputPath",
                        "ResultPath",
                        "OutputPath",
                        "Choices",
                        "Variable",
                        "StringEquals",
                        "Branches",
                        "ItemProcessor",
                        "Iterator",
                        "Retry",
                        "Catch",
                        "ErrorEquals",
                        "x.$",
                        "Seconds",
                        "Timestamp",
                        "Resource",
                        "Default",
                        "And",
                        "Not",
                        "QueryLanguage",
                        "Arguments",
                        "Output",
                        "Assign",
                        "Items",
                        "Condition",
                        "ItemReader",
                        "ResultWriter",
                        "ItemBatcher",
                        "MaxConcurrency",
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = stepsim::asl::check_str(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = stepsim::asl::load_value(&v);
        let wrapped = json!({"StartAt": "A", "States": {"A": v.clone()}});
        let _ = stepsim::asl::load_value(&wrapped);
        let _ = stepsim::asl::check_str(&wrapped.to_string());
    }

    #[test]
    fn valid_definitions_with_random_fields_never_panic(key in "[A-Za-z.$]{1,12}", v in arb_json()) {
        let mut def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Map", "ItemsPath": "$.i", "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Succeed"}}}, "End": true}
        }});
        def["States"]["A"][key.clone()] = v.clone();
        def["States"]["B"]["ItemProcessor"]["States"]["C"][key] = v;
        let _ = stepsim::asl::load_value(&def);
    }
}

#[test]
fn deeply_nested_text_is_a_diagnostic() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let (m, d) = stepsim::asl::check_str(&deep);
    assert!(m.is_none());
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("not valid JSON"), "{}", d[0].message);
}

#[test]
fn deeply_nested_branches_are_rejected_not_overflowed() {
    // 200 levels of Parallel inside Parallel, built as a value (no serde recursion limit).
    let mut body = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}});
    for _ in 0..200 {
        body = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [body]}}});
    }
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || stepsim::asl::load_value(&body).map(|_| ()))
        .unwrap();
    let r = handle.join().expect("no stack overflow");
    let e = r.expect_err("too deep");
    assert!(e
        .diagnostics
        .iter()
        .any(|d| d.message.contains("nested too deeply")));
}

#[test]
fn large_definitions_are_handled() {
    let mut states = serde_json::Map::new();
    for i in 0..20_000 {
        let next = if i + 1 < 20_000 {
            json!({"Next": format!("S{}", i + 1)})
        } else {
            json!({"End": true})
        };
        let mut s = json!({"Type": "Pass"});
        for (k, v) in next.as_object().unwrap() {
            s[k] = v.clone();
        }
        states.insert(format!("S{i}"), s);
    }
    let def = json!({"StartAt": "S0", "States": states});
    let text = def.to_string();
    let (m, d) = stepsim::asl::check_str(&text);
    assert!(d.is_empty(), "{:?}", d.first());
    assert_eq!(m.unwrap().body.states.len(), 20_000);
}
