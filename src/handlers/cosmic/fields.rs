//! Reading the payload fields the COSMIC-AI functions share, with the leniency of the Python
//! originals (`int("1000")` accepts a numeric string, so `file_limit: "1000"` is a number) and
//! errors that name the field and show the value, typed as Python would raise them.

use serde_json::{Map, Value};

use crate::sim::handler::{FunctionError, S3Error};

/// A Python-style `ValueError`.
pub fn value_error(message: impl Into<String>) -> FunctionError {
    FunctionError::new("ValueError", message)
}

/// A Python-style `KeyError` for a missing field.
pub fn missing(field: &str, what: &str) -> FunctionError {
    FunctionError::new(
        "KeyError",
        format!("'{field}': the event has no `{field}` ({what})"),
    )
}

/// The event as an object, or a `ValueError` that says what arrived instead.
pub fn event_object<'a>(
    event: &'a Value,
    function: &str,
) -> Result<&'a Map<String, Value>, FunctionError> {
    event.as_object().ok_or_else(|| {
        value_error(format!(
            "{function} expects a JSON object event, got {}",
            short(event)
        ))
    })
}

/// A value's JSON text, cut to 80 characters for messages.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// An integer field: a JSON integer, an integral float, or a string holding one (as Python's
/// `int()` accepts). `Ok(None)` when absent or null.
pub fn int(obj: &Map<String, Value>, field: &str) -> Result<Option<i64>, FunctionError> {
    let v = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let parsed = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| value_error(format!("`{field}` must be an integer, got {}", short(v))))
}

/// An integer field that must be at least `min`.
pub fn int_at_least(
    obj: &Map<String, Value>,
    field: &str,
    min: i64,
) -> Result<Option<u64>, FunctionError> {
    match int(obj, field)? {
        None => Ok(None),
        Some(i) if i >= min => Ok(u64::try_from(i).ok()),
        Some(i) => Err(value_error(format!(
            "`{field}` must be {}, got {i}",
            if min == 1 {
                "a positive integer".to_string()
            } else {
                format!("at least {min}")
            }
        ))),
    }
}

/// A required integer field that must be at least `min`.
pub fn required_int(
    obj: &Map<String, Value>,
    field: &str,
    min: i64,
    what: &str,
) -> Result<u64, FunctionError> {
    int_at_least(obj, field, min)?.ok_or_else(|| missing(field, what))
}

/// A string field; `Ok(None)` when absent or null.
pub fn string<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, FunctionError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(value_error(format!(
            "`{field}` must be a string, got {}",
            short(v)
        ))),
    }
}

/// A required, non-empty string field.
pub fn required_string<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a str, FunctionError> {
    match string(obj, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(value_error(format!("`{field}` must not be empty ({what})"))),
        None => Err(missing(field, what)),
    }
}

/// A boolean field: `true`/`false`, or the strings `"true"`/`"false"` (any case).
pub fn boolean(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>, FunctionError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(value_error(format!(
            "`{field}` must be true or false, got {}",
            short(v)
        ))),
    }
}

/// An S3 failure, with the object it was about and what the function needed it for.
pub fn s3_failure(e: S3Error, bucket: &str, key: &str, purpose: &str) -> FunctionError {
    FunctionError::new(
        e.code.clone(),
        format!("s3://{bucket}/{key}: {} ({purpose})", e.message),
    )
}

/// Joins an S3 prefix and a name with exactly one `/`.
pub fn join_key(prefix: &str, name: &str) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        name.to_string()
    } else {
        format!("{p}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn integers_accept_what_python_int_accepts() {
        let o = obj(
            json!({"a": 4, "b": "1000", "c": 8.0, "d": "x", "e": 1.5, "f": null, "g": -1, "h": true}),
        );
        assert_eq!(int(&o, "a").unwrap(), Some(4));
        assert_eq!(int(&o, "b").unwrap(), Some(1000));
        assert_eq!(int(&o, "c").unwrap(), Some(8));
        assert_eq!(int(&o, "f").unwrap(), None);
        assert_eq!(int(&o, "zz").unwrap(), None);
        for k in ["d", "e", "h"] {
            let e = int(&o, k).unwrap_err();
            assert_eq!(e.error_type, "ValueError");
            assert!(e.error_message.contains(&format!("`{k}`")), "{e}");
        }
        let e = int_at_least(&o, "g", 1).unwrap_err();
        assert!(e.error_message.contains("positive integer, got -1"), "{e}");
        assert_eq!(
            required_int(&o, "zz", 1, "x").unwrap_err().error_type,
            "KeyError"
        );
    }

    #[test]
    fn strings_and_booleans() {
        let o = obj(json!({"s": "x", "e": " ", "n": 3, "t": "TRUE", "b": false, "x": 1}));
        assert_eq!(required_string(&o, "s", "").unwrap(), "x");
        assert!(required_string(&o, "e", "").is_err());
        assert!(string(&o, "n").is_err());
        assert_eq!(boolean(&o, "t").unwrap(), Some(true));
        assert_eq!(boolean(&o, "b").unwrap(), Some(false));
        assert!(boolean(&o, "x").is_err());
        assert_eq!(join_key("a/", "b"), "a/b");
        assert_eq!(join_key("", "b"), "b");
        assert!(short(&json!("y".repeat(200))).ends_with("..."));
    }
}
