//! Robustness properties of the query layer: parsers and evaluators never panic and always
//! finish, whatever the text or JSON, and very deep nesting is an error, not a stack overflow.

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::query::{
    drop_deep, parse_intrinsic, Env, JsonPath, NoVariables, ReferencePath, Template,
};
use stepsim::rng::SimRng;

/// Arbitrary JSON, a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-z$.{}'\\\\ ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,3}(\\.\\$)?", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Text that looks like paths, so the generator reaches deep into the grammar.
fn pathish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(".a".to_string()),
        Just(".b-c".to_string()),
        Just("[0]".to_string()),
        Just("[-1]".to_string()),
        Just("[*]".to_string()),
        Just("..a".to_string()),
        Just("[1:]".to_string()),
        Just("[:2:1]".to_string()),
        Just("['x y']".to_string()),
        Just("[0,1]".to_string()),
        Just("[?(@.a == 1)]".to_string()),
        Just("[?(@.a =~ /x.*/)]".to_string()),
        Just(".length()".to_string()),
        "[\\[\\]().'\"@?*:,=~/ a-z0-9-]{0,4}",
    ];
    (
        prop_oneof![Just("$"), Just("$$"), Just("$v"), Just(""), Just("@")],
        prop::collection::vec(piece, 0..6),
    )
        .prop_map(|(root, pieces)| format!("{root}{}", pieces.concat()))
}

