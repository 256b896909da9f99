//! The built-in handler kinds, as the conformance corpus's `lambdas` entries name them:
//!
//! | kind          | params                                                   | behaviour |
//! |---------------|----------------------------------------------------------|-----------|
//! | `identity`    | none                                                     | returns its event |
//! | `constant`    | `value` (any JSON, default `null`)                       | returns `value`, ignoring its event |
//! | `raise`       | `error_type` (default `Exception`), `error_message` (default `""`), `stack_trace` (list of strings) | fails with that error |
//! | `raw_payload` | `payload` (string)                                       | returns the raw response body `payload`: its JSON value if it parses, else the text as a JSON string |
//! | `sleep`       | `seconds` (number ≥ 0)                                   | waits that long, then returns its event |
//!
//! Unknown parameters are rejected, so a typo in a functions file is an error, not a silent
//! default.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::sim::dist::seconds;
use crate::sim::function::HandlerCatalog;
use crate::sim::handler::{FunctionError, Handler, HandlerFuture, Invocation};

/// Adds every built-in kind to `catalog`.
pub fn register(catalog: &mut HandlerCatalog) {
    catalog.register("identity", |p: &Value| {
        parse::<NoParams>("identity", p)?;
        Ok(Arc::new(Identity) as Arc<dyn Handler>)
    });
    catalog.register("constant", |p: &Value| {
        let c: ConstantParams = parse("constant", p)?;
        Ok(Arc::new(Constant { value: c.value }) as Arc<dyn Handler>)
    });
    catalog.register("raise", |p: &Value| {
        let r: RaiseParams = parse("raise", p)?;
        Ok(Arc::new(Raise {
            error: FunctionError::new(r.error_type, r.error_message)
                .with_stack_trace(r.stack_trace),
        }) as Arc<dyn Handler>)
    });
    catalog.register("raw_payload", |p: &Value| {
        let r: RawPayloadParams = parse("raw_payload", p)?;
        Ok(Arc::new(RawPayload::new(&r.payload)) as Arc<dyn Handler>)
    });
    catalog.register("sleep", |p: &Value| {
        let s: SleepParams = parse("sleep", p)?;
        if !(s.seconds.is_finite() && s.seconds >= 0.0) {
            return Err(format!(
                "sleep: `seconds` must be a non-negative number, got {}",
                s.seconds
            ));
        }
        Ok(Arc::new(Sleep { seconds: s.seconds }) as Arc<dyn Handler>)
    });
}

fn parse<T: for<'de> Deserialize<'de>>(kind: &str, params: &Value) -> Result<T, String> {
    let params = if params.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        params.clone()
    };
    serde_json::from_value(params).map_err(|e| format!("{kind} handler parameters: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantParams {
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseParams {
    #[serde(default = "default_error_type")]
    error_type: String,
    #[serde(default)]
    error_message: String,
    #[serde(default)]
    stack_trace: Vec<String>,
}

fn default_error_type() -> String {
    "Exception".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayloadParams {
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    seconds: f64,
}

/// Returns its event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Handler for Identity {
    fn handle<'a>(&'a self, event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(event) })
    }
}

/// Returns a fixed value.
#[derive(Clone, Debug, PartialEq)]
pub struct Constant {
    pub value: Value,
}

impl Handler for Constant {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(self.value.clone()) })
    }
}

/// Fails with a fixed error.
#[derive(Clone, Debug, PartialEq)]
pub struct Raise {
    pub error: FunctionError,
}

impl Handler for Raise {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Err(self.error.clone()) })
    }
}

/// Returns a raw response body.
#[derive(Clone, Debug, PartialEq)]
pub struct RawPayload {
    /// The body as the caller will see it: parsed JSON, or the text as a JSON string.
    pub value: Value,
}

impl RawPayload {
    /// The handler for a raw body: a body that is JSON text is that value (as Lambda's caller
    /// parses it), anything else stays text, so a 257 KiB non-JSON body is still 257 KiB.
    pub fn new(body: &str) -> RawPayload {
        let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
        RawPayload { value }
    }
}

impl Handler for RawPayload {
    fn handle<'a>(&'a self, _event: Value, _ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(self.value.clone()) })
    }
}

/// Sleeps, then returns its event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sleep {
    pub seconds: f64,
}

impl Handler for Sleep {
    fn handle<'a>(&'a self, event: Value, ctx: &'a mut Invocation) -> HandlerFuture<'a> {
        Box::pin(async move {
            ctx.sleep(seconds(self.seconds)).await;
            Ok(event)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_checked() {
        let c = crate::handlers::default_catalog();
        assert_eq!(
            c.kinds(),
            ["constant", "identity", "raise", "raw_payload", "sleep"]
        );
        assert!(c.build("identity", &json!({})).is_ok());
        assert!(c.build("identity", &Value::Null).is_ok());
        assert!(c.build("identity", &json!({"x": 1})).is_err());
        assert!(c
            .build("constant", &json!({"value": {"Return": "HelloWorld"}}))
            .is_ok());
        assert!(c
            .build("raise", &json!({"error_type": "CustomException"}))
            .is_ok());
        let e = c.build("raise", &json!({"errorType": "X"})).err().unwrap();
        assert!(e.contains("errorType"), "{e}");
        assert!(c.build("raw_payload", &json!({})).is_err());
        assert!(c.build("sleep", &json!({"seconds": 60})).is_ok());
        assert!(c.build("sleep", &json!({"seconds": -1})).is_err());
    }

    #[test]
    fn raw_payload_values() {
        assert_eq!(
            RawPayload::new("\"HelloWorld!\"").value,
            json!("HelloWorld!")
        );
        assert_eq!(RawPayload::new("{\"a\":1}").value, json!({"a": 1}));
        let big = "a".repeat(257 * 1024);
        let v = RawPayload::new(&big).value;
        assert_eq!(v.as_str().map(str::len), Some(257 * 1024));
    }
}
