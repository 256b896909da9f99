//! Evaluation of the 18 intrinsic functions, with AWS's argument rules and limits.
//!
//! Failures are `States.Runtime` (what AWS reports; the documented `States.IntrinsicFailure`
//! does not show up in recorded executions) with the cause
//! `There was an error while evaluating the intrinsic function: <call>. <detail>`, where the
//! detail for a bad argument is `Invalid arguments in States.X`, the phrase AWS uses.
//!
//! Number rules observed on AWS: `MathAdd` rounds each operand half-up (Java `Math.round`;
//! the corpus has `1.49 + 1.5 = 3` and `-1.5 -> -1`) and works in 32-bit integers;
//! `ArrayRange`, `MathRandom`, `ArrayPartition` and `ArrayGetItem` truncate toward zero.

use base64::Engine as _;
use md5::Md5;
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::query::env::{compact_json, Env, QueryError};
use crate::query::intrinsics::parser::{
    runtime_template, Arg, Call, FmtPiece, FmtTemplate, Func, Intrinsic,
};
use crate::query::javafmt::{java_number, java_to_string};
use crate::rng::SimRng;

/// Longest string `Base64Encode`, `Base64Decode` and `Hash` accept (AWS: 10,000 characters).
pub const MAX_STRING_ARG: usize = 10_000;
/// Most elements `ArrayRange` may produce.
pub const MAX_RANGE_LEN: i64 = 1000;

impl Intrinsic {
    /// Evaluates the expression.
    pub fn eval(&self, env: &mut Env<'_>) -> Result<Value, QueryError> {
        self.eval_call(&self.call, env)
    }

    fn fail(&self, call: &Call, detail: impl std::fmt::Display) -> QueryError {
        QueryError::runtime(format!(
            "There was an error while evaluating the intrinsic function: {}. {detail}",
            self.call_text(call)
        ))
    }

    fn invalid(&self, call: &Call) -> QueryError {
        self.fail(call, format!("Invalid arguments in {}", call.func.name()))
    }

    fn eval_arg(&self, call: &Call, arg: &Arg, env: &mut Env<'_>) -> Result<Value, QueryError> {
        Ok(match arg {
            Arg::Str { value, .. } => Value::String(value.clone()),
            Arg::Number(n) => Value::Number(n.clone()),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Null => Value::Null,
            Arg::Path(p) => match p.eval_env(env) {
                Some(v) => v.into_owned(),
                None => {
                    return Err(self.fail(
                        call,
                        format!(
                            "The JsonPath argument for the field '{}' could not be found in the input '{}'",
                            p.text(),
                            compact_json(env.input)
                        ),
                    ))
                }
            },
            Arg::Call(inner) => self.eval_call(inner, env)?,
        })
    }

    fn eval_call(&self, call: &Call, env: &mut Env<'_>) -> Result<Value, QueryError> {
        let mut args = Vec::with_capacity(call.args.len());
        for a in &call.args {
            args.push(self.eval_arg(call, a, env)?);
        }
        // Every failure but `States.Format`'s is the same "Invalid arguments" error, so the
        // families below answer `None` for it.
        let value = match call.func {
            Func::Format => return self.format(call, &args),
            Func::StringToJson | Func::JsonToString | Func::JsonMerge => json(call.func, &args),
            Func::Array
            | Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayRange
            | Func::ArrayGetItem
            | Func::ArrayLength
            | Func::ArrayUnique => array(call.func, args),
            Func::Base64Encode | Func::Base64Decode | Func::Hash => encoding(call.func, &args),
            Func::MathRandom => math_random(&args, env),
            Func::MathAdd => {
                let a = args.first().and_then(rounded).and_then(int32);
                let b = args.get(1).and_then(rounded).and_then(int32);
                a.zip(b)
                    .and_then(|(a, b)| a.checked_add(b))
                    .map(Value::from)
            }
            Func::StringSplit => string_split(&args),
            Func::Uuid => Some(Value::String(env.rng.uuid_v4())),
        };
        value.ok_or_else(|| self.invalid(call))
    }