/// Text that looks like intrinsic calls.
fn intrinsicish() -> impl Strategy<Value = String> {
    let arg = prop_oneof![
        Just("1".to_string()),
        Just("-2.5".to_string()),
        Just("'a{}b'".to_string()),
        Just("'\\{x\\}'".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("$.a".to_string()),
        Just("$$.Execution.Input".to_string()),
        Just("$v".to_string()),
        Just("$.l[*]".to_string()),
        Just("States.Array(1, $.a)".to_string()),
        Just("States.StringSplit('a,b', ',')".to_string()),
        "[a-zA-Z0-9$.,'(){}\\\\ ]{0,6}",
    ];
    let funcs = prop::sample::select(vec![
        "States.Format",
        "States.StringToJson",
        "States.JsonToString",
        "States.Array",
        "States.ArrayPartition",
        "States.ArrayContains",
        "States.ArrayRange",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayUnique",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.JsonMerge",
        "States.MathRandom",
        "States.MathAdd",
        "States.StringSplit",
        "States.UUID",
        "States.Nope",
    ]);
    (funcs, prop::collection::vec(arg, 0..4), any::<bool>()).prop_map(|(f, args, close)| {
        format!("{f}({}{}", args.join(", "), if close { ")" } else { "" })
    })
}

fn env_eval<T>(input: &Value, f: impl FnOnce(&mut Env<'_>) -> T) -> T {
    let ctx = json!({"Execution": {"Input": input.clone(), "Name": "n"}});
    let vars = json!({"v": {"a": [1, 2]}});
    let vars = vars.as_object().cloned().unwrap_or_default();
    let mut rng = SimRng::new(3);
    let mut env = Env::new(input, &ctx, &vars, &mut rng);
    f(&mut env)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn path_parsers_never_panic(text in any::<String>()) {
        let _ = ReferencePath::parse(&text);
        let _ = JsonPath::parse(&text);
    }

    #[test]
    fn pathlike_text_parses_and_evaluates(text in pathish(), input in arb_json()) {
        if let Ok(p) = JsonPath::parse(&text) {
            let out = p.eval(&input);
            if !p.is_definite() {
                // Indefinite paths always give an array (unless a function reduces it).
                prop_assert!(out.is_some() || text.ends_with(')'));
            }
            let _ = p.describe_miss(&input);
            env_eval(&input, |env| { let _ = p.eval_env(env); });
        }
        if let Ok(r) = ReferencePath::parse(&text) {
            let _ = r.get(&input);
            let _ = r.set(input.clone(), json!(1));
        }
    }

    #[test]
    fn intrinsic_parser_never_panics(text in any::<String>()) {
        let _ = parse_intrinsic(&text);
    }

    #[test]
    fn intrinsiclike_text_parses_and_evaluates(text in intrinsicish(), input in arb_json()) {
        if let Ok(i) = parse_intrinsic(&text) {
            env_eval(&input, |env| { let _ = i.eval(env); });
        }
    }

    #[test]
    fn templates_compile_and_evaluate(template in arb_json(), input in arb_json()) {
        if let Ok(t) = Template::compile(&template) {
            env_eval(&input, |env| { let _ = t.eval(env); });
        }
    }

    #[test]
    fn templates_with_pathlike_values(
        keys in prop::collection::vec("[a-z]{1,4}\\.\\$", 1..4),
        values in prop::collection::vec(prop_oneof![pathish(), intrinsicish()], 1..4),
        input in arb_json(),
    ) {
        let template = Value::Object(
            keys.into_iter().zip(values).map(|(k, v)| (k, Value::String(v))).collect(),
        );
        match Template::compile(&template) {
            Ok(t) => env_eval(&input, |env| { let _ = t.eval(env); }),
            Err(problems) => prop_assert!(problems.iter().all(|p| p.pointer.starts_with('/'))),
        }
    }

    #[test]
    fn set_then_get_round_trips(
        names in prop::collection::vec("[a-z]{1,3}", 1..5),
        input in arb_json(),
    ) {
        let text = format!("$.{}", names.join("."));
        let path = ReferencePath::parse(&text).unwrap();
        if let Ok(out) = path.set(input, json!("marker")) {
            prop_assert_eq!(path.get(&out), Some(&json!("marker")));
        }
    }
}

#[test]
fn deeply_nested_template_is_an_error() {
    let mut v = json!({"x.$": "$.a"});
    for _ in 0..100_000 {
        v = Value::Array(vec![v]);
    }
    let result = Template::compile(&v);
    assert!(result.is_err());
    drop_deep(v);
}

#[test]
fn deeply_nested_objects_in_a_template_are_an_error() {
    let mut v = json!(1);
    for _ in 0..100_000 {
        let mut m = serde_json::Map::new();
        m.insert("k".into(), v);
        v = Value::Object(m);
    }
    assert!(Template::compile(&v).is_err());
    drop_deep(v);
}

#[test]
fn deeply_nested_intrinsic_is_an_error() {
    let text = format!(
        "{}1{}",
        "States.Array(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(parse_intrinsic(&text).is_err());
    let text = format!(
        "{}'x'{}",
        "States.Format('{}', ".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(parse_intrinsic(&text).is_err());
}

#[test]
fn deeply_nested_filters_are_an_error() {
    let text = format!("$[?({}@.a{})]", "(".repeat(100_000), ")".repeat(100_000));
    assert!(JsonPath::parse(&text).is_err());
    let text = format!("$[?(@{}", "[?(@".repeat(100_000));
    assert!(JsonPath::parse(&text).is_err());
    let text = format!("$.a{}", "[0]".repeat(100_000));
    // Long but flat: either rejected for length or parsed; never a crash.
    let _ = JsonPath::parse(&text);
}

#[test]
fn deep_input_values_are_navigated_without_recursion() {
    // Values built in code can be deeper than serde_json's parser allows (128 levels). Path
    // walking is iterative, so it copes; only the selected node is ever cloned.
    let mut v = json!({"a": 1});
    for _ in 0..5_000 {
        v = Value::Array(vec![v]);
    }
    let path = format!("${}.a", "[0]".repeat(5_000));
    let p = JsonPath::parse(&path).unwrap();
    assert_eq!(p.eval(&v), Some(json!(1)));
    let r = ReferencePath::parse(&path).unwrap();
    assert_eq!(r.get(&v), Some(&json!(1)));
    let ctx = json!({});
    let mut rng = SimRng::new(0);
    let mut env = Env::new(&v, &ctx, &NoVariables, &mut rng);
    let t = Template::compile(&json!({"x.$": path})).unwrap();
    assert_eq!(t.eval(&mut env).unwrap(), json!({"x": 1}));
    drop_deep(v);
}
