//! How AWS's JVM runtime prints JSON values in places where it does not write JSON.
//!
//! AWS evaluates JSONPath with Jayway over Jackson-decoded Java objects, and some texts are the
//! plain Java `toString()` of those objects: `States.Format` prints an object argument as
//! `{Id=arn:..., Name=...}` (a `LinkedHashMap`), and Jayway's error messages name Java classes.
//! The corpus case `test_generic.test_context_json_path` shows the map form.

use serde_json::{Number, Value};

/// The Java `toString()` of the Jackson-decoded value: strings unquoted, objects as
/// `{k=v, k2=v2}`, arrays as `[a, b]`, numbers as `Integer`/`Long`/`Double` print them.
///
/// Recursion is bounded by `depth`; anything deeper prints as `...`, so a hostile value cannot
/// overflow the stack.
pub fn java_to_string(value: &Value) -> String {
    let mut out = String::new();
    write_java(&mut out, value, 0);
    out
}

const MAX_DEPTH: usize = 256;

fn write_java(out: &mut String, value: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                write_java(out, v, depth + 1);
            }
            out.push('}');
        }
    }
}

/// A JSON number as Java prints the boxed number Jackson decodes it to: integers as they are,
/// floating-point values through `Double.toString`.
pub fn java_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    java_double(n.as_f64().unwrap_or(0.0))
}

/// Java's `Double.toString`: plain notation with at least one fractional digit for
/// 1e-3 <= |d| < 1e7, otherwise `d.dddE±n`. Digits are the shortest round-trip ones.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let abs = d.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{d}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Rust prints `1.5e-5` / `1e10`; Java prints `1.5E-5` / `1.0E10`.
        let s = format!("{d:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// The Java class Jackson decodes a value to, as Jayway names it in error messages.
pub fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i32::try_from(i).is_ok() {
                    "java.lang.Integer"
                } else {
                    "java.lang.Long"
                }
            } else if n.as_u64().is_some() {
                "java.math.BigInteger"
            } else {
                "java.lang.Double"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_and_lists_print_like_java() {
        let v = json!({"Id": "arn:x", "Name": "n", "L": [1, "a", null, true, {"k": 1.5}]});
        assert_eq!(
            java_to_string(&v),
            "{Id=arn:x, Name=n, L=[1, a, null, true, {k=1.5}]}"
        );
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(1.1), "1.1");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(-0.0), "-0.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(123456.789), "123456.789");
        assert_eq!(java_double(-2.5e20), "-2.5E20");
    }

    #[test]
    fn numbers_keep_integers() {
        assert_eq!(java_to_string(&json!(1)), "1");
        assert_eq!(java_to_string(&json!(u64::MAX)), u64::MAX.to_string());
        assert_eq!(java_to_string(&json!(1.0)), "1.0");
    }

    #[test]
    fn classes() {
        assert_eq!(java_class(&json!("s")), "java.lang.String");
        assert_eq!(java_class(&json!(1)), "java.lang.Integer");
        assert_eq!(java_class(&json!(5_000_000_000i64)), "java.lang.Long");
        assert_eq!(java_class(&json!(1.5)), "java.lang.Double");
        assert_eq!(java_class(&json!(null)), "null");
    }

    #[test]
    fn deep_values_do_not_overflow() {
        let mut v = json!(1);
        for _ in 0..1000 {
            v = Value::Array(vec![v]);
        }
        let s = java_to_string(&v);
        assert!(s.contains("..."));
        crate::query::drop_deep(v);
    }
}