    fn format(&self, call: &Call, args: &[Value]) -> Result<Value, QueryError> {
        let template: FmtTemplate = match (call.args.first(), args.first()) {
            (Some(Arg::Str { template, .. }), _) => template.0.clone(),
            (_, Some(Value::String(s))) => runtime_template(s),
            _ => return Err(self.invalid(call)),
        };
        let pieces = template
            .map_err(|m| self.fail(call, format!("Invalid template in States.Format: {m}")))?;
        let holes = pieces.iter().filter(|p| **p == FmtPiece::Hole).count();
        let values = args.get(1..).unwrap_or(&[]);
        if holes != values.len() {
            return Err(self.fail(
                call,
                "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}.",
            ));
        }
        let mut out = String::new();
        let mut next = values.iter();
        for piece in &pieces {
            match piece {
                FmtPiece::Text(t) => out.push_str(t),
                FmtPiece::Hole => {
                    if let Some(v) = next.next() {
                        out.push_str(&format_value(v));
                    }
                }
            }
        }
        Ok(Value::String(out))
    }
}

/// `States.StringToJson`, `States.JsonToString` and `States.JsonMerge`.
fn json(func: Func, args: &[Value]) -> Option<Value> {
    match func {
        Func::StringToJson => {
            let s = args.first()?.as_str()?;
            if s.trim().is_empty() {
                return Some(Value::Null);
            }
            let mut parsed: Value = serde_json::from_str(s).ok()?;
            normalize_negative_zero(&mut parsed);
            Some(parsed)
        }
        Func::JsonToString => Some(Value::String(compact_json(
            args.first().unwrap_or(&Value::Null),
        ))),
        _ => {
            let a = args.first()?.as_object()?;
            let b = args.get(1)?.as_object()?;
            // Only the shallow mode exists: AWS requires `false` here.
            if args.get(2) != Some(&Value::Bool(false)) {
                return None;
            }
            let mut merged: Map<String, Value> = a.clone();
            for (k, v) in b {
                merged.insert(k.clone(), v.clone());
            }
            Some(Value::Object(merged))
        }
    }
}

