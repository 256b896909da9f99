//! Property tests: no expression text and no input makes the JSONata engine panic or overflow
//! the stack, and evaluation is deterministic (same seed, same answer). Random text covers the
//! tokenizer and parser; expressions from a small grammar reach deep into the evaluator.

use proptest::prelude::*;
use serde_json::{json, Value};
use stepsim::query::jsonata::{Expression, JsonataEnv, Limits, NoVariables};
use stepsim::rng::SimRng;

fn eval(text: &str, states: &Value) -> Option<String> {
    let e = Expression::parse(text).ok()?;
    let mut rng = SimRng::new(9);
    let mut env = JsonataEnv {
        states,
        variables: &NoVariables,
        now_millis: 1_700_000_000_000,
        rng: &mut rng,
        limits: Limits {
            max_depth: 200,
            max_steps: 20_000,
        },
    };
    Some(format!("{:?}", e.evaluate(&mut env)))
}

fn states() -> Value {
    json!({"input": {"a": [1, {"b": 2, "c": [3, "x"]}, null], "s": "text", "n": -2.5, "o": {"k": true}}})
}

const TOKENS: &[&str] = &[
    "$",
    "$$",
    "$x",
    "$f",
    ":=",
    "function",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    "..",
    ",",
    ";",
    "?",
    ":",
    "~>",
    "%",
    "#",
    "@",
    "^(",
    "*",
    "**",
    "+",
    "-",
    "/",
    "=",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "in",
    "&",
    "'a'",
    "\"b\"",
    "1",
    "0",
    "2.5",
    "1e3",
    "a",
    "b",
    "c",
    "$states",
    "input",
    "$sum",
    "$string",
    "$map",
    "$reduce",
    "$sort",
    "$partition",
    "$range",
    "$hash",
    "$parse",
    "|",
    "/[a-z]+/i",
    "`q r`",
    "null",
    "true",
    " ",
    "/*c*/",
    "λ",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 1..24).prop_map(|t| t.concat())
}

/// Well-formed expressions from a small grammar, so that evaluation (not just parsing) is
/// exercised, including recursion through user functions.
fn grammar() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("$states.input.a".to_string()),
        Just("$states.input.s".to_string()),
        Just("$states.input.n".to_string()),
        Just("$states.input.o".to_string()),
        Just("$".to_string()),
        Just("b".to_string()),
        Just("*".to_string()),
        Just("**".to_string()),
        Just("$x".to_string()),
        (-3i32..4).prop_map(|n| n.to_string()),
        "[a-c]{0,3}".prop_map(|s| format!("'{s}'")),
        Just("[]".to_string()),
        Just("{}".to_string()),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(
                    &["+", "-", "*", "/", "%", "=", "!=", "<", ">", "&", "and", "or", "in"][..]
                ),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("$states.input.{a}.%.{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{{'k': {a}, 'l': {b}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}{{$string({b}): $}}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("($x := {a}; {b})")),
            inner
                .clone()
                .prop_map(|a| format!("$map({a}, function($v, $i){{[$v, $i]}})")),
            inner
                .clone()
                .prop_map(|a| format!("$reduce({a}, function($p, $q){{[$p, $q]}})")),
            inner
                .clone()
                .prop_map(|a| format!("$sort({a}, function($p, $q){{$string($p) > $string($q)}})")),
            inner.clone().prop_map(|a| format!("$string({a})")),
            inner.clone().prop_map(|a| format!("$count({a})")),
            inner.clone().prop_map(|a| format!("{a}^(>$)")),
            inner.clone().prop_map(|a| format!("{a}#$i[$i < 2]")),
            inner.clone().prop_map(|a| format!("{a} ~> |$|{{'z': 1}}|")),
            inner
                .clone()
                .prop_map(|a| format!("($f := function($n){{$n > 0 ? $f($n - 1) : {a}}}; $f(3))")),
            inner
                .clone()
                .prop_map(|a| format!("($f := function($n){{[$f($n), {a}]}}; $f(1))")),
            inner.prop_map(|a| format!("$partition($append({a}, [1, 2, 3]), 2)")),
        ]
    })
}

proptest! {
    // 256 cases each by default; PROPTEST_CASES raises it for a longer soak.
    #[test]
    fn random_text_never_panics(text in "\\PC{0,40}") {
        let _ = eval(&text, &states());
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        let _ = eval(&text, &states());
    }

    #[test]
    fn grammar_expressions_never_panic_and_are_deterministic(text in grammar()) {
        let st = states();
        // Some grammar outputs are legitimately rejected (a literal as a path step); the rest
        // must evaluate the same way twice.
        let first = eval(&text, &st);
        prop_assert_eq!(first, eval(&text, &st));
    }
}

