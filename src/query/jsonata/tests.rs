//! Evaluator tests: language semantics, the Step Functions functions, limits and templates.

use serde_json::{json, Value};

use super::*;
use crate::rng::SimRng;

const NOW: i64 = 1_731_690_752_000; // 2024-11-15T17:12:32.000Z

/// Runs `f` in an environment over `states` and `vars`, at virtual time `now_millis`, with
/// the RNG seeded by `seed` and the default limits.
fn with_env<T>(
    states: &Value,
    vars: &dyn VariableLookup,
    now_millis: i64,
    seed: u64,
    f: impl FnOnce(&mut JsonataEnv<'_>) -> T,
) -> T {
    let mut rng = SimRng::new(seed);
    let mut env = JsonataEnv {
        states,
        variables: vars,
        now_millis,
        rng: &mut rng,
        limits: Limits::default(),
    };
    f(&mut env)
}

/// Runs `f` in an empty environment (no states, no variables, time 0, seed 1).
fn with_empty_env<T>(f: impl FnOnce(&mut JsonataEnv<'_>) -> T) -> T {
    with_env(&json!({}), &NoVariables, 0, 1, f)
}

fn run_with(
    expr: &str,
    states: &Value,
    vars: &dyn VariableLookup,
) -> Result<Option<Value>, JsonataError> {
    let e = Expression::parse(expr).unwrap_or_else(|err| panic!("parse {expr}: {err}"));
    with_env(states, vars, NOW, 7, |env| e.evaluate(env))
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

#[test]
fn focus_on_the_empty_name_is_no_focus() {
    let states = json!({"input": {"x": [{"y": 1}, {"y": 2}], "k": 0}});
    let got = |e: &str| run_with(e, &states, &NoVariables).unwrap();
    // `@$v` keeps the context (the input object, once per item); `@$` yields the items.
    assert_eq!(got("$states.input.x@$v.k"), Some(json!([0, 0])));
    assert_eq!(got("$states.input.x@$"), Some(json!([{"y": 1}, {"y": 2}])));
}

fn code(expr: &str) -> String {
    match run(expr) {
        Err(e) => e.code,
        other => panic!("{expr}: expected an error, got {other:?}"),
    }
}

/// Runs `f` on a thread with a 2 MiB stack (tokio's worker default): a stack overflow would
/// abort the whole test binary, so passing proves the limits hold.
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic");
}

#[test]
fn whole_numbers_print_as_integers() {
    assert_eq!(val("6 / 2").to_string(), "3");
    assert_eq!(val("1.5 * 2").to_string(), "3");
    assert_eq!(val("0.1 + 0.2").to_string(), "0.30000000000000004");
    assert_eq!(val("$sum([1, 2, 3]) + 1").to_string(), "7");
}

#[test]
fn partition_and_range_match_recorded_aws_outputs() {
    assert_eq!(val("$partition([0, 1, 2], 2)"), json!([[0, 1], [2]]));
    assert_eq!(val("$partition([0], 3)"), json!([[0]]));
    assert_eq!(val("$partition([0, 1, 2, 3], 4)"), json!([[0, 1, 2, 3]]));
    assert_eq!(val("$partition([], 2)"), json!([]));
    assert_eq!(code("$partition([1], 0)"), "D3040");
    assert_eq!(val("$range(0, 9, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(val("$range(0, 10, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(
        val("$range(1, 9, 9)"),
        json!(1),
        "a one-item range unwraps, as AWS shows"
    );
    assert_eq!(val("$range(5, 1, -2)"), json!([5, 3, 1]));
    assert_eq!(code("$range(1, 2, 0)"), "D3041");
    assert_eq!(code("$range(0, 1e12, 1)"), "D2014");
}

#[test]
fn hash_parse_uuid_random() {
    assert_eq!(
        val("$hash('input data', 'MD5')"),
        json!("812f45842bc6d66ee14572ce20db8e86")
    );
    assert_eq!(
        val("$hash('abc', 'SHA-256')"),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        val("$hash('abc', 'SHA-1')"),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(val("$length($hash('abc', 'SHA-384'))"), json!(96));
    assert_eq!(val("$length($hash('abc', 'SHA-512'))"), json!(128));
    assert_eq!(code("$hash('abc', 'SHA-3')"), "D3042");
    assert_eq!(
        val("$parse('{\"a\": [1, 2.5, \"x\"]}')"),
        json!({"a": [1, 2.5, "x"]})
    );
    assert_eq!(val("$parse('-0')"), json!(0));
    assert_eq!(code("$parse('{')"), "D3043");
    let u = val("$uuid()");
    let u = u.as_str().unwrap();
    assert_eq!((u.len(), &u[14..15]), (36, "4"));
    assert_eq!(val("$uuid()"), val("$uuid()"), "same seed, same uuid");
    assert_eq!(val("$random(42)"), val("$random(42)"));
    assert_ne!(val("$random(42)"), val("$random(43)"));
    let r = val("$random()").as_f64().unwrap();
    assert!((0.0..1.0).contains(&r));
    assert_eq!(
        val("$random() = $random()"),
        json!(false),
        "the stream advances"
    );
}

#[test]
fn clock_functions_read_virtual_time() {
    assert_eq!(val("$now()"), json!("2024-11-15T17:12:32.000Z"));
    assert_eq!(val("$millis()"), json!(NOW));
    assert_eq!(
        val("$now('[Y0001]-[M01]-[D01]', '+0100')"),
        json!("2024-11-15")
    );
    assert_eq!(val("$toMillis($now())"), json!(NOW));
}

#[test]
fn aws_removed_and_unknown_functions_are_t1006() {
    assert_eq!(code("$eval('1 + 1')"), "T1006");
    let e = run("$randomSeeded(1)").unwrap_err();
    assert_eq!(e.to_string(), "T1006: Attempted to invoke a non-function");
}

#[test]
fn variable_resolution_order() {
    let mut vars = serde_json::Map::new();
    vars.insert("answer".into(), json!(42));
    vars.insert("sum".into(), json!("shadowed by the built-in"));
    let states = json!({"input": {"x": 1}});
    let got = |e: &str| run_with(e, &states, &vars).unwrap();
    assert_eq!(got("$answer"), Some(json!(42)));
    assert_eq!(got("$sum([1, 2])"), Some(json!(3)));
    assert_eq!(got("($answer := 1; $answer)"), Some(json!(1)));
    assert_eq!(got("$states.input.x + $answer"), Some(json!(43)));
    assert_eq!(got("$nothing"), None);
}

#[test]
fn a_parenthesised_path_keeps_its_ancestry() {
    // `%` in a predicate on `(path)` is the parent inside the block, as in jsonata-js.
    let states = json!({"input": {"orders": [
        {"id": 1, "lines": [{"sku": "a"}, {"sku": "b"}]},
        {"id": 2, "lines": [{"sku": "c"}]}
    ]}});
    let got = |e: &str| run_with(e, &states, &NoVariables).unwrap();
    assert_eq!(
        got("($states.input.orders.lines)[%.id = 2].sku"),
        Some(json!("c"))
    );
    assert_eq!(
        got("($states.input.orders.lines)[%.id = 1].sku"),
        Some(json!(["a", "b"]))
    );
    assert_eq!(got("($states.input.orders.lines)[%.id = 3].sku"), None);
}

#[test]
fn sequences_and_paths() {
    let states = json!({"input": {"items": [{"p": 1, "t": ["a", "b"]}, {"p": 2, "t": ["c"]}]}});
    let got = |e: &str| run_with(e, &states, &NoVariables).unwrap();
    assert_eq!(got("$states.input.items.p"), Some(json!([1, 2])));
    assert_eq!(got("$states.input.items[0].p"), Some(json!(1)));
    assert_eq!(got("$states.input.items.t"), Some(json!(["a", "b", "c"])));
    assert_eq!(got("$states.input.items.t[0]"), Some(json!(["a", "c"])));
    assert_eq!(got("$states.input.items[p > 1].t[]"), Some(json!(["c"])));
    assert_eq!(got("$states.input.items[p > 5]"), None);
    assert_eq!(got("$states.input.items[0].t.%.p"), Some(json!([1, 1])));
    assert_eq!(
        got("$states.input.items#$i.{'i': $i}"),
        Some(json!([{"i": 0}, {"i": 1}]))
    );
    assert_eq!(
        got("$states.input.items{'total': $sum(p)}"),
        Some(json!({"total": 3}))
    );
    assert_eq!(got("$states.input.items^(>p).p"), Some(json!([2, 1])));
}

#[test]
fn evaluation_errors_carry_codes_and_positions() {
    let e = run("1 + 'a'").unwrap_err();
    assert_eq!(e.code, "T2002");
    assert_eq!(e.position, Some(4));
    assert_eq!(code("'a' < 1"), "T2009");
    assert_eq!(code("$number('x')"), "D3030");
    assert_eq!(code("$error('boom')"), "D3137");
    assert_eq!(code("1 / 0"), "D1001");
    assert_eq!(code("-'a'"), "D1002");
    assert_eq!(code("$sum('a')"), "T0412");
}

#[test]
fn infinite_recursion_ends_with_u1001_on_a_small_stack() {
    on_small_stack(|| {
        for e in [
            "($f := function($x){$f($x)}; $f(1))",
            "($f := function($x){1 + $f($x)}; $f(1))",
            "($a := function($x){$b($x)}; $b := function($x){$a($x)}; $a(1))",
            "($f := function($x){{'a': $f($x)}}; $f(1))",
            "($f := function($x){[$f($x)]}; $f(1))",
        ] {
            assert_eq!(run(e).unwrap_err().code, "U1001", "{e}");
        }
        // Legitimate recursion within the limits still works.
        assert_eq!(
            run("($f := function($n){$n <= 1 ? 1 : $n * $f($n - 1)}; $f(15))").unwrap(),
            Some(json!(1_307_674_368_000u64))
        );
    });
}

#[test]
fn step_budget_stops_runaway_work() {
    let e = Expression::parse("$count([1..5000].([1..5000]))").unwrap();
    with_empty_env(|env| {
        env.limits = Limits {
            max_depth: 300,
            max_steps: 100_000,
        };
        assert_eq!(e.evaluate(env).unwrap_err().code, "U1001");
        env.limits.max_steps = 100_000_000;
        let small = Expression::parse("$count([1..100].([1..100]))").unwrap();
        assert_eq!(small.evaluate(env).unwrap(), Some(json!(10000)));
    });
}

#[test]
fn values_cannot_nest_without_bound() {
    on_small_stack(|| {
        assert_eq!(
            code("$count($reduce([1..5000], function($a, $b){[[$a]]}, []))"),
            "U1001"
        );
        assert_eq!(
            code("$reduce([1..5000], function($a, $b){{'a': $a}}, {})"),
            "U1001"
        );
    });
}

#[test]
fn deep_expressions_and_inputs_on_a_small_stack() {
    on_small_stack(|| {
        let n = 10_000;
        for text in [
            format!("{}1{}", "(".repeat(n), ")".repeat(n)),
            format!("{}1{}", "[".repeat(n), "]".repeat(n)),
            "[".repeat(n),
            format!("{}1", "-".repeat(n)),
            vec!["1"; n].join("+"),
            vec!["$x"; n].join(" and "),
            format!("{}1{}", "{'a':".repeat(n), "}".repeat(n)),
            format!("{}$f(1){}", "$f(".repeat(n), ")".repeat(n)),
            format!("$x{}", ".a".repeat(n)),
            format!("$x{}", "[0]".repeat(n)),
        ] {
            match Expression::parse(&text) {
                Err(e) => assert!(e.code == "U1001" || e.code.starts_with('S'), "{}", e.code),
                Ok(e) => {
                    let _ = with_empty_env(|env| e.evaluate(env));
                }
            }
        }
        // The deepest JSON serde_json parses (128 levels), through the recursive functions.
        let deep: Value =
            serde_json::from_str(&format!("{}1{}", "[".repeat(127), "]".repeat(127))).unwrap();
        let states = json!({ "input": deep });
        for e in [
            "$string($states.input)",
            "$states.input.**",
            "$states.input = $states.input",
            "$count($states.input.*)",
        ] {
            assert!(run_with(e, &states, &NoVariables).is_ok(), "{e}");
        }
    });
}

#[test]
fn functions_in_results_are_unsupported() {
    with_empty_env(|env| {
        for e in [
            "$fn := function($x){$x}",
            "$sum",
            "{'f': $uppercase}",
            "[1, $string]",
        ] {
            let ex = Expression::parse(e).unwrap();
            assert_eq!(ex.evaluate_value(env).unwrap(), Outcome::Unsupported, "{e}");
        }
    });
}

#[test]
fn expressions_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<JsonataTemplate>();
}

#[test]
fn recognises_expression_strings() {
    assert_eq!(as_expression("{% $states.input %}"), Some("$states.input"));
    assert_eq!(as_expression("{%1%}"), Some("1"));
    assert_eq!(as_expression(" {% states.input %} "), None);
    assert_eq!(as_expression("{% x"), None);
    assert_eq!(as_expression("$states.input"), None);
    assert_eq!(as_expression("{%}"), None);
}

fn template_eval(t: Value, states: Value) -> Result<Value, QueryEvaluationError> {
    let tpl = JsonataTemplate::compile(&t).expect("compiles");
    with_env(&states, &NoVariables, 0, 1, |env| {
        tpl.evaluate(env, "Output")
    })
}

#[test]
fn templates_mix_literals_and_expressions() {
    let states = json!({"input": {"fn": "f", "items": [{"price": 2}, {"price": 3.5}]}});
    let t = json!({
        "FunctionName": "{% $states.input.fn %}",
        "Payload": {"total": "{% $sum($states.input.items.price) %}", "lit": [1, " {% no %} ", "$x"], "n": null},
        "list": ["{% 1 + 1 %}", {"k": "{% true %}"}]
    });
    assert_eq!(
        template_eval(t, states).unwrap(),
        json!({"FunctionName": "f", "Payload": {"total": 5.5, "lit": [1, " {% no %} ", "$x"], "n": null}, "list": [2, {"k": true}]})
    );
    let tpl = JsonataTemplate::compile(&json!({"a": [1, {"b": "x"}]})).unwrap();
    assert!(tpl.is_literal());
    assert!(tpl.expressions().is_empty());
}

#[test]
fn template_causes_use_aws_wording() {
    let st = json!({"input": {}});
    let e = template_eval(json!({"result": "{% $doesNotExist %}"}), st.clone()).unwrap_err();
    assert_eq!(e.error, "States.QueryEvaluationError");
    assert_eq!(
        e.cause,
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    );
    let e = template_eval(json!("{% $doesNotExist %}"), st.clone()).unwrap_err();
    assert_eq!(
        e.cause,
        "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
    );
    let e = template_eval(
        json!({"FunctionResult": "{% $randomSeeded($states.input.x) %}"}),
        st.clone(),
    )
    .unwrap_err();
    assert_eq!(
        e.cause,
        "The JSONata expression '$randomSeeded($states.input.x)' specified for the field 'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    );
    let e = template_eval(json!("{% $fn := function($x){$x} %}"), st.clone()).unwrap_err();
    assert_eq!(
        e.cause,
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Output' returned an unsupported result type."
    );
    let e = template_eval(json!({"a": [0, {"b": "{% $nope %}"}]}), st).unwrap_err();
    assert!(
        e.cause.contains("for the field 'Output/a/1/b'"),
        "{}",
        e.cause
    );
}

#[test]
fn template_compile_errors_point_at_every_bad_string() {
    let errs =
        JsonataTemplate::compile(&json!({"a": "{% 1 + %}", "b/c": ["{% ( %}"], "ok": "{% 1 %}"}))
            .unwrap_err();
    let pointers: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pointers, vec!["/a", "/b~1c/0"]);
    assert_eq!(errs[0].1.code, "S0207");
}
