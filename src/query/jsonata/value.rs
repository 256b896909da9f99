//! Runtime values of the evaluator. JSON from `$states` and workflow variables is borrowed
//! (`Val::Json`), never copied, until an expression builds something new; new arrays and objects
//! are reference-counted so that passing them around is cheap. Also: JSONata's number-to-text
//! rules (JavaScript's), deep equality, and conversion back to `serde_json::Value`.
//!
//! Every owned container records its nesting depth, and constructing one deeper than
//! [`MAX_VALUE_DEPTH`] is an error: expressions such as `$reduce([1..99999], function($a){[[$a]]})`
//! would otherwise build values whose recursive drop or serialisation overflows the stack.

use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::Value;

use super::parser::Expr;
use super::JsonataError;

/// Deepest array/object nesting an expression may build.
pub(crate) const MAX_VALUE_DEPTH: u32 = 1000;

/// Bytes one evaluation may build in total (strings, array and object slots, and the JSON it
/// returns): 2,048 times Step Functions' 256 KiB payload limit (room for jsonata-js's largest
/// range, `[1..10000000]`, and a copy of it). Without it, doubling a string
/// or an array through `&`, `$join`, `$append` or recursion exhausts the host's memory long
/// before the step budget ends the evaluation. Exceeding it is error `U1001`.
pub(crate) const MAX_BUILD_BYTES: u64 = 512 << 20;

thread_local! {
    /// What the evaluation running on this thread may still build (evaluations never nest).
    static BUILD_LEFT: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_BUILD_BYTES) };
}

/// Resets the build budget for a new evaluation on this thread.
pub(crate) fn reset_build_budget() {
    BUILD_LEFT.with(|b| b.set(MAX_BUILD_BYTES));
}

/// Records `bytes` built; a later [`build_budget_check`] (every evaluation step) reports it.
#[inline]
pub(crate) fn spend(bytes: usize) {
    BUILD_LEFT.with(|b| b.set(b.get().saturating_sub(bytes as u64)));
}

/// Reserves `bytes` before building something that large: errors when the budget cannot pay.
pub(crate) fn charge(bytes: usize) -> Result<(), JsonataError> {
    BUILD_LEFT.with(|b| {
        let left = b.get();
        if (bytes as u64) >= left {
            b.set(0);
            return Err(out_of_memory());
        }
        b.set(left - bytes as u64);
        Ok(())
    })
}

/// Errors once the budget is spent.
#[inline]
pub(crate) fn build_budget_check() -> Result<(), JsonataError> {
    if BUILD_LEFT.with(|b| b.get()) == 0 {
        return Err(out_of_memory());
    }
    Ok(())
}

fn out_of_memory() -> JsonataError {
    err(
        "U1001",
        format!(
            "Expression evaluation exceeded the memory budget of {} MiB: the result or an intermediate value is too large",
            MAX_BUILD_BYTES >> 20
        ),
    )
}

/// Roughly how many bytes a JSON value occupies (for the build budget).
fn json_size(v: &Value) -> usize {
    match v {
        Value::String(s) => 24 + s.len(),
        Value::Array(a) => 24 + a.iter().map(json_size).sum::<usize>(),
        Value::Object(o) => 48 + o.iter().map(|(k, v)| k.len() + json_size(v)).sum::<usize>(),
        _ => 16,
    }
}

pub(crate) const SEQ: u8 = 1;
pub(crate) const KEEP: u8 = 2;
pub(crate) const CONS: u8 = 4;
/// The one-item sequence jsonata-js wraps an array input document in, so that the document
/// is one context item (`$` and `*` look through it).
pub(crate) const OUTER: u8 = 8;