/// Every built-in, called with arguments drawn from a pool of awkward values: signature
/// checking, pictures and the date code must answer with a value or an error, never a panic.
const FUNCTIONS: &[&str] = &[
    "abs",
    "append",
    "assert",
    "average",
    "base64decode",
    "base64encode",
    "boolean",
    "ceil",
    "clone",
    "contains",
    "count",
    "decodeUrl",
    "decodeUrlComponent",
    "distinct",
    "each",
    "encodeUrl",
    "encodeUrlComponent",
    "error",
    "exists",
    "filter",
    "floor",
    "formatBase",
    "formatInteger",
    "formatNumber",
    "fromMillis",
    "hash",
    "join",
    "keys",
    "length",
    "lookup",
    "lowercase",
    "map",
    "match",
    "max",
    "merge",
    "millis",
    "min",
    "not",
    "now",
    "number",
    "pad",
    "parse",
    "parseInteger",
    "partition",
    "power",
    "random",
    "range",
    "reduce",
    "replace",
    "reverse",
    "round",
    "shuffle",
    "sift",
    "single",
    "sort",
    "split",
    "spread",
    "sqrt",
    "string",
    "substring",
    "substringAfter",
    "substringBefore",
    "sum",
    "toMillis",
    "trim",
    "type",
    "uppercase",
    "uuid",
    "zip",
];

const ARGS: &[&str] = &[
    "1",
    "-1",
    "0",
    "2.5",
    "1e308",
    "-0.0001",
    "'a'",
    "''",
    "'#,##0.00'",
    "'#'",
    "',#'",
    "'#,'",
    "'0.0e0'",
    "'#e'",
    "'[Y]-[M]-[D]'",
    "'[Da] [MA] [Yi] [D1o] [Yw] [YI]'",
    "'[h]:[m][P]'",
    "'w'",
    "'I'",
    "'A'",
    "'1;o'",
    "'2018-03-23'",
    "'twenty-third'",
    "true",
    "null",
    "[]",
    "[1, 2, 3]",
    "['b', 'a']",
    "[1, 'a']",
    "{}",
    "{'k': 1}",
    "$states.input",
    "/a+/",
    "function($v){$v}",
    "function($a, $b){$a & $b}",
    "function($x)<n:n>{$x}",
    "?",
    "nothing",
];

fn function_call() -> impl Strategy<Value = String> {
    (
        prop::sample::select(FUNCTIONS),
        prop::collection::vec(prop::sample::select(ARGS), 0..4),
    )
        .prop_map(|(f, args)| format!("${f}({})", args.join(", ")))
}

proptest! {
    #[test]
    fn builtin_calls_never_panic_and_are_deterministic(text in function_call()) {
        let st = states();
        let first = eval(&text, &st);
        prop_assert_eq!(first, eval(&text, &st));
    }

    #[test]
    fn number_pictures_never_panic(pic in "[#0,.;%e‰a ]{0,8}", n in -1e6f64..1e6) {
        let _ = eval(&format!("$formatNumber({n}, '{pic}')"), &states());
        let _ = eval(&format!("$formatInteger({}, '{pic}')", n.trunc()), &states());
    }

    #[test]
    fn date_pictures_never_panic(pic in "[\\[\\]YMDdFWwXxHhPmsfZzCE01IiAaNnWwot,;\\-: ]{0,12}", ms in -1e13f64..1e13) {
        let _ = eval(&format!("$fromMillis({ms}, '{pic}')"), &states());
        let _ = eval(&format!("$toMillis($fromMillis({ms}), '{pic}')"), &states());
    }
}

/// Doubling a string or an array ends with U1001 on the build budget long before memory runs
/// out, even with step and depth budgets far above the defaults.
#[test]
fn doubling_values_ends_with_an_error_not_an_exhausted_host() {
    let st = states();
    for text in [
        "($f := function($s){$f($s & $s)}; $f('ab'))",
        "($f := function($a){$f($append($a, $a))}; $f([1]))",
        "($s := $pad('x', 100000); $join([1..100000].$s))",
        "($s := $pad('x', 100000); $string([1..100000].$s))",
        "($s := $pad('x', 100000); [1..100000].($s & 'y'))",
        "$reduce([1..40], function($acc, $x){$acc & $acc}, 'abcdefgh')",
    ] {
        let e = Expression::parse(text).unwrap();
        let mut rng = SimRng::new(1);
        let mut env = JsonataEnv {
            states: &st,
            variables: &NoVariables,
            now_millis: 0,
            rng: &mut rng,
            limits: Limits {
                max_depth: 290,
                max_steps: 100_000_000,
            },
        };
        let r = e.evaluate(&mut env);
        let err = r.expect_err(text);
        assert_eq!(err.code, "U1001", "{text}: {err}");
    }
}