/// `States.Array` and the `States.Array*` functions.
fn array(func: Func, args: Vec<Value>) -> Option<Value> {
    if func == Func::Array {
        return Some(Value::Array(args));
    }
    if func == Func::ArrayRange {
        let start = args.first().and_then(truncated)?;
        let end = args.get(1).and_then(truncated)?;
        let step = args.get(2).and_then(truncated)?;
        return array_range(start, end, step);
    }
    let items = args.first()?.as_array()?;
    match func {
        Func::ArrayPartition => {
            let size = args.get(1).and_then(truncated)?;
            let size = usize::try_from(size).ok().filter(|s| *s > 0)?;
            Some(Value::Array(
                items
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        Func::ArrayContains => Some(Value::Bool(items.contains(args.get(1)?))),
        Func::ArrayGetItem => {
            let idx = args.get(1).and_then(truncated)?;
            // Observed on AWS: any index into an empty array gives null.
            if items.is_empty() {
                return Some(Value::Null);
            }
            usize::try_from(idx)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
        }
        Func::ArrayLength => Some(Value::from(items.len())),
        _ => {
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Some(Value::Array(out))
        }
    }
}

/// `States.Base64Encode`, `States.Base64Decode` and `States.Hash`.
fn encoding(func: Func, args: &[Value]) -> Option<Value> {
    let s = bounded_str(args.first())?;
    let text = match func {
        Func::Base64Encode => base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
        Func::Base64Decode => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .ok()?;
            String::from_utf8(bytes).ok()?
        }
        _ => match args.get(1)?.as_str()? {
            "MD5" => hex(&Md5::digest(s.as_bytes())),
            "SHA-1" => hex(&Sha1::digest(s.as_bytes())),
            "SHA-256" => hex(&Sha256::digest(s.as_bytes())),
            "SHA-384" => hex(&Sha384::digest(s.as_bytes())),
            "SHA-512" => hex(&Sha512::digest(s.as_bytes())),
            _ => return None,
        },
    };
    Some(Value::String(text))
}

fn math_random(args: &[Value], env: &mut Env<'_>) -> Option<Value> {
    let start = args.first().and_then(truncated).and_then(int32)?;
    let end = args.get(1).and_then(truncated).and_then(int32)?;
    if start >= end {
        return None;
    }
    let hi = i64::from(end) - 1;
    let n = match args.get(2) {
        None => env.rng.range_i64(i64::from(start), hi),
        Some(seed) => {
            let seed = truncated(seed)?;
            // A fixed seed gives a fixed number, independent of the execution's random
            // stream, as on AWS.
            SimRng::derived(seed as u64, "States.MathRandom").range_i64(i64::from(start), hi)
        }
    };
    Some(Value::from(n))
}

fn string_split(args: &[Value]) -> Option<Value> {
    let s = args.first()?.as_str()?;
    let delims = args.get(1)?.as_str()?;
    // AWS splits on any of the delimiter's characters and drops empty pieces (corpus:
    // ",,,," -> [], "This.is+a,test=string" with ".+,=" -> 5 words).
    let parts: Vec<Value> = if delims.is_empty() {
        if s.is_empty() {
            Vec::new()
        } else {
            vec![Value::String(s.to_string())]
        }
    } else {
        s.split(|c| delims.contains(c))
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Some(Value::Array(parts))
}

/// How `States.Format` prints an argument: strings as they are, everything else as the JVM's
/// `toString()` (objects print as `{k=v}`, as the corpus shows for `$$.StateMachine`).
fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => java_number(n),
        other => java_to_string(other),
    }
}

/// serde_json reads `-0` as the float `-0.0`; Jackson reads it as the integer `0`, which is
/// what the corpus shows (`test_string_to_json__3`). Parsed values are at most 128 deep, so
/// the recursion is bounded.
fn normalize_negative_zero(v: &mut Value) {
    match v {
        Value::Number(n)
            if n.is_f64() && n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) =>
        {
            *v = Value::from(0);
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_negative_zero),
        Value::Object(map) => map.values_mut().for_each(normalize_negative_zero),
        _ => {}
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn bounded_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .filter(|s| s.chars().count() <= MAX_STRING_ARG)
}

/// A number argument truncated toward zero (Java `intValue()` on a double).
fn truncated(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    number_to_i64(n, f64::trunc)
}

/// A number argument rounded half-up (Java `Math.round`).
fn rounded(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    number_to_i64(n, |f| (f + 0.5).floor())
}

fn number_to_i64(n: &Number, f: fn(f64) -> f64) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_u64() {
        return None; // beyond i64: out of every range we accept
    }
    let x = f(n.as_f64()?);
    // The bounds keep the cast exact; anything outside is rejected by the callers anyway.
    if x.is_finite() && x.abs() < 9.0e15 {
        Some(x as i64)
    } else {
        None
    }
}

fn int32(i: i64) -> Option<i32> {
    i32::try_from(i).ok()
}