#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Rc<str>),
    /// Borrowed JSON: always a string, array or object.
    Json(&'a Value),
    Arr(Rc<Arr<'a>>),
    Obj(Rc<Obj<'a>>),
    Func(Rc<Func<'a>>),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Arr<'a> {
    pub items: Vec<Val<'a>>,
    pub flags: u8,
    pub depth: u32,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Obj<'a> {
    pub map: IndexMap<String, Val<'a>>,
    pub depth: u32,
}

/// Index of an environment frame in the evaluator's frame arena (closures capture frames by
/// index, so recursive closures create no reference cycles).
pub(crate) type FrameId = usize;

/// A built-in function: its index in the table of `functions.rs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BuiltinId(pub(crate) usize);

#[derive(Debug)]
pub(crate) enum Func<'a> {
    Lambda {
        params: &'a [String],
        body: &'a Expr,
        frame: FrameId,
        /// The context where the lambda was defined; its body evaluates against it.
        input: Option<Val<'a>>,
        /// `function($x)<n:n>{...}`: checked on every call.
        signature: Option<&'a super::signature::Signature>,
    },
    Builtin(BuiltinId),
    /// Partial application: `None` marks a `?` placeholder.
    Partial {
        func: Val<'a>,
        args: Vec<Option<Option<Val<'a>>>>,
    },
    Regex(&'a super::jsregex::JsRegex),
    /// `$f ~> $g` with two functions: `$g($f(x))`.
    Compose(Val<'a>, Val<'a>),
    Transform {
        expr: &'a Expr,
        frame: FrameId,
    },
}

/// A JSONata error with its code (`T0410`, `D3001`, ...) and message.
/// What evaluating a JSONata function yields: a value, nothing (undefined), or an error.
pub(crate) type R<'a> = Result<Option<Val<'a>>, JsonataError>;

/// What a built-in function may ask of the evaluator calling it: a step against the evaluation
/// budget, a call of a function value (for `$map`, `$sort` and the like), the evaluation's
/// `$now()`, and its random stream. The evaluator (`eval.rs`) implements it; the built-ins
/// (`functions.rs`) see only this, so neither file needs the other's insides.
pub(crate) trait Host<'a> {
    fn tick(&mut self, n: u64) -> Result<(), JsonataError>;
    fn apply(&mut self, f: &Val<'a>, args: Vec<Option<Val<'a>>>, ctx: Option<&Val<'a>>) -> R<'a>;
    fn now_millis(&self) -> i64;
    fn rng(&mut self) -> &mut crate::rng::SimRng;
}

pub(crate) fn err(code: &str, message: impl Into<String>) -> JsonataError {
    JsonataError::new(code, message)
}

impl<'a> Val<'a> {
    pub(crate) fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(0.0)),
            _ => Val::Json(v),
        }
    }

    pub(crate) fn str(s: &str) -> Val<'a> {
        spend(s.len());
        Val::Str(Rc::from(s))
    }

    pub(crate) fn string(s: String) -> Val<'a> {
        spend(s.len());
        Val::Str(Rc::from(s))
    }

    pub(crate) fn func(f: Func<'a>) -> Val<'a> {
        Val::Func(Rc::new(f))
    }

    /// A new array with the given flags; errors when it would nest too deeply.
    pub(crate) fn array(items: Vec<Val<'a>>, flags: u8) -> Result<Val<'a>, JsonataError> {
        spend(items.len() * std::mem::size_of::<Val>());
        let depth = 1 + items.iter().map(Val::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return Err(too_deep());
        }
        Ok(Val::Arr(Rc::new(Arr {
            items,
            flags,
            depth,
        })))
    }

    /// A sequence (the result of a path or a function over sequences). Sequences never nest
    /// deeper than the values they hold, so no check is needed beyond the one in `array`.
    pub(crate) fn seq(items: Vec<Val<'a>>) -> Val<'a> {
        spend(items.len() * std::mem::size_of::<Val>());
        let depth = 1 + items.iter().map(Val::depth).max().unwrap_or(0);
        Val::Arr(Rc::new(Arr {
            items,
            flags: SEQ,
            depth,
        }))
    }

    pub(crate) fn object(map: IndexMap<String, Val<'a>>) -> Result<Val<'a>, JsonataError> {
        spend(map.len() * (std::mem::size_of::<Val>() + 32));
        let depth = 1 + map.values().map(Val::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return Err(too_deep());
        }
        Ok(Val::Obj(Rc::new(Obj { map, depth })))
    }

    pub(crate) fn depth(&self) -> u32 {
        match self {
            Val::Arr(a) => a.depth,
            Val::Obj(o) => o.depth,
            // Borrowed JSON came from serde_json, whose parser bounds nesting (128 levels).
            _ => 0,
        }
    }

    pub(crate) fn is_array(&self) -> bool {
        match self {
            Val::Arr(_) => true,
            Val::Json(v) => v.is_array(),
            _ => false,
        }
    }

    pub(crate) fn is_object(&self) -> bool {
        match self {
            Val::Obj(_) => true,
            Val::Json(v) => v.is_object(),
            _ => false,
        }
    }

    pub(crate) fn is_func(&self) -> bool {
        matches!(self, Val::Func(_))
    }

    pub(crate) fn flags(&self) -> u8 {
        match self {
            Val::Arr(a) => a.flags,
            _ => 0,
        }
    }

    pub(crate) fn is_seq(&self) -> bool {
        self.flags() & SEQ != 0
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// Array length (None when not an array).
    pub(crate) fn arr_len(&self) -> Option<usize> {
        match self {
            Val::Arr(a) => Some(a.items.len()),
            Val::Json(Value::Array(a)) => Some(a.len()),
            _ => None,
        }
    }

    /// The items of an array (borrowed JSON items are wrapped, which is cheap).
    pub(crate) fn arr_items(&self) -> Vec<Val<'a>> {
        match self {
            Val::Arr(a) => a.items.clone(),
            Val::Json(Value::Array(a)) => a.iter().map(Val::from_json).collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn arr_get(&self, i: usize) -> Option<Val<'a>> {
        match self {
            Val::Arr(a) => a.items.get(i).cloned(),
            Val::Json(Value::Array(a)) => a.get(i).map(Val::from_json),
            _ => None,
        }
    }

    /// An object's own field.
    pub(crate) fn field(&self, key: &str) -> Option<Val<'a>> {
        match self {
            Val::Obj(o) => o.map.get(key).cloned(),
            Val::Json(Value::Object(m)) => m.get(key).map(Val::from_json),
            _ => None,
        }
    }

    pub(crate) fn obj_entries(&self) -> Vec<(String, Val<'a>)> {
        match self {
            Val::Obj(o) => o.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Val::Json(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), Val::from_json(v)))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn obj_keys(&self) -> Vec<String> {
        match self {
            Val::Obj(o) => o.map.keys().cloned().collect(),
            Val::Json(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Same array with extra flags (copies the vector only when shared).
    pub(crate) fn with_flags(self, flags: u8) -> Val<'a> {
        match self {
            Val::Arr(mut a) => {
                if a.flags & flags != flags {
                    Rc::make_mut(&mut a).flags |= flags;
                }
                Val::Arr(a)
            }
            Val::Json(Value::Array(items)) => {
                let items: Vec<Val<'a>> = items.iter().map(Val::from_json).collect();
                let depth = 1 + items.iter().map(Val::depth).max().unwrap_or(0);
                Val::Arr(Rc::new(Arr {
                    items,
                    flags,
                    depth,
                }))
            }
            other => other,
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "boolean",
            Val::Num(_) => "number",
            Val::Str(_) => "string",
            Val::Json(Value::String(_)) => "string",
            Val::Json(Value::Array(_)) | Val::Arr(_) => "array",
            Val::Json(_) | Val::Obj(_) => "object",
            Val::Func(_) => "function",
        }
    }

    /// Converts to JSON for output. Functions cannot be represented and are an error; so are
    /// infinite numbers (JSON has none).
    pub(crate) fn to_json(&self) -> Result<Value, JsonataError> {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: u32) -> Result<Value, JsonataError> {
        if depth > MAX_VALUE_DEPTH + 200 {
            return Err(too_deep());
        }
        Ok(match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => num_to_json(*n)?,
            Val::Str(s) => {
                charge(s.len())?;
                Value::String(s.to_string())
            }
            Val::Json(v) => {
                charge(json_size(v))?;
                (*v).clone()
            }
            Val::Arr(a) => {
                charge(a.items.len() * 16)?;
                let mut out = Vec::with_capacity(a.items.len());
                for i in &a.items {
                    if i.is_func() {
                        return Err(unsupported());
                    }
                    out.push(i.to_json_at(depth + 1)?);
                }
                Value::Array(out)
            }
            Val::Obj(o) => {
                charge(o.map.len() * 48)?;
                let mut m = serde_json::Map::with_capacity(o.map.len());
                for (k, v) in &o.map {
                    if v.is_func() {
                        return Err(unsupported());
                    }
                    m.insert(k.clone(), v.to_json_at(depth + 1)?);
                }
                Value::Object(m)
            }
            Val::Func(_) => return Err(unsupported()),
        })
    }
}

/// Converts owned JSON (from `$parse`) into owned values.
pub(crate) fn from_owned<'a>(v: Value) -> Result<Val<'a>, JsonataError> {
    Ok(match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(n) => Val::Num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Val::string(s),
        Value::Array(a) => Val::array(a.into_iter().map(from_owned).collect::<Result<_, _>>()?, 0)?,
        Value::Object(m) => Val::object(
            m.into_iter()
                .map(|(k, v)| Ok((k, from_owned(v)?)))
                .collect::<Result<_, JsonataError>>()?,
        )?,
    })
}

fn unsupported() -> JsonataError {
    err(
        "UNSUPPORTED",
        "function values cannot be represented in JSON",
    )
}

pub(crate) fn is_unsupported(e: &JsonataError) -> bool {
    e.code == "UNSUPPORTED"
}

pub(crate) fn too_deep() -> JsonataError {
    err(
        "U1001",
        format!("Stack overflow error: a value nests deeper than {MAX_VALUE_DEPTH} levels"),
    )
}

/// JSON number for an f64: whole numbers that fit exactly become integers (AWS prints 3, not 3.0).
pub(crate) fn num_to_json(n: f64) -> Result<Value, JsonataError> {
    if !n.is_finite() {
        return Err(err("D1001", format!("Number out of range: {}", js_num(n))));
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Ok(Value::Number((n as i64).into()));
    }
    Ok(serde_json::Number::from_f64(n)
        .map(Value::Number)
        .unwrap_or(Value::Null))
}

/// JavaScript's `Number.prototype.toString()` for finite numbers.
pub(crate) fn js_num(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if n == 0.0 {
        return "0".into();
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}` formatting.
    let sci = format!("{:e}", n.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let sign = if n < 0.0 { "-" } else { "" };
    // JavaScript: n = 0.d1d2...dk * 10^(exp+1); call that exponent `p`.
    let p = exp + 1;
    let body = if k <= p && p <= 21 {
        format!("{digits}{}", "0".repeat((p - k) as usize))
    } else if 0 < p && p <= 21 {
        format!("{}.{}", &digits[..p as usize], &digits[p as usize..])
    } else if -6 < p && p <= 0 {
        format!("0.{}{digits}", "0".repeat((-p) as usize))
    } else {
        let e = p - 1;
        let esign = if e < 0 { "-" } else { "+" };
        if k == 1 {
            format!("{digits}e{esign}{}", e.abs())
        } else {
            format!("{}.{}e{esign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// Number formatting used by `$string` and `&`: 15 significant digits, then JavaScript's rules.
pub(crate) fn string_num(n: f64) -> String {
    let rounded: f64 = format!("{n:.14e}").parse().unwrap_or(n);
    js_num(rounded)
}

/// Round half to even at `precision` decimal places, shifting by decimal exponent (not by
/// multiplying) so that 1.255 is seen as 125.5, as JSONata does.
pub(crate) fn round_half_even(n: f64, precision: i32) -> f64 {
    if !n.is_finite() {
        return n;
    }
    let shift = |x: f64, p: i32| -> f64 {
        let s = format!("{x:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}", e + p).parse().unwrap_or(x)
    };
    let v = if precision != 0 {
        shift(n, precision)
    } else {
        n
    };
    let mut r = v.round();
    if (r - v).abs() == 0.5 && r % 2.0 != 0.0 {
        r -= (r - v).signum();
    }
    let out = if precision != 0 {
        shift(r, -precision)
    } else {
        r
    };
    if out == 0.0 {
        0.0
    } else {
        out
    }
}

/// JSONata deep equality (`=`, `in`, `$distinct`).
pub(crate) fn deep_equal(a: &Val, b: &Val) -> bool {
    deep_equal_at(a, b, 0)
}

fn deep_equal_at(a: &Val, b: &Val, depth: u32) -> bool {
    if depth > MAX_VALUE_DEPTH + 200 {
        return false;
    }
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Func(x), Val::Func(y)) => Rc::ptr_eq(x, y),
        _ => {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                return x == y;
            }
            if a.is_array() && b.is_array() {
                let (x, y) = (a.arr_items(), b.arr_items());
                return x.len() == y.len()
                    && x.iter()
                        .zip(&y)
                        .all(|(p, q)| deep_equal_at(p, q, depth + 1));
            }
            if a.is_object() && b.is_object() {
                let x = a.obj_entries();
                if x.len() != b.obj_keys().len() {
                    return false;
                }
                return x
                    .iter()
                    .all(|(k, v)| b.field(k).is_some_and(|w| deep_equal_at(v, &w, depth + 1)));
            }
            false
        }
    }
}

/// JSONata's boolean cast (`$boolean`); `None` for undefined.
pub(crate) fn truthy(v: &Val) -> bool {
    match v {
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::Json(Value::String(s)) => !s.is_empty(),
        Val::Json(Value::Array(_)) | Val::Arr(_) => {
            let items = v.arr_items();
            match items.len() {
                0 => false,
                1 => truthy(&items[0]),
                _ => items.iter().any(truthy),
            }
        }
        Val::Json(Value::Object(m)) => !m.is_empty(),
        Val::Obj(o) => !o.map.is_empty(),
        Val::Json(_) => false,
        Val::Func(_) => false,
    }
}

/// A value as text, as `$string()` and `&` make it: strings as they are, functions as nothing,
/// anything else as JSON.
pub(crate) fn to_text(v: &Val, pretty: bool) -> Result<String, JsonataError> {
    if let Some(s) = v.as_str() {
        return Ok(s.to_string());
    }
    match v {
        Val::Func(_) => Ok(String::new()),
        Val::Num(n) if !n.is_finite() => Err(err(
            "D3001",
            "Attempting to invoke string function on Infinity or NaN",
        )),
        _ => stringify(v, pretty),
    }
}

/// A number inside JSON text: rounded to 15 digits first, so the largest doubles become
/// Infinity, which JSON.stringify writes as null (as jsonata-js does).
fn json_num_text(n: f64) -> String {
    let text = string_num(n);
    if n.is_finite() && text != "Infinity" && text != "-Infinity" {
        text
    } else {
        "null".into()
    }
}

/// `$string` / JSON.stringify with JSONata's number formatting.
pub(crate) fn stringify(v: &Val, pretty: bool) -> Result<String, JsonataError> {
    let mut out = String::new();
    write_json(v, pretty, 0, &mut out)?;
    Ok(out)
}

fn write_json(v: &Val, pretty: bool, indent: usize, out: &mut String) -> Result<(), JsonataError> {
    if indent > (MAX_VALUE_DEPTH + 200) as usize {
        return Err(too_deep());
    }
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => out.push_str(&json_num_text(*n)),
        Val::Func(_) => out.push_str("\"\""),
        Val::Json(Value::Number(n)) => out.push_str(&json_num_text(n.as_f64().unwrap_or(0.0))),
        _ => {
            if let Some(s) = v.as_str() {
                charge(s.len() + 2)?;
                out.push_str(&Value::String(s.to_string()).to_string());
            } else if v.is_array() {
                let items = v.arr_items();
                out.push('[');
                let mut first = true;
                for item in &items {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    newline(pretty, indent + 1, out);
                    write_json(item, pretty, indent + 1, out)?;
                }
                if !items.is_empty() {
                    newline(pretty, indent, out);
                }
                out.push(']');
            } else {
                let entries = v.obj_entries();
                out.push('{');
                let mut first = true;
                for (k, item) in &entries {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    newline(pretty, indent + 1, out);
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if pretty {
                        out.push(' ');
                    }
                    write_json(item, pretty, indent + 1, out)?;
                }
                if !entries.is_empty() {
                    newline(pretty, indent, out);
                }
                out.push('}');
            }
        }
    }
    Ok(())
}

fn newline(pretty: bool, indent: usize, out: &mut String) {
    if pretty {
        out.push('\n');
        for _ in 0..indent {
            out.push_str("  ");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_even_on_decimal_digits() {
        assert_eq!(round_half_even(2.5, 0), 2.0);
        assert_eq!(round_half_even(3.5, 0), 4.0);
        assert_eq!(round_half_even(-2.5, 0), -2.0);
        assert_eq!(round_half_even(1.255, 2), 1.26);
        assert_eq!(round_half_even(1234.0, -2), 1200.0);
    }

    #[test]
    fn javascript_number_text() {
        assert_eq!(js_num(1.0), "1");
        assert_eq!(js_num(-1.5), "-1.5");
        assert_eq!(js_num(1e21), "1e+21");
        assert_eq!(js_num(1e20), "100000000000000000000");
        assert_eq!(js_num(0.000001), "0.000001");
        assert_eq!(js_num(1e-7), "1e-7");
        assert_eq!(js_num(123.456), "123.456");
        assert_eq!(js_num(1.5e-10), "1.5e-10");
        assert_eq!(string_num(1.0 / 3.0), "0.333333333333333");
        assert_eq!(string_num(0.1 + 0.2), "0.3");
        assert_eq!(string_num(1e23), "1e+23");
    }

    #[test]
    fn integers_print_as_integers() {
        assert_eq!(num_to_json(3.0).unwrap().to_string(), "3");
        assert_eq!(num_to_json(-0.0).unwrap().to_string(), "0");
        assert_eq!(num_to_json(0.5).unwrap().to_string(), "0.5");
        assert_eq!(num_to_json(f64::INFINITY).unwrap_err().code, "D1001");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut v = Val::Null;
        let mut failed = false;
        for _ in 0..(MAX_VALUE_DEPTH + 5) {
            match Val::array(vec![v.clone()], 0) {
                Ok(n) => v = n,
                Err(e) => {
                    assert_eq!(e.code, "U1001");
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
    }
}