fn array_range(start: i64, end: i64, step: i64) -> Option<Value> {
    let (start, end, step) = (int32(start)?, int32(end)?, int32(step)?);
    let (start, end, step) = (i64::from(start), i64::from(end), i64::from(step));
    if step == 0 {
        return None;
    }
    let count = if (step > 0 && start <= end) || (step < 0 && start >= end) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_LEN {
        return None;
    }
    Some(Value::Array(
        (0..count).map(|k| Value::from(start + k * step)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::env::NoVariables;
    use crate::query::intrinsics::parse_intrinsic;
    use serde_json::json;

    fn run_with(text: &str, input: Value, seed: u64) -> Result<Value, QueryError> {
        let ctx = json!({"StateMachine": {"Id": "arn:sm", "Name": "my-machine-name"}, "Execution": {"Name": "exec"}});
        let mut rng = SimRng::new(seed);
        let mut env = Env::new(&input, &ctx, &NoVariables, &mut rng);
        parse_intrinsic(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .eval(&mut env)
    }

    fn run(text: &str, input: Value) -> Result<Value, QueryError> {
        run_with(text, input, 1)
    }

    fn ok(text: &str, input: Value) -> Value {
        run(text, input).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str, input: Value) -> QueryError {
        match run(text, input) {
            Ok(v) => panic!("{text}: expected an error, got {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn format() {
        assert_eq!(
            ok(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            ),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            ok(
                "States.Format($.t, $.name)",
                json!({"t": "Hi {}", "name": "A"})
            ),
            json!("Hi A")
        );
        assert_eq!(
            ok(
                "States.Format('{} {} {} {} {}', 1, 1.1, null, true, 3.0)",
                json!({})
            ),
            json!("1 1.1 null true 3.0")
        );
        assert_eq!(
            ok(
                "States.Format('fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
                json!({})
            ),
            json!("fst=exec and snd={Id=arn:sm, Name=my-machine-name}.")
        );
        assert_eq!(
            ok(r"States.Format('\{\} {}', 'x')", json!({})),
            json!("{} x")
        );
        assert_eq!(ok("States.Format('none')", json!({})), json!("none"));
        let e = err("States.Format('{} {}', 1)", json!({}));
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.starts_with("There was an error while evaluating the intrinsic function: States.Format('{} {}', 1). Invalid arguments in States.Format"), "{}", e.cause);
        assert!(err("States.Format('Hello {', 1)", json!({}))
            .cause
            .contains("matching '}' not found for '{'"));
        assert!(err("States.Format($.t, 1)", json!({"t": 5}))
            .cause
            .contains("Invalid arguments in States.Format"));
    }

    #[test]
    fn json_conversions() {
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": "{\"a\": [1]}"})),
            json!({"a": [1]})
        );
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": " "})),
            json!(null)
        );
        assert_eq!(ok("States.StringToJson($.s)", json!({"s": "-0"})), json!(0));
        assert!(err("States.StringToJson($.s)", json!({"s": "{"}))
            .cause
            .contains("Invalid arguments in States.StringToJson"));
        assert!(run("States.StringToJson($.s)", json!({"s": 1})).is_err());
        assert_eq!(
            ok(
                "States.JsonToString($.o)",
                json!({"o": {"Arg1": 1, "Arg2": []}})
            ),
            json!("{\"Arg1\":1,\"Arg2\":[]}")
        );
        assert_eq!(
            ok("States.JsonToString($.o)", json!({"o": "x"})),
            json!("\"x\"")
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(ok("States.Array()", json!({})), json!([]));
        assert_eq!(
            ok("States.Array($.a, 'b', 3)", json!({"a": null})),
            json!([null, "b", 3])
        );
        assert_eq!(
            ok(
                "States.ArrayPartition($.a, 4)",
                json!({"a": [1,2,3,4,5,6,7,8,9]})
            ),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            ok("States.ArrayPartition($.a, 2)", json!({"a": []})),
            json!([])
        );
        assert!(run("States.ArrayPartition($.a, 0)", json!({"a": [1]})).is_err());
        assert!(run("States.ArrayPartition($.a, 0.49)", json!({"a": [1]})).is_err());
        assert!(run("States.ArrayPartition('x', 1)", json!({})).is_err());
        assert_eq!(
            ok(
                "States.ArrayContains($.a, $.b)",
                json!({"a": [[1,2,3], 2], "b": [1,2,3]})
            ),
            json!(true)
        );
        assert_eq!(
            ok(
                "States.ArrayContains($.a, $.b)",
                json!({"a": [], "b": null})
            ),
            json!(false)
        );
        assert!(run("States.ArrayContains($.a, 1)", json!({"a": {}})).is_err());
        assert_eq!(
            ok("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(0, 10, 3)", json!({})),
            json!([0, 3, 6, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(5, 1, -2)", json!({})),
            json!([5, 3, 1])
        );
        assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
        assert_eq!(
            ok("States.ArrayRange(1.4, 5.6, 2.2)", json!({})),
            json!([1, 3, 5])
        );
        assert_eq!(
            ok("States.ArrayRange(1, 1000, 1)", json!({}))
                .as_array()
                .map(Vec::len),
            Some(1000)
        );
        assert!(run("States.ArrayRange(1, 1001, 1)", json!({})).is_err());
        assert!(run("States.ArrayRange(1001, 1, -1)", json!({})).is_err());
        assert!(run("States.ArrayRange(1, 10, 0)", json!({})).is_err());
        assert!(run("States.ArrayRange(1, 10, 0.49)", json!({})).is_err());
        assert!(run("States.ArrayRange('a', 5, 1)", json!({})).is_err());
        assert!(run("States.ArrayRange(-2147483648, 2147483647, 1)", json!({})).is_err());
        assert_eq!(
            ok(
                "States.ArrayGetItem($.a, 5)",
                json!({"a": [1,2,3,4,5,6,7,8,9]})
            ),
            json!(6)
        );
        assert_eq!(
            ok("States.ArrayGetItem($.a, 1.2)", json!({"a": [10,20,30]})),
            json!(20)
        );
        assert_eq!(
            ok("States.ArrayGetItem($.a, 999)", json!({"a": []})),
            json!(null)
        );
        assert!(run("States.ArrayGetItem($.a, 3)", json!({"a": [10,20,30]})).is_err());
        assert!(run("States.ArrayGetItem($.a, -1)", json!({"a": [10,20,30]})).is_err());
        assert!(run("States.ArrayGetItem($.a, '1')", json!({"a": [10]})).is_err());
        assert_eq!(
            ok("States.ArrayLength($.a)", json!({"a": [1,2,3]})),
            json!(3)
        );
        assert!(run("States.ArrayLength($.a)", json!({"a": "abc"})).is_err());
        assert_eq!(
            ok(
                "States.ArrayUnique($.a)",
                json!({"a": [1,2,3,3,3,3,3,3,4,{"k":1},{"k":1}]})
            ),
            json!([1,2,3,4,{"k":1}])
        );
    }

    #[test]
    fn encoding_and_hashing() {
        assert_eq!(
            ok("States.Base64Encode($.s)", json!({"s": "Data to encode"})),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(ok("States.Base64Encode($.s)", json!({"s": ""})), json!(""));
        assert_eq!(
            ok(
                "States.Base64Decode($.s)",
                json!({"s": "RGF0YSB0byBlbmNvZGU="})
            ),
            json!("Data to encode")
        );
        assert!(run("States.Base64Decode($.s)", json!({"s": "!!"})).is_err());
        let long = "a".repeat(10_001);
        assert!(run("States.Base64Encode($.s)", json!({"s": long})).is_err());
        let h = |algo: &str| {
            ok(
                &format!("States.Hash($.s, '{algo}')"),
                json!({"s": "input data"}),
            )
        };
        assert_eq!(h("MD5"), json!("812f45842bc6d66ee14572ce20db8e86"));
        assert_eq!(
            h("SHA-1"),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            h("SHA-256"),
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
        );
        assert_eq!(h("SHA-384"), json!("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"));
        assert_eq!(h("SHA-512").as_str().map(str::len), Some(128));
        assert!(run("States.Hash($.s, 'SHA-3')", json!({"s": "x"})).is_err());
        assert!(run("States.Hash($.s, 'MD5')", json!({"s": 5})).is_err());
    }

    #[test]
    fn json_merge() {
        assert_eq!(
            ok(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"a": {"a1": 1}, "b": 2, "d": 3}, "b": {"a": {"a3": 1}, "c": 3, "d": 4}})
            ),
            json!({"a": {"a3": 1}, "b": 2, "d": 4, "c": 3})
        );
        assert!(run(
            "States.JsonMerge($.a, $.b, true)",
            json!({"a": {}, "b": {}})
        )
        .is_err());
        assert!(run(
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": [], "b": {}})
        )
        .is_err());
    }

    #[test]
    fn math_add_rounds_half_up_in_int32() {
        let add = |a: Value, b: Value| run("States.MathAdd($.a, $.b)", json!({"a": a, "b": b}));
        for (a, b, want) in [
            (json!(-9), json!(3), -6),
            (json!(1.49), json!(1.5), 3),
            (json!(-1.51), json!(0), -2),
            (json!(0.5), json!(0), 1),
            (json!(-0.5), json!(0.5), 1),
            (json!(-0.5), json!(0), 0),
            (json!(-1.5), json!(0), -1),
            (json!(-2.5), json!(0), -2),
            (json!(1.5), json!(1.51), 4),
            (json!(-1.49), json!(-1.5), -2),
            (json!(2147483646), json!(1), 2147483647),
        ] {
            assert_eq!(add(a.clone(), b.clone()).unwrap(), json!(want), "{a} + {b}");
        }
        assert!(add(json!(2147483647), json!(1)).is_err());
        assert!(add(json!(3000000000u64), json!(1)).is_err());
        assert!(add(json!("1"), json!(1)).is_err());
        assert!(add(json!(true), json!(1)).is_err());
        assert!(add(json!(null), json!(1)).is_err());
    }

    #[test]
    fn math_random() {
        for seed in 0..50 {
            let v = run_with("States.MathRandom(1, 4)", json!({}), seed).unwrap();
            let n = v.as_i64().unwrap();
            assert!((1..4).contains(&n), "{n}");
        }
        let a = run_with("States.MathRandom(0, 999, 3)", json!({}), 1).unwrap();
        let b = run_with("States.MathRandom(0, 999, 3)", json!({}), 2).unwrap();
        assert_eq!(a, b, "a seed fixes the result");
        let n = run("States.MathRandom(1.6, 5.4)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..5).contains(&n));
        assert!(run("States.MathRandom(1, 1)", json!({})).is_err());
        assert!(run("States.MathRandom(10, 5)", json!({})).is_err());
        assert!(run("States.MathRandom(1.4, 1.6)", json!({})).is_err());
        assert!(run("States.MathRandom('a', 10)", json!({})).is_err());
        assert!(run("States.MathRandom(1, 10, 'seed')", json!({})).is_err());
        assert!(run("States.MathRandom(1, 10, null)", json!({})).is_err());
        assert!(run("States.MathRandom(1, 10, -10)", json!({})).is_ok());
    }

    #[test]
    fn string_split() {
        let split = |s: &str, d: &str| ok("States.StringSplit($.s, $.d)", json!({"s": s, "d": d}));
        assert_eq!(split(" ", ","), json!([" "]));
        assert_eq!(split(" , ", ","), json!([" ", " "]));
        assert_eq!(split(", , ,", ","), json!([" ", " "]));
        assert_eq!(split(",,,,", ","), json!([]));
        assert_eq!(split("1,2,3,4,5", ","), json!(["1", "2", "3", "4", "5"]));
        assert_eq!(
            split("This.is+a,test=string", ".+,="),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            split("split on T and \nnew line", "T\n"),
            json!(["split on ", " and ", "new line"])
        );
        assert_eq!(
            ok("States.StringSplit('Hello\nWorld', '\n')", json!({})),
            json!(["Hello", "World"])
        );
        assert!(run("States.StringSplit($.s, ',')", json!({"s": 1})).is_err());
    }

    #[test]
    fn uuid_comes_from_the_rng() {
        let a = run_with("States.UUID()", json!({}), 7).unwrap();
        let b = run_with("States.UUID()", json!({}), 7).unwrap();
        let c = run_with("States.UUID()", json!({}), 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_str().map(str::len), Some(36));
    }

    #[test]
    fn nested_calls() {
        let text = "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))";
        assert_eq!(ok(text, json!({})), json!("name"));
    }

    #[test]
    fn missing_path_argument() {
        let e = err("States.Array($.nope)", json!({"a": 1}));
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "There was an error while evaluating the intrinsic function: States.Array($.nope). The JsonPath argument for the field '$.nope' could not be found in the input '{\"a\":1}'"
        );
    }
}
